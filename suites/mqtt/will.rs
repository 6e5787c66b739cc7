//! Will messages: published when a connection ends without DISCONNECT (or, in 5.0, with
//! DISCONNECT 0x04), never after a normal DISCONNECT; their topic, payload, QoS, retain
//! flag and (5.0) properties as given; 5.0's Will Delay Interval.

use std::time::Duration;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::mqtt::{
    Connect, Disconnect, Packet, Properties, Property, PropertyId, Publish, QoS, ReasonCode,
    Version, Will,
};
use tokio::time::Instant;

use super::connect::{VERSIONS, case};
use super::controls::{self, Control};
use super::packets::{ack, connect, retained};
use super::session::{Next, Session, summarize};
use super::session_state::{
    TIMER_GRANULARITY, delivered, end_session, keeping, leave, subscribed, vanish,
};
use super::spec;
use super::{v5, v311};

/// The Will every test gives: binary payload (NUL and 0xFF included) so it is seen to
/// arrive byte for byte.
const PAYLOAD: &[u8] = b"\x00gone\xff";

fn will(topic: &str, qos: QoS, retain: bool) -> Will {
    Will {
        qos,
        retain,
        properties: Properties::default(),
        topic: topic.to_owned(),
        payload: PAYLOAD.to_vec(),
    }
}

fn with_will(c: Connect, w: Will) -> Connect {
    Connect { will: Some(w), ..c }
}

/// A connection subscribed to `topic`, to see the Will arrive.
async fn watcher(ctx: &Ctx, version: Version, topic: &str, qos: QoS) -> Result<Session, Failure> {
    let (mut w, _) = Session::connected(ctx, version, connect(&ctx.unique("w"))).await?;
    subscribed(&mut w, 1, topic, qos).await?;
    Ok(w)
}

/// Waits for the Will on `topic` and requires its topic and payload unchanged.
async fn will_arrives(w: &mut Session, rule: SpecRef, topic: &str) -> Result<Publish, Failure> {
    let m = delivered(w, rule, topic).await?;
    if m.payload != PAYLOAD {
        return Err(Failure::fail(
            rule,
            format!(
                "the Will arrived with payload {:?}, not {PAYLOAD:?}",
                m.payload
            ),
        ));
    }
    Ok(m)
}

/// Requires no PUBLISH on `topic` to reach `w` before `until`.
async fn no_will_until(
    w: &mut Session,
    rule: SpecRef,
    topic: &str,
    until: Instant,
    what: &str,
) -> Result<(), Failure> {
    loop {
        match w
            .next(until.saturating_duration_since(Instant::now()))
            .await?
        {
            Next::Silent => return Ok(()),
            Next::Packet(Packet::Publish(m)) if m.topic == topic => {
                return Err(Failure::fail(
                    rule,
                    format!(
                        "{what}, yet the broker published {}",
                        summarize(&Packet::Publish(m), w.version)
                    ),
                ));
            }
            Next::Packet(_) => {}
            Next::Closed => return Err(Failure::error("the watching connection was closed")),
        }
    }
}

/// The control that changes the Will of every CONNECT that has one.
fn will_becomes(
    version: Version,
    what: &str,
    change: impl Fn(&mut Will) + Send + Sync + Clone + 'static,
) -> Control {
    controls::mutate_to_server(version, "CONNECT", what, move |p| {
        if let Packet::Connect(Connect { will: Some(w), .. }) = p {
            change(w);
        }
    })
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for version in VERSIONS {
        let r = move |v5_id, v311_id| spec(version, v5_id, v311_id);

        let published = r("MQTT-3.1.2-8", "MQTT-3.1.2-8");
        let not_retained = r("MQTT-3.1.2-14", "MQTT-3.1.2-16");
        let refs = match version {
            Version::V5 => vec![v5("MQTT-3.1.2-7"), v5("MQTT-3.1.2-8"), v5("MQTT-3.1.2-14")],
            Version::V311 => vec![v311("MQTT-3.1.2-8"), v311("MQTT-3.1.2-16")],
        };
        t.push(
            case(
                version,
                "will",
                "published-on-abnormal-close",
                "When a connection ends without DISCONNECT the broker publishes its Will, topic and payload unchanged, not retained",
                move |ctx| async move {
                    let topic = ctx.topic("will");
                    let mut w = watcher(&ctx, version, &topic, QoS::AtMostOnce).await?;
                    let (a, _) = Session::connected(&ctx, version, with_will(connect(&ctx.unique("a")), will(&topic, QoS::AtMostOnce, false))).await?;
                    vanish(a).await;
                    will_arrives(&mut w, published, &topic).await?;
                    // Retain 0: a later subscriber finds nothing stored.
                    let (mut late, _) = Session::connected(&ctx, version, connect(&ctx.unique("l"))).await?;
                    late.send(&super::packets::subscribe(1, &topic, QoS::AtMostOnce)).await?;
                    let got = late.barrier(not_retained).await?;
                    if let Some(p) = got.iter().find(|p| matches!(p, Packet::Publish(_))) {
                        return Err(Failure::fail(
                            not_retained,
                            format!("a Will with Will Retain 0 was stored: a new subscriber got {}", summarize(p, version)),
                        ));
                    }
                    leave(late).await;
                    leave(w).await;
                    Ok(())
                },
            )
            .covers(&refs)
            .needs(&["mqtt.will"])
            .control(will_becomes(version, "the broker publishes the Will on another topic", |w| w.topic.push_str("/elsewhere"))),
        );

        let discarded = r("MQTT-3.14.4-3", "MQTT-3.14.4-3");
        let refs = match version {
            Version::V5 => vec![v5("MQTT-3.1.2-10"), v5("MQTT-3.14.4-3")],
            Version::V311 => vec![v311("MQTT-3.1.2-10"), v311("MQTT-3.14.4-3")],
        };
        t.push(
            case(
                version,
                "will",
                "not-published-after-disconnect",
                "A connection ended by DISCONNECT (reason 0x00) has its Will discarded, not published",
                move |ctx| async move {
                    let topic = ctx.topic("will");
                    let mut w = watcher(&ctx, version, &topic, QoS::AtMostOnce).await?;
                    let (a, _) = Session::connected(&ctx, version, with_will(connect(&ctx.unique("a")), will(&topic, QoS::AtMostOnce, false))).await?;
                    leave(a).await;
                    let until = Instant::now() + ctx.response_timeout();
                    no_will_until(&mut w, discarded, &topic, until, "the client ended with DISCONNECT").await?;
                    leave(w).await;
                    Ok(())
                },
            )
            .covers(&refs)
            .needs(&["mqtt.will"])
            .control(controls::drop_to_server("DISCONNECT", "the broker never sees the DISCONNECT")),
        );

        let retained_rule = r("MQTT-3.1.2-15", "MQTT-3.1.2-17");
        t.push(
            case(
                version,
                "will",
                "will-retain-publishes-retained",
                "A Will with Will Retain 1 is published as a retained message",
                move |ctx| async move {
                    let topic = ctx.topic("will");
                    let mut w = watcher(&ctx, version, &topic, QoS::AtMostOnce).await?;
                    let (a, _) = Session::connected(&ctx, version, with_will(connect(&ctx.unique("a")), will(&topic, QoS::AtMostOnce, true))).await?;
                    vanish(a).await;
                    will_arrives(&mut w, retained_rule, &topic).await?;
                    let (mut late, _) = Session::connected(&ctx, version, connect(&ctx.unique("l"))).await?;
                    late.send(&super::packets::subscribe(1, &topic, QoS::AtMostOnce)).await?;
                    let got = late.barrier(retained_rule).await?;
                    let stored = got.iter().any(|p| matches!(p, Packet::Publish(m) if m.topic == topic && m.retain && m.payload == PAYLOAD));
                    // Clear the retained Will either way.
                    late.send(&retained(&topic, b"", QoS::AtMostOnce, None)).await?;
                    late.barrier(retained_rule).await?;
                    leave(late).await;
                    leave(w).await;
                    ctx.ensure(stored, retained_rule, || {
                        format!("a new subscriber to {topic} got no retained Will (before PINGRESP it got {} packets)", got.len())
                    })
                },
            )
            .covers(&[retained_rule])
            .needs(&["mqtt.will", "mqtt.retain"])
            .control(will_becomes(version, "the broker sees Will Retain 0", |w| w.retain = false)),
        );

        let qos_rule = r("MQTT-3.8.4-8", "MQTT-3.8.4-6");
        t.push(
            case(
                version,
                "will",
                "will-qos-kept",
                "A QoS 2 Will reaches a QoS 2 subscriber at QoS 2",
                move |ctx| async move {
                    let topic = ctx.topic("will");
                    let mut w = watcher(&ctx, version, &topic, QoS::ExactlyOnce).await?;
                    let (a, _) = Session::connected(
                        &ctx,
                        version,
                        with_will(
                            connect(&ctx.unique("a")),
                            will(&topic, QoS::ExactlyOnce, false),
                        ),
                    )
                    .await?;
                    vanish(a).await;
                    let m = will_arrives(&mut w, qos_rule, &topic).await?;
                    ctx.ensure(m.qos == QoS::ExactlyOnce, qos_rule, || {
                        format!("a QoS 2 Will reached a QoS 2 subscription at {:?}", m.qos)
                    })?;
                    let pid = m.packet_id.unwrap_or_default();
                    w.send(&Packet::PubRec(ack(pid))).await?;
                    let rel = r("MQTT-4.3.3-4", "MQTT-4.3.3-1");
                    w.wait_for(rel, "PUBREL", w.response_timeout(), |p| {
                        matches!(p, Packet::PubRel(a) if a.packet_id == pid).then_some(())
                    })
                    .await?;
                    w.send(&Packet::PubComp(ack(pid))).await?;
                    leave(w).await;
                    Ok(())
                },
            )
            .covers(&[qos_rule])
            .needs(&["mqtt.will", "mqtt.qos2"])
            .control(will_becomes(version, "the broker sees Will QoS 0", |w| {
                w.qos = QoS::AtMostOnce
            })),
        );
    }
    t.push(v311_no_will_without_flag());
    t.extend(v5_tests());
    t
}

/// The Will topic a test derives from the client id, so that a control (which cannot
/// know the test's topics) can give that client a Will of its own.
fn will_topic_of(client_id: &str) -> String {
    format!("hilt/{client_id}/will")
}

/// 3.1.1: a connection without the Will Flag has no Will to publish.
fn v311_no_will_without_flag() -> TestCase {
    let version = Version::V311;
    let rule = v311("MQTT-3.1.2-12");
    case(
        version,
        "will",
        "no-will-without-will-flag",
        "A connection with Will Flag 0 that ends without DISCONNECT publishes no Will",
        move |ctx| async move {
            let id = ctx.unique("a");
            let topic = will_topic_of(&id);
            let mut w = watcher(&ctx, version, &topic, QoS::AtMostOnce).await?;
            let (a, _) = Session::connected(&ctx, version, connect(&id)).await?;
            vanish(a).await;
            let until = Instant::now() + ctx.response_timeout();
            no_will_until(&mut w, rule, &topic, until, "the client had no Will").await?;
            leave(w).await;
            Ok(())
        },
    )
    .covers(&[rule])
    .needs(&["mqtt.will"])
    .control(controls::mutate_to_server(
        version,
        "CONNECT",
        "the broker invents a Will for clients without one",
        |p| {
            if let Packet::Connect(c) = p
                && c.will.is_none()
            {
                c.will = Some(will(&will_topic_of(&c.client_id), QoS::AtMostOnce, false));
            }
        },
    ))
}

/// A CONNECT whose session outlives the connection by 10 s, with a Will delayed `delay` s.
fn delayed_will(id: &str, topic: &str, delay: u32) -> Connect {
    let mut w = will(topic, QoS::AtMostOnce, false);
    w.properties.push(Property::WillDelayInterval(delay));
    with_will(keeping(id, 10), w)
}

fn v5_tests() -> Vec<TestCase> {
    let version = Version::V5;
    let mut t = Vec::new();

    let published = v5("MQTT-3.1.2-8");
    t.push(
        case(
            version,
            "will",
            "disconnect-with-will-message-publishes-will",
            "DISCONNECT with reason 0x04 (Disconnect with Will Message) makes the broker publish the Will",
            move |ctx| async move {
                let topic = ctx.topic("will");
                let mut w = watcher(&ctx, version, &topic, QoS::AtMostOnce).await?;
                let (mut a, _) = Session::connected(&ctx, version, with_will(connect(&ctx.unique("a")), will(&topic, QoS::AtMostOnce, false))).await?;
                a.send(&Packet::Disconnect(Disconnect {
                    code: ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
                    properties: Properties::default(),
                }))
                .await?;
                vanish(a).await;
                will_arrives(&mut w, published, &topic).await?;
                leave(w).await;
                Ok(())
            },
        )
        .covers(&[published])
        .needs(&["mqtt.will"])
        .control(controls::mutate_to_server(version, "DISCONNECT", "the broker sees a normal DISCONNECT (0x00)", |p| {
            if let Packet::Disconnect(d) = p {
                d.code = ReasonCode::NORMAL_DISCONNECTION;
            }
        })),
    );

    let no_delay = || {
        will_becomes(
            Version::V5,
            "the broker ignores the Will Delay Interval",
            |w| {
                w.properties
                    .0
                    .retain(|p| p.id() != PropertyId::WillDelayInterval)
            },
        )
    };
    t.push(
        case(
            version,
            "will",
            "will-delay-interval-delays-will",
            "A Will with a Will Delay Interval of 1 s is published after that delay, not at once",
            move |ctx| async move {
                let (id, topic) = (ctx.unique("a"), ctx.topic("will"));
                let mut w = watcher(&ctx, version, &topic, QoS::AtMostOnce).await?;
                let (a, _) =
                    Session::connected(&ctx, version, delayed_will(&id, &topic, 1)).await?;
                let gone = Instant::now();
                vanish(a).await;
                // The broker saw the close after `gone`, so the Will is due a second after.
                no_will_until(
                    &mut w,
                    published,
                    &topic,
                    gone + Duration::from_secs(1),
                    "the Will Delay Interval of 1 s had not passed",
                )
                .await?;
                let m = w
                    .wait_for(
                        published,
                        "the delayed Will",
                        ctx.response_timeout() + TIMER_GRANULARITY,
                        |p| match p {
                            Packet::Publish(m) if m.topic == topic => Some(m.clone()),
                            _ => None,
                        },
                    )
                    .await?;
                ctx.ensure(m.payload == PAYLOAD, published, || {
                    format!("the Will arrived with payload {:?}", m.payload)
                })?;
                leave(w).await;
                end_session(&ctx, version, &id).await;
                Ok(())
            },
        )
        .covers(&[published])
        .needs(&["mqtt.will"])
        .timeout(Duration::from_secs(15))
        .control(no_delay()),
    );

    let cancelled = v5("MQTT-3.1.3-9");
    t.push(
        case(
            version,
            "will",
            "reconnect-within-will-delay-cancels-will",
            "A client that resumes its session within the Will Delay Interval cancels its Will",
            move |ctx| async move {
                let (id, topic) = (ctx.unique("a"), ctx.topic("will"));
                let mut w = watcher(&ctx, version, &topic, QoS::AtMostOnce).await?;
                let (a, _) =
                    Session::connected(&ctx, version, delayed_will(&id, &topic, 1)).await?;
                let gone = Instant::now();
                vanish(a).await;
                let (back, _) = Session::connected(&ctx, version, keeping(&id, 10)).await?;
                let until = gone + Duration::from_secs(1) + ctx.response_timeout();
                no_will_until(
                    &mut w,
                    cancelled,
                    &topic,
                    until,
                    "the client came back within the Will Delay Interval",
                )
                .await?;
                leave(back).await;
                leave(w).await;
                end_session(&ctx, version, &id).await;
                Ok(())
            },
        )
        .covers(&[cancelled])
        .needs(&["mqtt.will"])
        .timeout(Duration::from_secs(15))
        .control(no_delay()),
    );

    // Will Properties travel with the Will as they would with any PUBLISH.
    let order = v5("MQTT-3.1.3-10");
    let refs = [
        order,
        v5("MQTT-3.3.2-4"),
        v5("MQTT-3.3.2-15"),
        v5("MQTT-3.3.2-16"),
        v5("MQTT-3.3.2-17"),
        v5("MQTT-3.3.2-18"),
        v5("MQTT-3.3.2-20"),
    ];
    t.push(
        case(
            version,
            "will",
            "will-properties-forwarded",
            "The Will is published with its Payload Format Indicator, Content Type, Response Topic, Correlation Data and User Properties, in order",
            move |ctx| async move {
                let topic = ctx.topic("will");
                let single = [
                    (Property::PayloadFormatIndicator(1), v5("MQTT-3.3.2-4")),
                    (Property::ContentType("text/plain; charset=utf-8".into()), v5("MQTT-3.3.2-20")),
                    (Property::ResponseTopic(format!("{topic}/reply")), v5("MQTT-3.3.2-15")),
                    (Property::CorrelationData(vec![0, 1, 2, 0xff]), v5("MQTT-3.3.2-16")),
                ];
                // A repeated name, out of alphabetical order: any reordering shows.
                let users = [("k", "1"), ("j", "2"), ("k", "3")];
                let mut wl = will(&topic, QoS::AtMostOnce, false);
                wl.payload = b"gone".to_vec();
                wl.properties = Properties(single.iter().map(|(p, _)| p.clone()).collect());
                for (k, v) in users {
                    wl.properties.push(Property::UserProperty(k.into(), v.into()));
                }
                let mut w = watcher(&ctx, version, &topic, QoS::AtMostOnce).await?;
                let (a, _) = Session::connected(&ctx, version, with_will(connect(&ctx.unique("a")), wl)).await?;
                vanish(a).await;
                let m = delivered(&mut w, v5("MQTT-3.1.2-8"), &topic).await?;
                for (p, rule) in &single {
                    let got = m.properties.get(p.id());
                    ctx.ensure(got == Some(p), *rule, || format!("the Will's {p:?} arrived as {got:?}"))?;
                }
                let got: Vec<(&str, &str)> = m.properties.user_properties().collect();
                let mut sorted = got.clone();
                sorted.sort_unstable();
                let mut want_sorted = users.to_vec();
                want_sorted.sort_unstable();
                ctx.ensure(sorted == want_sorted, v5("MQTT-3.3.2-17"), || format!("the Will's User Properties arrived as {got:?}, sent as {users:?}"))?;
                ctx.ensure(got == users, order, || format!("the Will's User Properties arrived in the order {got:?}, sent as {users:?}"))?;
                leave(w).await;
                Ok(())
            },
        )
        .covers(&refs)
        .needs(&["mqtt.will"])
        .control(controls::mutate_to_client(version, "PUBLISH", "the broker reorders User Properties", |p| {
            if let Packet::Publish(m) = p {
                m.properties.0.reverse();
            }
        })),
    );
    t
}
