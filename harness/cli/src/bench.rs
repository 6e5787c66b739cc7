//! `hilt bench`: start each target in turn, run the workload at each rate, report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use hilt_bench::engine::{Progress, RateConfig};
use hilt_bench::workload::{Dur, Rate, Workload, parse_duration, parse_pause};
use hilt_core::bench::{BENCH_SCHEMA, BenchResults, TargetBench};
use hilt_core::event::TargetInfo;
use hilt_peers::{Backend, LaunchOptions};

use crate::args::{BackendArg, BenchArgs};
use crate::exit::{ExitCode, usage};
use crate::locate;
use crate::run::{environment, run_id};

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.workload)
        .map_err(|e| usage(format!("{}: cannot read: {e}", args.workload.display())))?;
    let mut workload = Workload::load(&args.workload)?;
    if let Some(r) = &args.rate {
        workload.rate = Rate::Sweep(r.clone());
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
        .map_err(|e| usage(format!("{}: {e}", args.workload.display())))?;
    let mut targets = Vec::new();
    for name in &args.targets {
        targets.push(locate::target(name)?);
    }

    let run_id = run_id();
    let run_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("hilt-out").join(format!("bench-{run_id}")));
    std::fs::create_dir_all(run_dir.join("hlog"))
        .with_context(|| format!("failed to create the run folder {}", run_dir.display()))?;
    let run_dir = run_dir.canonicalize().unwrap_or(run_dir);

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
        workload: workload.info(&args.workload, text),
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
    };
    let named = TargetInfo {
        name: file.name.clone(),
        description: file.description.clone(),
        ..TargetInfo::default()
    };
    let opts = LaunchOptions::new(run_dir, format!("bench-{}", file.name)).with_backend(backend);
    eprintln!("hilt bench: starting {}", file.name);
    let mut running = match hilt_peers::launch(file, &opts).await {
        Ok(r) => r,
        Err(e) => return failed(named, format!("failed to {e}")),
    };
    let Some(addr) = running.endpoint_for(&workload.protocol) else {
        let info = running.stop().await;
        return failed(info, format!("it does not serve {}", workload.protocol));
    };
    let mut runs = Vec::new();
    let mut error = None;
    let tty = std::io::stderr().is_terminal();
    for rate in workload.rate.steps() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let label = format!("{}-{rate}", file.name);
        let name = file.name.clone();
        let mut last = String::new();
        let mut show = |p: &Progress| {
            last = format!(
                "{name:<12} {rate}/s per publisher  [{:>5.1}/{:.0} s]  achieved {:>9.0}/s  p99 {:>10}  errors {}{}",
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
            }
        };
        let cfg = RateConfig {
            workload,
            rate,
            addr,
            label: label.clone(),
            cancel: Arc::clone(cancel),
        };
        match hilt_bench::run_rate(cfg, &mut running, &mut show).await {
            Ok(mut out) => {
                let rel = format!("hlog/{label}.hlog");
                match std::fs::write(run_dir.join(&rel), &out.interval_log) {
                    Ok(()) => {
                        out.run.interval_logs.insert("intervals".into(), rel);
                    }
                    Err(e) => tracing::warn!("write {rel}: {e}"),
                }
                if tty {
                    eprintln!();
                } else {
                    eprintln!("{last}");
                }
                runs.push(out.run);
            }
            Err(e) => {
                if tty {
                    eprintln!();
                }
                eprintln!("hilt bench: {} at {rate}/s: {e}", file.name);
                // A frozen target must not stay frozen behind a failed run.
                let _ = running.resume();
                error = Some(format!("at {rate}/s: {e}"));
                break;
            }
        }
    }
    let info = running.stop().await;
    TargetBench {
        target: info,
        runs,
        error,
    }
}
