//! `hilt rpl sim`: run a scenario in the simulator, print convergence, write the report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use hilt_core::Instant;
use hilt_reports::dodag::{DodagReport, DrawnNode, TimePoint};
use hilt_sim::{Metrics, Outcome, Performance, Scenario, Simulation};

use crate::args::{RplCommand, RplSimArgs};
use crate::exit::{ExitCode, usage};

pub async fn rpl(cmd: RplCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RplCommand::Sim(a) => sim(a),
        RplCommand::Root(a) => crate::rpl_live::root(a).await,
        RplCommand::Node(a) => crate::rpl_live::node(a).await,
        RplCommand::Faults => {
            for f in hilt_net::rpl::Fault::ALL {
                println!("{:<32} {}", f.name(), f.what());
            }
            Ok(ExitCode::Ok)
        }
    }
}

fn sim(args: RplSimArgs) -> anyhow::Result<ExitCode> {
    let (mut scenario, file) = Scenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(d) = args.duration {
        scenario.duration_s = d;
    }
    if args.bench {
        return bench(&scenario, file.as_ref());
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("hilt-out").join(format!("rpl-sim-{}", scenario.name)));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("failed to create the output folder {}", out.display()))?;

    let mut sim = Simulation::new(&scenario, file.as_ref()).map_err(|e| usage(e.to_string()))?;
    if let Some(limit) = args.pcap {
        sim.capture(limit);
    }
    let n = sim.node_states().len();
    println!(
        "hilt rpl sim: {} — {n} nodes, {:.0} s simulated, seed {}",
        scenario.name, scenario.duration_s, scenario.seed
    );
    let started = std::time::Instant::now();
    let live = !args.quiet && std::io::stderr().is_terminal();
    let end = sim.end();
    let steps = 100u64;
    for k in 1..=steps {
        let t = Instant::from_micros(end.as_micros() / steps * k);
        sim.run_until(t);
        let (joined, alive) = sim.joined();
        let line = format!(
            "[{k:>3}%] t = {:>7.0} s  joined {joined}/{alive}  events {}",
            t.as_micros() as f64 / 1e6,
            sim.events_processed()
        );
        if live {
            eprint!("\r{line}");
        } else if !args.quiet && k % 25 == 0 {
            eprintln!("{line}");
        }
    }
    if live {
        eprintln!();
    }
    let outcome = sim.finish();
    let wall = started.elapsed().as_secs_f64();
    let perf = Performance::new(scenario.duration_s, outcome.metrics.events, wall);
    print_summary(&outcome.metrics, &perf);

    let metrics_path = out.join("metrics.json");
    let json = metrics_json(&outcome, &perf)?;
    hilt_reports::write_json(&metrics_path, "the simulation metrics", &json)?;
    let report_path = out.join("report.html");
    let nodes: Vec<DrawnNode> = outcome
        .nodes
        .iter()
        .map(|n| DrawnNode {
            x: n.x,
            y: n.y,
            rank: n.rank,
            parent: n.parent,
            root: n.root,
            alive: n.alive,
        })
        .collect();
    let series: Vec<TimePoint> = outcome
        .samples
        .iter()
        .map(|s| TimePoint {
            t_s: s.t_s,
            joined: s.joined,
            alive: s.alive,
            dio: s.messages.dio,
            dis: s.messages.dis,
            dao: s.messages.dao,
            dao_ack: s.messages.dao_ack,
        })
        .collect();
    let notes = [
        format!("seed {}", scenario.seed),
        format!(
            "{:.0} simulated s per wall s, {:.0} events/s",
            perf.simulated_s_per_wall_s, perf.events_per_s
        ),
    ];
    hilt_reports::dodag::write_html(
        &report_path,
        &DodagReport {
            title: &scenario.name,
            description: &scenario.description,
            metrics: &json["metrics"],
            nodes: &nodes,
            series: &series,
            notes: &notes,
        },
    )?;
    if args.pcap.is_some() {
        let pcap = out.join("rpl.pcapng");
        let frames = outcome.frames.iter().map(|f| (f.t_us, f.bytes.as_ref()));
        hilt_net::pcapng::write_ipv6_packets(
            &pcap,
            &format!("hilt rpl sim {} (virtual time from 0)", scenario.name),
            frames,
        )
        .with_context(|| format!("failed to write {}", pcap.display()))?;
        println!("trace:   {}", pcap.display());
    }
    println!("metrics: {}", metrics_path.display());
    println!("report:  {}", report_path.display());
    Ok(ExitCode::Ok)
}

/// metrics.json: the deterministic metrics, then what varies run to run or is bulky.
fn metrics_json(o: &Outcome, perf: &Performance) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::json!({
        "schema": hilt_sim::SCHEMA,
        "metrics": serde_json::to_value(&o.metrics)?,
        "performance": serde_json::to_value(perf)?,
        "samples": serde_json::to_value(&o.samples)?,
        "nodes": serde_json::to_value(&o.nodes)?,
    }))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("never".into(), |s| format!("{s:.2} s"))
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("–".into(), |r| format!("{:.4}", r))
}

fn print_summary(m: &Metrics, perf: &Performance) {
    let d = &m.delivery;
    let msg = &m.messages;
    println!(
        "converged: all joined at {}, all downward routes at {}",
        secs(m.convergence.all_joined_s),
        secs(m.convergence.all_routes_s)
    );
    println!(
        "messages:  DIO {}  DIS {}  DAO {}  DAO-ACK {}  data {}",
        msg.dio, msg.dis, msg.dao, msg.dao_ack, msg.data
    );
    println!(
        "delivery:  up {}/{} ({}, {} hops mean, {} max)  down {}/{} ({}, {} hops mean, {} max)",
        d.up_delivered,
        d.up_sent,
        ratio(d.up_ratio),
        ratio(d.up_hops_mean),
        d.up_hops_max,
        d.down_delivered,
        d.down_sent,
        ratio(d.down_ratio),
        ratio(d.down_hops_mean),
        d.down_hops_max
    );
    println!(
        "changes:   {} parent changes, {} local repairs, {} DAO failures, {} violations",
        m.parent_changes, m.local_repairs, m.dao_failures, m.violations
    );
    for r in &m.repairs {
        println!(
            "event:     {} at {:.0} s: recovered after {}{}",
            r.action,
            r.at_s,
            secs(r.recovered_after_s),
            r.all_detached_after_s
                .map(|t| format!(", all detached after {t:.2} s"))
                .unwrap_or_default()
        );
    }
    println!(
        "end:       {}/{} joined, depth {}, max rank {}, {} nodes in loops",
        m.end.joined,
        m.end.alive.saturating_sub(1),
        m.end.max_depth,
        m.end.max_rank,
        m.end.nodes_in_loops
    );
    println!(
        "speed:     {} events in {:.2} s wall: {:.0} simulated s per wall s, {:.0} events/s",
        m.events, perf.wall_s, perf.simulated_s_per_wall_s, perf.events_per_s
    );
}

fn bench(scenario: &Scenario, file: Option<&hilt_sim::TopologyFile>) -> anyhow::Result<ExitCode> {
    let mut best: Option<Performance> = None;
    for run in 1..=3 {
        let started = std::time::Instant::now();
        let out = hilt_sim::run(scenario, file).map_err(|e| usage(e.to_string()))?;
        let perf = Performance::new(
            scenario.duration_s,
            out.metrics.events,
            started.elapsed().as_secs_f64(),
        );
        println!(
            "run {run}: {} nodes, {:.0} s simulated in {:.2} s: {:.0} simulated s per wall s, {:.0} events/s ({} events)",
            out.metrics.nodes,
            scenario.duration_s,
            perf.wall_s,
            perf.simulated_s_per_wall_s,
            perf.events_per_s,
            out.metrics.events
        );
        if best.is_none_or(|b| perf.wall_s < b.wall_s) {
            best = Some(perf);
        }
    }
    if let Some(b) = best {
        println!(
            "fastest: {:.2} s wall, {:.0} simulated s per wall s, {:.0} events/s",
            b.wall_s, b.simulated_s_per_wall_s, b.events_per_s
        );
    }
    let _ = std::io::stdout().flush();
    Ok(ExitCode::Ok)
}
