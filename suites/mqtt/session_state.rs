//! Session state: what Clean Start (Clean Session) and the Session Expiry Interval keep
//! or discard, Session Present, messages queued for a client while it is away, a session
//! taken over by a new connection, and sessions surviving a broker restart.
//!
//! Also the helpers the lifecycle files share: joining, leaving and vanishing, a
//! subscription the test relies on, a delivery it waits for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::mqtt::{
    Connect, Packet, Properties, Property, PropertyId, Publish, QoS, ReasonCode, Version,
};
use tokio::time::Instant;

use super::connect::{VERSIONS, case};
use super::controls::{self, Control};
use super::packets::{ack, connect, disconnect, publish, subscribe};
use super::session::{Next, Session, summarize};
use super::spec;
use super::{v5, v311};

/// The slack given to the broker's timers (session expiry, will delay) beyond the
/// interval itself and the response time: brokers commonly count in whole seconds.
pub(super) const TIMER_GRANULARITY: Duration = Duration::from_secs(1);

/// A CONNECT for a session that outlives its connection: Clean Start 0 and, in 5.0, a
/// Session Expiry Interval of `expiry` seconds (3.1.1 sessions never expire).
pub(super) fn keeping(id: &str, expiry: u32) -> Connect {
    Connect {
        clean_start: false,
        properties: Properties::default().with(Property::SessionExpiryInterval(expiry)),
        ..connect(id)
    }
}

/// Subscribes on `s` and requires a SUBACK granting a QoS: a refusal is not what the
/// test is about, so it is an error of its premise.
pub(super) async fn subscribed(
    s: &mut Session,
    packet_id: u16,
    filter: &str,
    qos: QoS,
) -> Result<(), Failure> {
    s.send(&subscribe(packet_id, filter, qos)).await?;
    let rule = spec(s.version, "MQTT-3.8.4-1", "MQTT-3.8.4-1");
    let codes = s
        .wait_for(rule, "SUBACK", s.response_timeout(), |p| match p {
            Packet::SubAck(a) if a.packet_id == packet_id => Some(a.codes.clone()),
            _ => None,
        })
        .await?;
    match codes.first() {
        Some(c) if c.0 <= 2 => Ok(()),
        other => Err(Failure::error(format!(
            "the broker refused the subscription to {filter}: {other:?}"
        ))),
    }
}

/// Waits (the response deadline) for a PUBLISH on `topic`; other packets stay queued.
pub(super) async fn delivered(
    s: &mut Session,
    rule: SpecRef,
    topic: &str,
) -> Result<Publish, Failure> {
    let within = s.response_timeout();
    s.wait_for(
        rule,
        &format!("a PUBLISH on {topic}"),
        within,
        |p| match p {
            Packet::Publish(m) if m.topic == topic => Some(m.clone()),
            _ => None,
        },
    )
    .await
}

/// Waits until the broker has closed the connection (or the response deadline passed),
/// so that a later connection with the same client id is not a takeover of this one.
async fn closed(mut s: Session) {
    let within = s.response_timeout();
    let until = Instant::now() + within;
    while let Ok(Next::Packet(_)) = s
        .next(until.saturating_duration_since(Instant::now()))
        .await
    {}
}

/// Sends DISCONNECT, closes, and waits for the broker to close its side.
pub(super) async fn leave(mut s: Session) {
    let _ = s.send(&disconnect()).await;
    s.half_close().await;
    closed(s).await;
}

/// Closes the connection without DISCONNECT (TCP FIN): the abnormal end that publishes
/// a Will. Waits for the broker to close its side.
pub(super) async fn vanish(mut s: Session) {
    s.half_close().await;
    closed(s).await;
}

/// Publishes at QoS 0 from a connection of its own and returns once the broker has
/// handled the PUBLISH (a PINGREQ after it was answered).
pub(super) async fn publish_from(
    ctx: &Ctx,
    version: Version,
    topic: &str,
    payload: &[u8],
) -> Result<(), Failure> {
    let (mut p, _) = Session::connected(ctx, version, connect(&ctx.unique("p"))).await?;
    p.send(&publish(topic, payload, QoS::AtMostOnce, None))
        .await?;
    p.barrier(spec(version, "MQTT-3.12.4-1", "MQTT-3.12.4-1"))
        .await?;
    leave(p).await;
    Ok(())
}

/// Ends whatever session `id` has on the broker (a clean start that expires at
/// disconnect), so none outlives the test.
pub(super) async fn end_session(ctx: &Ctx, version: Version, id: &str) {
    if let Ok((s, _)) = Session::connected(ctx, version, connect(id)).await {
        leave(s).await;
    }
}

/// Requires the broker to send no PUBLISH on `s` before answering a PINGREQ.
async fn nothing_delivered(s: &mut Session, rule: SpecRef, what: &str) -> Result<(), Failure> {
    let before = s.barrier(rule).await?;
    match before.iter().find(|p| matches!(p, Packet::Publish(_))) {
        Some(p) => Err(Failure::fail(
            rule,
            format!(
                "{what}, yet the broker delivered {}",
                summarize(p, s.version)
            ),
        )),
        None => Ok(()),
    }
}

/// The control that flips Session Present in every CONNACK to `present`.
fn session_present_is(version: Version, present: bool, what: &str) -> Control {
    controls::mutate_to_client(version, "CONNACK", what, move |p| {
        if let Packet::ConnAck(a) = p {
            a.session_present = present;
        }
    })
}

/// The control that rewrites every CONNECT's Session Expiry Interval (adding one).
fn session_expiry_becomes(expiry: u32, what: &str) -> Control {
    controls::mutate_to_server(Version::V5, "CONNECT", what, move |p| {
        if let Packet::Connect(c) = p {
            c.properties
                .0
                .retain(|p| p.id() != PropertyId::SessionExpiryInterval);
            c.properties.push(Property::SessionExpiryInterval(expiry));
        }
    })
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for version in VERSIONS {
        let r = move |v5_id, v311_id| spec(version, v5_id, v311_id);

        let new_rule = r("MQTT-3.2.2-3", "MQTT-3.2.2-3");
        let present_rule = r("MQTT-3.2.2-3", "MQTT-3.2.2-2");
        let resume_rule = r("MQTT-3.1.2-5", "MQTT-3.1.2-4");
        let refs = match version {
            Version::V5 => vec![
                v5("MQTT-3.1.2-5"),
                v5("MQTT-3.1.2-6"),
                v5("MQTT-3.2.2-3"),
                v5("MQTT-3.1.2-23"),
                v5("MQTT-3.1.3-2"),
            ],
            Version::V311 => vec![
                v311("MQTT-3.1.2-4"),
                v311("MQTT-3.2.2-2"),
                v311("MQTT-3.2.2-3"),
                v311("MQTT-3.1.3-2"),
                v311("MQTT-4.1.0-1"),
            ],
        };
        t.push(
            case(
                version,
                "session",
                "resume-keeps-subscriptions",
                "A session kept after disconnect is resumed with Session Present 1 and its subscriptions still deliver",
                move |ctx| async move {
                    let (id, topic) = (ctx.unique("s"), ctx.topic("kept"));
                    let (mut s, ack) = Session::connected(&ctx, version, keeping(&id, 60)).await?;
                    ctx.ensure(!ack.session_present, new_rule, || "Session Present is 1 for a client id never seen before".into())?;
                    subscribed(&mut s, 1, &topic, QoS::AtMostOnce).await?;
                    leave(s).await;
                    let (mut s, ack) = Session::connected(&ctx, version, keeping(&id, 60)).await?;
                    ctx.ensure(ack.session_present, present_rule, || "Session Present is 0 when resuming a kept session".into())?;
                    publish_from(&ctx, version, &topic, b"after resume").await?;
                    delivered(&mut s, resume_rule, &topic).await?;
                    leave(s).await;
                    end_session(&ctx, version, &id).await;
                    Ok(())
                },
            )
            .covers(&refs)
            .control(session_present_is(version, false, "the broker says it kept no session")),
        );

        let queued_rule = r("MQTT-4.5.0-1", "MQTT-3.1.2-5");
        let refs = match version {
            Version::V5 => vec![v5("MQTT-4.5.0-1"), v5("MQTT-3.1.2-23")],
            Version::V311 => vec![v311("MQTT-3.1.2-5"), v311("MQTT-4.5.0-1")],
        };
        t.push(
            case(
                version,
                "session",
                "queued-messages-delivered-on-resume",
                "QoS 1 and QoS 2 messages published while a kept session is disconnected are delivered when it resumes",
                move |ctx| async move {
                    let (id, topic) = (ctx.unique("s"), ctx.topic("queued"));
                    let (mut s, _) = Session::connected(&ctx, version, keeping(&id, 60)).await?;
                    subscribed(&mut s, 1, &topic, QoS::ExactlyOnce).await?;
                    leave(s).await;

                    let (mut p, _) = Session::connected(&ctx, version, connect(&ctx.unique("p"))).await?;
                    let acked = spec(version, "MQTT-3.3.4-1", "MQTT-3.3.4-1");
                    p.send(&publish(&topic, b"one", QoS::AtLeastOnce, Some(1))).await?;
                    p.expect(acked, "PUBACK", |m| matches!(m, Packet::PubAck(a) if a.packet_id == 1).then_some(())).await?;
                    p.send(&publish(&topic, b"two", QoS::ExactlyOnce, Some(2))).await?;
                    p.expect(acked, "PUBREC", |m| matches!(m, Packet::PubRec(a) if a.packet_id == 2).then_some(())).await?;
                    p.send(&Packet::PubRel(ack(2))).await?;
                    p.expect(acked, "PUBCOMP", |m| matches!(m, Packet::PubComp(a) if a.packet_id == 2).then_some(())).await?;
                    leave(p).await;

                    let (mut s, _) = Session::connected(&ctx, version, keeping(&id, 60)).await?;
                    let mut missing = vec![(b"one".to_vec(), QoS::AtLeastOnce), (b"two".to_vec(), QoS::ExactlyOnce)];
                    while !missing.is_empty() {
                        let m = delivered(&mut s, queued_rule, &topic).await.map_err(|_| {
                            Failure::fail(queued_rule, format!("messages published while the session was away never came: {missing:?}"))
                        })?;
                        let Some(at) = missing.iter().position(|(payload, _)| *payload == m.payload) else {
                            continue;
                        };
                        let (_, qos) = missing.remove(at);
                        ctx.ensure(m.qos == qos, queued_rule, || format!("a message published at {qos:?} came at {:?}", m.qos))?;
                        let pid = m.packet_id.unwrap_or_default();
                        match m.qos {
                            QoS::AtLeastOnce => s.send(&Packet::PubAck(ack(pid))).await?,
                            QoS::ExactlyOnce => {
                                s.send(&Packet::PubRec(ack(pid))).await?;
                                s.wait_for(acked, "PUBREL", s.response_timeout(), |m| matches!(m, Packet::PubRel(a) if a.packet_id == pid).then_some(()))
                                    .await?;
                                s.send(&Packet::PubComp(ack(pid))).await?;
                            }
                            QoS::AtMostOnce => {}
                        }
                    }
                    leave(s).await;
                    end_session(&ctx, version, &id).await;
                    Ok(())
                },
            )
            .covers(&refs)
            .needs(&["mqtt.qos1", "mqtt.qos2"])
            .control(controls::drop_to_client("PUBLISH", "the broker loses what it queued for the session")),
        );

        let clean_sp_rule = r("MQTT-3.2.2-2", "MQTT-3.2.2-1");
        let discard_rule = r("MQTT-3.1.2-4", "MQTT-3.1.2-6");
        let refs = match version {
            Version::V5 => vec![v5("MQTT-3.1.2-4"), v5("MQTT-3.1.4-4"), v5("MQTT-3.2.2-2")],
            Version::V311 => vec![
                v311("MQTT-3.1.2-6"),
                v311("MQTT-3.1.4-3"),
                v311("MQTT-3.2.2-1"),
            ],
        };
        t.push(
            case(
                version,
                "session",
                "clean-start-discards-session",
                "A clean start discards the kept session: Session Present 0, its subscriptions gone, never resumed later",
                move |ctx| async move {
                    let (id, topic) = (ctx.unique("s"), ctx.topic("discarded"));
                    let (mut s, _) = Session::connected(&ctx, version, keeping(&id, 60)).await?;
                    subscribed(&mut s, 1, &topic, QoS::AtMostOnce).await?;
                    leave(s).await;
                    let (mut s, ack) = Session::connected(&ctx, version, connect(&id)).await?;
                    ctx.ensure(!ack.session_present, clean_sp_rule, || "Session Present is 1 after a clean start".into())?;
                    publish_from(&ctx, version, &topic, b"to a discarded subscription").await?;
                    nothing_delivered(&mut s, discard_rule, "the clean start should have discarded the subscription").await?;
                    leave(s).await;
                    let (s, ack) = Session::connected(&ctx, version, keeping(&id, 0)).await?;
                    ctx.ensure(!ack.session_present, discard_rule, || "the session discarded by the clean start was resumed later".into())?;
                    leave(s).await;
                    end_session(&ctx, version, &id).await;
                    Ok(())
                },
            )
            .covers(&refs)
            .control(controls::mutate_to_server(version, "CONNECT", "the broker sees no clean start", |p| {
                if let Packet::Connect(c) = p {
                    c.clean_start = false;
                }
            })),
        );

        // Two connections with one client id: the broker keeps the newer.
        let takeover_rule = r("MQTT-3.1.4-3", "MQTT-3.1.4-2");
        t.push(
            case(
                version,
                "session",
                "takeover-closes-old-connection",
                match version {
                    Version::V5 => "A new connection with a connected client id makes the broker close the old one (DISCONNECT 0x8E at most)",
                    Version::V311 => "A new connection with a connected client id makes the broker close the old one",
                },
                move |ctx| async move {
                    let id = ctx.unique("s");
                    let (mut old, _) = Session::connected(&ctx, version, connect(&id)).await?;
                    let (mut new, _) = Session::connected(&ctx, version, connect(&id)).await?;
                    loop {
                        match old.next(ctx.response_timeout()).await? {
                            Next::Closed => break,
                            Next::Packet(Packet::Disconnect(d)) if version == Version::V5 => {
                                ctx.ensure(d.code == ReasonCode::SESSION_TAKEN_OVER, takeover_rule, || {
                                    format!("the old connection got DISCONNECT {:#04x}, not 0x8E (Session taken over)", d.code.0)
                                })?;
                            }
                            Next::Packet(p) => {
                                return Err(Failure::fail(
                                    takeover_rule,
                                    format!("the old connection got {} instead of being closed", summarize(&p, version)),
                                ))
                            }
                            Next::Silent => {
                                return Err(Failure::fail(takeover_rule, "the old connection is still open after a new one took its client id"))
                            }
                        }
                    }
                    new.barrier(takeover_rule).await?;
                    leave(new).await;
                    Ok(())
                },
            )
            .covers(&[takeover_rule])
            .control({
                // Every CONNECT gets a client id of its own: no two connections share one.
                let n = Arc::new(AtomicU32::new(0));
                controls::mutate_to_server(version, "CONNECT", "the broker treats each connection as a different client", move |p| {
                    if let Packet::Connect(c) = p {
                        c.client_id = format!("{}x{}", c.client_id, n.fetch_add(1, Ordering::Relaxed));
                    }
                })
            }),
        );

        // Sessions outlive the broker's process when it declares persistence.
        let persisted_rule = r("MQTT-3.1.2-23", "MQTT-3.1.2-4");
        let refs = match version {
            Version::V5 => vec![v5("MQTT-3.1.2-23")],
            Version::V311 => vec![v311("MQTT-3.1.2-4"), v311("MQTT-3.1.2-5")],
        };
        t.push(
            case(
                version,
                "session",
                "session-survives-broker-restart",
                "A kept session, its subscription and its queued QoS 1 message survive a restart of the broker",
                move |ctx| async move {
                    let (id, topic) = (ctx.unique("s"), ctx.topic("restart"));
                    let (mut s, _) = Session::connected(&ctx, version, keeping(&id, 300)).await?;
                    subscribed(&mut s, 1, &topic, QoS::AtLeastOnce).await?;
                    leave(s).await;
                    let (mut p, _) = Session::connected(&ctx, version, connect(&ctx.unique("p"))).await?;
                    p.send(&publish(&topic, b"before restart", QoS::AtLeastOnce, Some(1))).await?;
                    let acked = spec(version, "MQTT-3.3.4-1", "MQTT-3.3.4-1");
                    p.expect(acked, "PUBACK", |m| matches!(m, Packet::PubAck(_)).then_some(())).await?;
                    leave(p).await;

                    ctx.restart_target().await?;

                    let (mut s, connack) = Session::connected(&ctx, version, keeping(&id, 300)).await?;
                    ctx.ensure(connack.session_present, persisted_rule, || "after a restart the kept session is gone (Session Present 0)".into())?;
                    let m = delivered(&mut s, persisted_rule, &topic).await?;
                    ctx.ensure(m.payload == b"before restart", persisted_rule, || "the message queued before the restart was not delivered".into())?;
                    if let Some(pid) = m.packet_id {
                        s.send(&Packet::PubAck(ack(pid))).await?;
                    }
                    publish_from(&ctx, version, &topic, b"after restart").await?;
                    delivered(&mut s, persisted_rule, &topic).await?;
                    leave(s).await;
                    end_session(&ctx, version, &id).await;
                    Ok(())
                },
            )
            .covers(&refs)
            .needs(&["mqtt.persistence", "mqtt.qos1"])
            .exclusive()
            .timeout(Duration::from_secs(60))
            .control(session_present_is(version, false, "the broker forgets sessions when it restarts")),
        );
    }
    t.extend(v5_session_expiry());
    t
}

/// 5.0: the Session Expiry Interval decides how long a session outlives its connection.
fn v5_session_expiry() -> Vec<TestCase> {
    let version = Version::V5;
    let gone = v5("MQTT-4.1.0-2");
    let mut t = Vec::new();
    t.push(
        case(
            version,
            "session",
            "expiry-zero-ends-session-at-disconnect",
            "Without a Session Expiry Interval the session ends with the connection: a Clean Start 0 reconnect finds none",
            move |ctx| async move {
                let (id, topic) = (ctx.unique("s"), ctx.topic("once"));
                let transient = Connect {
                    clean_start: false,
                    ..connect(&id)
                };
                let (mut s, _) = Session::connected(&ctx, version, transient.clone()).await?;
                subscribed(&mut s, 1, &topic, QoS::AtMostOnce).await?;
                leave(s).await;
                let (s, ack) = Session::connected(&ctx, version, transient).await?;
                ctx.ensure(!ack.session_present, gone, || "a session with no Session Expiry Interval outlived its connection".into())?;
                leave(s).await;
                end_session(&ctx, version, &id).await;
                Ok(())
            },
        )
        .covers(&[gone, v5("MQTT-3.2.2-3")])
        .control(session_expiry_becomes(60, "the broker keeps sessions for 60 s")),
    );
    t.push(
        case(
            version,
            "session",
            "expired-session-discarded",
            "A session whose Session Expiry Interval (1 s) has passed since disconnect is gone",
            move |ctx| async move {
                let (id, topic) = (ctx.unique("s"), ctx.topic("expiring"));
                let (mut s, _) = Session::connected(&ctx, version, keeping(&id, 1)).await?;
                subscribed(&mut s, 1, &topic, QoS::AtMostOnce).await?;
                leave(s).await;
                // The interval, and the broker's response time to act on it, pass on a
                // connection that must meanwhile stay open and quiet.
                let (mut watch, _) =
                    Session::connected(&ctx, version, connect(&ctx.unique("w"))).await?;
                match watch
                    .next(Duration::from_secs(1) + TIMER_GRANULARITY + ctx.response_timeout())
                    .await?
                {
                    Next::Silent => {}
                    other => {
                        return Err(Failure::error(format!(
                            "an idle connection did not stay idle: {other:?}"
                        )));
                    }
                }
                leave(watch).await;
                let (s, ack) = Session::connected(&ctx, version, keeping(&id, 1)).await?;
                ctx.ensure(!ack.session_present, gone, || {
                    "the session was resumed after its Session Expiry Interval of 1 s had passed"
                        .into()
                })?;
                leave(s).await;
                end_session(&ctx, version, &id).await;
                Ok(())
            },
        )
        .covers(&[gone])
        .control(session_expiry_becomes(
            60,
            "the broker keeps sessions for 60 s",
        )),
    );
    t
}
