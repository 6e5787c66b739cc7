//! Whether a rig can be used now, and if not, why: checked before any test runs, so a
//! missing probe or port is reported as the rig's state, not as failed tests.

use std::path::Path;

use hilt_core::rig::{Attachment, RigBackend, RigFile, RttFormat};

/// A rig's state: usable, or not with every reason found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub rig: String,
    pub problems: Vec<String>,
    /// What was checked and found in order, for `hilt rig check`'s output.
    pub checked: Vec<String>,
}

impl Health {
    pub fn usable(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks what a rig needs from this machine: programs, ports, probe, firmware, TUN.
/// Nothing is started and nothing is flashed.
pub fn check(file: &RigFile, root: &Path) -> Health {
    let mut h = Health {
        rig: file.name.clone(),
        problems: Vec::new(),
        checked: Vec::new(),
    };
    let mut need = |ok: bool, what: String, problem: String| {
        if ok {
            h.checked.push(what);
        } else {
            h.problems.push(problem);
        }
    };
    match file.backend {
        RigBackend::Qemu => {
            let program = file
                .qemu
                .as_ref()
                .map(|q| q.program.as_str())
                .unwrap_or("qemu-system-arm");
            need(
                on_path(program),
                format!("{program} found"),
                format!("{program} is not installed (ci/setup installs it)"),
            );
        }
        RigBackend::Serial | RigBackend::ProbeRs => {
            if let Some(port) = &file.console.port {
                need(
                    Path::new(port).exists(),
                    format!("console port {port} present"),
                    format!("console port {port} is gone (unplugged? see `hilt rig discover`)"),
                );
            }
            if file.backend == RigBackend::ProbeRs {
                let selector = file
                    .probe
                    .as_ref()
                    .map(|p| p.selector.clone())
                    .unwrap_or_default();
                #[cfg(feature = "probe-rs")]
                {
                    let known = crate::probe_driver::chip_known(&file.chip);
                    need(
                        known.is_ok(),
                        format!("chip {} known to probe-rs", file.chip),
                        known.err().unwrap_or_default(),
                    );
                }
                if file.probe.as_ref().and_then(|p| p.rtt) == Some(RttFormat::Defmt) {
                    need(
                        false,
                        String::new(),
                        "probe.rtt: defmt frames are not decoded by hilt: print plain text on RTT"
                            .into(),
                    );
                }
                match crate::discover::probes() {
                    Ok(probes) => {
                        let picked = crate::discover::select_probe(&probes, &selector);
                        need(
                            picked.is_ok(),
                            format!("debug probe `{selector}` attached"),
                            picked.err().map(|e| e.to_string()).unwrap_or_default(),
                        );
                    }
                    Err(why) => need(false, String::new(), why),
                }
            }
        }
        RigBackend::Process => {
            let program = file
                .process
                .as_ref()
                .map(|p| p.program.as_str())
                .unwrap_or("");
            let found = if program.contains('/') {
                root.join(program.replace("{root}/", "")).exists() || Path::new(program).exists()
            } else {
                on_path(program)
            };
            need(
                found,
                format!("{program} found"),
                format!("program `{program}` not found"),
            );
        }
    }
    if let Some(fw) = &file.firmware {
        let elf = root.join(&fw.elf);
        let build = fw.build.first().map(|b| root.join(b));
        let buildable = build
            .as_ref()
            .is_some_and(|b| b.exists() || on_path(&b.display().to_string()));
        need(
            elf.is_file() || buildable,
            if elf.is_file() {
                format!("firmware {} present", fw.elf)
            } else {
                format!("firmware build {} present", fw.build.join(" "))
            },
            format!("no firmware at {} and no build command to make it", fw.elf),
        );
    }
    if file.network.attachment == Attachment::Slip {
        need(
            Path::new("/dev/net/tun").exists(),
            "/dev/net/tun present".into(),
            "no /dev/net/tun: the SLIP bridge needs a TUN device".into(),
        );
    }
    h
}

/// True when `program` names an executable file, directly or on PATH.
pub(crate) fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| executable(&d.join(program))))
        .unwrap_or(false)
}
