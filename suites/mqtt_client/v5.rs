//! MQTT 5.0 only: the limits a server announces in CONNACK (Server Keep Alive, Receive
//! Maximum, Maximum Packet Size, Topic Alias Maximum, Maximum QoS, §3.2.2.3), refusals
//! and server DISCONNECTs that close the connection (§4.13), Session Present without a
//! session (§3.2.2.2), and what a client's PUBLISH may not carry.

use std::collections::BTreeSet;
use std::time::Duration;

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Control, Ctx, Failure, TestCase};
use hilt_wire::Decoded;
use hilt_wire::mqtt::{
    Ack, ConnAck, Disconnect, Packet, Properties, Property, QoS, ReasonCode, Version, decode,
};
use tokio::time::Instant;

use super::bench::{
    BOUND, DEADLINE, DEVICE_START, Session, Stimulus, connack, connack_with, publish, secs, serve,
};
use super::connect::{KEEP_ALIVE_S, judge_keep_alive};
use super::controls::{drop_to_server, inject_after_connect, mutate_to_client, mutate_to_server};
use super::faults::expect_close;
use super::publish::next_publish;
use super::server::Got;
use super::{tc, v5};

const V: Version = Version::V5;
const ANY: &[&str] = &["connect", "subscribe"];
const PUBLISH: &[&str] = &["publish"];

/// A CONNACK refusal hilt sends without closing: the client must close.
fn refusal() -> ConnAck {
    ConnAck {
        session_present: false,
        code: ReasonCode::NOT_AUTHORIZED,
        properties: Properties::new(),
    }
}

/// The frame of a QoS `qos` PUBLISH of `size` bytes or more, as a client would send it.
fn publish_frame(qos: QoS, size: usize) -> Vec<u8> {
    publish("hilt/injected", qos, 0x4242, &vec![b'x'; size]).to_bytes(V)
}

pub fn tests() -> Vec<TestCase> {
    vec![
        tc(
            V,
            "connack.server-keep-alive",
            "When CONNACK carries a Server Keep Alive shorter than the client's, the client keeps to it",
            |ctx: Ctx, version| async move {
                const SERVER_KEEP_ALIVE: u16 = 2;
                let s = Stimulus::new(&ctx).keepalive(KEEP_ALIVE_S);
                let deadline = Instant::now() + DEVICE_START + Duration::from_secs(30);
                let mut session = Session::open(&ctx, version, ANY, &s, Vec::new(), deadline).await?;
                let c = session.connect()?;
                if c.keep_alive != 0 && c.keep_alive <= SERVER_KEEP_ALIVE {
                    return Err(Failure::skip(format!("the client's own Keep Alive ({} s) is already this short", c.keep_alive)));
                }
                session.conn.send(&Packet::ConnAck(connack_with(Property::ServerKeepAlive(SERVER_KEEP_ALIVE)))).await?;
                judge_keep_alive(&ctx, &mut session, SERVER_KEEP_ALIVE, v5("MQTT-3.2.2-21"), "the Server Keep Alive").await
            },
        )
        .covers(&[v5("MQTT-3.2.2-21"), v5("MQTT-3.1.2-21")])
        .timeout(DEVICE_START + Duration::from_secs(35))
        .control(drop_to_server("PINGREQ", "the client's PINGREQs never reach hilt")),
        tc(
            V,
            "connack.refused-close",
            "After a CONNACK refusal (0x87 Not authorized) the client closes the connection",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx);
                let (mut session, _) = Session::open_accepted(&ctx, version, ANY, &s, refusal(), deadline).await?;
                let sent = Instant::now();
                expect_close(&ctx, &mut session, sent, v5("MQTT-4.13.2-1"), "a CONNACK with 0x87 (Not authorized)").await
            },
        )
        .covers(&[v5("MQTT-4.13.2-1")])
        .timeout(BOUND)
        .control(Control::new("the CONNACK refusal never reaches the client, as if it ignored it", || {
            vec![Rule::new(Dir::ToClient, Match::kind("CONNACK"), Action::Drop)]
        })),
        tc(
            V,
            "connack.session-present-close",
            "A client that started clean and gets CONNACK with Session Present 1 closes the connection",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx);
                let mut session = Session::open(&ctx, version, ANY, &s, Vec::new(), deadline).await?;
                let c = session.connect()?;
                if !c.clean_start {
                    return Err(Failure::skip("the client connected with Clean Start 0: it may hold a session"));
                }
                let mut ack = connack(Properties::new());
                ack.session_present = true;
                session.conn.send(&Packet::ConnAck(ack)).await?;
                let sent = Instant::now();
                expect_close(&ctx, &mut session, sent, v5("MQTT-3.2.2-4"), "CONNACK with Session Present 1 answering Clean Start 1").await
            },
        )
        .covers(&[v5("MQTT-3.2.2-4")])
        .timeout(BOUND)
        .control(mutate_to_client(V, "CONNACK", "the CONNACK reaches the client with Session Present 0", |p| {
            if let Packet::ConnAck(a) = p {
                a.session_present = false;
            }
        })),
        tc(
            V,
            "disconnect.server-close",
            "After the server's DISCONNECT (0x8B Server shutting down) the client closes the connection",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx);
                let (mut session, _) = Session::open_accepted(&ctx, version, ANY, &s, connack(Properties::new()), deadline).await?;
                let settle = Instant::now() + session.bench.response.min(Duration::from_millis(300));
                serve(&mut session.conn, settle, |_| false, |g| !matches!(g, Got::Packet { .. })).await?;
                let d = Disconnect { code: ReasonCode::SERVER_SHUTTING_DOWN, properties: Properties::new() };
                session.conn.send(&Packet::Disconnect(d)).await?;
                let sent = Instant::now();
                expect_close(&ctx, &mut session, sent, v5("MQTT-4.13.2-1"), "DISCONNECT 0x8B (Server shutting down)").await
            },
        )
        .covers(&[v5("MQTT-4.13.2-1")])
        .timeout(BOUND)
        .control(Control::new("the server's DISCONNECT never reaches the client, as if it ignored it", || {
            vec![Rule::new(Dir::ToClient, Match::kind("DISCONNECT"), Action::Drop)]
        })),
        tc(V, "limits.receive-maximum", "The client keeps no more unacknowledged QoS 1 PUBLISHes in flight than the server's Receive Maximum", receive_maximum)
            .covers(&[v5("MQTT-3.3.4-7"), v5("MQTT-4.9.0-2")])
            .timeout(DEVICE_START + Duration::from_secs(20))
            .control(Control::new(
                "a second QoS 1 PUBLISH (another Packet Identifier) reaches hilt right after the client's first",
                || {
                    vec![Rule::new(
                        Dir::ToServer,
                        Match::kind("PUBLISH"),
                        Action::rewrite(|f| {
                            let mut out = f.to_vec();
                            if let Ok(Decoded::Done(Packet::Publish(mut p), _)) = decode(f, V) {
                                p.packet_id = p.packet_id.map(|id| id ^ 0x4000);
                                out.extend(Packet::Publish(p).to_bytes(V));
                            }
                            out
                        }),
                    )
                    .nth(1)]
                },
            )),
        tc(V, "limits.maximum-packet-size", "The client sends no packet larger than the server's Maximum Packet Size", maximum_packet_size)
            .covers(&[v5("MQTT-3.2.2-15")])
            .timeout(BOUND)
            .control(inject_after_connect("a 300-byte PUBLISH reaches hilt after the client's CONNECT", publish_frame(QoS::AtMostOnce, 300))),
        tc(V, "limits.maximum-qos", "After CONNACK's Maximum QoS 0 the client publishes at QoS 0 only", |ctx: Ctx, version| async move {
            let deadline = Instant::now() + DEADLINE;
            let s = Stimulus::new(&ctx).qos(1);
            let (mut session, _) = Session::open_accepted(&ctx, version, PUBLISH, &s, connack_with(Property::MaximumQos(0)), deadline).await?;
            let over = watch(&mut session, deadline, |p, _| matches!(p, Packet::Publish(p) if p.qos != QoS::AtMostOnce)).await?;
            match over {
                Some(Packet::Publish(p)) => Err(Failure::fail(v5("MQTT-3.2.2-11"), format!("after CONNACK with Maximum QoS 0, the client sent a QoS {} PUBLISH (Packet Identifier {:?})", p.qos.as_u8(), p.packet_id))),
                _ => Ok(()),
            }
        })
            .covers(&[v5("MQTT-3.2.2-11")])
            .timeout(BOUND)
            .control(inject_after_connect("a QoS 1 PUBLISH reaches hilt after the client's CONNECT", publish_frame(QoS::AtLeastOnce, 4))),
        tc(V, "limits.topic-alias-absent", "Without a Topic Alias Maximum in CONNACK the client sends no Topic Alias", |ctx: Ctx, version| async move {
            let deadline = Instant::now() + DEADLINE;
            let s = Stimulus::new(&ctx).qos(1);
            let (mut session, _) = Session::open_accepted(&ctx, version, PUBLISH, &s, connack(Properties::new()), deadline).await?;
            let p = next_publish(&mut session.conn, deadline, |_| false).await?;
            match p.properties.topic_alias() {
                Some(a) => Err(Failure::fail(v5("MQTT-3.2.2-18"), format!("the server announced no Topic Alias Maximum, yet the client's PUBLISH to {:?} carries Topic Alias {a}", p.topic))),
                None => Ok(()),
            }
        })
            .covers(&[v5("MQTT-3.2.2-18"), v5("MQTT-3.2.2-17"), v5("MQTT-3.3.2-9")])
            .timeout(BOUND)
            .control(mutate_to_server(V, "PUBLISH", "the client's PUBLISH reaches hilt with Topic Alias 1", |p| {
                if let Packet::Publish(p) = p {
                    p.properties.push(Property::TopicAlias(1));
                }
            })),
        tc(V, "publish.no-subscription-identifier", "A PUBLISH from the client carries no Subscription Identifier", |ctx: Ctx, version| async move {
            let deadline = Instant::now() + DEADLINE;
            let s = Stimulus::new(&ctx).qos(1);
            let (mut session, _) = Session::open_accepted(&ctx, version, PUBLISH, &s, connack(Properties::new()), deadline).await?;
            let p = next_publish(&mut session.conn, deadline, |_| false).await?;
            let ids: Vec<u32> = p.properties.subscription_identifiers().collect();
            ctx.ensure(ids.is_empty(), v5("MQTT-3.3.4-6"), || format!("the client's PUBLISH to {:?} carries Subscription Identifier(s) {ids:?}", p.topic))
        })
            .covers(&[v5("MQTT-3.3.4-6")])
            .timeout(BOUND)
            .control(mutate_to_server(V, "PUBLISH", "the client's PUBLISH reaches hilt with Subscription Identifier 1", |p| {
                if let Packet::Publish(p) = p {
                    p.properties.push(Property::SubscriptionIdentifier(1));
                }
            })),
        tc(V, "auth.none-without-method", "A client whose CONNECT has no Authentication Method sends no AUTH packet", |ctx: Ctx, version| async move {
            let deadline = Instant::now() + DEADLINE;
            let s = Stimulus::new(&ctx).qos(1);
            let mut session = Session::open(&ctx, version, PUBLISH, &s, Vec::new(), deadline).await?;
            let c = session.connect()?;
            if c.properties.get(hilt_wire::mqtt::PropertyId::AuthenticationMethod).is_some() {
                return Err(Failure::skip("the client's CONNECT names an Authentication Method"));
            }
            session.conn.send(&Packet::ConnAck(connack(Properties::new()))).await?;
            let auth = watch(&mut session, deadline, |p, _| matches!(p, Packet::Auth(_))).await?;
            ctx.ensure(auth.is_none(), v5("MQTT-4.12.0-7"), || "the client sent AUTH although its CONNECT named no Authentication Method".into())
        })
            .covers(&[v5("MQTT-4.12.0-7")])
            .timeout(BOUND)
            .control(inject_after_connect("an AUTH packet reaches hilt after the client's CONNECT", vec![0xf0, 0x00])),
    ]
}

/// Serves the session as a broker until the client ends it (or `deadline`) and returns
/// the first packet `bad` picks (given the frame length). A malformed frame fails with
/// its rule.
async fn watch(
    session: &mut Session,
    deadline: Instant,
    mut bad: impl FnMut(&Packet, usize) -> bool,
) -> Result<Option<Packet>, Failure> {
    let mut found = None;
    serve(
        &mut session.conn,
        deadline,
        |_| false,
        |g| match g {
            Got::Packet { packet, len, .. } => {
                if bad(packet, *len) {
                    found = Some(packet.clone());
                }
                found.is_some() || matches!(packet, Packet::Disconnect(_))
            }
            _ => true,
        },
    )
    .await?;
    if found.is_none()
        && let Some(Got::Malformed { violation, .. }) = session.conn.log.last()
    {
        return Err(Failure::fail(
            violation.rule,
            format!("the client sent a malformed packet: {violation}"),
        ));
    }
    Ok(found)
}

async fn receive_maximum(ctx: Ctx, version: Version) -> hilt_runner::Outcome {
    const COUNT: u32 = 3;
    // hilt holds each PUBACK this long: time for a client that ignores the limit to
    // send its next message.
    let hold = Duration::from_millis(500);
    let deadline = Instant::now() + DEVICE_START + Duration::from_secs(15);
    let s = Stimulus::new(&ctx).qos(1).count(COUNT);
    let (mut session, _) = Session::open_accepted(
        &ctx,
        version,
        PUBLISH,
        &s,
        connack_with(Property::ReceiveMaximum(1)),
        deadline,
    )
    .await?;
    let conn = &mut session.conn;
    let mut in_flight: BTreeSet<u16> = BTreeSet::new();
    let mut acked = 0;
    let mut release_at = None;
    while acked < COUNT {
        let until = release_at.unwrap_or(deadline);
        match conn.next(until).await? {
            Some(Got::Packet {
                packet: Packet::Publish(p),
                ..
            }) => {
                let Some(id) = p.packet_id else {
                    return Err(Failure::error(
                        "asked to publish at QoS 1, the device published at QoS 0",
                    ));
                };
                if !p.dup {
                    in_flight.insert(id);
                }
                if in_flight.len() > 1 {
                    return Err(Failure::fail(
                        v5("MQTT-3.3.4-7"),
                        format!(
                            "with Receive Maximum 1 in CONNACK, the client had {} unacknowledged QoS 1 PUBLISHes in flight: {in_flight:?}",
                            in_flight.len()
                        ),
                    ));
                }
                release_at.get_or_insert(Instant::now() + hold);
            }
            Some(Got::Packet { packet, .. }) => {
                if let Some(reply) = super::bench::answer(&packet) {
                    conn.send(&reply).await?;
                }
            }
            Some(_) => break,
            None if Instant::now() >= deadline => break,
            None => {
                for id in std::mem::take(&mut in_flight) {
                    conn.send(&Packet::PubAck(Ack::new(id))).await?;
                    acked += 1;
                }
                release_at = None;
            }
        }
    }
    if acked < COUNT {
        return Err(super::bench::malformed_or(conn, || {
            Failure::error(format!(
                "asked for {COUNT} QoS 1 messages, the device published {acked}"
            ))
        }));
    }
    ctx.note(format!("{COUNT} QoS 1 messages, one in flight at a time"));
    Ok(())
}

async fn maximum_packet_size(ctx: Ctx, version: Version) -> hilt_runner::Outcome {
    const LIMIT: u32 = 128;
    let deadline = Instant::now() + DEADLINE;
    let s = Stimulus::new(&ctx).qos(0).payload("x".repeat(200));
    let (mut session, _) = Session::open_accepted(
        &ctx,
        version,
        PUBLISH,
        &s,
        connack_with(Property::MaximumPacketSize(LIMIT)),
        deadline,
    )
    .await?;
    let connack_sent = Instant::now();
    let mut largest = 0;
    let over = watch(&mut session, deadline, |_, len| {
        largest = largest.max(len);
        len > LIMIT as usize
    })
    .await?;
    if let Some(p) = over {
        let len = p.encoded_len(V);
        return Err(Failure::fail(
            v5("MQTT-3.2.2-15"),
            format!(
                "CONNACK set Maximum Packet Size {LIMIT}; {} after it the client sent a {len}-byte {:?}",
                secs(Instant::now() - connack_sent),
                p.packet_type()
            ),
        ));
    }
    ctx.note(format!("largest packet after CONNACK: {largest} bytes (limit {LIMIT}); asked to publish 200 bytes of payload"));
    Ok(())
}
