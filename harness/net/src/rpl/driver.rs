//! Runs an RPL [`Node`] (router or root) on an [`Ipv6Link`] in real time: frames heard
//! go to the core, frames it wants sent go out, its deadlines become timers.

use std::io;
use std::net::Ipv6Addr;
use std::time::Duration;

use hilt_core::{Direction, Instant};
use hilt_wire::rpl::{Event, Node, RandomSource, SplitMix64, Transmit};
use tokio::sync::mpsc;

use super::link::Ipv6Link;
use super::mutate::{Fault, Mutator};
use crate::Recorder;

/// What a running driver can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Root: a new DODAG Version (global repair, RFC 6550 §8.2.2.1).
    GlobalRepair,
    /// A new DTSN, asking the sub-DODAG for fresh DAOs (§9.6).
    RefreshRoutes,
}

/// User-space link emulation and faults applied between the core and the link.
#[derive(Debug, Clone, Default)]
pub struct DriverOptions {
    pub faults: Vec<Fault>,
    /// Only these neighbours (link-local) are heard, as if the rest were out of range:
    /// a shared segment becomes any topology. Empty: everyone.
    pub hear_only: Vec<Ipv6Addr>,
    /// Probability that a heard datagram is lost.
    pub loss: f64,
    /// Seeds the loss.
    pub seed: u64,
}

/// One core on one link.
#[derive(Debug)]
pub struct Driver<L> {
    node: Node,
    link: L,
    mutator: Mutator,
    opts: DriverOptions,
    rng: SplitMix64,
    origin: std::time::Instant,
    recording: Option<(Recorder, u32)>,
}

impl<L: Ipv6Link> Driver<L> {
    /// `node` must be built but not started; the driver starts it. A root's Trickle
    /// faults must already be applied to its configuration
    /// ([`Mutator::adjust_root`]); `mutator` comes from the same faults.
    pub fn new(node: Node, link: L, opts: DriverOptions, mutator: Mutator) -> Self {
        Driver {
            node,
            link,
            mutator,
            rng: SplitMix64::new(opts.seed ^ 0x6c69_6e6b),
            opts,
            origin: std::time::Instant::now(),
            recording: None,
        }
    }

    /// Records every datagram sent and heard (before faults and filters) on `recorder`.
    pub fn record(&mut self, recorder: &Recorder, description: &str) {
        let conn = recorder.open_ipv6_link(description);
        self.recording = Some((recorder.clone(), conn));
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }

    fn heard(&mut self, from: Ipv6Addr) -> bool {
        if !self.opts.hear_only.is_empty() && !self.opts.hear_only.contains(&from) {
            return false;
        }
        if self.opts.loss > 0.0 {
            let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            return u >= self.opts.loss;
        }
        true
    }

    async fn send(&mut self, tx: Transmit) -> io::Result<()> {
        for t in self.mutator.outgoing(tx) {
            if let Some((r, c)) = &self.recording {
                r.record(*c, Direction::Sent, &t.bytes);
            }
            self.link.send(t.to, &t.bytes).await?;
        }
        Ok(())
    }

    /// Runs until the link fails or `commands` is closed, calling `on_event` with the
    /// time since start for everything the core reports.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut on_event: impl FnMut(Duration, &Event),
    ) -> io::Result<()> {
        let start = self.now();
        self.node.start(start);
        let mut commands_open = true;
        loop {
            while let Some(tx) = self.node.poll_transmit() {
                self.send(tx).await?;
            }
            for tx in self.mutator.take_extra() {
                if let Some((r, c)) = &self.recording {
                    r.record(*c, Direction::Sent, &tx.bytes);
                }
                self.link.send(tx.to, &tx.bytes).await?;
            }
            while let Some(e) = self.node.poll_event() {
                on_event(self.origin.elapsed(), &e);
            }
            let sleep = self.node.poll_timeout().map(|t| {
                let d = Duration::from_micros(t.as_micros().saturating_sub(self.now().as_micros()));
                tokio::time::Instant::now() + d
            });
            tokio::select! {
                heard = self.link.recv() => {
                    let heard = heard?;
                    if let Some((r, c)) = &self.recording {
                        r.record_at(*c, Direction::Received, &heard.bytes, heard.at);
                    }
                    if !self.heard(heard.from) {
                        continue;
                    }
                    let now = self.now();
                    if let Some(bytes) = self.mutator.incoming(now, Some(&mut self.node), heard.from, heard.bytes) {
                        self.node.handle_input(now, heard.from, &bytes);
                    }
                }
                () = sleep_until(sleep) => {
                    let now = self.now();
                    self.node.handle_timeout(now);
                }
                cmd = commands.recv(), if commands_open => {
                    let now = self.now();
                    match cmd {
                        Some(Command::GlobalRepair) => self.node.global_repair(now),
                        Some(Command::RefreshRoutes) => self.node.refresh_routes(now),
                        None => commands_open = false,
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// One line per event, `key=value` after the event's name, for logs and scripts.
pub fn describe(e: &Event) -> String {
    match e {
        Event::Joined {
            dodag_id,
            version,
            rank,
            parent,
        } => format!("joined dodag={dodag_id} version={version} rank={rank} parent={parent}"),
        Event::ParentChanged { old, new } => format!(
            "parent-changed old={} new={}",
            opt(old.as_ref()),
            opt(new.as_ref())
        ),
        Event::RankChanged { old, new } => format!("rank-changed old={old} new={new}"),
        Event::LocalRepair { rank_before } => format!("local-repair rank-before={rank_before}"),
        Event::GlobalRepair { version } => format!("global-repair version={version}"),
        Event::DaoAcknowledged { sequence, status } => {
            format!("dao-acknowledged sequence={sequence} status={status}")
        }
        Event::DaoFailed { sequence } => format!("dao-failed sequence={sequence}"),
        Event::RouteAdded { target } => format!("route-added target={target}"),
        Event::RouteRemoved { target, expired } => {
            format!("route-removed target={target} expired={expired}")
        }
        Event::Delivered {
            src,
            ident,
            seq,
            hops,
        } => format!("delivered src={src} ident={ident} seq={seq} hops={hops}"),
        Event::Dropped { dst, reason } => format!("dropped dst={dst} reason={reason:?}"),
        Event::Violation { from, rule, detail } => {
            format!("violation from={from} rule={rule} detail={detail:?}")
        }
    }
}

fn opt(a: Option<&Ipv6Addr>) -> String {
    a.map_or_else(|| "none".into(), ToString::to_string)
}
