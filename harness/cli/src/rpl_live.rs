//! `hilt rpl root` and `hilt rpl node`: hilt's RPL cores on a real interface.

use std::io::Write;
use std::net::Ipv6Addr;
use std::time::Duration;

use anyhow::Context;
use hilt_net::rpl::{Command, Driver, DriverOptions, Fault, Mutator, PacketLink, describe};
use hilt_wire::rpl::{Mop, Mrhof, Node, NodeConfig, Of0, RootConfig};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::args::{RplLiveArgs, RplMode, RplNodeArgs, RplObjective, RplRootArgs};
use crate::exit::{ExitCode, usage};

pub async fn root(a: RplRootArgs) -> anyhow::Result<ExitCode> {
    let (prefix, len) = a
        .prefix
        .split_once('/')
        .ok_or_else(|| usage(format!("--prefix {}: write it as PREFIX/64", a.prefix)))?;
    if len != "64" {
        return Err(usage("--prefix: RPL autoconfiguration needs a /64"));
    }
    let prefix: Ipv6Addr = prefix
        .parse()
        .map_err(|_| usage(format!("--prefix {}: not an IPv6 prefix", a.prefix)))?;
    if a.min_hop_rank_increase == 0 {
        return Err(usage("--min-hop-rank-increase must be at least 1"));
    }
    let mut cfg = RootConfig::new(match a.mode {
        RplMode::NonStoring => Mop::NonStoring,
        RplMode::Storing => Mop::StoringWithoutMulticast,
    });
    cfg.prefix = prefix;
    cfg.instance_id = a.instance;
    let d = &mut cfg.dodag;
    d.dio_interval_min = a.dio_interval_min;
    d.dio_interval_doublings = a.dio_doublings;
    d.dio_redundancy_constant = a.dio_redundancy;
    d.min_hop_rank_increase = a.min_hop_rank_increase;
    d.default_lifetime = a.default_lifetime;
    d.lifetime_unit = a.lifetime_unit;
    d.objective_code_point = match a.of {
        RplObjective::Of0 => Of0::OCP,
        RplObjective::Mrhof => Mrhof::OCP,
    };
    run(a.live, Some(cfg)).await
}

pub async fn node(a: RplNodeArgs) -> anyhow::Result<ExitCode> {
    run(a.live, None).await
}

async fn run(a: RplLiveArgs, root: Option<RootConfig>) -> anyhow::Result<ExitCode> {
    let faults: Vec<Fault> = a
        .mutate
        .iter()
        .filter(|s| s.as_str() != "none")
        .map(|s| s.parse::<Fault>().map_err(usage))
        .collect::<Result<_, _>>()?;
    if !(0.0..1.0).contains(&a.loss) {
        return Err(usage("--loss is a fraction in [0, 1)"));
    }
    let link = PacketLink::open(&a.iface)
        .with_context(|| format!("failed to open interface {}", a.iface))?;
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id())
    });
    let iid = match &a.iid {
        Some(h) => u64::from_str_radix(h.trim_start_matches("0x"), 16)
            .map_err(|_| usage(format!("--iid {h}: not a hexadecimal number")))?,
        None => link
            .interface()
            .eui64()
            .unwrap_or(if root.is_some() { 1 } else { seed | 2 }),
    };
    let mut cfg = NodeConfig::new(iid, seed);
    cfg.dis_interval = Duration::from_millis(a.dis_interval_ms.max(1));
    cfg.dao_delay = Duration::from_millis(a.dao_delay_ms);
    cfg.dao_ack_timeout = Duration::from_millis(a.dao_ack_timeout_ms.max(1));
    cfg.dao_retries = a.dao_retries;
    cfg.request_dao_ack = !a.no_dao_ack;
    let mut mutator = Mutator::new(faults.iter().copied());
    let role = if root.is_some() { "root" } else { "node" };
    let node = match root {
        Some(mut r) => {
            mutator.adjust_root(&mut r);
            Node::root(cfg, r)
        }
        None => Node::new(cfg),
    };
    println!(
        "hilt rpl {role} on {} as {}{}",
        a.iface,
        node.link_local(),
        if faults.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = faults.iter().map(|f| f.name()).collect();
            format!(" (faults: {})", names.join(", "))
        }
    );
    let opts = DriverOptions {
        faults,
        hear_only: a.hear,
        loss: a.loss,
        seed,
    };
    let driver = Driver::new(node, link, opts, mutator);
    let (tx, rx) = mpsc::channel(4);
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let signals = async move {
        loop {
            let cmd = tokio::select! {
                _ = usr1.recv() => Command::GlobalRepair,
                _ = usr2.recv() => Command::RefreshRoutes,
            };
            if tx.send(cmd).await.is_err() {
                return;
            }
        }
    };
    let driven = driver.run(rx, |t, e| {
        // A closed stdout (a reader gone) must not stop the node.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "t={:.3} {}", t.as_secs_f64(), describe(e));
        let _ = out.flush();
    });
    let limit = async {
        match a.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = driven => r.with_context(|| format!("the link on {} failed", a.iface))?,
        () = signals => {}
        () = limit => {}
        _ = tokio::signal::ctrl_c() => return Ok(ExitCode::Interrupted),
    }
    Ok(ExitCode::Ok)
}
