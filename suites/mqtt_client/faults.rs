//! The broker misbehaving on purpose: malformed and unexpected packets (the client must
//! close, §4.8 and the rules of each field), and a dropped connection (the client
//! reconnects with CONNECT first, §3.1).

use std::time::Duration;

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Control, Ctx, Failure, TestCase};
use hilt_wire::mqtt::{PacketType, Properties, RawPacket, Version, Writer};
use tokio::time::Instant;

use super::bench::{
    BOUND, DEADLINE, DEVICE_START, Session, Stimulus, connack, first_connect, secs, serve,
};
use super::controls::hide_from_client;
use super::server::Got;
use super::{spec, specs, tc};

const ANY: &[&str] = &["connect", "subscribe"];

/// A PUBLISH (QoS 0) whose Topic Name is `topic` as raw bytes.
fn publish_raw(first_byte: u8, topic: &[u8], version: Version) -> Vec<u8> {
    RawPacket::new(first_byte)
        .with_body(|w: &mut Writer| {
            w.utf8_bytes(topic);
            if first_byte & 0x06 != 0 {
                w.u16(1);
            }
            if version == Version::V5 {
                w.varint(0);
            }
            w.raw(b"x");
        })
        .build()
}

/// What hilt sends in each "must close" test.
fn pubrel_bad_flags() -> Vec<u8> {
    vec![0x60, 0x02, 0x00, 0x01]
}

fn bad_utf8(version: Version) -> Vec<u8> {
    publish_raw(0x30, b"hilt/\xed\xa0\x80", version)
}

fn null_char(version: Version) -> Vec<u8> {
    publish_raw(0x30, b"hilt/a\x00b", version)
}

fn qos3(version: Version) -> Vec<u8> {
    publish_raw(0x36, b"hilt/q", version)
}

/// A CONNECT, which only a client may send.
fn connect_to_client() -> Vec<u8> {
    RawPacket::typed(PacketType::Connect, 0)
        .with_body(|w: &mut Writer| {
            w.utf8("MQTT").u8(4).u8(0x02).u16(60).utf8("hilt");
        })
        .build()
}

/// Connects the client, sends `bad` after CONNACK, and passes if the client closes the
/// connection within its response time.
pub async fn must_close(
    ctx: &Ctx,
    version: Version,
    bad: Vec<u8>,
    rule: hilt_core::SpecRef,
    what: &str,
) -> hilt_runner::Outcome {
    let deadline = Instant::now() + DEADLINE;
    let s = Stimulus::new(ctx);
    let (mut session, _) =
        Session::open_accepted(ctx, version, ANY, &s, connack(Properties::new()), deadline).await?;
    // Let the client finish its start (SUBSCRIBE and the like) first.
    let settle = Instant::now() + session.bench.response.min(Duration::from_millis(300));
    serve(
        &mut session.conn,
        settle,
        |_| false,
        |g| !matches!(g, Got::Packet { .. }),
    )
    .await?;
    if !matches!(session.conn.log.last(), None | Some(Got::Packet { .. })) {
        return Err(Failure::error(
            "the client ended its connection before hilt's stimulus",
        ));
    }
    let sent = Instant::now();
    session.conn.send_raw(&bad).await?;
    expect_close(ctx, &mut session, sent, rule, what).await
}

/// Reads (answering as a broker) until the client closes, and fails with `rule` when
/// it has not within its response time of `since`.
pub async fn expect_close(
    ctx: &Ctx,
    session: &mut Session,
    since: Instant,
    rule: hilt_core::SpecRef,
    what: &str,
) -> hilt_runner::Outcome {
    let until = since + session.bench.response;
    let mut closed = None;
    serve(
        &mut session.conn,
        until,
        |_| false,
        |g| match g {
            Got::Closed { at, reset } => {
                closed = Some((*at, *reset));
                true
            }
            _ => false,
        },
    )
    .await?;
    match closed {
        Some((at, reset)) => {
            ctx.note(format!(
                "the client closed the connection ({}) {} after {what}",
                if reset { "reset" } else { "FIN" },
                secs(at - since)
            ));
            Ok(())
        }
        None => {
            let sent: Vec<String> = session
                .conn
                .log
                .iter()
                .filter(|g| g.at() >= since)
                .map(Got::describe)
                .collect();
            Err(Failure::fail(
                rule,
                format!(
                    "after {what}, the client kept the connection open for {} (it sent: {})",
                    secs(session.bench.response),
                    if sent.is_empty() {
                        "nothing".into()
                    } else {
                        sent.join(", ")
                    }
                ),
            ))
        }
    }
}

fn close_test(
    version: Version,
    id: &str,
    title: &str,
    bad: Vec<u8>,
    rule: hilt_core::SpecRef,
    covers: Vec<hilt_core::SpecRef>,
    what: &'static str,
) -> TestCase {
    let frame = bad.clone();
    tc(version, id, title, move |ctx: Ctx, version| {
        let bad = bad.clone();
        async move { must_close(&ctx, version, bad, rule, what).await }
    })
    .covers(&covers)
    .timeout(BOUND)
    .control(hide_from_client(
        &format!("{what} never reaches the client, as if it ignored it"),
        frame,
    ))
}

pub fn tests(version: Version) -> Vec<TestCase> {
    let mut v = vec![
        close_test(
            version,
            "fault.pubrel-flags-close",
            "A PUBREL from the server with flags 0000 is malformed: the client closes the connection",
            pubrel_bad_flags(),
            spec(version, "MQTT-3.6.1-1", "MQTT-2.2.2-2"),
            specs(version, &["MQTT-3.6.1-1"], &["MQTT-2.2.2-2", "MQTT-3.6.1-1"]),
            "a PUBREL with flags 0000",
        ),
        close_test(
            version,
            "fault.utf8-close",
            "A PUBLISH whose Topic Name holds an encoded surrogate (ill-formed UTF-8) makes the client close the connection",
            bad_utf8(version),
            spec(version, "MQTT-1.5.4-1", "MQTT-1.5.3-1"),
            specs(version, &["MQTT-1.5.4-1"], &["MQTT-1.5.3-1"]),
            "a PUBLISH whose topic holds ED A0 80 (U+D800)",
        ),
        close_test(
            version,
            "fault.null-char-close",
            "A PUBLISH whose Topic Name holds U+0000 makes the client close the connection",
            null_char(version),
            spec(version, "MQTT-1.5.4-2", "MQTT-1.5.3-2"),
            specs(version, &["MQTT-1.5.4-2", "MQTT-4.7.3-2"], &["MQTT-1.5.3-2", "MQTT-4.7.3-2"]),
            "a PUBLISH whose topic holds U+0000",
        ),
        tc(
            version,
            "reconnect.after-fin",
            "When the server closes the connection (FIN), the client reconnects and its first packet is CONNECT",
            |ctx: Ctx, version| async move { reconnect(ctx, version, false).await },
        )
        .covers(&specs(version, &["MQTT-3.1.0-1"], &["MQTT-3.1.0-1"]))
        .needs(&["mqtt.client.reconnect"])
        .timeout(DEVICE_START + Duration::from_secs(40))
        .control(Control::new("a PINGREQ reaches hilt before each CONNECT of the client", || {
            vec![Rule::new(Dir::ToServer, Match::kind("CONNECT"), Action::InjectBefore(vec![0xc0, 0x00]))]
        })),
        tc(
            version,
            "reconnect.after-rst",
            "When the connection is reset, the client reconnects and its first packet is CONNECT",
            |ctx: Ctx, version| async move { reconnect(ctx, version, true).await },
        )
        .covers(&specs(version, &["MQTT-3.1.0-1"], &["MQTT-3.1.0-1"]))
        .needs(&["mqtt.client.reconnect"])
        .timeout(DEVICE_START + Duration::from_secs(40))
        .control(Control::new("a PINGREQ reaches hilt before each CONNECT of the client", || {
            vec![Rule::new(Dir::ToServer, Match::kind("CONNECT"), Action::InjectBefore(vec![0xc0, 0x00]))]
        })),
    ];
    if version == Version::V311 {
        v.push(close_test(
            version,
            "fault.qos3-close",
            "A PUBLISH from the server with both QoS bits set makes the client close the connection",
            qos3(version),
            spec(version, "MQTT-3.3.1-4", "MQTT-3.3.1-4"),
            specs(version, &[], &["MQTT-3.3.1-4", "MQTT-4.8.0-1"]),
            "a PUBLISH with QoS 3",
        ));
        v.push(close_test(
            version,
            "fault.unexpected-connect-close",
            "A CONNECT from the server is a protocol violation: the client closes the connection",
            connect_to_client(),
            spec(version, "MQTT-4.8.0-1", "MQTT-4.8.0-1"),
            specs(version, &[], &["MQTT-4.8.0-1"]),
            "a CONNECT sent to the client",
        ));
    }
    v
}

/// Closes (or resets) the client's connection after CONNACK and judges the reconnection.
async fn reconnect(ctx: Ctx, version: Version, reset: bool) -> hilt_runner::Outcome {
    let deadline = Instant::now() + DEVICE_START + Duration::from_secs(30);
    let s = Stimulus::new(&ctx);
    let (mut session, _) =
        Session::open_accepted(&ctx, version, ANY, &s, connack(Properties::new()), deadline)
            .await?;
    let settle = Instant::now() + session.bench.response.min(Duration::from_millis(300));
    serve(
        &mut session.conn,
        settle,
        |_| false,
        |g| !matches!(g, Got::Packet { .. }),
    )
    .await?;
    if reset {
        session.conn.reset();
    } else {
        session.conn.close().await;
    }
    let dropped = Instant::now();
    let Some(mut conn) = session.reconnection(deadline).await? else {
        return Err(Failure::inconclusive(format!(
            "the client did not reconnect within {} of the {}; {}",
            secs(deadline - dropped),
            if reset { "reset" } else { "close" },
            session.end_device().await
        )));
    };
    let first = conn
        .next(deadline)
        .await?
        .ok_or_else(|| Failure::error("the client reconnected but sent nothing"))?;
    let c = first_connect(&first, version)?;
    ctx.note(format!(
        "reconnected {} after the {}, clean {}",
        secs(first.at() - dropped),
        if reset { "reset" } else { "close" },
        c.clean_start
    ));
    Ok(())
}
