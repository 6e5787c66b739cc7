//! Finding what is attached: serial ports (and what they print), debug probes, and a
//! starter rig file for what was found.

use std::time::Duration;

use hilt_core::rig::{
    ConsoleSection, NetworkSection, ProbeSection, RigBackend, RigFile, RigTimeouts,
};
use hilt_net::serial::DeviceLine;

use crate::error::RigErrorKind;

/// A serial port and what it said while hilt listened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortFound {
    pub path: String,
    /// `usb 0483:374b SERIAL (product)`, `pci`, `pty`, …
    pub kind: String,
    /// The first line heard, if any.
    pub heard: Option<String>,
    /// Why it could not be opened, if it could not.
    pub error: Option<String>,
}

/// A debug probe probe-rs sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFound {
    pub identifier: String,
    pub vendor_id: u16,
    pub product_id: u16,
    pub serial: Option<String>,
    /// Listed, but this user may not open it (no udev rule, not in `plugdev`).
    pub access_denied: bool,
}

impl ProbeFound {
    /// The selector probe-rs takes: `VID:PID` or `VID:PID:SERIAL`.
    pub fn selector(&self) -> String {
        match &self.serial {
            Some(s) => format!("{:04x}:{:04x}:{s}", self.vendor_id, self.product_id),
            None => format!("{:04x}:{:04x}", self.vendor_id, self.product_id),
        }
    }

    /// Whether a rig file's selector picks this probe (an empty one picks any).
    pub fn matches(&self, selector: &str) -> bool {
        let mut parts = selector.split(':');
        let hex = |p: Option<&str>| p.and_then(|s| u16::from_str_radix(s, 16).ok());
        match (parts.next(), parts.next(), parts.next()) {
            (None | Some(""), _, _) => true,
            (v, p, serial) => {
                hex(v) == Some(self.vendor_id)
                    && hex(p) == Some(self.product_id)
                    && serial.is_none_or(|s| self.serial.as_deref() == Some(s))
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub ports: Vec<PortFound>,
    pub probes: Vec<ProbeFound>,
    /// Why probes could not be listed (built without probe-rs), if so.
    pub probes_note: Option<String>,
}

/// Lists serial ports (those the system enumerates, plus `extra` paths such as a pty),
/// listens on each for `listen` to hear what it prints, and lists debug probes.
pub async fn discover(extra: &[String], listen: Duration) -> Discovery {
    let mut ports: Vec<PortFound> = serialport::available_ports()
        .unwrap_or_default()
        .into_iter()
        .map(|p| PortFound {
            path: p.port_name,
            kind: describe(&p.port_type),
            heard: None,
            error: None,
        })
        .collect();
    for e in extra {
        if !ports.iter().any(|p| &p.path == e) {
            ports.push(PortFound {
                path: e.clone(),
                kind: if e.starts_with("/dev/pts/") {
                    "pty".into()
                } else {
                    "given".into()
                },
                heard: None,
                error: None,
            });
        }
    }
    // Every port listens at once: a silent port costs `listen` once, not per port.
    let mut listening = tokio::task::JoinSet::new();
    for (i, p) in ports.iter().enumerate() {
        let path = p.path.clone();
        listening.spawn(async move {
            let heard = match DeviceLine::open(&path, 115_200) {
                Ok(line) => Ok(line.console().next_line(listen).await.ok().flatten()),
                Err(e) => Err(e.to_string()),
            };
            (i, heard)
        });
    }
    while let Some(Ok((i, heard))) = listening.join_next().await {
        match heard {
            Ok(h) => ports[i].heard = h,
            Err(e) => ports[i].error = Some(e),
        }
    }
    let (probes, probes_note) = match probes() {
        Ok(p) => (p, None),
        Err(note) => (Vec::new(), Some(note)),
    };
    Discovery {
        ports,
        probes,
        probes_note,
    }
}

fn describe(t: &serialport::SerialPortType) -> String {
    match t {
        serialport::SerialPortType::UsbPort(u) => format!(
            "usb {:04x}:{:04x}{}{}",
            u.vid,
            u.pid,
            u.serial_number
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default(),
            u.product
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ),
        serialport::SerialPortType::PciPort => "pci".into(),
        serialport::SerialPortType::BluetoothPort => "bluetooth".into(),
        serialport::SerialPortType::Unknown => "unknown".into(),
    }
}

/// The one probe a rig file's selector picks among those attached, or why none can be
/// used: none matches, several do, or this user may not open it.
pub fn select_probe<'a>(
    probes: &'a [ProbeFound],
    selector: &str,
) -> Result<&'a ProbeFound, RigErrorKind> {
    let matching: Vec<&ProbeFound> = probes.iter().filter(|p| p.matches(selector)).collect();
    match matching[..] {
        [] => Err(RigErrorKind::ProbeMissing {
            selector: selector.to_owned(),
            found: probes.len(),
        }),
        [p] if p.access_denied => Err(RigErrorKind::Other(format!(
            "debug probe {} ({}): permission denied: install the udev rules and join `plugdev` (rigs/README.md)",
            p.selector(),
            p.identifier
        ))),
        [p] => Ok(p),
        _ => Err(RigErrorKind::Other(format!(
            "{} debug probes match selector `{selector}`: add the serial number (`hilt rig discover` lists them)",
            matching.len()
        ))),
    }
}

/// The debug probes attached, or why they cannot be listed.
#[cfg(feature = "probe-rs")]
pub(crate) fn probes() -> Result<Vec<ProbeFound>, String> {
    Ok(crate::probe_driver::list_probes())
}

/// The debug probes attached, or why they cannot be listed.
#[cfg(not(feature = "probe-rs"))]
pub(crate) fn probes() -> Result<Vec<ProbeFound>, String> {
    Err(crate::NO_PROBE_RS.into())
}

/// A rig file for what was found: a probe-rs rig when a probe is attached (the console
/// the first port that printed something), else a serial rig on that port.
pub fn starter_rig(d: &Discovery) -> RigFile {
    let talking = d
        .ports
        .iter()
        .find(|p| p.heard.is_some())
        .or_else(|| d.ports.iter().find(|p| p.kind.starts_with("usb")));
    let probe = d.probes.first();
    RigFile {
        name: "my-board".into(),
        description: format!(
            "Written by `hilt rig discover`{}: set chip, firmware and the banner.",
            talking
                .and_then(|p| p.heard.as_ref())
                .map(|h| format!("; the console printed `{h}`"))
                .unwrap_or_default()
        ),
        backend: if probe.is_some() {
            RigBackend::ProbeRs
        } else {
            RigBackend::Serial
        },
        chip: if probe.is_some() {
            "CHIP (see `probe-rs chip list`)".into()
        } else {
            String::new()
        },
        qemu: None,
        probe: probe.map(|p| ProbeSection {
            selector: p.selector(),
            protocol: Some("swd".into()),
            speed_khz: None,
            rtt: None,
        }),
        process: None,
        console: ConsoleSection {
            port: Some(
                talking
                    .map(|p| p.path.clone())
                    .unwrap_or_else(|| "/dev/ttyACM0".into()),
            ),
            banner: talking
                .and_then(|p| p.heard.as_ref())
                .map(|h| format!("^{}", regex::escape(h))),
            ..ConsoleSection::default()
        },
        firmware: None,
        power: None,
        capabilities: Default::default(),
        network: NetworkSection::default(),
        timeouts: RigTimeouts::default(),
        device_target: None,
    }
}
