//! The rig backend: firmware on a rig (`targets/rigs/*.yaml`), serving at its own
//! address on a link hilt brings up.
//!
//! Bringing it up: the rig's firmware is built when its ELF is missing, the device is
//! loaded and booted (banner and ready line on its console), a TUN interface with a
//! name unique to this process is created, the device's SLIP frames are bridged to it
//! with hilt's RPL root on the link, and the target is ready once the device has joined
//! the DODAG (and answered a CoAP ping where the target file asks for one). Every stage
//! that fails is an infrastructure error naming the stage; none is a test verdict.
//! Stopping writes the link's packets as pcapng and the console transcript beside the
//! run's logs.

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hilt_core::rig::{Attachment, RigFile};
use hilt_core::target::RigLaunch;
use hilt_net::serial::{Console, DeviceLine};
use hilt_net::slip_bridge::{Bridge, BridgeConfig, BridgeState, HostSide};

use crate::error::LaunchErrorKind as Kind;
use crate::options::LaunchOptions;

/// The MTU of the TUN side: IPv6's minimum, what the device's SLIP link carries.
const LINK_MTU: u32 = 1280;

/// A device on a rig, joined and reachable.
pub(crate) struct RigTarget {
    rig: Box<dyn hilt_rigs::Rig>,
    line: DeviceLine,
    bridge: Option<Bridge>,
    rig_name: String,
    pub iface: String,
    pub device: Ipv6Addr,
    pub ports: BTreeMap<String, SocketAddr>,
    pub ready_ms: u64,
    pub banner: String,
    join_limit: Duration,
    pcap: PathBuf,
    pcap_rel: String,
    console_log: PathBuf,
    console_rel: String,
    stopped: bool,
}

impl std::fmt::Debug for RigTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RigTarget")
            .field("rig", &self.rig_name)
            .field("iface", &self.iface)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

fn rig_err(detail: impl Into<String>) -> Kind {
    Kind::Rig {
        detail: detail.into(),
    }
}

/// The rig file `name` names: a path to a YAML file, a file stem under
/// `targets/rigs/`, or the `name:` inside one of them.
pub(crate) fn find_rig(root: &Path, name: &str) -> Result<RigFile, Kind> {
    let load = |p: &Path| RigFile::load(p).map_err(|e| rig_err(e.to_string()));
    if name.ends_with(".yaml") {
        return load(&root.join(name));
    }
    let dir = root.join("targets/rigs");
    let by_stem = dir.join(format!("{name}.yaml"));
    if by_stem.is_file() {
        return load(&by_stem);
    }
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| rig_err(format!("cannot list {}: {e}", dir.display())))?;
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "yaml")
            && let Ok(r) = RigFile::load(&p)
            && r.name == name
        {
            return Ok(r);
        }
    }
    Err(rig_err(format!(
        "find rig `{name}`: no such file under targets/rigs/ (see `hilt rig list`)"
    )))
}

/// A TUN name no other run of this machine uses at the same time: the process id and a
/// counter, at most 15 characters as Linux allows.
fn unique_iface() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("hrig{:x}x{n:x}", std::process::id())
        .chars()
        .take(15)
        .collect()
}

/// The rig file without its build command when the ELF is newer than every file
/// beside the build command (its sources): the build runs only for a missing or stale
/// firmware.
fn skip_fresh_build(mut file: RigFile, root: &Path) -> RigFile {
    let Some(fw) = &mut file.firmware else {
        return file;
    };
    let elf_time = std::fs::metadata(root.join(&fw.elf)).and_then(|m| m.modified());
    let Some(dir) = fw
        .build
        .first()
        .and_then(|p| root.join(p).parent().map(Path::to_owned))
    else {
        return file;
    };
    let elf_dir = root.join(&fw.elf).parent().map(Path::to_owned);
    if let Ok(elf_time) = elf_time
        && newest_source(&dir, elf_dir.as_deref()).is_some_and(|t| t <= elf_time)
    {
        fw.build.clear();
    }
    file
}

/// The latest modification time of the files under `dir`, `skip` (the build output)
/// left out.
fn newest_source(dir: &Path, skip: Option<&Path>) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if Some(p.as_path()) == skip {
                continue;
            }
            let meta = e.metadata().ok()?;
            if meta.is_dir() {
                stack.push(p);
            } else if let Ok(t) = meta.modified() {
                newest = newest.max(Some(t));
            }
        }
    }
    newest
}

/// The device's global address: the rig's prefix with its interface identifier.
fn device_address(file: &RigFile) -> Result<(Ipv6Addr, Ipv6Addr), Kind> {
    let prefix: Ipv6Addr = file
        .network
        .prefix
        .parse()
        .map_err(|e| rig_err(format!("rig {}: network.prefix: {e}", file.name)))?;
    let iid: Ipv6Addr = file
        .network
        .device_iid
        .parse()
        .map_err(|e| rig_err(format!("rig {}: network.device_iid: {e}", file.name)))?;
    let a = (u128::from(prefix) & !0xffff_ffff_ffff_ffffu128)
        | (u128::from(iid) & 0xffff_ffff_ffff_ffff);
    Ok((prefix, Ipv6Addr::from(a)))
}

pub(crate) async fn launch(r: &RigLaunch, opts: &LaunchOptions) -> Result<RigTarget, Kind> {
    let started = Instant::now();
    let root = crate::project_root()
        .ok_or_else(|| rig_err("find the project folder (targets/rigs/); set HILT_ROOT"))?;
    let file = find_rig(&root, &r.name)?;
    if file.network.attachment != Attachment::Slip {
        return Err(rig_err(format!(
            "rig {}: network attachment {:?} cannot carry a served target yet (only slip)",
            file.name, file.network.attachment
        )));
    }
    let health = hilt_rigs::check(&file, &root);
    if !health.usable() {
        return Err(rig_err(format!(
            "rig {} is unusable: {}",
            file.name,
            health.problems.join("; ")
        )));
    }
    if !hilt_net::tun::can_create() {
        return Err(rig_err(format!(
            "rig {}: creating a TUN interface for its SLIP link needs root and /dev/net/tun",
            file.name
        )));
    }
    let file = skip_fresh_build(file, &root);
    let (prefix, expected) = device_address(&file)?;
    let cfg = BridgeConfig {
        prefix,
        root_iid: 1,
        seed: u64::from(std::process::id()),
    };
    let iface = unique_iface();
    let tun =
        hilt_net::tun::Tun::create(&iface, cfg.root_address(), 64, LINK_MTU).map_err(|e| {
            rig_err(format!(
                "rig {}: create the TUN interface {iface}: {e}",
                file.name
            ))
        })?;
    let mut rig = hilt_rigs::open(&file, &root).map_err(|e| rig_err(e.to_string()))?;
    let (mut line, report) = match hilt_rigs::boot(rig.as_mut(), &root).await {
        Ok(b) => b,
        Err(e) => {
            rig.stop();
            return Err(rig_err(e.to_string()));
        }
    };
    tracing::info!(
        "rig {}: booted in {} attempt(s) (build {:.2} s, load {:.2} s, boot {:.2} s): {}",
        file.name,
        report.attempts,
        report.build.as_secs_f64(),
        report.flash.as_secs_f64(),
        report.boot.as_secs_f64(),
        report.banner
    );
    let Some(frames) = line.take_frames() else {
        rig.stop();
        return Err(rig_err("the console line's SLIP frames were already taken"));
    };
    let mut bridge = Bridge::start(frames, line.writer(), HostSide::Tun(tun), cfg.clone());
    let instance = opts.safe_instance();
    let pcap_rel = format!("logs/{instance}.slip.pcapng");
    let console_rel = format!("logs/{instance}.console.log");
    let mut t = RigTarget {
        rig,
        line,
        bridge: None,
        rig_name: file.name.clone(),
        iface: iface.clone(),
        device: expected,
        ports: BTreeMap::new(),
        ready_ms: 0,
        banner: report.banner.clone(),
        join_limit: Duration::from_secs(file.timeouts.join_s),
        pcap: opts.run_dir.join(&pcap_rel),
        pcap_rel,
        console_log: opts.run_dir.join(&console_rel),
        console_rel,
        stopped: false,
    };
    let joined = bridge.joined(t.join_limit).await;
    t.bridge = Some(bridge);
    let Some((device, at)) = joined else {
        let state = t.bridge_state();
        t.stop().await;
        return Err(rig_err(format!(
            "rig {}: the device did not join hilt's DODAG on {iface} within {} s \
             (packets from the device: {}, RPL from it: {}, RPL to it: {})",
            file.name,
            file.timeouts.join_s,
            state.from_device,
            state.rpl_from_device,
            state.rpl_to_device
        )));
    };
    if device != expected {
        tracing::warn!(
            "rig {}: the device joined as {device}, not {expected} as the rig file says; using {device}",
            file.name
        );
    }
    t.device = device;
    tracing::info!(
        "rig {}: {device} joined the DODAG on {iface} after {:.2} s",
        file.name,
        at.as_secs_f64()
    );
    t.ports = r
        .ports
        .iter()
        .map(|(name, port)| (name.clone(), SocketAddr::new(device.into(), *port)))
        .collect();
    let ready_limit = Duration::from_secs(file.timeouts.boot_s.max(1));
    for name in &r.ready_udp_coap {
        let Some(addr) = t.ports.get(name).copied() else {
            continue;
        };
        let deadline = Instant::now() + ready_limit;
        let mut answered = false;
        while Instant::now() < deadline {
            if crate::process::coap_ping(addr, Duration::from_millis(250)).await {
                answered = true;
                break;
            }
        }
        if !answered {
            t.stop().await;
            return Err(rig_err(format!(
                "rig {}: the device joined but its {name} port {addr} answered no CoAP ping within {} s",
                file.name,
                ready_limit.as_secs()
            )));
        }
    }
    t.ready_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(t)
}

impl RigTarget {
    pub fn bridge_state(&self) -> BridgeState {
        self.bridge.as_ref().map(Bridge::state).unwrap_or_default()
    }

    /// A reader of the device's console lines from now on.
    pub fn console(&self) -> Console {
        self.line.console()
    }

    /// The packets that crossed the device's link from `since_us` (µs since the Unix
    /// epoch) on, each with whether the device sent it.
    pub fn link_packets(&self, since_us: u64) -> Vec<(u64, bool, Vec<u8>)> {
        let iid = u128::from(self.device) & 0xffff_ffff_ffff_ffff;
        let Some(bridge) = &self.bridge else {
            return Vec::new();
        };
        bridge
            .captured()
            .into_iter()
            .filter(|(t, _)| *t >= since_us)
            .map(|(t, p)| {
                let src = p
                    .get(8..24)
                    .and_then(|b| <[u8; 16]>::try_from(b).ok())
                    .map(u128::from_be_bytes);
                let from_device = src.is_some_and(|s| s & 0xffff_ffff_ffff_ffff == iid);
                (t, from_device, p)
            })
            .collect()
    }

    pub fn transcript(&self) -> Vec<String> {
        self.line.transcript()
    }

    /// Waits until the device has joined again after it last joined (a reset).
    pub async fn rejoined(&mut self, after: Duration) -> Option<(Ipv6Addr, Duration)> {
        let limit = self.join_limit;
        self.bridge.as_mut()?.rejoined(after, limit).await
    }

    pub fn logs(&self) -> Vec<String> {
        vec![self.console_rel.clone(), self.pcap_rel.clone()]
    }

    /// Stops the bridge and the device; writes the link's pcapng and the console
    /// transcript.
    pub async fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Some(bridge) = self.bridge.take() {
            let captured = bridge.captured();
            bridge.stop().await;
            if let Some(dir) = self.pcap.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = hilt_net::pcapng::write_ipv6_packets(
                &self.pcap,
                &format!("SLIP link of rig {} ({})", self.rig_name, self.iface),
                captured.iter().map(|(t, p)| (*t, p.as_slice())),
            ) {
                tracing::warn!("cannot write {}: {e}", self.pcap.display());
            }
        }
        let mut transcript = self.line.transcript().join("\n");
        transcript.push('\n');
        if let Some(dir) = self.console_log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&self.console_log, transcript) {
            tracing::warn!("cannot write {}: {e}", self.console_log.display());
        }
        let rig = &mut self.rig;
        tokio::task::block_in_place(|| rig.stop());
    }
}

impl Drop for RigTarget {
    fn drop(&mut self) {
        if !self.stopped {
            self.rig.stop();
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn interface_names_are_unique_and_short() {
        let (a, b) = (unique_iface(), unique_iface());
        assert_ne!(a, b);
        assert!(a.len() <= 15 && b.len() <= 15, "{a} {b}");
    }

    #[test]
    fn the_device_address_joins_prefix_and_iid() {
        let root = crate::project_root().unwrap();
        let file = find_rig(&root, "qemu-lm3s6965").unwrap();
        let (prefix, device) = device_address(&file).unwrap();
        assert_eq!(prefix, "2001:db8::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(device, "2001:db8::ff:fe00:1".parse::<Ipv6Addr>().unwrap());
        assert!(find_rig(&root, "no-such-rig").is_err());
    }
}
