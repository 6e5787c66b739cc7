//! A board behind a debug probe: the probe flashes and resets it and reads its RTT
//! log; its UART (the rig file's `console.port`) is the console and the SLIP link.
//!
//! [`ProbeRig`] holds the stages (attach, flash within `timeouts.flash_s`, reset,
//! power cycle) over any [`Probe`]: the driver over the probe-rs library
//! (`crate::ProbeRsProbe`, feature `probe-rs`) on a lab machine, [`crate::FakeProbe`]
//! in tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use hilt_core::rig::RigFile;
use hilt_net::serial::DeviceLine;

use crate::Rig;
use crate::error::{RigError, RigErrorKind, Stage};
use crate::serial::run_command;

/// One step of a flash, as the probe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashStep {
    /// `erase`, `program`, `verify` or `fill`.
    pub operation: &'static str,
    /// Bytes done so far in this operation.
    pub done: u64,
    /// Bytes the operation covers, when known.
    pub total: Option<u64>,
    /// The operation has ended.
    pub finished: bool,
}

/// Where flash progress goes; by default, `tracing` at info level.
pub type ProgressFn = Arc<dyn Fn(&FlashStep) + Send + Sync>;

/// What a debug probe does for a rig. Calls block (a flash takes seconds).
pub trait Probe: Send + std::fmt::Debug + 'static {
    /// Opens the probe the rig file selects and attaches to its chip. An error when no
    /// probe or several match the selector, or the chip does not answer.
    fn attach(&mut self) -> Result<(), RigErrorKind>;
    /// Lets the probe go (before a power cycle, and when the rig stops).
    fn detach(&mut self);
    /// Writes the ELF's loadable sections to flash and verifies them; the core is left
    /// halted at reset.
    fn flash_elf(&mut self, elf: &Path, progress: &dyn Fn(&FlashStep)) -> Result<(), RigErrorKind>;
    /// Resets the core and lets it run.
    fn reset_run(&mut self) -> Result<(), RigErrorKind>;
    /// Resets the core and holds it halted.
    fn reset_halt(&mut self) -> Result<(), RigErrorKind>;
    /// Lines read from the RTT up-channels since the last call.
    fn read_rtt(&mut self) -> Result<Vec<String>, RigErrorKind>;
}

#[derive(Debug)]
enum Held<P> {
    Here(P),
    /// Taken by a flash that outlived `flash_s`: the probe is in an unknown state
    /// until that thread ends; nothing else may use it.
    Lost,
}

pub struct ProbeRig<P: Probe> {
    file: RigFile,
    root: PathBuf,
    probe: Held<P>,
    attached: bool,
    progress: ProgressFn,
    /// Power cycles done, for the boot report and tests.
    pub power_cycles: u32,
}

impl<P: Probe> std::fmt::Debug for ProbeRig<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeRig")
            .field("rig", &self.file.name)
            .field("probe", &self.probe)
            .field("attached", &self.attached)
            .finish()
    }
}

impl<P: Probe> ProbeRig<P> {
    pub fn new(file: RigFile, probe: P) -> Self {
        ProbeRig {
            file,
            root: PathBuf::from("."),
            probe: Held::Here(probe),
            attached: false,
            progress: Arc::new(log_progress),
            power_cycles: 0,
        }
    }

    /// The folder power commands run from (the project root).
    pub fn root(mut self, root: &Path) -> Self {
        root.clone_into(&mut self.root);
        self
    }

    /// Sends flash progress to `f` instead of the log.
    pub fn on_progress(mut self, f: impl Fn(&FlashStep) + Send + Sync + 'static) -> Self {
        self.progress = Arc::new(f);
        self
    }

    /// The probe, unless a timed-out flash still holds it.
    pub fn probe(&mut self) -> Option<&mut P> {
        match &mut self.probe {
            Held::Here(p) => Some(p),
            Held::Lost => None,
        }
    }

    /// Lines the firmware wrote to RTT since the last call.
    pub fn rtt(&mut self) -> Result<Vec<String>, RigError> {
        self.with_probe(Stage::Boot, |p| p.read_rtt())
    }

    fn err(&self, stage: Stage, kind: RigErrorKind) -> RigError {
        RigError::new(&self.file.name, stage, kind)
    }

    fn with_probe<T>(
        &mut self,
        stage: Stage,
        f: impl FnOnce(&mut P) -> Result<T, RigErrorKind>,
    ) -> Result<T, RigError> {
        let r = match &mut self.probe {
            Held::Here(p) => f(p),
            Held::Lost => Err(RigErrorKind::Other(
                "the debug probe is still busy with a flash that timed out: unplug it or restart hilt"
                    .into(),
            )),
        };
        r.map_err(|k| self.err(stage, k))
    }

    fn ensure_attached(&mut self, stage: Stage) -> Result<(), RigError> {
        if !self.attached {
            self.with_probe(stage, |p| p.attach())?;
            self.attached = true;
        }
        Ok(())
    }

    /// Power-cycles the board as the rig file says: the probe is let go, `power.off`
    /// and `power.on` run, and the probe attaches again.
    fn power_cycle(&mut self, stage: Stage) -> Result<(), RigError> {
        let Some(power) = self.file.power.clone() else {
            return Ok(());
        };
        if power.probe_usb {
            return Err(self.err(
                stage,
                RigErrorKind::Unsupported(
                    "power.probe_usb: probe-rs cannot switch a USB port's power; give power.off and power.on commands (e.g. uhubctl)"
                        .into(),
                ),
            ));
        }
        if power.off.is_empty() && power.on.is_empty() {
            return Ok(());
        }
        if let Held::Here(p) = &mut self.probe {
            p.detach();
        }
        self.attached = false;
        for cmd in [&power.off, &power.on] {
            run_command(cmd, &self.root).map_err(|k| self.err(stage, k))?;
        }
        self.power_cycles += 1;
        self.ensure_attached(stage)
    }
}

fn log_progress(step: &FlashStep) {
    if step.finished {
        tracing::info!(
            operation = step.operation,
            bytes = step.done,
            "flash step done"
        );
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
        self.ensure_attached(Stage::Flash)?;
        let Held::Here(mut probe) = std::mem::replace(&mut self.probe, Held::Lost) else {
            return self.with_probe(Stage::Flash, |_| Ok(()));
        };
        // The flash runs on its own thread so `flash_s` bounds it: a probe-rs call
        // cannot be interrupted, but hilt need not wait for a wedged probe.
        let limit = Duration::from_secs(self.file.timeouts.flash_s);
        let (tx, rx) = mpsc::channel();
        let progress = Arc::clone(&self.progress);
        let elf = elf.to_owned();
        std::thread::spawn(move || {
            let r = probe.flash_elf(&elf, &*progress);
            let _ = tx.send((probe, r));
        });
        match rx.recv_timeout(limit) {
            Ok((probe, r)) => {
                self.probe = Held::Here(probe);
                if r.is_err() {
                    // A failed flash may leave the probe's session unusable: attach
                    // afresh on the next try.
                    if let Held::Here(p) = &mut self.probe {
                        p.detach();
                    }
                    self.attached = false;
                }
                r.map_err(|k| self.err(Stage::Flash, k))
            }
            Err(_) => Err(self.err(Stage::Flash, RigErrorKind::Timeout(limit))),
        }
    }

    fn open_line(&mut self) -> Result<DeviceLine, RigError> {
        self.ensure_attached(Stage::Flash)?;
        self.with_probe(Stage::Flash, |p| p.reset_halt())?;
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
        self.ensure_attached(Stage::Boot)?;
        self.with_probe(Stage::Boot, |p| p.reset_run())
    }

    fn reset(&mut self) -> Result<(), RigError> {
        // A rig that names power control is reset the hard way: a board whose
        // firmware wedged its debug port still comes back.
        self.power_cycle(Stage::Reset)?;
        self.ensure_attached(Stage::Reset)?;
        self.with_probe(Stage::Reset, |p| p.reset_run())
    }

    fn on_flash_progress(&mut self, f: ProgressFn) {
        self.progress = f;
    }

    fn stop(&mut self) {
        // Leave the board halted: a lab board keeps running nothing between runs.
        if self.attached
            && let Held::Here(p) = &mut self.probe
        {
            if let Err(e) = p.reset_halt() {
                tracing::warn!(rig = %self.file.name, "could not halt the core: {e}");
            }
            p.detach();
        }
        self.attached = false;
    }
}
