//! CONNECT and CONNACK: the first exchange of every connection.
//!
//! Also home to the few helpers the connection-lifecycle files (keepalive, session_state,
//! will) share: the version's capability, its statement ids, and a CONNECT's bytes.

use std::future::Future;

use hilt_core::SpecRef;
use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::mqtt::{
    Connect, Packet, PacketType, Properties, Property, PropertyId, QoS, ReasonCode, Version,
};

use super::controls::{self, Control};
use super::packets::{connect, retained, subscribe};
use super::session::{RawNext, Session};
use super::{SUITE, v5, v311};

pub(super) use super::{VERSIONS, cap, spec};

/// A test of `version` in `area`, with the id `mqtt.<v5|v311>.<area>.<name>`, tagged with
/// its area and needing its version.
pub(super) fn case<F, Fut>(
    version: Version,
    area: &'static str,
    name: &str,
    title: &str,
    body: F,
) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    TestCase::new(
        SUITE,
        format!("mqtt.{}.{area}.{name}", super::tag(version)),
        title,
        body,
    )
    .tags(&[area])
    .needs(&[cap(version)])
}

/// `c` as `version` writes it.
pub(super) fn frame(version: Version, c: &Connect) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    Packet::Connect(c.clone()).emit(version, &mut out);
    out
}

// Offsets in a CONNECT frame shorter than 128 bytes (one-byte Remaining Length): the
// protocol name's four letters, the protocol level, the connect flags.
const NAME_AT: usize = 4;
const LEVEL_AT: usize = 8;
const FLAGS_AT: usize = 9;
const USER_NAME_FLAG: u8 = 0x80;

/// The frame of `connect(id)` with `byte` at `offset`: a CONNECT broken in one place.
fn broken(version: Version, c: &Connect, offset: usize, bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut f = frame(version, c);
    if f.get(1).is_none_or(|rl| rl & 0x80 != 0) {
        return Err(Failure::error(
            "the CONNECT to break is too long for the fixed offsets",
        ));
    }
    f[offset..offset + bytes.len()].copy_from_slice(bytes);
    Ok(f)
}

/// The control that mends what [`broken`] broke: the broker sees a valid CONNECT.
fn mend(what: &str, offset: usize, bytes: Vec<u8>) -> Control {
    Control::new(what, move || {
        vec![Rule::new(
            Dir::ToServer,
            Match::kind("CONNECT"),
            Action::Patch {
                offset,
                bytes: bytes.clone(),
            },
        )]
    })
}

/// How a broker must answer a CONNECT it has to refuse.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// A CONNACK with this return code, then the close.
    Connack(u8),
    /// Perhaps a CONNACK with a refusal (in either version's layout), then the close.
    MaybeConnack,
    /// The close, without a CONNACK.
    Close,
}

/// Judges the broker's answer to a CONNECT it must refuse, from the raw frames (a refusal
/// may be written in a layout the test does not speak): never an accepting CONNACK,
/// the CONNACK `answer` asks for (`connack_rule`), then the close (`close_rule`).
async fn refused(
    s: &mut Session,
    answer: Answer,
    connack_rule: SpecRef,
    close_rule: SpecRef,
    what: &str,
) -> Outcome {
    let within = s.response_timeout();
    let session_present_rule = spec(s.version, "MQTT-3.2.2-6", "MQTT-3.2.2-4");
    match s.next_frame(within).await? {
        RawNext::Frame(f) if f[0] == (PacketType::ConnAck as u8) << 4 && f.len() >= 4 => {
            let (flags, code) = (f[2], f[3]);
            if code == 0 {
                return Err(Failure::fail(
                    connack_rule,
                    format!("{what}, yet the broker accepted it (CONNACK 0x00)"),
                ));
            }
            match answer {
                Answer::Close => {
                    return Err(Failure::fail(
                        connack_rule,
                        format!(
                            "{what}: the broker must close without a CONNACK, it sent CONNACK {code:#04x}"
                        ),
                    ));
                }
                Answer::Connack(want) if code != want => {
                    return Err(Failure::fail(
                        connack_rule,
                        format!("{what}: CONNACK return code {code:#04x}, not {want:#04x}"),
                    ));
                }
                _ => {}
            }
            if flags & 1 != 0 {
                return Err(Failure::fail(
                    session_present_rule,
                    format!("CONNACK {code:#04x} refuses, yet has Session Present 1"),
                ));
            }
        }
        RawNext::Frame(f) => {
            return Err(Failure::fail(
                connack_rule,
                format!(
                    "{what}, yet the broker answered with a packet of type {} ({} bytes)",
                    f[0] >> 4,
                    f.len()
                ),
            ));
        }
        RawNext::Closed => {
            return match answer {
                Answer::Connack(want) => Err(Failure::fail(
                    connack_rule,
                    format!(
                        "{what}: the broker closed the connection without the CONNACK {want:#04x} it owes"
                    ),
                )),
                _ => Ok(()),
            };
        }
        RawNext::Silent => {
            return Err(Failure::fail(
                close_rule,
                format!("{what}, yet the broker neither answered nor closed within {within:?}"),
            ));
        }
    }
    match s.next_frame(within).await? {
        RawNext::Closed => Ok(()),
        RawNext::Frame(f) => Err(Failure::fail(
            close_rule,
            format!(
                "{what}: after its refusal the broker sent a packet of type {} instead of closing",
                f[0] >> 4
            ),
        )),
        RawNext::Silent => Err(Failure::fail(
            close_rule,
            format!("{what}: the broker refused it but kept the connection open for {within:?}"),
        )),
    }
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for (version, tag, refs, rule) in [
        (
            Version::V5,
            "v5",
            [v5("MQTT-3.2.0-1"), v5("MQTT-3.2.2-2")],
            v5("MQTT-3.2.2-2"),
        ),
        (
            Version::V311,
            "v311",
            [v311("MQTT-3.2.0-1"), v311("MQTT-3.2.2-1")],
            v311("MQTT-3.2.2-1"),
        ),
    ] {
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.connect.clean-start-no-session-present"),
                "CONNACK is the first packet and, after a clean start, Session Present is 0",
                move |ctx| async move {
                    let (s, ack) =
                        Session::connect_with(&ctx, version, connect(&ctx.unique("c")), refs[0])
                            .await?;
                    ctx.ensure(!ack.session_present, rule, || {
                        "Session Present is 1 after a clean start".into()
                    })?;
                    ctx.ensure(ack.code == ReasonCode::SUCCESS, refs[0], || {
                        format!("CONNACK refused a plain CONNECT: {:#04x}", ack.code.0)
                    })?;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&refs)
            .tags(&["connect"])
            .needs(&[cap(version)])
            .control(controls::mutate_to_client(
                version,
                "CONNACK",
                "the broker claims a session after a clean start",
                |p| {
                    if let Packet::ConnAck(a) = p {
                        a.session_present = true;
                    }
                },
            )),
        );

        let second_connect_rule = match version {
            Version::V5 => v5("MQTT-3.1.0-2"),
            Version::V311 => v311("MQTT-3.1.0-2"),
        };
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.connect.second-connect-is-a-protocol-error"),
                "A second CONNECT on the same connection makes the broker close it",
                move |ctx| async move {
                    let id = ctx.unique("c");
                    let (mut s, _) = Session::connected(&ctx, version, connect(&id)).await?;
                    s.send(&Packet::Connect(connect(&id))).await?;
                    s.expect_close(second_connect_rule, "a second CONNECT was sent")
                        .await
                },
            )
            .covers(&[second_connect_rule])
            .tags(&["connect"])
            .needs(&[cap(version)])
            .control(controls::Control::new(
                "the broker never sees the second CONNECT",
                || vec![Rule::new(Dir::ToServer, Match::kind("CONNECT"), Action::Drop).nth(2)],
            )),
        );
    }
    for version in VERSIONS {
        t.extend(lifecycle_tests(version));
    }
    t.push(v311_empty_client_id_needs_clean_session());
    t.push(v5_connack_reserved_flags());
    t
}

fn lifecycle_tests(version: Version) -> Vec<TestCase> {
    let r = move |v5_id, v311_id| spec(version, v5_id, v311_id);
    let mut t = Vec::new();

    // Before CONNECT the broker knows no session to act for: anything else is a protocol
    // violation it answers by closing, never by processing it.
    let first = r("MQTT-3.2.0-1", "MQTT-3.2.0-1");
    let closes = r("MQTT-4.13.1-1", "MQTT-4.8.0-1");
    t.push(
        case(
            version,
            "connect",
            "first-packet-must-be-connect",
            "The broker closes a connection whose first packet is not CONNECT",
            move |ctx| async move {
                let mut s = Session::open(&ctx, version).await?;
                s.send(&subscribe(1, &ctx.topic("t"), QoS::AtMostOnce))
                    .await?;
                s.expect_close(closes, "the first packet was SUBSCRIBE, not CONNECT")
                    .await
            },
        )
        .covers(&[first, closes])
        .control(controls::black_hole_after(
            0,
            "the broker hangs on a connection that did not start with CONNECT",
        )),
    );

    // A protocol level no one has defined: the broker cannot speak it.
    let (level_rule, level_answer, level_refs) = match version {
        Version::V5 => (
            v5("MQTT-3.1.2-2"),
            Answer::MaybeConnack,
            vec![v5("MQTT-3.1.2-2"), v5("MQTT-3.2.2-7")],
        ),
        Version::V311 => (
            v311("MQTT-3.1.2-2"),
            Answer::Connack(0x01),
            vec![
                v311("MQTT-3.1.2-2"),
                v311("MQTT-3.2.2-4"),
                v311("MQTT-3.2.2-5"),
            ],
        ),
    };
    t.push(
        case(
            version,
            "connect",
            "unsupported-protocol-level-refused",
            match version {
                Version::V5 => "A CONNECT with an unknown Protocol Version is refused (CONNACK 0x84 at most) and the connection closed",
                Version::V311 => "A CONNECT with an unsupported Protocol Level gets CONNACK 0x01, then the broker disconnects",
            },
            move |ctx| async move {
                let bad = broken(version, &connect(&ctx.unique("c")), LEVEL_AT, &[6])?;
                let mut s = Session::open(&ctx, version).await?;
                s.send_raw(&bad).await?;
                refused(&mut s, level_answer, level_rule, level_rule, "the CONNECT declared protocol level 6").await
            },
        )
        .covers(&level_refs)
        .control(mend("the broker sees the protocol level it speaks", LEVEL_AT, vec![version.level()])),
    );

    // A wrong protocol name: 5.0 requires the close; 3.1.1 only forbids going on as 3.1.1
    // (the broker may speak some other protocol on the port).
    let name_rule = r("MQTT-3.1.2-1", "MQTT-3.1.2-1");
    t.push(
        case(
            version,
            "connect",
            "wrong-protocol-name-refused",
            match version {
                Version::V5 => "A CONNECT whose protocol name is not \"MQTT\" is refused and the connection closed",
                Version::V311 => "A CONNECT whose protocol name is not \"MQTT\" is not processed as MQTT 3.1.1",
            },
            move |ctx| async move {
                let bad = broken(version, &connect(&ctx.unique("c")), NAME_AT, b"MQTX")?;
                let mut s = Session::open(&ctx, version).await?;
                s.send_raw(&bad).await?;
                let what = "the protocol name was \"MQTX\"";
                if version == Version::V5 {
                    return refused(&mut s, Answer::MaybeConnack, name_rule, name_rule, what).await;
                }
                match s.next_frame(s.response_timeout()).await? {
                    RawNext::Frame(f) if f.starts_with(&[0x20, 0x02]) && f.get(3) == Some(&0) => {
                        Err(Failure::fail(name_rule, format!("{what}, yet the broker accepted it as MQTT 3.1.1 (CONNACK 0x00)")))
                    }
                    _ => Ok(()),
                }
            },
        )
        .covers(&[name_rule])
        .control(mend("the broker sees the protocol name MQTT", NAME_AT, b"MQTT".to_vec())),
    );

    // The reserved connect flag.
    let (reserved_answer, reserved_refs) = match version {
        Version::V5 => (
            Answer::MaybeConnack,
            vec![v5("MQTT-3.1.2-3"), v5("MQTT-3.1.4-1")],
        ),
        Version::V311 => (
            Answer::Close,
            vec![
                v311("MQTT-3.1.2-3"),
                v311("MQTT-3.1.4-1"),
                v311("MQTT-3.2.2-6"),
            ],
        ),
    };
    let reserved_rule = r("MQTT-3.1.2-3", "MQTT-3.1.2-3");
    t.push(
        case(
            version,
            "connect",
            "reserved-flag-set-closes",
            "A CONNECT with the reserved connect flag set makes the broker close the connection",
            move |ctx| async move {
                let bad = broken(version, &connect(&ctx.unique("c")), FLAGS_AT, &[0x03])?;
                let mut s = Session::open(&ctx, version).await?;
                s.send_raw(&bad).await?;
                refused(
                    &mut s,
                    reserved_answer,
                    reserved_rule,
                    reserved_rule,
                    "the CONNECT set the reserved flag",
                )
                .await
            },
        )
        .covers(&reserved_refs)
        .control(mend(
            "the broker sees the reserved flag clear",
            FLAGS_AT,
            vec![0x02],
        )),
    );

    // User Name and Password flags announce payload fields; a flag without its field (and,
    // in 3.1.1, a password without a user name) is a CONNECT that does not conform.
    let (flags_answer, flags_refs) = match version {
        Version::V5 => (Answer::MaybeConnack, vec![v5("MQTT-3.1.4-1")]),
        Version::V311 => (
            Answer::Close,
            vec![v311("MQTT-3.1.4-1"), v311("MQTT-3.2.2-6")],
        ),
    };
    let flags_rule = r("MQTT-3.1.4-1", "MQTT-3.1.4-1");
    t.push(
        case(
            version,
            "connect",
            "user-name-password-flags-checked",
            match version {
                Version::V5 => "A CONNECT whose User Name Flag announces a missing user name is refused and the connection closed",
                Version::V311 => "A CONNECT with a User Name Flag but no user name, or a password without a user name, is closed without CONNACK",
            },
            move |ctx| async move {
                let c = connect(&ctx.unique("c"));
                let bad = broken(version, &c, FLAGS_AT, &[0x02 | USER_NAME_FLAG])?;
                let mut s = Session::open(&ctx, version).await?;
                s.send_raw(&bad).await?;
                refused(&mut s, flags_answer, flags_rule, flags_rule, "the User Name Flag was set without a user name").await?;
                if version == Version::V311 {
                    // MQTT-3.1.2-22: no password without a user name in 3.1.1 (5.0 allows it).
                    let lone = Connect {
                        password: Some(b"secret".to_vec()),
                        ..c.clone()
                    };
                    let mut s = Session::open(&ctx, version).await?;
                    s.send_raw(&frame(version, &lone)).await?;
                    refused(&mut s, flags_answer, flags_rule, flags_rule, "the Password Flag was set without the User Name Flag").await?;
                }
                Ok(())
            },
        )
        .covers(&flags_refs)
        .control(mend("the broker sees no user name or password flag", FLAGS_AT, vec![0x02])),
    );

    // A zero-length client id with a clean start: the broker assigns one unique to the
    // connection, or refuses the id with the right code.
    let unique_rule = r("MQTT-3.1.3-6", "MQTT-3.1.3-6");
    let refusal_rule = r("MQTT-3.1.3-8", "MQTT-3.1.3-9");
    let (empty_refs, empty_control) = match version {
        Version::V5 => (
            vec![
                v5("MQTT-3.1.3-6"),
                v5("MQTT-3.1.3-7"),
                v5("MQTT-3.1.3-8"),
                v5("MQTT-3.2.2-16"),
            ],
            controls::mutate_to_client(
                version,
                "CONNACK",
                "the broker assigns a client id but does not say which",
                |p| {
                    if let Packet::ConnAck(a) = p {
                        a.properties
                            .0
                            .retain(|p| p.id() != PropertyId::AssignedClientIdentifier);
                    }
                },
            ),
        ),
        Version::V311 => (
            vec![v311("MQTT-3.1.3-6"), v311("MQTT-3.1.3-9")],
            controls::mutate_to_server(
                version,
                "CONNECT",
                "the broker gives every empty client id the same identifier",
                |p| {
                    if let Packet::Connect(c) = p
                        && c.client_id.is_empty()
                    {
                        c.client_id = "hiltzeroidcontrol".into();
                    }
                },
            ),
        ),
    };
    t.push(
        case(
            version,
            "connect",
            "empty-client-id-assigned",
            match version {
                Version::V5 => "An empty client id with Clean Start gets a unique Assigned Client Identifier, or is refused and closed",
                Version::V311 => "An empty client id with Clean Session is given a unique identity, or refused with 0x02 and closed",
            },
            move |ctx| async move {
                let anonymous = || connect("");
                let (mut first, ack) = Session::connect_with(&ctx, version, anonymous(), r("MQTT-3.2.0-1", "MQTT-3.2.0-1")).await?;
                if ack.code != ReasonCode::SUCCESS {
                    // Refusing an empty client id is allowed, with the right code.
                    let ok = match version {
                        Version::V5 => ack.code.0 >= 0x80,
                        Version::V311 => ack.code.0 == 0x02,
                    };
                    ctx.ensure(ok, refusal_rule, || format!("an empty client id was refused with {:#04x}", ack.code.0))?;
                    return first.await_close(refusal_rule, "the broker refused an empty client id").await;
                }
                let assigned = |ack: &hilt_wire::mqtt::ConnAck| ack.properties.assigned_client_identifier().map(str::to_owned);
                let one = assigned(&ack);
                if version == Version::V5 {
                    ctx.ensure(one.as_deref().is_some_and(|id| !id.is_empty()), v5("MQTT-3.1.3-7"), || {
                        "CONNACK accepting an empty client id carries no Assigned Client Identifier".into()
                    })?;
                }
                let (second, ack2) = Session::connected(&ctx, version, anonymous()).await?;
                if version == Version::V5 {
                    let two = assigned(&ack2);
                    ctx.ensure(two.is_some() && two != one, v5("MQTT-3.2.2-16"), || {
                        format!("two connections with empty client ids were both assigned {one:?}")
                    })?;
                }
                // Had both been given the same identity, the second would have taken
                // the first one's session over and closed it.
                first.barrier(unique_rule).await.map_err(|e| match e {
                    Failure::Fail { message, .. } => Failure::fail(
                        unique_rule,
                        format!("a second connection with an empty client id ended the first: {message}"),
                    ),
                    other => other,
                })?;
                first.disconnect().await;
                second.disconnect().await;
                Ok(())
            },
        )
        .covers(&empty_refs)
        .control(empty_control),
    );

    // The longest client id every broker must accept.
    let id_rule = r("MQTT-3.1.3-5", "MQTT-3.1.3-5");
    let accept_rule = r("MQTT-3.1.4-5", "MQTT-3.1.4-4");
    t.push(
        case(
            version,
            "connect",
            "client-id-23-alphanumerics-accepted",
            "A client id of 23 letters and digits is accepted with CONNACK 0x00",
            move |ctx| async move {
                let id = ctx.unique("abcdefghijklmnopqrstuvwxyz0123456789");
                if id.len() != 23 {
                    return Err(Failure::error(format!(
                        "could not build a 23-character client id: {id:?}"
                    )));
                }
                let (s, ack) =
                    Session::connect_with(&ctx, version, connect(&id), accept_rule).await?;
                ctx.ensure(ack.code == ReasonCode::SUCCESS, id_rule, || {
                    format!("the client id {id:?} was refused with {:#04x}", ack.code.0)
                })?;
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[id_rule, accept_rule])
        .control(controls::mutate_to_client(
            version,
            "CONNACK",
            "the broker refuses the client id",
            move |p| {
                if let Packet::ConnAck(a) = p {
                    a.code = ReasonCode(if version == Version::V5 { 0x85 } else { 0x02 });
                }
            },
        )),
    );

    // Packets pipelined behind a refused CONNECT must be dropped unprocessed: here a
    // retained PUBLISH, which would otherwise stay visible to any later subscriber.
    let after_rule = r("MQTT-3.1.4-6", "MQTT-3.1.4-5");
    t.push(
        case(
            version,
            "connect",
            "nothing-processed-after-refused-connect",
            "Packets sent behind a refused CONNECT are not processed",
            move |ctx| async move {
                let topic = ctx.topic("refused");
                let mut bytes = broken(version, &connect(&ctx.unique("c")), LEVEL_AT, &[6])?;
                retained(&topic, b"must not be stored", QoS::AtMostOnce, None).emit(version, &mut bytes);
                let mut s = Session::open(&ctx, version).await?;
                s.send_raw(&bytes).await?;
                // Whatever the refusal looks like (other tests judge it), read it to the end.
                loop {
                    match s.next_frame(s.response_timeout()).await? {
                        RawNext::Frame(f) if f.starts_with(&[0x20]) && f.get(3) == Some(&0) => {
                            return Err(Failure::fail(level_rule, "a CONNECT with protocol level 6 was accepted (CONNACK 0x00)"));
                        }
                        RawNext::Frame(_) => {}
                        RawNext::Closed | RawNext::Silent => break,
                    }
                }
                let (mut checker, _) = Session::connected(&ctx, version, connect(&ctx.unique("k"))).await?;
                checker.send(&subscribe(1, &topic, QoS::AtMostOnce)).await?;
                let got = checker.barrier(after_rule).await?;
                match got.iter().find(|p| matches!(p, Packet::Publish(_))) {
                    Some(p) => Err(Failure::fail(
                        after_rule,
                        format!(
                            "the retained PUBLISH sent behind the refused CONNECT was processed: a new subscriber got {}",
                            super::session::summarize(p, version)
                        ),
                    )),
                    None => {
                        checker.disconnect().await;
                        Ok(())
                    }
                }
            },
        )
        .covers(&[after_rule])
        .needs(&["mqtt.retain"])
        .control(mend("the broker sees a CONNECT it accepts", LEVEL_AT, vec![version.level()])),
    );
    t
}

/// 3.1.1 only: a session that outlives the connection needs a client id to find it again.
fn v311_empty_client_id_needs_clean_session() -> TestCase {
    let version = Version::V311;
    let refs = [
        v311("MQTT-3.1.3-8"),
        v311("MQTT-3.2.2-4"),
        v311("MQTT-3.2.2-5"),
    ];
    case(
        version,
        "connect",
        "empty-client-id-without-clean-session-refused",
        "An empty client id with Clean Session 0 gets CONNACK 0x02, then the broker closes the connection",
        move |ctx| async move {
            let c = Connect {
                clean_start: false,
                ..connect("")
            };
            let mut s = Session::open(&ctx, version).await?;
            s.send(&Packet::Connect(c)).await?;
            refused(&mut s, Answer::Connack(0x02), refs[0], refs[2], "the client id was empty with Clean Session 0").await
        },
    )
    .covers(&refs)
    .control(controls::mutate_to_server(version, "CONNECT", "the broker sees Clean Session 1", |p| {
        if let Packet::Connect(c) = p {
            c.clean_start = true;
        }
    }))
}

/// 5.0 only (3.1.1 numbers no such statement): CONNACK's reserved flag bits. The strict
/// decoder judges them on every CONNACK; this test makes it the point, with a clean start
/// and a resumable one.
fn v5_connack_reserved_flags() -> TestCase {
    let version = Version::V5;
    let refs = [v5("MQTT-3.2.2-1")];
    case(
        version,
        "connect",
        "connack-reserved-flags-zero",
        "CONNACK's Connect Acknowledge Flags bits 7-1 are zero",
        move |ctx| async move {
            let id = ctx.unique("c");
            let keep = Connect {
                clean_start: false,
                properties: Properties::default().with(Property::SessionExpiryInterval(5)),
                ..connect(&id)
            };
            let (s, _) = Session::connect_with(&ctx, version, keep, refs[0]).await?;
            s.disconnect().await;
            // Resumed (Session Present 1), and ended at this disconnect (no expiry interval).
            let resume = Connect {
                clean_start: false,
                ..connect(&id)
            };
            let (s, _) = Session::connect_with(&ctx, version, resume, refs[0]).await?;
            s.disconnect().await;
            Ok(())
        },
    )
    .covers(&refs)
    .control(Control::new(
        "the broker sets a reserved CONNACK flag",
        || {
            vec![Rule::new(
                Dir::ToClient,
                Match::kind("CONNACK"),
                Action::Patch {
                    offset: 2,
                    bytes: vec![0x02],
                },
            )]
        },
    ))
}
