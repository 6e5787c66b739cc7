//! What the TCP and UDP relays share: the state both directions of every connection
//! (or datagram session) read, and the handle that controls a running interposer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hilt_core::Direction;
use hilt_wire::{FrameMeta, FramerFactory};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::engine::{Outcome, RuleSet, Taken};
use super::event::{ConnLegs, LogEvent};
use super::rule::Rule;
use super::stats::{Stats, StatsCells, bump};
use crate::Recorder;
use crate::record::Transport;

/// Log entries buffered for live readers.
const LOG_CAPACITY: usize = 4096;

pub(super) struct Shared {
    pub origin: Instant,
    pub local: SocketAddr,
    pub upstream: SocketAddr,
    pub framers: FramerFactory,
    pub rules: Mutex<Arc<RuleSet>>,
    pub recorder: Option<Recorder>,
    pub well_known_port: Option<u16>,
    pub stats: StatsCells,
    pub log: broadcast::Sender<LogEvent>,
    pub conns: Mutex<Vec<ConnLegs>>,
    pub next_conn: AtomicU32,
}

impl Shared {
    pub fn new(
        local: SocketAddr,
        upstream: SocketAddr,
        framers: FramerFactory,
        rules: Vec<Rule>,
        recorder: Option<Recorder>,
        well_known_port: Option<u16>,
    ) -> Arc<Self> {
        let (log, _) = broadcast::channel(LOG_CAPACITY);
        Arc::new(Shared {
            origin: Instant::now(),
            local,
            upstream,
            framers,
            rules: Mutex::new(Arc::new(RuleSet {
                generation: 0,
                rules,
            })),
            recorder,
            well_known_port,
            stats: StatsCells::default(),
            log,
            conns: Mutex::default(),
            next_conn: AtomicU32::new(0),
        })
    }

    /// Time since the interposer started, as log entries carry it.
    pub fn at(&self) -> Duration {
        self.origin.elapsed()
    }

    pub fn logging(&self) -> bool {
        self.log.receiver_count() > 0
    }

    /// Numbers a new connection (UDP: session) and counts it. Its legs are opened
    /// once its upstream side exists ([`Self::open_legs`]).
    pub fn next_conn(&self) -> u32 {
        bump(&self.stats.connections, 1);
        self.next_conn.fetch_add(1, Relaxed)
    }

    /// Opens connection `conn`'s two legs in the recorder (the client's, and the one
    /// from `mine`, the interposer's own upstream address, to the server), lists them
    /// for [`Handle::connections`] and logs the opening.
    pub fn open_legs(
        &self,
        conn: u32,
        client: SocketAddr,
        mine: SocketAddr,
        transport: Transport,
    ) -> ConnLegs {
        let wk = self.well_known_port;
        let open = |from, to| {
            self.recorder
                .as_ref()
                .map(|r| r.open_with(from, to, wk, transport))
        };
        let legs = ConnLegs {
            conn,
            client,
            client_leg: open(client, self.local),
            upstream_leg: open(mine, self.upstream),
        };
        lock(&self.conns).push(legs);
        self.emit(|| LogEvent::Opened {
            at: self.at(),
            legs,
        });
        legs
    }

    /// Counts what the rules did with one frame going `way` on connection `conn`, and
    /// logs it.
    pub fn judged(&self, conn: u32, way: Direction, len: usize, meta: FrameMeta, out: &Outcome) {
        let cells = self.stats.dir(way);
        bump(&cells.frames, 1);
        bump(&cells.dropped, u64::from(!out.forwarded()));
        bump(&cells.mutated, u64::from(out.mutated()));
        for t in &out.taken {
            match t {
                Taken::Duplicated => bump(&cells.duplicated, 1),
                Taken::Delayed(_) => bump(&cells.delayed, 1),
                Taken::Held => bump(&cells.reordered, 1),
                Taken::InjectedBefore(_) | Taken::InjectedAfter(_) => bump(&cells.injected, 1),
                _ => {}
            }
        }
        self.emit(|| LogEvent::Frame {
            at: self.at(),
            conn,
            dir: way,
            len,
            meta,
            taken: out.taken.clone(),
        });
    }

    /// Sends a log entry, built only when someone listens.
    pub fn emit(&self, ev: impl FnOnce() -> LogEvent) {
        if self.logging() {
            // No receiver left between the check and the send is harmless.
            let _ = self.log.send(ev());
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Framer and closure panics are caught before they unwind through a guard, so a
    // poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Controls a running interposer, TCP or UDP. Dropping it stops the interposer.
pub struct Handle {
    shared: Arc<Shared>,
    /// The listener's task: it owns every relay task, which own their sockets.
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("local", &self.shared.local)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl Handle {
    pub(super) fn new(shared: Arc<Shared>, task: JoinHandle<()>) -> Self {
        Handle { shared, task }
    }

    /// Where clients connect (TCP) or send (UDP).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Replaces the rules. Connections already open switch at their next frame, and
    /// match numbering (`nth`, `count`, `after`) starts again under the new rules.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let mut cur = lock(&self.shared.rules);
        let generation = cur.generation.wrapping_add(1);
        *cur = Arc::new(RuleSet { generation, rules });
    }

    /// Counters so far; for UDP, `connections` counts sessions (client addresses seen).
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// The live log from now on. A reader that falls behind by more than a few
    /// thousand entries misses some (`RecvError::Lagged`), rather than slowing the relay.
    pub fn log(&self) -> broadcast::Receiver<LogEvent> {
        self.shared.log.subscribe()
    }

    /// Connections (UDP: sessions) relayed so far, with their recorder ids.
    pub fn connections(&self) -> Vec<ConnLegs> {
        lock(&self.shared.conns).clone()
    }

    /// Stops listening and drops every relayed connection. Idempotent.
    pub fn stop(&self) {
        // The listener task owns the set of relay tasks, and each relay owns its
        // reader/writer tasks: aborting the root drops them all, which closes the sockets.
        self.task.abort();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}
