//! MQTT 5.0 subscriptions: the options of each subscription (No Local, Retain As
//! Published, Retain Handling), shared subscriptions, and Subscription Identifiers.

use std::collections::BTreeMap;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::mqtt::{
    Packet, Properties, Property, PropertyId, Publish, QoS, ReasonCode, RetainHandling,
};
use tokio::time::Instant;

use super::controls::{self, Control};
use super::session::{Session, summarize};
use super::v5;
use super::v5_features::{
    V5, ack_delivery, bytes_replaced_to_server, case, client, deliveries_changed, delivery,
    message, published, publishes_before_barrier, remove_property, sub, sub_with, subscribe_packet,
    subscribed, subscribes_changed,
};

pub fn tests() -> Vec<TestCase> {
    let mut t = options_tests();
    t.extend(shared_tests());
    t.extend(identifier_tests());
    t
}

/// Publishes a retained `payload` on `topic` from a client of its own, which stays
/// connected to clear it again with [`clear_retained`].
async fn retain_on(ctx: &Ctx, topic: &str, payload: &[u8]) -> Result<Session, Failure> {
    let (mut p, _) = client(ctx, "pub", []).await?;
    let mut m = message(topic, payload, QoS::AtLeastOnce, Some(1), Properties::new());
    m.retain = true;
    published(&mut p, m).await?;
    Ok(p)
}

/// Removes the retained message and closes the publisher, so no topic outlives its test.
async fn clear_retained(mut p: Session, topic: &str) -> Result<(), Failure> {
    let mut m = message(topic, b"", QoS::AtLeastOnce, Some(2), Properties::new());
    m.retain = true;
    published(&mut p, m).await?;
    p.disconnect().await;
    Ok(())
}

/// Requires that no PUBLISH with `payload` arrived by the time the broker answers a
/// PINGREQ, i.e. after it finished reacting to everything sent before.
async fn no_delivery_of(
    s: &mut Session,
    rule: SpecRef,
    payload: &[u8],
    why: &str,
) -> Result<(), Failure> {
    let got = publishes_before_barrier(s, rule).await?;
    match got.iter().find(|m| m.payload == payload) {
        None => Ok(()),
        Some(m) => Err(Failure::fail(
            rule,
            format!(
                "{why}, yet the broker sent {}",
                summarize(&Packet::Publish(m.clone()), V5)
            ),
        )),
    }
}

fn options_tests() -> Vec<TestCase> {
    vec![
        case(
            "subscription-options.no-local",
            "With No Local set, the broker does not send a client's own messages back to it, while other subscribers get them",
            &[v5("MQTT-3.8.3-3")],
            &[],
            subscribes_changed(
                "the client's No Local option is cleared before the broker sees it",
                |s| {
                    for f in &mut s.filters {
                        f.options.no_local = false;
                    }
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("nl");
                let (mut me, _) = client(&ctx, "me", []).await?;
                let (mut other, _) = client(&ctx, "other", []).await?;
                subscribed(
                    &mut me,
                    subscribe_packet(
                        1,
                        vec![sub_with(&topic, QoS::AtMostOnce, |o| o.no_local = true)],
                        Properties::new(),
                    ),
                )
                .await?;
                subscribed(
                    &mut other,
                    subscribe_packet(1, vec![sub(&topic, QoS::AtMostOnce)], Properties::new()),
                )
                .await?;
                published(
                    &mut me,
                    message(&topic, b"own", QoS::AtMostOnce, None, Properties::new()),
                )
                .await?;
                // The other subscriber proves the message was published and routed.
                delivery(&mut other, v5("MQTT-4.5.0-1"), b"own").await?;
                no_delivery_of(
                    &mut me,
                    v5("MQTT-3.8.3-3"),
                    b"own",
                    "the subscription has No Local and the message is the client's own",
                )
                .await?;
                me.disconnect().await;
                other.disconnect().await;
                Ok(())
            },
        ),
        case(
            "subscription-options.retain-as-published-kept",
            "With Retain As Published set, a forwarded message keeps the RETAIN flag it was published with",
            &[v5("MQTT-3.3.1-13")],
            &["mqtt.retain"],
            deliveries_changed("the broker clears RETAIN on forwarded messages", |m| {
                m.retain = false
            }),
            |ctx| async move {
                let topic = ctx.topic("rap1");
                let (mut s, _) = client(&ctx, "rap", []).await?;
                subscribed(
                    &mut s,
                    subscribe_packet(
                        1,
                        vec![sub_with(&topic, QoS::AtMostOnce, |o| {
                            o.retain_as_published = true
                        })],
                        Properties::new(),
                    ),
                )
                .await?;
                let p = retain_on(&ctx, &topic, b"was-retained").await?;
                let got = delivery(&mut s, v5("MQTT-4.5.0-1"), b"was-retained").await?;
                ctx.ensure(got.retain, v5("MQTT-3.3.1-13"), || "Retain As Published is 1 and the message was published retained, yet it arrived with RETAIN 0".into())?;
                clear_retained(p, &topic).await?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "subscription-options.retain-as-published-cleared",
            "With Retain As Published clear, a message forwarded to an existing subscription arrives with RETAIN 0",
            &[v5("MQTT-3.3.1-12")],
            &["mqtt.retain"],
            deliveries_changed("the broker sets RETAIN on forwarded messages", |m| {
                m.retain = true
            }),
            |ctx| async move {
                let topic = ctx.topic("rap0");
                let (mut s, _) = client(&ctx, "rap", []).await?;
                subscribed(
                    &mut s,
                    subscribe_packet(1, vec![sub(&topic, QoS::AtMostOnce)], Properties::new()),
                )
                .await?;
                let p = retain_on(&ctx, &topic, b"was-retained").await?;
                let got = delivery(&mut s, v5("MQTT-4.5.0-1"), b"was-retained").await?;
                ctx.ensure(!got.retain, v5("MQTT-3.3.1-12"), || {
                    "Retain As Published is 0, yet a forwarded message arrived with RETAIN 1".into()
                })?;
                clear_retained(p, &topic).await?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "subscription-options.retain-handling-0-sends-every-time",
            "With Retain Handling 0 the broker sends the retained message on every SUBSCRIBE, including one replacing the subscription",
            &[v5("MQTT-3.3.1-9"), v5("MQTT-3.8.4-4")],
            &["mqtt.retain"],
            controls::drop_nth_to_client(
                "PUBLISH",
                2,
                "the broker does not resend the retained message for a replaced subscription",
            ),
            |ctx| async move {
                let topic = ctx.topic("rh0");
                let p = retain_on(&ctx, &topic, b"kept").await?;
                let (mut s, _) = client(&ctx, "rh", []).await?;
                for (n, rule) in [(1, v5("MQTT-3.3.1-9")), (2, v5("MQTT-3.8.4-4"))] {
                    subscribed(
                        &mut s,
                        subscribe_packet(n, vec![sub(&topic, QoS::AtMostOnce)], Properties::new()),
                    )
                    .await?;
                    let got = delivery(&mut s, rule, b"kept").await?;
                    ctx.ensure(got.retain, v5("MQTT-3.3.1-9"), || {
                        "a retained message sent because of a SUBSCRIBE has RETAIN 0".into()
                    })?;
                }
                clear_retained(p, &topic).await?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "subscription-options.retain-handling-1-only-if-new",
            "With Retain Handling 1 the broker sends the retained message for a new subscription but not when it already existed",
            &[v5("MQTT-3.3.1-10")],
            &["mqtt.retain"],
            subscribes_changed(
                "the client's Retain Handling 1 reaches the broker as 0",
                |s| {
                    for f in &mut s.filters {
                        f.options.retain_handling = RetainHandling::SendAtSubscribe;
                    }
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("rh1");
                let p = retain_on(&ctx, &topic, b"kept").await?;
                let (mut s, _) = client(&ctx, "rh", []).await?;
                let rh1 = |id| {
                    subscribe_packet(
                        id,
                        vec![sub_with(&topic, QoS::AtMostOnce, |o| {
                            o.retain_handling = RetainHandling::SendAtSubscribeIfNew
                        })],
                        Properties::new(),
                    )
                };
                subscribed(&mut s, rh1(1)).await?;
                delivery(&mut s, v5("MQTT-3.3.1-10"), b"kept").await?;
                subscribed(&mut s, rh1(2)).await?;
                no_delivery_of(
                    &mut s,
                    v5("MQTT-3.3.1-10"),
                    b"kept",
                    "the subscription already existed and Retain Handling is 1",
                )
                .await?;
                clear_retained(p, &topic).await?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "subscription-options.retain-handling-2-never",
            "With Retain Handling 2 the broker sends no retained message when the subscription is made, yet forwards new ones",
            &[v5("MQTT-3.3.1-11")],
            &["mqtt.retain"],
            subscribes_changed(
                "the client's Retain Handling 2 reaches the broker as 0",
                |s| {
                    for f in &mut s.filters {
                        f.options.retain_handling = RetainHandling::SendAtSubscribe;
                    }
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("rh2");
                let mut p = retain_on(&ctx, &topic, b"kept").await?;
                let (mut s, _) = client(&ctx, "rh", []).await?;
                subscribed(
                    &mut s,
                    subscribe_packet(
                        1,
                        vec![sub_with(&topic, QoS::AtMostOnce, |o| {
                            o.retain_handling = RetainHandling::DoNotSend
                        })],
                        Properties::new(),
                    ),
                )
                .await?;
                no_delivery_of(&mut s, v5("MQTT-3.3.1-11"), b"kept", "Retain Handling is 2")
                    .await?;
                published(
                    &mut p,
                    message(&topic, b"live", QoS::AtMostOnce, None, Properties::new()),
                )
                .await?;
                delivery(&mut s, v5("MQTT-4.5.0-1"), b"live").await?;
                clear_retained(p, &topic).await?;
                s.disconnect().await;
                Ok(())
            },
        ),
    ]
}

/// `$share/<group>/<filter>` with a group name unique to the test.
fn shared(ctx: &Ctx, filter: &str) -> String {
    format!("$share/{}/{filter}", ctx.unique("g"))
}

/// Publishes `n` QoS 1 messages `m0`..`m{n-1}` on `topic`, then gathers what the
/// `members` receive (acknowledging each) until `n` arrived or the response deadline
/// passes. Returns, per member, the messages it got.
async fn spread(
    ctx: &Ctx,
    members: &mut [Session],
    topic: &str,
    n: usize,
) -> Result<Vec<Vec<Publish>>, Failure> {
    let (mut p, _) = client(ctx, "pub", []).await?;
    for i in 0..n {
        let id = u16::try_from(i + 1).unwrap_or(u16::MAX);
        published(
            &mut p,
            message(
                topic,
                format!("m{i}").as_bytes(),
                QoS::AtLeastOnce,
                Some(id),
                Properties::new(),
            ),
        )
        .await?;
    }
    p.disconnect().await;
    let mut got: Vec<Vec<Publish>> = vec![Vec::new(); members.len()];
    let deadline = Instant::now() + ctx.response_timeout();
    while got.iter().map(Vec::len).sum::<usize>() < n && Instant::now() < deadline {
        for (s, mine) in members.iter_mut().zip(got.iter_mut()) {
            for m in publishes_before_barrier(s, v5("MQTT-3.12.4-1")).await? {
                ack_delivery(s, &m).await?;
                mine.push(m);
            }
        }
    }
    Ok(got)
}

fn shared_tests() -> Vec<TestCase> {
    vec![
        case(
            "shared.each-message-to-one-member",
            "A message matching a shared subscription is delivered to exactly one member of the group",
            &[v5("MQTT-4.8.2-1"), v5("MQTT-4.8.2-2")],
            &["mqtt.shared-subscriptions", "mqtt.qos1"],
            Control::new("the broker sends each PUBLISH twice", || {
                use hilt_net::interposer::{Action, Dir, Match, Rule};
                vec![Rule::new(
                    Dir::ToClient,
                    Match::kind("PUBLISH"),
                    Action::Duplicate,
                )]
            }),
            |ctx| async move {
                let topic = ctx.topic("shared");
                let filter = shared(&ctx, &topic);
                let mut members = Vec::new();
                for label in ["a", "b"] {
                    let (mut s, _) = client(&ctx, label, []).await?;
                    subscribed(
                        &mut s,
                        subscribe_packet(
                            1,
                            vec![sub(&filter, QoS::AtLeastOnce)],
                            Properties::new(),
                        ),
                    )
                    .await?;
                    members.push(s);
                }
                let n = 6;
                let got = spread(&ctx, &mut members, &topic, n).await?;
                let mut count: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
                for m in got.iter().flatten() {
                    *count.entry(m.payload.clone()).or_default() += 1;
                }
                for i in 0..n {
                    let key = format!("m{i}").into_bytes();
                    let c = count.get(&key).copied().unwrap_or(0);
                    ctx.ensure(c == 1, v5("MQTT-4.8.2-1"), || {
                        format!(
                            "message m{i} reached the shared group {c} times (per member: {:?})",
                            got.iter().map(Vec::len).collect::<Vec<_>>()
                        )
                    })?;
                }
                for s in members {
                    s.disconnect().await;
                }
                Ok(())
            },
        ),
        case(
            "shared.granted-qos-per-member",
            "Delivering on a shared subscription, the broker respects the QoS granted to the member that receives the message",
            &[v5("MQTT-4.8.2-3")],
            &["mqtt.shared-subscriptions", "mqtt.qos1"],
            controls::mutate_to_client(
                V5,
                "SUBACK",
                "the broker's SUBACK grants QoS 0 but it delivers at QoS 1",
                |p| {
                    if let Packet::SubAck(a) = p {
                        a.codes
                            .iter_mut()
                            .for_each(|c| *c = ReasonCode::GRANTED_QOS_0);
                    }
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("sharedqos");
                let filter = shared(&ctx, &topic);
                let mut members = Vec::new();
                let mut granted = Vec::new();
                for (label, qos) in [("q0", QoS::AtMostOnce), ("q1", QoS::AtLeastOnce)] {
                    let (mut s, _) = client(&ctx, label, []).await?;
                    let codes = subscribed(
                        &mut s,
                        subscribe_packet(1, vec![sub(&filter, qos)], Properties::new()),
                    )
                    .await?;
                    granted.push(codes[0].0);
                    members.push(s);
                }
                let got = spread(&ctx, &mut members, &topic, 4).await?;
                for (mine, g) in got.iter().zip(&granted) {
                    for m in mine {
                        ctx.ensure(m.qos.as_u8() == (*g).min(1), v5("MQTT-4.8.2-3"), || {
                            format!(
                                "a member granted QoS {g} received a QoS 1 message at QoS {}",
                                m.qos.as_u8()
                            )
                        })?;
                    }
                }
                for s in members {
                    s.disconnect().await;
                }
                Ok(())
            },
        ),
        case(
            "shared.no-retained-on-subscribe",
            "Subscribing to a shared subscription does not deliver the topic's retained message, while later messages are shared",
            &[v5("MQTT-4.8.2-1")],
            &["mqtt.shared-subscriptions", "mqtt.retain"],
            subscribes_changed(
                "the broker takes the shared subscription for an ordinary one",
                |s| {
                    for f in &mut s.filters {
                        if let Some(rest) = f.filter.strip_prefix("$share/")
                            && let Some((_, plain)) = rest.split_once('/')
                        {
                            f.filter = plain.to_owned();
                        }
                    }
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("sharedret");
                let mut p = retain_on(&ctx, &topic, b"kept").await?;
                let (mut s, _) = client(&ctx, "m", []).await?;
                subscribed(
                    &mut s,
                    subscribe_packet(
                        1,
                        vec![sub(&shared(&ctx, &topic), QoS::AtMostOnce)],
                        Properties::new(),
                    ),
                )
                .await?;
                no_delivery_of(&mut s, v5("MQTT-4.8.2-1"), b"kept", "retained messages are sent only for new non-shared subscriptions (§3.3.1.3), and this one is shared").await?;
                published(
                    &mut p,
                    message(&topic, b"live", QoS::AtMostOnce, None, Properties::new()),
                )
                .await?;
                delivery(&mut s, v5("MQTT-4.8.2-1"), b"live").await?;
                clear_retained(p, &topic).await?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "shared.no-local-is-a-protocol-error",
            "A SUBSCRIBE setting No Local on a shared subscription is a protocol error: the broker closes the connection",
            &[v5("MQTT-3.8.3-4"), v5("MQTT-4.13.1-1")],
            &["mqtt.shared-subscriptions"],
            subscribes_changed(
                "the client's No Local option is cleared before the broker sees it",
                |s| {
                    for f in &mut s.filters {
                        f.options.no_local = false;
                    }
                },
            ),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "nl", []).await?;
                let filter = shared(&ctx, &ctx.topic("nl"));
                s.send(&subscribe_packet(
                    1,
                    vec![sub_with(&filter, QoS::AtMostOnce, |o| o.no_local = true)],
                    Properties::new(),
                ))
                .await?;
                s.expect_close(
                    v5("MQTT-3.8.3-4"),
                    "a SUBSCRIBE set No Local on a shared subscription",
                )
                .await
            },
        ),
    ]
}

fn identifier_tests() -> Vec<TestCase> {
    vec![
        case(
            "subscription-identifier.delivered-with-message",
            "A message delivered because of a subscription made with a Subscription Identifier carries that identifier",
            &[v5("MQTT-3.3.4-3")],
            &[],
            deliveries_changed("the broker sends the wrong Subscription Identifier", |m| {
                remove_property(&mut m.properties, PropertyId::SubscriptionIdentifier);
                m.properties.push(Property::SubscriptionIdentifier(4242));
            }),
            |ctx| async move {
                let topic = ctx.topic("sid");
                let (mut s, _) = client(&ctx, "sid", []).await?;
                let props = Properties::new().with(Property::SubscriptionIdentifier(268_435_455));
                subscribed(
                    &mut s,
                    subscribe_packet(1, vec![sub(&topic, QoS::AtMostOnce)], props),
                )
                .await?;
                published(
                    &mut s,
                    message(&topic, b"x", QoS::AtMostOnce, None, Properties::new()),
                )
                .await?;
                let got = delivery(&mut s, v5("MQTT-4.5.0-1"), b"x").await?;
                let ids: Vec<u32> = got.properties.subscription_identifiers().collect();
                ctx.ensure(ids == [268_435_455], v5("MQTT-3.3.4-3"), || {
                    format!("subscribed with identifier 268435455 (the largest), the message carried {ids:?}")
                })?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "subscription-identifier.overlapping-subscriptions",
            "A message matching two subscriptions with identifiers carries both in one copy, or each copy carries its own",
            &[v5("MQTT-3.3.4-3"), v5("MQTT-3.3.4-4"), v5("MQTT-3.3.4-5")],
            &["mqtt.wildcards"],
            deliveries_changed(
                "the broker sends identifier 11 for both subscriptions",
                |m| {
                    if m.properties
                        .get(PropertyId::SubscriptionIdentifier)
                        .is_some()
                    {
                        remove_property(&mut m.properties, PropertyId::SubscriptionIdentifier);
                        m.properties.push(Property::SubscriptionIdentifier(11));
                    }
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("over/x");
                let wild = ctx.topic("over/+");
                let (mut s, _) = client(&ctx, "ov", []).await?;
                subscribed(
                    &mut s,
                    subscribe_packet(
                        1,
                        vec![sub(&topic, QoS::AtMostOnce)],
                        Properties::new().with(Property::SubscriptionIdentifier(11)),
                    ),
                )
                .await?;
                subscribed(
                    &mut s,
                    subscribe_packet(
                        2,
                        vec![sub(&wild, QoS::AtMostOnce)],
                        Properties::new().with(Property::SubscriptionIdentifier(12)),
                    ),
                )
                .await?;
                published(
                    &mut s,
                    message(&topic, b"both", QoS::AtMostOnce, None, Properties::new()),
                )
                .await?;
                let first = delivery(&mut s, v5("MQTT-4.5.0-1"), b"both").await?;
                let mut copies = vec![first];
                copies.extend(
                    publishes_before_barrier(&mut s, v5("MQTT-3.12.4-1"))
                        .await?
                        .into_iter()
                        .filter(|m| m.payload == b"both"),
                );
                let ids: Vec<Vec<u32>> = copies
                    .iter()
                    .map(|m| {
                        let mut v: Vec<u32> = m.properties.subscription_identifiers().collect();
                        v.sort_unstable();
                        v
                    })
                    .collect();
                match ids.as_slice() {
                    [one] => ctx.ensure(one == &[11, 12], v5("MQTT-3.3.4-4"), || {
                        format!("one copy for two subscriptions (ids 11, 12) carried {one:?}")
                    }),
                    [a, b] => {
                        let mut all = [a.clone(), b.clone()];
                        all.sort();
                        ctx.ensure(all == [vec![11], vec![12]], v5("MQTT-3.3.4-5"), || format!("two copies carried identifiers {a:?} and {b:?}, not 11 and 12 once each"))
                    }
                    more => Err(Failure::fail(
                        v5("MQTT-3.3.4-3"),
                        format!("{} copies arrived for two subscriptions", more.len()),
                    )),
                }?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "subscription-identifier.dropped-when-replaced-without",
            "Replacing a subscription by one without a Subscription Identifier removes the identifier from later messages",
            &[v5("MQTT-3.8.4-3")],
            &[],
            deliveries_changed(
                "the broker keeps sending the old Subscription Identifier",
                |m| {
                    remove_property(&mut m.properties, PropertyId::SubscriptionIdentifier);
                    m.properties.push(Property::SubscriptionIdentifier(5));
                },
            ),
            |ctx| async move {
                let topic = ctx.topic("sidr");
                let (mut s, _) = client(&ctx, "sr", []).await?;
                subscribed(
                    &mut s,
                    subscribe_packet(
                        1,
                        vec![sub(&topic, QoS::AtMostOnce)],
                        Properties::new().with(Property::SubscriptionIdentifier(5)),
                    ),
                )
                .await?;
                subscribed(
                    &mut s,
                    subscribe_packet(2, vec![sub(&topic, QoS::AtMostOnce)], Properties::new()),
                )
                .await?;
                published(
                    &mut s,
                    message(&topic, b"after", QoS::AtMostOnce, None, Properties::new()),
                )
                .await?;
                let got = delivery(&mut s, v5("MQTT-4.5.0-1"), b"after").await?;
                let ids: Vec<u32> = got.properties.subscription_identifiers().collect();
                ctx.ensure(ids.is_empty(), v5("MQTT-3.8.4-3"), || {
                    format!("the subscription was replaced by one without an identifier, yet the message carried {ids:?}")
                })?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "subscription-identifier.zero-is-a-protocol-error",
            "A SUBSCRIBE with Subscription Identifier 0 is a protocol error: the broker closes the connection",
            &[v5("MQTT-4.13.1-1")],
            &[],
            // 0x0b is the Subscription Identifier property; the topic is ASCII.
            bytes_replaced_to_server(
                "SUBSCRIBE",
                "the client's Subscription Identifier 0 reaches the broker as 1",
                &[0x0b, 0x00],
                &[0x0b, 0x01],
            ),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "s0", []).await?;
                let props = Properties::new().with(Property::SubscriptionIdentifier(0));
                s.send(&subscribe_packet(
                    1,
                    vec![sub(&ctx.topic("s0"), QoS::AtMostOnce)],
                    props,
                ))
                .await?;
                s.expect_close(
                    v5("MQTT-4.13.1-1"),
                    "a SUBSCRIBE carried Subscription Identifier 0",
                )
                .await
            },
        ),
    ]
}
