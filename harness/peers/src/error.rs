//! Why a target could not be launched, restarted, killed or reached.

use std::io;
use std::time::Duration;

/// A failed operation on a target. Reads well after "failed to": `failed to launch
/// mosquitto (instance t1): program `mosquitto` not found …`.
#[derive(Debug, thiserror::Error)]
#[error("{action} {target}{}: {kind}", instance_suffix(instance))]
pub struct LaunchError {
    /// What was attempted: "launch", "restart", "kill", "pause", …
    pub action: &'static str,
    /// The target's name (from its file).
    pub target: String,
    /// The instance name, when one was given.
    pub instance: String,
    /// What went wrong (boxed: errors travel through `Result`s on hot paths).
    pub kind: Box<LaunchErrorKind>,
}

fn instance_suffix(instance: &str) -> String {
    if instance.is_empty() {
        String::new()
    } else {
        format!(" (instance {instance})")
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchErrorKind {
    #[error("program `{program}` not found{}", install_hint(package.as_deref()))]
    ProgramNotFound {
        program: String,
        /// The Debian package that ships it, when hilt knows.
        package: Option<String>,
    },
    #[error("allocate a loopback port: {source}")]
    PortAllocation {
        #[source]
        source: io::Error,
    },
    #[error(
        "it was not ready within {} s (ports not yet accepting: {}){}",
        waited.as_secs(), not_ready.join(", "), log_tail_suffix(log_tail)
    )]
    NotReady {
        waited: Duration,
        /// Port names that never accepted a connection.
        not_ready: Vec<String>,
        log_tail: String,
    },
    #[error("`{program}` exited early with {status}{}", log_tail_suffix(log_tail))]
    ExitedEarly {
        program: String,
        status: String,
        log_tail: String,
    },
    #[error("bring up its rig: {detail}")]
    Rig { detail: String },
    #[error("reach a container engine: {detail}")]
    ContainerEngineUnavailable { detail: String },
    #[error("use the container backend: {detail}")]
    Container { detail: String },
    #[error(
        "find a way to run it: {process}; and {container} (run ./ci/setup to install the \
         packages, or start a Docker engine)"
    )]
    NoBackend { process: String, container: String },
    #[error("use the {backend} backend: the target file has no `launch.{backend}` section")]
    NotConfigured { backend: &'static str },
    #[error("fill placeholder `{{{placeholder}}}` in {location}: {reason}")]
    BadPlaceholder {
        placeholder: String,
        location: String,
        reason: String,
    },
    #[error("use external address `{url}` for port `{port}`: {reason}")]
    BadExternalUrl {
        port: String,
        url: String,
        reason: String,
    },
    #[error("reach {port} at {addr}: {reason}")]
    Unreachable {
        port: String,
        addr: String,
        reason: String,
    },
    #[error("{what}")]
    Unsupported { what: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("signal its processes: {0}")]
    Signal(#[source] nix::Error),
}

fn install_hint(package: Option<&str>) -> String {
    match package {
        Some(p) => format!(" (install the Debian package `{p}`, or run ./ci/setup)"),
        None => " (install the package that provides it, or run ./ci/setup)".to_owned(),
    }
}

fn log_tail_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        "; its log is empty".to_owned()
    } else {
        format!("; last lines of its log:\n{tail}")
    }
}

impl LaunchErrorKind {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        LaunchErrorKind::Io {
            what: what.into(),
            source,
        }
    }

    /// True for an early exit that looks like another process took a port between
    /// allocation and bind; the whole launch is then worth retrying on new ports.
    pub(crate) fn is_port_race(&self) -> bool {
        match self {
            LaunchErrorKind::ExitedEarly { log_tail, .. } => {
                let t = log_tail.to_ascii_lowercase();
                t.contains("address already in use") || t.contains("eaddrinuse")
            }
            _ => false,
        }
    }
}

impl LaunchError {
    pub(crate) fn new(
        action: &'static str,
        target: &str,
        instance: &str,
        kind: LaunchErrorKind,
    ) -> Self {
        LaunchError {
            action,
            target: target.to_owned(),
            instance: instance.to_owned(),
            kind: Box::new(kind),
        }
    }

    pub fn kind(&self) -> &LaunchErrorKind {
        &self.kind
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn reads_after_failed_to() {
        let e = LaunchError::new(
            "launch",
            "mosquitto",
            "t1",
            LaunchErrorKind::ProgramNotFound {
                program: "mosquitto".into(),
                package: Some("mosquitto".into()),
            },
        );
        assert_eq!(
            e.to_string(),
            "launch mosquitto (instance t1): program `mosquitto` not found \
             (install the Debian package `mosquitto`, or run ./ci/setup)"
        );
    }

    #[test]
    fn not_ready_carries_the_log_tail() {
        let k = LaunchErrorKind::NotReady {
            waited: Duration::from_secs(30),
            not_ready: vec!["amqp".into()],
            log_tail: "boot failed\n".into(),
        };
        let s = k.to_string();
        assert!(s.starts_with("it was not ready within 30 s"), "{s}");
        assert!(s.contains("boot failed"), "{s}");
    }

    #[test]
    fn port_race_is_recognised() {
        let k = LaunchErrorKind::ExitedEarly {
            program: "x".into(),
            status: "exit status: 1".into(),
            log_tail: "Error: Address already in use".into(),
        };
        assert!(k.is_port_race());
    }

    #[test]
    fn placeholder_braces_render() {
        let k = LaunchErrorKind::BadPlaceholder {
            placeholder: "port.mqt".into(),
            location: "launch.process.args[1]".into(),
            reason: "no such port".into(),
        };
        assert_eq!(
            k.to_string(),
            "fill placeholder `{port.mqt}` in launch.process.args[1]: no such port"
        );
    }
}
