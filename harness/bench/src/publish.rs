//! The publishers' hot path: a message encoded once per connection, copied and patched
//! for each message, written in batches — whatever the protocol ([`Template`]).
//!
//! Each publisher runs on an OS thread of its own: tokio's timer wakes at millisecond
//! granularity, which alone would add up to a millisecond of send delay at every rate
//! above 1000/s; a thread sleeping with a 1 µs timer slack wakes within microseconds.
//! Per message the thread copies the template (a few dozen bytes), patches the sequence
//! number, send time and identifier in place and records the send delay: no
//! allocation, no encoding. The buffer is written whenever the schedule says nothing more
//! is due, or once it holds [`FLUSH_AT`] bytes, so a backlog leaves in few system calls
//! (the socket has TCP_NODELAY, so an on-time message leaves at once).
//!
//! Acknowledged publishing (MQTT QoS 1 and 2, STOMP receipts, AMQP publisher confirms):
//! a second thread reads what the target sends back through the protocol's
//! [`AckReader`] and records publish→ack latency; the target's own bound, or
//! `IN_FLIGHT_MAX`, limits what is unacknowledged, and a publisher held back by it
//! shows the wait as send delay.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hilt_wire::Decoded;
use hilt_wire::mqtt::{Properties, PublishRef, QoS, Version};

use crate::cpu;
use crate::engine::{Clock, Errors, Phases, lock};
use crate::header::{self, HEADER_LEN, Header};
use crate::hist::{self, Hist};
use crate::protocol::{AckReader, Template};
use crate::schedule::{Pacer, Schedule, Step};

/// Flush the publisher's buffer once it holds this much, even with more due.
pub const FLUSH_AT: usize = 64 * 1024;
/// Messages encoded between two readings of the clock (their common send time).
const BATCH: u64 = 64;
/// A write that took longer than this was blocked by a full socket.
const BLOCKED_WRITE: Duration = Duration::from_millis(1);

/// One PUBLISH encoded once; each message is a copy with its sequence number, send time
/// and packet identifier patched in place.
#[derive(Debug, Clone)]
pub struct PublishTemplate {
    bytes: Vec<u8>,
    header_at: usize,
    packet_id_at: Option<usize>,
}

impl PublishTemplate {
    /// A PUBLISH of `payload_bytes` (at least [`HEADER_LEN`]) to `topic`, its payload
    /// starting with `header` (whose sequence number and send time each message replaces).
    pub fn new(
        version: Version,
        qos: QoS,
        topic: &str,
        header: Header,
        payload_bytes: usize,
    ) -> PublishTemplate {
        let mut payload = vec![0u8; payload_bytes.max(HEADER_LEN)];
        header.write(&mut payload);
        let props = Properties::new();
        let mut bytes = Vec::new();
        PublishRef {
            dup: false,
            qos,
            retain: false,
            topic,
            packet_id: (qos != QoS::AtMostOnce).then_some(1),
            properties: &props,
            payload: &payload,
        }
        .emit(version, &mut bytes);
        let header_at = bytes.len() - payload.len();
        // The packet identifier sits right before the properties (5.0: an empty
        // section is one zero byte) and the payload.
        let props_len = usize::from(version == Version::V5);
        let packet_id_at = (qos != QoS::AtMostOnce).then(|| header_at - props_len - 2);
        PublishTemplate {
            bytes,
            header_at,
            packet_id_at,
        }
    }

    /// Bytes of one message on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends one message to `out`, with `packet_id` when its QoS has one.
    #[inline]
    pub fn append_with_id(
        &self,
        out: &mut Vec<u8>,
        seq: u32,
        sent_ns: u64,
        packet_id: Option<u16>,
    ) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        let msg = &mut out[start..];
        header::patch(&mut msg[self.header_at..], seq, sent_ns);
        if let (Some(at), Some(id)) = (self.packet_id_at, packet_id) {
            msg[at..at + 2].copy_from_slice(&id.to_be_bytes());
        }
    }
}

impl Template for PublishTemplate {
    fn len(&self) -> usize {
        self.bytes.len()
    }

    #[inline]
    fn append(&self, out: &mut Vec<u8>, n: u64, seq: u32, sent_ns: u64) {
        self.append_with_id(out, seq, sent_ns, Some(packet_id(n)));
    }

    fn ack_key(&self, n: u64) -> u64 {
        u64::from(packet_id(n))
    }
}

/// What a publisher shares with the collector, merged and reset once a second.
#[derive(Debug)]
pub(crate) struct PubShared {
    pub send_delay: Hist,
    pub ack: Hist,
    pub published: u64,
    pub window_published: u64,
    pub write_blocked: Duration,
}

impl PubShared {
    pub fn new() -> PubShared {
        PubShared {
            send_delay: hist::new_hist(),
            ack: hist::new_hist(),
            published: 0,
            window_published: 0,
            write_blocked: Duration::ZERO,
        }
    }
}

/// A publisher's connection, blocking: the hot path runs on an OS thread.
#[derive(Debug)]
pub(crate) enum PubConn {
    Stream(TcpStream),
    /// Written as datagrams of `frame` bytes each ([`crate::protocol::Conn::Datagram`]).
    Datagram {
        socket: std::net::UdpSocket,
        frame: usize,
    },
}

impl PubConn {
    pub fn blocking(c: crate::protocol::Conn) -> Result<PubConn, String> {
        let e = |e: std::io::Error| e.to_string();
        Ok(match c {
            crate::protocol::Conn::Stream(s) => {
                let s = s.into_std().map_err(e)?;
                s.set_nonblocking(false).map_err(e)?;
                PubConn::Stream(s)
            }
            // Left non-blocking: a datagram socket shares its file description (and so
            // its blocking mode) with the reader that receives on it.
            crate::protocol::Conn::Datagram { socket, frame } => PubConn::Datagram {
                socket: socket.into_std().map_err(e)?,
                frame,
            },
        })
    }

    fn try_clone(&self) -> Option<TcpStream> {
        match self {
            PubConn::Stream(s) => s.try_clone().ok(),
            PubConn::Datagram { .. } => None,
        }
    }

    fn write_all(&mut self, out: &[u8]) -> std::io::Result<()> {
        match self {
            PubConn::Stream(s) => s.write_all(out),
            PubConn::Datagram { socket, frame } => {
                for d in out.chunks((*frame).max(1)) {
                    // A full send buffer: wait for room, as a blocking send would.
                    loop {
                        match socket.send(d) {
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_micros(20));
                            }
                            r => {
                                r?;
                                break;
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

pub(crate) struct PubCtx<T, A> {
    pub stream: PubConn,
    /// Whether the target acknowledges each message (read by `acks`).
    pub acked: bool,
    /// The target's bound on unacknowledged messages, when it states one.
    pub in_flight: Option<u64>,
    pub acks: A,
    /// Written as the publisher leaves.
    pub goodbye: Vec<u8>,
    pub name: String,
    pub template: T,
    pub clock: Clock,
    pub phases: Phases,
    pub schedule: Schedule,
    pub shared: Arc<Mutex<PubShared>>,
    pub errors: Arc<Errors>,
    pub stop: Arc<AtomicBool>,
}

/// At most this many PUBLISHes of one publisher unacknowledged: a publisher waiting on
/// more than that shows the wait as send delay. Consecutive packet identifiers (which
/// skip 0 when they wrap) stay distinct modulo one more than this, so the book of send
/// times needs no more slots.
pub(crate) const IN_FLIGHT_MAX: u16 = 8191;
const BOOK_SLOTS: usize = IN_FLIGHT_MAX as usize + 1;

/// Send times of unacknowledged messages by acknowledgement key, for publish→ack latency.
struct AckBook {
    sent_ns: Vec<AtomicU64>,
    inflight: AtomicU64,
}

pub(crate) fn packet_id(seq: u64) -> u16 {
    (seq % u64::from(u16::MAX)) as u16 + 1
}

/// Writes `out` whole; a write that waited on a full socket is charged to `blocked`.
fn write_out(stream: &Mutex<PubConn>, out: &[u8]) -> Result<Duration, String> {
    let t = Instant::now();
    lock(stream)
        .write_all(out)
        .map_err(|e| format!("publisher write: {e}"))?;
    Ok(t.elapsed())
}

/// Runs one publisher until its schedule ends or `stop` is set.
pub(crate) fn publisher<T: Template, A: AckReader>(c: PubCtx<T, A>) {
    cpu::tighten_timer_slack();
    let acked = c.acked;
    let book = Arc::new(AckBook {
        sent_ns: if acked {
            (0..BOOK_SLOTS).map(|_| AtomicU64::new(0)).collect()
        } else {
            Vec::new()
        },
        inflight: AtomicU64::new(0),
    });
    let reader_stream = if acked { c.stream.try_clone() } else { None };
    let stream = Arc::new(Mutex::new(c.stream));
    let reader_stop = Arc::new(AtomicBool::new(false));
    let acks = c.acks;
    let reader = reader_stream.and_then(|read| {
        let ctx = AckCtx {
            read,
            write: Arc::clone(&stream),
            acks,
            clock: c.clock,
            measure: c.phases.measure,
            book: Arc::clone(&book),
            shared: Arc::clone(&c.shared),
            errors: Arc::clone(&c.errors),
            stop: Arc::clone(&reader_stop),
        };
        std::thread::Builder::new()
            .name(format!("{}-acks", c.name))
            .spawn(move || ack_reader(ctx))
            .ok()
    });
    let limit = acked.then(|| {
        c.in_flight
            .unwrap_or(u64::MAX)
            .min(u64::from(IN_FLIGHT_MAX))
    });
    let full = || limit.is_some_and(|l| book.inflight.load(Ordering::Relaxed) >= l);

    let mut pacer = Pacer::new(c.schedule, BATCH);
    let mut out: Vec<u8> = Vec::with_capacity(FLUSH_AT + c.template.len() * BATCH as usize);
    // Encoded, not yet written; and of those, in the measured phase.
    let mut pending = 0u64;
    let mut pending_window = 0u64;
    let flush = |out: &mut Vec<u8>, pending: &mut u64, pending_window: &mut u64| {
        if out.is_empty() {
            return Ok(());
        }
        let took = write_out(&stream, out)?;
        out.clear();
        let mut sh = lock(&c.shared);
        sh.published += *pending;
        sh.window_published += *pending_window;
        if took >= BLOCKED_WRITE {
            sh.write_blocked += took;
        }
        *pending = 0;
        *pending_window = 0;
        Ok::<(), String>(())
    };
    let result: Result<(), String> = (|| {
        loop {
            if c.stop.load(Ordering::Relaxed) {
                return flush(&mut out, &mut pending, &mut pending_window);
            }
            let now = c.clock.now_ns();
            match pacer.poll(now) {
                Step::Done => return flush(&mut out, &mut pending, &mut pending_window),
                Step::SleepUntil(t) => {
                    flush(&mut out, &mut pending, &mut pending_window)?;
                    let now = c.clock.now_ns();
                    if t > now {
                        // Bounded, so a stop request is seen promptly.
                        std::thread::sleep(Duration::from_nanos((t - now).min(50_000_000)));
                    }
                }
                Step::Send(range) => {
                    let mut sh = lock(&c.shared);
                    for i in range {
                        let intended = c.schedule.intended(i);
                        let sent = now.max(intended);
                        if acked {
                            let key = c.template.ack_key(i);
                            book.sent_ns[(key % BOOK_SLOTS as u64) as usize]
                                .store(sent, Ordering::Relaxed);
                            book.inflight.fetch_add(1, Ordering::Relaxed);
                        }
                        c.template.append(&mut out, i, i as u32, sent);
                        pending += 1;
                        if intended >= c.phases.measure {
                            sh.send_delay.saturating_record(sent - intended);
                            if intended < c.phases.end {
                                pending_window += 1;
                            }
                        }
                        if out.len() >= FLUSH_AT || full() {
                            drop(sh);
                            flush(&mut out, &mut pending, &mut pending_window)?;
                            // Let the lateness show as send delay. Waiting on the
                            // target's acknowledgements is its backpressure, as a full
                            // socket is, not the generator's limit.
                            let waited = Instant::now();
                            while full() && !c.stop.load(Ordering::Relaxed) {
                                std::thread::sleep(Duration::from_micros(20));
                            }
                            sh = lock(&c.shared);
                            let waited = waited.elapsed();
                            if waited >= BLOCKED_WRITE {
                                sh.write_blocked += waited;
                            }
                        }
                    }
                }
            }
        }
    })();
    if let Err(e) = result {
        c.errors.push(e);
    }
    // Give the last acknowledgements a moment, then stop reading them.
    if let Some(r) = reader {
        let deadline = Instant::now() + Duration::from_secs(2);
        while book.inflight.load(Ordering::Relaxed) > 0
            && Instant::now() < deadline
            && !c.stop.load(Ordering::Relaxed)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        reader_stop.store(true, Ordering::Relaxed);
        let _ = r.join();
    }
    let _ = lock(&stream).write_all(&c.goodbye);
}

struct AckCtx<A> {
    read: TcpStream,
    write: Arc<Mutex<PubConn>>,
    acks: A,
    clock: Clock,
    measure: u64,
    book: Arc<AckBook>,
    shared: Arc<Mutex<PubShared>>,
    errors: Arc<Errors>,
    stop: Arc<AtomicBool>,
}

fn ack_reader<A: AckReader>(mut c: AckCtx<A>) {
    let _ = c.read.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0usize;
    let mut replies: Vec<u8> = Vec::with_capacity(16 * 1024);
    while !c.stop.load(Ordering::Relaxed) {
        let n = match c.read.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => {
                c.errors.push(format!("publisher read: {e}"));
                break;
            }
        };
        filled += n;
        let now = c.clock.now_ns();
        let mut at = 0;
        let mut sh = lock(&c.shared);
        let book = &c.book;
        let measure = c.measure;
        let mut acked = |key: u64| {
            let sent = book.sent_ns[(key % BOOK_SLOTS as u64) as usize].load(Ordering::Relaxed);
            book.inflight.fetch_sub(1, Ordering::Relaxed);
            if sent >= measure {
                sh.ack.saturating_record(now.saturating_sub(sent));
            }
        };
        let mut broken = None;
        while at < filled {
            match c.acks.read(&buf[at..filled], &mut replies, &mut acked) {
                Ok(Decoded::Done((), len)) => at += len,
                Ok(Decoded::NeedMore(more)) => {
                    if at == 0 && filled + more > buf.len() {
                        buf.resize(filled + more, 0);
                    }
                    break;
                }
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            }
        }
        drop(sh);
        if let Some(e) = broken {
            c.errors.push(e);
            break;
        }
        buf.copy_within(at..filled, 0);
        filled -= at;
        if !replies.is_empty() {
            if let Err(e) = write_out(&c.write, &replies) {
                c.errors.push(e);
                break;
            }
            replies.clear();
        }
    }
}

#[cfg(test)]
mod test {
    use hilt_wire::mqtt::PublishView;

    use super::*;

    #[test]
    fn packet_ids_skip_zero_and_wrap() {
        assert_eq!(packet_id(0), 1);
        assert_eq!(packet_id(65534), 65535);
        assert_eq!(packet_id(65535), 1);
    }

    /// Any IN_FLIGHT_MAX consecutive messages, across the wrap too, have distinct book
    /// slots.
    #[test]
    fn in_flight_packet_ids_have_distinct_slots() {
        for first in [0u64, 65535 - 4000, 65535 * 3 - 1] {
            let mut slots: Vec<usize> = (first..first + u64::from(IN_FLIGHT_MAX))
                .map(|i| usize::from(packet_id(i)) % BOOK_SLOTS)
                .collect();
            slots.sort_unstable();
            slots.dedup();
            assert_eq!(slots.len(), usize::from(IN_FLIGHT_MAX), "from {first}");
        }
    }

    /// Every patched copy must be the PUBLISH the codec would have encoded itself.
    #[test]
    fn template_copies_decode_as_the_codec_encodes_them() {
        let base = Header {
            run: 0x1234,
            publisher: 3,
            seq: 0,
            sent_ns: 0,
        };
        for version in [Version::V311, Version::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                for size in [16, 64, 300] {
                    let t = PublishTemplate::new(version, qos, "hilt/b/1", base, size);
                    let mut out = Vec::new();
                    t.append_with_id(&mut out, 7, 99, Some(513));
                    t.append_with_id(&mut out, 8, 100, Some(514));
                    assert_eq!(out.len(), 2 * t.len());
                    let mut payload = vec![0u8; size];
                    let id = (qos != QoS::AtMostOnce).then_some(514);
                    Header {
                        seq: 8,
                        sent_ns: 100,
                        ..base
                    }
                    .write(&mut payload);
                    let mut expected = Vec::new();
                    PublishRef {
                        dup: false,
                        qos,
                        retain: false,
                        topic: "hilt/b/1",
                        packet_id: id,
                        properties: &Properties::new(),
                        payload: &payload,
                    }
                    .emit(version, &mut expected);
                    assert_eq!(&out[t.len()..], &expected[..], "{version:?} {qos:?} {size}");
                    let Ok(Decoded::Done(Some(v), _)) = PublishView::parse(&out, version) else {
                        panic!("the first copy decodes");
                    };
                    assert_eq!(v.packet_id(), (qos != QoS::AtMostOnce).then_some(513));
                    let h = Header::read(v.payload()).unwrap();
                    assert_eq!((h.run, h.publisher, h.seq, h.sent_ns), (0x1234, 3, 7, 99));
                }
            }
        }
    }
}
