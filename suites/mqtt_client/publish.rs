//! The client as publisher: PUBLISH well-formed (§3.3), QoS 1 and 2 sender flows
//! (§4.3), Packet Identifiers (§2.3.1), resending after a reconnect (§4.4), and the end
//! of a connection (§3.14.4).

use std::collections::BTreeMap;
use std::time::Duration;

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Control, Ctx, Failure, TestCase};
use hilt_wire::mqtt::{Ack, Packet, PacketType, Properties, Publish, QoS, Version};
use tokio::time::Instant;

use super::bench::{
    BOUND, DEADLINE, DEVICE_START, Session, Stimulus, answer, connack, malformed_or, secs, serve,
};
use super::controls::{self, drop_to_server_after, first_byte, inject_after, mutate_to_server};
use super::server::{Conn, Got};
use super::{spec, specs, tc};

const PUBLISH: &[&str] = &["publish"];
const PUBLISH_SESSION: &[&str] = &["publish-session"];

/// Opens a `publish` session at `qos` and returns it with the first PUBLISH, every
/// other packet answered as a broker would (except what `withhold` picks).
async fn first_publish(
    ctx: &Ctx,
    version: Version,
    s: &Stimulus,
    deadline: Instant,
    withhold: impl FnMut(&Packet) -> bool,
) -> Result<(Session, Publish), Failure> {
    let (mut session, _) = Session::open_accepted(
        ctx,
        version,
        PUBLISH,
        s,
        connack(Properties::new()),
        deadline,
    )
    .await?;
    let p = next_publish(&mut session.conn, deadline, withhold).await?;
    Ok((session, p))
}

/// The client's next PUBLISH, other packets answered; a malformed frame fails with its
/// rule, silence is an error.
pub async fn next_publish(
    conn: &mut Conn,
    deadline: Instant,
    withhold: impl FnMut(&Packet) -> bool,
) -> Result<Publish, Failure> {
    let mut found = None;
    serve(conn, deadline, withhold, |g| match g {
        Got::Packet {
            packet: Packet::Publish(p),
            ..
        } => {
            found = Some(p.clone());
            true
        }
        Got::Packet {
            packet: Packet::Disconnect(_),
            ..
        } => true,
        Got::Malformed { .. } | Got::Closed { .. } => true,
        _ => false,
    })
    .await?;
    found.ok_or_else(|| {
        malformed_or(conn, || {
            Failure::error("the device's publish command sent no PUBLISH")
        })
    })
}

fn never(_: &Packet) -> bool {
    false
}

fn publishes(p: &Packet) -> bool {
    matches!(p, Packet::Publish(_))
}

pub fn tests(version: Version) -> Vec<TestCase> {
    vec![
        tc(
            version,
            "publish.well-formed",
            "A PUBLISH is well-formed: a Topic Name without wildcards, at least one character, valid flags",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx);
                let (_, p) = first_publish(&ctx, version, &s, deadline, never).await?;
                ctx.note(format!("PUBLISH to {:?} at QoS {}", p.topic, p.qos.as_u8()));
                Ok(())
            },
        )
        .covers(&specs(
            version,
            &["MQTT-3.3.1-4", "MQTT-3.3.2-1", "MQTT-3.3.2-2", "MQTT-4.7.0-1", "MQTT-4.7.3-1"],
            &["MQTT-3.3.1-4", "MQTT-3.3.2-1", "MQTT-3.3.2-2", "MQTT-4.7.1-1", "MQTT-4.7.3-1"],
        ))
        .timeout(BOUND)
        .control(mutate_to_server(
            version,
            "PUBLISH",
            "the client's PUBLISH reaches hilt with a '+' wildcard as its Topic Name's first level",
            |p| {
                if let Packet::Publish(p) = p {
                    p.topic = format!("+/{}", p.topic);
                }
            },
        )),
        tc(
            version,
            "publish.qos0-dup",
            "A QoS 0 PUBLISH has DUP 0",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx).qos(0);
                let (_, p) = first_publish(&ctx, version, &s, deadline, never).await?;
                if p.qos != QoS::AtMostOnce {
                    return Err(Failure::error(format!(
                        "asked to publish at QoS 0, the device published at QoS {}",
                        p.qos.as_u8()
                    )));
                }
                ctx.ensure(!p.dup, spec(version, "MQTT-3.3.1-2", "MQTT-3.3.1-2"), || {
                    "the client's QoS 0 PUBLISH has DUP 1".into()
                })
            },
        )
        .covers(&specs(version, &["MQTT-3.3.1-2", "MQTT-4.3.1-1"], &["MQTT-3.3.1-2", "MQTT-4.3.1-1"]))
        .timeout(BOUND)
        .control(first_byte("PUBLISH", "the client's QoS 0 PUBLISH reaches hilt with DUP 1", |b| b | 0x08)),
        tc(
            version,
            "publish.qos1-first-send",
            "A QoS 1 PUBLISH first sent carries a non-zero Packet Identifier, QoS 1 and DUP 0",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx).qos(1);
                let (_, p) = first_publish(&ctx, version, &s, deadline, never).await?;
                let rule = spec(version, "MQTT-4.3.2-2", "MQTT-4.3.2-1");
                ctx.ensure(p.qos == QoS::AtLeastOnce, rule, || {
                    format!("asked to publish at QoS 1, the client sent QoS {}", p.qos.as_u8())
                })?;
                ctx.ensure(!p.dup, rule, || {
                    format!(
                        "the first transmission of PUBLISH {:?} already has DUP 1",
                        p.packet_id
                    )
                })
            },
        )
        .covers(&specs(version, &["MQTT-4.3.2-2", "MQTT-2.2.1-3"], &["MQTT-4.3.2-1", "MQTT-2.3.1-1"]))
        .timeout(BOUND)
        .control(first_byte("PUBLISH", "the client's first QoS 1 PUBLISH reaches hilt with DUP 1", |b| b | 0x08)),
        tc(
            version,
            "publish.packet-ids-unique",
            "QoS 1 PUBLISHes in flight together carry different Packet Identifiers",
            packet_ids_unique,
        )
        .covers(&specs(version, &["MQTT-2.2.1-3", "MQTT-4.3.2-1"], &["MQTT-2.3.1-2", "MQTT-4.3.2-1"]))
        .timeout(DEVICE_START + Duration::from_secs(20))
        .control(Control::new(
            "the client's first PUBLISH reaches hilt twice, the copy a new message (DUP 0) with the same Packet Identifier",
            || vec![Rule::new(Dir::ToServer, Match::kind("PUBLISH"), Action::Duplicate).nth(1)],
        )),
        tc(
            version,
            "publish.qos2-pubrel",
            "A QoS 2 sender answers PUBREC with PUBREL carrying the same Packet Identifier",
            |ctx: Ctx, version| async move {
                let (pubrel, _) = qos2_flow(&ctx, version).await?;
                ctx.ensure(pubrel.is_some(), spec(version, "MQTT-4.3.3-4", "MQTT-4.3.3-1"), || {
                    "hilt answered the QoS 2 PUBLISH with PUBREC; no PUBREL with its Packet Identifier came back".into()
                })
            },
        )
        .covers(&specs(version, &["MQTT-4.3.3-4", "MQTT-2.2.1-5"], &["MQTT-4.3.3-1", "MQTT-2.3.1-6"]))
        .timeout(BOUND)
        .control(controls::drop_to_server("PUBREL", "the client's PUBRELs never reach hilt")),
        tc(
            version,
            "publish.pubrel-flags",
            "PUBREL's fixed-header flags are 0010",
            |ctx: Ctx, version| async move {
                let (pubrel, conn) = qos2_flow(&ctx, version).await?;
                match pubrel {
                    Some(_) => Ok(()),
                    None => Err(malformed_or(&conn, || Failure::error("the client sent no PUBREL to judge"))),
                }
            },
        )
        .covers(&specs(version, &["MQTT-3.6.1-1"], &["MQTT-3.6.1-1"]))
        .timeout(BOUND)
        .control(first_byte("PUBREL", "the client's PUBREL reaches hilt with flags 0000", |b| b & 0xf0)),
        tc(
            version,
            "publish.disconnect-last",
            "After DISCONNECT the client sends nothing more and closes the connection",
            disconnect_last,
        )
        .covers(&specs(version, &["MQTT-3.14.4-1", "MQTT-3.14.4-2"], &["MQTT-3.14.4-1", "MQTT-3.14.4-2"]))
        .timeout(BOUND)
        .control(inject_after("DISCONNECT", "a PINGREQ reaches hilt after the client's DISCONNECT", vec![0xc0, 0x00])),
        tc(
            version,
            "publish.qos1-resend",
            "A QoS 1 PUBLISH left unacknowledged when the connection dropped is sent again on reconnection, with DUP 1 and the same Packet Identifier",
            |ctx: Ctx, version| async move { resend(ctx, version, QoS::AtLeastOnce).await },
        )
        .covers(&specs(version, &["MQTT-4.4.0-1", "MQTT-3.3.1-1"], &["MQTT-4.4.0-1", "MQTT-3.3.1-1", "MQTT-2.3.1-3"]))
        .needs(&["mqtt.client.session"])
        .timeout(DEVICE_START + Duration::from_secs(40))
        .control(first_byte("PUBLISH", "the client's PUBLISHes reach hilt with DUP 0", |b| b & !0x08)),
        tc(
            version,
            "publish.qos2-resend-pubrel",
            "A PUBREL left without PUBCOMP when the connection dropped is sent again on reconnection with the same Packet Identifier, and the PUBLISH is not",
            |ctx: Ctx, version| async move { resend(ctx, version, QoS::ExactlyOnce).await },
        )
        .covers(&specs(version, &["MQTT-4.4.0-1", "MQTT-4.3.3-6"], &["MQTT-4.4.0-1", "MQTT-4.3.3-1"]))
        .needs(&["mqtt.client.session"])
        .timeout(DEVICE_START + Duration::from_secs(40))
        .control(drop_to_server_after(
            PacketType::PubRel,
            1,
            "only the client's first PUBREL reaches hilt: the one it sends again after reconnecting is lost",
        )),
    ]
}

/// Publishes at QoS 2, answers PUBREC, and returns the PUBREL that came back (with the
/// same Packet Identifier), if one did.
async fn qos2_flow(ctx: &Ctx, version: Version) -> Result<(Option<Ack>, Conn), Failure> {
    let deadline = Instant::now() + DEADLINE;
    let s = Stimulus::new(ctx).qos(2);
    let (mut session, p) = first_publish(ctx, version, &s, deadline, never).await?;
    let Some(id) = p.packet_id.filter(|_| p.qos == QoS::ExactlyOnce) else {
        return Err(Failure::error(format!(
            "asked to publish at QoS 2, the device published at QoS {}",
            p.qos.as_u8()
        )));
    };
    let until = Instant::now() + session.bench.response;
    let mut pubrel = None;
    serve(&mut session.conn, until, never, |g| match g {
        Got::Packet {
            packet: Packet::PubRel(a),
            ..
        } if a.packet_id == id => {
            pubrel = Some(a.clone());
            true
        }
        Got::Malformed { .. } | Got::Closed { .. } => true,
        _ => false,
    })
    .await?;
    Ok((pubrel, session.conn))
}

async fn packet_ids_unique(ctx: Ctx, version: Version) -> hilt_runner::Outcome {
    const COUNT: u32 = 3;
    // Acknowledgements wait until every message is out, or this long after the last
    // one: long enough for a client that does not wait for them to send the next.
    let hold = Duration::from_millis(700);
    let deadline = Instant::now() + DEVICE_START + Duration::from_secs(15);
    let s = Stimulus::new(&ctx).qos(1).count(COUNT);
    let (mut session, _) = Session::open_accepted(
        &ctx,
        version,
        PUBLISH,
        &s,
        connack(Properties::new()),
        deadline,
    )
    .await?;
    let conn = &mut session.conn;
    let mut unacked: BTreeMap<u16, Instant> = BTreeMap::new();
    let mut acked = 0u32;
    let mut max_in_flight = 0;
    let rule = spec(version, "MQTT-2.2.1-3", "MQTT-2.3.1-2");
    while acked < COUNT {
        let until = unacked
            .values()
            .max()
            .map_or(deadline, |last| (*last + hold).min(deadline));
        match conn.next(until).await? {
            Some(Got::Packet {
                packet: Packet::Publish(p),
                at,
                ..
            }) => {
                let Some(id) = p.packet_id else {
                    return Err(Failure::error(
                        "asked to publish at QoS 1, the device published at QoS 0",
                    ));
                };
                if !p.dup && unacked.contains_key(&id) {
                    return Err(Failure::fail(
                        rule,
                        format!(
                            "the client sent a new PUBLISH with Packet Identifier {id} while its earlier PUBLISH {id} was still unacknowledged (in flight: {:?})",
                            unacked.keys().collect::<Vec<_>>()
                        ),
                    ));
                }
                unacked.insert(id, at);
                max_in_flight = max_in_flight.max(unacked.len());
                if unacked.len() as u32 + acked >= COUNT {
                    acked += ack_all(conn, &mut unacked).await?;
                }
            }
            Some(Got::Packet { packet, .. }) => {
                if let Some(reply) = answer(&packet) {
                    conn.send(&reply).await?;
                }
            }
            Some(_) => break,
            None if Instant::now() >= deadline => break,
            None => acked += ack_all(conn, &mut unacked).await?,
        }
    }
    if acked < COUNT {
        return Err(malformed_or(conn, || {
            Failure::error(format!(
                "asked for {COUNT} QoS 1 messages, the device published {acked} before it stopped"
            ))
        }));
    }
    ctx.note(format!(
        "{COUNT} QoS 1 PUBLISHes, at most {max_in_flight} in flight at once, no identifier reused while in flight"
    ));
    Ok(())
}

async fn ack_all(conn: &mut Conn, unacked: &mut BTreeMap<u16, Instant>) -> Result<u32, Failure> {
    let n = unacked.len() as u32;
    for id in std::mem::take(unacked).into_keys() {
        conn.send(&Packet::PubAck(Ack::new(id))).await?;
    }
    Ok(n)
}

async fn disconnect_last(ctx: Ctx, version: Version) -> hilt_runner::Outcome {
    let deadline = Instant::now() + DEADLINE;
    let s = Stimulus::new(&ctx).qos(0);
    let (mut session, _) = Session::open_accepted(
        &ctx,
        version,
        PUBLISH,
        &s,
        connack(Properties::new()),
        deadline,
    )
    .await?;
    let mut disconnect_at = None;
    serve(&mut session.conn, deadline, never, |g| match g {
        Got::Packet {
            packet: Packet::Disconnect(_),
            at,
            ..
        } => {
            disconnect_at = Some(*at);
            true
        }
        Got::Malformed { .. } | Got::Closed { .. } => true,
        _ => false,
    })
    .await?;
    let Some(at) = disconnect_at else {
        return Err(malformed_or(&session.conn, || {
            Failure::skip("the client ended its connection without DISCONNECT: nothing to judge")
        }));
    };
    let until = at + session.bench.response;
    let next = session.conn.next(until).await?;
    match next {
        Some(Got::Closed { at: closed, .. }) => {
            ctx.note(format!("closed {} after DISCONNECT", secs(closed - at)));
            Ok(())
        }
        Some(other) => Err(Failure::fail(
            spec(version, "MQTT-3.14.4-1", "MQTT-3.14.4-2"),
            format!("after its DISCONNECT the client sent {}", other.describe()),
        )),
        None => Err(Failure::fail(
            spec(version, "MQTT-3.14.4-2", "MQTT-3.14.4-1"),
            format!(
                "the client kept the connection open for {} after its DISCONNECT",
                secs(session.bench.response)
            ),
        )),
    }
}

/// Drops the connection when the client's QoS `qos` message is half-way (QoS 1: the
/// PUBLISH unacknowledged; QoS 2: PUBREC answered, the PUBREL without PUBCOMP), then
/// judges what the client resends on its next connection.
async fn resend(ctx: Ctx, version: Version, qos: QoS) -> hilt_runner::Outcome {
    let deadline = Instant::now() + DEVICE_START + Duration::from_secs(30);
    let s = Stimulus::new(&ctx).qos(qos.as_u8());
    let mut session =
        Session::open(&ctx, version, PUBLISH_SESSION, &s, Vec::new(), deadline).await?;
    let c = session.connect()?;
    session
        .conn
        .send(&Packet::ConnAck(connack(Properties::new())))
        .await?;
    let p = next_publish(&mut session.conn, deadline, publishes).await?;
    let Some(id) = p.packet_id.filter(|_| p.qos == qos) else {
        return Err(Failure::error(format!(
            "asked to publish at QoS {}, the device published at QoS {}",
            qos.as_u8(),
            p.qos.as_u8()
        )));
    };
    if qos == QoS::ExactlyOnce {
        session.conn.send(&Packet::PubRec(Ack::new(id))).await?;
        let until = Instant::now() + session.bench.response;
        let mut released = false;
        serve(
            &mut session.conn,
            until,
            |p| matches!(p, Packet::PubRel(_)),
            |g| {
                released |=
                    matches!(g, Got::Packet { packet: Packet::PubRel(a), .. } if a.packet_id == id);
                released || !matches!(g, Got::Packet { .. })
            },
        )
        .await?;
        if !released {
            return Err(Failure::error(
                "the client did not release its QoS 2 message (no PUBREL): nothing to resend",
            ));
        }
    }
    session.conn.close().await;
    let dropped_at = Instant::now();
    let Some(mut conn) = session.reconnection(deadline).await? else {
        // The statement binds a client that reconnects; one that gives up is not judged.
        return Err(Failure::inconclusive(format!(
            "hilt closed the connection with {} unfinished; the client (clean {}) did not reconnect, so nothing was resent; {}",
            what_is_open(qos, id),
            c.clean_start,
            session.end_device().await
        )));
    };
    let first = conn.next(deadline).await?;
    let c2 = super::bench::first_connect(
        &first.ok_or_else(|| Failure::error("the client reconnected but sent nothing"))?,
        version,
    )?;
    if c2.clean_start {
        return Err(Failure::error(format!(
            "the device reconnected with Clean {} 1, discarding the session: its `publish-session` command must keep the session",
            if version == Version::V5 {
                "Start"
            } else {
                "Session"
            }
        )));
    }
    let mut ack = connack(Properties::new());
    ack.session_present = true;
    conn.send(&Packet::ConnAck(ack)).await?;
    let until = Instant::now() + session.bench.response;
    let mut again = None;
    serve(&mut conn, until, never, |g| match g {
        Got::Packet {
            packet: p @ (Packet::Publish(_) | Packet::PubRel(_)),
            ..
        } => {
            again = Some(p.clone());
            true
        }
        Got::Malformed { .. } | Got::Closed { .. } => true,
        _ => false,
    })
    .await?;
    let rule = spec(version, "MQTT-4.4.0-1", "MQTT-4.4.0-1");
    let reconnected = Instant::now() - dropped_at;
    match (qos, again) {
        (QoS::ExactlyOnce, Some(Packet::PubRel(a))) if a.packet_id == id => {
            ctx.note(format!(
                "PUBREL {id} sent again on a connection {} after the drop",
                secs(reconnected)
            ));
            Ok(())
        }
        (QoS::ExactlyOnce, Some(Packet::Publish(p))) => Err(Failure::fail(
            spec(version, "MQTT-4.3.3-6", "MQTT-4.3.3-1"),
            format!(
                "after PUBREL {id}, the client sent the PUBLISH again (Packet Identifier {:?}) on reconnection instead of the PUBREL",
                p.packet_id
            ),
        )),
        (QoS::AtLeastOnce, Some(Packet::Publish(p))) if p.packet_id == Some(id) => {
            ctx.ensure(p.dup, spec(version, "MQTT-3.3.1-1", "MQTT-3.3.1-1"), || {
                format!("the client sent PUBLISH {id} again on reconnection with DUP 0")
            })?;
            ctx.note(format!(
                "PUBLISH {id} sent again with DUP 1, {} after the drop",
                secs(reconnected)
            ));
            Ok(())
        }
        (_, other) => Err(malformed_or(&conn, || {
            Failure::fail(
                rule,
                format!(
                    "hilt closed the connection with {}; on reconnection (session present) the client sent {} within {}",
                    what_is_open(qos, id),
                    match other {
                        Some(p) => format!("{:?} instead of it", p.packet_type()),
                        None => "nothing again".into(),
                    },
                    secs(session.bench.response)
                ),
            )
        })),
    }
}

fn what_is_open(qos: QoS, id: u16) -> String {
    match qos {
        QoS::ExactlyOnce => format!("PUBREL {id} awaiting PUBCOMP"),
        _ => format!("PUBLISH {id} awaiting PUBACK"),
    }
}
