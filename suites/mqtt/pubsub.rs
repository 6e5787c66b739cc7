//! Delivery: every matching subscriber gets a message once, at the right QoS, in order.
//!
//! Also the messaging helpers the other messaging files (`qos`, `retain`, `subscribe`,
//! `topics`) share: connecting, subscribing as a premise, publishing with the sender's
//! half of the QoS flow, receiving with the receiver's half, and collecting everything a
//! subscriber got up to a sentinel message.

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::mqtt::{
    Ack, Packet, Properties, Property, Publish, QoS, RawPacket, ReasonCode, SubAck, Subscribe,
    Subscription, Version,
};

use super::SUITE;
use super::controls;
use super::packets::connect;
use super::session::{Next, Session, summarize};

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

pub(super) use super::{VERSIONS, cap, spec, tag};

/// A PUBLISH from the client; `packet_id` is ignored at QoS 0, which carries none.
pub(super) fn message(topic: &str, payload: &[u8], qos: QoS, packet_id: u16) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.to_owned(),
        packet_id: (qos != QoS::AtMostOnce).then_some(packet_id),
        properties: Properties::default(),
        payload: payload.to_vec(),
    }
}

/// QoS from a granted SUBACK code (0, 1 or 2).
pub(super) fn granted(code: ReasonCode) -> Option<QoS> {
    QoS::from_u8(code.0)
}

pub(super) fn qos_min(a: QoS, b: QoS) -> QoS {
    if a.as_u8() <= b.as_u8() { a } else { b }
}

/// A client with a clean start, accepted by the broker (a refusal is an error).
pub(super) async fn client(ctx: &Ctx, version: Version, label: &str) -> Result<Session, Failure> {
    Ok(
        Session::connected(ctx, version, connect(&ctx.unique(label)))
            .await?
            .0,
    )
}

/// A CONNECT that resumes (or creates) a session kept for 30 s after the connection
/// ends: Clean Session 0 in 3.1.1, Clean Start 0 with a Session Expiry Interval in 5.0.
pub(super) fn persistent(client_id: &str, version: Version) -> hilt_wire::mqtt::Connect {
    let mut c = connect(client_id);
    c.clean_start = false;
    if version == Version::V5 {
        c.properties.push(Property::SessionExpiryInterval(30));
    }
    c
}

/// Sends SUBSCRIBE and returns the SUBACK, which must carry the SUBSCRIBE's packet
/// identifier and only codes the version defines.
pub(super) async fn subscribe(
    s: &mut Session,
    packet_id: u16,
    filters: Vec<Subscription>,
) -> Result<SubAck, Failure> {
    let v = s.version;
    s.send(&Packet::Subscribe(Subscribe {
        packet_id,
        properties: Properties::default(),
        filters,
    }))
    .await?;
    let within = s.response_timeout();
    let ack = s
        .wait_for(
            spec(v, "MQTT-3.8.4-1", "MQTT-3.8.4-1"),
            "SUBACK",
            within,
            |p| match p {
                Packet::SubAck(a) => Some(a.clone()),
                _ => None,
            },
        )
        .await?;
    if ack.packet_id != packet_id {
        return Err(Failure::fail(
            spec(v, "MQTT-3.8.4-2", "MQTT-3.8.4-2"),
            format!(
                "SUBACK carries packet identifier {} for a SUBSCRIBE with {packet_id}",
                ack.packet_id
            ),
        ));
    }
    if let Some(c) = ack
        .codes
        .iter()
        .find(|c| !c.allowed_in(hilt_wire::mqtt::PacketType::SubAck, v))
    {
        return Err(Failure::fail(
            spec(v, "MQTT-3.9.3-2", "MQTT-3.9.3-2"),
            format!("SUBACK carries {:#04x}, not a SUBACK code", c.0),
        ));
    }
    Ok(ack)
}

/// Subscribes to `filters` as the premise of a test: every one must be granted (a
/// refusal is an error of the premise), at no more than the QoS asked for. Returns the
/// granted QoS of each.
pub(super) async fn subscribe_all(
    s: &mut Session,
    filters: &[(&str, QoS)],
) -> Result<Vec<QoS>, Failure> {
    let v = s.version;
    let subs = filters
        .iter()
        .map(|(f, q)| Subscription::new(*f, *q))
        .collect();
    let ack = subscribe(s, 0x5000, subs).await?;
    if ack.codes.len() != filters.len() {
        return Err(Failure::fail(
            spec(v, "MQTT-3.8.4-6", "MQTT-3.8.4-5"),
            format!(
                "SUBACK has {} codes for {} topic filters",
                ack.codes.len(),
                filters.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(filters.len());
    for ((filter, asked), code) in filters.iter().zip(&ack.codes) {
        let Some(q) = granted(*code) else {
            return Err(Failure::error(format!(
                "the broker refused the subscription to {filter:?} with {:#04x}",
                code.0
            )));
        };
        if q.as_u8() > asked.as_u8() {
            return Err(Failure::fail(
                spec(v, "MQTT-3.8.4-7", "MQTT-3.8.4-5"),
                format!(
                    "SUBACK grants QoS {} to {filter:?}, which asked for at most {}",
                    q.as_u8(),
                    asked.as_u8()
                ),
            ));
        }
        out.push(q);
    }
    Ok(out)
}

/// A clean-start client subscribed to `filters` (see [`subscribe_all`]).
pub(super) async fn subscriber(
    ctx: &Ctx,
    version: Version,
    label: &str,
    filters: &[(&str, QoS)],
) -> Result<Session, Failure> {
    let mut s = client(ctx, version, label).await?;
    subscribe_all(&mut s, filters).await?;
    Ok(s)
}

/// Publishes `p` and plays the sender's half of its QoS flow to the end: PUBACK for
/// QoS 1; PUBREC, PUBREL, PUBCOMP for QoS 2. A refusal (5.0 reason code 0x80 or above)
/// is an error of the test's premise.
pub(super) async fn publish(s: &mut Session, p: Publish) -> Result<(), Failure> {
    let v = s.version;
    let (qos, id) = (p.qos, p.packet_id.unwrap_or(0));
    s.send(&Packet::Publish(p)).await?;
    match qos {
        QoS::AtMostOnce => Ok(()),
        QoS::AtLeastOnce => {
            let ack = wait_ack(s, spec(v, "MQTT-4.3.2-4", "MQTT-4.3.2-2"), "PUBACK", id).await?;
            refused(&ack, "PUBACK")
        }
        QoS::ExactlyOnce => {
            let rec = wait_ack(s, spec(v, "MQTT-4.3.3-8", "MQTT-4.3.3-2"), "PUBREC", id).await?;
            refused(&rec, "PUBREC")?;
            s.send(&Packet::PubRel(Ack::new(id))).await?;
            wait_ack(s, spec(v, "MQTT-4.3.3-11", "MQTT-4.3.3-2"), "PUBCOMP", id).await?;
            Ok(())
        }
    }
}

fn refused(ack: &Ack, kind: &str) -> Result<(), Failure> {
    if ack.code.is_error() {
        return Err(Failure::error(format!(
            "the broker refused a plain PUBLISH: {kind} {:#04x}",
            ack.code.0
        )));
    }
    Ok(())
}

/// Waits for the acknowledgement `kind` (PUBACK, PUBREC, PUBREL or PUBCOMP) of packet
/// identifier `id`. One of that kind with another identifier fails `rule`: the
/// acknowledgement must echo the identifier it answers.
pub(super) async fn wait_ack(
    s: &mut Session,
    rule: SpecRef,
    kind: &'static str,
    id: u16,
) -> Result<Ack, Failure> {
    let within = s.response_timeout();
    let ack = s
        .wait_for(
            rule,
            &format!("{kind} for packet identifier {id}"),
            within,
            |p| match p {
                Packet::PubAck(a) if kind == "PUBACK" => Some(a.clone()),
                Packet::PubRec(a) if kind == "PUBREC" => Some(a.clone()),
                Packet::PubRel(a) if kind == "PUBREL" => Some(a.clone()),
                Packet::PubComp(a) if kind == "PUBCOMP" => Some(a.clone()),
                _ => None,
            },
        )
        .await?;
    if ack.packet_id != id {
        return Err(Failure::fail(
            rule,
            format!(
                "{kind} carries packet identifier {} where {id} was expected",
                ack.packet_id
            ),
        ));
    }
    Ok(ack)
}

/// Plays the receiver's half of a delivered PUBLISH's QoS flow: PUBACK for QoS 1;
/// PUBREC, then PUBCOMP once the broker's PUBREL arrives, for QoS 2.
pub(super) async fn ack(s: &mut Session, p: &Publish) -> Result<(), Failure> {
    let v = s.version;
    match (p.qos, p.packet_id) {
        (QoS::AtLeastOnce, Some(id)) => s.send(&Packet::PubAck(Ack::new(id))).await,
        (QoS::ExactlyOnce, Some(id)) => {
            s.send(&Packet::PubRec(Ack::new(id))).await?;
            wait_ack(s, spec(v, "MQTT-4.3.3-4", "MQTT-4.3.3-1"), "PUBREL", id).await?;
            s.send(&Packet::PubComp(Ack::new(id))).await
        }
        _ => Ok(()),
    }
}

/// Waits for a PUBLISH `pick` accepts (other packets are kept for later reads) and
/// returns it without acknowledging it. Its absence fails `rule`.
pub(super) async fn wait_publish(
    s: &mut Session,
    rule: SpecRef,
    what: &str,
    pick: impl Fn(&Publish) -> bool,
) -> Result<Publish, Failure> {
    let within = s.response_timeout();
    s.wait_for(rule, what, within, |p| match p {
        Packet::Publish(m) if pick(m) => Some(m.clone()),
        _ => None,
    })
    .await
}

/// Like [`wait_publish`], then acknowledges it.
pub(super) async fn receive(
    s: &mut Session,
    rule: SpecRef,
    what: &str,
    pick: impl Fn(&Publish) -> bool,
) -> Result<Publish, Failure> {
    let m = wait_publish(s, rule, what, pick).await?;
    ack(s, &m).await?;
    Ok(m)
}

/// Publishes a sentinel to `topic` at QoS 1 (the flow completed): the broker has
/// handled everything the publisher sent before it.
pub(super) async fn send_sentinel(publisher: &mut Session, topic: &str) -> Result<(), Failure> {
    publish(
        publisher,
        message(topic, b"sentinel", QoS::AtLeastOnce, 0x7fff),
    )
    .await
}

/// Every PUBLISH the subscriber gets before the sentinel on `sentinel` (which the
/// publisher sent after the messages under test), and any that arrive before the answer
/// to a PINGREQ sent after it, each acknowledged. Brokers forward one publisher's
/// messages to one subscriber in order, so what was due has arrived by then. The
/// sentinel's absence fails `rule`.
pub(super) async fn collect_until(
    s: &mut Session,
    rule: SpecRef,
    sentinel: &str,
) -> Result<Vec<Publish>, Failure> {
    collect(s, rule, sentinel, true).await
}

/// Like [`collect_until`], acknowledging only the sentinel: for judging deliveries
/// whose QoS flow a faulty broker (or a negative control) may have garbled. At most a
/// few messages, well under any broker's in-flight window.
pub(super) async fn gather_until(
    s: &mut Session,
    rule: SpecRef,
    sentinel: &str,
) -> Result<Vec<Publish>, Failure> {
    collect(s, rule, sentinel, false).await
}

async fn collect(
    s: &mut Session,
    rule: SpecRef,
    sentinel: &str,
    acking: bool,
) -> Result<Vec<Publish>, Failure> {
    let mut got = Vec::new();
    loop {
        match s.next(s.response_timeout()).await? {
            Next::Packet(Packet::Publish(p)) => {
                if p.topic == sentinel {
                    ack(s, &p).await?;
                    break;
                }
                if acking {
                    ack(s, &p).await?;
                }
                got.push(p);
            }
            Next::Packet(_) => {}
            Next::Closed => {
                return Err(Failure::fail(
                    rule,
                    "the broker closed the subscriber's connection",
                ));
            }
            Next::Silent => {
                return Err(Failure::fail(
                    rule,
                    format!(
                        "the sentinel message on {sentinel} never arrived (got {} messages before)",
                        got.len()
                    ),
                ));
            }
        }
    }
    for p in s.barrier(rule).await? {
        if let Packet::Publish(m) = p {
            if acking {
                ack(s, &m).await?;
            }
            got.push(m);
        }
    }
    Ok(got)
}

/// A SUBSCRIBE for one filter written byte by byte, so the filter and the options byte
/// may be anything.
pub(super) fn raw_subscribe(
    version: Version,
    packet_id: u16,
    filter: &[u8],
    options: u8,
) -> Vec<u8> {
    RawPacket::new(0x82)
        .with_body(|w| {
            w.u16(packet_id);
            if version == Version::V5 {
                w.varint(0);
            }
            w.utf8_bytes(filter).u8(options);
        })
        .build()
}

/// A QoS 1 PUBLISH written byte by byte, so the topic may be anything.
pub(super) fn raw_publish(
    version: Version,
    packet_id: u16,
    topic: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    RawPacket::new(0x32)
        .with_body(|w| {
            w.utf8_bytes(topic).u16(packet_id);
            if version == Version::V5 {
                w.varint(0);
            }
            w.raw(payload);
        })
        .build()
}

/// Requires the broker to refuse what was just sent: by closing the connection (in 5.0
/// possibly after a DISCONNECT with an error code), or, where the packet has one, with
/// an error code in its acknowledgement (SUBACK 0x80 and above; in 5.0 also PUBACK).
/// Accepting it, or ignoring it, fails `rule`.
pub(super) async fn expect_refusal(
    s: &mut Session,
    rule: SpecRef,
    what: &str,
) -> Result<(), Failure> {
    let v = s.version;
    match s.next(s.response_timeout()).await? {
        Next::Closed => Ok(()),
        Next::Packet(Packet::Disconnect(d)) if d.code.is_error() => Ok(()),
        Next::Packet(Packet::SubAck(a))
            if !a.codes.is_empty() && a.codes.iter().all(|c| c.is_error()) =>
        {
            Ok(())
        }
        Next::Packet(Packet::PubAck(a)) if v == Version::V5 && a.code.is_error() => Ok(()),
        Next::Packet(p) => Err(Failure::fail(
            rule,
            format!("{what}, yet the broker answered {}", summarize(&p, v)),
        )),
        Next::Silent => Err(Failure::fail(
            rule,
            format!(
                "{what}, yet the broker neither refused it nor closed the connection within {:?}",
                s.response_timeout()
            ),
        )),
    }
}

/// `payload` as text, for messages.
pub(super) fn text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// A short description of a delivered PUBLISH.
pub(super) fn show(p: &Publish, v: Version) -> String {
    summarize(&Packet::Publish(p.clone()), v)
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for version in VERSIONS {
        let tag = tag(version);

        // Three subscribers whose filters all match one topic: each gets the message,
        // once, under the topic it was published to.
        let every = spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1");
        let matches = spec(version, "MQTT-3.3.2-3", "MQTT-3.3.2-3");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.pubsub.every-matching-subscriber-once"),
                "A message reaches every subscriber whose filter matches its topic, exactly once",
                move |ctx| async move {
                    let topic = ctx.topic("a/b");
                    let (plus, hash) = (ctx.topic("a/+"), ctx.topic("#"));
                    let filters = [topic.as_str(), plus.as_str(), hash.as_str()];
                    let mut subs = Vec::new();
                    for (i, f) in filters.iter().enumerate() {
                        subs.push(
                            subscriber(&ctx, version, &format!("s{i}"), &[(f, QoS::AtLeastOnce)])
                                .await?,
                        );
                    }
                    let mut publisher = client(&ctx, version, "p").await?;
                    publish(
                        &mut publisher,
                        message(&topic, b"once", QoS::AtLeastOnce, 1),
                    )
                    .await?;
                    for (s, f) in subs.iter_mut().zip(filters) {
                        let what = format!("the message on {topic} for the subscription to {f}");
                        let m = receive(s, every, &what, |m| m.payload == b"once").await?;
                        ctx.ensure(m.topic == topic, matches, || {
                            format!("the message for {f} came as {}", show(&m, version))
                        })?;
                        // A second copy would have been sent with the first.
                        let again = s.barrier(every).await?;
                        if let Some(p) = again.iter().find(|p| matches!(p, Packet::Publish(_))) {
                            return Err(Failure::fail(
                                every,
                                format!(
                                    "the subscriber to {f} got the message twice: {}",
                                    summarize(p, version)
                                ),
                            ));
                        }
                    }
                    publisher.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[every, matches])
            .tags(&["pubsub"])
            .needs(&[cap(version), "mqtt.qos1", "mqtt.wildcards"])
            .control(controls::drop_nth_to_client(
                "PUBLISH",
                1,
                "the broker forgets each subscriber's first message",
            )),
        );

        // One client, two overlapping subscriptions at QoS 0 and 2: the message comes
        // at least once at the higher QoS (extra copies are allowed).
        let highest = spec(version, "MQTT-3.3.4-2", "MQTT-3.3.5-1");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.pubsub.overlapping-subscriptions-highest-qos"),
                "With overlapping subscriptions a message is delivered at the highest QoS among them",
                move |ctx| async move {
                    let topic = ctx.topic("o/x");
                    let (all, sentinel) = (ctx.topic("o/#"), ctx.topic("end"));
                    let mut s = client(&ctx, version, "s").await?;
                    let q = subscribe_all(
                        &mut s,
                        &[(all.as_str(), QoS::AtMostOnce), (topic.as_str(), QoS::ExactlyOnce), (sentinel.as_str(), QoS::AtLeastOnce)],
                    )
                    .await?;
                    let best = qos_min(QoS::ExactlyOnce, if q[0].as_u8() > q[1].as_u8() { q[0] } else { q[1] });
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&topic, b"both", QoS::ExactlyOnce, 1)).await?;
                    send_sentinel(&mut p, &sentinel).await?;
                    // Not acknowledged: only the QoS of the copies is judged.
                    let got = gather_until(&mut s, highest, &sentinel).await?;
                    let copies: Vec<_> = got.iter().filter(|m| m.topic == topic).collect();
                    ctx.ensure(copies.iter().any(|m| m.qos == best), highest, || {
                        format!(
                            "granted QoS {} and {}, the message came {} time(s), never at QoS {}: {:?}",
                            q[0].as_u8(),
                            q[1].as_u8(),
                            copies.len(),
                            best.as_u8(),
                            copies.iter().map(|m| show(m, version)).collect::<Vec<_>>()
                        )
                    })?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[highest])
            .tags(&["pubsub"])
            .needs(&[cap(version), "mqtt.qos2", "mqtt.wildcards"])
            .control(controls::mutate_to_client(version, "PUBLISH", "the broker downgrades QoS 2 deliveries to QoS 1", |p| {
                if let Packet::Publish(m) = p
                    && m.qos == QoS::ExactlyOnce {
                        m.qos = QoS::AtLeastOnce;
                    }
            })),
        );

        // Ten messages at each QoS, interleaved over three topics: each topic's arrive
        // in the order sent.
        let ordered = spec(version, "MQTT-4.6.0-5", "MQTT-4.6.0-6");
        let default_ordered = spec(version, "MQTT-4.6.0-6", "MQTT-4.6.0-5");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.pubsub.order-per-topic"),
                "Messages from one client on one topic at one QoS are forwarded in the order received",
                move |ctx| async move {
                    const N: u16 = 10;
                    let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
                    let topics: Vec<String> = qos.iter().map(|q| ctx.topic(&format!("q{}", q.as_u8()))).collect();
                    let sentinel = ctx.topic("end");
                    let mut filters: Vec<(&str, QoS)> = topics.iter().map(String::as_str).zip(qos).collect();
                    filters.push((&sentinel, QoS::AtLeastOnce));
                    let mut s = client(&ctx, version, "s").await?;
                    subscribe_all(&mut s, &filters).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    // All sent back to back; their acknowledgements are collected after.
                    for i in 0..N {
                        for (t, q) in topics.iter().zip(qos) {
                            let m = message(t, format!("{i}").as_bytes(), q, 1 + i * 3 + q.as_u8() as u16);
                            p.send(&Packet::Publish(m)).await?;
                        }
                    }
                    for i in 0..N {
                        let id = 1 + i * 3;
                        wait_ack(&mut p, spec(version, "MQTT-4.3.2-4", "MQTT-4.3.2-2"), "PUBACK", id + 1).await?;
                        wait_ack(&mut p, spec(version, "MQTT-4.3.3-8", "MQTT-4.3.3-2"), "PUBREC", id + 2).await?;
                        p.send(&Packet::PubRel(Ack::new(id + 2))).await?;
                    }
                    for i in 0..N {
                        wait_ack(&mut p, spec(version, "MQTT-4.3.3-11", "MQTT-4.3.3-2"), "PUBCOMP", 3 + i * 3).await?;
                    }
                    send_sentinel(&mut p, &sentinel).await?;
                    let got = collect_until(&mut s, ordered, &sentinel).await?;
                    for (t, q) in topics.iter().zip(qos) {
                        let seq: Vec<String> = got.iter().filter(|m| &m.topic == t).map(|m| text(&m.payload)).collect();
                        let want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
                        ctx.ensure(seq == want, ordered, || {
                            format!("QoS {} messages on {t} arrived as {seq:?}, sent as {want:?}", q.as_u8())
                        })?;
                    }
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[ordered, default_ordered])
            .tags(&["pubsub"])
            .needs(&[cap(version), "mqtt.qos1", "mqtt.qos2"])
            .control(controls::mutate_to_client(version, "PUBLISH", "the broker swaps the 2nd and 3rd message of each topic", |p| {
                // As if reordered: the payloads are the sequence numbers.
                if let Packet::Publish(m) = p {
                    match m.payload.as_slice() {
                        b"1" => m.payload = b"2".to_vec(),
                        b"2" => m.payload = b"1".to_vec(),
                        _ => {}
                    }
                }
            })),
        );

        // A first transmission marked DUP by its publisher is a new message for every
        // subscriber: the forwarded copy is not a retransmission, so DUP is 0.
        let dup_own = spec(version, "MQTT-3.3.1-3", "MQTT-3.3.1-3");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.pubsub.dup-not-propagated"),
                "DUP on a forwarded PUBLISH says whether that packet is a retransmission, not what the publisher set",
                move |ctx| async move {
                    let topic = ctx.topic("d");
                    let mut s = subscriber(&ctx, version, "s", &[(&topic, QoS::AtLeastOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    let mut m = message(&topic, b"dup", QoS::AtLeastOnce, 9);
                    m.dup = true;
                    publish(&mut p, m).await?;
                    let got = receive(&mut s, spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1"), "the message", |m| m.payload == b"dup").await?;
                    ctx.ensure(!got.dup, dup_own, || format!("the first delivery came with DUP 1: {}", show(&got, version)))?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[dup_own])
            .tags(&["pubsub"])
            .needs(&[cap(version), "mqtt.qos1"])
            .control(controls::mutate_to_client(version, "PUBLISH", "the broker copies the publisher's DUP flag", |p| {
                if let Packet::Publish(m) = p {
                    m.dup = true;
                }
            })),
        );

        // After PUBACK, the same packet identifier (even with DUP 1) is a new message.
        let reuse = spec(version, "MQTT-4.3.2-5", "MQTT-4.3.2-2");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.pubsub.qos1-reused-id-is-new-message"),
                "After its PUBACK, a QoS 1 PUBLISH reusing the packet identifier is delivered as a new message",
                move |ctx| async move {
                    let topic = ctx.topic("r");
                    let sentinel = ctx.topic("end");
                    let mut s = subscriber(&ctx, version, "s", &[(&topic, QoS::AtLeastOnce), (&sentinel, QoS::AtLeastOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&topic, b"first", QoS::AtLeastOnce, 7)).await?;
                    let mut again = message(&topic, b"second", QoS::AtLeastOnce, 7);
                    again.dup = true;
                    publish(&mut p, again).await?;
                    send_sentinel(&mut p, &sentinel).await?;
                    let got: Vec<String> = collect_until(&mut s, reuse, &sentinel).await?.iter().map(|m| text(&m.payload)).collect();
                    ctx.ensure(got == ["first", "second"], reuse, || {
                        format!("two QoS 1 messages with packet identifier 7, each acknowledged, were delivered as {got:?}")
                    })?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[reuse])
            .tags(&["pubsub", "qos"])
            .needs(&[cap(version), "mqtt.qos1"])
            .control(controls::drop_nth_to_client("PUBLISH", 2, "the broker discards the reused identifier's message as a duplicate")),
        );
    }
    t
}
