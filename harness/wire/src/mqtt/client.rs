//! A sans-IO MQTT client core in the quinn-proto shape.
//!
//! The driver feeds it bytes ([`Client::handle_input`]) and time
//! ([`Client::handle_timeout`]), and drains what it wants sent ([`Client::poll_transmit`]),
//! when it next wants to be woken ([`Client::poll_timeout`]) and what happened
//! ([`Client::poll_event`]). It never reads a clock and never touches a socket. A server
//! that breaks a rule becomes a [`ClientEvent::ProtocolViolation`] carrying the rule and
//! the frame that broke it.
//!
//! Session state (unacknowledged QoS 1/2 publications, QoS 2 receptions awaiting PUBREL)
//! outlives a connection: after [`Client::connection_lost`] and a new
//! [`Client::connect`] without Clean Start, a CONNACK with Session Present resends it,
//! PUBLISH with DUP set, in the original order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use hilt_core::Instant;

use super::acks::Ack;
use super::connack::ConnAck;
use super::connect::{Connect, Will};
use super::disconnect::Disconnect;
use super::error::{Version, Violation};
use super::header::{PacketType, QoS, frame_len_for};
use super::packet::{Packet, decode};
use super::properties::Properties;
use super::publish::Publish;
use super::reason::ReasonCode;
use super::rules::Rule;
use super::subscribe::{Subscribe, Subscription};
use super::unsubscribe::Unsubscribe;
use crate::framing::Decoded;

/// What the client asks for when it connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub version: Version,
    pub client_id: String,
    /// Seconds; 0 turns keep-alive off.
    pub keep_alive: u16,
    pub clean_start: bool,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub will: Option<Will>,
    /// CONNECT properties (5.0). A Receive Maximum here also bounds what the client
    /// accepts from the server.
    pub properties: Properties,
    /// How long to wait for CONNACK or PINGRESP before giving the connection up.
    pub response_timeout: Duration,
}

impl ClientConfig {
    pub fn new(version: Version, client_id: impl Into<String>) -> Self {
        ClientConfig {
            version,
            client_id: client_id.into(),
            keep_alive: 60,
            clean_start: true,
            username: None,
            password: None,
            will: None,
            properties: Properties::new(),
            response_timeout: Duration::from_secs(10),
        }
    }
}

/// Where the client is in its connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// No connection (never connected, lost, or closed after a violation or timeout).
    Disconnected,
    /// CONNECT sent, CONNACK awaited.
    Connecting,
    Connected,
}

/// An Application Message the server delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The full topic, resolved from a Topic Alias when the server used one.
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: Option<u16>,
    pub properties: Properties,
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    Connected {
        session_present: bool,
        connack: ConnAck,
    },
    /// CONNACK with a refusal; the connection is over.
    ConnectionRefused {
        code: ReasonCode,
        connack: ConnAck,
    },
    Message(Delivery),
    /// A QoS 1 or 2 publication is finished: PUBACK, PUBCOMP, or a PUBREC refusing it.
    Published {
        packet_id: u16,
        code: ReasonCode,
    },
    Subscribed {
        packet_id: u16,
        codes: Vec<ReasonCode>,
    },
    Unsubscribed {
        packet_id: u16,
        codes: Vec<ReasonCode>,
    },
    PingResponse,
    /// The server sent DISCONNECT (5.0); the connection is over.
    ServerDisconnected(Disconnect),
    /// The server broke a rule; `evidence` is the frame (or the undecodable bytes).
    ProtocolViolation {
        violation: Violation,
        evidence: Vec<u8>,
    },
    /// No CONNACK or PINGRESP within the response timeout; the connection is over.
    Timeout {
        waiting_for: PacketType,
    },
}

/// The acknowledgement an in-flight publication waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Puback,
    Pubrec,
    Pubcomp,
}

#[derive(Debug, Clone)]
struct Inflight {
    publish: Publish,
    stage: Awaiting,
}

/// The client state machine.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    state: ClientState,
    rx: Vec<u8>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<ClientEvent>,
    next_packet_id: u16,
    /// Sent and unacknowledged, in send order ([MQTT-4.6.0-1] resends in that order).
    inflight: Vec<Inflight>,
    /// QoS 1/2 publications waiting for send quota or a connection.
    queued: VecDeque<Publish>,
    /// SUBSCRIBE/UNSUBSCRIBE waiting for a connection.
    held: VecDeque<Packet>,
    /// Our SUBSCRIBE/UNSUBSCRIBE awaiting SUBACK/UNSUBACK: id → number of filters.
    awaiting_suback: BTreeMap<u16, usize>,
    awaiting_unsuback: BTreeMap<u16, usize>,
    /// QoS 2 publications received, PUBREC sent, PUBREL awaited.
    received_qos2: BTreeSet<u16>,
    topic_aliases: BTreeMap<u16, String>,
    send_quota: usize,
    keep_alive: Duration,
    last_sent: Instant,
    connack_deadline: Option<Instant>,
    pingresp_deadline: Option<Instant>,
    seen_connack: bool,
}

impl Client {
    pub fn new(config: ClientConfig) -> Self {
        let keep_alive = Duration::from_secs(u64::from(config.keep_alive));
        Client {
            config,
            state: ClientState::Disconnected,
            rx: Vec::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            next_packet_id: 1,
            inflight: Vec::new(),
            queued: VecDeque::new(),
            held: VecDeque::new(),
            awaiting_suback: BTreeMap::new(),
            awaiting_unsuback: BTreeMap::new(),
            received_qos2: BTreeSet::new(),
            topic_aliases: BTreeMap::new(),
            send_quota: usize::from(u16::MAX),
            keep_alive,
            last_sent: Instant::ZERO,
            connack_deadline: None,
            pingresp_deadline: None,
            seen_connack: false,
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn version(&self) -> Version {
        self.config.version
    }

    /// QoS 1/2 publications sent and not yet acknowledged.
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// Starts a connection: queues CONNECT. With Clean Start, session state is dropped.
    pub fn connect(&mut self, now: Instant) {
        self.rx.clear();
        self.topic_aliases.clear();
        self.seen_connack = false;
        self.pingresp_deadline = None;
        self.keep_alive = Duration::from_secs(u64::from(self.config.keep_alive));
        if self.config.clean_start {
            self.drop_session();
        }
        let connect = Connect {
            clean_start: self.config.clean_start,
            keep_alive: self.config.keep_alive,
            properties: self.config.properties.clone(),
            client_id: self.config.client_id.clone(),
            will: self.config.will.clone(),
            username: self.config.username.clone(),
            password: self.config.password.clone(),
        };
        self.state = ClientState::Connecting;
        self.connack_deadline = Some(now + self.config.response_timeout);
        self.send(now, &Packet::Connect(connect));
    }

    /// The transport is gone. Session state stays for a later [`Client::connect`].
    pub fn connection_lost(&mut self) {
        self.state = ClientState::Disconnected;
        self.rx.clear();
        self.transmit.clear();
        self.connack_deadline = None;
        self.pingresp_deadline = None;
    }

    /// Publishes; returns the packet identifier for QoS 1 and 2. QoS 0 while not
    /// connected is dropped (that is what QoS 0 promises); QoS 1/2 wait for a connection
    /// and for send quota (the server's Receive Maximum).
    pub fn publish(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: Properties,
    ) -> Option<u16> {
        let mut publish = Publish {
            dup: false,
            qos,
            retain,
            topic: topic.to_owned(),
            packet_id: None,
            properties,
            payload: payload.to_vec(),
        };
        if qos == QoS::AtMostOnce {
            if self.state == ClientState::Connected {
                self.send(now, &Packet::Publish(publish));
            }
            return None;
        }
        let id = self.allocate_packet_id();
        publish.packet_id = Some(id);
        self.queued.push_back(publish);
        self.flush_queued(now);
        Some(id)
    }

    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: Vec<Subscription>,
        properties: Properties,
    ) -> u16 {
        let packet_id = self.allocate_packet_id();
        self.awaiting_suback.insert(packet_id, filters.len());
        self.send_or_hold(
            now,
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters,
            }),
        );
        packet_id
    }

    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<String>,
        properties: Properties,
    ) -> u16 {
        let packet_id = self.allocate_packet_id();
        self.awaiting_unsuback.insert(packet_id, filters.len());
        self.send_or_hold(
            now,
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters,
            }),
        );
        packet_id
    }

    /// Queues DISCONNECT (Normal disconnection) and ends the connection; the session
    /// stays for a later connect without Clean Start.
    pub fn disconnect(&mut self, now: Instant) {
        if self.state != ClientState::Disconnected {
            self.send(now, &Packet::Disconnect(Disconnect::default()));
        }
        self.state = ClientState::Disconnected;
        self.connack_deadline = None;
        self.pingresp_deadline = None;
    }

    /// Bytes from the server, in any split.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        if self.state == ClientState::Disconnected {
            return;
        }
        self.rx.extend_from_slice(bytes);
        while self.state != ClientState::Disconnected {
            match decode(&self.rx, self.config.version) {
                Ok(Decoded::NeedMore(_)) => break,
                Ok(Decoded::Done(packet, len)) => {
                    let frame: Vec<u8> = self.rx.drain(..len.min(self.rx.len())).collect();
                    self.handle_packet(now, packet, frame);
                }
                Err(violation) => {
                    let evidence = match frame_len_for(&self.rx, self.config.version) {
                        Ok(Decoded::Done(n, _)) => self.rx.get(..n).unwrap_or_default().to_vec(),
                        _ => self.rx.clone(),
                    };
                    self.fail(now, violation, evidence, ReasonCode::MALFORMED_PACKET);
                }
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.connack_deadline
            && now >= deadline
        {
            self.give_up(PacketType::ConnAck);
            return;
        }
        if let Some(deadline) = self.pingresp_deadline
            && now >= deadline
        {
            self.give_up(PacketType::PingResp);
            return;
        }
        if let Some(due) = self.ping_due()
            && now >= due
        {
            self.send(now, &Packet::PingReq);
            self.pingresp_deadline = Some(now + self.config.response_timeout);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.connack_deadline,
            self.pingresp_deadline,
            self.ping_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn ping_due(&self) -> Option<Instant> {
        let idle = self.state == ClientState::Connected && self.pingresp_deadline.is_none();
        (idle && !self.keep_alive.is_zero()).then(|| self.last_sent + self.keep_alive)
    }

    fn give_up(&mut self, waiting_for: PacketType) {
        self.events.push_back(ClientEvent::Timeout { waiting_for });
        self.connection_lost();
    }

    fn drop_session(&mut self) {
        // Unsent publications stay queued: they were never part of the server's session.
        for inflight in self.inflight.drain(..).rev() {
            if inflight.stage != Awaiting::Pubcomp {
                let mut p = inflight.publish;
                p.dup = false;
                self.queued.push_front(p);
            }
        }
        self.received_qos2.clear();
    }

    fn send(&mut self, now: Instant, packet: &Packet) {
        self.transmit
            .push_back(packet.to_bytes(self.config.version));
        self.last_sent = now;
    }

    fn send_or_hold(&mut self, now: Instant, packet: Packet) {
        if self.state == ClientState::Connected {
            self.send(now, &packet);
        } else {
            self.held.push_back(packet);
        }
    }

    fn allocate_packet_id(&mut self) -> u16 {
        // At most 65 535 ids can be busy; stop looking after one full turn.
        for _ in 0..u16::MAX {
            let id = self.next_packet_id;
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            let busy = self
                .inflight
                .iter()
                .any(|i| i.publish.packet_id == Some(id))
                || self.queued.iter().any(|p| p.packet_id == Some(id))
                || self.awaiting_suback.contains_key(&id)
                || self.awaiting_unsuback.contains_key(&id);
            if !busy {
                return id;
            }
        }
        self.next_packet_id
    }

    fn flush_queued(&mut self, now: Instant) {
        while self.state == ClientState::Connected && self.inflight.len() < self.send_quota {
            let Some(publish) = self.queued.pop_front() else {
                break;
            };
            let stage = if publish.qos == QoS::ExactlyOnce {
                Awaiting::Pubrec
            } else {
                Awaiting::Puback
            };
            self.send(now, &Packet::Publish(publish.clone()));
            self.inflight.push(Inflight { publish, stage });
        }
    }

    fn violation(&self, rule: Rule, detail: impl Into<String>) -> Violation {
        Violation {
            rule: rule.spec_ref(self.config.version),
            offset: 0,
            detail: detail.into(),
        }
    }

    /// Records the violation; a malformed frame also ends the connection, since the
    /// stream can no longer be trusted.
    fn fail(&mut self, now: Instant, violation: Violation, evidence: Vec<u8>, code: ReasonCode) {
        self.events.push_back(ClientEvent::ProtocolViolation {
            violation,
            evidence,
        });
        if self.config.version == Version::V5 && self.state == ClientState::Connected {
            let d = Disconnect {
                code,
                properties: Properties::new(),
            };
            self.send(now, &Packet::Disconnect(d));
        }
        self.state = ClientState::Disconnected;
        self.rx.clear();
        self.connack_deadline = None;
        self.pingresp_deadline = None;
    }

    /// A rule broken by a well-formed packet: reported, and the connection goes on.
    fn flag(&mut self, rule: Rule, detail: impl Into<String>, frame: &[u8]) {
        let violation = self.violation(rule, detail);
        self.events.push_back(ClientEvent::ProtocolViolation {
            violation,
            evidence: frame.to_vec(),
        });
    }

    fn handle_packet(&mut self, now: Instant, packet: Packet, frame: Vec<u8>) {
        // Anything from the server refreshes nothing on our side: keep-alive is about
        // what the client sends. A PINGRESP clears the outstanding ping below.
        if !self.seen_connack && !matches!(packet, Packet::ConnAck(_) | Packet::Auth(_)) {
            let v = self.violation(
                Rule::FirstPacketNotConnack,
                format!(
                    "first packet from the server is {}",
                    packet.packet_type().name()
                ),
            );
            self.fail(now, v, frame, ReasonCode::PROTOCOL_ERROR);
            return;
        }
        match packet {
            Packet::ConnAck(connack) => self.on_connack(now, connack, &frame),
            Packet::Publish(publish) => self.on_publish(now, publish, &frame),
            Packet::PubAck(ack) => self.on_ack(now, PacketType::PubAck, ack, &frame),
            Packet::PubRec(ack) => self.on_ack(now, PacketType::PubRec, ack, &frame),
            Packet::PubComp(ack) => self.on_ack(now, PacketType::PubComp, ack, &frame),
            Packet::PubRel(ack) => {
                if !self.received_qos2.remove(&ack.packet_id) {
                    self.flag(
                        Rule::AckForUnknownPacketId,
                        format!(
                            "PUBREL for packet identifier {} not awaiting one",
                            ack.packet_id
                        ),
                        &frame,
                    );
                }
                let mut comp = Ack::new(ack.packet_id);
                if !ack.code.is_error() && self.config.version == Version::V5 {
                    comp.code = ReasonCode::SUCCESS;
                }
                self.send(now, &Packet::PubComp(comp));
            }
            Packet::SubAck(suback) => {
                match self.awaiting_suback.remove(&suback.packet_id) {
                    None => self.flag(
                        Rule::AckForUnknownPacketId,
                        format!("SUBACK for unknown packet identifier {}", suback.packet_id),
                        &frame,
                    ),
                    Some(n) if n != suback.codes.len() => self.flag(
                        Rule::SubackCodeCount,
                        format!(
                            "SUBACK has {} codes for {n} topic filters",
                            suback.codes.len()
                        ),
                        &frame,
                    ),
                    Some(_) => {}
                }
                self.events.push_back(ClientEvent::Subscribed {
                    packet_id: suback.packet_id,
                    codes: suback.codes,
                });
            }
            Packet::UnsubAck(unsuback) => {
                match self.awaiting_unsuback.remove(&unsuback.packet_id) {
                    None => self.flag(
                        Rule::AckForUnknownPacketId,
                        format!(
                            "UNSUBACK for unknown packet identifier {}",
                            unsuback.packet_id
                        ),
                        &frame,
                    ),
                    Some(n) if self.config.version == Version::V5 && n != unsuback.codes.len() => {
                        self.flag(
                            Rule::UnsubackCodeCount,
                            format!(
                                "UNSUBACK has {} codes for {n} topic filters",
                                unsuback.codes.len()
                            ),
                            &frame,
                        )
                    }
                    Some(_) => {}
                }
                self.events.push_back(ClientEvent::Unsubscribed {
                    packet_id: unsuback.packet_id,
                    codes: unsuback.codes,
                });
            }
            Packet::PingResp => {
                self.pingresp_deadline = None;
                self.events.push_back(ClientEvent::PingResponse);
            }
            Packet::Disconnect(d) => {
                self.events.push_back(ClientEvent::ServerDisconnected(d));
                self.connection_lost();
            }
            Packet::Auth(_) => {
                // Extended authentication is the caller's business; nothing to track.
            }
            other @ (Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq) => {
                let v = self.violation(
                    Rule::ClientOnlyPacket,
                    format!(
                        "server sent {}, which only clients send",
                        other.packet_type().name()
                    ),
                );
                self.fail(now, v, frame, ReasonCode::PROTOCOL_ERROR);
            }
        }
    }

    fn on_connack(&mut self, now: Instant, connack: ConnAck, frame: &[u8]) {
        if self.seen_connack {
            let v = self.violation(Rule::SecondConnack, "a second CONNACK on one connection");
            self.fail(now, v, frame.to_vec(), ReasonCode::PROTOCOL_ERROR);
            return;
        }
        self.seen_connack = true;
        self.connack_deadline = None;
        if connack.code.0 != 0 {
            self.events.push_back(ClientEvent::ConnectionRefused {
                code: connack.code,
                connack,
            });
            self.connection_lost();
            return;
        }
        if connack.session_present && self.config.clean_start {
            self.flag(
                Rule::SessionPresentAfterCleanStart,
                "Session Present is 1 on the CONNACK to a Clean Start",
                frame,
            );
        }
        let props = &connack.properties;
        self.send_quota = usize::from(props.receive_maximum().unwrap_or(u16::MAX).max(1));
        if let Some(secs) = props.server_keep_alive() {
            self.keep_alive = Duration::from_secs(u64::from(secs));
        }
        self.state = ClientState::Connected;
        if !connack.session_present {
            self.drop_session();
        }
        let session_present = connack.session_present;
        self.events.push_back(ClientEvent::Connected {
            session_present,
            connack,
        });
        // Resend what the session still owes, in the order first sent [MQTT-4.4.0-1].
        let owed: Vec<Packet> = self
            .inflight
            .iter()
            .map(|i| match i.stage {
                Awaiting::Pubcomp => Packet::PubRel(Ack::new(i.publish.packet_id.unwrap_or(0))),
                Awaiting::Puback | Awaiting::Pubrec => {
                    let mut p = i.publish.clone();
                    p.dup = true;
                    Packet::Publish(p)
                }
            })
            .collect();
        for p in &owed {
            self.send(now, p);
        }
        while let Some(p) = self.held.pop_front() {
            self.send(now, &p);
        }
        self.flush_queued(now);
    }

    fn on_publish(&mut self, now: Instant, mut publish: Publish, frame: &[u8]) {
        if let Some(alias) = publish.properties.topic_alias() {
            if publish.topic.is_empty() {
                match self.topic_aliases.get(&alias) {
                    Some(topic) => publish.topic = topic.clone(),
                    None => {
                        let v = self.violation(
                            Rule::TopicAliasUnknown,
                            format!("topic alias {alias} was never set on this connection"),
                        );
                        self.fail(now, v, frame.to_vec(), ReasonCode::TOPIC_ALIAS_INVALID);
                        return;
                    }
                }
            } else {
                self.topic_aliases.insert(alias, publish.topic.clone());
            }
        }
        let delivery = |p: &Publish| Delivery {
            topic: p.topic.clone(),
            payload: p.payload.clone(),
            qos: p.qos,
            retain: p.retain,
            dup: p.dup,
            packet_id: p.packet_id,
            properties: p.properties.clone(),
        };
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => {
                self.events
                    .push_back(ClientEvent::Message(delivery(&publish)));
                self.send(now, &Packet::PubAck(Ack::new(id)));
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // A repeat before PUBREL is acknowledged again but not delivered again.
                if !self.received_qos2.contains(&id) {
                    let limit = self
                        .config
                        .properties
                        .receive_maximum()
                        .map_or(usize::from(u16::MAX), usize::from);
                    if self.received_qos2.len() >= limit {
                        self.flag(
                            Rule::ReceiveMaximumExceeded,
                            format!(
                                "more than Receive Maximum {limit} QoS 2 messages unacknowledged"
                            ),
                            frame,
                        );
                    }
                    self.received_qos2.insert(id);
                    self.events
                        .push_back(ClientEvent::Message(delivery(&publish)));
                }
                self.send(now, &Packet::PubRec(Ack::new(id)));
            }
            _ => self
                .events
                .push_back(ClientEvent::Message(delivery(&publish))),
        }
    }

    fn on_ack(&mut self, now: Instant, kind: PacketType, ack: Ack, frame: &[u8]) {
        let expected = match kind {
            PacketType::PubAck => Awaiting::Puback,
            PacketType::PubRec => Awaiting::Pubrec,
            _ => Awaiting::Pubcomp,
        };
        let Some(index) = self
            .inflight
            .iter()
            .position(|i| i.publish.packet_id == Some(ack.packet_id) && i.stage == expected)
        else {
            self.flag(
                Rule::AckForUnknownPacketId,
                format!(
                    "{} for packet identifier {}, which is not awaiting one",
                    kind.name(),
                    ack.packet_id
                ),
                frame,
            );
            return;
        };
        // A PUBREC that refuses ends the flow like a PUBACK [MQTT-4.4.0-2].
        if kind == PacketType::PubRec && !ack.code.is_error() {
            if let Some(i) = self.inflight.get_mut(index) {
                i.stage = Awaiting::Pubcomp;
            }
            self.send(now, &Packet::PubRel(Ack::new(ack.packet_id)));
            return;
        }
        self.inflight.remove(index);
        self.events.push_back(ClientEvent::Published {
            packet_id: ack.packet_id,
            code: ack.code,
        });
        self.flush_queued(now);
    }
}

#[cfg(test)]
mod test {
    use super::super::properties::Property;
    use super::super::suback::SubAck;
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn frames(c: &mut Client, v: Version) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(bytes) = c.poll_transmit() {
            match decode(&bytes, v) {
                Ok(Decoded::Done(p, n)) if n == bytes.len() => out.push(p),
                other => panic!("client sent an undecodable frame {bytes:02x?}: {other:?}"),
            }
        }
        out
    }

    fn events(c: &mut Client) -> Vec<ClientEvent> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    fn connack(props: Properties, session_present: bool) -> Packet {
        Packet::ConnAck(ConnAck {
            session_present,
            code: ReasonCode::SUCCESS,
            properties: props,
        })
    }

    fn server(c: &mut Client, now: Instant, p: &Packet) {
        let bytes = p.to_bytes(c.version());
        c.handle_input(now, &bytes);
    }

    fn connected(v: Version, props: Properties) -> Client {
        let mut c = Client::new(ClientConfig::new(v, "dev-1"));
        c.connect(t(0));
        let sent = frames(&mut c, v);
        assert!(matches!(sent.as_slice(), [Packet::Connect(k)] if k.client_id == "dev-1"));
        server(&mut c, t(1), &connack(props, false));
        assert!(matches!(
            events(&mut c).as_slice(),
            [ClientEvent::Connected { .. }]
        ));
        c
    }

    #[test]
    fn keep_alive_pings_and_times_out() {
        let mut c = connected(Version::V311, Properties::new());
        assert_eq!(c.poll_timeout(), Some(t(60_000)));
        c.handle_timeout(t(30_000));
        assert!(frames(&mut c, Version::V311).is_empty());
        c.handle_timeout(t(60_000));
        assert_eq!(frames(&mut c, Version::V311), [Packet::PingReq]);
        assert_eq!(c.poll_timeout(), Some(t(70_000)));
        server(&mut c, t(60_005), &Packet::PingResp);
        assert_eq!(events(&mut c), [ClientEvent::PingResponse]);
        assert_eq!(c.poll_timeout(), Some(t(120_000)));
        c.handle_timeout(t(120_000));
        assert_eq!(frames(&mut c, Version::V311), [Packet::PingReq]);
        c.handle_timeout(t(130_000));
        assert_eq!(
            events(&mut c),
            [ClientEvent::Timeout {
                waiting_for: PacketType::PingResp
            }]
        );
        assert_eq!(c.state(), ClientState::Disconnected);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn server_keep_alive_overrides() {
        let c = connected(
            Version::V5,
            Properties::new().with(Property::ServerKeepAlive(5)),
        );
        assert_eq!(c.poll_timeout(), Some(t(5_000)));
    }

    #[test]
    fn connack_timeout() {
        let mut c = Client::new(ClientConfig::new(Version::V5, "x"));
        c.connect(t(0));
        assert_eq!(c.poll_timeout(), Some(t(10_000)));
        c.handle_timeout(t(10_000));
        assert_eq!(
            events(&mut c),
            [ClientEvent::Timeout {
                waiting_for: PacketType::ConnAck
            }]
        );
    }

    #[test]
    fn qos1_out_and_in() {
        let v = Version::V311;
        let mut c = connected(v, Properties::new());
        let id = c.publish(
            t(10),
            "a/b",
            b"x",
            QoS::AtLeastOnce,
            false,
            Properties::new(),
        );
        let id = id.unwrap_or(0);
        assert!(
            matches!(frames(&mut c, v).as_slice(), [Packet::Publish(p)] if p.packet_id == Some(id))
        );
        server(&mut c, t(11), &Packet::PubAck(Ack::new(id)));
        assert_eq!(
            events(&mut c),
            [ClientEvent::Published {
                packet_id: id,
                code: ReasonCode::SUCCESS
            }]
        );
        let incoming = Publish {
            qos: QoS::AtLeastOnce,
            topic: "in".into(),
            packet_id: Some(500),
            payload: b"p".to_vec(),
            ..Publish::default()
        };
        server(&mut c, t(12), &Packet::Publish(incoming));
        assert!(matches!(events(&mut c).as_slice(), [ClientEvent::Message(d)] if d.topic == "in"));
        assert_eq!(frames(&mut c, v), [Packet::PubAck(Ack::new(500))]);
        assert_eq!(
            c.publish(t(13), "q0", b"", QoS::AtMostOnce, false, Properties::new()),
            None
        );
    }

    #[test]
    fn qos2_both_directions() {
        let v = Version::V5;
        let mut c = connected(v, Properties::new());
        let id = c
            .publish(t(10), "a", b"x", QoS::ExactlyOnce, false, Properties::new())
            .unwrap_or(0);
        assert_eq!(frames(&mut c, v).len(), 1);
        server(&mut c, t(11), &Packet::PubRec(Ack::new(id)));
        assert_eq!(frames(&mut c, v), [Packet::PubRel(Ack::new(id))]);
        assert!(events(&mut c).is_empty());
        server(&mut c, t(12), &Packet::PubComp(Ack::new(id)));
        assert_eq!(
            events(&mut c),
            [ClientEvent::Published {
                packet_id: id,
                code: ReasonCode::SUCCESS
            }]
        );
        let incoming = Packet::Publish(Publish {
            qos: QoS::ExactlyOnce,
            topic: "in".into(),
            packet_id: Some(9),
            ..Publish::default()
        });
        server(&mut c, t(13), &incoming);
        assert_eq!(events(&mut c).len(), 1);
        assert_eq!(frames(&mut c, v), [Packet::PubRec(Ack::new(9))]);
        // a duplicate before PUBREL is acknowledged but not delivered twice
        server(&mut c, t(14), &incoming);
        assert!(events(&mut c).is_empty());
        assert_eq!(frames(&mut c, v), [Packet::PubRec(Ack::new(9))]);
        server(&mut c, t(15), &Packet::PubRel(Ack::new(9)));
        assert_eq!(frames(&mut c, v), [Packet::PubComp(Ack::new(9))]);
    }

    #[test]
    fn session_resume_redelivers_with_dup_in_order() {
        let v = Version::V5;
        let mut config = ClientConfig::new(v, "keep");
        config.clean_start = false;
        let mut c = Client::new(config);
        c.connect(t(0));
        frames(&mut c, v);
        server(&mut c, t(1), &connack(Properties::new(), false));
        events(&mut c);
        let a = c.publish(t(2), "a", b"1", QoS::AtLeastOnce, false, Properties::new());
        let b = c.publish(t(3), "b", b"2", QoS::ExactlyOnce, false, Properties::new());
        let q = c.publish(t(3), "q", b"3", QoS::ExactlyOnce, false, Properties::new());
        frames(&mut c, v);
        let q_id = q.unwrap_or(0);
        server(&mut c, t(4), &Packet::PubRec(Ack::new(q_id)));
        frames(&mut c, v);
        c.connection_lost();
        c.connect(t(100));
        assert!(matches!(frames(&mut c, v).as_slice(), [Packet::Connect(k)] if !k.clean_start));
        server(&mut c, t(101), &connack(Properties::new(), true));
        let resent = frames(&mut c, v);
        let expected: Vec<(Option<u16>, bool, &str)> = vec![(a, true, "a"), (b, true, "b")];
        let got: Vec<(Option<u16>, bool, &str)> = resent
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some((p.packet_id, p.dup, p.topic.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(got, expected);
        assert_eq!(resent.last(), Some(&Packet::PubRel(Ack::new(q_id))));
    }

    #[test]
    fn receive_maximum_limits_inflight() {
        let v = Version::V5;
        let mut c = connected(v, Properties::new().with(Property::ReceiveMaximum(2)));
        let ids: Vec<u16> = (0..3)
            .filter_map(|i| {
                c.publish(
                    t(10 + i),
                    "t",
                    b"",
                    QoS::AtLeastOnce,
                    false,
                    Properties::new(),
                )
            })
            .collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(frames(&mut c, v).len(), 2);
        assert_eq!(c.inflight(), 2);
        server(&mut c, t(20), &Packet::PubAck(Ack::new(ids[0])));
        let sent = frames(&mut c, v);
        assert!(matches!(sent.as_slice(), [Packet::Publish(p)] if p.packet_id == Some(ids[2])));
    }

    #[test]
    fn subscribe_before_connack_is_held() {
        let v = Version::V311;
        let mut c = Client::new(ClientConfig::new(v, "s"));
        c.connect(t(0));
        let id = c.subscribe(
            t(0),
            vec![Subscription::new("a/#", QoS::AtLeastOnce)],
            Properties::new(),
        );
        assert_eq!(frames(&mut c, v).len(), 1);
        server(&mut c, t(1), &connack(Properties::new(), false));
        assert!(
            matches!(frames(&mut c, v).as_slice(), [Packet::Subscribe(s)] if s.packet_id == id)
        );
        events(&mut c);
        let suback = Packet::SubAck(SubAck {
            packet_id: id,
            properties: Properties::new(),
            codes: vec![ReasonCode(1), ReasonCode(1)],
        });
        server(&mut c, t(2), &suback);
        let ev = events(&mut c);
        assert!(
            matches!(&ev[0], ClientEvent::ProtocolViolation { violation, .. } if violation.rule.id == "MQTT-3.8.4-5")
        );
        assert!(matches!(&ev[1], ClientEvent::Subscribed { packet_id, .. } if *packet_id == id));
    }

    #[test]
    fn malformed_input_is_an_event_with_evidence_never_a_panic() {
        let v = Version::V5;
        let mut c = connected(v, Properties::new());
        let bad = [0x30, 5, 0, 3, b'a', b'/', b'#'];
        c.handle_input(t(5), &bad);
        let ev = events(&mut c);
        let [
            ClientEvent::ProtocolViolation {
                violation,
                evidence,
            },
        ] = ev.as_slice()
        else {
            panic!("{ev:?}")
        };
        assert_eq!(violation.rule.id, "MQTT-3.3.2-2");
        assert_eq!(evidence, &bad);
        assert_eq!(c.state(), ClientState::Disconnected);
        assert!(matches!(
            frames(&mut c, v).as_slice(),
            [Packet::Disconnect(d)] if d.code == ReasonCode::MALFORMED_PACKET
        ));
    }

    #[test]
    fn first_packet_must_be_connack_and_split_input_works() {
        let v = Version::V311;
        let mut c = Client::new(ClientConfig::new(v, "x"));
        c.connect(t(0));
        for byte in [0xd0u8, 0x00] {
            c.handle_input(t(1), &[byte]);
        }
        let ev = events(&mut c);
        assert!(
            matches!(&ev[..], [ClientEvent::ProtocolViolation { violation, evidence }]
            if violation.rule.id == "MQTT-3.2.0-1" && evidence == &[0xd0, 0x00])
        );
        let mut c = connected(v, Properties::new());
        let ack = Packet::PubAck(Ack::new(77)).to_bytes(v);
        for b in &ack {
            c.handle_input(t(2), std::slice::from_ref(b));
        }
        let ev = events(&mut c);
        assert!(
            matches!(&ev[..], [ClientEvent::ProtocolViolation { violation, .. }]
            if violation.rule.id == "MQTT-2.3.1-6")
        );
        server(&mut c, t(3), &Packet::PingReq);
        assert!(
            matches!(&events(&mut c)[..], [ClientEvent::ProtocolViolation { violation, .. }]
            if violation.rule.id == "§2.2.1")
        );
    }

    #[test]
    fn topic_alias_resolves() {
        let v = Version::V5;
        let mut c = connected(v, Properties::new());
        let with_alias = |topic: &str| {
            Packet::Publish(Publish {
                topic: topic.into(),
                properties: Properties::new().with(Property::TopicAlias(1)),
                ..Publish::default()
            })
        };
        server(&mut c, t(2), &with_alias("long/topic"));
        server(&mut c, t(3), &with_alias(""));
        let topics: Vec<String> = events(&mut c)
            .into_iter()
            .filter_map(|e| match e {
                ClientEvent::Message(d) => Some(d.topic),
                _ => None,
            })
            .collect();
        assert_eq!(topics, ["long/topic", "long/topic"]);
    }
}
