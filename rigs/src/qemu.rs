//! The QEMU backend: an emulated Cortex-M board running the firmware ELF as its kernel.
//!
//! QEMU starts paused (`-S`), its UART on a pty (`-serial pty`) and its monitor on
//! stdin/stdout. hilt reads the pty's path from QEMU's "char device redirected to …"
//! line, opens it through [`DeviceLine`] like any UART, and only then resumes the CPU
//! (`cont`): with `-serial pty` the boot output written before anyone opened the pty
//! would be lost. Reset is the monitor's `system_reset` (the pty stays); loading another
//! ELF restarts QEMU.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hilt_core::rig::RigFile;
use hilt_net::serial::DeviceLine;

use crate::Rig;
use crate::error::{RigError, RigErrorKind, Stage};

/// What QEMU prints once the pty exists.
const PTY_LINE: &str = "char device redirected to ";

#[derive(Debug)]
pub struct QemuRig {
    file: RigFile,
    kernel: Option<PathBuf>,
    child: Option<Child>,
    monitor: Option<ChildStdin>,
}

impl QemuRig {
    pub fn new(file: RigFile) -> Self {
        QemuRig {
            file,
            kernel: None,
            child: None,
            monitor: None,
        }
    }

    fn err(&self, stage: Stage, kind: RigErrorKind) -> RigError {
        RigError::new(&self.file.name, stage, kind)
    }

    /// The command line for `kernel`, paused, UART on a pty, monitor on stdio.
    pub fn command(&self, kernel: &Path) -> Command {
        let q = self
            .file
            .qemu
            .clone()
            .unwrap_or_else(|| hilt_core::rig::QemuSection {
                machine: "lm3s6965evb".into(),
                program: "qemu-system-arm".into(),
                args: Vec::new(),
            });
        let mut c = Command::new(&q.program);
        c.args(["-M", &q.machine, "-display", "none", "-S", "-serial", "pty"])
            .args(["-monitor", "stdio", "-kernel"])
            .arg(kernel)
            .args(&q.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn monitor(&mut self, command: &str, stage: Stage) -> Result<(), RigError> {
        let Some(m) = self.monitor.as_mut() else {
            return Err(self.err(stage, RigErrorKind::Other("QEMU is not running".into())));
        };
        let sent = m
            .write_all(format!("{command}\n").as_bytes())
            .and_then(|()| m.flush());
        sent.map_err(|e| {
            self.err(
                stage,
                RigErrorKind::Command {
                    command: format!("monitor {command}"),
                    reason: e.to_string(),
                },
            )
        })
    }
}

impl Rig for QemuRig {
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
        // A new kernel needs a new QEMU.
        self.stop();
        self.kernel = Some(elf.to_owned());
        Ok(())
    }

    fn open_line(&mut self) -> Result<DeviceLine, RigError> {
        self.stop();
        let Some(kernel) = self.kernel.clone() else {
            return Err(self.err(
                Stage::Flash,
                RigErrorKind::Other("no firmware loaded".into()),
            ));
        };
        let mut cmd = self.command(&kernel);
        let program = format!("{:?}", cmd.get_program());
        let mut child = cmd.spawn().map_err(|e| {
            self.err(
                Stage::Flash,
                RigErrorKind::Command {
                    command: program.clone(),
                    reason: e.to_string(),
                },
            )
        })?;
        self.monitor = child.stdin.take();
        // QEMU's output: the pty line comes on one of the two; both are drained for
        // good (a monitor whose output nobody reads would block QEMU).
        let (tx, rx) = mpsc::channel::<String>();
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            let name = self.file.name.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    tracing::debug!(rig = %name, "qemu: {line}");
                    let _ = tx.send(line);
                }
            });
        }
        self.child = Some(child);
        let limit = Duration::from_secs(self.file.timeouts.flash_s);
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        let pty = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split(PTY_LINE).nth(1) {
                        break rest
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.stop();
                    return Err(self.err(Stage::Flash, RigErrorKind::Timeout(limit)));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.as_mut().and_then(|c| c.wait().ok());
                    self.stop();
                    return Err(self.err(
                        Stage::Flash,
                        RigErrorKind::Command {
                            command: program,
                            reason: format!(
                                "exited ({}) before opening its pty: {}",
                                status.map(|s| s.to_string()).unwrap_or_default(),
                                seen.join(" / ")
                            ),
                        },
                    ));
                }
            }
        };
        DeviceLine::open(&pty, self.file.console.baud).map_err(|e| {
            self.err(
                Stage::Console,
                RigErrorKind::Port {
                    port: pty.clone(),
                    reason: e.to_string(),
                },
            )
        })
    }

    fn run(&mut self) -> Result<(), RigError> {
        self.monitor("cont", Stage::Boot)
    }

    fn reset(&mut self) -> Result<(), RigError> {
        self.monitor("system_reset", Stage::Reset)
    }

    fn stop(&mut self) {
        let _ = self.monitor("quit", Stage::Reset);
        self.monitor = None;
        if let Some(mut child) = self.child.take() {
            // `quit` ends it within milliseconds; a hung QEMU is killed.
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for QemuRig {
    fn drop(&mut self) {
        self.stop();
    }
}
