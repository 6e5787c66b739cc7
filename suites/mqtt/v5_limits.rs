//! MQTT 5.0 limits each side announces and the other must keep: Topic Alias Maximum
//! (and the aliases themselves), Receive Maximum, Maximum Packet Size.

use std::collections::BTreeMap;

use hilt_runner::{Failure, TestCase};
use hilt_wire::mqtt::{Packet, Properties, Property, PropertyId, Publish, QoS, ReasonCode};

use super::packets::connect;
use super::session::{Next, Session, summarize};
use super::v5;
use super::v5_features::{
    V5, ack_delivery, bytes_replaced_to_server, case, client, connack_announces, connects_changed,
    deliveries_changed, delivery, message, published, publishes_before_barrier, publishes_changed,
    remove_property, set_property, sub, subscribe_packet, subscribed,
};

pub fn tests() -> Vec<TestCase> {
    let mut t = alias_tests();
    t.extend(receive_maximum_tests());
    t.extend(packet_size_tests());
    t
}

/// A QoS 0 PUBLISH of `payload` to `topic` (empty when the alias stands for it) with
/// Topic Alias `alias`.
fn aliased(topic: &str, alias: u16, payload: &[u8]) -> Packet {
    Packet::Publish(message(
        topic,
        payload,
        QoS::AtMostOnce,
        None,
        Properties::new().with(Property::TopicAlias(alias)),
    ))
}

/// The broker's Topic Alias Maximum from its CONNACK (0 when absent).
fn alias_maximum(ack: &hilt_wire::mqtt::ConnAck) -> u16 {
    ack.properties.topic_alias_maximum().unwrap_or(0)
}

/// A control: the client's PUBLISH packets that rely on an alias (empty topic) reach the
/// broker with a full topic, so the broker has nothing to refuse.
fn empty_topics_filled() -> super::controls::Control {
    publishes_changed(
        "the client's alias-only PUBLISH reaches the broker with a topic name",
        |m| {
            if m.topic.is_empty() {
                m.topic = "hilt/control/alias".into();
            }
        },
    )
}

fn alias_tests() -> Vec<TestCase> {
    vec![
        case(
            "topic-alias.client-aliases-honoured",
            "The broker accepts client Topic Aliases from 1 to its Topic Alias Maximum, including remapping, and delivers on the aliased topic",
            &[v5("MQTT-3.3.2-12")],
            &["mqtt.topic-alias"],
            publishes_changed(
                "the client's alias-only PUBLISH reaches the broker without its Topic Alias",
                |m| {
                    if m.topic.is_empty() {
                        remove_property(&mut m.properties, PropertyId::TopicAlias);
                    }
                },
            ),
            |ctx| async move {
                let (t1, t2) = (ctx.topic("alias1"), ctx.topic("alias2"));
                let (mut sub_s, _) = client(&ctx, "sub", []).await?;
                subscribed(
                    &mut sub_s,
                    subscribe_packet(
                        1,
                        vec![sub(&t1, QoS::AtMostOnce), sub(&t2, QoS::AtMostOnce)],
                        Properties::new(),
                    ),
                )
                .await?;
                let (mut p, ack) = client(&ctx, "pub", []).await?;
                let max = alias_maximum(&ack);
                if max == 0 {
                    return Err(Failure::error(
                        "the target declares mqtt.topic-alias, yet its CONNACK has no Topic Alias Maximum",
                    ));
                }
                let script = [
                    (t1.as_str(), 1, "a", &t1),
                    ("", 1, "b", &t1),
                    (t2.as_str(), max, "c", &t2),
                    ("", max, "d", &t2),
                    (t2.as_str(), 1, "e", &t2),
                    ("", 1, "f", &t2),
                ];
                for (topic, alias, payload, _) in &script {
                    p.send(&aliased(topic, *alias, payload.as_bytes())).await?;
                }
                for (_, alias, payload, want) in &script {
                    let got = delivery(&mut sub_s, v5("MQTT-3.3.2-12"), payload.as_bytes()).await?;
                    ctx.ensure(&got.topic == *want, v5("MQTT-3.3.2-12"), || {
                        format!("the message sent with Topic Alias {alias} arrived on {:?}, not {want:?}", got.topic)
                    })?;
                }
                p.disconnect().await;
                sub_s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "topic-alias.zero-is-a-protocol-error",
            "A PUBLISH with Topic Alias 0 is a protocol error: the broker closes the connection",
            &[v5("MQTT-4.13.1-1")],
            &[],
            // 0x23 is the Topic Alias property ('#', never in a topic name).
            bytes_replaced_to_server(
                "PUBLISH",
                "the client's Topic Alias 0 reaches the broker as 1",
                &[0x23, 0, 0],
                &[0x23, 0, 1],
            ),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "a0", []).await?;
                s.send(&aliased(&ctx.topic("a0"), 0, b"x")).await?;
                s.expect_close(v5("MQTT-4.13.1-1"), "a PUBLISH carried Topic Alias 0")
                    .await
            },
        ),
        case(
            "topic-alias.above-maximum-is-a-protocol-error",
            "A PUBLISH with a Topic Alias above the broker's Topic Alias Maximum is a protocol error: the broker closes the connection",
            &[v5("MQTT-4.13.1-1")],
            &[],
            publishes_changed(
                "the client's out-of-range Topic Alias reaches the broker as 1",
                |m| {
                    set_property(&mut m.properties, Property::TopicAlias(1));
                },
            ),
            |ctx| async move {
                let (mut s, ack) = client(&ctx, "am", []).await?;
                let max = alias_maximum(&ack);
                let Some(over) = max.checked_add(1) else {
                    return Err(Failure::skip(
                        "the broker's Topic Alias Maximum is 65535: no alias is above it",
                    ));
                };
                s.send(&aliased(&ctx.topic("am"), over, b"x")).await?;
                s.expect_close(
                    v5("MQTT-4.13.1-1"),
                    &format!("a PUBLISH carried Topic Alias {over}, above the maximum {max}"),
                )
                .await
            },
        ),
        case(
            "topic-alias.unknown-alias-is-a-protocol-error",
            "A PUBLISH with an empty topic and a Topic Alias never mapped is a protocol error: the broker closes the connection",
            &[v5("MQTT-4.13.1-1")],
            &["mqtt.topic-alias"],
            empty_topics_filled(),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "au", []).await?;
                s.send(&aliased("", 1, b"x")).await?;
                s.expect_close(
                    v5("MQTT-4.13.1-1"),
                    "a PUBLISH used Topic Alias 1 before mapping it",
                )
                .await
            },
        ),
        case(
            "topic-alias.not-carried-across-connections",
            "A Topic Alias mapped on one connection is unknown on the next one of the same client: using it is a protocol error",
            &[v5("MQTT-3.3.2-7"), v5("MQTT-4.13.1-1")],
            &["mqtt.topic-alias"],
            empty_topics_filled(),
            |ctx| async move {
                let id = ctx.unique("ax");
                let (mut first, _) = Session::connected(&ctx, V5, connect(&id)).await?;
                first.send(&aliased(&ctx.topic("ax"), 1, b"mapped")).await?;
                // The broker has read the mapping once it answers the next PINGREQ.
                first.barrier(v5("MQTT-3.12.4-1")).await?;
                first.disconnect().await;
                let (mut second, _) = Session::connected(&ctx, V5, connect(&id)).await?;
                second.send(&aliased("", 1, b"reused")).await?;
                second
                    .expect_close(v5("MQTT-3.3.2-7"), "a new connection used Topic Alias 1, mapped only on the previous connection")
                    .await
            },
        ),
        case(
            "topic-alias.none-to-client-without-maximum",
            "A client that announced no Topic Alias Maximum receives no Topic Aliases",
            &[v5("MQTT-3.1.2-27")],
            &[],
            deliveries_changed(
                "the broker puts Topic Alias 1 on its PUBLISH packets",
                |m| {
                    set_property(&mut m.properties, Property::TopicAlias(1));
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("na");
                let (mut s, _) = client(&ctx, "na", []).await?;
                subscribed(
                    &mut s,
                    subscribe_packet(1, vec![sub(&topic, QoS::AtMostOnce)], Properties::new()),
                )
                .await?;
                for payload in [b"1", b"2", b"3"] {
                    published(
                        &mut s,
                        message(&topic, payload, QoS::AtMostOnce, None, Properties::new()),
                    )
                    .await?;
                    let got = delivery(&mut s, v5("MQTT-4.5.0-1"), payload).await?;
                    ctx.ensure(
                        got.properties.topic_alias().is_none(),
                        v5("MQTT-3.1.2-27"),
                        || {
                            format!(
                                "no Topic Alias Maximum was announced, yet the broker sent {}",
                                summarize(&Packet::Publish(got.clone()), V5)
                            )
                        },
                    )?;
                }
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "topic-alias.to-client-within-maximum",
            "The broker's Topic Aliases to a client stay within the client's Topic Alias Maximum and stand for the right topics",
            &[v5("MQTT-3.1.2-26"), v5("MQTT-3.3.2-11"), v5("MQTT-3.3.2-3")],
            &[],
            deliveries_changed(
                "the broker uses Topic Alias 3 where the client allows 2",
                |m| {
                    set_property(&mut m.properties, Property::TopicAlias(3));
                },
            ),
            |ctx| async move {
                let topics: Vec<String> = (0..3).map(|i| ctx.topic(&format!("ta{i}"))).collect();
                let (mut s, _) = client(&ctx, "ta", [Property::TopicAliasMaximum(2)]).await?;
                let filters = topics.iter().map(|t| sub(t, QoS::AtMostOnce)).collect();
                subscribed(&mut s, subscribe_packet(1, filters, Properties::new())).await?;
                let (mut p, _) = client(&ctx, "tp", []).await?;
                let mut mapping: BTreeMap<u16, String> = BTreeMap::new();
                for round in 0..2 {
                    for (i, t) in topics.iter().enumerate() {
                        let payload = format!("{round}-{i}");
                        published(
                            &mut p,
                            message(
                                t,
                                payload.as_bytes(),
                                QoS::AtMostOnce,
                                None,
                                Properties::new(),
                            ),
                        )
                        .await?;
                        let got = delivery(&mut s, v5("MQTT-4.5.0-1"), payload.as_bytes()).await?;
                        let topic = match got.properties.topic_alias() {
                            None => got.topic.clone(),
                            Some(a) => {
                                ctx.ensure((1..=2).contains(&a), v5("MQTT-3.3.2-11"), || {
                                    format!("the client's Topic Alias Maximum is 2, the broker used alias {a}")
                                })?;
                                if !got.topic.is_empty() {
                                    mapping.insert(a, got.topic.clone());
                                }
                                mapping.get(&a).cloned().unwrap_or_default()
                            }
                        };
                        ctx.ensure(&topic == t, v5("MQTT-3.3.2-3"), || {
                            format!("a message published on {t} arrived for topic {topic:?}")
                        })?;
                    }
                }
                p.disconnect().await;
                s.disconnect().await;
                Ok(())
            },
        ),
    ]
}

fn receive_maximum_tests() -> Vec<TestCase> {
    vec![
        case(
            "receive-maximum.broker-respects-client-limit",
            "The broker keeps at most the client's Receive Maximum of unacknowledged QoS 1 messages in flight, and still answers other packets",
            &[
                v5("MQTT-3.3.4-9"),
                v5("MQTT-4.9.0-2"),
                v5("MQTT-3.3.4-10"),
                v5("MQTT-4.9.0-3"),
            ],
            &["mqtt.qos1"],
            connects_changed(
                "the client's Receive Maximum never reaches the broker",
                |c| {
                    remove_property(&mut c.properties, PropertyId::ReceiveMaximum);
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("rm");
                let (mut s, _) = client(&ctx, "rm", [Property::ReceiveMaximum(2)]).await?;
                subscribed(
                    &mut s,
                    subscribe_packet(1, vec![sub(&topic, QoS::AtLeastOnce)], Properties::new()),
                )
                .await?;
                let (mut p, _) = client(&ctx, "rp", []).await?;
                for i in 0..5u16 {
                    published(
                        &mut p,
                        message(
                            &topic,
                            format!("m{i}").as_bytes(),
                            QoS::AtLeastOnce,
                            Some(i + 1),
                            Properties::new(),
                        ),
                    )
                    .await?;
                }
                p.disconnect().await;
                let m0 = delivery(&mut s, v5("MQTT-4.5.0-1"), b"m0").await?;
                let m1 = delivery(&mut s, v5("MQTT-4.5.0-1"), b"m1").await?;
                // Quota exhausted: no further QoS 1 PUBLISH, yet PINGRESP and SUBACK still come.
                let extra = publishes_before_barrier(&mut s, v5("MQTT-3.3.4-10")).await?;
                ctx.ensure(extra.is_empty(), v5("MQTT-3.3.4-9"), || {
                    format!("Receive Maximum is 2 and 2 messages are unacknowledged, yet the broker also sent {}", summarize(&Packet::Publish(extra[0].clone()), V5))
                })?;
                let codes = super::v5_features::suback(
                    &mut s,
                    subscribe_packet(
                        2,
                        vec![sub(&ctx.topic("rm-other"), QoS::AtMostOnce)],
                        Properties::new(),
                    ),
                )
                .await
                .map_err(|_| {
                    Failure::fail(
                        v5("MQTT-4.9.0-3"),
                        "with the send quota at zero the broker did not answer a SUBSCRIBE",
                    )
                })?;
                ctx.ensure(!codes.is_empty(), v5("MQTT-4.9.0-3"), || {
                    "empty SUBACK".into()
                })?;
                // One acknowledgement frees exactly one slot.
                ack_delivery(&mut s, &m0).await?;
                let m2 = delivery(&mut s, v5("MQTT-4.5.0-1"), b"m2").await?;
                let extra = publishes_before_barrier(&mut s, v5("MQTT-3.12.4-1")).await?;
                ctx.ensure(extra.is_empty(), v5("MQTT-4.9.0-2"), || {
                    format!(
                        "one PUBACK freed one slot, yet the broker sent {} as well",
                        summarize(&Packet::Publish(extra[0].clone()), V5)
                    )
                })?;
                for m in [&m1, &m2] {
                    ack_delivery(&mut s, m).await?;
                }
                for payload in [b"m3", b"m4"] {
                    let m = delivery(&mut s, v5("MQTT-4.5.0-1"), payload).await?;
                    ack_delivery(&mut s, &m).await?;
                }
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "receive-maximum.client-exceeding-broker-limit",
            "A client sending more unacknowledged QoS 2 messages than the broker's Receive Maximum is disconnected (0x93)",
            &[v5("MQTT-4.13.1-1")],
            &["mqtt.qos2"],
            publishes_changed(
                "the client's QoS 2 messages reach the broker as QoS 0",
                |m| {
                    m.qos = QoS::AtMostOnce;
                    m.packet_id = None;
                },
            ),
            |ctx| async move {
                let (mut s, ack) = client(&ctx, "rx", []).await?;
                let max = ack.properties.receive_maximum().unwrap_or(u16::MAX);
                if max > 1000 {
                    return Err(Failure::skip(format!(
                        "the broker's Receive Maximum is {max}: too many messages to exceed it in a short test"
                    )));
                }
                let topic = ctx.topic("rx");
                // PUBRECs are answered with nothing: every message stays in flight.
                for id in 1..=max + 1 {
                    s.send(&Packet::Publish(message(
                        &topic,
                        b"x",
                        QoS::ExactlyOnce,
                        Some(id),
                        Properties::new(),
                    )))
                    .await?;
                }
                s.send(&Packet::PingReq).await?;
                let what = format!(
                    "{} QoS 2 messages were left unreleased, above the broker's Receive Maximum {max}",
                    max + 1
                );
                loop {
                    match s.next(s.response_timeout()).await? {
                        Next::Packet(Packet::PubRec(_)) => {}
                        Next::Packet(Packet::Disconnect(d)) if d.code.is_error() => {
                            ctx.ensure(d.code == ReasonCode::RECEIVE_MAXIMUM_EXCEEDED, v5("MQTT-4.13.1-1"), || {
                                format!("{what}: DISCONNECT has {} instead of 0x93 Receive Maximum exceeded", d.code)
                            })?;
                        }
                        Next::Closed => return Ok(()),
                        Next::Packet(p) => {
                            return Err(Failure::fail(
                                v5("MQTT-4.13.1-1"),
                                format!(
                                    "{what}, yet the broker sent {} and kept the connection",
                                    summarize(&p, V5)
                                ),
                            ));
                        }
                        Next::Silent => {
                            return Err(Failure::fail(
                                v5("MQTT-4.13.1-1"),
                                format!("{what}, yet the broker neither closed nor answered"),
                            ));
                        }
                    }
                }
            },
        ),
    ]
}

fn packet_size_tests() -> Vec<TestCase> {
    vec![
        case(
            "maximum-packet-size.broker-drops-too-large",
            "The broker never sends a packet above the client's Maximum Packet Size: it drops the message as if delivered and goes on",
            &[v5("MQTT-3.1.2-24"), v5("MQTT-3.1.2-25")],
            &["mqtt.qos1"],
            connects_changed(
                "the client's Maximum Packet Size never reaches the broker",
                |c| {
                    remove_property(&mut c.properties, PropertyId::MaximumPacketSize);
                },
            ),
            |ctx| async move {
                const LIMIT: u32 = 128;
                let topic = ctx.topic("mps");
                // Receive Maximum 1: a dropped message that still counted as in flight
                // would hold back the next one forever.
                let (mut s, _) = client(
                    &ctx,
                    "mps",
                    [
                        Property::MaximumPacketSize(LIMIT),
                        Property::ReceiveMaximum(1),
                    ],
                )
                .await?;
                subscribed(
                    &mut s,
                    subscribe_packet(1, vec![sub(&topic, QoS::AtLeastOnce)], Properties::new()),
                )
                .await?;
                let (mut p, _) = client(&ctx, "mpp", []).await?;
                let big = vec![b'B'; 2 * LIMIT as usize];
                published(
                    &mut p,
                    message(&topic, &big, QoS::AtLeastOnce, Some(1), Properties::new()),
                )
                .await?;
                published(
                    &mut p,
                    message(
                        &topic,
                        b"small",
                        QoS::AtLeastOnce,
                        Some(2),
                        Properties::new(),
                    ),
                )
                .await?;
                p.disconnect().await;
                let first = s
                    .wait_for(
                        v5("MQTT-3.1.2-25"),
                        "the next message after the oversized one (with Receive Maximum 1, a dropped message must not stay in flight)",
                        s.response_timeout(),
                        |pk| match pk {
                            Packet::Publish(m) => Some(m.clone()),
                            _ => None,
                        },
                    )
                    .await?;
                let mut seen: Vec<Publish> = vec![first];
                seen.extend(publishes_before_barrier(&mut s, v5("MQTT-3.12.4-1")).await?);
                for m in &seen {
                    let len = Packet::Publish(m.clone()).encoded_len(V5);
                    ctx.ensure(len <= LIMIT as usize, v5("MQTT-3.1.2-24"), || {
                        format!("the client's Maximum Packet Size is {LIMIT}, the broker sent a {len}-byte PUBLISH")
                    })?;
                }
                ctx.ensure(seen.iter().any(|m| m.payload == b"small"), v5("MQTT-3.1.2-25"), || {
                    "after dropping the oversized message the broker did not deliver the next one".into()
                })?;
                for m in &seen {
                    ack_delivery(&mut s, m).await?;
                }
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "maximum-packet-size.client-too-large-refused",
            "A packet above the broker's announced Maximum Packet Size is a protocol error: the broker closes the connection (0x95)",
            &[v5("MQTT-4.13.1-1")],
            &[],
            connack_announces(
                "the broker announces Maximum Packet Size 64 but accepts larger packets",
                Property::MaximumPacketSize(64),
            ),
            |ctx| async move {
                let (mut s, ack) = client(&ctx, "mpc", []).await?;
                let Some(max) = ack.properties.maximum_packet_size() else {
                    return Err(Failure::skip(
                        "the broker announces no Maximum Packet Size (its limit is the protocol's, 256 MB)",
                    ));
                };
                let Ok(max) = usize::try_from(max) else {
                    return Err(Failure::skip(
                        "Maximum Packet Size does not fit in memory here",
                    ));
                };
                if max > 1 << 20 {
                    return Err(Failure::skip(format!(
                        "the broker's Maximum Packet Size is {max} bytes: too large for a short test"
                    )));
                }
                // A PUBLISH exactly one byte over the limit.
                let topic = ctx.topic("mpc");
                let mut m = message(&topic, b"", QoS::AtMostOnce, None, Properties::new());
                let bare = Packet::Publish(m.clone()).encoded_len(V5);
                let mut fill = (max + 1).saturating_sub(bare);
                m.payload = vec![b'x'; fill];
                // The Remaining Length may grow a byte as the payload grows.
                while Packet::Publish(m.clone()).encoded_len(V5) > max + 1 && fill > 0 {
                    fill -= 1;
                    m.payload.truncate(fill);
                }
                let len = Packet::Publish(m.clone()).encoded_len(V5);
                s.send(&Packet::Publish(m)).await?;
                s.expect_close(
                    v5("MQTT-4.13.1-1"),
                    &format!(
                        "a {len}-byte PUBLISH exceeded the broker's Maximum Packet Size {max}"
                    ),
                )
                .await
            },
        ),
    ]
}
