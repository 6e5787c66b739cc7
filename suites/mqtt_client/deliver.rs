//! The client as subscriber: SUBSCRIBE and UNSUBSCRIBE well-formed (§3.8, §3.10), and
//! the receiver's side of QoS 1 and 2 (§4.3): acknowledgements, their order (§4.6), no
//! duplicate delivery, Packet Identifiers reused by the server.

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Control, Ctx, Failure, TestCase};
use hilt_wire::mqtt::{Ack, Packet, Properties, QoS, Subscribe, Version};
use tokio::time::Instant;

use super::bench::{
    BOUND, DEADLINE, Session, Stimulus, await_subscribe, connack, malformed_or, publish, serve,
    topic_for,
};
use super::controls::{first_byte, mutate_to_server};
use super::server::{Conn, Got};
use super::{spec, specs, tc};

const SUBSCRIBE: &[&str] = &["subscribe", "connect"];
const SUBSCRIBE_ONLY: &[&str] = &["subscribe"];

/// A subscribed client: the session, its SUBSCRIBE (answered), and a topic its first
/// filter matches.
struct Subscribed {
    session: Session,
    subscribe: Subscribe,
    topic: String,
}

impl Subscribed {
    async fn open(
        ctx: &Ctx,
        version: Version,
        stimuli: &[&str],
        s: &Stimulus,
        deadline: Instant,
    ) -> Result<Subscribed, Failure> {
        let (mut session, _) = Session::open_accepted(
            ctx,
            version,
            stimuli,
            s,
            connack(Properties::new()),
            deadline,
        )
        .await?;
        let subscribe = await_subscribe(&mut session.conn, deadline).await?;
        let first = subscribe
            .filters
            .first()
            .ok_or_else(|| Failure::error("a SUBSCRIBE without filters decoded"))?;
        let topic = topic_for(&first.filter);
        Ok(Subscribed {
            session,
            subscribe,
            topic,
        })
    }

    /// The QoS hilt may deliver at: the test's `want`, unless the client subscribed
    /// lower (then the test does not apply).
    fn deliver_qos(&self, want: QoS) -> Result<QoS, Failure> {
        let granted = self.subscribe.filters[0].options.qos;
        if granted < want {
            return Err(Failure::skip(format!(
                "the client subscribed at QoS {}: hilt cannot deliver at QoS {}",
                granted.as_u8(),
                want.as_u8()
            )));
        }
        Ok(want)
    }

    fn conn(&mut self) -> &mut Conn {
        &mut self.session.conn
    }
}

/// Reads the client's acknowledgements (answering anything else as a broker) until
/// `count` of those `pick` selects came or `until` passes; returns their identifiers in
/// order.
async fn acks(
    conn: &mut Conn,
    until: Instant,
    count: usize,
    pick: impl Fn(&Packet) -> Option<u16>,
) -> Result<Vec<u16>, Failure> {
    let mut ids = Vec::new();
    serve(
        conn,
        until,
        |p| pick(p).is_some(),
        |g| {
            if let Some(id) = g.packet().and_then(&pick) {
                ids.push(id);
            }
            ids.len() >= count || !matches!(g, Got::Packet { .. })
        },
    )
    .await?;
    Ok(ids)
}

fn puback(p: &Packet) -> Option<u16> {
    match p {
        Packet::PubAck(a) => Some(a.packet_id),
        _ => None,
    }
}

fn pubrec(p: &Packet) -> Option<u16> {
    match p {
        Packet::PubRec(a) => Some(a.packet_id),
        _ => None,
    }
}

fn pubcomp(p: &Packet) -> Option<u16> {
    match p {
        Packet::PubComp(a) => Some(a.packet_id),
        _ => None,
    }
}

pub fn tests(version: Version) -> Vec<TestCase> {
    vec![
        tc(
            version,
            "subscribe.well-formed",
            "SUBSCRIBE is well-formed: flags 0010, at least one Topic Filter, each a valid UTF-8 filter with valid wildcards",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx);
                let sub = Subscribed::open(&ctx, version, SUBSCRIBE, &s, deadline).await?;
                ctx.note(format!(
                    "SUBSCRIBE {} filter(s), first {:?} at QoS {}",
                    sub.subscribe.filters.len(),
                    sub.subscribe.filters[0].filter,
                    sub.subscribe.filters[0].options.qos.as_u8()
                ));
                Ok(())
            },
        )
        .covers(&specs(
            version,
            &["MQTT-3.8.1-1", "MQTT-3.8.3-1", "MQTT-3.8.3-2", "MQTT-4.7.1-1", "MQTT-4.7.1-2"],
            &["MQTT-3.8.1-1", "MQTT-3.8.3-1", "MQTT-3.8.3-3", "MQTT-4.7.1-2", "MQTT-4.7.1-3", "MQTT-2.2.2-1"],
        ))
        .timeout(BOUND)
        .control(first_byte("SUBSCRIBE", "the client's SUBSCRIBE reaches hilt with flags 0000", |b| b & 0xf0)),
        tc(
            version,
            "subscribe.packet-id",
            "SUBSCRIBE carries a non-zero Packet Identifier",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx);
                let sub = Subscribed::open(&ctx, version, SUBSCRIBE, &s, deadline).await?;
                ctx.ensure(sub.subscribe.packet_id != 0, spec(version, "MQTT-2.2.1-3", "MQTT-2.3.1-1"), || {
                    "SUBSCRIBE has Packet Identifier 0".into()
                })
            },
        )
        .covers(&specs(version, &["MQTT-2.2.1-3"], &["MQTT-2.3.1-1"]))
        .timeout(BOUND)
        .control(mutate_to_server(version, "SUBSCRIBE", "the client's SUBSCRIBE reaches hilt with Packet Identifier 0", |p| {
            if let Packet::Subscribe(s) = p {
                s.packet_id = 0;
            }
        })),
        tc(
            version,
            "deliver.qos1-puback",
            "A QoS 1 PUBLISH from the server is answered with PUBACK carrying its Packet Identifier",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx).qos(1);
                let mut sub = Subscribed::open(&ctx, version, SUBSCRIBE, &s, deadline).await?;
                let qos = sub.deliver_qos(QoS::AtLeastOnce)?;
                let topic = sub.topic.clone();
                sub.conn().send(&publish(&topic, qos, 7, s.payload.as_bytes())).await?;
                let until = Instant::now() + sub.session.bench.response;
                let got = acks(sub.conn(), until, 1, puback).await?;
                ctx.ensure(got == [7], spec(version, "MQTT-4.3.2-4", "MQTT-4.3.2-2"), || {
                    format!("hilt delivered a QoS 1 PUBLISH with Packet Identifier 7; the client answered with PUBACKs {got:?} within {:?}", sub.session.bench.response)
                })
            },
        )
        .covers(&specs(
            version,
            &["MQTT-4.3.2-4", "MQTT-3.3.4-1", "MQTT-4.5.0-2", "MQTT-2.2.1-5"],
            &["MQTT-4.3.2-2", "MQTT-3.3.4-1", "MQTT-4.5.0-2", "MQTT-2.3.1-6"],
        ))
        .timeout(BOUND)
        .control(crate::mqtt::controls::drop_to_server("PUBACK", "the client's PUBACKs never reach hilt")),
        tc(
            version,
            "deliver.qos2-flow",
            "A QoS 2 PUBLISH from the server is answered with PUBREC, and the server's PUBREL with PUBCOMP, both with its Packet Identifier",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx).qos(2);
                let mut sub = Subscribed::open(&ctx, version, SUBSCRIBE, &s, deadline).await?;
                let qos = sub.deliver_qos(QoS::ExactlyOnce)?;
                let topic = sub.topic.clone();
                let response = sub.session.bench.response;
                sub.conn().send(&publish(&topic, qos, 9, s.payload.as_bytes())).await?;
                let got = acks(sub.conn(), Instant::now() + response, 1, pubrec).await?;
                ctx.ensure(got == [9], spec(version, "MQTT-4.3.3-8", "MQTT-4.3.3-2"), || {
                    format!("hilt delivered a QoS 2 PUBLISH with Packet Identifier 9; the client answered with PUBRECs {got:?}")
                })?;
                sub.conn().send(&Packet::PubRel(Ack::new(9))).await?;
                let got = acks(sub.conn(), Instant::now() + response, 1, pubcomp).await?;
                ctx.ensure(got == [9], spec(version, "MQTT-4.3.3-11", "MQTT-4.3.3-2"), || {
                    format!("hilt sent PUBREL 9; the client answered with PUBCOMPs {got:?}")
                })
            },
        )
        .covers(&specs(
            version,
            &["MQTT-4.3.3-8", "MQTT-4.3.3-11", "MQTT-3.3.4-1"],
            &["MQTT-4.3.3-2", "MQTT-3.3.4-1", "MQTT-4.5.0-2"],
        ))
        .timeout(BOUND)
        .control(crate::mqtt::controls::drop_to_server("PUBCOMP", "the client's PUBCOMPs never reach hilt")),
        tc(
            version,
            "deliver.qos2-no-duplicate",
            "A QoS 2 PUBLISH sent again (DUP 1) before PUBREL is acknowledged again but delivered to the application once",
            no_duplicate,
        )
        .covers(&specs(version, &["MQTT-4.3.3-10"], &["MQTT-4.3.3-2"]))
        .timeout(BOUND)
        .control(Control::new(
            "hilt's repeated QoS 2 PUBLISH reaches the client with another Packet Identifier: a new message to it",
            || {
                vec![Rule::new(
                    Dir::ToClient,
                    Match::pred(|f| f.first().is_some_and(|b| b >> 4 == 3 && b & 0x08 != 0)),
                    Action::rewrite(|f| {
                        // The Packet Identifier follows the topic; change it to one
                        // the first delivery did not use.
                        let mut out = f.to_vec();
                        let varint = f[1..].iter().take_while(|b| **b & 0x80 != 0).count() + 1;
                        let topic = 1 + varint;
                        let len = usize::from(u16::from_be_bytes([f[topic], f[topic + 1]]));
                        let id = topic + 2 + len;
                        if let Some(b) = out.get_mut(id + 1) {
                            *b ^= 0x40;
                        }
                        out
                    }),
                )]
            },
        )),
        tc(
            version,
            "deliver.puback-order",
            "PUBACKs leave in the order the QoS 1 PUBLISHes arrived",
            |ctx: Ctx, version| async move { ack_order(ctx, version, QoS::AtLeastOnce).await },
        )
        .covers(&specs(version, &["MQTT-4.6.0-2"], &["MQTT-4.6.0-2"]))
        .timeout(BOUND)
        .control(Control::new("the client's first PUBACK reaches hilt after its second", || {
            vec![Rule::new(Dir::ToServer, Match::kind("PUBACK"), Action::Reorder).nth(1)]
        })),
        tc(
            version,
            "deliver.pubrec-order",
            "PUBRECs leave in the order the QoS 2 PUBLISHes arrived",
            |ctx: Ctx, version| async move { ack_order(ctx, version, QoS::ExactlyOnce).await },
        )
        .covers(&specs(version, &["MQTT-4.6.0-3"], &["MQTT-4.6.0-3"]))
        .timeout(BOUND)
        .control(Control::new("the client's first PUBREC reaches hilt after its second", || {
            vec![Rule::new(Dir::ToServer, Match::kind("PUBREC"), Action::Reorder).nth(1)]
        })),
        tc(
            version,
            "deliver.packet-id-reuse",
            "A QoS 1 PUBLISH reusing the Packet Identifier of one already acknowledged is a new message: it is acknowledged again",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx).qos(1).count(2);
                let mut sub = Subscribed::open(&ctx, version, SUBSCRIBE, &s, deadline).await?;
                let qos = sub.deliver_qos(QoS::AtLeastOnce)?;
                let topic = sub.topic.clone();
                let response = sub.session.bench.response;
                let mut got = Vec::new();
                for n in 1..=2 {
                    let payload = format!("{}-{n}", s.payload);
                    sub.conn().send(&publish(&topic, qos, 41, payload.as_bytes())).await?;
                    got.extend(acks(sub.conn(), Instant::now() + response, 1, puback).await?);
                }
                ctx.ensure(got == [41, 41], spec(version, "MQTT-4.3.2-5", "MQTT-4.3.2-2"), || {
                    format!("hilt delivered two QoS 1 messages with Packet Identifier 41, the second after the first's PUBACK; the client answered with PUBACKs {got:?}")
                })
            },
        )
        .covers(&specs(version, &["MQTT-4.3.2-5"], &["MQTT-4.3.2-2"]))
        .timeout(BOUND)
        .control(Control::new("the client's second PUBACK never reaches hilt", || {
            vec![Rule::new(Dir::ToServer, Match::kind("PUBACK"), Action::Drop).nth(2)]
        })),
        tc(
            version,
            "unsubscribe.well-formed",
            "UNSUBSCRIBE is well-formed: flags 0010, a non-zero Packet Identifier, at least one UTF-8 Topic Filter",
            unsubscribe,
        )
        .covers(&specs(
            version,
            &["MQTT-3.10.1-1", "MQTT-3.10.3-1", "MQTT-3.10.3-2"],
            &["MQTT-3.10.1-1", "MQTT-3.10.3-1", "MQTT-3.10.3-2"],
        ))
        .timeout(BOUND)
        .control(first_byte("UNSUBSCRIBE", "the client's UNSUBSCRIBE reaches hilt with flags 0000", |b| b & 0xf0)),
    ]
}

/// Delivers one QoS 2 message, repeats it with DUP 1 before PUBREL, completes it, then
/// delivers a second; the client must print the first once.
async fn no_duplicate(ctx: Ctx, version: Version) -> hilt_runner::Outcome {
    let deadline = Instant::now() + DEADLINE;
    let s = Stimulus::new(&ctx).qos(2).count(2);
    let mut sub = Subscribed::open(&ctx, version, SUBSCRIBE_ONLY, &s, deadline).await?;
    let qos = sub.deliver_qos(QoS::ExactlyOnce)?;
    let (topic, response) = (sub.topic.clone(), sub.session.bench.response);
    let first = format!("{}-first", s.payload);
    let last = format!("{}-last", s.payload);
    let original = publish(&topic, qos, 11, first.as_bytes());
    sub.conn().send(&original).await?;
    let mut recs = acks(sub.conn(), Instant::now() + response, 1, pubrec).await?;
    let Packet::Publish(mut again) = original else {
        unreachable!("built as a PUBLISH")
    };
    again.dup = true;
    sub.conn().send(&Packet::Publish(again)).await?;
    recs.extend(acks(sub.conn(), Instant::now() + response, 1, pubrec).await?);
    // One PUBREL per message: a repeated PUBLISH is the same message.
    let mut released = recs.clone();
    released.dedup();
    for id in &released {
        sub.conn().send(&Packet::PubRel(Ack::new(*id))).await?;
    }
    acks(
        sub.conn(),
        Instant::now() + response,
        released.len(),
        pubcomp,
    )
    .await?;
    sub.conn()
        .send(&publish(&topic, qos, 12, last.as_bytes()))
        .await?;
    if let Some(id) = acks(sub.conn(), Instant::now() + response, 1, pubrec)
        .await?
        .first()
    {
        sub.conn().send(&Packet::PubRel(Ack::new(*id))).await?;
        acks(sub.conn(), Instant::now() + response, 1, pubcomp).await?;
    }
    let outcome = sub
        .session
        .outcome(Instant::now() + response)
        .await
        .ok_or_else(|| Failure::error("the device's command was already finished"))?;
    let printed = outcome.stdout.lines().filter(|l| l.trim() == first).count();
    if printed == 0 && !outcome.stdout.contains(&last) {
        return Err(malformed_or(sub.conn(), || {
            Failure::error(format!(
                "the device printed neither message, so its deliveries cannot be counted: {}",
                super::bench::ended(&outcome)
            ))
        }));
    }
    ctx.ensure(printed == 1, spec(version, "MQTT-4.3.3-10", "MQTT-4.3.3-2"), || {
        format!(
            "hilt sent QoS 2 PUBLISH 11 twice (the second with DUP 1) before PUBREL; the client delivered it {printed} times (PUBRECs {recs:?}); its output: {:?}",
            outcome.stdout
        )
    })
}

/// Delivers three messages at `qos` back to back and judges the order of their
/// acknowledgements.
async fn ack_order(ctx: Ctx, version: Version, qos: QoS) -> hilt_runner::Outcome {
    let deadline = Instant::now() + DEADLINE;
    let s = Stimulus::new(&ctx).qos(qos.as_u8()).count(3);
    let mut sub = Subscribed::open(&ctx, version, SUBSCRIBE, &s, deadline).await?;
    let qos = sub.deliver_qos(qos)?;
    let topic = sub.topic.clone();
    let base: u16 = if qos == QoS::ExactlyOnce { 31 } else { 21 };
    for n in 0..3u16 {
        let payload = format!("{}-{n}", s.payload);
        sub.conn()
            .send(&publish(&topic, qos, base + n, payload.as_bytes()))
            .await?;
    }
    let pick = if qos == QoS::ExactlyOnce {
        pubrec
    } else {
        puback
    };
    let until = Instant::now() + sub.session.bench.response;
    let got = acks(sub.conn(), until, 3, pick).await?;
    for id in got.iter().filter(|_| qos == QoS::ExactlyOnce) {
        sub.conn().send(&Packet::PubRel(Ack::new(*id))).await?;
    }
    let want: Vec<u16> = (base..base + 3).collect();
    let (rule, kind) = match qos {
        QoS::ExactlyOnce => (spec(version, "MQTT-4.6.0-3", "MQTT-4.6.0-3"), "PUBREC"),
        _ => (spec(version, "MQTT-4.6.0-2", "MQTT-4.6.0-2"), "PUBACK"),
    };
    if got.len() < 3 && got.iter().zip(&want).all(|(a, b)| a == b) {
        return Err(Failure::error(format!(
            "hilt delivered {want:?} back to back; only {kind}s {got:?} came back, too few to judge their order"
        )));
    }
    ctx.ensure(got == want, rule, || {
        format!(
            "hilt delivered {want:?} back to back; the client sent {kind}s in the order {got:?}"
        )
    })
}

async fn unsubscribe(ctx: Ctx, version: Version) -> hilt_runner::Outcome {
    let deadline = Instant::now() + DEADLINE;
    let s = Stimulus::new(&ctx);
    let (mut session, _) = Session::open_accepted(
        &ctx,
        version,
        &["unsubscribe"],
        &s,
        connack(Properties::new()),
        deadline,
    )
    .await?;
    let mut found = None;
    serve(
        &mut session.conn,
        deadline,
        |_| false,
        |g| match g {
            Got::Packet {
                packet: Packet::Unsubscribe(u),
                ..
            } => {
                found = Some(u.clone());
                true
            }
            Got::Malformed { .. } | Got::Closed { .. } => true,
            _ => false,
        },
    )
    .await?;
    let u = found.ok_or_else(|| {
        malformed_or(&session.conn, || {
            Failure::error("the device's unsubscribe command sent no UNSUBSCRIBE")
        })
    })?;
    ctx.ensure(
        u.packet_id != 0,
        spec(version, "MQTT-2.2.1-3", "MQTT-2.3.1-1"),
        || "UNSUBSCRIBE has Packet Identifier 0".into(),
    )?;
    ctx.note(format!("UNSUBSCRIBE {:?}", u.filters));
    Ok(())
}
