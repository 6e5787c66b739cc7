//! `hilt rig`: listing, checking and discovering rigs; the console of a device.

use std::io::Write;

use serialport::{SerialPort, TTYPort};

use crate::support::{hilt, stderr};

#[test]
fn discover_lists_a_pty_with_its_banner_and_prints_a_starter_rig() {
    let (mut board, slave) = TTYPort::pair().expect("a pty pair");
    let port = slave.name().unwrap();
    // The board prints its banner until discovery is done, as one rebooting would: a
    // line written before the port is opened may be missed.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let printer = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = board.write_all(b"hilt-fw 0.1.0 board=lm3s6965evb id=3\r\nready\r\n");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    let o = hilt(&["rig", "discover", "--port", &port, "--listen", "3000"]);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    printer.join().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with(&port))
        .unwrap_or_else(|| panic!("{port} not listed:\n{out}"));
    assert!(row.contains("pty"), "{row}");
    assert!(
        row.contains("printed: hilt-fw 0.1.0 board=lm3s6965evb id=3"),
        "{row}"
    );
    assert!(out.contains("debug probes:"), "{out}");
    // The starter rig file is a valid rig file naming that port.
    let yaml = out.split_once("# a starter rig file").unwrap().1;
    let yaml = yaml.split_once('\n').unwrap().1;
    let rig: hilt_core::rig::RigFile =
        hilt_core::datafile::parse_yaml(std::path::Path::new("starter.yaml"), yaml).unwrap();
    rig.check().unwrap();
    assert_eq!(rig.console.port.as_deref(), Some(port.as_str()));
}

#[test]
fn list_shows_every_rig_and_check_names_what_is_missing() {
    let o = hilt(&["rig", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for name in ["qemu-lm3s6965", "nrf52840dk", "usb-serial"] {
        assert!(out.contains(name), "{name} missing:\n{out}");
    }
    // The example serial rig's adapter is not attached here: unusable, exit 3, reason.
    let o = hilt(&["rig", "check", "usb-serial"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("PROBLEM  console port /dev/ttyUSB0 is gone"),
        "{out}"
    );
    let o = hilt(&["rig", "check", "no-such-rig"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Infrastructure failures end `hilt rig` with exit 3 and say what broke: the example
/// probe rig here (no probe, no port), a flash without a probe, and a console whose
/// port goes away mid-run (a pty whose board end closes).
#[test]
fn infrastructure_failures_exit_3_with_the_reason() {
    let o = hilt(&["rig", "check", "nrf52840dk"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("PROBLEM  console port /dev/serial/by-id/"),
        "{out}"
    );
    assert!(
        out.contains("built without the probe-rs driver")
            || out.contains("no debug probe matches selector `1366:1015`"),
        "{out}"
    );
    assert!(out.contains("rig nrf52840dk: unusable"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fw.elf"), b"\x7fELF\x01\x01\x01").unwrap();
    let probe_rig = dir.path().join("probe.yaml");
    std::fs::write(
        &probe_rig,
        format!(
            "name: lab-board\nbackend: probe-rs\nchip: nRF52840_xxAA\n\
             probe: {{selector: '1366:1015:hilt-absent'}}\nconsole: {{port: /dev/hilt-absent}}\n\
             firmware: {{elf: {}}}\n",
            dir.path().join("fw.elf").display()
        ),
    )
    .unwrap();
    let o = hilt(&["rig", "flash", probe_rig.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("hilt: error: rig lab-board: failed to load the firmware: "),
        "{err}"
    );
    assert!(
        err.contains("built without the probe-rs driver")
            || err.contains("no debug probe matches selector `1366:1015:hilt-absent` (0 attached); `hilt rig discover` lists what is attached"),
        "{err}"
    );

    // A serial rig on a pty: the board prints its banner, then its USB UART vanishes.
    let (mut board, slave) = TTYPort::pair().expect("a pty pair");
    close_on_exec(std::os::fd::AsRawFd::as_raw_fd(&board));
    let port = slave.name().unwrap();
    let serial_rig = dir.path().join("serial.yaml");
    std::fs::write(
        &serial_rig,
        format!(
            "name: flaky-board\nbackend: serial\n\
             console: {{port: '{port}', banner: '^hilt-fw '}}\nnetwork: {{attachment: none}}\n"
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_hilt"))
        .args(["rig", "console", serial_rig.to_str().unwrap()])
        .args([
            "--send", "version", "--expect", "^never$", "--wait", "10000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The banner until hilt has the console open (it answers `version` by then), then
    // the port goes away.
    let mut heard = Vec::new();
    board
        .set_timeout(std::time::Duration::from_millis(100))
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !String::from_utf8_lossy(&heard).contains("version") {
        assert!(
            std::time::Instant::now() < deadline,
            "hilt never sent `version`"
        );
        let _ = board.write_all(b"hilt-fw 0.1.0 board=pty id=1\r\n");
        let mut buf = [0u8; 256];
        if let Ok(n) = std::io::Read::read(&mut board, &mut buf) {
            heard.extend_from_slice(&buf[..n]);
        }
    }
    drop(board);
    drop(slave);
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("hilt: error: rig flaky-board: "), "{err}");
}

/// serialport opens a pty's master end without `O_CLOEXEC`: a hilt started now would
/// inherit it, and closing the test's copy would not hang the line up.
#[expect(unsafe_code, reason = "fcntl on a descriptor this test owns")]
fn close_on_exec(fd: std::os::fd::RawFd) {
    // SAFETY: `fd` is open for the duration of the call; F_SETFD changes only its flags.
    let r = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    assert_eq!(r, 0, "fcntl: {}", std::io::Error::last_os_error());
}
