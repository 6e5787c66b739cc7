//! Network namespaces and veth links for tests that run real nodes side by side.
//!
//! Everything here is made with iproute2 (`ip`) and removed when its guard drops (also
//! when a test panics); namespaces are named `hilt-<pid>-<n>`, so ones left by a killed
//! process are recognised and removed by [`sweep_stale`]. Needs root.

use std::io;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn next() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Runs `ip` with `args`, failing with its stderr.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `ip` (iproute2): {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Why namespaces cannot be used here, if they cannot: not root, no iproute2, or a
/// kernel or sandbox that refuses them. Tests skip with this reason.
pub fn unavailable() -> Option<String> {
    #[expect(
        unsafe_code,
        reason = "geteuid has no safe wrapper in std; it cannot fail"
    )]
    // SAFETY: geteuid takes nothing and always succeeds.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some("network namespaces need root".into());
    }
    match Netns::create() {
        Ok(_) => None,
        Err(e) => Some(format!("network namespaces unavailable: {e}")),
    }
}

/// Removes namespaces named by hilt processes that no longer run.
pub fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("hilt-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// A network namespace, deleted (with every interface in it) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn create() -> io::Result<Netns> {
        let name = format!("hilt-{}-{}", std::process::id(), next());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> …`.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// The program and leading arguments that run a command inside the namespace.
    pub fn exec_prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", self.name.as_str()]
            .map(str::to_owned)
            .to_vec()
    }

    /// Keeps the kernel's own IPv6 (autoconfiguration, router solicitations, MLD) off
    /// an interface, so only what the node under test sends is on the link.
    pub fn quiet_ipv6(&self, iface: &str) -> io::Result<()> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "sysctl", "-qw"])
            .arg(format!("net.ipv6.conf.{iface}.disable_ipv6=1"))
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "sysctl in {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            tracing::warn!("failed to remove namespace {}: {e}", self.name);
        }
    }
}

/// A veth pair between this process's namespace and a fresh one: the test holds one
/// end (`host`), the node under test runs in `ns` on `inside`.
#[derive(Debug)]
pub struct VethLink {
    pub host: String,
    pub inside: String,
    pub ns: Netns,
}

impl VethLink {
    /// Both ends up, the kernel's IPv6 quiet on both.
    pub fn create() -> io::Result<VethLink> {
        let ns = Netns::create()?;
        let host = format!("hr{:x}x{:x}", std::process::id(), next());
        let inside = "rpl0".to_owned();
        ip(&[
            "link",
            "add",
            "name",
            &host,
            "type",
            "veth",
            "peer",
            "name",
            &inside,
            "netns",
            ns.name(),
        ])?;
        let link = VethLink { host, inside, ns };
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", link.host),
            "1",
        );
        link.ns.quiet_ipv6(&link.inside)?;
        ip(&["link", "set", &link.host, "up"])?;
        link.ns.ip(&["link", "set", &link.inside, "up"])?;
        Ok(link)
    }
}

impl Drop for VethLink {
    fn drop(&mut self) {
        // Deleting the namespace deletes `inside`, and with it the host end.
        let _ = ip(&["link", "del", &self.host]);
    }
}

/// A shared segment: a bridge in a hub namespace, and one namespace per node with an
/// interface `rpl0` on it. Who hears whom is up to the nodes (`--hear`).
#[derive(Debug)]
pub struct Lan {
    pub nodes: Vec<Netns>,
    hub: Netns,
}

impl Lan {
    pub const IFACE: &'static str = "rpl0";

    pub fn create(n: usize) -> io::Result<Lan> {
        let hub = Netns::create()?;
        hub.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        hub.ip(&["link", "set", "br0", "up"])?;
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let ns = Netns::create()?;
            let port = format!("p{i}");
            hub.ip(&[
                "link",
                "add",
                "name",
                &port,
                "type",
                "veth",
                "peer",
                "name",
                Self::IFACE,
                "netns",
                ns.name(),
            ])?;
            hub.ip(&["link", "set", &port, "master", "br0", "up"])?;
            ns.quiet_ipv6(Self::IFACE)?;
            ns.ip(&["link", "set", Self::IFACE, "up"])?;
            nodes.push(ns);
        }
        Ok(Lan { nodes, hub })
    }

    /// The hub namespace (the bridge's).
    pub fn hub(&self) -> &Netns {
        &self.hub
    }
}
