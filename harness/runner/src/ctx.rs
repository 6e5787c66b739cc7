//! What a running test may use: the target's endpoints, recorded connections, unique
//! names, deadlines, and (for exclusive tests) control over the target's process.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hilt_core::target::Device;
use hilt_core::{CapabilitySet, SpecRef};
use hilt_net::interposer::Rule;
use hilt_net::serial::Console;
use hilt_net::{RecordedTcp, RecordedUdp, Recorder};
use hilt_peers::{CommandRun, Running};
use tokio::sync::Mutex;

use crate::case::{Control, Failure, Isolation};

/// The context of one attempt of one test against one target. Cheap to clone.
#[derive(Clone)]
pub struct Ctx {
    pub(crate) inner: Arc<CtxInner>,
}

pub(crate) struct CtxInner {
    pub test_id: String,
    pub target_name: String,
    pub recorder: Recorder,
    /// Protocol → address the test should connect to (the interposer's in a control).
    pub endpoints: BTreeMap<String, SocketAddr>,
    pub capabilities: CapabilitySet,
    pub response: Duration,
    /// Short token unique to this run, test and attempt; the base of client ids and topics.
    pub token: String,
    pub well_known_port: Option<u16>,
    pub isolation: Isolation,
    pub target: Arc<Mutex<Option<Running>>>,
    /// The device under test, for suites that judge a client.
    pub device: Option<Device>,
    /// The negative control the test applies itself (a client suite's control run:
    /// the test owns the interposer, since it owns the server).
    pub control: Option<Control>,
    /// What the test measured, kept as the message of a pass.
    pub notes: std::sync::Mutex<Vec<String>>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("test", &self.inner.test_id)
            .field("target", &self.inner.target_name)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    pub fn test_id(&self) -> &str {
        &self.inner.test_id
    }

    pub fn target_name(&self) -> &str {
        &self.inner.target_name
    }

    pub fn recorder(&self) -> &Recorder {
        &self.inner.recorder
    }

    pub fn has(&self, capability: &str) -> bool {
        self.inner.capabilities.has(capability)
    }

    /// The longest a healthy target takes to answer on loopback (from its target file):
    /// the deadline for replies the protocol requires without giving a deadline.
    pub fn response_timeout(&self) -> Duration {
        self.inner.response
    }

    /// Where to reach the target's `protocol` service.
    pub fn endpoint(&self, protocol: &str) -> Result<SocketAddr, Failure> {
        self.inner.endpoints.get(protocol).copied().ok_or_else(|| {
            Failure::error(format!(
                "target `{}` serves no `{protocol}` endpoint",
                self.inner.target_name
            ))
        })
    }

    /// Opens a recorded TCP connection to the target's `protocol` service.
    pub async fn connect(&self, protocol: &str) -> Result<RecordedTcp, Failure> {
        let addr = self.endpoint(protocol)?;
        RecordedTcp::connect(addr, &self.inner.recorder, self.well_known_port(protocol))
            .await
            .map_err(|e| Failure::error(format!("cannot connect to {protocol} at {addr}: {e}")))
    }

    /// Opens a recorded UDP socket connected to the target's `protocol` service.
    pub async fn udp(&self, protocol: &str) -> Result<RecordedUdp, Failure> {
        let addr = self.endpoint(protocol)?;
        RecordedUdp::connect(addr, &self.inner.recorder, self.well_known_port(protocol))
            .await
            .map_err(|e| {
                Failure::error(format!(
                    "cannot open a UDP socket to {protocol} at {addr}: {e}"
                ))
            })
    }

    /// The port traces give `protocol`'s streams: its IANA port where hilt knows one,
    /// else the suite's.
    fn well_known_port(&self, protocol: &str) -> Option<u16> {
        hilt_wire::well_known_port(protocol).or(self.inner.well_known_port)
    }

    /// A name unique to this test attempt, at most 23 characters of `[0-9a-zA-Z]`
    /// (the client identifier every MQTT server must accept), ending in `label`.
    pub fn unique(&self, label: &str) -> String {
        let label: String = label
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(23 - self.inner.token.len())
            .collect();
        format!("{}{label}", self.inner.token)
    }

    /// A topic (or queue, or resource) name unique to this test attempt.
    pub fn topic(&self, suffix: &str) -> String {
        format!("hilt/{}/{suffix}", self.inner.token)
    }

    /// Restarts the target (same ports, same data): for persistence tests. Only tests
    /// registered as exclusive may do it, since others would see their broker vanish.
    pub async fn restart_target(&self) -> Result<(), Failure> {
        self.require_exclusive("restart")?;
        let mut guard = self.inner.target.lock().await;
        let running = guard
            .as_mut()
            .ok_or_else(|| Failure::error("the target is not running"))?;
        running
            .restart()
            .await
            .map_err(|e| Failure::error(format!("failed to restart the target: {e}")))
    }

    /// Kills the target as a crash would (SIGKILL), then starts it again.
    pub async fn crash_and_restart_target(&self) -> Result<(), Failure> {
        self.require_exclusive("crash")?;
        let mut guard = self.inner.target.lock().await;
        let running = guard
            .as_mut()
            .ok_or_else(|| Failure::error("the target is not running"))?;
        running
            .kill()
            .await
            .map_err(|e| Failure::error(format!("failed to kill the target: {e}")))?;
        running
            .restart()
            .await
            .map_err(|e| Failure::error(format!("failed to restart the target after a kill: {e}")))
    }

    fn require_exclusive(&self, what: &str) -> Result<(), Failure> {
        if self.inner.isolation != Isolation::Exclusive {
            return Err(Failure::error(format!(
                "test `{}` must be registered exclusive to {what} the target",
                self.inner.test_id
            )));
        }
        Ok(())
    }

    /// Records what the test measured (timings, counts); a passing test shows its notes
    /// as its message, so a report keeps the figures behind a pass too.
    pub fn note(&self, text: impl Into<String>) {
        self.inner
            .notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(text.into());
    }

    pub(crate) fn notes(&self) -> Vec<String> {
        self.inner
            .notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The interposer rules of this attempt's negative control, for a test that puts
    /// the interposer in place itself (a client suite); empty outside control runs.
    pub fn control_rules(&self) -> Vec<Rule> {
        self.inner
            .control
            .as_ref()
            .map(|c| (c.rules)())
            .unwrap_or_default()
    }

    /// Whether this attempt runs under its negative control.
    pub fn is_control_run(&self) -> bool {
        self.inner.control.is_some()
    }

    /// Starts the device's command for `stimulus` against `addr` (filling `{host}` and
    /// `{port}`), with the stimulus' own placeholders from `params`. A device that has
    /// no command for the stimulus skips the test.
    pub async fn start_device(
        &self,
        stimulus: &str,
        addr: SocketAddr,
        params: &[(&str, String)],
    ) -> Result<CommandRun, Failure> {
        let device = self.inner.device.as_ref().ok_or_else(|| {
            Failure::error(format!(
                "target `{}` is not a device (its file has no `device` section)",
                self.inner.target_name
            ))
        })?;
        let cmd = device.commands.get(stimulus).ok_or_else(|| {
            Failure::skip(format!(
                "the device file gives no `{stimulus}` command (it gives: {})",
                device
                    .commands
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let mut values: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        values.insert("host".into(), addr.ip().to_string());
        values.insert("port".into(), addr.port().to_string());
        hilt_peers::start_command(cmd, &values)
            .await
            .map_err(|e| Failure::error(format!("failed to start the `{stimulus}` command: {e}")))
    }

    /// The device under test's file section, for suites that start its commands their
    /// own way (inside a network namespace, say).
    pub fn device(&self) -> Option<&Device> {
        self.inner.device.as_ref()
    }

    /// The console of a device on a rig: a reader of its lines from now on, and every
    /// line it printed before (its boot banner first). A target that is no device on a
    /// rig skips the test.
    pub async fn rig_console(&self) -> Result<(Console, Vec<String>), Failure> {
        let guard = self.inner.target.lock().await;
        let running = guard
            .as_ref()
            .ok_or_else(|| Failure::error("the target is not running"))?;
        match (running.console(), running.console_transcript()) {
            (Some(c), Some(t)) => Ok((c, t)),
            _ => Err(Failure::skip(format!(
                "target `{}` is not a device on a rig: it has no console",
                self.inner.target_name
            ))),
        }
    }

    /// Records the packets that crossed the link of a device on a rig from `since_us`
    /// (µs since the Unix epoch) on into this test's trace, as one IPv6 link: the
    /// evidence of a test that drives the device through its console.
    pub async fn record_rig_link(&self, since_us: u64) {
        let packets = match self.inner.target.lock().await.as_ref() {
            Some(r) => r.link_packets(since_us),
            None => return,
        };
        let rec = &self.inner.recorder;
        let link = rec.open_ipv6_link(&format!("SLIP link of {}", self.inner.target_name));
        let wall_now = crate::run::now().0;
        let mono_now = std::time::Instant::now();
        for (t, from_device, bytes) in packets {
            let at = mono_now
                .checked_sub(Duration::from_micros(wall_now.saturating_sub(t)))
                .unwrap_or(mono_now);
            let dir = if from_device {
                hilt_core::Direction::Received
            } else {
                hilt_core::Direction::Sent
            };
            rec.record_at(link, dir, &bytes, at);
        }
    }

    /// When the device on a rig last joined hilt's DODAG (since its link came up).
    pub async fn rig_joined_at(&self) -> Option<Duration> {
        self.inner.target.lock().await.as_ref()?.joined_at()
    }

    /// Waits, up to the rig's join timeout, until the device on a rig joins hilt's
    /// DODAG again after `after` (it was reset); says when. Only exclusive tests may
    /// reset a device, since others would lose it meanwhile.
    pub async fn rig_rejoined(&self, after: Duration) -> Result<Option<Duration>, Failure> {
        self.require_exclusive("reset")?;
        let mut guard = self.inner.target.lock().await;
        let running = guard
            .as_mut()
            .ok_or_else(|| Failure::error("the target is not running"))?;
        Ok(running.rejoined(after).await)
    }

    /// Fails with `rule` unless `cond` holds.
    pub fn ensure(
        &self,
        cond: bool,
        rule: SpecRef,
        message: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        if cond {
            Ok(())
        } else {
            Err(Failure::fail(rule, message()))
        }
    }
}
