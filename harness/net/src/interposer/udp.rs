//! The datagram relay: one local UDP socket that clients send to; per client address
//! (a *session*) an upstream socket connected to the server. Every datagram is one
//! frame for the rule engine, in both directions.
//!
//! The rule engine is the TCP relay's ([`super::engine`]); what a stream-only action
//! means here: `split` sends the datagram whole (there are no segments to cut), and
//! every kind of `close` turns the session into a black hole (UDP has no FIN or reset
//! to pass on). Drop, delay, duplicate, reorder, corrupt, patch, rewrite, inject and
//! stall work per datagram.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hilt_core::Direction;
use hilt_wire::{FrameMeta, Framer, FramerFactory};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::engine::{DirEngine, Emit, Halt};
use super::event::ConnLegs;
use super::relay::{Handle, Shared, lock};
use super::rule::Rule;
use super::stats::bump;
use crate::Recorder;
use crate::record::Transport;
use crate::udp::{MAX_DATAGRAM, recv_stamped, stamp_arrivals};

/// Datagrams queued per direction of a session before the reader waits.
const QUEUE: usize = 256;

/// The UDP interposer: relays datagrams between clients and a server through the rule engine.
#[derive(Debug)]
pub struct UdpInterposer;

impl UdpInterposer {
    /// Listens on `listen` (port 0 picks one) and relays each client's datagrams to
    /// `upstream`, recording both legs of each session to `recorder` as UDP flows.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        framers: FramerFactory,
        rules: Vec<Rule>,
        recorder: Option<Recorder>,
        well_known_port: Option<u16>,
    ) -> io::Result<Handle> {
        let socket = Arc::new(UdpSocket::bind(listen).await?);
        stamp_arrivals(&socket)?;
        let local = socket.local_addr()?;
        let shared = Shared::new(local, upstream, framers, rules, recorder, well_known_port);
        let task = tokio::spawn(listen_loop(socket, shared.clone()));
        Ok(Handle::new(shared, task))
    }
}

/// One client address and its upstream socket.
struct Session {
    shared: Arc<Shared>,
    legs: ConnLegs,
    client: SocketAddr,
    listener: Arc<UdpSocket>,
    upstream: UdpSocket,
    /// Index 0 describes what goes to the server, 1 what goes to the client.
    framers: [Mutex<Box<dyn Framer>>; 2],
    engines: [Mutex<DirEngine>; 2],
    black_hole: AtomicBool,
    queues: [mpsc::Sender<(Vec<u8>, Option<tokio::time::Instant>)>; 2],
}

fn idx(way: Direction) -> usize {
    match way {
        Direction::Sent => 0,
        Direction::Received => 1,
    }
}

async fn listen_loop(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut sessions: HashMap<SocketAddr, Arc<Session>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            r = recv_stamped(&socket, &mut buf) => match r {
                Ok((n, from, at)) => {
                    let session = match sessions.get(&from) {
                        Some(s) => s.clone(),
                        None => match open_session(&shared, &socket, from, &mut tasks).await {
                            Ok(s) => {
                                sessions.insert(from, s.clone());
                                s
                            }
                            Err(e) => {
                                tracing::warn!("udp interposer: no upstream socket for {from}: {e}");
                                continue;
                            }
                        },
                    };
                    session.on_datagram(Direction::Sent, &buf[..n], at).await;
                }
                // An ICMP error from an earlier send to a client: nothing to relay.
                Err(e) => tracing::debug!("udp interposer receive: {e}"),
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
}

async fn open_session(
    shared: &Arc<Shared>,
    listener: &Arc<UdpSocket>,
    client: SocketAddr,
    tasks: &mut JoinSet<()>,
) -> io::Result<Arc<Session>> {
    let any: SocketAddr = if shared.upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let upstream = UdpSocket::bind(any).await?;
    upstream.connect(shared.upstream).await?;
    stamp_arrivals(&upstream)?;
    let mine = upstream.local_addr()?;
    let conn = shared.next_conn();
    let legs = shared.open_legs(conn, client, mine, Transport::Udp);
    let (ts_tx, ts_rx) = mpsc::channel(QUEUE);
    let (tc_tx, tc_rx) = mpsc::channel(QUEUE);
    let session = Arc::new(Session {
        shared: shared.clone(),
        legs,
        client,
        listener: listener.clone(),
        upstream,
        framers: [
            Mutex::new((shared.framers)()),
            Mutex::new((shared.framers)()),
        ],
        engines: [
            Mutex::new(DirEngine::new(Direction::Sent)),
            Mutex::new(DirEngine::new(Direction::Received)),
        ],
        black_hole: AtomicBool::new(false),
        queues: [ts_tx, tc_tx],
    });
    tasks.spawn(writer(session.clone(), Direction::Sent, ts_rx));
    tasks.spawn(writer(session.clone(), Direction::Received, tc_rx));
    tasks.spawn(upstream_reader(session.clone()));
    Ok(session)
}

/// Datagrams from the server, for this session's client.
async fn upstream_reader(s: Arc<Session>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match recv_stamped(&s.upstream, &mut buf).await {
            Ok((n, _, at)) => s.on_datagram(Direction::Received, &buf[..n], at).await,
            // ICMP port unreachable: the server is not (yet) there; keep listening, as
            // a client retransmitting would.
            Err(e) => {
                tracing::debug!("udp interposer upstream receive: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Sends one direction's datagrams in queue order, each not before its time.
async fn writer(
    s: Arc<Session>,
    way: Direction,
    mut rx: mpsc::Receiver<(Vec<u8>, Option<tokio::time::Instant>)>,
) {
    while let Some((bytes, not_before)) = rx.recv().await {
        if let Some(t) = not_before {
            tokio::time::sleep_until(t).await;
        }
        if s.black_hole.load(Relaxed) {
            continue;
        }
        let sent = match way {
            Direction::Sent => s.upstream.send(&bytes).await,
            Direction::Received => s.listener.send_to(&bytes, s.client).await,
        };
        match sent {
            Ok(_) => s.record(way, &bytes, true, Instant::now()),
            Err(e) => tracing::debug!("udp interposer send: {e}"),
        }
    }
}

impl Session {
    /// Records on the leg the datagram was read from (`written` false) or written to.
    fn record(&self, way: Direction, bytes: &[u8], written: bool, at: Instant) {
        let leg = match (way, written) {
            (Direction::Sent, false) | (Direction::Received, true) => self.legs.client_leg,
            (Direction::Received, false) | (Direction::Sent, true) => self.legs.upstream_leg,
        };
        if let (Some(r), Some(id)) = (&self.shared.recorder, leg) {
            r.record_at(id, way, bytes, at);
        }
    }

    /// Relays one datagram that the kernel received at `arrived`: a scripted delay
    /// counts from then, not from when this task got to it.
    async fn on_datagram(&self, way: Direction, datagram: &[u8], arrived: Instant) {
        self.record(way, datagram, false, arrived);
        let cells = self.shared.stats.dir(way);
        bump(&cells.bytes, datagram.len() as u64);
        if datagram.is_empty() {
            return;
        }
        let meta = describe(&self.framers[idx(way)], datagram);
        let rules = lock(&self.shared.rules).clone();
        let out = {
            let mut engine = lock(&self.engines[idx(way)]);
            if self.black_hole.load(Relaxed) {
                engine.stall();
            }
            engine.on_frame(&rules, datagram, &meta)
        };
        self.shared
            .judged(self.legs.conn, way, datagram.len(), meta, &out);
        let now = tokio::time::Instant::from_std(arrived);
        for Emit { bytes, delay, .. } in out.emits {
            let not_before = (!delay.is_zero()).then(|| now + delay);
            // A full queue means the writer is behind; waiting keeps the order.
            let _ = self.queues[idx(way)].send((bytes, not_before)).await;
        }
        if let Some(Halt::Close(_)) = out.halt {
            self.black_hole.store(true, Relaxed);
        }
    }
}

fn describe(framer: &Mutex<Box<dyn Framer>>, datagram: &[u8]) -> FrameMeta {
    let mut f = lock(framer);
    // A framer that panics on hostile input must not take the relay down.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.describe(datagram))).unwrap_or_else(
        |_| FrameMeta {
            kind: "UNKNOWN",
            summary: format!("{} bytes (the framer panicked)", datagram.len()),
            problems: Vec::new(),
        },
    )
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::interposer::{Action, Dir, Match};

    struct Raw;
    impl Framer for Raw {
        fn frame_len(&mut self, buf: &[u8]) -> Result<hilt_wire::Decoded<usize>, String> {
            Ok(hilt_wire::Decoded::Done(buf.len(), buf.len()))
        }
        fn describe(&mut self, frame: &[u8]) -> FrameMeta {
            FrameMeta {
                kind: if frame.first() == Some(&b'x') {
                    "X"
                } else {
                    "D"
                },
                summary: String::new(),
                problems: Vec::new(),
            }
        }
    }

    /// An echo server, an interposer in front of it, a client: what comes back.
    async fn echo_through(rules: Vec<Rule>, send: &[&[u8]]) -> (Vec<Vec<u8>>, Recorder) {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let upstream = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = server.recv_from(&mut buf).await {
                let _ = server.send_to(&buf[..n], from).await;
            }
        });
        let rec = Recorder::new();
        let h = UdpInterposer::start(
            "127.0.0.1:0".parse().unwrap(),
            upstream,
            Arc::new(|| Box::new(Raw)),
            rules,
            Some(rec.clone()),
            Some(5683),
        )
        .await
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(h.local_addr()).await.unwrap();
        for d in send {
            client.send(d).await.unwrap();
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 1500];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(300), client.recv(&mut buf)).await
        {
            got.push(buf[..n].to_vec());
        }
        (got, rec)
    }

    #[tokio::test]
    async fn relays_and_records_both_legs() {
        let (got, rec) = echo_through(vec![], &[b"a1", b"a2"]).await;
        assert_eq!(got, [b"a1".to_vec(), b"a2".to_vec()]);
        let conns = rec.conns();
        assert_eq!(conns.len(), 2, "client leg and upstream leg");
        assert!(conns.iter().all(|c| c.transport == crate::Transport::Udp));
        // Each datagram: read + written on both legs, both ways.
        assert_eq!(rec.chunks().len(), 8);
    }

    #[tokio::test]
    async fn rules_apply_per_datagram() {
        let rules = vec![
            Rule::new(Dir::ToClient, Match::kind("X"), Action::Drop),
            Rule::new(Dir::ToServer, Match::Any, Action::Duplicate).nth(2),
            Rule::new(
                Dir::ToClient,
                Match::Any,
                Action::Patch {
                    offset: 0,
                    bytes: vec![b'P'],
                },
            )
            .nth(1),
        ];
        let (got, _) = echo_through(rules, &[b"x1", b"d2", b"d3"]).await;
        // x1 is echoed but dropped on its way back, which also uses up the patch's
        // first match; d2 reaches the server twice.
        assert_eq!(got, [b"d2".to_vec(), b"d2".to_vec(), b"d3".to_vec()]);
    }
}
