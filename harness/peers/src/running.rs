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
use crate::rig::RigTarget;

#[derive(Debug)]
pub(crate) enum Inner {
    Process(Box<ProcessTarget>),
    #[cfg(feature = "container")]
    Container(Box<ContainerTarget>),
    External(ExternalTarget),
    Rig(Box<RigTarget>),
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
            Inner::Rig(_) => Backend::Rig,
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
            Inner::Rig(r) => r.ports.get(port_name).copied(),
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
            Inner::Rig(r) => {
                info.ready_ms = Some(r.ready_ms);
                info.logs = r.logs();
            }
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
            Inner::Rig(_) => Err(Kind::Unsupported {
                what: "a device on a rig is reset from its console, not killed".into(),
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
            Inner::Rig(_) => Err(Kind::Unsupported {
                what: "a device on a rig is reset from its console, not restarted".into(),
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
            Inner::Rig(_) => Err(Kind::Unsupported {
                what: "a device on a rig cannot be paused by hilt yet".into(),
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
            Inner::External(_) | Inner::Rig(_) => true,
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
            Inner::Rig(r) => r.stop().await,
        }
        self.info()
    }

    /// A reader of the console lines of a device on a rig (from now on); `None` for
    /// other targets.
    pub fn console(&self) -> Option<hilt_net::serial::Console> {
        match &self.inner {
            Inner::Rig(r) => Some(r.console()),
            _ => None,
        }
    }

    /// For a device on a rig: every console line it printed since its line was opened
    /// (the boot banner first); `None` for other targets.
    pub fn console_transcript(&self) -> Option<Vec<String>> {
        match &self.inner {
            Inner::Rig(r) => Some(r.transcript()),
            _ => None,
        }
    }

    /// For a device on a rig: the packets that crossed its link from `since_us` (µs
    /// since the Unix epoch) on, each with whether the device sent it.
    pub fn link_packets(&self, since_us: u64) -> Vec<(u64, bool, Vec<u8>)> {
        match &self.inner {
            Inner::Rig(r) => r.link_packets(since_us),
            _ => Vec::new(),
        }
    }

    /// For a device on a rig: when it last joined hilt's DODAG (since its link came up).
    pub fn joined_at(&self) -> Option<std::time::Duration> {
        match &self.inner {
            Inner::Rig(r) => r.bridge_state().joined.map(|(_, at)| at),
            _ => None,
        }
    }

    /// For a device on a rig: waits (up to the rig's join timeout) until it joins again
    /// after `after` (a reset), and says when; `None` if it did not.
    pub async fn rejoined(&mut self, after: std::time::Duration) -> Option<std::time::Duration> {
        match &mut self.inner {
            Inner::Rig(r) => r.rejoined(after).await.map(|(_, at)| at),
            _ => None,
        }
    }
}
