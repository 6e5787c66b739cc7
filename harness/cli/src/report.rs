//! `hilt report`: re-render HTML from results JSON, merging several runs.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::args::ReportArgs;
use crate::exit::{ExitCode, usage};

fn results_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("results.json")
    } else {
        p.to_owned()
    }
}

/// The bench results of `p` (a bench run folder, or a file of schema `hilt.bench/…`).
fn bench_results_path(p: &Path) -> Option<PathBuf> {
    if p.is_dir() {
        let b = p.join("bench.json");
        return (b.is_file() && !p.join("results.json").exists()).then_some(b);
    }
    let text = std::fs::read_to_string(p).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("schema")?
        .as_str()?
        .starts_with("hilt.bench/")
        .then(|| p.to_owned())
}

/// Bench runs compared in one page.
fn bench_report(args: &ReportArgs, paths: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut runs = Vec::new();
    for p in &paths {
        runs.push(hilt_reports::bench::read_json(p)?);
    }
    let merged = hilt_reports::bench::merge(runs).ok_or_else(|| usage("no bench run given"))?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| paths[0].with_file_name("compare.html"));
    hilt_reports::bench::write_html(&out, &merged)
        .with_context(|| format!("failed to write {}", out.display()))?;
    println!("{}", out.display());
    Ok(ExitCode::Ok)
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let bench: Vec<Option<PathBuf>> = args.runs.iter().map(|r| bench_results_path(r)).collect();
    if bench.iter().all(Option::is_some) {
        return bench_report(&args, bench.into_iter().flatten().collect());
    }
    if bench.iter().any(Option::is_some) {
        return Err(usage(
            "conformance runs and bench runs cannot share one report: give one kind",
        ));
    }
    let mut runs = Vec::new();
    for r in &args.runs {
        let path = results_path(r);
        if !path.exists() {
            return Err(usage(format!(
                "{}: no results.json there (is it a hilt run folder?)",
                r.display()
            )));
        }
        runs.push(hilt_reports::json::read(&path)?);
    }
    let mut merged = runs.remove(0);
    for other in runs {
        // Side by side: each run's targets keep their names, suffixed by run when they clash.
        let clash = other
            .targets
            .iter()
            .any(|t| merged.targets.iter().any(|m| m.name == t.name));
        for mut t in other.targets {
            if clash {
                t.name = format!("{}@{}", t.name, other.run_id);
            }
            merged.targets.push(t);
        }
        for mut r in other.results {
            if clash {
                r.target = format!("{}@{}", r.target, other.run_id);
            }
            merged.counts.add(r.verdict);
            merged.results.push(r);
        }
        for doc in other.coverage {
            match merged.coverage.iter_mut().find(|d| d.doc == doc.doc) {
                Some(m) => {
                    for (ms, os) in m.statements.iter_mut().zip(doc.statements) {
                        for t in os.tests {
                            if !ms.tests.contains(&t) {
                                ms.tests.push(t);
                            }
                        }
                    }
                }
                None => merged.coverage.push(doc),
            }
        }
    }
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| results_path(&args.runs[0]).with_file_name("report.html"));
    hilt_reports::html::write(&out, &merged)
        .with_context(|| format!("failed to write {}", out.display()))?;
    println!("{}", out.display());
    Ok(ExitCode::Ok)
}
