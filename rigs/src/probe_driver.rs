//! The debug-probe driver over the probe-rs library: finds the probe the rig file
//! selects, attaches to its chip, flashes an ELF with progress, resets, and reads the
//! firmware's RTT up-channels as text. probe-rs calls block; the rig calls them off the
//! async executor.
//!
//! RTT: `plain` channels are read as text lines. `defmt` frames need the ELF's defmt
//! table and a decoder hilt does not carry: such a rig is refused with that reason
//! (read them with `probe-rs attach`, or print plain text).

use std::path::Path;
use std::time::Duration;

use hilt_core::rig::{RigFile, RttFormat};
use probe_rs::flashing::{
    DownloadOptions, ElfLoader, ElfOptions, FlashProgress, ProgressEvent, ProgressOperation,
    download_file_with_options,
};
use probe_rs::probe::WireProtocol;
use probe_rs::probe::list::{Accessibility, Lister};
use probe_rs::rtt::Rtt;
use probe_rs::{Permissions, Session};

use crate::discover::{ProbeFound, select_probe};
use crate::error::RigErrorKind;
use crate::probe::{FlashStep, Probe};

/// How long a reset may take to halt the core.
const HALT_TIMEOUT: Duration = Duration::from_millis(500);

/// A real debug probe, found by the rig file's selector.
pub struct ProbeRsProbe {
    selector: String,
    chip: String,
    protocol: Option<String>,
    speed_khz: Option<u32>,
    rtt_format: Option<RttFormat>,
    session: Option<Session>,
    /// Where the flashed ELF puts `_SEGGER_RTT`, when it has one.
    rtt_block: Option<u64>,
    rtt: Option<Rtt>,
    /// Bytes of each up-channel after its last newline.
    partial: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ProbeRsProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeRsProbe")
            .field("selector", &self.selector)
            .field("chip", &self.chip)
            .field("attached", &self.session.is_some())
            .finish()
    }
}

impl ProbeRsProbe {
    pub fn new(file: &RigFile) -> Self {
        let probe = file.probe.clone().unwrap_or_default();
        ProbeRsProbe {
            selector: probe.selector,
            chip: file.chip.clone(),
            protocol: probe.protocol,
            speed_khz: probe.speed_khz,
            rtt_format: probe.rtt,
            session: None,
            rtt_block: None,
            rtt: None,
            partial: Vec::new(),
        }
    }

    fn session(&mut self) -> Result<&mut Session, RigErrorKind> {
        self.session
            .as_mut()
            .ok_or_else(|| RigErrorKind::Other("the debug probe is not attached".into()))
    }

    fn probe_error(what: &str, e: impl std::fmt::Display) -> RigErrorKind {
        RigErrorKind::Other(format!("debug probe: {what}: {e}"))
    }
}

/// The debug probes attached, as probe-rs lists them.
pub(crate) fn list_probes() -> Vec<ProbeFound> {
    Lister::new()
        .list_all_with_access()
        .into_iter()
        .map(|item| ProbeFound {
            identifier: item.info.identifier.clone(),
            vendor_id: item.info.vendor_id,
            product_id: item.info.product_id,
            serial: item.info.serial_number.clone(),
            access_denied: item.accessibility == Accessibility::PermissionDenied,
        })
        .collect()
}

/// Whether probe-rs knows `chip` (its built-in target list).
pub(crate) fn chip_known(chip: &str) -> Result<(), String> {
    probe_rs::config::Registry::from_builtin_families()
        .get_target_by_name(chip)
        .map(|_| ())
        .map_err(|e| format!("chip `{chip}`: {e} (see `probe-rs chip list`)"))
}

fn operation_name(op: ProgressOperation) -> &'static str {
    match op {
        ProgressOperation::Fill => "fill",
        ProgressOperation::Erase => "erase",
        ProgressOperation::Program => "program",
        ProgressOperation::Verify => "verify",
    }
}

impl Probe for ProbeRsProbe {
    fn attach(&mut self) -> Result<(), RigErrorKind> {
        self.session = None;
        self.rtt = None;
        let lister = Lister::new();
        let infos = lister.list_all_with_access();
        let found: Vec<ProbeFound> = list_probes();
        let chosen = select_probe(&found, &self.selector)?;
        let Some(info) = infos.into_iter().map(|i| i.info).find(|i| {
            i.vendor_id == chosen.vendor_id
                && i.product_id == chosen.product_id
                && i.serial_number == chosen.serial
        }) else {
            return Err(RigErrorKind::ProbeMissing {
                selector: self.selector.clone(),
                found: found.len(),
            });
        };
        let mut probe = info
            .open()
            .map_err(|e| Self::probe_error(&format!("open {}", chosen.selector()), e))?;
        if let Some(p) = &self.protocol {
            let protocol: WireProtocol = p
                .parse()
                .map_err(|e| Self::probe_error(&format!("protocol `{p}`"), e))?;
            probe
                .select_protocol(protocol)
                .map_err(|e| Self::probe_error(&format!("select {p}"), e))?;
        }
        if let Some(khz) = self.speed_khz {
            probe
                .set_speed(khz)
                .map_err(|e| Self::probe_error(&format!("set speed {khz} kHz"), e))?;
        }
        let session = probe
            .attach(self.chip.as_str(), Permissions::default())
            .map_err(|e| Self::probe_error(&format!("attach to {}", self.chip), e))?;
        self.session = Some(session);
        Ok(())
    }

    fn detach(&mut self) {
        self.rtt = None;
        self.session = None;
    }

    fn flash_elf(&mut self, elf: &Path, progress: &dyn Fn(&FlashStep)) -> Result<(), RigErrorKind> {
        let image = std::fs::read(elf)
            .map_err(|e| RigErrorKind::FlashFailed(format!("{}: {e}", elf.display())))?;
        // Where the firmware's RTT control block lives, so RTT attaches without a
        // RAM scan; absent in firmware without RTT.
        self.rtt_block = probe_rs::rtt::find_rtt_control_block_in_raw_file(&image)
            .ok()
            .flatten();
        self.rtt = None;
        let mut done = [0u64; 4];
        let mut totals = [None; 4];
        let index = |op: ProgressOperation| op as usize;
        let mut options = DownloadOptions::default();
        options.verify = true;
        options.progress = FlashProgress::new(|event| {
            let step = |op: ProgressOperation, done: u64, total: Option<u64>, finished| FlashStep {
                operation: operation_name(op),
                done,
                total,
                finished,
            };
            match event {
                ProgressEvent::AddProgressBar { operation, total } => {
                    totals[index(operation)] = total;
                }
                ProgressEvent::Started(op) => {
                    done[index(op)] = 0;
                    progress(&step(op, 0, totals[index(op)], false));
                }
                ProgressEvent::Progress {
                    operation, size, ..
                } => {
                    done[index(operation)] += size;
                    progress(&step(
                        operation,
                        done[index(operation)],
                        totals[index(operation)],
                        false,
                    ));
                }
                ProgressEvent::Finished(op) => {
                    progress(&step(op, done[index(op)], totals[index(op)], true));
                }
                ProgressEvent::Failed(op) => {
                    tracing::warn!(operation = operation_name(op), "flash step failed");
                }
                ProgressEvent::DiagnosticMessage { message } => {
                    tracing::info!("flash algorithm: {message}");
                }
                ProgressEvent::FlashLayoutReady { .. } => {}
            }
        });
        let session = self.session()?;
        download_file_with_options(session, elf, ElfLoader(ElfOptions::default()), options)
            .map_err(|e| RigErrorKind::FlashFailed(error_chain(&e)))?;
        self.reset_halt()
    }

    fn reset_run(&mut self) -> Result<(), RigErrorKind> {
        self.rtt = None;
        let session = self.session()?;
        let mut core = session
            .core(0)
            .map_err(|e| Self::probe_error("core 0", e))?;
        core.reset().map_err(|e| Self::probe_error("reset", e))
    }

    fn reset_halt(&mut self) -> Result<(), RigErrorKind> {
        self.rtt = None;
        let session = self.session()?;
        let mut core = session
            .core(0)
            .map_err(|e| Self::probe_error("core 0", e))?;
        core.reset_and_halt(HALT_TIMEOUT)
            .map(|_| ())
            .map_err(|e| Self::probe_error("reset and halt", e))
    }

    fn read_rtt(&mut self) -> Result<Vec<String>, RigErrorKind> {
        match self.rtt_format {
            None => return Ok(Vec::new()),
            Some(RttFormat::Defmt) => {
                return Err(RigErrorKind::Unsupported(
                    "probe.rtt: defmt frames are not decoded by hilt: print plain text on RTT, or read them with `probe-rs attach`"
                        .into(),
                ));
            }
            Some(RttFormat::Plain) => {}
        }
        let Some(session) = self.session.as_mut() else {
            return Err(RigErrorKind::Other(
                "the debug probe is not attached".into(),
            ));
        };
        let mut core = session
            .core(0)
            .map_err(|e| Self::probe_error("core 0", e))?;
        if self.rtt.is_none() {
            let attached = match self.rtt_block {
                Some(at) => Rtt::attach_at(&mut core, at),
                None => Rtt::attach(&mut core),
            };
            match attached {
                Ok(r) => self.rtt = Some(r),
                // The firmware has not set its control block up yet: nothing to read.
                Err(probe_rs::rtt::Error::ControlBlockNotFound) => return Ok(Vec::new()),
                Err(e) => return Err(Self::probe_error("attach RTT", e)),
            }
        }
        let Some(rtt) = self.rtt.as_mut() else {
            return Ok(Vec::new());
        };
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 1024];
        for channel in rtt.up_channels() {
            let n = channel.number();
            if self.partial.len() <= n {
                self.partial.resize(n + 1, Vec::new());
            }
            loop {
                let got = channel
                    .read(&mut core, &mut buf)
                    .map_err(|e| Self::probe_error("read RTT", e))?;
                if got == 0 {
                    break;
                }
                self.partial[n].extend_from_slice(&buf[..got]);
            }
            lines.extend(take_lines(&mut self.partial[n]));
        }
        Ok(lines)
    }
}

/// The complete lines at the start of `pending`, taken out of it (the rest waits for
/// its newline).
fn take_lines(pending: &mut Vec<u8>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = pending.drain(..=end).collect();
        lines.push(
            String::from_utf8_lossy(&line)
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        );
    }
    lines
}

/// An error and its causes, one after another: probe-rs's outer errors say little.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn rtt_bytes_become_lines_as_their_newlines_arrive() {
        let mut pending = b"boot ok\r\nhilt-fw 0.1".to_vec();
        assert_eq!(take_lines(&mut pending), ["boot ok"]);
        assert_eq!(pending, b"hilt-fw 0.1");
        pending.extend_from_slice(b".0 \xff\n");
        assert_eq!(take_lines(&mut pending), ["hilt-fw 0.1.0 \u{fffd}"]);
        assert!(pending.is_empty());
    }

    #[test]
    fn chips_are_checked_against_probe_rs_targets() {
        chip_known("nRF52840_xxAA").unwrap();
        let e = chip_known("nRF52840_typo").unwrap_err();
        assert!(e.contains("nRF52840_typo"), "{e}");
    }
}
