//! The self-contained HTML report, rendered with tera from the results file alone.
//!
//! Everything a system under test sent reaches the page only through tera's
//! auto-escaping (the template is registered under an `.html` name), never as markup.

use std::collections::BTreeMap;
use std::path::Path;

use hilt_core::{Direction, RunResults, TestResult, Verdict};
use serde::Serialize;

use crate::{ReportError, write_atomically};

const TEMPLATE: &str = include_str!("../templates/report.html.tera");

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    title: &'a str,
    covers: Vec<String>,
    cells: Vec<Cell>,
}

#[derive(Serialize)]
struct Cell {
    verdict: &'static str,
    anchor: String,
}

#[derive(Serialize)]
struct Detail<'a> {
    anchor: String,
    open: bool,
    r: &'a TestResult,
    rule_summary: Option<&'a str>,
    duration_ms: String,
    frames: Vec<Frame<'a>>,
}

#[derive(Serialize)]
struct Frame<'a> {
    t_ms: String,
    conn: u32,
    arrow: &'static str,
    summary: &'a str,
    problems: &'a [String],
    hex: String,
}

#[derive(Serialize)]
struct DocView<'a> {
    doc: &'a str,
    title: &'a str,
    covered: usize,
    total: usize,
    percent: String,
    statements: Vec<StatementView<'a>>,
}

#[derive(Serialize)]
struct StatementView<'a> {
    id: &'a str,
    section: &'a str,
    level: &'a str,
    summary: &'a str,
    tests: &'a [String],
    /// `pass`, `fail` (some covering test failed), or `none` (not covered).
    status: &'static str,
}

fn anchor(r: &TestResult) -> String {
    let raw = format!("{}--{}", r.test, r.target);
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Groups hex in 16-byte lines of 2-digit pairs, for reading.
fn hex_lines(hex: &str) -> String {
    let bytes: Vec<&str> = (0..hex.len() / 2).map(|i| &hex[i * 2..i * 2 + 2]).collect();
    bytes
        .chunks(16)
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn render(results: &RunResults) -> Result<String, ReportError> {
    let targets: Vec<&str> = results.targets.iter().map(|t| t.name.as_str()).collect();
    let mut by_test: BTreeMap<&str, Vec<&TestResult>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in &results.results {
        let e = by_test.entry(r.test.as_str()).or_default();
        if e.is_empty() {
            order.push(r.test.as_str());
        }
        e.push(r);
    }
    let rows: Vec<Row> = order
        .iter()
        .map(|id| {
            let rs = &by_test[id];
            let first = rs[0];
            Row {
                id,
                title: &first.title,
                covers: first.covers.iter().map(|c| c.id.clone()).collect(),
                cells: targets
                    .iter()
                    .map(|t| match rs.iter().find(|r| r.target == *t) {
                        Some(r) => Cell {
                            verdict: r.verdict.as_str(),
                            anchor: anchor(r),
                        },
                        None => Cell {
                            verdict: "none",
                            anchor: String::new(),
                        },
                    })
                    .collect(),
            }
        })
        .collect();

    let summaries: BTreeMap<(&str, &str), &str> = results
        .coverage
        .iter()
        .flat_map(|d| {
            d.statements
                .iter()
                .map(move |s| ((d.doc.as_str(), s.id.as_str()), s.summary.as_str()))
        })
        .collect();
    let failed_tests: std::collections::BTreeSet<&str> = results
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Xfail))
        .map(|r| r.test.as_str())
        .collect();

    let details: Vec<Detail> = results
        .results
        .iter()
        .filter(|r| r.verdict != Verdict::Skip)
        .map(|r| Detail {
            anchor: anchor(r),
            open: matches!(
                r.verdict,
                Verdict::Fail
                    | Verdict::Error
                    | Verdict::Xfail
                    | Verdict::Flaky
                    | Verdict::Inconclusive
            ),
            rule_summary: r.rule.as_ref().and_then(|rule| {
                summaries
                    .get(&(rule.doc.as_str(), rule.id.as_str()))
                    .copied()
            }),
            duration_ms: format!("{:.1}", r.duration_us as f64 / 1000.0),
            frames: r
                .trace
                .iter()
                .map(|f| Frame {
                    t_ms: format!("{:.3}", f.t_us as f64 / 1000.0),
                    conn: f.conn,
                    arrow: match f.dir {
                        Direction::Sent => "→",
                        Direction::Received => "←",
                    },
                    summary: &f.summary,
                    problems: &f.problems,
                    hex: hex_lines(&f.hex),
                })
                .collect(),
            r,
        })
        .collect();

    let coverage: Vec<DocView> = results
        .coverage
        .iter()
        .map(|d| {
            let covered = d.covered();
            let total = d.statements.len();
            DocView {
                doc: &d.doc,
                title: &d.title,
                covered,
                total,
                percent: format!("{:.0}", 100.0 * covered as f64 / total.max(1) as f64),
                statements: d
                    .statements
                    .iter()
                    .map(|s| StatementView {
                        id: &s.id,
                        section: &s.section,
                        level: &s.level,
                        summary: &s.summary,
                        tests: &s.tests,
                        status: if s.tests.is_empty() {
                            "none"
                        } else if s.tests.iter().any(|t| failed_tests.contains(t.as_str())) {
                            "fail"
                        } else {
                            "pass"
                        },
                    })
                    .collect(),
            }
        })
        .collect();

    let per_target: Vec<(String, Vec<(&str, u32)>)> = results
        .targets
        .iter()
        .map(|t| {
            let mut c = hilt_core::event::Counts::default();
            for r in results.results.iter().filter(|r| r.target == t.name) {
                c.add(r.verdict);
            }
            (
                t.name.clone(),
                Verdict::ALL
                    .iter()
                    .map(|v| (v.as_str(), c.get(*v)))
                    .collect(),
            )
        })
        .collect();

    let mut ctx = tera::Context::new();
    ctx.insert("run", results);
    ctx.insert("started", &results.started.to_rfc3339());
    ctx.insert(
        "took_s",
        &format!(
            "{:.1}",
            results.finished.0.saturating_sub(results.started.0) as f64 / 1e6
        ),
    );
    ctx.insert("targets", &targets);
    ctx.insert("per_target", &per_target);
    ctx.insert(
        "verdicts",
        &Verdict::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
    );
    ctx.insert("rows", &rows);
    ctx.insert("details", &details);
    ctx.insert("coverage", &coverage);

    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)
        .map_err(|e| ReportError::Render {
            what: "the HTML template".into(),
            message: format!("{e:?}"),
        })?;
    tera.render("report.html", &ctx)
        .map_err(|e| ReportError::Render {
            what: "the HTML report".into(),
            message: format!("{e:?}"),
        })
}

pub fn write(path: &Path, results: &RunResults) -> Result<(), ReportError> {
    write_atomically(path, render(results)?.as_bytes())
}
