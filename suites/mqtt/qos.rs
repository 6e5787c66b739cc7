//! QoS 1 and 2 flows, both ways: the broker as receiver of the client's PUBLISH and as
//! sender to a subscriber, including redelivery when a persistent session resumes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hilt_runner::{Failure, TestCase};
use hilt_wire::mqtt::{Ack, Packet, Publish, QoS, Version};

use super::SUITE;
use super::controls::{self, Control};
use super::pubsub::{
    VERSIONS, ack, cap, client, collect_until, message, persistent, publish, send_sentinel, show,
    spec, subscribe_all, subscriber, tag, text, wait_ack, wait_publish,
};
use super::session::Session;

/// The broker's `n`-th packet of `kind` counted over all the test's connections
/// (1-based) never reaches the client; the interposer's own counts restart with each
/// connection, so a packet re-sent on a new connection could not be singled out.
fn drop_nth_overall(kind: &'static str, n: u32, what: &str) -> Control {
    Control::new(what, move || {
        use hilt_net::interposer::{Action, Dir, Match, Rule};
        let seen = Arc::new(AtomicU32::new(0));
        let pick = Match::kind(kind).and(Match::pred(move |_| {
            seen.fetch_add(1, Ordering::SeqCst) + 1 == n
        }));
        vec![Rule::new(Dir::ToClient, pick, Action::Drop)]
    })
}

/// Takes the subscriber's session back with a new connection and requires the broker
/// to say it kept it; the session was created moments ago with a 30 s expiry.
async fn resume(ctx: &hilt_runner::Ctx, version: Version, id: &str) -> Result<Session, Failure> {
    let (s, ack) = Session::connected(ctx, version, persistent(id, version)).await?;
    if !ack.session_present {
        return Err(Failure::fail(
            spec(version, "MQTT-3.1.2-5", "MQTT-3.1.2-4"),
            "the broker resumed no session for a client that left one with unacknowledged messages moments ago",
        ));
    }
    Ok(s)
}

/// Ends a persistent session so it does not outlive the test.
async fn end_session(ctx: &hilt_runner::Ctx, version: Version, id: &str) -> Result<(), Failure> {
    let (s, _) = Session::connected(ctx, version, super::packets::connect(id)).await?;
    s.disconnect().await;
    Ok(())
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for version in VERSIONS {
        let tag = tag(version);

        // QoS 1 from the client: one PUBACK with the PUBLISH's identifier.
        let echo = spec(version, "MQTT-2.2.1-5", "MQTT-2.3.1-6");
        let respond = spec(version, "MQTT-3.3.4-1", "MQTT-3.3.4-1");
        let puback = spec(version, "MQTT-4.3.2-4", "MQTT-4.3.2-2");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.qos.puback-echoes-packet-id"),
                "The broker answers a QoS 1 PUBLISH with a PUBACK carrying its packet identifier",
                move |ctx| async move {
                    let topic = ctx.topic("q1");
                    let mut p = client(&ctx, version, "p").await?;
                    for id in [0xa5c3, 1] {
                        p.send(&Packet::Publish(message(&topic, b"x", QoS::AtLeastOnce, id))).await?;
                        let a = p
                            .expect(respond, "PUBACK", |p| match p {
                                Packet::PubAck(a) => Some(a.clone()),
                                _ => None,
                            })
                            .await?;
                        ctx.ensure(a.packet_id == id, puback, || {
                            format!("PUBACK carries packet identifier {:#06x} for a PUBLISH with {id:#06x}", a.packet_id)
                        })?;
                    }
                    p.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[echo, respond, puback])
            .tags(&["qos"])
            .needs(&[cap(version), "mqtt.qos1"])
            .control(controls::mutate_to_client(version, "PUBACK", "the broker acknowledges the wrong packet identifier", |p| {
                if let Packet::PubAck(a) = p {
                    a.packet_id = a.packet_id.wrapping_add(1).max(1);
                }
            })),
        );

        // QoS 2 from the client: PUBREC, then PUBCOMP for our PUBREL, each with the id.
        let rec = spec(version, "MQTT-4.3.3-8", "MQTT-4.3.3-2");
        let comp = spec(version, "MQTT-4.3.3-11", "MQTT-4.3.3-2");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.qos.qos2-inbound-flow"),
                "The broker answers a QoS 2 PUBLISH with PUBREC and the PUBREL with PUBCOMP, both with its packet identifier",
                move |ctx| async move {
                    let topic = ctx.topic("q2");
                    let mut p = client(&ctx, version, "p").await?;
                    let id = 0xbeef;
                    p.send(&Packet::Publish(message(&topic, b"x", QoS::ExactlyOnce, id))).await?;
                    let r = p
                        .expect(respond, "PUBREC", |p| match p {
                            Packet::PubRec(a) => Some(a.clone()),
                            _ => None,
                        })
                        .await?;
                    ctx.ensure(r.packet_id == id, rec, || format!("PUBREC carries {:#06x} for a PUBLISH with {id:#06x}", r.packet_id))?;
                    p.send(&Packet::PubRel(Ack::new(id))).await?;
                    let c = p
                        .expect(comp, "PUBCOMP", |p| match p {
                            Packet::PubComp(a) => Some(a.clone()),
                            _ => None,
                        })
                        .await?;
                    ctx.ensure(c.packet_id == id, comp, || format!("PUBCOMP carries {:#06x} for a PUBREL with {id:#06x}", c.packet_id))?;
                    ctx.ensure(c.code.0 == 0, comp, || format!("PUBCOMP for a known packet identifier has reason code {:#04x}", c.code.0))?;
                    p.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[echo, respond, rec, comp])
            .tags(&["qos"])
            .needs(&[cap(version), "mqtt.qos2"])
            .control(controls::mutate_to_client(version, "PUBCOMP", "the broker completes the wrong packet identifier", |p| {
                if let Packet::PubComp(a) = p {
                    a.packet_id ^= 0x0100;
                }
            })),
        );

        // Exactly once: a repeat of the PUBLISH before PUBREL gets another PUBREC and no
        // second delivery; after PUBCOMP the identifier is free for a new message.
        let no_dup = spec(version, "MQTT-4.3.3-10", "MQTT-4.3.3-2");
        let after_comp = spec(version, "MQTT-4.3.3-12", "MQTT-4.3.3-2");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.qos.qos2-repeat-before-pubrel-delivered-once"),
                "A QoS 2 PUBLISH re-sent with DUP before PUBREL is acknowledged again but delivered once",
                move |ctx| async move {
                    let (topic, sentinel) = (ctx.topic("x"), ctx.topic("end"));
                    let mut s = subscriber(&ctx, version, "s", &[(&topic, QoS::ExactlyOnce), (&sentinel, QoS::AtLeastOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    let first = message(&topic, b"once", QoS::ExactlyOnce, 5);
                    p.send(&Packet::Publish(first.clone())).await?;
                    wait_ack(&mut p, rec, "PUBREC", 5).await?;
                    let repeat = Publish { dup: true, ..first };
                    p.send(&Packet::Publish(repeat)).await?;
                    wait_ack(&mut p, no_dup, "PUBREC", 5).await?;
                    p.send(&Packet::PubRel(Ack::new(5))).await?;
                    wait_ack(&mut p, comp, "PUBCOMP", 5).await?;
                    publish(&mut p, message(&topic, b"next", QoS::ExactlyOnce, 5)).await?;
                    send_sentinel(&mut p, &sentinel).await?;
                    let got: Vec<String> = collect_until(&mut s, no_dup, &sentinel).await?.iter().map(|m| text(&m.payload)).collect();
                    ctx.ensure(got.iter().filter(|g| *g == "once").count() == 1, no_dup, || {
                        format!("a QoS 2 message sent twice before PUBREL was delivered as {got:?}")
                    })?;
                    ctx.ensure(got.iter().any(|g| g == "next"), after_comp, || {
                        format!("a new QoS 2 message reusing the completed packet identifier was not delivered: {got:?}")
                    })?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[no_dup, after_comp])
            .tags(&["qos"])
            .needs(&[cap(version), "mqtt.qos2"])
            .control(controls::mutate_to_server(version, "PUBLISH", "the broker takes the repeat for a new message", |p| {
                // A different identifier makes the repeat a new message for the broker,
                // which therefore delivers it again.
                if let Packet::Publish(m) = p
                    && m.dup {
                        m.packet_id = Some(6);
                    }
            })),
        );

        // QoS 2 to a subscriber: PUBLISH with DUP 0 and an identifier, PUBREL with the
        // same identifier after our PUBREC.
        let sender = spec(version, "MQTT-4.3.3-2", "MQTT-4.3.3-1");
        let pubrel = spec(version, "MQTT-4.3.3-4", "MQTT-4.3.3-1");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.qos.qos2-outbound-flow"),
                "Delivering at QoS 2 the broker sends PUBLISH with DUP 0, then PUBREL with the same identifier after PUBREC",
                move |ctx| async move {
                    let topic = ctx.topic("o");
                    let mut s = subscriber(&ctx, version, "s", &[(&topic, QoS::ExactlyOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&topic, b"x", QoS::ExactlyOnce, 1)).await?;
                    let m = wait_publish(&mut s, spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1"), "the QoS 2 message", |_| true).await?;
                    ctx.ensure(m.qos == QoS::ExactlyOnce && !m.dup, sender, || format!("expected QoS 2 with DUP 0: {}", show(&m, version)))?;
                    let id = m.packet_id.unwrap_or(0);
                    s.send(&Packet::PubRec(Ack::new(id))).await?;
                    wait_ack(&mut s, pubrel, "PUBREL", id).await?;
                    s.send(&Packet::PubComp(Ack::new(id))).await?;
                    s.expect_quiet(sender, "the QoS 2 flow is complete").await?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[echo, sender, pubrel])
            .tags(&["qos"])
            .needs(&[cap(version), "mqtt.qos2"])
            .control(controls::mutate_to_client(version, "PUBREL", "the broker releases the wrong packet identifier", |p| {
                if let Packet::PubRel(a) = p {
                    a.packet_id = a.packet_id.wrapping_add(1).max(1);
                }
            })),
        );

        // Sixteen unacknowledged deliveries at once: no identifier is used twice.
        let unused = spec(version, "MQTT-2.2.1-4", "MQTT-2.3.1-4");
        let q1_new = spec(version, "MQTT-4.3.2-1", "MQTT-4.3.2-1");
        let q2_new = spec(version, "MQTT-4.3.3-1", "MQTT-4.3.3-1");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.qos.in-flight-packet-ids-unique"),
                "The broker gives each QoS 1 and 2 message in flight to a client its own non-zero packet identifier",
                move |ctx| async move {
                    const N: u16 = 8;
                    let (t1, t2) = (ctx.topic("a"), ctx.topic("b"));
                    let mut s = subscriber(&ctx, version, "s", &[(&t1, QoS::AtLeastOnce), (&t2, QoS::ExactlyOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    for i in 0..N {
                        publish(&mut p, message(&t1, b"1", QoS::AtLeastOnce, 1 + i)).await?;
                        publish(&mut p, message(&t2, b"2", QoS::ExactlyOnce, 1 + i)).await?;
                    }
                    // Nothing acknowledged yet: every identifier is still in use.
                    let mut got: Vec<Publish> = Vec::new();
                    for _ in 0..2 * N {
                        got.push(wait_publish(&mut s, spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1"), "16 messages", |_| true).await?);
                    }
                    let mut ids: Vec<u16> = got.iter().map(|m| m.packet_id.unwrap_or(0)).collect();
                    ctx.ensure(!ids.contains(&0), unused, || format!("a QoS 1/2 delivery has packet identifier 0 or none: {ids:?}"))?;
                    ids.sort_unstable();
                    let dup = ids.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
                    if let Some(d) = dup {
                        let rule = match got.iter().filter(|m| m.packet_id == Some(d)).map(|m| m.qos).max_by_key(|q| q.as_u8()) {
                            Some(QoS::ExactlyOnce) => q2_new,
                            _ => q1_new,
                        };
                        return Err(Failure::fail(
                            rule,
                            format!("packet identifier {d} is used by two unacknowledged deliveries: {:?}", got.iter().map(|m| show(m, version)).collect::<Vec<_>>()),
                        ));
                    }
                    for m in &got {
                        ack(&mut s, m).await?;
                    }
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[unused, q1_new, q2_new])
            .tags(&["qos"])
            .needs(&[cap(version), "mqtt.qos1", "mqtt.qos2"])
            .control(controls::mutate_to_client(version, "PUBLISH", "the broker numbers every delivery 1", |p| {
                if let Packet::Publish(m) = p
                    && m.packet_id.is_some() {
                        m.packet_id = Some(1);
                    }
            })),
        );

        // Unacknowledged deliveries to a persistent session are re-sent, marked DUP,
        // with their identifiers, when the session resumes.
        let resend = spec(version, "MQTT-4.4.0-1", "MQTT-4.4.0-1");
        let dup = spec(version, "MQTT-3.3.1-1", "MQTT-3.3.1-1");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.qos.unacked-redelivered-on-resume"),
                "Unacknowledged QoS 1 and 2 deliveries are re-sent with DUP 1 and the same identifiers when the session resumes",
                move |ctx| async move {
                    let (t1, t2) = (ctx.topic("a"), ctx.topic("b"));
                    let id = ctx.unique("s");
                    let (mut s, _) = Session::connected(&ctx, version, persistent(&id, version)).await?;
                    subscribe_all(&mut s, &[(&t1, QoS::AtLeastOnce), (&t2, QoS::ExactlyOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&t1, b"one", QoS::AtLeastOnce, 1)).await?;
                    publish(&mut p, message(&t2, b"two", QoS::ExactlyOnce, 2)).await?;
                    let deliver = spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1");
                    let a = wait_publish(&mut s, deliver, "the QoS 1 message", |m| m.payload == b"one").await?;
                    let b = wait_publish(&mut s, deliver, "the QoS 2 message", |m| m.payload == b"two").await?;
                    s.disconnect().await;
                    let mut s = resume(&ctx, version, &id).await?;
                    for first in [a, b] {
                        let what = format!("{} re-sent", show(&first, version));
                        let again = wait_publish(&mut s, resend, &what, |m| m.payload == first.payload).await?;
                        ctx.ensure(again.packet_id == first.packet_id, resend, || {
                            format!("{} was re-sent with another identifier: {}", show(&first, version), show(&again, version))
                        })?;
                        ctx.ensure(again.dup, dup, || format!("a re-sent PUBLISH has DUP 0: {}", show(&again, version)))?;
                        ack(&mut s, &again).await?;
                    }
                    s.disconnect().await;
                    p.disconnect().await;
                    end_session(&ctx, version, &id).await
                },
            )
            .covers(&[resend, dup])
            .tags(&["qos", "session"])
            .needs(&[cap(version), "mqtt.qos1", "mqtt.qos2"])
            .control(controls::mutate_to_client(version, "PUBLISH", "the broker re-sends without DUP", |p| {
                if let Packet::Publish(m) = p {
                    m.dup = false;
                }
            })),
        );

        // A PUBREL not completed before the connection ended is re-sent on resumption,
        // and the PUBLISH is not.
        let unacked_rel = spec(version, "MQTT-4.3.3-5", "MQTT-4.3.3-1");
        let no_publish = spec(version, "MQTT-4.3.3-6", "MQTT-4.3.3-1");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.qos.pubrel-resent-on-resume"),
                "A PUBREL left without PUBCOMP is re-sent with its identifier when the session resumes, and the PUBLISH is not",
                move |ctx| async move {
                    let topic = ctx.topic("r");
                    let id = ctx.unique("s");
                    let (mut s, _) = Session::connected(&ctx, version, persistent(&id, version)).await?;
                    subscribe_all(&mut s, &[(&topic, QoS::ExactlyOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&topic, b"x", QoS::ExactlyOnce, 1)).await?;
                    let m = wait_publish(&mut s, spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1"), "the QoS 2 message", |_| true).await?;
                    let pid = m.packet_id.unwrap_or(0);
                    s.send(&Packet::PubRec(Ack::new(pid))).await?;
                    wait_ack(&mut s, pubrel, "PUBREL", pid).await?;
                    s.disconnect().await;
                    let mut s = resume(&ctx, version, &id).await?;
                    let what = format!("PUBREL {pid} re-sent");
                    let within = s.response_timeout();
                    let first = s
                        .wait_for(resend, &what, within, |p| match p {
                            Packet::PubRel(_) | Packet::Publish(_) => Some(p.clone()),
                            _ => None,
                        })
                        .await?;
                    match first {
                        Packet::PubRel(a) => {
                            ctx.ensure(a.packet_id == pid, resend, || format!("PUBREL re-sent with {} for identifier {pid}", a.packet_id))?;
                        }
                        Packet::Publish(m) => {
                            return Err(Failure::fail(
                                no_publish,
                                format!("after PUBREL the broker re-sent the PUBLISH: {}", show(&m, version)),
                            ));
                        }
                        _ => {}
                    }
                    s.send(&Packet::PubComp(Ack::new(pid))).await?;
                    s.expect_quiet(no_publish, "the QoS 2 flow is complete").await?;
                    s.disconnect().await;
                    p.disconnect().await;
                    end_session(&ctx, version, &id).await
                },
            )
            .covers(&[resend, unacked_rel, no_publish])
            .tags(&["qos", "session"])
            .needs(&[cap(version), "mqtt.qos2"])
            .control(drop_nth_overall("PUBREL", 2, "the broker forgets its PUBREL when the session resumes")),
        );
    }
    t
}
