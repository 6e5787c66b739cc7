//! A sans-IO AMQP 1.0 client connection: protocol headers, SASL, open, sessions, links,
//! link credit and delivery-count, multi-frame transfers both ways, dispositions, the
//! idle time-out, and close — in the quinn-proto shape: `handle_input(now, bytes)`,
//! `handle_timeout(now)`, `poll_transmit()`, `poll_timeout()`, `poll_event()`.
//!
//! The core keeps the state the specification makes each endpoint keep (2.5.6 session
//! windows and ids, 2.6.7 link flow state) from what is sent and received, whoever asked
//! for it to be sent: a test may write any performative, and the counters follow.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use hilt_core::Instant;

use crate::framing::Decoded;

use super::composite::{Composite, descriptor as d};
use super::frame::{Frame, MIN_MAX_FRAME_SIZE, ProtocolHeader, decode, frame_len};
use super::message::Message;
use super::rules::Violation;
use super::value::Value;

/// Error conditions of 2.8.15–2.8.18 the suite looks for.
pub mod condition {
    pub const INTERNAL_ERROR: &str = "amqp:internal-error";
    pub const NOT_FOUND: &str = "amqp:not-found";
    pub const UNAUTHORIZED_ACCESS: &str = "amqp:unauthorized-access";
    pub const DECODE_ERROR: &str = "amqp:decode-error";
    pub const RESOURCE_LIMIT_EXCEEDED: &str = "amqp:resource-limit-exceeded";
    pub const NOT_ALLOWED: &str = "amqp:not-allowed";
    pub const INVALID_FIELD: &str = "amqp:invalid-field";
    pub const NOT_IMPLEMENTED: &str = "amqp:not-implemented";
    pub const FRAMING_ERROR: &str = "amqp:connection:framing-error";
    pub const UNATTACHED_HANDLE: &str = "amqp:session:unattached-handle";
    pub const HANDLE_IN_USE: &str = "amqp:session:handle-in-use";
    pub const ERRANT_LINK: &str = "amqp:session:errant-link";
    pub const DETACH_FORCED: &str = "amqp:link:detach-forced";
    pub const MESSAGE_SIZE_EXCEEDED: &str = "amqp:link:message-size-exceeded";
}

/// The SASL layer a connection negotiates before AMQP, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sasl {
    /// No SASL layer: the AMQP header straight away.
    None,
    Anonymous,
    Plain {
        user: String,
        password: String,
    },
    /// Send this mechanism with this initial response, whatever the server offers.
    Mechanism {
        name: String,
        response: Vec<u8>,
    },
}

/// Settlement modes of 2.8.2 and 2.8.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleMode {
    /// Sender: unsettled; receiver: first (settle on receipt).
    Unsettled,
    /// Sender: settled (at-most-once).
    Settled,
    /// Sender: mixed.
    Mixed,
}

impl SettleMode {
    pub fn sender_code(self) -> u8 {
        match self {
            SettleMode::Unsettled => 0,
            SettleMode::Settled => 1,
            SettleMode::Mixed => 2,
        }
    }
}

/// Which end of a link this connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRole {
    Sender,
    Receiver,
}

impl LinkRole {
    /// The role field's value: false for sender, true for receiver (2.8.1).
    pub fn as_bool(self) -> bool {
        self == LinkRole::Receiver
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub container_id: String,
    pub hostname: Option<String>,
    pub sasl: Sasl,
    /// The max-frame-size we announce: frames from the peer above it are violations.
    pub max_frame_size: u32,
    pub channel_max: u16,
    /// The idle time-out we announce (milliseconds); `None` leaves it out.
    pub idle_time_out: Option<u32>,
    /// Send open as soon as the AMQP header is out; off for tests that write their own.
    pub auto_open: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            container_id: "hilt".into(),
            hostname: None,
            sasl: Sasl::Anonymous,
            max_frame_size: 65536,
            channel_max: 255,
            idle_time_out: None,
            auto_open: true,
        }
    }
}

/// A message that arrived whole (all its transfers).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub channel: u16,
    pub handle: u32,
    pub delivery_id: u32,
    pub tag: Vec<u8>,
    pub settled: bool,
    /// The first transfer, as sent.
    pub transfer: Composite,
    /// How many transfer frames carried it.
    pub frames: usize,
    pub payload: Vec<u8>,
    pub message: Result<Message, Violation>,
}

/// What the connection tells its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The peer's protocol header (AMQP or SASL layer) arrived and matches what was sent.
    Header(ProtocolHeader),
    /// The peer answered with a header other than the one sent: a refusal of the version
    /// or layer (2.2), the socket closing next.
    HeaderRefused(ProtocolHeader),
    /// sasl-mechanisms, sasl-challenge and sasl-outcome.
    Sasl(Composite),
    /// Any performative but transfer (open, begin, attach, flow, disposition, detach, end,
    /// close), with its channel.
    Performative {
        channel: u16,
        performative: Composite,
    },
    /// An empty frame (2.4.5).
    Empty,
    /// A message whose last transfer arrived.
    Delivery(Box<Delivery>),
    /// A transfer the sender aborted (2.6.14): the delivery's frames are dropped.
    Aborted { channel: u16, handle: u32 },
    /// The peer broke a framing or encoding rule; nothing after it is read.
    Violation(Violation),
}

/// Link state of 2.6.7 kept for one attached handle.
#[derive(Debug, Clone)]
pub struct Link {
    pub name: String,
    pub role: LinkRole,
    pub delivery_count: u32,
    pub link_credit: u32,
    /// The peer's attach has arrived.
    pub attached: bool,
    next_tag: u64,
}

/// Session state of 2.5.6 for one channel.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub next_outgoing_id: u32,
    pub next_incoming_id: Option<u32>,
    pub incoming_window: u32,
    pub outgoing_window: u32,
    /// The peer's begin has arrived.
    pub begun: bool,
    pub links: BTreeMap<u32, Link>,
    /// handle → a delivery still arriving.
    partial: BTreeMap<u32, Partial>,
}

#[derive(Debug, Clone)]
struct Partial {
    first: Composite,
    delivery_id: u32,
    tag: Vec<u8>,
    settled: bool,
    frames: usize,
    payload: Vec<u8>,
}

/// Where the header exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Waiting for the peer's header of this layer.
    AwaitHeader(u8),
    Sasl,
    Amqp,
    /// Unreadable input was seen: nothing more is read.
    Broken,
}

/// The default windows hilt opens sessions with: large enough never to stall a test.
pub const WINDOW: u32 = 2048;

#[derive(Debug)]
pub struct Connection {
    config: Config,
    phase: Phase,
    input: Vec<u8>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    /// The peer's open, once received.
    pub peer_open: Option<Composite>,
    pub sessions: BTreeMap<u16, Session>,
    last_sent: Instant,
    last_received: Instant,
}

impl Connection {
    pub fn new(config: Config) -> Self {
        Connection {
            config,
            phase: Phase::Idle,
            input: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            peer_open: None,
            sessions: BTreeMap::new(),
            last_sent: Instant::ZERO,
            last_received: Instant::ZERO,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends the first protocol header (SASL's, or AMQP's when there is no SASL layer).
    pub fn start(&mut self, now: Instant) {
        if self.config.sasl == Sasl::None {
            self.send_amqp_header(now);
        } else {
            self.push(now, ProtocolHeader::SASL.to_bytes().to_vec());
            self.phase = Phase::AwaitHeader(3);
        }
    }

    /// Writes `header` as the first octets instead of the one [`Connection::start`]
    /// would, then waits for the peer's header as after a start with that layer.
    pub fn start_with_header(&mut self, now: Instant, header: [u8; 8]) {
        self.push(now, header.to_vec());
        self.phase = Phase::AwaitHeader(header[4]);
    }

    fn send_amqp_header(&mut self, now: Instant) {
        self.push(now, ProtocolHeader::AMQP.to_bytes().to_vec());
        self.phase = Phase::AwaitHeader(0);
        if self.config.auto_open {
            self.send(now, 0, self.open());
        }
    }

    /// The open this connection sends.
    pub fn open(&self) -> Composite {
        let mut o = Composite::named("open")
            .with("container-id", self.config.container_id.as_str())
            .with("max-frame-size", self.config.max_frame_size)
            .with("channel-max", self.config.channel_max);
        if let Some(h) = &self.config.hostname {
            o.set("hostname", h.as_str());
        }
        if let Some(t) = self.config.idle_time_out {
            o.set("idle-time-out", t);
        }
        o
    }

    /// The largest frame the peer accepts: its max-frame-size once its open arrived,
    /// 512 before (2.4.1).
    pub fn peer_max_frame_size(&self) -> u32 {
        self.peer_open.as_ref().map_or(MIN_MAX_FRAME_SIZE, |o| {
            o.u64("max-frame-size")
                .map_or(u32::MAX, |n| n.min(u64::from(u32::MAX)) as u32)
        })
    }

    /// The peer's idle time-out, if it announced one.
    pub fn peer_idle_time_out(&self) -> Option<Duration> {
        self.peer_open
            .as_ref()?
            .u64("idle-time-out")
            .filter(|t| *t > 0)
            .map(Duration::from_millis)
    }

    fn push(&mut self, now: Instant, bytes: Vec<u8>) {
        self.last_sent = now;
        self.out.push_back(bytes);
    }

    /// Queues octets as they are: a raw frame, a broken header.
    pub fn send_raw(&mut self, now: Instant, bytes: Vec<u8>) {
        self.push(now, bytes);
    }

    /// Sends a performative on `channel` and updates the state it changes.
    pub fn send(&mut self, now: Instant, channel: u16, p: Composite) {
        self.note_sent(channel, &p);
        self.push(now, Frame::amqp(channel, p).to_bytes());
    }

    fn note_sent(&mut self, channel: u16, p: &Composite) {
        match p.spec.code {
            d::BEGIN => {
                let s = self.sessions.entry(channel).or_default();
                s.next_outgoing_id = p.u64("next-outgoing-id").unwrap_or(0) as u32;
                s.incoming_window = p.u64("incoming-window").unwrap_or(0) as u32;
                s.outgoing_window = p.u64("outgoing-window").unwrap_or(0) as u32;
            }
            d::ATTACH => {
                let s = self.sessions.entry(channel).or_default();
                let handle = p.u64("handle").unwrap_or(0) as u32;
                let role = if p.bool("role") == Some(true) {
                    LinkRole::Receiver
                } else {
                    LinkRole::Sender
                };
                s.links.insert(
                    handle,
                    Link {
                        name: p.get("name").as_str().unwrap_or("").to_owned(),
                        role,
                        delivery_count: p.u64("initial-delivery-count").unwrap_or(0) as u32,
                        link_credit: 0,
                        attached: false,
                        next_tag: 0,
                    },
                );
            }
            d::FLOW => {
                if let Some(h) = p.u64("handle")
                    && let Some(l) = self
                        .sessions
                        .get_mut(&channel)
                        .and_then(|s| s.links.get_mut(&(h as u32)))
                    && l.role == LinkRole::Receiver
                    && let Some(c) = p.u64("link-credit")
                {
                    l.link_credit = c as u32;
                }
            }
            d::DETACH => {
                if let Some(s) = self.sessions.get_mut(&channel) {
                    s.links.remove(&(p.u64("handle").unwrap_or(0) as u32));
                }
            }
            d::END => {
                self.sessions.remove(&channel);
            }
            _ => {}
        }
    }

    /// Begins a session on `channel` with hilt's default windows.
    pub fn begin(&mut self, now: Instant, channel: u16) {
        let b = Composite::named("begin")
            .with("next-outgoing-id", 0u32)
            .with("incoming-window", WINDOW)
            .with("outgoing-window", WINDOW);
        self.send(now, channel, b);
    }

    /// The attach a link of `role` sends for `address` (source for a receiver, target for
    /// a sender) with settlement modes `snd` and `rcv` (0 first, 1 second).
    pub fn attach_for(
        name: &str,
        handle: u32,
        role: LinkRole,
        address: &str,
        snd: SettleMode,
        rcv: u8,
    ) -> Composite {
        let source = Composite::named("source");
        let target = Composite::named("target");
        let (source, target) = match role {
            LinkRole::Sender => (source, target.with("address", address)),
            LinkRole::Receiver => (source.with("address", address), target),
        };
        let mut a = Composite::named("attach")
            .with("name", name)
            .with("handle", handle)
            .with("role", role.as_bool())
            .with("snd-settle-mode", snd.sender_code())
            .with("rcv-settle-mode", rcv)
            .with("source", source)
            .with("target", target);
        if role == LinkRole::Sender {
            a.set("initial-delivery-count", 0u32);
        }
        a
    }

    /// Grants `credit` on a receiving link, with the session's flow state.
    pub fn flow(&mut self, now: Instant, channel: u16, handle: u32, credit: u32, drain: bool) {
        let f = self.flow_frame(channel, Some((handle, credit, drain)));
        self.send(now, channel, f);
    }

    /// A flow carrying the session's state and, for `link`, the link's (handle, credit,
    /// drain) with its delivery-count.
    pub fn flow_frame(&self, channel: u16, link: Option<(u32, u32, bool)>) -> Composite {
        let s = self.sessions.get(&channel).cloned().unwrap_or_default();
        let mut f = Composite::named("flow")
            .with("incoming-window", s.incoming_window)
            .with("next-outgoing-id", s.next_outgoing_id)
            .with("outgoing-window", s.outgoing_window);
        if let Some(n) = s.next_incoming_id {
            f.set("next-incoming-id", n);
        }
        if let Some((handle, credit, drain)) = link {
            let dc = s.links.get(&handle).map_or(0, |l| l.delivery_count);
            f.set("handle", handle);
            f.set("delivery-count", dc);
            f.set("link-credit", credit);
            f.set("drain", drain);
        }
        f
    }

    /// Sends `message` on a sending link, split into as many transfers as the peer's
    /// max-frame-size needs; returns the delivery-id.
    pub fn transfer(
        &mut self,
        now: Instant,
        channel: u16,
        handle: u32,
        message: &Message,
        settled: bool,
    ) -> u32 {
        self.transfer_payload(now, channel, handle, &message.to_bytes(), settled, None)
    }

    /// Like [`Connection::transfer`] with the payload as given and frames of at most
    /// `frame_size` octets (the peer's max-frame-size when `None`).
    pub fn transfer_payload(
        &mut self,
        now: Instant,
        channel: u16,
        handle: u32,
        payload: &[u8],
        settled: bool,
        frame_size: Option<u32>,
    ) -> u32 {
        let s = self.sessions.entry(channel).or_default();
        let id = s.next_outgoing_id;
        s.next_outgoing_id = s.next_outgoing_id.wrapping_add(1);
        let tag = match s.links.get_mut(&handle) {
            Some(l) => {
                l.delivery_count = l.delivery_count.wrapping_add(1);
                l.link_credit = l.link_credit.saturating_sub(1);
                l.next_tag += 1;
                l.next_tag.to_be_bytes().to_vec()
            }
            None => id.to_be_bytes().to_vec(),
        };
        let first = Composite::named("transfer")
            .with("handle", handle)
            .with("delivery-id", id)
            .with("delivery-tag", tag)
            .with("message-format", 0u32)
            .with("settled", settled);
        let limit = frame_size.unwrap_or_else(|| self.peer_max_frame_size()) as usize;
        let frames = split_transfer(channel, first, handle, payload, limit);
        for f in frames {
            self.push(now, f.to_bytes());
        }
        id
    }

    /// A disposition settling (or just updating) deliveries `first..=last`.
    pub fn disposition(
        role: LinkRole,
        first: u32,
        last: Option<u32>,
        settled: bool,
        state: Option<Composite>,
    ) -> Composite {
        let mut p = Composite::named("disposition")
            .with("role", role.as_bool())
            .with("first", first)
            .with("settled", settled);
        if let Some(l) = last {
            p.set("last", l);
        }
        if let Some(s) = state {
            p.set("state", s);
        }
        p
    }

    pub fn close(&mut self, now: Instant, error: Option<Composite>) {
        let mut c = Composite::named("close");
        if let Some(e) = error {
            c.set("error", e);
        }
        self.send(now, 0, c);
    }

    pub fn link(&self, channel: u16, handle: u32) -> Option<&Link> {
        self.sessions.get(&channel)?.links.get(&handle)
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When an empty frame is due so the peer's idle time-out never fires: half its
    /// announced value after the last frame sent (2.4.5).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self.peer_idle_time_out()?;
        Some(self.last_sent + t / 2)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Amqp
            && let Some(due) = self.poll_timeout()
            && now >= due
        {
            self.push(now, Frame::empty().to_bytes());
        }
    }

    /// When the last octets arrived from the peer.
    pub fn last_received(&self) -> Instant {
        self.last_received
    }

    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        if self.phase == Phase::Broken {
            return;
        }
        self.last_received = now;
        self.input.extend_from_slice(bytes);
        loop {
            match self.phase {
                Phase::Broken | Phase::Idle => return,
                Phase::AwaitHeader(layer) => {
                    let Decoded::Done(h, n) = ProtocolHeader::parse(&self.input) else {
                        return;
                    };
                    self.input.drain(..n);
                    if h.name != *b"AMQP" || h.id != layer || h.version != [1, 0, 0] {
                        self.events.push_back(Event::HeaderRefused(h));
                        self.phase = Phase::Broken;
                        return;
                    }
                    self.events.push_back(Event::Header(h));
                    self.phase = if layer == 3 { Phase::Sasl } else { Phase::Amqp };
                }
                Phase::Sasl | Phase::Amqp => {
                    let limit = if self.phase == Phase::Amqp {
                        self.config.max_frame_size.max(MIN_MAX_FRAME_SIZE)
                    } else {
                        0
                    };
                    let n = match frame_len(&self.input) {
                        Ok(Decoded::Done(n, _)) => n,
                        Ok(Decoded::NeedMore(_)) => return,
                        Err(v) => return self.broken(v),
                    };
                    let f = match decode(&self.input[..n], limit) {
                        Ok(Decoded::Done(f, _)) => f,
                        Ok(Decoded::NeedMore(_)) => return,
                        Err(v) => return self.broken(v),
                    };
                    self.input.drain(..n);
                    self.received(now, f);
                }
            }
        }
    }

    fn broken(&mut self, v: Violation) {
        self.events.push_back(Event::Violation(v));
        self.phase = Phase::Broken;
    }

    fn received(&mut self, now: Instant, f: Frame) {
        let channel = f.channel;
        match f.body {
            super::frame::Body::Empty => self.events.push_back(Event::Empty),
            super::frame::Body::Sasl(p) => {
                let code = p.spec.code;
                self.events.push_back(Event::Sasl(p.clone()));
                match code {
                    d::SASL_MECHANISMS => self.sasl_init(now),
                    d::SASL_OUTCOME if p.u64("code") == Some(0) => self.send_amqp_header(now),
                    _ => {}
                }
            }
            super::frame::Body::Amqp {
                performative,
                payload,
            } => {
                if performative.is(d::TRANSFER) {
                    self.incoming_transfer(channel, performative, payload);
                    return;
                }
                self.note_received(channel, &performative);
                self.events.push_back(Event::Performative {
                    channel,
                    performative,
                });
            }
        }
    }

    fn sasl_init(&mut self, now: Instant) {
        let (mechanism, response): (&str, Option<Vec<u8>>) = match &self.config.sasl {
            Sasl::None => return,
            Sasl::Anonymous => ("ANONYMOUS", Some(b"hilt".to_vec())),
            Sasl::Plain { user, password } => {
                let mut r = vec![0];
                r.extend_from_slice(user.as_bytes());
                r.push(0);
                r.extend_from_slice(password.as_bytes());
                ("PLAIN", Some(r))
            }
            Sasl::Mechanism { name, response } => (name.as_str(), Some(response.clone())),
        };
        let mut init = Composite::named("sasl-init").with("mechanism", Value::symbol(mechanism));
        if let Some(r) = response {
            init.set("initial-response", r);
        }
        if let Some(h) = &self.config.hostname {
            init.set("hostname", h.as_str());
        }
        self.push(now, Frame::sasl(init).to_bytes());
    }

    fn note_received(&mut self, channel: u16, p: &Composite) {
        match p.spec.code {
            d::OPEN => self.peer_open = Some(p.clone()),
            d::BEGIN => {
                let s = self.sessions.entry(channel).or_default();
                s.begun = true;
                s.next_incoming_id = p.u64("next-outgoing-id").map(|n| n as u32);
            }
            d::ATTACH => {
                let handle = p.u64("handle").unwrap_or(0) as u32;
                if let Some(l) = self
                    .sessions
                    .get_mut(&channel)
                    .and_then(|s| s.links.get_mut(&handle))
                {
                    l.attached = true;
                    if l.role == LinkRole::Receiver
                        && let Some(dc) = p.u64("initial-delivery-count")
                    {
                        l.delivery_count = dc as u32;
                    }
                }
            }
            d::FLOW => {
                let Some(h) = p.u64("handle") else { return };
                let Some(l) = self
                    .sessions
                    .get_mut(&channel)
                    .and_then(|s| s.links.get_mut(&(h as u32)))
                else {
                    return;
                };
                match l.role {
                    // 2.6.7: link-credit(snd) = delivery-count(rcv) + link-credit(rcv)
                    // − delivery-count(snd).
                    LinkRole::Sender => {
                        let rcv_dc = p.u64("delivery-count").unwrap_or(0) as u32;
                        let rcv_credit = p.u64("link-credit").unwrap_or(0) as u32;
                        l.link_credit = rcv_dc
                            .wrapping_add(rcv_credit)
                            .wrapping_sub(l.delivery_count);
                    }
                    // A sender's flow (after a drain, say) sets the receiver's view.
                    LinkRole::Receiver => {
                        if let Some(dc) = p.u64("delivery-count") {
                            l.delivery_count = dc as u32;
                        }
                        if let Some(c) = p.u64("link-credit") {
                            l.link_credit = c as u32;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn incoming_transfer(&mut self, channel: u16, t: Composite, payload: Vec<u8>) {
        let handle = t.u64("handle").unwrap_or(0) as u32;
        let s = self.sessions.entry(channel).or_default();
        let continuing = s.partial.remove(&handle);
        if t.bool("aborted") == Some(true) {
            self.events.push_back(Event::Aborted { channel, handle });
            return;
        }
        let mut p = match continuing {
            Some(p) => p,
            None => {
                let delivery_id = t
                    .u64("delivery-id")
                    .map(|n| n as u32)
                    .or(s.next_incoming_id)
                    .unwrap_or(0);
                s.next_incoming_id = Some(delivery_id.wrapping_add(1));
                if let Some(l) = s.links.get_mut(&handle) {
                    l.delivery_count = l.delivery_count.wrapping_add(1);
                    l.link_credit = l.link_credit.saturating_sub(1);
                }
                Partial {
                    delivery_id,
                    tag: t.get("delivery-tag").as_bytes().unwrap_or(&[]).to_vec(),
                    settled: false,
                    frames: 0,
                    payload: Vec::new(),
                    first: t.clone(),
                }
            }
        };
        p.frames += 1;
        p.payload.extend_from_slice(&payload);
        p.settled |= t.bool("settled") == Some(true);
        if t.bool("more") == Some(true) {
            s.partial.insert(handle, p);
            return;
        }
        let message = Message::decode(&p.payload);
        self.events.push_back(Event::Delivery(Box::new(Delivery {
            channel,
            handle,
            delivery_id: p.delivery_id,
            tag: p.tag,
            settled: p.settled,
            transfer: p.first,
            frames: p.frames,
            payload: p.payload,
            message,
        })));
    }
}

/// The transfer frames carrying `payload`, none above `limit` octets: the first with
/// every field of `first`, the others with the handle alone, all but the last with
/// `more` set (2.6.14).
pub fn split_transfer(
    channel: u16,
    first: Composite,
    handle: u32,
    payload: &[u8],
    limit: usize,
) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut rest = payload;
    let mut head = first;
    loop {
        let with_more = head.clone().with("more", true);
        let overhead = Frame::transfer(channel, with_more.clone(), Vec::new())
            .to_bytes()
            .len();
        let room = limit.saturating_sub(overhead).max(1);
        if rest.len() <= room {
            frames.push(Frame::transfer(channel, head, rest.to_vec()));
            return frames;
        }
        frames.push(Frame::transfer(channel, with_more, rest[..room].to_vec()));
        rest = &rest[room..];
        head = Composite::named("transfer").with("handle", handle);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::amqp10::frame::Body;

    fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn drain(c: &mut Connection) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(b) = c.poll_transmit() {
            all.extend(b);
        }
        all
    }

    fn frames(mut bytes: &[u8]) -> Vec<Frame> {
        let mut v = Vec::new();
        while !bytes.is_empty() {
            if bytes[0] == b'A' {
                bytes = &bytes[8..];
                continue;
            }
            let Ok(Decoded::Done(f, n)) = decode(bytes, 0) else {
                panic!("{bytes:02x?}")
            };
            v.push(f);
            bytes = &bytes[n..];
        }
        v
    }

    #[test]
    fn sasl_then_open_then_peer_open() {
        let mut c = Connection::new(Config::default());
        c.start(t(0));
        assert_eq!(drain(&mut c), ProtocolHeader::SASL.to_bytes());
        let mechs = Composite::named("sasl-mechanisms")
            .with("sasl-server-mechanisms", Value::symbol("ANONYMOUS"));
        let mut input = ProtocolHeader::SASL.to_bytes().to_vec();
        input.extend(Frame::sasl(mechs).to_bytes());
        c.handle_input(t(1), &input);
        let sent = frames(&drain(&mut c));
        assert_eq!(sent[0].kind(), "sasl-init");
        let outcome = Composite::named("sasl-outcome").with("code", 0u8);
        c.handle_input(t(2), &Frame::sasl(outcome).to_bytes());
        let out = drain(&mut c);
        assert_eq!(&out[..8], ProtocolHeader::AMQP.to_bytes());
        assert_eq!(frames(&out)[0].kind(), "open");
        let mut input = ProtocolHeader::AMQP.to_bytes().to_vec();
        let open = Composite::named("open")
            .with("container-id", "b")
            .with("max-frame-size", 1024u32)
            .with("idle-time-out", 4000u32);
        input.extend(Frame::amqp(0, open).to_bytes());
        c.handle_input(t(3), &input);
        let events: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
        assert!(
            matches!(events.last(), Some(Event::Performative { performative, .. }) if performative.is(d::OPEN))
        );
        assert_eq!(c.peer_max_frame_size(), 1024);
        // An empty frame is due half the peer's idle time-out after the last frame sent.
        assert_eq!(c.poll_timeout(), Some(t(2) + Duration::from_millis(2000)));
        c.handle_timeout(t(2003));
        assert_eq!(frames(&drain(&mut c)), vec![Frame::empty()]);
    }

    #[test]
    fn large_messages_are_split_and_put_together() {
        let msg = Message::data(vec![7u8; 3000]);
        let first = Composite::named("transfer")
            .with("handle", 0u32)
            .with("delivery-id", 0u32)
            .with("delivery-tag", vec![1u8]);
        let fs = split_transfer(0, first, 0, &msg.to_bytes(), 512);
        assert!(fs.len() >= 6);
        assert!(fs.iter().all(|f| f.to_bytes().len() <= 512));
        let mut c = Connection::new(Config {
            sasl: Sasl::None,
            ..Config::default()
        });
        c.start(t(0));
        let mut input = ProtocolHeader::AMQP.to_bytes().to_vec();
        for f in &fs {
            input.extend(f.to_bytes());
        }
        c.handle_input(t(1), &input);
        let got: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
        match got.last() {
            Some(Event::Delivery(dl)) => {
                assert_eq!(dl.frames, fs.len());
                assert_eq!(dl.message, Ok(msg));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn credit_follows_flow_and_transfers() {
        let mut c = Connection::new(Config::default());
        c.send(
            t(0),
            1,
            Connection::attach_for(
                "l",
                3,
                LinkRole::Sender,
                "/queue/q",
                SettleMode::Unsettled,
                0,
            ),
        );
        let flow = Composite::named("flow")
            .with("incoming-window", 10u32)
            .with("next-outgoing-id", 0u32)
            .with("outgoing-window", 10u32)
            .with("handle", 3u32)
            .with("delivery-count", 0u32)
            .with("link-credit", 5u32);
        c.note_received(1, &flow);
        assert_eq!(c.link(1, 3).map(|l| l.link_credit), Some(5));
        c.transfer(t(1), 1, 3, &Message::data(b"x".to_vec()), false);
        let l = c.link(1, 3).cloned();
        assert_eq!(l.map(|l| (l.delivery_count, l.link_credit)), Some((1, 4)));
        let sent = frames(&drain(&mut c));
        match &sent[1].body {
            Body::Amqp { performative, .. } => {
                assert_eq!(performative.u64("delivery-id"), Some(0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_header_is_an_event() {
        let mut c = Connection::new(Config::default());
        c.start(t(0));
        c.handle_input(t(1), b"AMQP\x00\x01\x00\x00");
        assert!(matches!(c.poll_event(), Some(Event::HeaderRefused(h)) if h.id == 0));
    }
}
