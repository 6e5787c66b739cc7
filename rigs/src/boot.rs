//! Bringing any rig up through the same stages, each with its own timeout.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hilt_core::rig::RigFile;
use hilt_net::serial::{ConsoleError, DeviceLine};

use crate::Rig;
use crate::error::{RigError, RigErrorKind, Stage};

/// The banner looked for when the rig file names none: any line at all.
const ANY_LINE: &str = ".";

/// How a bring-up went: the time of each stage and the attempts it took.
#[derive(Debug, Clone, Default)]
pub struct BootReport {
    pub build: Duration,
    pub flash: Duration,
    pub boot: Duration,
    /// Attempts made (1 when the first worked).
    pub attempts: u32,
    /// The banner line the device printed.
    pub banner: String,
    /// The failures of earlier attempts.
    pub retried: Vec<String>,
}

/// Runs the rig file's firmware build command from `root`, bounded by `build_s`.
pub fn build_firmware(file: &RigFile, root: &Path) -> Result<Duration, RigError> {
    let started = Instant::now();
    let Some(fw) = &file.firmware else {
        return Ok(Duration::ZERO);
    };
    let Some((program, args)) = fw.build.split_first() else {
        return Ok(Duration::ZERO);
    };
    let command = fw.build.join(" ");
    let err = |reason: String| {
        RigError::new(
            &file.name,
            Stage::Build,
            RigErrorKind::Command {
                command: command.clone(),
                reason,
            },
        )
    };
    let program = if program.contains('/') {
        root.join(program)
    } else {
        program.into()
    };
    let mut child = Command::new(&program)
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(e.to_string()))?;
    let limit = Duration::from_secs(file.timeouts.build_s);
    // The output is read on a thread so a chatty build cannot fill its pipe and stall.
    let stderr = child.stderr.take();
    let stdout = child.stdout.take();
    let collect = std::thread::spawn(move || {
        let mut text = String::new();
        for mut r in [
            stdout.map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            stderr.map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let _ = std::io::Read::read_to_string(&mut r, &mut text);
        }
        text
    });
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| err(e.to_string()))? {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RigError::new(
                &file.name,
                Stage::Build,
                RigErrorKind::Timeout(limit),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = collect.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = output.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(err(format!("{status}: {}", tail.join(" / "))));
    }
    Ok(started.elapsed())
}

/// When [`boot_with`] builds the firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Every time (what `hilt rig flash` and `check --boot` do).
    Always,
    /// Only when the ELF is missing or older than a file beside the build command,
    /// holding a lock on the ELF's folder meanwhile: many bridges booting the same
    /// firmware side by side (the RPL catalogue under `-j`) build it once, and none
    /// loads an ELF another is writing.
    IfStale,
}

/// Runs the build as [`Build::IfStale`] says: under an exclusive lock, and only when
/// the ELF is older than its sources.
pub fn build_firmware_if_stale(file: &RigFile, root: &Path) -> Result<Duration, RigError> {
    let Some(fw) = &file.firmware else {
        return Ok(Duration::ZERO);
    };
    let Some(program) = fw.build.first() else {
        return Ok(Duration::ZERO);
    };
    let elf = root.join(&fw.elf);
    let out = elf.parent().unwrap_or(root).to_path_buf();
    let lock_err = |e: std::io::Error| {
        RigError::new(
            &file.name,
            Stage::Build,
            RigErrorKind::Other(format!("failed to lock {}: {e}", out.display())),
        )
    };
    std::fs::create_dir_all(&out).map_err(lock_err)?;
    let lock = std::fs::File::create(out.join(".build-lock")).map_err(lock_err)?;
    lock.lock().map_err(lock_err)?;
    let sources = root.join(program);
    let sources = sources.parent().unwrap_or(root);
    let built = std::fs::metadata(&elf).and_then(|m| m.modified()).ok();
    let fresh = built.is_some_and(|b| newest(sources, &out).is_none_or(|n| n <= b));
    let took = if fresh {
        Ok(Duration::ZERO)
    } else {
        build_firmware(file, root)
    };
    drop(lock);
    took
}

/// The newest modification time of the files under `dir`, the folder `skip` left out.
fn newest(dir: &Path, skip: &Path) -> Option<std::time::SystemTime> {
    let mut latest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p == skip {
                continue;
            }
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(p);
            } else if let Ok(t) = m.modified() {
                latest = latest.max(Some(t));
            }
        }
    }
    latest
}

/// Builds, loads and starts the device, and waits for its boot banner; each failing
/// stage is retried `timeouts.retries` times (the build is not: it is deterministic).
/// Returns the open console line with the banner already consumed.
pub async fn boot(rig: &mut dyn Rig, root: &Path) -> Result<(DeviceLine, BootReport), RigError> {
    boot_with(rig, root, Build::Always).await
}

/// [`boot`], building as `build` says.
pub async fn boot_with(
    rig: &mut dyn Rig,
    root: &Path,
    build: Build,
) -> Result<(DeviceLine, BootReport), RigError> {
    let file = rig.file().clone();
    let mut report = BootReport {
        build: tokio::task::block_in_place(|| match build {
            Build::Always => build_firmware(&file, root),
            Build::IfStale => build_firmware_if_stale(&file, root),
        })?,
        ..BootReport::default()
    };
    let banner_src = file
        .console
        .banner
        .clone()
        .unwrap_or_else(|| ANY_LINE.into());
    let banner = regex::Regex::new(&banner_src).map_err(|e| {
        RigError::new(
            &file.name,
            Stage::Check,
            RigErrorKind::Other(format!("console.banner: {e}")),
        )
    })?;
    let ready = match &file.console.ready {
        Some(r) => Some(regex::Regex::new(r).map_err(|e| {
            RigError::new(
                &file.name,
                Stage::Check,
                RigErrorKind::Other(format!("console.ready: {e}")),
            )
        })?),
        None => None,
    };
    let boot_limit = Duration::from_secs(file.timeouts.boot_s);
    loop {
        report.attempts += 1;
        let attempt = async {
            let t = Instant::now();
            if let Some(fw) = &file.firmware {
                let elf = root.join(&fw.elf);
                tokio::task::block_in_place(|| rig.load(&elf))?;
            }
            let line = tokio::task::block_in_place(|| rig.open_line())?;
            let mut console = line.console();
            rig.run()?;
            report.flash = t.elapsed();
            let t = Instant::now();
            let no_banner = |e: ConsoleError, pattern: &str| {
                let kind = match e {
                    ConsoleError::Timeout { waited, .. } => RigErrorKind::NoBanner {
                        pattern: pattern.to_owned(),
                        waited,
                    },
                    ConsoleError::Closed(reason) => RigErrorKind::Port {
                        port: line.path().to_owned(),
                        reason,
                    },
                };
                RigError::new(&file.name, Stage::Boot, kind)
            };
            let seen = console
                .expect(&banner, boot_limit)
                .await
                .map_err(|e| no_banner(e, &banner_src))?;
            if let Some(ready) = &ready {
                let left = boot_limit.saturating_sub(t.elapsed());
                console
                    .expect(ready, left)
                    .await
                    .map_err(|e| no_banner(e, ready.as_str()))?;
            }
            report.boot = t.elapsed();
            report.banner = seen;
            Ok::<_, RigError>(line)
        };
        match attempt.await {
            Ok(line) => return Ok((line, report)),
            Err(e) if report.attempts <= file.timeouts.retries => {
                tracing::warn!("{e}; trying again");
                report.retried.push(e.to_string());
                rig.stop();
            }
            Err(e) => {
                rig.stop();
                return Err(e);
            }
        }
    }
}
