//! `hilt rpl root` and `hilt rpl node` on real interfaces: a root and three nodes, each
//! a `hilt` process in its own network namespace on one bridged segment, heard as a
//! line (root – n1 – n2 – n3, with loss on n2) through `--hear`. Needs root; skips
//! elsewhere.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hilt_net::netns::{self, Lan};

/// A process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(
    ns: &netns::Netns,
    args: &[&str],
    tag: usize,
    lines: &mpsc::Sender<(usize, String)>,
) -> Killed {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            env!("CARGO_BIN_EXE_hilt"),
            "rpl",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ip netns exec runs");
    let out = child.stdout.take().expect("piped");
    let tx = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send((tag, line));
        }
    });
    Killed(child)
}

#[test]
fn a_root_and_three_nodes_in_namespaces_form_a_line_with_source_routed_dao_acks() {
    if let Some(why) = netns::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    netns::sweep_stale();
    let lan = Lan::create(4).expect("namespaces and a bridge");
    let fast = [
        "--dis-interval-ms",
        "300",
        "--dao-delay-ms",
        "50",
        "--dao-ack-timeout-ms",
        "400",
        "--dao-retries",
        "5",
        "--duration",
        "30",
        "--seed",
        "7",
    ];
    let (tx, rx) = mpsc::channel();
    let mut procs = Vec::new();
    let root = [
        "root",
        "--iface",
        Lan::IFACE,
        "--iid",
        "1",
        "--dio-interval-min",
        "6",
        "--dio-doublings",
        "6",
        "--hear",
        "fe80::2",
        "--duration",
        "30",
    ];
    procs.push(start(&lan.nodes[0], &root, 0, &tx));
    let hears: [&[&str]; 3] = [
        &["--hear", "fe80::1", "--hear", "fe80::3"],
        &["--hear", "fe80::2", "--hear", "fe80::4", "--loss", "0.1"],
        &["--hear", "fe80::3"],
    ];
    for (i, hear) in hears.iter().enumerate() {
        let iid = format!("{}", i + 2);
        let mut args = vec!["node", "--iface", Lan::IFACE, "--iid", &iid];
        args.extend_from_slice(&fast);
        args.extend_from_slice(hear);
        procs.push(start(&lan.nodes[i + 1], &args, i + 1, &tx));
    }
    // Bounded by DAO retransmission: 5 tries of 400 ms per hop, a few hops.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut routes = std::collections::BTreeSet::new();
    let mut ranks = [0u32; 4];
    let mut acked = [false; 4];
    let mut log = Vec::new();
    while routes.len() < 3 || !acked[1..].iter().all(|a| *a) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((who, line)) = rx.recv_timeout(left) else {
            panic!("no full DODAG within 15 s; heard:\n{}", log.join("\n"));
        };
        log.push(format!("[{who}] {line}"));
        if let Some(t) = line.split("route-added target=").nth(1) {
            routes.insert(t.trim().to_owned());
        }
        if line.contains(" dao-acknowledged ") {
            acked[who] = true;
        }
        if let Some(r) = line
            .split(" rank=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
        {
            ranks[who] = r.parse().unwrap_or(0);
        }
    }
    drop(procs);
    let want: std::collections::BTreeSet<String> = ["2001:db8::2", "2001:db8::3", "2001:db8::4"]
        .map(String::from)
        .into();
    assert_eq!(routes, want, "{}", log.join("\n"));
    assert!(
        ranks[1] < ranks[2] && ranks[2] < ranks[3],
        "Ranks grow along the line: {ranks:?}\n{}",
        log.join("\n")
    );
}

/// The TD catalogue against hilt's node and root, each TD in namespaces of its own:
/// every TD that applies passes, and with `--controls` every one fails against the
/// node or root that commits its fault.
#[test]
fn the_rpl_catalogue_passes_against_hilts_node_and_root_and_catches_every_fault() {
    if let Some(why) = netns::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The node's and the root's runs side by side: each TD has namespaces of its own.
    std::thread::scope(|scope| {
        for target in ["hilt-rpl-node", "hilt-rpl-root"] {
            let dir = dir.path();
            scope.spawn(move || {
                let run = super::support::run_suite("rpl", target, &dir.join(target), &[]);
                run.assert_conforms_or_listed("rpl");
                let pcaps = std::fs::read_dir(dir.join(target).join("pcap").join(target))
                    .map(|d| d.count())
                    .unwrap_or(0);
                assert!(
                    pcaps >= 20,
                    "{target}: a pcapng trace per TD, found {pcaps}"
                );
                let controls = dir.join(format!("{target}-controls"));
                super::support::run_suite("rpl", target, &controls, &["--controls"])
                    .assert_every_control_fails("rpl");
            });
        }
    });
}

/// `hilt run --suite rpl` with no target runs against the targets of the suite's own
/// plan (suites/plans/rpl.yaml): hilt's node and root.
#[test]
fn the_rpl_suite_needs_no_target_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = super::support::hilt(&[
        "run",
        "--suite",
        "rpl",
        "--select",
        "rpl.td-rpl-node-dis-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", super::support::stderr(&o));
    let names: Vec<String> = super::support::results(&out)
        .targets
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names, ["hilt-rpl-node", "hilt-rpl-root"]);
}

/// The RPL node catalogue against hilt's reference firmware on QEMU (target hilt-fw):
/// each TD boots the firmware fresh behind a SLIP-TUN relay and the suite plays the
/// root on the TUN interface. The TDs a leaf can answer pass with their traffic
/// recorded, and under `--controls`, where the relay commits each TD's fault on the
/// device's behalf, every one of them fails. Needs root, QEMU and the ARM toolchain.
#[test]
fn the_rpl_node_catalogue_passes_against_the_reference_firmware_and_its_controls_fail() {
    if !hilt_net::tun::can_create() {
        eprintln!("skipped: a TUN interface needs root and /dev/net/tun");
        return;
    }
    if super::support::missing("qemu-system-arm") || super::support::missing("arm-none-eabi-gcc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The whole catalogue: the root's TDs and the router's skip at once by capability.
    let out = dir.path().join("fw");
    let run = super::support::run_suite("rpl", "hilt-fw", &out, &[]);
    run.assert_conforms_or_listed("rpl");
    let passed = run.count(hilt_core::Verdict::Pass);
    assert!(
        passed >= 5,
        "only {passed} node TDs passed against the firmware:\n{}",
        run.lines(|_| true).join("\n")
    );
    run.assert_every_result_has_a_pcap(&out);
    let controls = dir.path().join("fw-controls");
    let run = super::support::run_suite("rpl", "hilt-fw", &controls, &["--controls"]);
    run.assert_every_control_fails("rpl");
    assert_eq!(
        run.count(hilt_core::Verdict::Fail),
        passed,
        "one control per TD"
    );
}
