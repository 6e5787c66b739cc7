//! `hilt bench`: start each target in turn, run the workload at each rate, report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use hilt_bench::engine::{Progress, RateConfig};
use hilt_bench::workload::{Dur, Rate, RateStep, Workload, parse_duration, parse_pause};
use hilt_core::bench::{BENCH_SCHEMA, BenchResults, TargetBench};
use hilt_core::event::TargetInfo;
use hilt_peers::{Backend, LaunchOptions};

use crate::args::{BackendArg, BenchArgs};
use crate::exit::{ExitCode, usage};
use crate::locate;
use crate::run::{environment, run_id};

/// The launch profile of a target that benchmarks use, when the target has one.
pub(crate) const BENCH_PROFILE: &str = "bench";

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(g) = &args.generate {
        return crate::efficiency::generate(g).await;
    }
    if args.generator_efficiency {
        return crate::efficiency::compare(&args).await;
    }
    let Some(path) = &args.workload else {
        return Err(usage("give a workload file, or --generator-efficiency"));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("{}: cannot read: {e}", path.display())))?;
    let mut workload = Workload::load(path)?;
    if let Some(r) = &args.rate {
        let steps = r
            .iter()
            .map(|s| RateStep::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| usage(format!("--rate {e}")))?;
        workload.rate = Rate(steps);
    }
    if let Some(d) = &args.duration {
        workload.duration = Dur(parse_duration(d).map_err(|e| usage(format!("--duration {e}")))?);
    }
    if let Some(d) = &args.warmup {
        workload.warmup = Dur(parse_duration(d).map_err(|e| usage(format!("--warmup {e}")))?);
    }
    if let Some(p) = &args.pause {
        workload.pause = Some(parse_pause(p).map_err(|e| usage(format!("--pause {e}")))?);
    }
    workload
        .check()
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let targets = target_files(&args)?;
    let run_id = run_id();
    let run_dir = run_folder(&args, "bench", &run_id)?;
    std::fs::create_dir_all(run_dir.join("hlog"))
        .with_context(|| format!("failed to create {}", run_dir.join("hlog").display()))?;

    hilt_peers::install_cleanup_handlers();
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = Arc::clone(&cancel);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\nhilt: interrupted — stopping the load and writing partial results (Ctrl-C again to abort)"
                );
                cancel.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    hilt_peers::kill_all_launched();
                    std::process::exit(ExitCode::Interrupted as i32);
                }
            }
        });
    }

    let invocation = std::env::args().collect::<Vec<_>>().join(" ");
    let mut env = environment();
    env.insert("hilt".into(), env!("CARGO_PKG_VERSION").into());
    let mut results = BenchResults {
        schema: BENCH_SCHEMA.into(),
        run_id: run_id.clone(),
        hilt_version: env!("CARGO_PKG_VERSION").into(),
        invocation,
        started: hilt_runner::run::now(),
        finished: hilt_runner::run::now(),
        interrupted: false,
        workload: workload.info(path, text),
        environment: env,
        targets: Vec::new(),
    };
    let backend = match args.backend {
        BackendArg::Auto => Backend::Auto,
        BackendArg::Process => Backend::Process,
        BackendArg::Container => Backend::Container,
    };
    let mut failed = false;
    // One target at a time: on a small machine two brokers would share the cores and
    // each would measure the other.
    for file in &targets {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let tb = bench_target(file, &workload, &run_dir, backend, &cancel).await;
        failed |= tb.error.is_some() || tb.runs.iter().any(|r| r.error_count > 0);
        if let Some(v) = &tb.target.version {
            results
                .environment
                .insert(format!("version.{}", tb.target.name), v.clone());
        }
        if file.with_profile(BENCH_PROFILE).is_some() {
            results
                .environment
                .insert(format!("profile.{}", tb.target.name), BENCH_PROFILE.into());
        }
        results.targets.push(tb);
        // Written after every target, so an interrupted sweep keeps what finished.
        results.finished = hilt_runner::run::now();
        hilt_reports::bench::write_json(&run_dir.join("bench.json"), &results)?;
    }
    results.interrupted = cancel.load(Ordering::Relaxed);
    results.finished = hilt_runner::run::now();
    hilt_reports::bench::write_json(&run_dir.join("bench.json"), &results)?;
    hilt_reports::bench::write_html(&run_dir.join("bench.html"), &results)?;
    print!("{}", hilt_reports::bench::summary_table(&results));
    println!("{}", run_dir.join("bench.html").display());
    Ok(if results.interrupted {
        ExitCode::Interrupted
    } else if failed {
        ExitCode::Infrastructure
    } else {
        ExitCode::Ok
    })
}

/// The target files `--target` names.
pub(crate) fn target_files(args: &BenchArgs) -> anyhow::Result<Vec<hilt_core::target::TargetFile>> {
    args.targets
        .iter()
        .map(|name| locate::target(name))
        .collect()
}

/// `--out`, or `hilt-out/PREFIX-RUN_ID`: created, and absolute where it can be.
pub(crate) fn run_folder(args: &BenchArgs, prefix: &str, run_id: &str) -> anyhow::Result<PathBuf> {
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("hilt-out").join(format!("{prefix}-{run_id}")));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("failed to create the run folder {}", dir.display()))?;
    Ok(dir.canonicalize().unwrap_or(dir))
}

/// Launches `file` under its `bench` profile where it has one (a broker that does not log
/// every message); conformance runs keep the base launch.
pub(crate) async fn launch_for_bench(
    file: &hilt_core::target::TargetFile,
    opts: &LaunchOptions,
) -> Result<hilt_peers::Running, hilt_peers::LaunchError> {
    let profiled = file.with_profile(BENCH_PROFILE);
    let how = if profiled.is_some() {
        " (its bench profile)"
    } else {
        ""
    };
    eprintln!("hilt bench: starting {}{how}", file.name);
    hilt_peers::launch(profiled.as_ref().unwrap_or(file), opts).await
}

/// One run at one rate, with its live progress line.
async fn run_one(
    file: &hilt_core::target::TargetFile,
    workload: &Workload,
    rate: u64,
    what: &str,
    running: &mut hilt_peers::Running,
    cancel: &Arc<AtomicBool>,
) -> Result<hilt_bench::RateOutcome, String> {
    let tty = std::io::stderr().is_terminal();
    let name = &file.name;
    let mut last = String::new();
    let mut show = |p: &Progress| {
        last = format!(
            "{name:<12} {what}{rate}/s per publisher  [{:>5.1}/{:.0} s]  achieved {:>9.0}/s  p99 {:>10}  errors {}{}",
            p.t_s,
            p.duration_s,
            p.achieved_rate,
            hilt_reports::bench::fmt_us(p.p99_us),
            p.errors,
            if p.paused { "  (target paused)" } else { "" }
        );
        if tty {
            eprint!("\r{last}\x1b[K");
            let _ = std::io::stderr().flush();
        } else {
            // A log, not a terminal: one line a second.
            eprintln!("{last}");
        }
    };
    let cfg = RateConfig {
        workload,
        rate,
        addr: running
            .endpoint_for(workload.endpoint())
            .ok_or("the target stopped serving")?,
        label: format!("{name}-{rate}"),
        cancel: Arc::clone(cancel),
    };
    let out = hilt_bench::run_rate(cfg, running, &mut show).await;
    if tty {
        eprintln!();
    }
    out
}

async fn bench_target(
    file: &hilt_core::target::TargetFile,
    workload: &Workload,
    run_dir: &Path,
    backend: Backend,
    cancel: &Arc<AtomicBool>,
) -> TargetBench {
    let failed = |target: TargetInfo, e: String| TargetBench {
        target,
        runs: Vec::new(),
        error: Some(e),
        skipped: None,
    };
    let named = TargetInfo {
        name: file.name.clone(),
        description: file.description.clone(),
        ..TargetInfo::default()
    };
    // A workload the target cannot run is skipped before it is started: not a failure,
    // and the other targets still run.
    if let Some(why) = skip_reason(file, workload) {
        eprintln!("hilt bench: skipping {}: {why}", file.name);
        return TargetBench {
            target: named,
            runs: Vec::new(),
            error: None,
            skipped: Some(why),
        };
    }
    let opts = LaunchOptions::new(run_dir, format!("bench-{}", file.name)).with_backend(backend);
    let mut running = match launch_for_bench(file, &opts).await {
        Ok(r) => r,
        Err(e) => return failed(named, format!("failed to {e}")),
    };
    if running.endpoint_for(workload.endpoint()).is_none() {
        let info = running.stop().await;
        return failed(info, format!("it does not serve {}", workload.endpoint()));
    }
    let mut runs = Vec::new();
    let mut error = None;
    for step in workload.rate.steps() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let outcome = match step {
            RateStep::PerPublisher(rate) => {
                run_one(file, workload, *rate, "", &mut running, cancel).await
            }
            RateStep::Max => {
                hilt_bench::search::find_max(workload, async |w: &Workload, rate: u64| {
                    run_one(file, w, rate, "max search: ", &mut running, cancel).await
                })
                .await
            }
        };
        match outcome {
            Ok(mut out) => {
                let label = match &out.run.search {
                    Some(s) => {
                        eprintln!(
                            "hilt bench: {} sustains {}/s per publisher ({} steps tried)",
                            file.name,
                            s.found,
                            s.steps.len()
                        );
                        format!("{}-max", file.name)
                    }
                    None => format!("{}-{}", file.name, out.run.rate_per_publisher),
                };
                let rel = format!("hlog/{label}.hlog");
                match std::fs::write(run_dir.join(&rel), &out.interval_log) {
                    Ok(()) => {
                        out.run.interval_logs.insert("intervals".into(), rel);
                    }
                    Err(e) => tracing::warn!("write {rel}: {e}"),
                }
                runs.push(out.run);
            }
            Err(e) => {
                eprintln!("hilt bench: {} at {step}/s: {e}", file.name);
                // A frozen target must not stay frozen behind a failed run.
                let _ = running.resume();
                error = Some(format!("at {step}/s: {e}"));
                break;
            }
        }
    }
    let info = running.stop().await;
    TargetBench {
        target: info,
        runs,
        error,
        skipped: None,
    }
}

/// Why `file` cannot run `workload`: it serves no endpoint for the protocol, or lacks a
/// capability the workload needs.
pub(crate) fn skip_reason(
    file: &hilt_core::target::TargetFile,
    workload: &Workload,
) -> Option<String> {
    let endpoint = workload.endpoint();
    if !file.serves.contains_key(endpoint) {
        return Some(format!("it does not serve {}", workload.protocol));
    }
    workload
        .needs()
        .into_iter()
        .find(|(cap, _)| !file.capabilities.has(cap))
        .map(|(cap, what)| format!("{what} needs `{cap}`, which the target does not declare"))
}
