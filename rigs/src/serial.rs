//! A board reached by its UART alone: flashed by other means, reset by a power cycle
//! when the rig file says how, else by nothing hilt controls.

use std::path::{Path, PathBuf};

use hilt_core::rig::RigFile;
use hilt_net::serial::DeviceLine;

use crate::Rig;
use crate::error::{RigError, RigErrorKind, Stage};

#[derive(Debug)]
pub struct SerialRig {
    file: RigFile,
    root: PathBuf,
}

impl SerialRig {
    pub fn new(file: RigFile, root: &Path) -> Self {
        SerialRig {
            file,
            root: root.to_owned(),
        }
    }

    fn power_cycle(&self, stage: Stage) -> Result<(), RigError> {
        let Some(power) = &self.file.power else {
            return Ok(());
        };
        for cmd in [&power.off, &power.on] {
            run_command(cmd, &self.root)
                .map_err(|kind| RigError::new(&self.file.name, stage, kind))?;
        }
        Ok(())
    }
}

/// Runs a power command (program then arguments) to completion.
pub(crate) fn run_command(cmd: &[String], root: &Path) -> Result<(), RigErrorKind> {
    let Some((program, args)) = cmd.split_first() else {
        return Ok(());
    };
    let status = std::process::Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| RigErrorKind::Command {
            command: cmd.join(" "),
            reason: e.to_string(),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(RigErrorKind::Command {
            command: cmd.join(" "),
            reason: status.to_string(),
        })
    }
}

impl Rig for SerialRig {
    fn file(&self) -> &RigFile {
        &self.file
    }

    fn load(&mut self, _elf: &Path) -> Result<(), RigError> {
        Err(RigError::new(
            &self.file.name,
            Stage::Flash,
            RigErrorKind::Unsupported(
                "a serial rig cannot flash: use backend probe-rs, or flash by other means and leave `firmware:` out".into(),
            ),
        ))
    }

    fn open_line(&mut self) -> Result<DeviceLine, RigError> {
        let port = self.file.console.port.clone().unwrap_or_default();
        DeviceLine::open(&port, self.file.console.baud).map_err(|e| {
            RigError::new(
                &self.file.name,
                Stage::Console,
                RigErrorKind::Port {
                    port,
                    reason: e.to_string(),
                },
            )
        })
    }

    fn run(&mut self) -> Result<(), RigError> {
        self.power_cycle(Stage::Boot)
    }

    fn reset(&mut self) -> Result<(), RigError> {
        self.power_cycle(Stage::Reset)
    }

    fn stop(&mut self) {}
}
