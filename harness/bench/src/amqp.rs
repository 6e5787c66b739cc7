//! AMQP 0-9-1 for the engine ([`Amqp091`]).
//!
//! Setting up uses hilt's sans-IO client ([`Client`]): the connection handshake (no
//! heartbeats: the load itself shows liveness), channel 1, then for a subscriber its
//! queue (declared auto-delete, bound where the topology needs an exchange), basic.qos
//! for the prefetch and basic.consume; for a publisher confirm.select when confirms are
//! on. Then the socket is the engine's: a message is basic.publish, its content header
//! and one body frame, encoded once and patched per message; a delivery is read frame
//! by frame in place (basic.deliver's delivery tag, the header's body size, the body).
//!
//! Routing: point-to-point, request-response and the work queue go through the default
//! exchange straight to a queue named after the run (`hilt.bench.RUN.P`, one `work`
//! queue shared by competing consumers); fan-out and fan-in through `amq.direct`, each
//! subscriber's own queue bound to the routing keys it hears.
//!
//! Ack modes: `auto` consumes with no-ack; `client-individual` sends basic.ack per
//! delivery, `client` one basic.ack with `multiple` for the last delivery of each read.
//! With `confirm`, the channel is in confirm mode and basic.ack from the broker (delivery
//! tags count messages from 1) is the publish→ack latency.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use hilt_core::Instant;
use hilt_wire::Decoded;
use hilt_wire::amqp091::spec::{FRAME_END, FRAME_HEADER_LEN, frame_type};
use hilt_wire::amqp091::{
    Client, ClientConfig, ClientEvent, Frame, Method, MethodId, Properties, content_frames,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::header::{self, HEADER_LEN, Header};
use crate::protocol::{AckReader, Conn, OpenedPublisher, Protocol, Receiver, Template};
use crate::workload::{AckMode, Topology, Workload};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const CHANNEL: u16 = 1;
const DIRECT: &str = "amq.direct";

/// AMQP 0-9-1 as the engine drives it.
#[derive(Debug, Clone)]
pub struct Amqp091 {
    topology: Topology,
    run: u32,
    ack: AckMode,
    confirm: bool,
    prefetch: Option<u32>,
}

impl Amqp091 {
    pub fn new(workload: &Workload, run: u32) -> Amqp091 {
        Amqp091 {
            topology: workload.topology,
            run,
            ack: workload.ack,
            confirm: workload.confirm,
            prefetch: workload.prefetch,
        }
    }

    fn name(&self, what: &str) -> String {
        format!("hilt.bench.{:08x}.{what}", self.run)
    }

    /// Exchange and routing key publisher `p` publishes with.
    fn route(&self, p: u32) -> (&'static str, String) {
        match self.topology {
            Topology::P2p { .. } | Topology::RequestResponse { .. } => {
                ("", self.name(&p.to_string()))
            }
            Topology::Shared { .. } => ("", self.name("work")),
            Topology::FanOut { .. } => (DIRECT, self.name(&p.to_string())),
            Topology::FanIn { .. } => (DIRECT, self.name("in")),
        }
    }

    /// Subscriber `s`'s queue and the routing keys bound to it on `amq.direct`.
    fn queue(&self, s: u32) -> (String, Vec<String>) {
        match self.topology {
            Topology::P2p { .. } | Topology::Shared { .. } => (self.route(s).1, Vec::new()),
            Topology::RequestResponse { .. } => (self.name(&format!("reply.{s}")), Vec::new()),
            Topology::FanOut { publishers, .. } => (
                self.name(&format!("sub.{s}")),
                (0..publishers).map(|p| self.route(p).1).collect(),
            ),
            Topology::FanIn { .. } => (self.name(&format!("sub.{s}")), vec![self.route(0).1]),
        }
    }

    async fn consume(
        &self,
        addr: SocketAddr,
        queue: String,
        keys: Vec<String>,
    ) -> Result<(Conn, Delivery), String> {
        let fut = async {
            let (mut stream, mut c) = open(addr).await?;
            let declare = Method::new(MethodId::QUEUE_DECLARE)
                .with("queue", queue.as_str())
                .with("auto-delete", true);
            call(&mut stream, &mut c, declare, MethodId::QUEUE_DECLARE_OK).await?;
            for key in &keys {
                let bind = Method::new(MethodId::QUEUE_BIND)
                    .with("queue", queue.as_str())
                    .with("exchange", DIRECT)
                    .with("routing-key", key.as_str());
                call(&mut stream, &mut c, bind, MethodId::QUEUE_BIND_OK).await?;
            }
            if let Some(n) = self.prefetch {
                let qos = Method::new(MethodId::BASIC_QOS)
                    .with("prefetch-count", u16::try_from(n).unwrap_or(u16::MAX));
                call(&mut stream, &mut c, qos, MethodId::BASIC_QOS_OK).await?;
            }
            let consume = Method::new(MethodId::BASIC_CONSUME)
                .with("queue", queue.as_str())
                .with("no-ack", self.ack == AckMode::Auto);
            call(&mut stream, &mut c, consume, MethodId::BASIC_CONSUME_OK).await?;
            Ok((stream.into(), Delivery::new(self.ack)))
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "setting up a consumer took more than {HANDSHAKE_TIMEOUT:?}"
                ))
            })
    }
}

impl Protocol for Amqp091 {
    type Template = PublishFrames;
    type Receiver = Delivery;
    type Acks = Confirms;

    fn acked(&self) -> bool {
        self.confirm
    }

    async fn open_subscriber(&self, addr: SocketAddr, s: u32) -> Result<(Conn, Delivery), String> {
        let (queue, keys) = self.queue(s);
        self.consume(addr, queue, keys).await
    }

    async fn open_responder(&self, addr: SocketAddr, r: u32) -> Result<(Conn, Delivery), String> {
        self.consume(addr, self.route(r).1, Vec::new()).await
    }

    async fn open_publisher(
        &self,
        addr: SocketAddr,
        _p: u32,
    ) -> Result<OpenedPublisher<Confirms>, String> {
        let fut = async {
            let (mut stream, mut c) = open(addr).await?;
            if self.confirm {
                call(
                    &mut stream,
                    &mut c,
                    Method::new(MethodId::CONFIRM_SELECT),
                    MethodId::CONFIRM_SELECT_OK,
                )
                .await?;
            }
            Ok(OpenedPublisher {
                stream: stream.into(),
                in_flight: None,
                acks: Confirms::default(),
            })
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "opening a publisher took more than {HANDSHAKE_TIMEOUT:?}"
                ))
            })
    }

    fn template(&self, p: u32, header: Header, payload_bytes: usize) -> PublishFrames {
        let (exchange, key) = self.route(p);
        PublishFrames::new(exchange, &key, header, payload_bytes)
    }

    fn echo_template(&self, r: u32, header: Header, payload_bytes: usize) -> PublishFrames {
        PublishFrames::new("", &self.queue(r).0, header, payload_bytes)
    }

    fn goodbye(&self) -> Vec<u8> {
        Frame::method(
            0,
            Method::new(MethodId::CONNECTION_CLOSE).with("reply-code", 200u16),
        )
        .to_bytes()
    }
}

/// Connects, negotiates and opens channel 1.
async fn open(addr: SocketAddr) -> Result<(TcpStream, Client), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut c = Client::new(ClientConfig::default());
    c.start(Instant::ZERO);
    loop {
        match next_event(&mut stream, &mut c).await? {
            ClientEvent::Connected(_) => break,
            ClientEvent::Started(_) | ClientEvent::Heartbeat => {}
            other => return Err(format!("while connecting: {other:?}")),
        }
    }
    call(
        &mut stream,
        &mut c,
        Method::new(MethodId::CHANNEL_OPEN),
        MethodId::CHANNEL_OPEN_OK,
    )
    .await?;
    Ok((stream, c))
}

/// Sends `m` on channel 1 and waits for its answer `ok`.
async fn call(
    stream: &mut TcpStream,
    c: &mut Client,
    m: Method,
    ok: MethodId,
) -> Result<(), String> {
    let name = m.name();
    c.send_method(Instant::ZERO, CHANNEL, m);
    loop {
        match next_event(stream, c).await? {
            ClientEvent::Method { method, .. } if method.is(ok) => return Ok(()),
            ClientEvent::Heartbeat => {}
            other => return Err(format!("{name} answered with {other:?}")),
        }
    }
}

/// Writes what the client has to send, then reads until it has an event.
async fn next_event(stream: &mut TcpStream, c: &mut Client) -> Result<ClientEvent, String> {
    loop {
        while let Some(out) = c.poll_transmit() {
            stream
                .write_all(&out)
                .await
                .map_err(|e| format!("write: {e}"))?;
        }
        if let Some(e) = c.poll_event() {
            return Ok(e);
        }
        let mut chunk = [0u8; 4096];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        c.handle_input(Instant::ZERO, &chunk[..n]);
    }
}

/// basic.publish, its content header and one body frame, encoded once; each message
/// patches the benchmark header in the body.
#[derive(Debug, Clone)]
pub struct PublishFrames {
    bytes: Vec<u8>,
    header_at: usize,
}

impl PublishFrames {
    pub fn new(exchange: &str, routing_key: &str, header: Header, payload_bytes: usize) -> Self {
        let mut payload = vec![0u8; payload_bytes.max(HEADER_LEN)];
        header.write(&mut payload);
        let publish = Method::new(MethodId::BASIC_PUBLISH)
            .with("exchange", exchange)
            .with("routing-key", routing_key);
        let mut bytes = Vec::new();
        for f in content_frames(CHANNEL, publish, Properties::new(), &payload, 0) {
            f.emit(&mut bytes);
        }
        // The body frame is last: its payload, then the frame end.
        let header_at = bytes.len() - 1 - payload.len();
        PublishFrames { bytes, header_at }
    }
}

impl Template for PublishFrames {
    fn len(&self) -> usize {
        self.bytes.len()
    }

    #[inline]
    fn append(&self, out: &mut Vec<u8>, _n: u64, seq: u32, sent_ns: u64) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        header::patch(&mut out[start + self.header_at..], seq, sent_ns);
    }

    /// In confirm mode the broker numbers a channel's messages from 1.
    fn ack_key(&self, n: u64) -> u64 {
        n + 1
    }
}

/// The frame at the front of `buf`: its type, channel and payload's range.
fn frame(buf: &[u8]) -> Result<Decoded<(u8, Range<usize>)>, String> {
    if buf.len() < FRAME_HEADER_LEN {
        return Ok(Decoded::NeedMore(FRAME_HEADER_LEN - buf.len()));
    }
    let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]) as usize;
    if size > 1 << 28 {
        return Err(format!("a frame of {size} octets"));
    }
    let end = FRAME_HEADER_LEN + size;
    if buf.len() <= end {
        return Ok(Decoded::NeedMore(end + 1 - buf.len()));
    }
    if buf[end] != FRAME_END {
        return Err(format!("frame end {:#04x} instead of 0xce", buf[end]));
    }
    Ok(Decoded::Done((buf[0], FRAME_HEADER_LEN..end), end + 1))
}

fn class_method(p: &[u8]) -> (u16, u16) {
    match p {
        [a, b, c, d, ..] => (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d])),
        _ => (0, 0),
    }
}

/// A close from the broker, as text.
fn closed(p: &[u8]) -> String {
    match Method::decode(p, 0) {
        Ok(m) => format!(
            "the broker sent {}: {} {}",
            m.name(),
            m.int("reply-code"),
            m.text("reply-text")
        ),
        Err(v) => format!("an undecodable method from the broker: {v}"),
    }
}

const BASIC: u16 = 60;
const DELIVER: u16 = 60;
const ACK: u16 = 80;
const NACK: u16 = 120;

/// A consumer's view: basic.deliver (its tag kept for the ack), the content header, the
/// body (the payload).
#[derive(Debug)]
pub struct Delivery {
    ack: AckMode,
    tag: u64,
    /// The last delivery not yet acknowledged (`client`).
    unacked: Option<u64>,
}

impl Delivery {
    fn new(ack: AckMode) -> Delivery {
        Delivery {
            ack,
            tag: 0,
            unacked: None,
        }
    }
}

fn write_ack(out: &mut Vec<u8>, tag: u64, multiple: bool) {
    out.extend_from_slice(&[frame_type::METHOD, 0, CHANNEL as u8, 0, 0, 0, 13]);
    out.extend_from_slice(&BASIC.to_be_bytes());
    out.extend_from_slice(&ACK.to_be_bytes());
    out.extend_from_slice(&tag.to_be_bytes());
    out.push(u8::from(multiple));
    out.push(FRAME_END);
}

impl Receiver for Delivery {
    fn read(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Decoded<Option<Range<usize>>>, String> {
        let (kind, p, len) = match frame(buf)? {
            Decoded::Done((kind, p), len) => (kind, p, len),
            Decoded::NeedMore(n) => return Ok(Decoded::NeedMore(n)),
        };
        match kind {
            frame_type::METHOD => {
                let payload = &buf[p];
                match class_method(payload) {
                    (BASIC, DELIVER) => {
                        // consumer-tag (shortstr), then the delivery tag.
                        let at = 4 + 1 + usize::from(*payload.get(4).unwrap_or(&0));
                        let tag = payload
                            .get(at..at + 8)
                            .ok_or("a basic.deliver too short for its delivery tag")?;
                        self.tag = u64::from_be_bytes(tag.try_into().unwrap_or_default());
                    }
                    (20, 40) | (10, 50) => return Err(closed(payload)),
                    _ => {}
                }
                Ok(Decoded::Done(None, len))
            }
            frame_type::BODY => {
                match self.ack {
                    AckMode::Auto => {}
                    AckMode::ClientIndividual => write_ack(out, self.tag, false),
                    AckMode::Client => self.unacked = Some(self.tag),
                }
                Ok(Decoded::Done(Some(p), len))
            }
            _ => Ok(Decoded::Done(None, len)),
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        if let Some(tag) = self.unacked.take() {
            write_ack(out, tag, true);
        }
    }
}

/// A publisher's view in confirm mode: basic.ack (and basic.nack) by delivery tag,
/// `multiple` covering every tag up to it.
#[derive(Debug, Default)]
pub struct Confirms {
    /// Every tag up to this one is confirmed.
    upto: u64,
    /// Confirmed out of order, above `upto`.
    ahead: BTreeSet<u64>,
}

impl Confirms {
    fn confirm(&mut self, tag: u64, multiple: bool, acked: &mut dyn FnMut(u64)) {
        if tag <= self.upto {
            return;
        }
        if multiple {
            for t in self.upto + 1..=tag {
                if !self.ahead.remove(&t) {
                    acked(t);
                }
            }
            self.upto = tag;
        } else if self.ahead.insert(tag) {
            acked(tag);
        }
        while self.ahead.remove(&(self.upto + 1)) {
            self.upto += 1;
        }
    }
}

impl AckReader for Confirms {
    fn read(
        &mut self,
        buf: &[u8],
        _replies: &mut Vec<u8>,
        acked: &mut dyn FnMut(u64),
    ) -> Result<Decoded<()>, String> {
        let (kind, p, len) = match frame(buf)? {
            Decoded::Done((kind, p), len) => (kind, p, len),
            Decoded::NeedMore(n) => return Ok(Decoded::NeedMore(n)),
        };
        if kind == frame_type::METHOD {
            let payload = &buf[p];
            match class_method(payload) {
                (BASIC, ACK | NACK) if payload.len() >= 13 => {
                    let tag = u64::from_be_bytes(payload[4..12].try_into().unwrap_or_default());
                    self.confirm(tag, payload[12] & 1 != 0, acked);
                }
                (20, 40) | (10, 50) => return Err(closed(payload)),
                _ => {}
            }
        }
        Ok(Decoded::Done((), len))
    }
}

#[cfg(test)]
mod test {
    use hilt_wire::amqp091::Payload;

    use super::*;

    #[test]
    fn a_patched_publish_decodes_as_three_frames() {
        let h = Header {
            run: 1,
            publisher: 3,
            seq: 0,
            sent_ns: 0,
        };
        let t = PublishFrames::new("", "q", h, 40);
        let mut out = Vec::new();
        t.append(&mut out, 0, 5, 6);
        let mut at = 0;
        let mut kinds = Vec::new();
        while at < out.len() {
            let Ok(Decoded::Done(f, n)) = hilt_wire::amqp091::decode(&out[at..], 0) else {
                panic!("decodes at {at}");
            };
            if let Payload::Body(b) = &f.payload {
                let got = Header::read(b).unwrap();
                assert_eq!((got.publisher, got.seq, got.sent_ns), (3, 5, 6));
            }
            kinds.push(f.frame_type());
            at += n;
        }
        assert_eq!(kinds, [1, 2, 3]);
        // What a consumer makes of the same frames: the body is the payload.
        let mut d = Delivery::new(AckMode::ClientIndividual);
        let mut acks = Vec::new();
        let mut at = 0;
        let mut payloads = 0;
        while at < out.len() {
            let Ok(Decoded::Done(p, n)) = d.read(&out[at..], &mut acks) else {
                panic!("reads at {at}");
            };
            payloads += usize::from(p.is_some());
            at += n;
        }
        assert_eq!(payloads, 1);
        assert_eq!(acks.len(), 21, "one basic.ack frame");
    }

    #[test]
    fn confirms_count_each_tag_once() {
        let mut c = Confirms::default();
        let mut got = Vec::new();
        c.confirm(2, false, &mut |t| got.push(t));
        c.confirm(3, true, &mut |t| got.push(t));
        c.confirm(3, false, &mut |t| got.push(t));
        c.confirm(5, false, &mut |t| got.push(t));
        c.confirm(5, true, &mut |t| got.push(t));
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3, 4, 5]);
        assert_eq!(c.upto, 5);
        assert!(c.ahead.is_empty());
    }
}
