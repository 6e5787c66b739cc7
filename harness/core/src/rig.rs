//! The schema of rig files (`targets/rigs/*.yaml`): where a device lives, as data.
//!
//! A rig file is a hardware map entry: which backend reaches the device (an emulated
//! MCU under QEMU, a board behind a debug probe, a board on a serial line only, a host
//! process standing in for a device), the chip, the probe and console port that belong
//! to it, the firmware to put on it and how to build it, how to power-cycle it, what the
//! fixture can do, how the device is attached to the network, and the time each stage
//! may take. The same plan runs against a real board by naming another rig file.
//!
//! Paths (`firmware.elf`, `firmware.build`) are relative to the project folder.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::capability::CapabilitySet;
use crate::datafile::{DataFileError, read_yaml};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub backend: RigBackend,
    /// The MCU, as probe-rs names it (`LM3S6965`, `nRF52840_xxAA`).
    #[serde(default)]
    pub chip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu: Option<QemuSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSection>,
    /// The device's UART; QEMU's is a pty hilt opens itself.
    #[serde(default)]
    pub console: ConsoleSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<FirmwareSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerSection>,
    /// Fixtures and what the device can do (`coap.observe`, `rig.reset`, …); they join
    /// the device target's capabilities.
    #[serde(default)]
    pub capabilities: CapabilitySet,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub timeouts: RigTimeouts,
    /// The target file (under `targets/devices/`) describing what the device serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RigBackend {
    /// An emulated MCU: qemu-system-arm with the firmware ELF as its kernel.
    Qemu,
    /// A board behind a debug probe (flash, reset, RTT) with its UART for the console.
    ProbeRs,
    /// A board reached only through its serial console (flashed by other means).
    Serial,
    /// A host program standing in for a device; its stdin/stdout are the console.
    Process,
}

impl RigBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            RigBackend::Qemu => "qemu",
            RigBackend::ProbeRs => "probe-rs",
            RigBackend::Serial => "serial",
            RigBackend::Process => "process",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QemuSection {
    /// `-M` machine: `lm3s6965evb`, `mps2-an385`.
    pub machine: String,
    #[serde(default = "default_qemu_program")]
    pub program: String,
    /// Extra arguments after hilt's own.
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSection {
    /// probe-rs's selector: `VID:PID` or `VID:PID:SERIAL` (hex ids). Empty: the only
    /// probe attached, and an error when there are several.
    #[serde(default)]
    pub selector: String,
    /// `swd` or `jtag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_khz: Option<u32>,
    /// Read the device's log over RTT: `plain` text channels or `defmt` frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt: Option<RttFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RttFormat {
    Plain,
    Defmt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSection {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSection {
    /// A device path (`/dev/ttyACM0`, `/dev/serial/by-id/…`); QEMU rigs leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// A regex the first boot line matches: the infrastructure's proof that the
    /// device runs (not a test: a rig without it is unusable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// A line the device prints once its shell takes commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
}

impl Default for ConsoleSection {
    fn default() -> Self {
        ConsoleSection {
            port: None,
            baud: default_baud(),
            banner: None,
            ready: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareSection {
    /// The ELF to load.
    pub elf: String,
    /// A command that builds it (program then arguments), run from the project folder
    /// before every flash; idempotent and quick when nothing changed.
    #[serde(default)]
    pub build: Vec<String>,
}

/// How to power-cycle the board when a reset is not enough.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerSection {
    /// Commands (program then arguments) switching power off and on.
    #[serde(default)]
    pub off: Vec<String>,
    #[serde(default)]
    pub on: Vec<String>,
    /// Cycle the probe's USB port instead (hubs with per-port power switching).
    #[serde(default)]
    pub probe_usb: bool,
}

/// How the device reaches the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    pub attachment: Attachment,
    /// The /64 hilt's RPL root announces (its DODAGID is prefix::1).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The device's interface identifier, as in its address (`::ff:fe00:1`).
    #[serde(default = "default_device_iid")]
    pub device_iid: String,
    /// A host interface the device is on, for `attachment: interface`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

impl Default for NetworkSection {
    fn default() -> Self {
        NetworkSection {
            attachment: Attachment::None,
            prefix: default_prefix(),
            device_iid: default_device_iid(),
            interface: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attachment {
    /// Console only.
    None,
    /// IPv6 in SLIP frames on the console UART, bridged by hilt to a TUN interface.
    Slip,
    /// The device is on a host interface (Ethernet, a border router of its own).
    Interface,
}

/// Layered timeouts: each stage has its own, so a slow flash is not blamed on a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigTimeouts {
    /// Building the firmware.
    #[serde(default = "default_build_s")]
    pub build_s: u64,
    /// Loading the firmware (flash or QEMU start).
    #[serde(default = "default_flash_s")]
    pub flash_s: u64,
    /// From reset to the boot banner.
    #[serde(default = "default_boot_s")]
    pub boot_s: u64,
    /// From boot to the device joined to hilt's DODAG.
    #[serde(default = "default_join_s")]
    pub join_s: u64,
    /// Attempts of each stage after the first failed one (counted in the output).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

impl Default for RigTimeouts {
    fn default() -> Self {
        RigTimeouts {
            build_s: default_build_s(),
            flash_s: default_flash_s(),
            boot_s: default_boot_s(),
            join_s: default_join_s(),
            retries: default_retries(),
        }
    }
}

fn default_qemu_program() -> String {
    "qemu-system-arm".into()
}
fn default_baud() -> u32 {
    115_200
}
fn default_prefix() -> String {
    "2001:db8::".into()
}
fn default_device_iid() -> String {
    "::ff:fe00:1".into()
}
fn default_build_s() -> u64 {
    120
}
fn default_flash_s() -> u64 {
    60
}
fn default_boot_s() -> u64 {
    10
}
fn default_join_s() -> u64 {
    30
}
fn default_retries() -> u32 {
    1
}

impl RigFile {
    /// Reads and checks a rig file: the section its backend needs is present, the
    /// banner regex is a valid one, addresses parse.
    pub fn load(path: &Path) -> Result<Self, DataFileError> {
        let rig: RigFile = read_yaml(path)?;
        rig.check().map_err(|message| DataFileError {
            path: path.to_owned(),
            line: None,
            message,
        })?;
        Ok(rig)
    }

    /// What is inconsistent in the file, if anything.
    pub fn check(&self) -> Result<(), String> {
        let need = |present: bool, section: &str| {
            if present {
                Ok(())
            } else {
                Err(format!(
                    "backend `{}` needs a `{section}:` section",
                    self.backend.as_str()
                ))
            }
        };
        match self.backend {
            RigBackend::Qemu => need(self.qemu.is_some(), "qemu")?,
            RigBackend::ProbeRs => need(self.probe.is_some(), "probe")?,
            RigBackend::Serial => need(self.console.port.is_some(), "console.port")?,
            RigBackend::Process => need(self.process.is_some(), "process")?,
        }
        if self.backend == RigBackend::ProbeRs && self.chip.is_empty() {
            return Err("backend `probe-rs` needs `chip:` (probe-rs's name for it)".into());
        }
        if self.network.attachment == Attachment::Interface && self.network.interface.is_none() {
            return Err("`network.attachment: interface` needs `network.interface`".into());
        }
        self.network
            .prefix
            .parse::<std::net::Ipv6Addr>()
            .map_err(|e| format!("network.prefix `{}`: {e}", self.network.prefix))?;
        self.network
            .device_iid
            .parse::<std::net::Ipv6Addr>()
            .map_err(|e| format!("network.device_iid `{}`: {e}", self.network.device_iid))?;
        Ok(())
    }

    /// The address the device configures from the root's prefix: prefix::iid.
    pub fn device_address(&self) -> Option<std::net::Ipv6Addr> {
        let p: std::net::Ipv6Addr = self.network.prefix.parse().ok()?;
        let i: std::net::Ipv6Addr = self.network.device_iid.parse().ok()?;
        let (p, i) = (p.to_bits(), i.to_bits());
        Some(std::net::Ipv6Addr::from_bits(
            (p & !u128::from(u64::MAX)) | (i & u128::from(u64::MAX)),
        ))
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::datafile::parse_yaml;

    fn parse(text: &str) -> Result<RigFile, String> {
        let rig: RigFile = parse_yaml(Path::new("r.yaml"), text).map_err(|e| e.to_string())?;
        rig.check()?;
        Ok(rig)
    }

    #[test]
    fn qemu_rig_with_slip() {
        let rig = parse(
            "name: q\nbackend: qemu\nqemu: {machine: lm3s6965evb}\n\
             network: {attachment: slip}\ntimeouts: {boot_s: 5}\n",
        )
        .unwrap();
        assert_eq!(rig.qemu.unwrap().program, "qemu-system-arm");
        assert_eq!(rig.timeouts.boot_s, 5);
        assert_eq!(rig.timeouts.flash_s, 60);
        assert_eq!(rig.network.attachment, Attachment::Slip);
    }

    #[test]
    fn device_address_joins_prefix_and_iid() {
        let rig = parse("name: q\nbackend: qemu\nqemu: {machine: m}\n").unwrap();
        assert_eq!(
            rig.device_address().unwrap(),
            "2001:db8::ff:fe00:1".parse::<std::net::Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn a_backend_without_its_section_is_refused() {
        let e = parse("name: b\nbackend: probe-rs\nchip: nRF52840_xxAA\n").unwrap_err();
        assert!(e.contains("needs a `probe:`"), "{e}");
        let e = parse("name: b\nbackend: serial\n").unwrap_err();
        assert!(e.contains("console.port"), "{e}");
        let e = parse("name: b\nbackend: probe-rs\nprobe: {}\n").unwrap_err();
        assert!(e.contains("chip"), "{e}");
        let e = parse("name: b\nbackend: teleport\n").unwrap_err();
        assert!(e.contains("unknown variant"), "{e}");
    }
}
