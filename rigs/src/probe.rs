//! A board behind a debug probe: the probe flashes and resets it and reads its RTT
//! log; its UART (the rig file's `console.port`) is the console and the SLIP link.

use std::path::Path;

use hilt_core::rig::RigFile;
use hilt_net::serial::DeviceLine;

use crate::Rig;
use crate::error::{RigError, RigErrorKind, Stage};

/// What a debug probe does for a rig (the driver over the probe-rs library is to come);
/// [`crate::FakeProbe`] stands in for tests and dry runs. Calls block.
pub trait Probe: Send + std::fmt::Debug {
    /// Writes the ELF's loadable sections to flash and verifies them; the core is left
    /// halted at reset.
    fn flash_elf(&mut self, elf: &Path) -> Result<(), RigErrorKind>;
    /// Resets the core and lets it run.
    fn reset_run(&mut self) -> Result<(), RigErrorKind>;
    /// Resets the core and holds it halted.
    fn reset_halt(&mut self) -> Result<(), RigErrorKind>;
    /// Text read from the RTT up-channels since the last call (defmt frames decoded).
    fn read_rtt(&mut self) -> Result<Vec<String>, RigErrorKind>;
}

#[derive(Debug)]
pub struct ProbeRig<P: Probe> {
    file: RigFile,
    probe: P,
}

impl<P: Probe> ProbeRig<P> {
    pub fn new(file: RigFile, probe: P) -> Self {
        ProbeRig { file, probe }
    }

    pub fn probe(&mut self) -> &mut P {
        &mut self.probe
    }

    fn err(&self, stage: Stage, kind: RigErrorKind) -> RigError {
        RigError::new(&self.file.name, stage, kind)
    }
}

impl<P: Probe> Rig for ProbeRig<P> {
    fn file(&self) -> &RigFile {
        &self.file
    }

    fn load(&mut self, elf: &Path) -> Result<(), RigError> {
        if !elf.is_file() {
            return Err(self.err(
                Stage::Flash,
                RigErrorKind::FlashFailed(format!("no firmware at {}", elf.display())),
            ));
        }
        self.probe
            .flash_elf(elf)
            .map_err(|k| self.err(Stage::Flash, k))
    }

    fn open_line(&mut self) -> Result<DeviceLine, RigError> {
        self.probe
            .reset_halt()
            .map_err(|k| self.err(Stage::Flash, k))?;
        let Some(port) = self.file.console.port.clone() else {
            return Err(self.err(
                Stage::Console,
                RigErrorKind::Unsupported("the rig file names no console.port".into()),
            ));
        };
        DeviceLine::open(&port, self.file.console.baud).map_err(|e| {
            self.err(
                Stage::Console,
                RigErrorKind::Port {
                    port,
                    reason: e.to_string(),
                },
            )
        })
    }

    fn run(&mut self) -> Result<(), RigError> {
        self.probe.reset_run().map_err(|k| self.err(Stage::Boot, k))
    }

    fn reset(&mut self) -> Result<(), RigError> {
        self.probe
            .reset_run()
            .map_err(|k| self.err(Stage::Reset, k))
    }

    fn stop(&mut self) {
        // Leave the board halted: a lab board keeps running nothing between runs.
        if let Err(e) = self.probe.reset_halt() {
            tracing::warn!(rig = %self.file.name, "could not halt the core: {e}");
        }
    }
}
