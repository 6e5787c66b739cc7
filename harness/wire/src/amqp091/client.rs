//! A sans-IO AMQP 0-9-1 client core: connection negotiation (Start/Start-Ok, Tune/Tune-Ok,
//! Open/Open-Ok), channels, publishing with bodies cut by frame-max, content assembly of
//! deliveries, the close handshakes the broker starts, and heartbeats.
//!
//! In the quinn-proto shape: bytes and time come in through
//! [`Client::handle_input`] and [`Client::handle_timeout`]; bytes go out through
//! [`Client::poll_transmit`], what happened through [`Client::poll_event`], and the next
//! deadline through [`Client::poll_timeout`].

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use hilt_core::Instant;

use crate::framing::Decoded;

use super::content::{ContentHeader, Properties};
use super::dissector::ContentTracker;
use super::frame::{Frame, Payload, ProtocolHeader, content_frames, decode};
use super::method::Method;
use super::rules::{Rule, Violation};
use super::spec::{FRAME_MIN_SIZE, MethodId, PROTOCOL_HEADER};
use super::value::{FieldTable, FieldValue, Value};

/// How the client introduces itself and what it asks for in Tune-Ok.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub user: String,
    pub password: String,
    pub virtual_host: String,
    /// 0 takes the server's offer.
    pub channel_max: u16,
    /// 0 takes the server's offer.
    pub frame_max: u32,
    /// Seconds; `None` takes the server's offer, `Some(0)` turns heartbeats off.
    pub heartbeat: Option<u16>,
    pub client_properties: FieldTable,
    /// Leave Start-Ok, Tune-Ok and Open to the caller (for tests that send their own);
    /// Start and Tune are then reported as events and not answered.
    pub manual_handshake: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            user: "guest".into(),
            password: "guest".into(),
            virtual_host: "/".into(),
            channel_max: 0,
            frame_max: 0,
            heartbeat: Some(0),
            client_properties: FieldTable::new()
                .with("product", "hilt")
                .with("platform", "Rust")
                .with(
                    "capabilities",
                    FieldValue::Table(
                        FieldTable::new()
                            .with("publisher_confirms", FieldValue::Bool(true))
                            .with("basic.nack", FieldValue::Bool(true))
                            .with("consumer_cancel_notify", FieldValue::Bool(true)),
                    ),
                ),
            manual_handshake: false,
        }
    }
}

/// What the negotiation settled on.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    pub channel_max: u16,
    pub frame_max: u32,
    pub heartbeat: u16,
}

/// A message with its content: from basic.deliver, basic.get-ok or basic.return.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub channel: u16,
    pub method: Method,
    pub properties: Properties,
    pub body: Vec<u8>,
}

/// What the client has to report.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The server answered our protocol header with its own: it does not speak 0-9-1.
    ProtocolRefused(ProtocolHeader),
    /// Connection.Start arrived (before we answer it).
    Started(Method),
    /// Connection.Open-Ok arrived: the connection is usable.
    Connected(Tuning),
    /// A method without content, from the server.
    Method {
        channel: u16,
        method: Method,
    },
    /// A message, assembled from its method, header and body frames.
    Message(Message),
    /// The server sent Connection.Close (we answered Close-Ok).
    ConnectionClosed(Method),
    /// The server sent Channel.Close (we answered Close-Ok).
    ChannelClosed {
        channel: u16,
        method: Method,
    },
    Heartbeat,
    /// The server broke a rule of the frame grammar.
    Violation(Violation),
    /// Nothing arrived for two heartbeat intervals.
    HeartbeatTimeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    AwaitStart,
    AwaitTune,
    AwaitOpenOk,
    Open,
    /// We sent Connection.Close and wait for Close-Ok.
    Closing,
    Closed,
}

#[derive(Debug)]
struct Partial {
    method: Method,
    properties: Option<Properties>,
    body_size: u64,
    body: Vec<u8>,
}

/// The client state machine.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    state: State,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    events: VecDeque<ClientEvent>,
    tuning: Tuning,
    partial: BTreeMap<u16, Partial>,
    content: ContentTracker,
    last_received: Instant,
    last_sent: Instant,
}

impl Client {
    pub fn new(config: ClientConfig) -> Self {
        Client {
            config,
            state: State::Idle,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            events: VecDeque::new(),
            tuning: Tuning {
                channel_max: 0,
                frame_max: FRAME_MIN_SIZE,
                heartbeat: 0,
            },
            partial: BTreeMap::new(),
            content: ContentTracker::default(),
            last_received: Instant::ZERO,
            last_sent: Instant::ZERO,
        }
    }

    /// Sends the protocol header.
    pub fn start(&mut self, now: Instant) {
        self.outbuf.extend_from_slice(&PROTOCOL_HEADER);
        self.last_sent = now;
        self.last_received = now;
        self.state = State::AwaitStart;
    }

    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Sends one method.
    pub fn send_method(&mut self, now: Instant, channel: u16, m: Method) {
        self.send(now, &Frame::method(channel, m));
    }

    /// Sends a content-bearing method with its header and body, the body cut to fit the
    /// negotiated frame-max.
    pub fn send_content(
        &mut self,
        now: Instant,
        channel: u16,
        m: Method,
        properties: Properties,
        body: &[u8],
    ) {
        for f in content_frames(channel, m, properties, body, self.tuning.frame_max) {
            self.send(now, &f);
        }
    }

    /// Starts the connection close handshake.
    pub fn close(&mut self, now: Instant, reply_code: u16, text: &str) {
        let m = Method::new(MethodId::CONNECTION_CLOSE)
            .with("reply-code", reply_code)
            .with("reply-text", text);
        self.send_method(now, 0, m);
        self.state = State::Closing;
    }

    fn send(&mut self, now: Instant, f: &Frame) {
        f.emit(&mut self.outbuf);
        self.last_sent = now;
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.outbuf.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.outbuf))
        }
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn interval(&self) -> Option<Duration> {
        (self.tuning.heartbeat > 0 && self.state == State::Open)
            .then(|| Duration::from_secs(self.tuning.heartbeat.into()))
    }

    /// When [`Client::handle_timeout`] wants to run next: our next heartbeat, or the
    /// server's silence deadline, whichever is sooner.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let i = self.interval()?;
        Some(std::cmp::min(
            self.last_sent + i,
            self.last_received + 2 * i,
        ))
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(i) = self.interval() else { return };
        if now.saturating_since(self.last_received) >= 2 * i {
            self.state = State::Closed;
            self.events.push_back(ClientEvent::HeartbeatTimeout);
            return;
        }
        if now.saturating_since(self.last_sent) >= i {
            self.send(now, &Frame::heartbeat());
        }
    }

    /// Takes bytes from the server.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.inbuf.extend_from_slice(bytes);
        self.last_received = now;
        loop {
            if self.state == State::Closed {
                self.inbuf.clear();
                return;
            }
            if self.state == State::AwaitStart && self.inbuf.first() == Some(&b'A') {
                match ProtocolHeader::parse(&self.inbuf) {
                    Decoded::Done(h, n) => {
                        self.inbuf.drain(..n);
                        self.state = State::Closed;
                        self.events.push_back(ClientEvent::ProtocolRefused(h));
                    }
                    Decoded::NeedMore(_) => return,
                }
                continue;
            }
            let limit = match self.state {
                State::Open | State::Closing => self.tuning.frame_max,
                _ => 0,
            };
            match decode(&self.inbuf, limit) {
                Ok(Decoded::Done(f, n)) => {
                    self.inbuf.drain(..n);
                    if let Some(p) = self.content.observe(&f) {
                        self.violation(Violation::new(Rule::ContentOrder, 0, p));
                        continue;
                    }
                    self.handle_frame(now, f);
                }
                Ok(Decoded::NeedMore(_)) => return,
                Err(v) => {
                    self.inbuf.clear();
                    self.violation(v);
                    self.state = State::Closed;
                    return;
                }
            }
        }
    }

    fn violation(&mut self, v: Violation) {
        self.events.push_back(ClientEvent::Violation(v));
    }

    fn handle_frame(&mut self, now: Instant, f: Frame) {
        let channel = f.channel;
        match f.payload {
            Payload::Heartbeat => self.events.push_back(ClientEvent::Heartbeat),
            Payload::Method(m) => self.handle_method(now, channel, m),
            Payload::Header(h) => self.handle_header(channel, h),
            Payload::Body(b) => self.handle_body(channel, &b),
        }
    }

    fn handle_method(&mut self, now: Instant, channel: u16, m: Method) {
        if m.spec.content {
            self.partial.insert(
                channel,
                Partial {
                    method: m,
                    properties: None,
                    body_size: 0,
                    body: Vec::new(),
                },
            );
            return;
        }
        let id = m.id();
        match (self.state, id) {
            (State::AwaitStart, MethodId::CONNECTION_START) if self.config.manual_handshake => {
                self.events.push_back(ClientEvent::Started(m));
                self.state = State::AwaitTune;
            }
            (State::AwaitTune, MethodId::CONNECTION_TUNE) if self.config.manual_handshake => {
                self.events
                    .push_back(ClientEvent::Method { channel, method: m });
                self.state = State::AwaitOpenOk;
            }
            (State::AwaitStart, MethodId::CONNECTION_START) => {
                self.events.push_back(ClientEvent::Started(m));
                let mut response = vec![0];
                response.extend_from_slice(self.config.user.as_bytes());
                response.push(0);
                response.extend_from_slice(self.config.password.as_bytes());
                let ok = Method::new(MethodId::CONNECTION_START_OK)
                    .with("client-properties", self.config.client_properties.clone())
                    .with("mechanism", "PLAIN")
                    .with("response", Value::LongStr(response))
                    .with("locale", "en_US");
                self.send_method(now, 0, ok);
                self.state = State::AwaitTune;
            }
            (State::AwaitTune, MethodId::CONNECTION_TUNE) => {
                let pick = |ours: u64, theirs: u64| match (ours, theirs) {
                    (0, t) => t,
                    (o, 0) => o,
                    (o, t) => o.min(t),
                };
                self.tuning = Tuning {
                    channel_max: pick(self.config.channel_max.into(), m.int("channel-max")) as u16,
                    frame_max: pick(self.config.frame_max.into(), m.int("frame-max")) as u32,
                    heartbeat: match self.config.heartbeat {
                        Some(h) => h,
                        None => m.int("heartbeat") as u16,
                    },
                };
                let ok = Method::new(MethodId::CONNECTION_TUNE_OK)
                    .with("channel-max", self.tuning.channel_max)
                    .with("frame-max", self.tuning.frame_max)
                    .with("heartbeat", self.tuning.heartbeat);
                self.send_method(now, 0, ok);
                let open = Method::new(MethodId::CONNECTION_OPEN)
                    .with("virtual-host", self.config.virtual_host.as_str());
                self.send_method(now, 0, open);
                self.state = State::AwaitOpenOk;
            }
            (State::AwaitOpenOk, MethodId::CONNECTION_OPEN_OK) => {
                self.state = State::Open;
                self.events
                    .push_back(ClientEvent::Connected(self.tuning.clone()));
            }
            (_, MethodId::CONNECTION_CLOSE) => {
                self.send_method(now, 0, Method::new(MethodId::CONNECTION_CLOSE_OK));
                self.state = State::Closed;
                self.events.push_back(ClientEvent::ConnectionClosed(m));
            }
            (State::Closing, MethodId::CONNECTION_CLOSE_OK) => {
                self.state = State::Closed;
                self.events
                    .push_back(ClientEvent::Method { channel, method: m });
            }
            (_, MethodId::CHANNEL_CLOSE) => {
                self.partial.remove(&channel);
                self.send_method(now, channel, Method::new(MethodId::CHANNEL_CLOSE_OK));
                self.events
                    .push_back(ClientEvent::ChannelClosed { channel, method: m });
            }
            _ => self
                .events
                .push_back(ClientEvent::Method { channel, method: m }),
        }
    }

    fn handle_header(&mut self, channel: u16, h: ContentHeader) {
        if let Some(p) = self.partial.get_mut(&channel) {
            p.properties = Some(h.properties);
            p.body_size = h.body_size;
            if h.body_size == 0 {
                self.finish(channel);
            }
        }
    }

    fn handle_body(&mut self, channel: u16, b: &[u8]) {
        if let Some(p) = self.partial.get_mut(&channel) {
            p.body.extend_from_slice(b);
            if p.body.len() as u64 >= p.body_size {
                self.finish(channel);
            }
        }
    }

    fn finish(&mut self, channel: u16) {
        if let Some(p) = self.partial.remove(&channel) {
            self.events.push_back(ClientEvent::Message(Message {
                channel,
                method: p.method,
                properties: p.properties.unwrap_or_default(),
                body: p.body,
            }));
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn server(frames: &[Frame]) -> Vec<u8> {
        frames.iter().flat_map(Frame::to_bytes).collect()
    }

    fn at(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }

    fn open(heartbeat: u16) -> Client {
        let mut c = Client::new(ClientConfig {
            heartbeat: None,
            ..ClientConfig::default()
        });
        c.start(at(0));
        assert_eq!(c.poll_transmit().unwrap(), PROTOCOL_HEADER);
        let start = Method::new(MethodId::CONNECTION_START)
            .with("version-minor", 9u8)
            .with("mechanisms", Value::LongStr(b"PLAIN AMQPLAIN".to_vec()))
            .with("locales", Value::LongStr(b"en_US".to_vec()));
        c.handle_input(at(0), &server(&[Frame::method(0, start)]));
        assert!(matches!(c.poll_event(), Some(ClientEvent::Started(_))));
        let sent = c.poll_transmit().unwrap();
        let Ok(Decoded::Done(f, _)) = decode(&sent, 0) else {
            panic!("start-ok")
        };
        let ok = f.as_method().unwrap();
        assert_eq!(ok.text("mechanism"), "PLAIN");
        assert_eq!(
            ok.get("response").and_then(Value::as_bytes),
            Some(&b"\0guest\0guest"[..])
        );
        let tune = Method::new(MethodId::CONNECTION_TUNE)
            .with("channel-max", 2047u16)
            .with("frame-max", 131072u32)
            .with("heartbeat", heartbeat);
        c.handle_input(at(0), &server(&[Frame::method(0, tune)]));
        let sent = c.poll_transmit().unwrap();
        let Ok(Decoded::Done(f, n)) = decode(&sent, 0) else {
            panic!("tune-ok")
        };
        assert!(f.as_method().unwrap().is(MethodId::CONNECTION_TUNE_OK));
        let Ok(Decoded::Done(f, _)) = decode(&sent[n..], 0) else {
            panic!("open")
        };
        assert_eq!(f.as_method().unwrap().text("virtual-host"), "/");
        c.handle_input(
            at(0),
            &server(&[Frame::method(0, Method::new(MethodId::CONNECTION_OPEN_OK))]),
        );
        assert!(matches!(c.poll_event(), Some(ClientEvent::Connected(_))));
        c
    }

    #[test]
    fn negotiates_and_assembles_a_split_delivery() {
        let mut c = open(0);
        let deliver = Method::new(MethodId::BASIC_DELIVER)
            .with("consumer-tag", "ct")
            .with("delivery-tag", 1u64);
        let frames = content_frames(1, deliver, Properties::new(), &[1; 9000], 4096);
        let bytes = server(&frames);
        // In small pieces, as TCP may deliver them.
        for chunk in bytes.chunks(100) {
            c.handle_input(at(1), chunk);
        }
        match c.poll_event() {
            Some(ClientEvent::Message(m)) => {
                assert_eq!(m.body.len(), 9000);
                assert_eq!(m.method.text("consumer-tag"), "ct");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn answers_channel_close_and_sends_heartbeats() {
        let mut c = open(10);
        let close = Method::new(MethodId::CHANNEL_CLOSE).with("reply-code", 404u16);
        c.handle_input(at(1), &server(&[Frame::method(1, close)]));
        assert!(matches!(
            c.poll_event(),
            Some(ClientEvent::ChannelClosed { channel: 1, .. })
        ));
        let sent = c.poll_transmit().unwrap();
        let Ok(Decoded::Done(f, _)) = decode(&sent, 0) else {
            panic!()
        };
        assert!(f.as_method().unwrap().is(MethodId::CHANNEL_CLOSE_OK));
        assert_eq!(c.poll_timeout(), Some(at(11)));
        c.handle_timeout(at(11));
        assert_eq!(c.poll_transmit().unwrap(), Frame::heartbeat().to_bytes());
        c.handle_timeout(at(21));
        assert_eq!(c.poll_event(), Some(ClientEvent::HeartbeatTimeout));
    }

    #[test]
    fn a_refused_version_and_a_broken_frame_are_events() {
        let mut c = Client::new(ClientConfig::default());
        c.start(at(0));
        c.handle_input(at(0), b"AMQP\0\0\x09\x01");
        assert!(matches!(
            c.poll_event(),
            Some(ClientEvent::ProtocolRefused(_))
        ));
        let mut c = open(0);
        c.handle_input(at(0), &[8, 0, 0, 0, 0, 0, 0, 0]);
        match c.poll_event() {
            Some(ClientEvent::Violation(v)) => assert_eq!(v.rule, Rule::FrameEnd),
            other => panic!("{other:?}"),
        }
    }
}
