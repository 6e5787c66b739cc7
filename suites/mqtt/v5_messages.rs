//! MQTT 5.0 message properties the broker must forward as published (Payload Format
//! Indicator, Content Type, Response Topic, Correlation Data, User Properties) and
//! Message Expiry.

use std::time::Duration;

use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::mqtt::{Connect, Properties, Property, PropertyId, Publish, QoS};
use tokio::time::Instant;

use super::packets::connect;
use super::session::Session;
use super::v5;
use super::v5_features::{
    V5, ack_delivery, case, client, deliveries_changed, delivery, lapse, message, published,
    publishes_before_barrier, publishes_changed, remove_property, set_property, sub,
    subscribe_packet, subscribed,
};

pub fn tests() -> Vec<TestCase> {
    let mut t = forwarding_tests();
    t.extend(expiry_tests());
    t
}

/// Publishes `props` with a message to a fresh subscriber (retained first if
/// `retained`, so it arrives because of the SUBSCRIBE) and returns what was delivered.
async fn round_trip(ctx: &Ctx, props: Properties, retained: bool) -> Result<Publish, Failure> {
    let topic = ctx.topic("props");
    let (mut p, _) = client(ctx, "pub", []).await?;
    let (mut s, _) = client(ctx, "sub", []).await?;
    let mut m = message(&topic, "héllo".as_bytes(), QoS::AtLeastOnce, Some(1), props);
    m.retain = retained;
    if retained {
        published(&mut p, m).await?;
        subscribed(
            &mut s,
            subscribe_packet(1, vec![sub(&topic, QoS::AtLeastOnce)], Properties::new()),
        )
        .await?;
    } else {
        subscribed(
            &mut s,
            subscribe_packet(1, vec![sub(&topic, QoS::AtLeastOnce)], Properties::new()),
        )
        .await?;
        published(&mut p, m).await?;
    }
    let got = delivery(&mut s, v5("MQTT-4.5.0-1"), "héllo".as_bytes()).await?;
    ack_delivery(&mut s, &got).await?;
    if retained {
        let mut clear = message(&topic, b"", QoS::AtLeastOnce, Some(2), Properties::new());
        clear.retain = true;
        published(&mut p, clear).await?;
    }
    p.disconnect().await;
    s.disconnect().await;
    Ok(got)
}

/// The properties of `kind` in `props`, in order.
fn of_kind(props: &Properties, kind: PropertyId) -> Vec<Property> {
    props.iter().filter(|p| p.id() == kind).cloned().collect()
}

/// The application properties a broker forwards unchanged, in the order sent.
fn application_properties() -> Properties {
    [
        Property::PayloadFormatIndicator(1),
        Property::ContentType("application/json; charset=utf-8".into()),
        Property::ResponseTopic("hilt/réponse/α".into()),
        Property::CorrelationData(vec![0, 1, 0xff, 0, 0x80]),
        Property::UserProperty("k".into(), "1".into()),
        Property::UserProperty("k".into(), "1".into()),
        Property::UserProperty("Ünïcode".into(), "".into()),
        Property::UserProperty("a".into(), "2".into()),
    ]
    .into_iter()
    .collect()
}

/// A forwarding test: `kinds` of the published properties must arrive as sent, in order.
fn forwarded_case(
    id: &str,
    title: &str,
    covers: &[hilt_core::SpecRef],
    kinds: &'static [PropertyId],
    retained: bool,
    control: super::controls::Control,
) -> TestCase {
    let covers_owned = covers.to_vec();
    case(
        id,
        title,
        covers,
        if retained {
            &["mqtt.qos1", "mqtt.retain"]
        } else {
            &["mqtt.qos1"]
        },
        control,
        move |ctx| {
            let covers = covers_owned.clone();
            async move {
                let sent = application_properties();
                let got = round_trip(&ctx, sent.clone(), retained).await?;
                for (i, kind) in kinds.iter().enumerate() {
                    let (want, have) = (of_kind(&sent, *kind), of_kind(&got.properties, *kind));
                    let rule = covers[i.min(covers.len() - 1)];
                    ctx.ensure(want == have, rule, || {
                        format!(
                            "{} was published as {want:?}, forwarded as {have:?}",
                            kind.name()
                        )
                    })?;
                }
                Ok(())
            }
        },
    )
}

fn forwarding_tests() -> Vec<TestCase> {
    vec![
        forwarded_case(
            "message-properties.payload-format-indicator-forwarded",
            "The broker forwards the Payload Format Indicator unchanged",
            &[v5("MQTT-3.3.2-4")],
            &[PropertyId::PayloadFormatIndicator],
            false,
            deliveries_changed("the broker drops the Payload Format Indicator", |m| {
                remove_property(&mut m.properties, PropertyId::PayloadFormatIndicator)
            }),
        ),
        forwarded_case(
            "message-properties.content-type-forwarded",
            "The broker forwards the Content Type unchanged",
            &[v5("MQTT-3.3.2-20")],
            &[PropertyId::ContentType],
            false,
            deliveries_changed(
                "the broker lower-cases nothing but rewrites the Content Type",
                |m| {
                    set_property(
                        &mut m.properties,
                        Property::ContentType("application/json".into()),
                    )
                },
            ),
        ),
        forwarded_case(
            "message-properties.response-topic-and-correlation-data-forwarded",
            "The broker forwards Response Topic and Correlation Data unchanged, so a responder can answer the request",
            &[v5("MQTT-3.3.2-15"), v5("MQTT-3.3.2-16")],
            &[PropertyId::ResponseTopic, PropertyId::CorrelationData],
            false,
            deliveries_changed(
                "the broker drops the zero bytes of the Correlation Data",
                |m| {
                    let cd = m.properties.iter().find_map(|p| match p {
                        Property::CorrelationData(d) => {
                            Some(d.iter().copied().filter(|b| *b != 0).collect::<Vec<u8>>())
                        }
                        _ => None,
                    });
                    if let Some(d) = cd {
                        set_property(&mut m.properties, Property::CorrelationData(d));
                    }
                },
            ),
        ),
        forwarded_case(
            "message-properties.user-properties-forwarded-in-order",
            "The broker forwards every User Property, duplicates included, in the order published",
            &[v5("MQTT-3.3.2-17"), v5("MQTT-3.3.2-18")],
            &[PropertyId::UserProperty],
            false,
            deliveries_changed("the broker reverses the order of User Properties", |m| {
                let mut ups: Vec<Property> = of_kind(&m.properties, PropertyId::UserProperty);
                ups.reverse();
                remove_property(&mut m.properties, PropertyId::UserProperty);
                m.properties.0.extend(ups);
            }),
        ),
        forwarded_case(
            "message-properties.retained-message-keeps-properties",
            "A retained message delivered to a new subscriber keeps its Payload Format Indicator, Content Type, Response Topic, Correlation Data and User Properties",
            &[
                v5("MQTT-3.3.2-4"),
                v5("MQTT-3.3.2-20"),
                v5("MQTT-3.3.2-15"),
                v5("MQTT-3.3.2-16"),
                v5("MQTT-3.3.2-17"),
            ],
            &[
                PropertyId::PayloadFormatIndicator,
                PropertyId::ContentType,
                PropertyId::ResponseTopic,
                PropertyId::CorrelationData,
                PropertyId::UserProperty,
            ],
            true,
            deliveries_changed(
                "the broker stores retained messages without their properties",
                |m| {
                    if m.retain {
                        m.properties.0.retain(|p| {
                            matches!(
                                p.id(),
                                PropertyId::SubscriptionIdentifier
                                    | PropertyId::MessageExpiryInterval
                                    | PropertyId::TopicAlias
                            )
                        });
                    }
                },
            ),
        ),
    ]
}

/// A session that outlives its connection: CONNECT with `Session Expiry Interval` 30.
fn lasting(id: &str, clean: bool) -> Connect {
    Connect {
        clean_start: clean,
        properties: Properties::new().with(Property::SessionExpiryInterval(30)),
        ..connect(id)
    }
}

/// Creates a session subscribed (QoS 1) to `topic` and leaves it offline; returns its id.
async fn park(ctx: &Ctx, topic: &str) -> Result<String, Failure> {
    let id = ctx.unique("off");
    let (mut s, _) = Session::connected(ctx, V5, lasting(&id, true)).await?;
    subscribed(
        &mut s,
        subscribe_packet(1, vec![sub(topic, QoS::AtLeastOnce)], Properties::new()),
    )
    .await?;
    s.disconnect().await;
    Ok(id)
}

/// Resumes the parked session; the session must have been kept (else the test's premise
/// fails). The session is ended when this connection closes (expiry 0 on DISCONNECT is
/// not allowed to change from 0, so it is left to its 30 s).
async fn resume(ctx: &Ctx, id: &str) -> Result<Session, Failure> {
    let (s, ack) = Session::connected(ctx, V5, lasting(id, false)).await?;
    if !ack.session_present {
        return Err(Failure::error(
            "the broker did not keep the offline session the test relies on",
        ));
    }
    Ok(s)
}

fn expiry_tests() -> Vec<TestCase> {
    vec![
        case(
            "message-expiry.expired-not-delivered-offline",
            "A message whose Message Expiry Interval passes while its subscriber is offline is not delivered when the session resumes",
            &[v5("MQTT-3.3.2-5")],
            &["mqtt.qos1"],
            publishes_changed(
                "the client's Message Expiry Interval never reaches the broker",
                |m| {
                    remove_property(&mut m.properties, PropertyId::MessageExpiryInterval);
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("exp");
                let id = park(&ctx, &topic).await?;
                let (mut p, _) = client(&ctx, "pub", []).await?;
                published(
                    &mut p,
                    message(
                        &topic,
                        b"short",
                        QoS::AtLeastOnce,
                        Some(1),
                        Properties::new().with(Property::MessageExpiryInterval(1)),
                    ),
                )
                .await?;
                published(
                    &mut p,
                    message(
                        &topic,
                        b"long",
                        QoS::AtLeastOnce,
                        Some(2),
                        Properties::new().with(Property::MessageExpiryInterval(60)),
                    ),
                )
                .await?;
                // The expiry is 1 s; brokers count whole seconds, so 2.1 s is past it for any.
                lapse(&mut p, Duration::from_millis(2100), v5("MQTT-3.3.2-5")).await?;
                p.disconnect().await;
                let mut s = resume(&ctx, &id).await?;
                // The unexpired message proves the session kept its messages.
                let long = delivery(&mut s, v5("MQTT-4.5.0-1"), b"long").await?;
                ack_delivery(&mut s, &long).await?;
                let rest = publishes_before_barrier(&mut s, v5("MQTT-3.12.4-1")).await?;
                ctx.ensure(
                    !rest.iter().any(|m| m.payload == b"short"),
                    v5("MQTT-3.3.2-5"),
                    || {
                        "a message with Message Expiry Interval 1 was delivered more than 2 s later"
                            .into()
                    },
                )?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "message-expiry.interval-reduced-by-wait",
            "The broker forwards the Message Expiry Interval, reduced by the time the message waited for an offline subscriber",
            &[v5("MQTT-3.3.2-6")],
            &["mqtt.qos1"],
            deliveries_changed(
                "the broker forwards the Message Expiry Interval as received",
                |m| {
                    if m.properties
                        .get(PropertyId::MessageExpiryInterval)
                        .is_some()
                    {
                        set_property(&mut m.properties, Property::MessageExpiryInterval(30));
                    }
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("expr");
                let id = park(&ctx, &topic).await?;
                let (mut online, _) = client(&ctx, "on", []).await?;
                subscribed(
                    &mut online,
                    subscribe_packet(1, vec![sub(&topic, QoS::AtLeastOnce)], Properties::new()),
                )
                .await?;
                let (mut p, _) = client(&ctx, "pub", []).await?;
                published(
                    &mut p,
                    message(
                        &topic,
                        b"m",
                        QoS::AtLeastOnce,
                        Some(1),
                        Properties::new().with(Property::MessageExpiryInterval(30)),
                    ),
                )
                .await?;
                let sent_at = Instant::now();
                let now = delivery(&mut online, v5("MQTT-3.3.2-6"), b"m").await?;
                ack_delivery(&mut online, &now).await?;
                let mei = |m: &Publish| match m.properties.get(PropertyId::MessageExpiryInterval) {
                    Some(Property::MessageExpiryInterval(v)) => Some(*v),
                    _ => None,
                };
                ctx.ensure(mei(&now).is_some_and(|v| (29..=30).contains(&v)), v5("MQTT-3.3.2-6"), || {
                    format!("published with Message Expiry Interval 30, delivered at once with {:?}", mei(&now))
                })?;
                lapse(&mut p, Duration::from_millis(1100), v5("MQTT-3.3.2-6")).await?;
                p.disconnect().await;
                let mut s = resume(&ctx, &id).await?;
                let late = delivery(&mut s, v5("MQTT-4.5.0-1"), b"m").await?;
                let waited = sent_at.elapsed().as_secs_f64().ceil() as u32;
                ack_delivery(&mut s, &late).await?;
                let lowest = 30u32.saturating_sub(waited + 1);
                ctx.ensure(mei(&late).is_some_and(|v| (lowest..=29).contains(&v)), v5("MQTT-3.3.2-6"), || {
                    format!("published with Message Expiry Interval 30, delivered after {waited} s or less with {:?} (expected {lowest}..=29)", mei(&late))
                })?;
                online.disconnect().await;
                s.disconnect().await;
                Ok(())
            },
        ),
    ]
}
