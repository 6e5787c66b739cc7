//! How the caller wants a target launched.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Which backend brings the target up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// The process backend when the program exists, else the container backend when a
    /// Docker engine answers, else the target's external addresses.
    #[default]
    Auto,
    Process,
    Container,
    External,
    /// Firmware on a rig, chosen by the target file's `launch.rig` alone.
    Rig,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Auto => "auto",
            Backend::Process => "process",
            Backend::Container => "container",
            Backend::External => "external",
            Backend::Rig => "rig",
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// The run's folder: logs go to `logs/`, instance folders to `instances/`.
    pub run_dir: PathBuf,
    /// A name unique within the run (used for the log file, the instance folder and
    /// `{name}`); characters other than letters, digits, `-` and `_` become `_`.
    pub instance: String,
    pub backend: Backend,
    /// Addresses given on the command line (`--url mqtt=mqtt://host:1883`): port name →
    /// URL. When set, the target is used as an external one at these addresses.
    pub external: Option<BTreeMap<String, String>>,
}

impl LaunchOptions {
    pub fn new(run_dir: impl Into<PathBuf>, instance: impl Into<String>) -> Self {
        LaunchOptions {
            run_dir: run_dir.into(),
            instance: instance.into(),
            backend: Backend::Auto,
            external: None,
        }
    }

    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    pub fn with_external(mut self, urls: BTreeMap<String, String>) -> Self {
        self.external = Some(urls);
        self
    }

    /// The instance name made safe for file names and Erlang node names.
    pub(crate) fn safe_instance(&self) -> String {
        let s: String = self
            .instance
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if s.is_empty() { "target".into() } else { s }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn instance_names_are_made_safe() {
        assert_eq!(
            LaunchOptions::new("r", "a b/../c@d").safe_instance(),
            "a_b____c_d"
        );
        assert_eq!(LaunchOptions::new("r", "").safe_instance(), "target");
    }
}
