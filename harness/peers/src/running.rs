//! A launched target: where to reach it, what it costs, and how to break it.

use std::net::SocketAddr;

use hilt_core::event::TargetInfo;
use hilt_core::target::TargetFile;
use nix::sys::signal::Signal;

#[cfg(feature = "container")]
use crate::container::ContainerTarget;
use crate::error::{LaunchError, LaunchErrorKind as Kind};
use crate::external::ExternalTarget;
use crate::options::Backend;
use crate::process::ProcessTarget;

#[derive(Debug)]
pub(crate) enum Inner {
    Process(Box<ProcessTarget>),
    #[cfg(feature = "container")]
    Container(Box<ContainerTarget>),
    External(ExternalTarget),
}

/// A target hilt launched (or reached). Dropping it kills what hilt started; call
/// [`Running::stop`] for a graceful stop and the final figures.
#[derive(Debug)]
pub struct Running {
    pub(crate) target: TargetFile,
    pub(crate) instance: String,
    pub(crate) version: Option<String>,
    pub(crate) inner: Inner,
}

impl Running {
    /// The backend that launched it (never `Auto`).
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Process(_) => Backend::Process,
            #[cfg(feature = "container")]
            Inner::Container(_) => Backend::Container,
            Inner::External(_) => Backend::External,
        }
    }

    pub fn target(&self) -> &TargetFile {
        &self.target
    }

    /// Where the port called `port_name` (a name from the target file) is reached.
    pub fn endpoint(&self, port_name: &str) -> Option<SocketAddr> {
        match &self.inner {
            Inner::Process(p) => p.port(port_name),
            #[cfg(feature = "container")]
            Inner::Container(c) => c.ports.get(port_name).copied(),
            Inner::External(e) => e.ports.get(port_name).copied(),
        }
    }

    /// Where the target serves `protocol` (a key of the target's `serves`).
    pub fn endpoint_for(&self, protocol: &str) -> Option<SocketAddr> {
        self.endpoint(&self.target.serves.get(protocol)?.port)
    }

    /// What it is, where it was reached, and what it has used so far.
    pub fn info(&self) -> TargetInfo {
        let endpoints = self
            .target
            .serves
            .keys()
            .filter_map(|proto| Some((proto.clone(), self.endpoint_for(proto)?.to_string())))
            .collect();
        let mut info = TargetInfo {
            name: self.target.name.clone(),
            description: self.target.description.clone(),
            version: self.version.clone(),
            endpoints,
            ..TargetInfo::default()
        };
        match &self.inner {
            Inner::Process(p) => {
                let (rss, cpu) = p.usage();
                info.ready_ms = Some(p.ready_ms);
                info.peak_rss_kib = Some(rss);
                info.cpu_ms = Some(cpu);
                info.logs = p.logs();
            }
            #[cfg(feature = "container")]
            Inner::Container(c) => {
                info.ready_ms = Some(c.ready_ms);
                info.logs = vec![c.log_rel.clone()];
            }
            Inner::External(_) => {}
        }
        info
    }

    /// The process groups hilt started for it (main program first, then helpers);
    /// empty for containers and external targets.
    pub fn process_groups(&self) -> Vec<i32> {
        match &self.inner {
            Inner::Process(p) => p.process_groups(),
            _ => Vec::new(),
        }
    }

    fn err(&self, action: &'static str, kind: Kind) -> LaunchError {
        LaunchError::new(action, &self.target.name, &self.instance, kind)
    }

    /// SIGKILL: the target dies as in a crash (helpers such as a private epmd stay).
    pub async fn kill(&mut self) -> Result<(), LaunchError> {
        let r = match &mut self.inner {
            Inner::Process(p) => p.kill().await,
            #[cfg(feature = "container")]
            Inner::Container(c) => c.kill().await,
            Inner::External(_) => Err(Kind::Unsupported {
                what: "an external target cannot be killed by hilt".into(),
            }),
        };
        r.map_err(|k| self.err("kill", k))
    }

    /// Stops the target (gracefully if it still runs) and starts it again on the same
    /// ports with the same data folder, so persistent sessions survive; returns once it
    /// is ready again.
    pub async fn restart(&mut self) -> Result<(), LaunchError> {
        let r = match &mut self.inner {
            Inner::Process(p) => p.restart().await.map(|took| {
                tracing::info!(
                    "{} ready again after {} ms",
                    self.target.name,
                    took.as_millis()
                );
            }),
            #[cfg(feature = "container")]
            Inner::Container(c) => c.restart().await,
            Inner::External(_) => Err(Kind::Unsupported {
                what: "an external target cannot be restarted by hilt".into(),
            }),
        };
        r.map_err(|k| self.err("restart", k))
    }

    /// Freezes the target (SIGSTOP), e.g. to see clients time out in a benchmark.
    pub fn pause(&mut self) -> Result<(), LaunchError> {
        self.signal("pause", Signal::SIGSTOP)
    }

    /// Continues a paused target (SIGCONT).
    pub fn resume(&mut self) -> Result<(), LaunchError> {
        self.signal("resume", Signal::SIGCONT)
    }

    fn signal(&mut self, action: &'static str, sig: Signal) -> Result<(), LaunchError> {
        let r = match &mut self.inner {
            Inner::Process(p) => p.signal_main(sig),
            #[cfg(feature = "container")]
            Inner::Container(_) => Err(Kind::Unsupported {
                what: "a container target cannot be paused by hilt yet".into(),
            }),
            Inner::External(_) => Err(Kind::Unsupported {
                what: "an external target cannot be paused by hilt".into(),
            }),
        };
        r.map_err(|k| self.err(action, k))
    }

    /// Whether the main program still runs. An external target counts as alive; a
    /// container's answer is hilt's own record (killed, stopped) rather than a query.
    pub fn is_alive(&mut self) -> bool {
        match &mut self.inner {
            Inner::Process(p) => p.is_alive(),
            #[cfg(feature = "container")]
            Inner::Container(c) => c.alive,
            Inner::External(_) => true,
        }
    }

    /// SIGTERM, then SIGKILL after a grace period; helpers are stopped too. Returns the
    /// final figures.
    pub async fn stop(mut self) -> TargetInfo {
        match &mut self.inner {
            Inner::Process(p) => p.stop().await,
            #[cfg(feature = "container")]
            Inner::Container(c) => c.stop().await,
            Inner::External(_) => {}
        }
        self.info()
    }
}
