//! What every client test sets up: hilt's server, the interposer in front of it with
//! the test's faults and the control's, and the device's command aimed at the
//! interposer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hilt_net::interposer::{Handle, Rule, UdpInterposer};
use hilt_runner::{CommandOutcome, CommandRun, Ctx, Failure};
use hilt_wire::coap::{
    COAP_PORT, CoapFramer, Code, EndpointEvent, Exchange, Message, MessageType, OptionNumber,
};
use tokio::time::Instant;

use super::server::Server;

/// How often a test looks whether the client has exited while it serves.
const EXIT_CHECK: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct Bench {
    pub server: Server,
    /// Held so the interposer runs as long as the test.
    _proxy: Handle,
    /// Where the client is told to send: the interposer.
    pub device_addr: SocketAddr,
    /// The target's response time: slack for the client's own reactions.
    pub response: Duration,
}

/// A seed unique to the test attempt, so Message IDs and timeouts differ between tests
/// but repeat when an attempt is replayed.
fn seed(ctx: &Ctx) -> u64 {
    ctx.unique("")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

impl Bench {
    /// Starts the server and the interposer with `faults` (the test's stimulus), then
    /// the control's rules when this is a control run.
    pub async fn start(ctx: &Ctx, faults: Vec<Rule>) -> Result<Self, Failure> {
        let server = Server::bind(seed(ctx)).await?;
        let mut rules = faults;
        rules.extend(ctx.control_rules());
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let proxy = UdpInterposer::start(
            listen,
            server.addr()?,
            Arc::new(|| Box::new(CoapFramer::new())),
            rules,
            Some(ctx.recorder().clone()),
            Some(COAP_PORT),
        )
        .await
        .map_err(|e| Failure::error(format!("cannot start the interposer: {e}")))?;
        Ok(Bench {
            server,
            device_addr: proxy.local_addr(),
            _proxy: proxy,
            response: ctx.response_timeout(),
        })
    }

    /// Starts the device's `stimulus` command against the interposer; `{wait_s}` is
    /// filled with the whole seconds left until `deadline`.
    pub async fn device(
        &self,
        ctx: &Ctx,
        stimulus: &str,
        params: &[(&str, String)],
        deadline: Instant,
    ) -> Result<CommandRun, Failure> {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        let mut all = params.to_vec();
        all.push(("wait_s", wait.to_string()));
        ctx.start_device(stimulus, self.device_addr, &all).await
    }

    /// Serves requests with `answer` until the client has exited (and `response` more,
    /// for anything it sent last) or `deadline`; returns the other events.
    pub async fn serve(
        &mut self,
        run: &mut CommandRun,
        deadline: Instant,
        mut answer: impl FnMut(&mut Server, &Exchange, &Message),
    ) -> Result<Vec<EndpointEvent>, Failure> {
        let mut events = Vec::new();
        let mut until = deadline;
        let mut exited = false;
        while Instant::now() < until {
            let slice = until.min(Instant::now() + EXIT_CHECK);
            events.extend(self.server.serve_until(slice, &mut answer).await?);
            if !exited && !run.is_running() {
                exited = true;
                until = until.min(Instant::now() + self.response);
            }
        }
        Ok(events)
    }
}

/// A 2.05 (Content) text/plain response.
pub fn content(payload: &[u8]) -> Message {
    Message::new(MessageType::Con, Code::CONTENT, 0)
        .with_uint(OptionNumber::ContentFormat, 0)
        .with_payload(payload.to_vec())
}

/// How the client ended, and the end of its stderr, for failure messages.
pub fn ended(o: &CommandOutcome) -> String {
    let err = o.stderr.trim();
    let tail: Vec<&str> = err.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if tail.is_empty() {
        format!("`{}` {}", o.command, o.status())
    } else {
        format!(
            "`{}` {}; stderr ends: {}",
            o.command,
            o.status(),
            tail.join(" | ")
        )
    }
}

/// Seconds with millisecond precision, for messages.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}
