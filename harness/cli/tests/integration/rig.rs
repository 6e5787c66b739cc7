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
