//! Where devices live: rig backends behind one [`Rig`] trait.
//!
//! A rig file (`targets/rigs/*.yaml`, schema in [`hilt_core::rig`]) names a backend:
//! - `qemu` ([`QemuRig`]): qemu-system-arm with the firmware ELF as its kernel, started
//!   paused so no boot output is lost, its UART on a pty;
//! - `probe-rs` ([`ProbeRig`]): a board behind a debug probe ([`Probe`]: flash, reset,
//!   RTT) with its UART as the console; [`FakeProbe`] stands in for tests (the driver
//!   over the probe-rs library is not written yet: such rigs report themselves unusable);
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
mod process;
mod qemu;
mod serial;

use std::path::Path;

use hilt_core::rig::{RigBackend, RigFile};
pub use hilt_net::serial::DeviceLine;

pub use boot::{BootReport, boot, build_firmware};
pub use discover::{Discovery, PortFound, ProbeFound, discover, starter_rig};
pub use error::{RigError, RigErrorKind, Stage};
pub use fake::{FakeProbe, FakeProbeState};
pub use health::{Health, check};
pub use probe::{Probe, ProbeRig};
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
}

/// The backend a rig file names, with the real probe driver when built in.
pub fn open(file: &RigFile, root: &Path) -> Result<Box<dyn Rig>, RigError> {
    Ok(match file.backend {
        RigBackend::Qemu => Box::new(QemuRig::new(file.clone())),
        RigBackend::Serial => Box::new(SerialRig::new(file.clone(), root)),
        RigBackend::Process => Box::new(ProcessRig::new(file.clone(), root)),
        RigBackend::ProbeRs => open_probe(file)?,
    })
}

fn open_probe(file: &RigFile) -> Result<Box<dyn Rig>, RigError> {
    Err(RigError::new(
        &file.name,
        Stage::Flash,
        RigErrorKind::Unsupported(
            "hilt has no probe-rs driver yet: flash the board by other means and use backend `serial`"
                .into(),
        ),
    ))
}

#[cfg(test)]
mod tests;
