//! A debug probe in memory, for tests and dry runs: it records what it was asked to
//! do, fails when told to, and can act out the board's side on reset (print a banner
//! on a pty standing in for the UART).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::RigErrorKind;
use crate::probe::{FlashStep, Probe};

/// What the fake probe saw, shared with the test that drives it.
#[derive(Debug, Default)]
pub struct FakeProbeState {
    /// The selector the rig file gave (shown in errors, as the real driver does).
    pub selector: String,
    /// No probe is plugged in: attaching fails as the real driver's would.
    pub unplugged: bool,
    pub attaches: u32,
    pub detaches: u32,
    pub flashed: Vec<PathBuf>,
    pub resets: u32,
    pub halted: bool,
    /// Make the next flash fail with this message.
    pub fail_flash: Option<String>,
    /// How long a flash takes (a wedged probe: longer than `flash_s`).
    pub flash_time: Duration,
    /// Lines the "firmware" writes to RTT.
    pub rtt: Vec<String>,
}

type OnReset = Box<dyn FnMut() + Send>;

pub struct FakeProbe {
    pub state: Arc<Mutex<FakeProbeState>>,
    on_reset: Option<OnReset>,
}

impl std::fmt::Debug for FakeProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProbe")
            .field("state", &self.state)
            .finish()
    }
}

impl Default for FakeProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeProbe {
    pub fn new() -> Self {
        FakeProbe {
            state: Arc::default(),
            on_reset: None,
        }
    }

    /// Runs `f` each time the core is let run from reset (the board booting).
    pub fn on_reset(mut self, f: impl FnMut() + Send + 'static) -> Self {
        self.on_reset = Some(Box::new(f));
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeProbeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Probe for FakeProbe {
    fn attach(&mut self) -> Result<(), RigErrorKind> {
        let mut s = self.state();
        if s.unplugged {
            return Err(RigErrorKind::ProbeMissing {
                selector: s.selector.clone(),
                found: 0,
            });
        }
        s.attaches += 1;
        Ok(())
    }

    fn detach(&mut self) {
        self.state().detaches += 1;
    }

    fn flash_elf(&mut self, elf: &Path, progress: &dyn Fn(&FlashStep)) -> Result<(), RigErrorKind> {
        let (fail, time) = {
            let mut s = self.state();
            (s.fail_flash.take(), s.flash_time)
        };
        if let Some(why) = fail {
            return Err(RigErrorKind::FlashFailed(why));
        }
        // A real flash loader refuses what is not an ELF; so does the fake.
        let image = std::fs::read(elf)
            .map_err(|e| RigErrorKind::FlashFailed(format!("{}: {e}", elf.display())))?;
        if !image.starts_with(b"\x7fELF") {
            return Err(RigErrorKind::FlashFailed(format!(
                "{} is not an ELF file",
                elf.display()
            )));
        }
        let total = image.len() as u64;
        for operation in ["erase", "program", "verify"] {
            progress(&FlashStep {
                operation,
                done: 0,
                total: Some(total),
                finished: false,
            });
            std::thread::sleep(time / 3);
            progress(&FlashStep {
                operation,
                done: total,
                total: Some(total),
                finished: true,
            });
        }
        let mut s = self.state();
        s.flashed.push(elf.to_owned());
        s.halted = true;
        Ok(())
    }

    fn reset_run(&mut self) -> Result<(), RigErrorKind> {
        {
            let mut s = self.state();
            s.resets += 1;
            s.halted = false;
        }
        if let Some(f) = self.on_reset.as_mut() {
            f();
        }
        Ok(())
    }

    fn reset_halt(&mut self) -> Result<(), RigErrorKind> {
        self.state().halted = true;
        Ok(())
    }

    fn read_rtt(&mut self) -> Result<Vec<String>, RigErrorKind> {
        Ok(std::mem::take(&mut self.state().rtt))
    }
}
