//! One face over the protocol suites' clients, so a pattern is written once and run over
//! MQTT, STOMP and AMQP 0-9-1: connect, subscribe to a topic or a queue, publish, read
//! the next message with its headers.
//!
//! Topics are named the way both RabbitMQ and ActiveMQ map them across protocols: the
//! words of an MQTT topic are separated by `/`, the same topic in STOMP is
//! `/topic/<words joined by .>`, and in AMQP 0-9-1 it is the routing key `<words joined
//! by .>` on the `amq.topic` exchange.

use std::collections::BTreeMap;
use std::time::Duration;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure};
use hilt_wire::amqp091::{ClientEvent, FieldTable, FieldValue, Method, MethodId, Properties};
use hilt_wire::mqtt::{Packet, Property, Publish, QoS, Version};
use hilt_wire::stomp::{Command, Frame};
use tokio::time::Instant;

use crate::amqp091::session::{Next as AmqpNext, Session as AmqpSession};
use crate::mqtt::packets;
use crate::mqtt::session::{Next as MqttNext, Session as MqttSession};
use crate::mqtt::v5_features::{ack_delivery, published, subscribed};
use crate::stomp::session::{Next as StompNext, Session as StompSession};

/// The protocols a pattern runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Mqtt,
    Stomp,
    Amqp,
}

impl Proto {
    pub const ALL: [Proto; 3] = [Proto::Mqtt, Proto::Stomp, Proto::Amqp];

    /// The service target files serve it under.
    pub fn service(self) -> &'static str {
        match self {
            Proto::Mqtt => "mqtt",
            Proto::Stomp => "stomp",
            Proto::Amqp => "amqp",
        }
    }

    /// The capability of the version the suite speaks.
    pub fn cap(self) -> &'static str {
        match self {
            Proto::Mqtt => "mqtt.v3.1.1",
            Proto::Stomp => "stomp.v1.2",
            Proto::Amqp => "amqp.0-9-1",
        }
    }

    /// Its part of a test id.
    pub fn tag(self) -> &'static str {
        match self {
            Proto::Mqtt => "mqtt",
            Proto::Stomp => "stomp",
            Proto::Amqp => "amqp091",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Mqtt => "MQTT 3.1.1",
            Proto::Stomp => "STOMP 1.2",
            Proto::Amqp => "AMQP 0-9-1",
        }
    }
}

/// A topic every protocol can name.
#[derive(Debug, Clone)]
pub struct Topic(Vec<String>);

impl Topic {
    /// A topic unique to this test attempt.
    pub fn new(ctx: &Ctx, label: &str) -> Topic {
        Topic(vec!["hilt".into(), ctx.unique(label)])
    }

    pub fn mqtt(&self) -> String {
        self.0.join("/")
    }

    pub fn stomp(&self) -> String {
        format!("/topic/{}", self.0.join("."))
    }

    /// The routing key on `amq.topic`.
    pub fn key(&self) -> String {
        self.0.join(".")
    }

    pub fn in_(&self, p: Proto) -> String {
        match p {
            Proto::Mqtt => self.mqtt(),
            Proto::Stomp => self.stomp(),
            Proto::Amqp => format!("amq.topic/{}", self.key()),
        }
    }
}

/// A message as a receiver saw it: its body and its headers, by the receiving protocol's
/// names (STOMP headers; AMQP properties and header-table entries; MQTT's topic).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Msg {
    pub body: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

impl Msg {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What came next on a receiving connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Got {
    Msg(Msg),
    /// Nothing within the deadline.
    Silent,
    /// The connection ended, or the broker sent an error instead: what happened.
    Ended(String),
}

/// A connected client of one protocol.
#[derive(Debug)]
pub enum Client {
    Mqtt { s: MqttSession, next_id: u16 },
    Stomp { s: StompSession, next_id: u32 },
    // Boxed: the AMQP client core is twice the size of the others.
    Amqp { s: Box<AmqpSession>, ch: u16 },
}

impl Client {
    /// Connects as `label` (the MQTT client id's suffix); a refusal is an error of the
    /// test's premise.
    pub async fn open(ctx: &Ctx, p: Proto, label: &str) -> Result<Client, Failure> {
        Ok(match p {
            Proto::Mqtt => Client::open_mqtt(ctx, Version::V311, label).await?,
            Proto::Stomp => Client::Stomp {
                s: StompSession::connect(ctx).await?,
                next_id: 1,
            },
            Proto::Amqp => {
                let (s, ch) = AmqpSession::with_channel(ctx).await?;
                Client::Amqp { s: Box::new(s), ch }
            }
        })
    }

    /// An MQTT client of `version`.
    pub async fn open_mqtt(ctx: &Ctx, version: Version, label: &str) -> Result<Client, Failure> {
        let connect = packets::connect(&ctx.unique(label));
        let (s, _) = MqttSession::connected(ctx, version, connect).await?;
        Ok(Client::Mqtt { s, next_id: 1 })
    }

    pub fn proto(&self) -> Proto {
        match self {
            Client::Mqtt { .. } => Proto::Mqtt,
            Client::Stomp { .. } => Proto::Stomp,
            Client::Amqp { .. } => Proto::Amqp,
        }
    }

    /// Subscribes to `topic` and returns once the broker confirmed it (SUBACK, RECEIPT,
    /// Consume-Ok): messages published afterwards must reach this client.
    pub async fn subscribe_topic(&mut self, topic: &Topic) -> Result<(), Failure> {
        match self {
            Client::Mqtt { .. } => self.subscribe_mqtt(&topic.mqtt()).await,
            Client::Stomp { .. } => self.subscribe_stomp(&topic.stomp(), "auto", &[]).await,
            Client::Amqp { s, ch } => {
                let r = super::pat("pubsub-1");
                let qn = s.declare_queue(*ch, "", &["exclusive"], r).await?;
                s.bind(*ch, &qn, "amq.topic", &topic.key(), r).await?;
                s.consume(*ch, &qn, true, r).await?;
                Ok(())
            }
        }
    }

    /// MQTT: subscribes to `filter` at QoS 1.
    pub async fn subscribe_mqtt(&mut self, filter: &str) -> Result<(), Failure> {
        let Client::Mqtt { s, next_id } = self else {
            return Err(not_for(self.proto(), "an MQTT subscription"));
        };
        let id = take(next_id);
        subscribed(s, packets::subscribe(id, filter, QoS::AtLeastOnce)).await?;
        Ok(())
    }

    /// STOMP: subscribes to `destination` with `ack` mode and extra headers, confirmed by
    /// a RECEIPT.
    pub async fn subscribe_stomp(
        &mut self,
        destination: &str,
        ack: &str,
        extra: &[(&str, &str)],
    ) -> Result<(), Failure> {
        let Client::Stomp { s, next_id } = self else {
            return Err(not_for(self.proto(), "a STOMP subscription"));
        };
        let id = format!("sub-{}", take32(next_id));
        let mut f = crate::stomp::subscribe(&id, destination, ack);
        for (k, v) in extra {
            f = f.header(*k, *v);
        }
        s.with_receipt(f, &format!("{id}-ok")).await.map_err(|e| {
            premise(format!(
                "the broker did not confirm SUBSCRIBE to {destination}: {e}"
            ))
        })
    }

    /// AMQP: starts a consumer on `queue` (automatic acknowledgement unless `manual`).
    pub async fn consume(&mut self, queue: &str, manual: bool) -> Result<(), Failure> {
        let Client::Amqp { s, ch } = self else {
            return Err(not_for(self.proto(), "an AMQP consumer"));
        };
        s.consume(*ch, queue, !manual, super::pat("workqueue-1"))
            .await
            .map(|_| ())
    }

    /// Publishes `body` with `headers` to `topic`, and returns once the broker took it
    /// (PUBACK, RECEIPT; AMQP 0-9-1 publishes without confirmation, in order on its
    /// channel).
    pub async fn publish_topic(
        &mut self,
        topic: &Topic,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<(), Failure> {
        match self {
            Client::Mqtt { .. } => self.publish_mqtt(&topic.mqtt(), body).await,
            Client::Stomp { .. } => self.send_stomp(&topic.stomp(), body, headers).await,
            Client::Amqp { .. } => {
                self.publish_amqp("amq.topic", &topic.key(), body, headers)
                    .await
            }
        }
    }

    /// MQTT: a QoS 1 PUBLISH, acknowledged.
    pub async fn publish_mqtt(&mut self, topic: &str, body: &[u8]) -> Result<(), Failure> {
        let Client::Mqtt { s, next_id } = self else {
            return Err(not_for(self.proto(), "an MQTT PUBLISH"));
        };
        let id = take(next_id);
        let Packet::Publish(p) = packets::publish(topic, body, QoS::AtLeastOnce, Some(id)) else {
            return Err(Failure::error("packets::publish made something else"));
        };
        published(s, p).await
    }

    /// MQTT: sends `p` (any version's PUBLISH) with the next packet id, acknowledged.
    pub async fn publish_packet(&mut self, mut p: Publish) -> Result<(), Failure> {
        let Client::Mqtt { s, next_id } = self else {
            return Err(not_for(self.proto(), "an MQTT PUBLISH"));
        };
        if p.qos != QoS::AtMostOnce {
            p.packet_id = Some(take(next_id));
        }
        published(s, p).await
    }

    /// STOMP: a SEND with `headers`, confirmed by a RECEIPT.
    pub async fn send_stomp(
        &mut self,
        destination: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<(), Failure> {
        let Client::Stomp { s, next_id } = self else {
            return Err(not_for(self.proto(), "a STOMP SEND"));
        };
        let mut f = Frame::new(Command::Send).header("destination", destination);
        for (k, v) in headers {
            f = f.header(*k, *v);
        }
        if !headers.iter().any(|(k, _)| *k == "content-type") {
            f = f.header("content-type", "text/plain");
        }
        let f = f.body(body).with_content_length();
        let id = format!("send-{}", take32(next_id));
        s.with_receipt(f, &id).await.map_err(|e| {
            premise(format!(
                "the broker did not confirm SEND to {destination}: {e}"
            ))
        })
    }

    /// AMQP: basic.publish of `body` to `exchange` with `key`; `headers` named like Basic
    /// properties (`content-type`, `correlation-id`, `reply-to`, `expiration`…) become
    /// those properties, the others entries of the headers table.
    pub async fn publish_amqp(
        &mut self,
        exchange: &str,
        key: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<(), Failure> {
        let Client::Amqp { s, ch } = self else {
            return Err(not_for(self.proto(), "an AMQP publish"));
        };
        s.publish(*ch, exchange, key, amqp_properties(headers), body)
            .await;
        Ok(())
    }

    /// The next message within `within`; an MQTT QoS 1 delivery is acknowledged, STOMP
    /// and AMQP ones are left to the caller (subscriptions here acknowledge
    /// automatically unless the test settles them itself). Other frames are passed over.
    pub async fn next(&mut self, within: Duration) -> Result<Got, Failure> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self {
                Client::Mqtt { s, .. } => match s.next(left).await? {
                    MqttNext::Packet(Packet::Publish(p)) => {
                        ack_delivery(s, &p).await?;
                        let mut headers = BTreeMap::new();
                        headers.insert("topic".to_owned(), p.topic.clone());
                        for prop in &p.properties.0 {
                            match prop {
                                Property::ResponseTopic(t) => {
                                    headers.insert("response-topic".to_owned(), t.clone());
                                }
                                Property::CorrelationData(d) => {
                                    headers.insert(
                                        "correlation-data".to_owned(),
                                        String::from_utf8_lossy(d).into_owned(),
                                    );
                                }
                                _ => {}
                            }
                        }
                        return Ok(Got::Msg(Msg {
                            body: p.payload,
                            headers,
                        }));
                    }
                    MqttNext::Packet(_) => continue,
                    MqttNext::Silent => return Ok(Got::Silent),
                    MqttNext::Closed => {
                        return Ok(Got::Ended("the broker closed the connection".into()));
                    }
                },
                Client::Stomp { s, .. } => match s.next_frame(left).await? {
                    StompNext::Frame(f) if f.command == Command::Message => {
                        let mut headers = BTreeMap::new();
                        for (k, v) in &f.headers {
                            // Repeated headers: the first one counts (STOMP 1.2).
                            headers.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                        return Ok(Got::Msg(Msg {
                            body: f.body,
                            headers,
                        }));
                    }
                    StompNext::Frame(f) if f.command == Command::Error => {
                        return Ok(Got::Ended(format!(
                            "the broker sent {}",
                            hilt_wire::stomp::summarize(&f)
                        )));
                    }
                    StompNext::Frame(_) | StompNext::HeartBeat => continue,
                    StompNext::Silent => return Ok(Got::Silent),
                    StompNext::Closed => {
                        return Ok(Got::Ended("the broker closed the connection".into()));
                    }
                },
                Client::Amqp { s, .. } => match s.next(left).await? {
                    AmqpNext::Event(ClientEvent::Message(m)) => {
                        let mut headers = amqp_headers(&m.properties);
                        for f in ["exchange", "routing-key"] {
                            if m.method.get(f).is_some() {
                                headers.insert(f.to_owned(), m.method.text(f));
                            }
                        }
                        if m.method.get("delivery-tag").is_some() {
                            headers.insert(
                                "delivery-tag".to_owned(),
                                m.method.int("delivery-tag").to_string(),
                            );
                        }
                        return Ok(Got::Msg(Msg {
                            body: m.body,
                            headers,
                        }));
                    }
                    AmqpNext::Event(
                        ClientEvent::ChannelClosed { method, .. }
                        | ClientEvent::ConnectionClosed(method),
                    ) => {
                        return Ok(Got::Ended(format!("the broker closed with {method}")));
                    }
                    AmqpNext::Event(_) => continue,
                    AmqpNext::Silent => return Ok(Got::Silent),
                    AmqpNext::Closed => {
                        return Ok(Got::Ended("the broker closed the socket".into()));
                    }
                },
            }
        }
    }

    /// The next message within the response deadline; silence or an end fails `rule`.
    pub async fn expect(&mut self, rule: SpecRef, what: &str) -> Result<Msg, Failure> {
        let within = self.response();
        match self.next(within).await? {
            Got::Msg(m) => Ok(m),
            Got::Silent => Err(Failure::fail(
                rule,
                format!("{what}: nothing arrived within {within:?}"),
            )),
            Got::Ended(why) => Err(Failure::fail(rule, format!("{what}: {why}"))),
        }
    }

    /// Messages until one whose body is `end` (not included), within the response
    /// deadline after each; silence or an end fails `rule`.
    pub async fn until(
        &mut self,
        end: &[u8],
        rule: SpecRef,
        what: &str,
    ) -> Result<Vec<Msg>, Failure> {
        let mut got = Vec::new();
        loop {
            let m = self
                .expect(rule, &format!("{what} (after {} messages)", got.len()))
                .await?;
            if m.body == end {
                return Ok(got);
            }
            got.push(m);
        }
    }

    pub fn response(&self) -> Duration {
        match self {
            Client::Mqtt { s, .. } => s.response_timeout(),
            Client::Stomp { s, .. } => s.response_timeout(),
            Client::Amqp { s, .. } => s.response,
        }
    }

    /// The STOMP session, for frames this face does not cover (NACK, UNSUBSCRIBE).
    pub fn stomp(&mut self) -> Result<&mut StompSession, Failure> {
        match self {
            Client::Stomp { s, .. } => Ok(s),
            other => Err(not_for(other.proto(), "a STOMP frame")),
        }
    }

    /// The AMQP session and its channel, for methods this face does not cover.
    pub fn amqp(&mut self) -> Result<(&mut AmqpSession, u16), Failure> {
        match self {
            Client::Amqp { s, ch } => Ok((s, *ch)),
            other => Err(not_for(other.proto(), "an AMQP method")),
        }
    }

    /// Ends the session as a client should.
    pub async fn close(self) {
        match self {
            Client::Mqtt { s, .. } => s.disconnect().await,
            Client::Stomp { s, .. } => s.disconnect().await,
            Client::Amqp { s, .. } => s.close().await,
        }
    }
}

/// AMQP: declares queue `name` with `arguments` (auto-delete, so it goes with its last
/// consumer).
pub async fn declare_amqp_queue(
    c: &mut Client,
    name: &str,
    arguments: FieldTable,
    rule: SpecRef,
) -> Result<(), Failure> {
    let (s, ch) = c.amqp()?;
    let m = Method::new(MethodId::QUEUE_DECLARE)
        .with("queue", name)
        .with("auto-delete", true)
        .with("arguments", arguments);
    s.ok(ch, m, MethodId::QUEUE_DECLARE_OK, rule).await?;
    Ok(())
}

const AMQP_PROPERTIES: [&str; 12] = [
    "content-type",
    "content-encoding",
    "delivery-mode",
    "priority",
    "correlation-id",
    "reply-to",
    "expiration",
    "message-id",
    "timestamp",
    "type",
    "user-id",
    "app-id",
];

fn amqp_properties(headers: &[(&str, &str)]) -> Properties {
    let mut props = Properties::new();
    let mut table = FieldTable::new();
    for (k, v) in headers {
        match *k {
            "delivery-mode" | "priority" => {
                props = props.with(k, v.parse::<u8>().unwrap_or(0));
            }
            "timestamp" => props = props.with(k, v.parse::<u64>().unwrap_or(0)),
            k if AMQP_PROPERTIES.contains(&k) => props = props.with(k, *v),
            k => table = table.with(k, FieldValue::from(*v)),
        }
    }
    if !table.is_empty() {
        props = props.with("headers", table);
    }
    props
}

/// Basic properties by name, and the headers table's entries (text as is, numbers in
/// decimal, anything else as it prints).
fn amqp_headers(p: &Properties) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in AMQP_PROPERTIES {
        if let Some(v) = p.get(name) {
            let text = match v.as_u64() {
                Some(n) if v.as_bytes().is_none() => n.to_string(),
                _ => p.text(name).unwrap_or_else(|| format!("{v:?}")),
            };
            out.insert(name.to_owned(), text);
        }
    }
    if let Some(t) = p.headers() {
        for (k, v) in &t.0 {
            out.insert(String::from_utf8_lossy(k).into_owned(), field_text(v));
        }
    }
    out
}

/// A header-table value as text: strings as they are, numbers in decimal, arrays and
/// tables with their entries (so `x-death`'s reasons can be read).
pub fn field_text(v: &FieldValue) -> String {
    if let Some(b) = v.as_bytes() {
        return String::from_utf8_lossy(b).into_owned();
    }
    if let Some(n) = v.as_i64() {
        return n.to_string();
    }
    match v {
        FieldValue::Array(items) => items.iter().map(field_text).collect::<Vec<_>>().join(","),
        FieldValue::Table(t) => {
            t.0.iter()
                .map(|(k, v)| format!("{}={}", String::from_utf8_lossy(k), field_text(v)))
                .collect::<Vec<_>>()
                .join(";")
        }
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Timestamp(t) => t.to_string(),
        other => format!("{other:?}"),
    }
}

fn take(id: &mut u16) -> u16 {
    let v = *id;
    *id = id.checked_add(1).unwrap_or(1);
    v
}

fn take32(id: &mut u32) -> u32 {
    let v = *id;
    *id += 1;
    v
}

fn not_for(p: Proto, what: &str) -> Failure {
    Failure::error(format!("hilt asked a {} client for {what}", p.name()))
}

fn premise(message: String) -> Failure {
    Failure::error(format!("precondition: {message}"))
}
