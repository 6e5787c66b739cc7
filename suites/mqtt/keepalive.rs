//! Keep Alive: the broker closes a silent connection after one and a half Keep Alive
//! periods, answers PINGREQ, and applies no timer when the Keep Alive is 0.

use std::time::Duration;

use hilt_net::interposer::{Action, CloseKind, Dir, Match, Rule};
use hilt_runner::{Failure, TestCase};
use hilt_wire::mqtt::{ConnAck, Connect, Packet, QoS, Version};
use tokio::time::Instant;

use super::connect::{VERSIONS, case};
use super::controls::{self, Control};
use super::packets::{connect, publish};
use super::session::{Next, Session, summarize};
use super::session_state::{delivered, subscribed};
use super::spec;
use super::{v5, v311};

/// How long a test that already failed keeps watching for the late close it reports.
const LATE_WATCH: Duration = Duration::from_secs(7);

/// The Keep Alive the broker applies: its Server Keep Alive if it sent one (5.0), else
/// the client's.
fn applied(version: Version, ack: &ConnAck, asked: u16) -> u16 {
    match version {
        Version::V5 => ack.properties.server_keep_alive().unwrap_or(asked),
        Version::V311 => asked,
    }
}

fn with_keep_alive(id: &str, keep_alive: u16) -> Connect {
    Connect {
        keep_alive,
        ..connect(id)
    }
}

/// The broker's CONNECTs all carry this Keep Alive instead of the test's.
fn keep_alive_becomes(version: Version, keep_alive: u16, what: &str) -> Control {
    controls::mutate_to_server(version, "CONNECT", what, move |p| {
        if let Packet::Connect(c) = p {
            c.keep_alive = keep_alive;
        }
    })
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for version in VERSIONS {
        let close_rule = spec(version, "MQTT-3.1.2-22", "MQTT-3.1.2-24");
        // 5.0 says outright the broker uses the client's Keep Alive when it sends none.
        let uses_rule = spec(version, "MQTT-3.2.2-22", "MQTT-3.1.2-24");
        let refs = match version {
            Version::V5 => vec![v5("MQTT-3.1.2-22"), v5("MQTT-3.2.2-22")],
            Version::V311 => vec![v311("MQTT-3.1.2-24")],
        };
        t.push(
            case(
                version,
                "keepalive",
                "silence-closes-after-one-and-a-half-keep-alive",
                "After 1.5 times a Keep Alive of 1 s without a packet from the client, the broker closes the connection",
                move |ctx| async move {
                    let start = Instant::now();
                    let (mut s, ack) = Session::connected(&ctx, version, with_keep_alive(&ctx.unique("k"), 1)).await?;
                    let ka = applied(version, &ack, 1);
                    if ka == 0 || ka > 2 {
                        return Err(Failure::inconclusive(format!("the broker imposed a Server Keep Alive of {ka} s")));
                    }
                    let ka = Duration::from_secs(u64::from(ka));
                    let limit = start + ka * 3 / 2 + ctx.response_timeout();
                    loop {
                        match s.next(limit.saturating_duration_since(Instant::now())).await? {
                            Next::Closed => break,
                            // 5.0 allows a DISCONNECT 0x8D (Keep Alive timeout) first.
                            Next::Packet(Packet::Disconnect(d)) if version == Version::V5 && d.code.0 >= 0x80 => {}
                            Next::Packet(p) => {
                                return Err(Failure::fail(close_rule, format!("the broker sent {} to a silent client", summarize(&p, version))))
                            }
                            Next::Silent => {
                                // Late: see how late, for the evidence (a broker that
                                // checks keep-alives on a coarse timer closes eventually).
                                let late = start.elapsed();
                                let closed = loop {
                                    match s.next(LATE_WATCH).await {
                                        Ok(Next::Packet(_)) => {}
                                        Ok(Next::Closed) => break format!("it closed {:?} after the CONNECT", start.elapsed()),
                                        _ => break format!("it was still open after {:?}", start.elapsed()),
                                    }
                                };
                                return Err(Failure::fail(
                                    close_rule,
                                    format!("the connection was still open {late:?} after the CONNECT with a Keep Alive of {ka:?} (limit 1.5 x {ka:?} + response time); {closed}"),
                                ));
                            }
                        }
                    }
                    // The client may stay silent for the whole Keep Alive: closing sooner
                    // means the broker did not use the Keep Alive it was given.
                    let after = start.elapsed();
                    ctx.ensure(after >= ka, uses_rule, || {
                        format!("the broker closed the connection after {after:?}, within the Keep Alive of {ka:?}")
                    })
                },
            )
            .covers(&refs)
            .timeout(Duration::from_secs(15))
            .control(keep_alive_becomes(version, 60, "the broker keeps a silent connection open (it sees Keep Alive 60)")),
        );

        let ping_rule = spec(version, "MQTT-3.12.4-1", "MQTT-3.12.4-1");
        t.push(
            case(
                version,
                "keepalive",
                "pingreq-answered-and-keeps-connection",
                "The broker answers each PINGREQ with PINGRESP and keeps a pinging connection open past 1.5 times its Keep Alive",
                move |ctx| async move {
                    let (mut s, ack) = Session::connected(&ctx, version, with_keep_alive(&ctx.unique("k"), 1)).await?;
                    let ka = applied(version, &ack, 1).max(1);
                    // Well inside the Keep Alive, three times: past 1.5 Keep Alives in all.
                    let gap = Duration::from_millis(600).min(Duration::from_secs(u64::from(ka)) * 6 / 10);
                    for n in 1..=3 {
                        match s.next(gap).await? {
                            Next::Silent => {}
                            other => {
                                return Err(Failure::fail(
                                    ping_rule,
                                    format!("waiting to send PINGREQ {n} (one every {gap:?}, Keep Alive {ka} s): {other:?}"),
                                ))
                            }
                        }
                        s.send(&Packet::PingReq).await?;
                        s.expect(ping_rule, &format!("PINGRESP to PINGREQ {n}"), |p| matches!(p, Packet::PingResp).then_some(())).await?;
                    }
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[ping_rule])
            .control(Control::new("the broker sees only the first PINGREQ", || {
                vec![Rule::new(Dir::ToServer, Match::kind("PINGREQ"), Action::Drop).after(1)]
            })),
        );

        // Keep Alive 0 turns the mechanism off: the connection, and the session with it,
        // must outlast a silence that any timer of about a second would have ended.
        let alive_rule = spec(version, "MQTT-4.1.0-1", "MQTT-4.1.0-2");
        t.push(
            case(
                version,
                "keepalive",
                "zero-disables-keep-alive",
                "With Keep Alive 0 the broker keeps a silent connection and its subscriptions",
                move |ctx| async move {
                    let (mut s, ack) =
                        Session::connected(&ctx, version, with_keep_alive(&ctx.unique("k"), 0))
                            .await?;
                    let ka = applied(version, &ack, 0);
                    if ka != 0 && ka < 5 {
                        return Err(Failure::inconclusive(format!(
                            "the broker imposed a Server Keep Alive of {ka} s"
                        )));
                    }
                    let topic = ctx.topic("idle");
                    subscribed(&mut s, 1, &topic, QoS::AtMostOnce).await?;
                    match s.next(Duration::from_secs(2)).await? {
                        Next::Silent => {}
                        other => {
                            return Err(Failure::fail(
                                alive_rule,
                                format!("with Keep Alive 0, after 2 s of silence: {other:?}"),
                            ));
                        }
                    }
                    s.send(&publish(&topic, b"still here", QoS::AtMostOnce, None))
                        .await?;
                    delivered(&mut s, alive_rule, &topic).await?;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[alive_rule])
            .timeout(Duration::from_secs(15))
            // Not "Keep Alive 1" (a broker may check keep-alives on a timer coarser than the
            // test's silence): the broker drops the idle connection outright.
            .control(Control::new(
                "the broker drops a connection that stayed idle",
                || {
                    vec![Rule::new(
                        Dir::ToServer,
                        Match::kind("PUBLISH"),
                        Action::Close(CloseKind::Fin),
                    )]
                },
            )),
        );
    }
    t
}
