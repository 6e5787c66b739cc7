//! `hilt bench --generator-efficiency`: QoS 0 publishes per second per client core of
//! hilt's generator and of independent ones, against hilt's sink and real brokers, side
//! by side (see [`hilt_bench::efficiency`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use hilt_bench::efficiency::{Generator, Measurement, Sink, measure};
use hilt_bench::workload::parse_duration;
use hilt_peers::LaunchOptions;
use serde::Serialize;

use crate::args::BenchArgs;
use crate::exit::{ExitCode, usage};
use crate::run::{environment, run_id};

/// Bumped on any change a reader of an older file would misread.
const EFFICIENCY_SCHEMA: &str = "hilt.efficiency/1";
const HILT: &str = "hilt";

/// `hilt bench --generate HOST PORT SECONDS PAYLOAD_BYTES`: hilt's generator alone.
pub async fn generate(args: &[String]) -> anyhow::Result<ExitCode> {
    let [host, port, seconds, payload] = args else {
        return Err(usage("--generate takes HOST PORT SECONDS PAYLOAD_BYTES"));
    };
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| usage(format!("--generate {host}:{port}: {e}")))?;
    let seconds: f64 = seconds
        .parse()
        .map_err(|e| usage(format!("--generate SECONDS `{seconds}`: {e}")))?;
    let payload: usize = payload
        .parse()
        .map_err(|e| usage(format!("--generate PAYLOAD_BYTES `{payload}`: {e}")))?;
    let n = hilt_bench::efficiency::generate(addr, seconds, payload, || println!("connected"))
        .await
        .map_err(anyhow::Error::msg)?;
    println!("{n}");
    Ok(ExitCode::Ok)
}

/// One target's measurements and hilt's ratio to the best independent generator.
#[derive(Debug, Serialize)]
struct TargetRatio {
    target: String,
    hilt_per_core: f64,
    best_independent: Option<String>,
    best_independent_per_core: Option<f64>,
    ratio: Option<f64>,
}

#[derive(Debug, Serialize)]
struct EfficiencyResults {
    schema: &'static str,
    run_id: String,
    invocation: String,
    payload_bytes: usize,
    seconds: f64,
    environment: BTreeMap<String, String>,
    measurements: Vec<Measurement>,
    ratios: Vec<TargetRatio>,
    /// Generators or targets that could not be measured, and why.
    errors: Vec<String>,
}

pub async fn compare(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let seconds = match &args.duration {
        Some(d) => parse_duration(d).map_err(|e| usage(format!("--duration {e}")))?,
        None => Duration::from_secs(5),
    }
    .as_secs_f64();
    let exe = std::env::current_exe().context("failed to locate the hilt binary")?;
    let mut generators = vec![Generator {
        name: HILT.into(),
        command: vec![
            exe.display().to_string(),
            "bench".into(),
            "--generate".into(),
        ],
    }];
    for g in &args.generators {
        generators.push(Generator::parse(g).map_err(|e| usage(format!("--generator {e}")))?);
    }
    let targets = crate::bench::target_files(args)?;
    let run_id = run_id();
    let run_dir = crate::bench::run_folder(args, "efficiency", &run_id)?;
    hilt_peers::install_cleanup_handlers();

    let mut measurements = Vec::new();
    let mut errors = Vec::new();
    let sink = Sink::start().context("failed to start the sink")?;
    run_target(
        &generators,
        "sink",
        sink.addr(),
        seconds,
        args.payload,
        Some(&|| sink.received()),
        &mut measurements,
        &mut errors,
    );
    drop(sink);
    for file in &targets {
        let opts = LaunchOptions::new(&run_dir, format!("efficiency-{}", file.name));
        let running = match crate::bench::launch_for_bench(file, &opts).await {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{}: failed to {e}", file.name));
                continue;
            }
        };
        match running.endpoint_for("mqtt") {
            Some(addr) => run_target(
                &generators,
                &file.name,
                addr,
                seconds,
                args.payload,
                None,
                &mut measurements,
                &mut errors,
            ),
            None => errors.push(format!("{}: it does not serve mqtt", file.name)),
        }
        running.stop().await;
    }

    let ratios = ratios(&measurements);
    let mut env = environment();
    env.insert("hilt".into(), env!("CARGO_PKG_VERSION").into());
    if let Some(model) = cpu_model() {
        env.insert("cpu".into(), model);
    }
    let results = EfficiencyResults {
        schema: EFFICIENCY_SCHEMA,
        run_id,
        invocation: std::env::args().collect::<Vec<_>>().join(" "),
        payload_bytes: args.payload,
        seconds,
        environment: env,
        measurements,
        ratios,
        errors,
    };
    let json = run_dir.join("efficiency.json");
    hilt_reports::write_json(&json, "the efficiency results", &results)?;
    print!("{}", table(&results));
    println!("{}", json.display());
    Ok(if results.errors.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Infrastructure
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, each argument named"
)]
fn run_target(
    generators: &[Generator],
    target: &str,
    addr: SocketAddr,
    seconds: f64,
    payload: usize,
    received: Option<&dyn Fn() -> u64>,
    out: &mut Vec<Measurement>,
    errors: &mut Vec<String>,
) {
    // One generator at a time: on a small machine two would share the cores.
    for g in generators {
        eprintln!("hilt bench: {} → {target} for {seconds} s", g.name);
        match measure(g, target, addr, seconds, payload, received) {
            Ok(m) => out.push(m),
            Err(e) => {
                eprintln!("hilt bench: {e}");
                errors.push(e);
            }
        }
    }
}

fn ratios(ms: &[Measurement]) -> Vec<TargetRatio> {
    let mut targets: Vec<&str> = Vec::new();
    for m in ms {
        if !targets.contains(&m.target.as_str()) {
            targets.push(&m.target);
        }
    }
    targets
        .into_iter()
        .filter_map(|t| {
            let hilt = ms.iter().find(|m| m.target == t && m.generator == HILT)?;
            let best = ms
                .iter()
                .filter(|m| m.target == t && m.generator != HILT)
                .max_by(|a, b| a.per_core.total_cmp(&b.per_core));
            Some(TargetRatio {
                target: t.into(),
                hilt_per_core: hilt.per_core,
                best_independent: best.map(|b| b.generator.clone()),
                best_independent_per_core: best.map(|b| b.per_core),
                ratio: best.map(|b| hilt.per_core / b.per_core.max(1e-9)),
            })
        })
        .collect()
}

fn table(r: &EfficiencyResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "QoS 0, {} B payloads, {} s each; CPU = user + system time of the generator process once connected",
        r.payload_bytes, r.seconds
    );
    let _ = writeln!(
        out,
        "{:<10} {:<10} {:>11} {:>11} {:>7} {:>7} {:>12} {:>14}",
        "generator",
        "target",
        "published",
        "received",
        "wall s",
        "CPU s",
        "msg/s",
        "msg/s per core"
    );
    for m in &r.measurements {
        let _ = writeln!(
            out,
            "{:<10} {:<10} {:>11} {:>11} {:>7.2} {:>7.2} {:>12.0} {:>14.0}",
            m.generator,
            m.target,
            m.published,
            m.received
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            m.wall_s,
            m.cpu_s,
            m.rate,
            m.per_core
        );
    }
    for t in &r.ratios {
        match (&t.best_independent, t.ratio) {
            (Some(b), Some(x)) => {
                let _ = writeln!(
                    out,
                    "against {}: hilt {:.0} msg/s per core = {x:.2}× the best independent ({b}, {:.0})",
                    t.target,
                    t.hilt_per_core,
                    t.best_independent_per_core.unwrap_or(0.0)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "against {}: hilt {:.0} msg/s per core (no independent generator ran)",
                    t.target, t.hilt_per_core
                );
            }
        }
    }
    for e in &r.errors {
        let _ = writeln!(out, "error: {e}");
    }
    out
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
}
