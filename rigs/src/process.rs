//! A host program standing in for a device. Its console is a pty: hilt keeps the
//! master end as the line (the same [`DeviceLine`] code as a UART) and gives the
//! program the other end's path as `{console}` in its arguments. Reset restarts it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hilt_core::rig::RigFile;
use hilt_net::serial::DeviceLine;
use serialport::{SerialPort, TTYPort};

use crate::Rig;
use crate::error::{RigError, RigErrorKind, Stage};

#[derive(Debug)]
pub struct ProcessRig {
    file: RigFile,
    root: PathBuf,
    /// The device's end of the pty, held open so the line survives restarts.
    device_end: Option<TTYPort>,
    child: Option<Child>,
}

impl ProcessRig {
    pub fn new(file: RigFile, root: &Path) -> Self {
        ProcessRig {
            file,
            root: root.to_owned(),
            device_end: None,
            child: None,
        }
    }

    fn err(&self, stage: Stage, kind: RigErrorKind) -> RigError {
        RigError::new(&self.file.name, stage, kind)
    }

    fn spawn(&mut self, stage: Stage) -> Result<(), RigError> {
        self.kill();
        let console = self
            .device_end
            .as_ref()
            .and_then(|p| p.name())
            .ok_or_else(|| self.err(stage, RigErrorKind::Other("no console pty".into())))?;
        let Some(p) = self.file.process.clone() else {
            return Err(self.err(
                stage,
                RigErrorKind::Unsupported("no `process:` section".into()),
            ));
        };
        let root = self.root.display().to_string();
        let fill = |s: &str| s.replace("{console}", &console).replace("{root}", &root);
        let program = fill(&p.program);
        let child = Command::new(&program)
            .args(p.args.iter().map(|a| fill(a)))
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| {
                self.err(
                    stage,
                    RigErrorKind::Command {
                        command: program.clone(),
                        reason: e.to_string(),
                    },
                )
            })?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Rig for ProcessRig {
    fn file(&self) -> &RigFile {
        &self.file
    }

    fn load(&mut self, _elf: &Path) -> Result<(), RigError> {
        // The program is the firmware.
        Ok(())
    }

    fn open_line(&mut self) -> Result<DeviceLine, RigError> {
        self.kill();
        let (master, device_end) = TTYPort::pair().map_err(|e| {
            self.err(
                Stage::Console,
                RigErrorKind::Port {
                    port: "a new pty".into(),
                    reason: e.to_string(),
                },
            )
        })?;
        let name = device_end.name().unwrap_or_default();
        self.device_end = Some(device_end);
        DeviceLine::from_port(&format!("pty master of {name}"), master).map_err(|e| {
            self.err(
                Stage::Console,
                RigErrorKind::Port {
                    port: name,
                    reason: e.to_string(),
                },
            )
        })
    }

    fn run(&mut self) -> Result<(), RigError> {
        self.spawn(Stage::Boot)
    }

    fn reset(&mut self) -> Result<(), RigError> {
        self.spawn(Stage::Reset)
    }

    fn stop(&mut self) {
        self.kill();
        self.device_end = None;
    }
}

impl Drop for ProcessRig {
    fn drop(&mut self) {
        self.kill();
    }
}
