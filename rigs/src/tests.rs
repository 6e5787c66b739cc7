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
    std::fs::write(dir.join("fw.elf"), b"\x7fELF\x01\x01\x01rest").unwrap();
    let text = format!(
        "name: fake-board\nbackend: probe-rs\nchip: LM3S6965\nprobe: {{selector: '1366:1015'}}\n\
         console: {{port: '{port}', banner: '^hilt-fw \\S+ board=fake', ready: '^ready$'}}\n\
         firmware: {{elf: fw.elf}}\ntimeouts: {{boot_s: 2, retries: {retries}}}\n"
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
    rig.probe().state = Arc::clone(&state);
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
    };
    assert!(p.matches(""));
    assert!(p.matches("1366:1015"));
    assert!(p.matches("1366:1015:000683"));
    assert!(!p.matches("1366:1015:999"));
    assert!(!p.matches("0483:374b"));
    assert_eq!(p.selector(), "1366:1015:000683");
}
