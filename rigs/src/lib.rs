//! Where devices live: rig backends behind one [`Rig`] trait.
//!
//! A rig file (`targets/rigs/*.yaml`, schema in [`hilt_core::rig`]) names a backend:
//! - `qemu` ([`QemuRig`]): qemu-system-arm with the firmware ELF as its kernel, started
//!   paused so no boot output is lost, its UART on a pty;
//! - `probe-rs` ([`ProbeRig`]): a board behind a debug probe ([`Probe`]: flash, reset,
//!   RTT) with its UART as the console: `ProbeRsProbe` over the probe-rs library
//!   (feature `probe-rs`, off by default: it is large), [`FakeProbe`] in tests;
//! - `serial` ([`SerialRig`]): a board reached by its UART only;
//! - `process` ([`ProcessRig`]): a host program standing in for a device, its console a
//!   pty whose path it is given.
//!
//! Every console, real or emulated, is opened by the same [`DeviceLine`] code, and
//! [`boot`] drives any backend through the same stages with their own timeouts (build,
//! flash, boot banner) and counted retries. A stage that fails is a [`RigError`]: an
//! infrastructure error (probe missing, port gone, flash failed, no banner), never a
//! test verdict. [`check`] says whether a rig is usable, and why not.

mod boot;
mod discover;
mod error;
mod fake;
mod health;
mod probe;
#[cfg(feature = "probe-rs")]
mod probe_driver;
mod process;
mod qemu;
mod serial;

use std::path::Path;

use hilt_core::rig::{RigBackend, RigFile};
pub use hilt_net::serial::DeviceLine;

pub use boot::{BootReport, Build, boot, boot_with, build_firmware, build_firmware_if_stale};
pub use discover::{Discovery, PortFound, ProbeFound, discover, select_probe, starter_rig};
pub use error::{RigError, RigErrorKind, Stage};
pub use fake::{FakeProbe, FakeProbeState};
pub use health::{Health, check};
pub use probe::{FlashStep, Probe, ProbeRig, ProgressFn};
#[cfg(feature = "probe-rs")]
pub use probe_driver::ProbeRsProbe;
pub use process::ProcessRig;
pub use qemu::QemuRig;
pub use serial::SerialRig;

/// One device and the means to load, start, reset and talk to it.
///
/// Calls block (a flash takes seconds): async callers run them on a blocking thread.
pub trait Rig: Send + std::fmt::Debug {
    fn file(&self) -> &RigFile;

    /// Puts `elf` on the device: flashes it, or keeps it as the emulator's kernel.
    fn load(&mut self, elf: &Path) -> Result<(), RigError>;

    /// Opens the console line with the device held (QEMU paused, a probe's core
    /// halted), so nothing it prints at boot is lost.
    fn open_line(&mut self) -> Result<DeviceLine, RigError>;

    /// Lets the device run from reset.
    fn run(&mut self) -> Result<(), RigError>;

    /// Resets the device (its console line stays open).
    fn reset(&mut self) -> Result<(), RigError>;

    /// Stops the device and releases what the rig holds (the emulator, the probe).
    fn stop(&mut self);

    /// Sends the progress of flashing to `f` (rigs that flash; others ignore it).
    fn on_flash_progress(&mut self, f: ProgressFn) {
        let _ = f;
    }
}

/// The backend a rig file names, with the real probe driver when built in.
pub fn open(file: &RigFile, root: &Path) -> Result<Box<dyn Rig>, RigError> {
    Ok(match file.backend {
        RigBackend::Qemu => Box::new(QemuRig::new(file.clone())),
        RigBackend::Serial => Box::new(SerialRig::new(file.clone(), root)),
        RigBackend::Process => Box::new(ProcessRig::new(file.clone(), root)),
        RigBackend::ProbeRs => open_probe(file, root)?,
    })
}

/// Why probe-rs rigs cannot run in this build.
#[cfg(not(feature = "probe-rs"))]
pub(crate) const NO_PROBE_RS: &str = "this hilt is built without the probe-rs driver: build it with `cargo build -p hilt-cli --features probe-rs`";

#[cfg(feature = "probe-rs")]
fn open_probe(file: &RigFile, root: &Path) -> Result<Box<dyn Rig>, RigError> {
    Ok(Box::new(
        ProbeRig::new(file.clone(), ProbeRsProbe::new(file)).root(root),
    ))
}

#[cfg(not(feature = "probe-rs"))]
fn open_probe(file: &RigFile, _root: &Path) -> Result<Box<dyn Rig>, RigError> {
    Err(RigError::new(
        &file.name,
        Stage::Flash,
        RigErrorKind::Unsupported(NO_PROBE_RS.into()),
    ))
}

#[cfg(test)]
mod tests;
