//! Every backend stage up to the hardware, against the fake probe and ptys.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hilt_core::datafile::parse_yaml;
use hilt_core::rig::RigFile;
use serialport::{SerialPort, TTYPort};

use crate::{FakeProbe, ProbeRig, Rig, RigErrorKind, Stage, boot, check, discover, starter_rig};

const BANNER: &[u8] = b"hilt-fw 0.1.0 board=fake id=1\r\nready\r\n";

/// A probe rig whose console is the slave end of a pty; the test holds the master end
/// (the board's UART). The ELF is a file that starts like one.
fn probe_rig(port: &str, dir: &std::path::Path, retries: u32) -> RigFile {
    probe_rig_with(port, dir, retries, "")
}

/// [`probe_rig`] with more top-level YAML (`power:`, …) and `flash_s: 1`.
fn probe_rig_with(port: &str, dir: &std::path::Path, retries: u32, more: &str) -> RigFile {
    std::fs::write(dir.join("fw.elf"), b"\x7fELF\x01\x01\x01rest").unwrap();
    let text = format!(
        "name: fake-board\nbackend: probe-rs\nchip: LM3S6965\nprobe: {{selector: '1366:1015'}}\n\
         console: {{port: '{port}', banner: '^hilt-fw \\S+ board=fake', ready: '^ready$'}}\n\
         firmware: {{elf: fw.elf}}\ntimeouts: {{flash_s: 1, boot_s: 2, retries: {retries}}}\n{more}"
    );
    let rig: RigFile = parse_yaml(std::path::Path::new("fake.yaml"), &text).unwrap();
    rig.check().unwrap();
    rig
}

fn board() -> (Arc<Mutex<TTYPort>>, TTYPort, String) {
    let (master, slave) = TTYPort::pair().unwrap();
    let name = slave.name().unwrap();
    (Arc::new(Mutex::new(master)), slave, name)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_rig_flashes_resets_and_sees_the_banner() {
    let dir = tempfile::tempdir().unwrap();
    let (uart, _slave, port) = board();
    let probe = FakeProbe::new().on_reset({
        let uart = Arc::clone(&uart);
        move || {
            let _ = uart.lock().unwrap().write_all(BANNER);
        }
    });
    let state = Arc::clone(&probe.state);
    let mut rig = ProbeRig::new(probe_rig(&port, dir.path(), 0), probe);
    let (line, report) = boot(&mut rig, dir.path()).await.unwrap();
    assert_eq!(report.attempts, 1);
    assert_eq!(report.banner, "hilt-fw 0.1.0 board=fake id=1");
    {
        let s = state.lock().unwrap();
        assert_eq!(s.flashed, [dir.path().join("fw.elf")]);
        assert_eq!(s.resets, 1);
        assert!(!s.halted);
    }
    // A reset through the rig boots the board again: the banner comes back.
    let mut console = line.console();
    rig.reset().unwrap();
    let banner = regex::Regex::new("^hilt-fw ").unwrap();
    console
        .expect(&banner, Duration::from_secs(2))
        .await
        .unwrap();
    rig.stop();
    assert!(state.lock().unwrap().halted);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_flash_is_an_infrastructure_error_after_the_retries() {
    let dir = tempfile::tempdir().unwrap();
    let (_uart, _slave, port) = board();
    let probe = FakeProbe::new();
    probe.state.lock().unwrap().fail_flash = Some("flash algorithm timed out".into());
    let state = Arc::clone(&probe.state);
    let mut rig = ProbeRig::new(probe_rig(&port, dir.path(), 1), probe);
    // The first attempt fails; the retry flashes but the board stays silent.
    let e = boot(&mut rig, dir.path()).await.unwrap_err();
    assert_eq!(e.stage, Stage::Boot, "{e}");
    assert!(matches!(e.kind, RigErrorKind::NoBanner { .. }), "{e}");
    assert_eq!(state.lock().unwrap().flashed.len(), 1);
    // With no retry left, the flash failure itself is the error.
    state.lock().unwrap().fail_flash = Some("flash algorithm timed out".into());
    let mut rig = ProbeRig::new(probe_rig(&port, dir.path(), 0), FakeProbe::new());
    rig.probe().unwrap().state = Arc::clone(&state);
    let e = boot(&mut rig, dir.path()).await.unwrap_err();
    assert_eq!(e.stage, Stage::Flash);
    assert_eq!(
        e.to_string(),
        "rig fake-board: failed to load the firmware: flash algorithm timed out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_port_makes_the_rig_unusable_and_boot_fail() {
    let dir = tempfile::tempdir().unwrap();
    let rig = probe_rig("/dev/hilt-no-such-port", dir.path(), 0);
    let h = check(&rig, dir.path());
    assert!(!h.usable());
    assert!(
        h.problems
            .iter()
            .any(|p| p.contains("/dev/hilt-no-such-port is gone")),
        "{h:?}"
    );
    let mut rig = ProbeRig::new(rig, FakeProbe::new());
    let e = boot(&mut rig, dir.path()).await.unwrap_err();
    assert_eq!(e.stage, Stage::Console);
    assert!(matches!(e.kind, RigErrorKind::Port { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn discover_lists_a_pty_and_what_it_prints() {
    let (uart, _slave, port) = board();
    // The board prints its banner until discovery is done, as one rebooting would: a
    // line written before the port is opened may be missed.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let printer = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = uart.lock().unwrap().write_all(BANNER);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let d = discover(std::slice::from_ref(&port), Duration::from_secs(3)).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    printer.join().unwrap();
    let found = d
        .ports
        .iter()
        .find(|p| p.path == port)
        .expect("the pty is listed");
    assert_eq!(found.kind, "pty");
    assert_eq!(
        found.heard.as_deref(),
        Some("hilt-fw 0.1.0 board=fake id=1")
    );
    let starter = starter_rig(&d);
    assert_eq!(starter.console.port.as_deref(), Some(port.as_str()));
    let banner = regex::Regex::new(starter.console.banner.as_deref().unwrap()).unwrap();
    assert!(banner.is_match("hilt-fw 0.1.0 board=fake id=1"));
    starter.check().unwrap();
}

#[test]
fn every_rig_file_in_the_project_parses_and_checks() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets/rigs");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let rig = RigFile::load(&p).unwrap_or_else(|e| panic!("{e}"));
            if let Some(b) = &rig.console.banner {
                regex::Regex::new(b).unwrap_or_else(|e| panic!("{}: banner: {e}", p.display()));
            }
            n += 1;
        }
    }
    assert!(n >= 3, "found {n} rig files");
}

#[test]
fn probe_selectors_match_as_probe_rs_reads_them() {
    let p = crate::ProbeFound {
        identifier: "J-Link".into(),
        vendor_id: 0x1366,
        product_id: 0x1015,
        serial: Some("000683".into()),
        access_denied: false,
    };
    assert!(p.matches(""));
    assert!(p.matches("1366:1015"));
    assert!(p.matches("1366:1015:000683"));
    assert!(!p.matches("1366:1015:999"));
    assert!(!p.matches("0483:374b"));
    assert_eq!(p.selector(), "1366:1015:000683");
}

#[test]
fn a_selector_picks_exactly_one_usable_probe_or_says_why() {
    let probe = |pid: u16, serial: &str, access_denied| crate::ProbeFound {
        identifier: "ST-Link V2-1".into(),
        vendor_id: 0x0483,
        product_id: pid,
        serial: Some(serial.into()),
        access_denied,
    };
    let two = [probe(0x374b, "A1", false), probe(0x374b, "B2", false)];
    let e = crate::select_probe(&two, "0483:374b").unwrap_err();
    assert!(e.to_string().contains("2 debug probes match"), "{e}");
    assert_eq!(
        crate::select_probe(&two, "0483:374b:B2")
            .unwrap()
            .serial
            .as_deref(),
        Some("B2")
    );
    let e = crate::select_probe(&two, "1366:1015").unwrap_err();
    assert_eq!(
        e.to_string(),
        "no debug probe matches selector `1366:1015` (2 attached); `hilt rig discover` lists what is attached"
    );
    let denied = [probe(0x374b, "A1", true)];
    let e = crate::select_probe(&denied, "0483:374b").unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unplugged_probe_is_an_infrastructure_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (_uart, _slave, port) = board();
    let probe = FakeProbe::new();
    {
        let mut s = probe.state.lock().unwrap();
        s.unplugged = true;
        s.selector = "1366:1015".into();
    }
    let state = Arc::clone(&probe.state);
    let mut rig = ProbeRig::new(probe_rig(&port, dir.path(), 1), probe);
    let e = boot(&mut rig, dir.path()).await.unwrap_err();
    assert_eq!(e.stage, Stage::Flash);
    assert_eq!(
        e.to_string(),
        "rig fake-board: failed to load the firmware: no debug probe matches selector \
         `1366:1015` (0 attached); `hilt rig discover` lists what is attached"
    );
    let s = state.lock().unwrap();
    assert!(s.flashed.is_empty() && s.resets == 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn flash_progress_is_reported_and_rtt_lines_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let (uart, _slave, port) = board();
    let probe = FakeProbe::new().on_reset(move || {
        let _ = uart.lock().unwrap().write_all(BANNER);
    });
    let state = Arc::clone(&probe.state);
    let steps = Arc::new(Mutex::new(Vec::new()));
    let mut rig = ProbeRig::new(probe_rig(&port, dir.path(), 0), probe);
    // Set through the Rig trait, as `hilt rig flash` does.
    Rig::on_flash_progress(
        &mut rig,
        Arc::new({
            let steps = Arc::clone(&steps);
            move |s: &crate::FlashStep| steps.lock().unwrap().push(s.clone())
        }),
    );
    boot(&mut rig, dir.path()).await.unwrap();
    let finished: Vec<&str> = steps
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.finished)
        .map(|s| s.operation)
        .collect();
    assert_eq!(finished, ["erase", "program", "verify"]);
    state.lock().unwrap().rtt = vec!["rtt: sensor up".into()];
    assert_eq!(rig.rtt().unwrap(), ["rtt: sensor up"]);
    assert!(rig.rtt().unwrap().is_empty());
    rig.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wedged_flash_times_out_at_flash_s_and_the_retry_says_the_probe_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let (_uart, _slave, port) = board();
    let probe = FakeProbe::new();
    probe.state.lock().unwrap().flash_time = Duration::from_secs(3);
    let mut rig = ProbeRig::new(probe_rig(&port, dir.path(), 1), probe);
    let started = std::time::Instant::now();
    let e = boot(&mut rig, dir.path()).await.unwrap_err();
    // flash_s (1 s) bounds the first attempt; the retry is refused at once rather than
    // racing the wedged flash for the probe.
    assert!(started.elapsed() < Duration::from_millis(2500), "{e}");
    assert_eq!(e.stage, Stage::Flash);
    assert!(e.to_string().contains("still busy with a flash"), "{e}");
    assert!(rig.probe().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_flash_is_counted_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (uart, _slave, port) = board();
    let probe = FakeProbe::new().on_reset(move || {
        let _ = uart.lock().unwrap().write_all(BANNER);
    });
    // The first flash fails, the second works: one retry, reported.
    probe.state.lock().unwrap().fail_flash = Some("flash algorithm timed out".into());
    let state = Arc::clone(&probe.state);
    let mut rig = ProbeRig::new(probe_rig(&port, dir.path(), 2), probe);
    let (_line, report) = boot(&mut rig, dir.path()).await.unwrap();
    assert_eq!(report.attempts, 2);
    assert_eq!(
        report.retried,
        ["rig fake-board: failed to load the firmware: flash algorithm timed out"]
    );
    // The failed flash let the probe go; the retry attached afresh.
    let s = state.lock().unwrap();
    assert_eq!((s.attaches, s.detaches), (2, 1), "{s:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_console_port_that_vanishes_during_boot_is_a_port_error() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave, port) = board();
    let uart = Arc::new(Mutex::new(Some(master)));
    // The board's USB UART goes away as it resets: the pty's master end closes.
    let probe = FakeProbe::new().on_reset(move || {
        uart.lock().unwrap().take();
    });
    let mut rig = ProbeRig::new(probe_rig(&port, dir.path(), 0), probe);
    drop(slave);
    let e = boot(&mut rig, dir.path()).await.unwrap_err();
    assert_eq!(e.stage, Stage::Boot, "{e}");
    assert!(
        matches!(&e.kind, RigErrorKind::Port { port: p, .. } if *p == port),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_power_cycles_when_the_rig_says_how_and_attaches_again() {
    let dir = tempfile::tempdir().unwrap();
    let (uart, _slave, port) = board();
    let probe = FakeProbe::new().on_reset(move || {
        let _ = uart.lock().unwrap().write_all(BANNER);
    });
    let state = Arc::clone(&probe.state);
    let power = "power: {off: [touch, power-off], on: [touch, power-on]}\n";
    let mut rig =
        ProbeRig::new(probe_rig_with(&port, dir.path(), 0, power), probe).root(dir.path());
    let (line, _) = boot(&mut rig, dir.path()).await.unwrap();
    let mut console = line.console();
    rig.reset().unwrap();
    assert_eq!(rig.power_cycles, 1);
    assert!(dir.path().join("power-off").exists() && dir.path().join("power-on").exists());
    console
        .expect(
            &regex::Regex::new("^hilt-fw ").unwrap(),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    {
        let s = state.lock().unwrap();
        assert_eq!((s.attaches, s.detaches, s.resets), (2, 1, 2), "{s:?}");
    }
    // A power command that fails is the reset's error, named.
    let power = "power: {off: ['false'], on: ['true']}\n";
    let mut rig = ProbeRig::new(
        probe_rig_with(&port, dir.path(), 0, power),
        FakeProbe::new(),
    );
    let e = rig.reset().unwrap_err();
    assert_eq!(e.stage, Stage::Reset);
    assert!(e.to_string().contains("`false` failed"), "{e}");
}

/// The real driver, built in, on a machine with no probe attached: the error a lab
/// user sees when the probe is unplugged.
#[cfg(feature = "probe-rs")]
#[tokio::test(flavor = "multi_thread")]
async fn without_a_probe_the_probe_rs_driver_reports_it_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (_uart, _slave, port) = board();
    let mut file = probe_rig(&port, dir.path(), 1);
    file.probe.as_mut().unwrap().selector = "1366:1015:hilt-absent".into();
    let mut rig = crate::open(&file, dir.path()).unwrap();
    let e = boot(rig.as_mut(), dir.path()).await.unwrap_err();
    assert_eq!(e.stage, Stage::Flash);
    assert!(
        matches!(&e.kind, RigErrorKind::ProbeMissing { selector, .. } if selector == "1366:1015:hilt-absent"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("`hilt rig discover` lists what is attached"),
        "{e}"
    );
    let h = check(&file, dir.path());
    assert!(
        h.checked
            .iter()
            .any(|c| c == "chip LM3S6965 known to probe-rs"),
        "{h:?}"
    );
    assert!(
        h.problems
            .iter()
            .any(|p| p.contains("no debug probe matches")),
        "{h:?}"
    );
}
