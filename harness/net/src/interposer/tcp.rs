//! The TCP relay: one listener, and per accepted client an upstream connection, two
//! readers (one per direction) that frame and judge, and two writers that send.
//!
//! Readers never wait on writers' timing: a delayed frame waits in its writer's queue,
//! so reading (and recording arrival times) goes on. Each reader owns its direction's
//! framer and rule state; the connection-wide states (black hole, closing) are flags.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hilt_core::Direction;
pub use hilt_wire::FramerFactory;
use hilt_wire::{Decoded, FrameMeta, Framer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::engine::{DirEngine, Emit, Halt};
use super::event::{ConnLegs, LogEvent};
use super::relay::{Handle, Shared, lock};
use super::rule::{CloseKind, Rule};
use super::stats::bump;
use crate::Recorder;
use crate::record::Transport;

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 64 * 1024;
/// A frame the framer says is longer than this is not buffered: the direction goes
/// opaque instead, so a hostile length field cannot exhaust memory.
pub const MAX_FRAME: usize = 16 << 20;
/// Pause between the segments of a split frame. Without it, segments written back to
/// back on loopback land in the receiver's buffer together and it reads them as one,
/// which hides exactly the reassembly path the split is meant to exercise.
pub const SPLIT_GAP: Duration = Duration::from_millis(5);
/// How long an upstream connect may take before the client is reset.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an orderly close may wait for queued bytes to drain before it turns abortive.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Frames (or chunks) queued per direction before the reader waits for the writer.
const QUEUE: usize = 256;

/// The TCP interposer. See the [module docs](super) for what it does.
#[derive(Debug)]
pub struct Interposer;

impl Interposer {
    /// Listens on `listen` (port 0 picks one) and relays each client to `upstream`.
    ///
    /// Every relayed connection is recorded to `recorder` as two connections (see
    /// [`ConnLegs`]), with `well_known_port` written into their pcapng.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        framers: FramerFactory,
        rules: Vec<Rule>,
        recorder: Option<Recorder>,
        well_known_port: Option<u16>,
    ) -> io::Result<Handle> {
        let listener = TcpListener::bind(listen).await?;
        let local = listener.local_addr()?;
        let shared = Shared::new(local, upstream, framers, rules, recorder, well_known_port);
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Handle::new(shared, accept))
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut relays = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((client, addr)) => {
                    relays.spawn(relay(shared.clone(), client, addr));
                }
                Err(e) => {
                    // Usually out of descriptors; retrying at once would spin.
                    tracing::warn!("interposer accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}

/// What a relay task reports when it ends.
#[derive(Debug)]
enum TaskEnd {
    /// A reader saw end of stream.
    Eof,
    /// A writer finished its queue.
    WriterDone,
    /// A rule cut the connection.
    Close(CloseKind),
    /// A socket failed; `reset` when the peer reset it.
    Failed {
        side: &'static str,
        reset: bool,
        error: String,
    },
}

#[derive(Debug)]
enum Op {
    Send {
        bytes: Vec<u8>,
        split: Vec<usize>,
        not_before: Option<tokio::time::Instant>,
    },
    Fin,
}

struct Conn {
    shared: Arc<Shared>,
    legs: ConnLegs,
    client: TcpStream,
    server: TcpStream,
    /// Index 0 frames what goes to the server, 1 what goes to the client.
    framers: [Mutex<Box<dyn Framer>>; 2],
    black_hole: AtomicBool,
    closing: AtomicBool,
}

fn idx(way: Direction) -> usize {
    match way {
        Direction::Sent => 0,
        Direction::Received => 1,
    }
}

fn other(way: Direction) -> Direction {
    match way {
        Direction::Sent => Direction::Received,
        Direction::Received => Direction::Sent,
    }
}

fn side_of_source(way: Direction) -> &'static str {
    match way {
        Direction::Sent => "client",
        Direction::Received => "server",
    }
}

async fn relay(shared: Arc<Shared>, client: TcpStream, client_addr: SocketAddr) {
    let conn = shared.next_conn();
    let server =
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(shared.upstream)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return refuse(&shared, conn, client, e.to_string()),
            Err(_) => return refuse(&shared, conn, client, "timed out".into()),
        };
    // Frames go out as the rules shape them, not as Nagle would batch them.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);

    let mine = server
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let legs = shared.open_legs(conn, client_addr, mine, Transport::Tcp);

    let framers = [
        Mutex::new((shared.framers)()),
        Mutex::new((shared.framers)()),
    ];
    let ctx = Arc::new(Conn {
        shared: shared.clone(),
        legs,
        client,
        server,
        framers,
        black_hole: AtomicBool::new(false),
        closing: AtomicBool::new(false),
    });
    let how = supervise(&ctx).await;
    ctx.shared.emit(|| LogEvent::Closed {
        at: ctx.shared.at(),
        conn,
        how,
    });
}

fn refuse(shared: &Shared, conn: u32, client: TcpStream, why: String) {
    tracing::warn!(
        "interposer: upstream {} unreachable: {why}",
        shared.upstream
    );
    // A reset is the nearest thing to "connection refused" once the client is accepted.
    let _ = client.set_zero_linger();
    shared.emit(|| LogEvent::Closed {
        at: shared.at(),
        conn,
        how: format!("upstream unreachable: {why}"),
    });
}

/// Runs one relayed connection to its end and says how it ended.
async fn supervise(ctx: &Arc<Conn>) -> String {
    let (ts_tx, ts_rx) = mpsc::channel(QUEUE);
    let (tc_tx, tc_rx) = mpsc::channel(QUEUE);
    let mut tasks = JoinSet::new();
    tasks.spawn(pump(ctx.clone(), Direction::Sent, ts_tx.clone()));
    tasks.spawn(pump(ctx.clone(), Direction::Received, tc_tx.clone()));
    tasks.spawn(writer(ctx.clone(), Direction::Sent, ts_rx));
    tasks.spawn(writer(ctx.clone(), Direction::Received, tc_rx));
    // Kept to send a FIN on a rule's orderly close; dropped once both readers are done
    // so writers see their queues end.
    let mut senders = Some((ts_tx, tc_tx));
    let mut readers = 2;
    let mut writers = 2;
    let mut closing = false;

    let abort = loop {
        let next = if closing {
            match tokio::time::timeout(CLOSE_GRACE, tasks.join_next()).await {
                Ok(n) => n,
                Err(_) => break Some(("close timed out".to_string(), false)),
            }
        } else {
            tasks.join_next().await
        };
        match next {
            None => break None,
            Some(Ok(TaskEnd::Eof)) => {
                readers -= 1;
                if readers == 0 {
                    senders = None;
                }
            }
            Some(Ok(TaskEnd::WriterDone)) => {
                writers -= 1;
                if closing && writers == 0 {
                    break None;
                }
            }
            Some(Ok(TaskEnd::Close(CloseKind::Fin))) => {
                readers -= 1;
                closing = true;
                if let Some((ts, tc)) = senders.take() {
                    // Queued frames go out first; the FIN follows them. A full queue
                    // towards a peer that reads nothing must not hold the close forever.
                    let fins = async {
                        let _ = ts.send(Op::Fin).await;
                        let _ = tc.send(Op::Fin).await;
                    };
                    if tokio::time::timeout(CLOSE_GRACE, fins).await.is_err() {
                        break Some(("close timed out".to_string(), false));
                    }
                }
                if writers == 0 {
                    break None;
                }
            }
            Some(Ok(TaskEnd::Close(kind))) => {
                break Some((format!("fault: close {kind:?}"), false));
            }
            Some(Ok(TaskEnd::Failed { side, reset, error })) => {
                let by_client = side == "client";
                if side == "server" {
                    ctx.record_peer_close();
                }
                let what = if reset { "reset" } else { "failed" };
                break Some((format!("{side} {what}: {error}"), by_client));
            }
            Some(Err(e)) => break Some((format!("relay task ended: {e}"), false)),
        }
    };
    drop(senders);

    match abort {
        None => {
            // Whatever is left in the receive buffers would turn our close into a
            // reset; read it (it is evidence too) so the peers see a plain FIN.
            tasks.shutdown().await;
            ctx.drain(Direction::Sent);
            ctx.drain(Direction::Received);
            if closing {
                "fault: close Fin".into()
            } else {
                "ended".into()
            }
        }
        Some((how, by_client)) => {
            let _ = ctx.client.set_zero_linger();
            let _ = ctx.server.set_zero_linger();
            tasks.shutdown().await;
            if !by_client {
                ctx.record_close_to_client();
            }
            how
        }
    }
}

impl Conn {
    fn source(&self, way: Direction) -> &TcpStream {
        match way {
            Direction::Sent => &self.client,
            Direction::Received => &self.server,
        }
    }

    fn dest(&self, way: Direction) -> &TcpStream {
        self.source(other(way))
    }

    fn rec(&self, leg: Option<u32>) -> Option<(&Recorder, u32)> {
        Some((self.shared.recorder.as_ref()?, leg?))
    }

    /// Bytes read, on the leg they were read from.
    fn record_read(&self, way: Direction, bytes: &[u8]) {
        let leg = match way {
            Direction::Sent => self.legs.client_leg,
            Direction::Received => self.legs.upstream_leg,
        };
        if let Some((r, id)) = self.rec(leg) {
            r.record(id, way, bytes);
        }
    }

    /// Bytes written, on the leg they were written to.
    fn record_write(&self, way: Direction, bytes: &[u8]) {
        let leg = match way {
            Direction::Sent => self.legs.upstream_leg,
            Direction::Received => self.legs.client_leg,
        };
        if let Some((r, id)) = self.rec(leg) {
            r.record(id, way, bytes);
        }
    }

    fn record_peer_close(&self) {
        if let Some((r, id)) = self.rec(self.legs.upstream_leg) {
            r.closed_by_peer(id);
        }
    }

    /// The client's peer, as far as the client can tell, is the server: whatever close
    /// the interposer sends it counts as the server's.
    fn record_close_to_client(&self) {
        if let Some((r, id)) = self.rec(self.legs.client_leg) {
            r.closed_by_peer(id);
        }
    }

    fn drain(&self, way: Direction) {
        let mut buf = vec![0; READ_CHUNK];
        while let Ok(n @ 1..) = self.source(way).try_read(&mut buf) {
            self.record_read(way, &buf[..n]);
        }
    }

    /// The framer's verdict on the front of `buf`: a frame length, `None` for "wait for
    /// more", or why the direction must go opaque.
    fn frame_len(&self, way: Direction, buf: &[u8]) -> Result<Option<usize>, String> {
        let mut f = lock(&self.framers[idx(way)]);
        let need = match catch_unwind(AssertUnwindSafe(|| f.frame_len(buf))) {
            Err(_) => return Err("framer panicked".into()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Decoded::Done(0, _))) => return Err("framer delimited an empty frame".into()),
            Ok(Ok(Decoded::Done(len, _))) if len <= buf.len() => return Ok(Some(len)),
            Ok(Ok(Decoded::Done(len, _))) => len,
            Ok(Ok(Decoded::NeedMore(n))) => buf.len().saturating_add(n.max(1)),
        };
        if need > MAX_FRAME {
            Err(format!(
                "a frame of {need} bytes is over the {MAX_FRAME}-byte limit"
            ))
        } else {
            Ok(None)
        }
    }

    fn describe(&self, way: Direction, frame: &[u8]) -> FrameMeta {
        let mut f = lock(&self.framers[idx(way)]);
        catch_unwind(AssertUnwindSafe(|| f.describe(frame))).unwrap_or_else(|_| FrameMeta {
            kind: "?",
            summary: "framer panicked describing this frame".into(),
            problems: Vec::new(),
        })
    }

    fn observe(&self, way: Direction, frame: &[u8]) {
        let mut f = lock(&self.framers[idx(way)]);
        let _ = catch_unwind(AssertUnwindSafe(|| f.observe_peer(frame)));
    }

    fn silenced(&self) -> bool {
        self.black_hole.load(Relaxed) || self.closing.load(Relaxed)
    }

    async fn queue(&self, tx: &mpsc::Sender<Op>, emits: Vec<Emit>) {
        let now = tokio::time::Instant::now();
        for e in emits {
            let not_before = (!e.delay.is_zero()).then(|| now + e.delay);
            // A closed queue means the writer is gone; the supervisor handles why.
            let _ = tx
                .send(Op::Send {
                    bytes: e.bytes,
                    split: e.split,
                    not_before,
                })
                .await;
        }
    }

    /// One frame through the rules. `Some` ends the reader.
    async fn on_frame(
        &self,
        way: Direction,
        engine: &mut DirEngine,
        frame: &[u8],
        tx: &mpsc::Sender<Op>,
    ) -> Option<TaskEnd> {
        let meta = self.describe(way, frame);
        self.observe(other(way), frame);
        if self.silenced() {
            engine.stall();
        }
        let rules = lock(&self.shared.rules).clone();
        let out = engine.on_frame(&rules, frame, &meta);

        if !out.taken.is_empty() {
            tracing::debug!(conn = self.legs.conn, ?way, kind = meta.kind, taken = ?out.taken, "fault");
        }
        self.shared
            .judged(self.legs.conn, way, frame.len(), meta, &out);

        self.queue(tx, out.emits).await;
        match out.halt {
            Some(Halt::Close(CloseKind::BlackHole)) => {
                self.black_hole.store(true, Relaxed);
                None
            }
            Some(Halt::Close(kind)) => {
                self.closing.store(true, Relaxed);
                Some(TaskEnd::Close(kind))
            }
            Some(Halt::Stall) | None => None,
        }
    }

    /// Forwards bytes the framer cannot delimit, as read.
    async fn opaque(&self, way: Direction, bytes: &[u8], reason: &str, tx: &mpsc::Sender<Op>) {
        let swallowed = self.silenced();
        bump(&self.shared.stats.dir(way).opaque_chunks, 1);
        self.shared.emit(|| LogEvent::Opaque {
            at: self.shared.at(),
            conn: self.legs.conn,
            dir: way,
            len: bytes.len(),
            reason: if swallowed {
                format!("{reason} (swallowed)")
            } else {
                reason.to_string()
            },
        });
        if !swallowed {
            self.queue(
                tx,
                vec![Emit {
                    bytes: bytes.to_vec(),
                    delay: Duration::ZERO,
                    split: Vec::new(),
                }],
            )
            .await;
        }
    }
}

/// Reads one direction: frames it, applies the rules, queues the result for the writer.
async fn pump(ctx: Arc<Conn>, way: Direction, tx: mpsc::Sender<Op>) -> TaskEnd {
    let mut engine = DirEngine::new(way);
    let mut acc: Vec<u8> = Vec::new();
    // Once set, the framer has given up on this direction for good: a stream cannot be
    // resynchronised after a bad length, so the rest goes through as read.
    let mut opaque: Option<String> = None;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match read_some(ctx.source(way), &mut buf).await {
            Ok(n) => n,
            // Behind a black hole even a reset does not get through.
            Err(_) if ctx.black_hole.load(Relaxed) => return TaskEnd::Eof,
            Err(e) => {
                return TaskEnd::Failed {
                    side: side_of_source(way),
                    reset: is_reset(&e),
                    error: e.to_string(),
                };
            }
        };
        if n == 0 {
            return on_eof(&ctx, way, &mut engine, &acc, &tx).await;
        }
        let chunk = &buf[..n];
        ctx.record_read(way, chunk);
        bump(&ctx.shared.stats.dir(way).bytes, n as u64);
        if let Some(reason) = &opaque {
            ctx.opaque(way, chunk, reason, &tx).await;
            continue;
        }
        acc.extend_from_slice(chunk);
        let mut pos = 0;
        while pos < acc.len() {
            match ctx.frame_len(way, &acc[pos..]) {
                Ok(Some(len)) => {
                    let end = pos + len;
                    if let Some(stop) = ctx.on_frame(way, &mut engine, &acc[pos..end], &tx).await {
                        return stop;
                    }
                    pos = end;
                }
                Ok(None) => break,
                Err(reason) => {
                    tracing::warn!(conn = ctx.legs.conn, ?way, "framing lost: {reason}");
                    let reason = format!("framing lost: {reason}");
                    ctx.opaque(way, &acc[pos..], &reason, &tx).await;
                    opaque = Some(reason);
                    pos = acc.len();
                }
            }
        }
        acc.drain(..pos);
    }
}

async fn on_eof(
    ctx: &Conn,
    way: Direction,
    engine: &mut DirEngine,
    rest: &[u8],
    tx: &mpsc::Sender<Op>,
) -> TaskEnd {
    if way == Direction::Received {
        ctx.record_peer_close();
    }
    ctx.shared.emit(|| LogEvent::Closed {
        at: ctx.shared.at(),
        conn: ctx.legs.conn,
        how: format!("{} sent FIN", side_of_source(way)),
    });
    // A stalled or silenced direction passes nothing, its end included.
    if ctx.silenced() || engine.is_stalled() {
        return TaskEnd::Eof;
    }
    if !rest.is_empty() {
        ctx.opaque(way, rest, "incomplete frame at end of stream", tx)
            .await;
    }
    let held = engine.flush_held();
    ctx.queue(tx, held).await;
    let _ = tx.send(Op::Fin).await;
    TaskEnd::Eof
}

/// Writes one direction, honouring delays and splits, in queue order.
async fn writer(ctx: Arc<Conn>, way: Direction, mut rx: mpsc::Receiver<Op>) -> TaskEnd {
    let dst = ctx.dest(way);
    let side = side_of_source(other(way));
    while let Some(op) = rx.recv().await {
        match op {
            Op::Send {
                bytes,
                split,
                not_before,
            } => {
                if let Some(t) = not_before {
                    tokio::time::sleep_until(t).await;
                }
                for (i, seg) in segments(&bytes, &split).into_iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(SPLIT_GAP).await;
                    }
                    if let Err(e) = write_all(dst, seg).await {
                        return TaskEnd::Failed {
                            side,
                            reset: is_reset(&e),
                            error: e.to_string(),
                        };
                    }
                    ctx.record_write(way, seg);
                }
            }
            Op::Fin => {
                let _ = socket2::SockRef::from(dst).shutdown(Shutdown::Write);
                if way == Direction::Received {
                    ctx.record_close_to_client();
                }
                return TaskEnd::WriterDone;
            }
        }
    }
    TaskEnd::WriterDone
}

/// Cuts `bytes` at the given offsets; offsets outside the frame or repeated are ignored.
fn segments<'a>(bytes: &'a [u8], at: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = at
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < bytes.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for c in cuts {
        out.push(&bytes[start..c]);
        start = c;
    }
    out.push(&bytes[start..]);
    out
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

// The streams are shared between a reader and a writer task, so they are driven
// through `&TcpStream` readiness rather than the `&mut` AsyncRead/AsyncWrite traits.
async fn read_some(s: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        s.readable().await?;
        match s.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

async fn write_all(s: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        s.writable().await?;
        match s.try_write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use super::segments;

    #[test]
    fn segments_ignore_bad_cuts() {
        let b = [1, 2, 3, 4, 5, 6];
        assert_eq!(
            segments(&b, &[3, 1, 1, 0, 99]),
            vec![&b[..1], &b[1..3], &b[3..]]
        );
        assert_eq!(segments(&b, &[]), vec![&b[..]]);
        assert_eq!(segments(&[], &[1]), vec![&[][..]]);
    }
}
