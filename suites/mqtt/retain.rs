//! Retained messages: stored per topic, replaced by newer ones, cleared by an empty
//! payload, left alone by plain messages, and sent to new subscriptions with RETAIN 1.
//!
//! Retain As Published and Retain Handling (5.0 subscription options) are judged in
//! `v5_subscriptions.rs`; a live delivery's RETAIN flag is judged here for 3.1.1, where
//! it is always 0.

use hilt_runner::TestCase;
use hilt_wire::mqtt::{Packet, Publish, QoS, Version};

use super::SUITE;
use super::controls;
use super::pubsub::{
    VERSIONS, ack, cap, client, message, publish, receive, show, spec, subscribe_all, subscriber,
    tag, text, wait_publish,
};
use super::session::Session;

/// A retained PUBLISH.
fn retained(topic: &str, payload: &[u8], qos: QoS, packet_id: u16) -> Publish {
    Publish {
        retain: true,
        ..message(topic, payload, qos, packet_id)
    }
}

/// Publishes `msgs` from a new client and waits until the broker has handled them all
/// (QoS 0 ones included: it answers the PINGREQ sent after them only then).
async fn publish_all(
    ctx: &hilt_runner::Ctx,
    version: Version,
    msgs: Vec<Publish>,
) -> Result<(), hilt_runner::Failure> {
    let mut p = client(ctx, version, "p").await?;
    for m in msgs {
        publish(&mut p, m).await?;
    }
    p.barrier(spec(version, "MQTT-3.12.4-1", "MQTT-3.12.4-1"))
        .await?;
    p.disconnect().await;
    Ok(())
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for version in VERSIONS {
        let tag = tag(version);
        let needs = [cap(version), "mqtt.retain", "mqtt.qos1"];

        // Retained on two topics, then a new wildcard subscription: both arrive, each
        // with RETAIN 1.
        let stored = spec(version, "MQTT-3.3.1-5", "MQTT-3.3.1-5");
        let sent = spec(version, "MQTT-3.3.1-9", "MQTT-3.3.1-6");
        let flag = spec(version, "MQTT-3.3.1-9", "MQTT-3.3.1-8");
        let mut covers = vec![stored, sent];
        if version == Version::V311 {
            covers.push(flag);
        }
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.retain.sent-to-new-subscription"),
                "A new subscription receives the retained message of every matching topic, with RETAIN 1",
                move |ctx| async move {
                    let (a, b) = (ctx.topic("r/a"), ctx.topic("r/b"));
                    publish_all(
                        &ctx,
                        version,
                        vec![retained(&a, b"ra", QoS::AtLeastOnce, 1), retained(&b, b"rb", QoS::AtLeastOnce, 2)],
                    )
                    .await?;
                    let mut s = client(&ctx, version, "s").await?;
                    let g = subscribe_all(&mut s, &[(&ctx.topic("r/+"), QoS::AtLeastOnce)]).await?;
                    for (topic, payload) in [(&a, &b"ra"[..]), (&b, &b"rb"[..])] {
                        let what = format!("the retained message of {topic}");
                        let m = receive(&mut s, sent, &what, |m| m.topic == *topic).await?;
                        ctx.ensure(m.payload == payload, stored, || format!("the retained message of {topic} is {}", show(&m, version)))?;
                        // Sent because of the subscription: flagged as retained (5.0 §3.3.1.3).
                        ctx.ensure(m.retain, flag, || format!("a retained message sent to a new subscription has RETAIN 0: {}", show(&m, version)))?;
                        ctx.ensure(m.qos == g[0], stored, || {
                            format!("stored at QoS 1, subscribed at {}, delivered at QoS {}", g[0].as_u8(), m.qos.as_u8())
                        })?;
                    }
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&covers)
            .tags(&["retain"])
            .needs(&[cap(version), "mqtt.retain", "mqtt.qos1", "mqtt.wildcards"])
            .control(controls::drop_nth_to_client("PUBLISH", 2, "the broker keeps only one of two topics' retained messages")),
        );

        // A newer retained message (QoS 0) replaces the older one.
        let replaced = spec(version, "MQTT-3.3.1-5", "MQTT-3.3.1-7");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.retain.replaced-by-newer"),
                "A retained QoS 0 message replaces the topic's previous retained message",
                move |ctx| async move {
                    let topic = ctx.topic("r");
                    publish_all(
                        &ctx,
                        version,
                        vec![
                            retained(&topic, b"old", QoS::AtMostOnce, 0),
                            retained(&topic, b"new", QoS::AtMostOnce, 0),
                        ],
                    )
                    .await?;
                    let mut s = client(&ctx, version, "s").await?;
                    subscribe_all(&mut s, &[(&topic, QoS::AtLeastOnce)]).await?;
                    let m = receive(&mut s, sent, "the retained message", |_| true).await?;
                    ctx.ensure(m.payload == b"new", replaced, || {
                        format!(
                            "after retaining \"old\" then \"new\" a new subscription got {:?}",
                            text(&m.payload)
                        )
                    })?;
                    s.expect_quiet(replaced, "only one message is retained per topic")
                        .await?;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[replaced])
            .tags(&["retain"])
            .needs(&[cap(version), "mqtt.retain"])
            .control(controls::mutate_to_server(
                version,
                "PUBLISH",
                "the broker does not retain the newer message",
                |p| {
                    if let Packet::Publish(m) = p
                        && m.payload == b"new"
                    {
                        m.retain = false;
                    }
                },
            )),
        );

        // An empty retained message is delivered like any other, clears the retained
        // message, and is not retained itself.
        let delivered = spec(version, "MQTT-3.3.1-6", "MQTT-3.3.1-10");
        let not_stored = spec(version, "MQTT-3.3.1-7", "MQTT-3.3.1-11");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.retain.empty-payload-clears"),
                "A retained PUBLISH with an empty payload is delivered normally, removes the retained message and is not retained",
                move |ctx| async move {
                    let topic = ctx.topic("r");
                    let mut live = subscriber(&ctx, version, "l", &[(&topic, QoS::AtLeastOnce)]).await?;
                    publish_all(
                        &ctx,
                        version,
                        vec![retained(&topic, b"x", QoS::AtLeastOnce, 1), retained(&topic, b"", QoS::AtLeastOnce, 2)],
                    )
                    .await?;
                    let deliver = spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1");
                    receive(&mut live, deliver, "the retained message", |m| m.payload == b"x").await?;
                    let m = receive(&mut live, delivered, "the empty retained message, delivered normally", |_| true).await?;
                    ctx.ensure(m.payload.is_empty(), delivered, || format!("expected the empty message, got {}", show(&m, version)))?;
                    live.disconnect().await;
                    let mut s = client(&ctx, version, "s").await?;
                    subscribe_all(&mut s, &[(&topic, QoS::AtLeastOnce)]).await?;
                    let before = s.barrier(not_stored).await?;
                    if let Some(Packet::Publish(m)) = before.iter().find(|p| matches!(p, Packet::Publish(_))) {
                        let rule = if m.payload.is_empty() { not_stored } else { delivered };
                        return Err(hilt_runner::Failure::fail(
                            rule,
                            format!("after an empty retained message, a new subscription got {}", show(m, version)),
                        ));
                    }
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[delivered, not_stored])
            .tags(&["retain"])
            .needs(&needs)
            .control(controls::mutate_to_server(version, "PUBLISH", "the broker takes an empty retained message for a new one", |p| {
                if let Packet::Publish(m) = p
                    && m.retain && m.payload.is_empty() {
                        m.payload = b"zombie".to_vec();
                    }
            })),
        );

        // A message published without RETAIN leaves the retained message alone.
        let untouched = spec(version, "MQTT-3.3.1-8", "MQTT-3.3.1-12");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.retain.plain-publish-keeps-retained"),
                "A PUBLISH with RETAIN 0 neither is retained nor replaces the topic's retained message",
                move |ctx| async move {
                    let topic = ctx.topic("r");
                    publish_all(
                        &ctx,
                        version,
                        vec![retained(&topic, b"keep", QoS::AtLeastOnce, 1), message(&topic, b"plain", QoS::AtLeastOnce, 2)],
                    )
                    .await?;
                    let mut s = client(&ctx, version, "s").await?;
                    subscribe_all(&mut s, &[(&topic, QoS::AtLeastOnce)]).await?;
                    let m = receive(&mut s, untouched, "the retained message", |_| true).await?;
                    ctx.ensure(m.payload == b"keep", untouched, || format!("after \"keep\" retained and \"plain\" not, a new subscription got {:?}", text(&m.payload)))?;
                    s.expect_quiet(untouched, "one message is retained").await?;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[untouched])
            .tags(&["retain"])
            .needs(&needs)
            .control(controls::mutate_to_server(version, "PUBLISH", "the broker retains a message published without RETAIN", |p| {
                if let Packet::Publish(m) = p
                    && m.payload == b"plain" {
                        m.retain = true;
                    }
            })),
        );
    }

    // 3.1.1 only: 5.0 makes these Retain As Published and Retain Handling, judged with
    // the other subscription options.
    let version = Version::V311;
    let live = super::v311("MQTT-3.3.1-9");
    t.push(
        TestCase::new(
            SUITE,
            "mqtt.v311.retain.live-delivery-not-flagged",
            "A retained message forwarded to an existing subscription has RETAIN 0",
            move |ctx| async move {
                let topic = ctx.topic("r");
                let mut s = subscriber(&ctx, version, "s", &[(&topic, QoS::AtLeastOnce)]).await?;
                publish_all(
                    &ctx,
                    version,
                    vec![retained(&topic, b"live", QoS::AtLeastOnce, 1)],
                )
                .await?;
                let m =
                    receive(&mut s, super::v311("MQTT-4.5.0-1"), "the message", |_| true).await?;
                ctx.ensure(!m.retain, live, || {
                    format!(
                        "a message for an established subscription has RETAIN 1: {}",
                        show(&m, version)
                    )
                })?;
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[live])
        .tags(&["retain"])
        .needs(&[cap(version), "mqtt.retain", "mqtt.qos1"])
        .control(controls::mutate_to_client(
            version,
            "PUBLISH",
            "the broker forwards the RETAIN flag as published",
            |p| {
                if let Packet::Publish(m) = p {
                    m.retain = true;
                }
            },
        )),
    );

    let resent = super::v311("MQTT-3.8.4-3");
    t.push(
        TestCase::new(
            SUITE,
            "mqtt.v311.retain.resent-on-identical-subscribe",
            "Subscribing again with an identical filter re-sends the retained message",
            move |ctx| async move {
                let topic = ctx.topic("r");
                publish_all(
                    &ctx,
                    version,
                    vec![retained(&topic, b"again", QoS::AtLeastOnce, 1)],
                )
                .await?;
                let mut s: Session = client(&ctx, version, "s").await?;
                for n in ["first", "second"] {
                    subscribe_all(&mut s, &[(&topic, QoS::AtLeastOnce)]).await?;
                    let what = format!("the retained message after the {n} SUBSCRIBE");
                    let m = wait_publish(
                        &mut s,
                        if n == "first" {
                            super::v311("MQTT-3.3.1-6")
                        } else {
                            resent
                        },
                        &what,
                        |_| true,
                    )
                    .await?;
                    ctx.ensure(m.retain, super::v311("MQTT-3.3.1-8"), || {
                        format!(
                            "a retained message sent to a subscription has RETAIN 0: {}",
                            show(&m, version)
                        )
                    })?;
                    ack(&mut s, &m).await?;
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[resent])
        .tags(&["retain", "subscribe"])
        .needs(&[cap(version), "mqtt.retain", "mqtt.qos1"])
        .control(controls::drop_nth_to_client(
            "PUBLISH",
            2,
            "the broker does not re-send retained messages to a replaced subscription",
        )),
    );
    t
}
