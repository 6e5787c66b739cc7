//! `hilt rig list | check | discover | flash | console`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use hilt_core::rig::RigFile;
use hilt_rigs::BootReport;
use tokio::io::AsyncBufReadExt;

use crate::args::{RigCheckArgs, RigCommand, RigConsoleArgs, RigDiscoverArgs, RigUpArgs};
use crate::exit::{ExitCode, usage};
use crate::locate;

pub async fn rig(cmd: RigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RigCommand::List => list(),
        RigCommand::Check(a) => check(a).await,
        RigCommand::Discover(a) => discover(a).await,
        RigCommand::Flash(a) => {
            let (file, root) = load(&a.rig)?;
            let mut rig = hilt_rigs::open(&file, &root)?;
            rig.on_flash_progress(std::sync::Arc::new(print_flash_step));
            let (_line, report) = hilt_rigs::boot(rig.as_mut(), &root).await?;
            print_boot(&file, &report);
            rig.stop();
            Ok(ExitCode::Ok)
        }
        RigCommand::Console(a) => console(a).await,
        RigCommand::Up(a) => up(a).await,
    }
}

/// The rig files under targets/rigs/, by name.
pub fn all_rigs() -> anyhow::Result<Vec<(PathBuf, RigFile)>> {
    let Some(root) = locate::root() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join("targets/rigs")) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "yaml") {
            out.push((p.clone(), RigFile::load(&p)?));
        }
    }
    out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(out)
}

/// A rig by name (targets/rigs/NAME.yaml, or the `name:` inside one) or by path, with
/// the project folder its relative paths start from.
pub fn load(spec: &str) -> anyhow::Result<(RigFile, PathBuf)> {
    let root = locate::root()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let path = Path::new(spec);
    if spec.ends_with(".yaml") || path.is_file() {
        return Ok((RigFile::load(path)?, root));
    }
    let rigs = all_rigs()?;
    match rigs
        .into_iter()
        .find(|(p, r)| r.name == spec || p.file_stem().is_some_and(|s| s == spec))
    {
        Some((_, r)) => Ok((r, root)),
        None => Err(usage(format!(
            "no rig named `{spec}` (see `hilt rig list`, or give a path to a rig file)"
        ))),
    }
}

fn list() -> anyhow::Result<ExitCode> {
    let root = locate::root().unwrap_or_default();
    let rigs = all_rigs()?;
    for (_, r) in &rigs {
        let health = hilt_rigs::check(r, &root);
        let console = r.console.port.clone().unwrap_or_else(|| match r.backend {
            hilt_core::rig::RigBackend::Qemu => "pty".into(),
            _ => "-".into(),
        });
        println!(
            "{:<20} {:<9} {:<14} console {:<14} net {:<10} {}",
            r.name,
            r.backend.as_str(),
            if r.chip.is_empty() { "-" } else { &r.chip },
            console,
            format!("{:?}", r.network.attachment).to_lowercase(),
            if health.usable() {
                "usable".to_owned()
            } else {
                format!("unusable: {}", health.problems.join("; "))
            }
        );
    }
    eprintln!("{} rigs", rigs.len());
    Ok(ExitCode::Ok)
}

async fn check(a: RigCheckArgs) -> anyhow::Result<ExitCode> {
    let (file, root) = load(&a.rig)?;
    let health = hilt_rigs::check(&file, &root);
    for c in &health.checked {
        println!("ok       {c}");
    }
    for p in &health.problems {
        println!("PROBLEM  {p}");
    }
    if !health.usable() {
        println!("rig {}: unusable", file.name);
        return Ok(ExitCode::Infrastructure);
    }
    if a.boot {
        let mut rig = hilt_rigs::open(&file, &root)?;
        let booted = hilt_rigs::boot(rig.as_mut(), &root).await;
        rig.stop();
        match booted {
            Ok((_, report)) => print_boot(&file, &report),
            Err(e) => {
                println!("PROBLEM  {e}");
                println!("rig {}: unusable", file.name);
                return Ok(ExitCode::Infrastructure);
            }
        }
    }
    println!("rig {}: usable", file.name);
    Ok(ExitCode::Ok)
}

/// A flash's progress on stderr: each operation as it starts and ends.
fn print_flash_step(step: &hilt_rigs::FlashStep) {
    if step.finished {
        eprintln!("hilt: flash: {} done, {} bytes", step.operation, step.done);
    } else if step.done == 0 {
        eprintln!("hilt: flash: {}…", step.operation);
    }
}

fn print_boot(file: &RigFile, r: &BootReport) {
    println!(
        "rig {}: booted in {} attempt(s): build {:.2} s, load {:.2} s, boot {:.2} s",
        file.name,
        r.attempts,
        r.build.as_secs_f64(),
        r.flash.as_secs_f64(),
        r.boot.as_secs_f64()
    );
    for e in &r.retried {
        println!("  retried after: {e}");
    }
    println!("  banner: {}", r.banner);
}

async fn discover(a: RigDiscoverArgs) -> anyhow::Result<ExitCode> {
    let d = hilt_rigs::discover(&a.port, Duration::from_millis(a.listen)).await;
    println!("serial ports:");
    if d.ports.is_empty() {
        println!("  (none)");
    }
    for p in &d.ports {
        let said = match (&p.heard, &p.error) {
            (_, Some(e)) => format!("cannot open: {e}"),
            (Some(h), _) => format!("printed: {h}"),
            (None, None) => "silent".into(),
        };
        println!("  {:<24} {:<30} {said}", p.path, p.kind);
    }
    println!("debug probes:");
    match &d.probes_note {
        Some(note) => println!("  ({note})"),
        None if d.probes.is_empty() => println!("  (none)"),
        None => {
            for p in &d.probes {
                let access = if p.access_denied {
                    "  (permission denied: udev rules and `plugdev`, see rigs/README.md)"
                } else {
                    ""
                };
                println!("  {:<24} {}{access}", p.selector(), p.identifier);
            }
        }
    }
    let starter = hilt_rigs::starter_rig(&d);
    println!(
        "\n# a starter rig file (save as targets/rigs/{}.yaml):",
        starter.name
    );
    print!(
        "{}",
        yaml_serde::to_string(&starter).context("failed to write the starter rig")?
    );
    Ok(ExitCode::Ok)
}

async fn console(a: RigConsoleArgs) -> anyhow::Result<ExitCode> {
    let (file, root) = load(&a.rig)?;
    let expect = a
        .expect
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| usage(format!("--expect: {e}")))?;
    let mut rig = hilt_rigs::open(&file, &root)?;
    let (line, report) = hilt_rigs::boot(rig.as_mut(), &root).await?;
    eprintln!(
        "hilt: {} booted ({}); console attached",
        file.name, report.banner
    );
    println!("{}", report.banner);
    let mut console = line.console();
    let code = if a.send.is_empty() {
        // Interactive: stdin lines go to the device until end of input.
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        loop {
            tokio::select! {
                l = stdin.next_line() => match l? {
                    Some(l) => console.send_line(&l)?,
                    None => break ExitCode::Ok,
                },
                l = console.next_line(Duration::from_secs(3600)) => match l {
                    Ok(Some(l)) => println!("{l}"),
                    Ok(None) => {}
                    Err(e) => return Err(anyhow::anyhow!("rig {}: {e}", file.name)),
                },
            }
        }
    } else {
        for cmd in &a.send {
            console.send_line(cmd)?;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(a.wait);
        let mut matched = false;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match console.next_line(left).await {
                Ok(Some(l)) => {
                    println!("{l}");
                    if expect.as_ref().is_some_and(|re| re.is_match(&l)) {
                        matched = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(anyhow::anyhow!("rig {}: {e}", file.name)),
            }
        }
        if expect.is_some() && !matched {
            eprintln!(
                "hilt: no console line matched --expect within {} ms",
                a.wait
            );
            ExitCode::Infrastructure
        } else {
            ExitCode::Ok
        }
    };
    rig.stop();
    Ok(code)
}

async fn up(a: RigUpArgs) -> anyhow::Result<ExitCode> {
    use hilt_net::slip_bridge::{Bridge, BridgeConfig, HostSide};
    let (file, root) = load(&a.rig)?;
    if file.network.attachment != hilt_core::rig::Attachment::Slip {
        return Err(usage(format!("rig {} is not attached by SLIP", file.name)));
    }
    if !hilt_net::tun::can_create() {
        eprintln!("hilt: creating a TUN interface needs root and /dev/net/tun");
        return Ok(ExitCode::Infrastructure);
    }
    if a.link_only {
        return relay(a, file, root).await;
    }
    let prefix: std::net::Ipv6Addr = file.network.prefix.parse()?;
    let cfg = BridgeConfig {
        prefix,
        root_iid: 1,
        seed: 1,
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("hilt-out").join(format!("rig-{}", file.name)));
    std::fs::create_dir_all(&out).with_context(|| format!("failed to create {}", out.display()))?;
    let tun = hilt_net::tun::Tun::create(&a.iface, cfg.root_address(), 64, 1280)
        .with_context(|| format!("failed to create the TUN interface {}", a.iface))?;
    let mut rig = hilt_rigs::open(&file, &root)?;
    let (mut line, report) = hilt_rigs::boot(rig.as_mut(), &root).await?;
    print_boot(&file, &report);
    let frames = line.take_frames().context("the line's frames were taken")?;
    let mut bridge = Bridge::start(frames, line.writer(), HostSide::Tun(tun), cfg.clone());
    let join_limit = Duration::from_secs(file.timeouts.join_s);
    let joined = bridge.joined(join_limit).await;
    let code = match joined {
        Some((device, at)) => {
            println!(
                "rig {}: {device} joined the DODAG of {} on {} after {:.2} s",
                file.name,
                cfg.root_address(),
                a.iface,
                at.as_secs_f64()
            );
            match a.hold {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            ExitCode::Ok
        }
        None => {
            println!(
                "rig {}: the device did not join within {join_limit:?} ({:?})",
                file.name,
                bridge.state()
            );
            ExitCode::Infrastructure
        }
    };
    let captured = bridge.captured();
    let pcap = out.join("slip.pcapng");
    hilt_net::pcapng::write_ipv6_packets(
        &pcap,
        &format!("SLIP link of rig {}", file.name),
        captured.iter().map(|(t, p)| (*t, p.as_slice())),
    )
    .with_context(|| format!("failed to write {}", pcap.display()))?;
    println!("{} ({} packets)", pcap.display(), captured.len());
    bridge.stop().await;
    rig.stop();
    Ok(code)
}

/// `hilt rig up --link-only`: the device's SLIP line relayed to a bare TUN interface.
async fn relay(a: RigUpArgs, file: RigFile, root: PathBuf) -> anyhow::Result<ExitCode> {
    use hilt_net::slip_bridge::{Bridge, HostSide};
    let mut faults = Vec::new();
    for m in a.mutate.iter().flat_map(|m| m.split(',')) {
        if m != "none" && !m.is_empty() {
            faults.push(
                m.parse::<hilt_net::rpl::Fault>()
                    .map_err(|e| usage(format!("--mutate: {e}")))?,
            );
        }
    }
    // Built (when stale) before the interface exists: a test that waits for it then
    // hears the device boot at once, not after a compiler run.
    let built = tokio::task::block_in_place(|| hilt_rigs::build_firmware_if_stale(&file, &root))?;
    let tun = hilt_net::tun::Tun::create_unaddressed(&a.iface, 1280)
        .with_context(|| format!("failed to create the TUN interface {}", a.iface))?;
    if a.wait_listener {
        let limit = Duration::from_secs(file.timeouts.boot_s.max(5));
        let deadline = tokio::time::Instant::now() + limit;
        while !tun.has_packet_listener() {
            if tokio::time::Instant::now() >= deadline {
                eprintln!("hilt: nothing listened on {} within {limit:?}", a.iface);
                return Ok(ExitCode::Infrastructure);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut rig = hilt_rigs::open(&file, &root)?;
    let (mut line, mut report) =
        hilt_rigs::boot_with(rig.as_mut(), &root, hilt_rigs::Build::IfStale).await?;
    report.build += built;
    print_boot(&file, &report);
    let frames = line.take_frames().context("the line's frames were taken")?;
    let mutator = hilt_net::rpl::Mutator::new(faults.iter().copied());
    let bridge = Bridge::relay(frames, line.writer(), HostSide::Tun(tun), mutator);
    println!(
        "rig {}: relaying {} <-> {}{}",
        file.name,
        line.path(),
        a.iface,
        if faults.is_empty() {
            String::new()
        } else {
            format!(
                " committing {}",
                faults
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    match a.hold {
        Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
        None => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
    }
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out)
            .with_context(|| format!("failed to create {}", out.display()))?;
        let captured = bridge.captured();
        let pcap = out.join("slip.pcapng");
        hilt_net::pcapng::write_ipv6_packets(
            &pcap,
            &format!("SLIP link of rig {}", file.name),
            captured.iter().map(|(t, p)| (*t, p.as_slice())),
        )
        .with_context(|| format!("failed to write {}", pcap.display()))?;
        println!("{} ({} packets)", pcap.display(), captured.len());
    }
    bridge.stop().await;
    rig.stop();
    Ok(ExitCode::Ok)
}
