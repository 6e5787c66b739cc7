//! The schema of target files (`targets/brokers/*.yaml`): a system under test as data.
//!
//! A target says how to launch it (a local process with generated configuration on
//! ephemeral loopback ports, a container image, or an address that already serves),
//! how to know it is ready, what it serves, what it can do, and where it knowingly
//! departs from the specification.
//!
//! Strings in `args`, `env` and `files` may hold placeholders, filled in at launch:
//! `{dir}` the instance folder, `{host}` the loopback address, `{name}` a unique
//! instance name, `{port.NAME}` an ephemeral port allocated for `NAME`.
//!
//! A target can instead be a *device*: a client (a program, or firmware on a rig) that
//! hilt does not reach but drives, with its own server in front of it (`targets/devices/`).
//! Its [`Device`] section says what it speaks and, per stimulus, the command that makes
//! it act against the address hilt gives it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::capability::CapabilitySet;
use crate::datafile::{DataFileError, read_yaml};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// What the target serves: protocol name → the port (by name) and versions.
    #[serde(default)]
    pub serves: BTreeMap<String, Service>,
    #[serde(default)]
    pub capabilities: CapabilitySet,
    /// How to bring up what it serves; a device alone needs none.
    #[serde(default)]
    pub launch: Launch,
    /// A client under test: what it speaks and how to make it act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    #[serde(default)]
    pub timing: Timing,
    /// Known departures from the specifications: tests expected to fail, with why.
    #[serde(default)]
    pub deviations: Vec<Deviation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The port name (a key of `launch.process.ports`, or of an external target's URL).
    pub port: String,
    /// Protocol versions served, e.g. `["3.1.1", "5.0"]`.
    #[serde(default)]
    pub versions: Vec<String>,
}

/// How to bring the target up. More than one backend may be given; hilt picks the
/// process backend when its program exists, else the container backend where a
/// Docker engine runs, and says why when neither can be used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Launch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessLaunch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerLaunch>,
    /// Already running somewhere: URLs per port name (`mqtt: mqtt://127.0.0.1:1883`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<BTreeMap<String, String>>,
    /// A device on a rig, serving at its own address: see [`RigLaunch`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rig: Option<RigLaunch>,
}

impl Launch {
    /// No backend given: nothing to launch or reach.
    pub fn is_empty(&self) -> bool {
        self.process.is_none()
            && self.container.is_none()
            && self.external.is_none()
            && self.rig.is_none()
    }
}

/// Firmware on a rig (`targets/rigs/NAME.yaml`) serving on its own address: hilt builds
/// and boots the rig, attaches it to the host's network as the rig file says (over
/// SLIP: a TUN interface with hilt's RPL root on the link), waits until the device has
/// joined, and reaches the served ports at the device's global address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigLaunch {
    /// The rig: a file stem under `targets/rigs/`, or a path to a rig file.
    pub name: String,
    /// Port name → the port number the device serves it on.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    /// Port names of UDP CoAP endpoints that must answer a CoAP ping before the device
    /// counts as ready (after it joined).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready_udp_coap: Vec<String>,
}

/// A client under test. hilt plays the server side (its own, or a reference server
/// behind the interposer) and makes the device act through its commands, one per
/// stimulus a suite knows (`get`, `observe`, `subscribe`, …).
///
/// A command's strings may hold `{host}` and `{port}` (the address hilt gives the
/// device: its server, or the interposer in front of it) and the stimulus' own
/// parameters (`{path}`, `{seconds}`, `{topic}`, …), which the suite documents. A
/// placeholder hilt cannot fill is an error when the command is started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Protocols it speaks as a client: protocol name → versions.
    pub speaks: BTreeMap<String, Vec<String>>,
    /// Stimulus name → the command that makes the device do it.
    #[serde(default)]
    pub commands: BTreeMap<String, DeviceCommand>,
    /// A command that prints the device's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionProbe>,
}

/// A program run once per stimulus; it is killed if still running at its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceCommand {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessLaunch {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Files written into the instance folder before launch: relative path → contents.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Names of ephemeral loopback ports to allocate.
    #[serde(default)]
    pub ports: Vec<String>,
    /// Port names that must accept TCP connections before the target counts as ready.
    #[serde(default)]
    pub ready_ports: Vec<String>,
    /// Port names of UDP CoAP endpoints that must answer a CoAP ping (an Empty CON)
    /// with a Reset before the target counts as ready: UDP has no connect to probe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready_udp_coap: Vec<String>,
    /// How long start-up may take before it is an error.
    #[serde(default = "default_ready_timeout_s")]
    pub ready_timeout_s: u64,
    /// Processes started before the main one and stopped after it (e.g. a private epmd).
    #[serde(default)]
    pub helpers: Vec<HelperProcess>,
    /// A user the instance folder must be writable by (programs that drop privileges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_owner: Option<String>,
    /// A command that prints the version; the first line matching `version_regex` wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionProbe>,
    /// Variations of this launch by name (`bench`), chosen with [`TargetFile::with_profile`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, LaunchProfile>,
}

/// A variation of a launch for one kind of run, laid over the base: its files replace
/// the base's files of the same path (or add to them), its environment entries likewise.
/// A benchmark, for instance, needs a broker that does not log every message, while a
/// conformance run keeps those logs as evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchProfile {
    /// What differs from the base launch, and why.
    pub description: String,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaunchProfile {
    fn apply(&self, files: &mut BTreeMap<String, String>, env: &mut BTreeMap<String, String>) {
        files.extend(self.files.clone());
        env.extend(self.env.clone());
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelperProcess {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A port name that must accept connections before the main process starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_port: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionProbe {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// A regex whose first capture group is the version.
    pub regex: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerLaunch {
    pub image: String,
    /// Port name → the port inside the container.
    pub ports: BTreeMap<String, u16>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Files copied into the container: path inside → contents (placeholders allowed).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// A line of the container's log that means it is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_log: Option<String>,
    /// Variations of this launch by name, as for the process backend.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, LaunchProfile>,
}

/// Timing facts of a target that tests derive their deadlines from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// The longest a healthy target takes to answer a request on loopback. Tests wait
    /// this long for a reply that the protocol requires but puts no deadline on.
    #[serde(default = "default_response_ms")]
    pub response_ms: u64,
    /// How many tests the target serves at once, at most, whatever the run's `jobs`:
    /// a constrained device's tables (pending separate responses, block-wise
    /// transfers, stored resources) hold a few exchanges, not a run's worth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tests: Option<usize>,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            response_ms: default_response_ms(),
            parallel_tests: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// Test ids (globs allowed) this deviation makes expected failures.
    pub tests: Vec<String>,
    /// Why: what the target does instead, and where that is documented.
    pub reason: String,
}

fn default_ready_timeout_s() -> u64 {
    30
}

fn default_response_ms() -> u64 {
    2000
}

impl TargetFile {
    pub fn load(path: &Path) -> Result<Self, DataFileError> {
        let t: TargetFile = read_yaml(path)?;
        t.check().map_err(|message| DataFileError {
            path: path.to_owned(),
            line: None,
            message,
        })?;
        Ok(t)
    }

    /// Consistency the schema alone cannot express.
    pub fn check(&self) -> Result<(), String> {
        if self.launch.is_empty() && self.device.is_none() {
            return Err(
                "launch: give at least one of process, container, external, rig (or a `device` section)"
                    .into(),
            );
        }
        if self.launch.is_empty() && !self.serves.is_empty() {
            return Err("serves: a served protocol needs a `launch` section".into());
        }
        if let Some(d) = &self.device
            && d.speaks.is_empty()
        {
            return Err("device.speaks: name at least one protocol".into());
        }
        if let Some(p) = &self.launch.process {
            for (proto, svc) in &self.serves {
                if !p.ports.contains(&svc.port) {
                    return Err(format!(
                        "serves.{proto}.port `{}` is not among launch.process.ports {:?}",
                        svc.port, p.ports
                    ));
                }
            }
            for r in &p.ready_ports {
                if !p.ports.contains(r) {
                    return Err(format!("launch.process.ready_ports: unknown port `{r}`"));
                }
            }
            for r in &p.ready_udp_coap {
                if !p.ports.contains(r) {
                    return Err(format!("launch.process.ready_udp_coap: unknown port `{r}`"));
                }
            }
        }
        if let Some(r) = &self.launch.rig {
            for (proto, svc) in &self.serves {
                if !r.ports.contains_key(&svc.port) {
                    return Err(format!(
                        "serves.{proto}.port `{}` is not among launch.rig.ports",
                        svc.port
                    ));
                }
            }
            for p in &r.ready_udp_coap {
                if !r.ports.contains_key(p) {
                    return Err(format!("launch.rig.ready_udp_coap: unknown port `{p}`"));
                }
            }
        }
        for d in &self.deviations {
            for g in &d.tests {
                globset::Glob::new(g).map_err(|e| format!("deviations: bad glob `{g}`: {e}"))?;
            }
        }
        Ok(())
    }

    /// The target as launched under profile `name` (each backend's profile of that name
    /// laid over its base), or `None` when no backend has such a profile.
    pub fn with_profile(&self, name: &str) -> Option<TargetFile> {
        let mut t = self.clone();
        let mut found = false;
        if let Some(p) = &mut t.launch.process
            && let Some(profile) = p.profiles.get(name)
        {
            profile.apply(&mut p.files, &mut p.env);
            found = true;
        }
        if let Some(c) = &mut t.launch.container
            && let Some(profile) = c.profiles.get(name)
        {
            profile.apply(&mut c.files, &mut c.env);
            found = true;
        }
        found.then_some(t)
    }

    /// Whether the target speaks `protocol` as a client under test.
    pub fn drives(&self, protocol: &str) -> bool {
        self.device
            .as_ref()
            .is_some_and(|d| d.speaks.contains_key(protocol))
    }

    /// The deviation that covers `test`, if any.
    pub fn deviation_for(&self, test: &str) -> Option<&Deviation> {
        self.deviations.iter().find(|d| {
            d.tests.iter().any(|g| {
                globset::Glob::new(g)
                    .map(|g| g.compile_matcher().is_match(test))
                    .unwrap_or(false)
            })
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::datafile::parse_yaml;

    fn parse(yaml: &str) -> Result<TargetFile, String> {
        let t: TargetFile = parse_yaml(Path::new("t.yaml"), yaml).map_err(|e| e.to_string())?;
        t.check().map(|()| t)
    }

    #[test]
    fn a_device_needs_no_launch_but_speaks_something() {
        let t = parse(
            "name: d\ndevice:\n  speaks: {coap: [\"RFC 7252\"]}\n  commands:\n    get: {program: c, args: [\"{host}:{port}{path}\"]}\n",
        )
        .unwrap();
        assert!(t.drives("coap") && !t.drives("mqtt"));
        assert!(t.launch.is_empty() && t.serves.is_empty());
        assert!(parse("name: d\ndevice: {speaks: {}}\n").is_err());
        let e = parse("name: d\n").unwrap_err();
        assert!(e.contains("device"), "{e}");
        let e = parse("name: d\nserves: {coap: {port: coap}}\ndevice: {speaks: {coap: []}}\n")
            .unwrap_err();
        assert!(e.contains("launch"), "{e}");
    }

    #[test]
    fn a_profile_replaces_and_adds_files_and_env() {
        let t = parse(
            "name: b\nlaunch:\n  process:\n    program: b\n    env: {A: \"1\", B: \"2\"}\n\
             \x20   files: {b.conf: base, log.conf: all}\n    profiles:\n      bench:\n\
             \x20       description: quiet\n        files: {log.conf: none, extra.conf: x}\n\
             \x20       env: {B: \"3\"}\n",
        )
        .unwrap();
        assert!(t.with_profile("other").is_none());
        let bench = t.with_profile("bench").unwrap();
        let p = bench.launch.process.unwrap();
        assert_eq!(p.files["b.conf"], "base");
        assert_eq!(p.files["log.conf"], "none");
        assert_eq!(p.files["extra.conf"], "x");
        assert_eq!((p.env["A"].as_str(), p.env["B"].as_str()), ("1", "3"));
        let base = t.launch.process.unwrap();
        assert_eq!(base.files["log.conf"], "all", "the base is left as it was");
    }
}
