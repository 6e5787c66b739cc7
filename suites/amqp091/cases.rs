//! The tests, grouped by class. Each names the rules it covers, its negative control,
//! and uses names unique to its attempt (`ctx.unique`) for every queue and exchange.

use std::future::Future;

use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::amqp091::{
    ClientConfig, ClientEvent, FieldTable, FieldValue, Method, MethodId, Properties, reply,
};

use super::controls::{self, Control};
use super::session::{Next, Session, describe};
use super::{CAP, SUITE, rule};

fn case<F, Fut>(
    name: &'static str,
    title: &str,
    covers: &[&'static str],
    control: Control,
    body: F,
) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let refs: Vec<_> = covers.iter().map(|id| rule(id)).collect();
    TestCase::new(SUITE, format!("amqp091.{name}"), title, body)
        .covers(&refs)
        .needs(&[CAP])
        .tags(&[name.split('.').next().unwrap_or(name)])
        .control(control)
}

/// A test whose body sends one method after `setup` and requires an exception with
/// `code`; its control changes the broker's reply codes.
fn exception_case<S, Fut>(
    name: &'static str,
    title: &str,
    covers: &[&'static str],
    code: u16,
    setup: S,
) -> TestCase
where
    S: Fn(Ctx, Session, u16) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<(Session, u16, Method), Failure>> + Send + 'static,
{
    let wrong = if code == reply::PRECONDITION_FAILED {
        reply::NOT_FOUND
    } else {
        reply::PRECONDITION_FAILED
    };
    let first = covers[0];
    case(
        name,
        title,
        covers,
        controls::reply_code(wrong),
        move |ctx| {
            let setup = setup.clone();
            async move {
                let (s, ch) = Session::with_channel(&ctx).await?;
                let (mut s, ch, m) = setup(ctx.clone(), s, ch).await?;
                s.refused(ch, m, Some(code), rule(first)).await?;
                s.close().await;
                Ok(())
            }
        },
    )
}

fn q(name: &str) -> Method {
    Method::new(MethodId::QUEUE_DECLARE).with("queue", name)
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.extend(connection());
    t.extend(exchange());
    t.extend(queue());
    t.extend(basic());
    t.extend(tx_and_extensions());
    t
}

fn connection() -> Vec<TestCase> {
    let mut t = Vec::new();
    for (name, header, covers) in [
        (
            "connection.protocol-name",
            *b"AMQX\x00\x00\x09\x01",
            &[
                "AMQP091-connection-start-protocol-name",
                "AMQP091-frame-protocol-header",
            ][..],
        ),
        (
            "connection.server-support",
            *b"AMQP\x00\x00\x09\x02",
            &["AMQP091-connection-start-server-support"][..],
        ),
    ] {
        let first = covers[0];
        t.push(case(
            name,
            "A header the server cannot speak is answered with a valid header of a version no higher than asked, then the socket closes",
            covers,
            Control::new("the broker's header names version 0-0-9-3", || {
                vec![hilt_net::interposer::Rule::new(
                    hilt_net::interposer::Dir::ToClient,
                    hilt_net::interposer::Match::kind("protocol-header"),
                    hilt_net::interposer::Action::Patch { offset: 4, bytes: vec![0, 0, 9, 3] },
                )]
            }),
            move |ctx| async move {
                let mut s = Session::tcp(&ctx, ClientConfig::default()).await?;
                s.start_with_header(&header).await;
                let r = rule(first);
                let seen = s.expect_socket_close(s.response, r, "the header was refused").await?;
                match seen.first() {
                    Some(ClientEvent::ProtocolRefused(h)) if &h.name == b"AMQP" && h.version <= [0, 0, 9, 1] => Ok(()),
                    other => Err(Failure::fail(r, format!("expected a valid protocol header no higher than 0-0-9-1 before the close, got {other:?}"))),
                }
            },
        ));
    }
    t.push(case(
        "connection.client-support",
        "Connection.Start offers version 0-9, the one the client asked for (a client that cannot handle the offer must close)",
        &["AMQP091-connection-start-client-support"],
        controls::rewrite("connection.start", "Connection.Start offers version 0-1", |m| m.set("version-minor", 1u8)),
        |ctx| async move {
            let (_s, m) = Session::manual_start(&ctx).await?;
            let v = (m.int("version-major"), m.int("version-minor"));
            ctx.ensure(v == (0, 9), rule("AMQP091-connection-start-client-support"), || {
                format!("the server offers {}-{}, which a 0-9-1 client cannot handle", v.0, v.1)
            })
        },
    ));
    t.push(case(
        "connection.server-properties",
        "Connection.Start's server-properties name host, product, version, platform, copyright and information",
        &["AMQP091-connection-start-server-properties-required-fields"],
        controls::rewrite("connection.start", "server-properties is empty", |m| m.set("server-properties", FieldTable::new())),
        |ctx| async move {
            let r = rule("AMQP091-connection-start-server-properties-required-fields");
            let (_s, m) = Session::manual_start(&ctx).await?;
            let props = m.table("server-properties").cloned().unwrap_or_default();
            let missing: Vec<&str> = ["host", "product", "version", "platform", "copyright", "information"]
                .into_iter()
                .filter(|k| props.get(k).is_none())
                .collect();
            ctx.ensure(missing.is_empty(), r, || format!("server-properties lack {missing:?}: {props}"))
        },
    ));
    t.push(case(
        "connection.locales",
        "Connection.Start's locales include en_US",
        &["AMQP091-connection-start-locales-required-support"],
        controls::rewrite("connection.start", "locales offers only fr_FR", |m| {
            m.set(
                "locales",
                hilt_wire::amqp091::Value::LongStr(b"fr_FR".to_vec()),
            )
        }),
        |ctx| async move {
            let r = rule("AMQP091-connection-start-locales-required-support");
            let (_s, m) = Session::manual_start(&ctx).await?;
            let locales = m.text("locales");
            ctx.ensure(locales.split(' ').any(|l| l == "en_US"), r, || {
                format!("locales are {locales:?}")
            })
        },
    ));
    t.push(case(
        "connection.frame-min-size-accepted",
        "Before tuning, the server accepts a Start-Ok frame of exactly frame-min-size (4096) octets",
        &["AMQP091-connection-tune-frame-max-minimum", "AMQP091-connection-tune-ok-frame-max-minimum"],
        controls::drop_to_client("connection.tune", "Connection.Tune never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-connection-tune-frame-max-minimum");
            // Pad client-properties until the Start-Ok frame is 4096 octets.
            let base = ClientConfig::default();
            let probe = hilt_wire::amqp091::Frame::method(0, start_ok(&base, "")).to_bytes().len();
            let pad = "x".repeat(4096 - probe - 1 - 1 - 4 - 5);
            let frame = hilt_wire::amqp091::Frame::method(0, start_ok(&base, &pad)).to_bytes();
            if frame.len() != 4096 {
                return Err(Failure::error(format!("the padded Start-Ok is {} octets", frame.len())));
            }
            let mut s = Session::manual(&ctx).await?;
            s.send_raw(&frame).await;
            match s.next(s.response).await? {
                Next::Event(ClientEvent::Method { method, .. }) if method.is(MethodId::CONNECTION_TUNE) => Ok(()),
                other => Err(Failure::fail(r, format!("a 4096-octet Start-Ok was not accepted: {}", describe(&other)))),
            }
        },
    ));
    t.push(case(
        "connection.mechanism-validity",
        "A Start-Ok naming a mechanism the server did not offer makes it close the socket without a Connection.Close",
        &["AMQP091-connection-start-ok-mechanism-validity"],
        controls::black_hole_after(1, "the broker neither answers nor closes"),
        |ctx| async move {
            let r = rule("AMQP091-connection-start-ok-mechanism-validity");
            let mut s = Session::manual(&ctx).await?;
            let bad = start_ok(&ClientConfig::default(), "").with("mechanism", "HILT-BOGUS");
            s.send_raw(&hilt_wire::amqp091::Frame::method(0, bad).to_bytes()).await;
            let seen = s.expect_socket_close(s.response * 2, r, "the mechanism was not offered").await?;
            match seen.iter().find(|e| !matches!(e, ClientEvent::Heartbeat)) {
                None => Ok(()),
                Some(e) => Err(Failure::fail(r, format!("the server sent {e:?} before closing, not a bare socket close"))),
            }
        },
    ));
    for (name, covers, field, value) in [
        (
            "connection.tune-ok-frame-max-above-offer",
            "AMQP091-connection-tune-ok-frame-max-upper-limit",
            "frame-max",
            1u32 << 30,
        ),
        (
            "connection.tune-ok-channel-max-above-offer",
            "AMQP091-connection-tune-ok-channel-max-upper-limit",
            "channel-max",
            65535,
        ),
    ] {
        t.push(case(
            name,
            "A Tune-Ok above the server's offer makes it close the socket without a negotiated close",
            &[covers],
            controls::black_hole_after(2, "the broker neither answers nor closes"),
            move |ctx| async move {
                let r = rule(covers);
                let mut s = Session::manual(&ctx).await?;
                s.send_raw(&hilt_wire::amqp091::Frame::method(0, start_ok(&ClientConfig::default(), "")).to_bytes()).await;
                let tune = match s.next(s.response).await? {
                    Next::Event(ClientEvent::Method { method, .. }) if method.is(MethodId::CONNECTION_TUNE) => method,
                    other => return Err(Failure::error(format!("no Connection.Tune: {}", describe(&other)))),
                };
                let mut ok = Method::new(MethodId::CONNECTION_TUNE_OK)
                    .with("channel-max", tune.int("channel-max"))
                    .with("frame-max", tune.int("frame-max"));
                if tune.int(field) >= u64::from(value) {
                    return Err(Failure::skip(format!("the server offers {field} {}", tune.int(field))));
                }
                ok.set(field, u64::from(value));
                let mut bytes = hilt_wire::amqp091::Frame::method(0, ok).to_bytes();
                bytes.extend(hilt_wire::amqp091::Frame::method(0, Method::new(MethodId::CONNECTION_OPEN).with("virtual-host", "/")).to_bytes());
                s.send_raw(&bytes).await;
                let seen = s.expect_socket_close(s.response * 2, r, &format!("Tune-Ok asked for {field} {value}")).await?;
                match seen.iter().find(|e| !matches!(e, ClientEvent::Heartbeat)) {
                    None => Ok(()),
                    Some(e) => Err(Failure::fail(r, format!("{field} {value} above the offer {}: the server sent {e:?} instead of closing the socket", tune.int(field)))),
                }
            },
        ));
    }
    t.push(case(
        "channel.open-twice",
        "Opening a channel that is already open is a connection exception 504 (channel-error)",
        &["AMQP091-channel-open-state", "AMQP091-reply-channel-error"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            s.refused(
                ch,
                Method::new(MethodId::CHANNEL_OPEN),
                Some(reply::CHANNEL_ERROR),
                rule("AMQP091-channel-open-state"),
            )
            .await
        },
    ));
    t.push(case(
        "channel.close-handshake",
        "Channel.Close is answered with Close-Ok and the channel can be opened again",
        &[
            "AMQP091-channel-close-handshake",
            "AMQP091-channel-close-stability",
        ],
        controls::drop_to_client("channel.close-ok", "Channel.Close-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-channel-close-handshake");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let close = Method::new(MethodId::CHANNEL_CLOSE).with("reply-code", reply::SUCCESS);
            s.ok(ch, close, MethodId::CHANNEL_CLOSE_OK, r).await?;
            s.ok(
                ch,
                Method::new(MethodId::CHANNEL_OPEN),
                MethodId::CHANNEL_OPEN_OK,
                r,
            )
            .await?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "connection.close-handshake",
        "Connection.Close is answered with Close-Ok",
        &[
            "AMQP091-connection-close-handshake",
            "AMQP091-connection-close-stability",
        ],
        controls::drop_to_client("connection.close-ok", "Connection.Close-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-connection-close-handshake");
            let mut s = Session::open(&ctx).await?;
            let close = Method::new(MethodId::CONNECTION_CLOSE).with("reply-code", reply::SUCCESS);
            // The receiver of Close-Ok (here the client) is the one that closes the socket.
            s.ok(0, close, MethodId::CONNECTION_CLOSE_OK, r).await?;
            Ok(())
        },
    ));
    t.push(case(
        "connection.method-on-unopened-channel",
        "A method on a channel that was never opened is a connection exception 504 (channel-error)",
        &["AMQP091-reply-channel-error"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let mut s = Session::open(&ctx).await?;
            s.refused(
                7,
                q(&ctx.unique("q")),
                Some(reply::CHANNEL_ERROR),
                rule("AMQP091-reply-channel-error"),
            )
            .await
        },
    ));
    t.push(case(
        "connection.channel-above-channel-max",
        "A channel number above the negotiated channel-max is a connection exception 504 (channel-error)",
        &["AMQP091-channel-max"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let mut s = Session::open_with(&ctx, ClientConfig { channel_max: 10, ..ClientConfig::default() }).await?;
            s.refused(11, Method::new(MethodId::CHANNEL_OPEN), Some(reply::CHANNEL_ERROR), rule("AMQP091-channel-max")).await
        },
    ));
    t.push(case(
        "connection.frame-above-frame-max",
        "A frame above the negotiated frame-max is a connection exception 501 (frame-error)",
        &["AMQP091-frame-max"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let fm = s.client.tuning().frame_max;
            let m = q(&"x".repeat(200)).with(
                "arguments",
                FieldTable::new().with("x-pad", FieldValue::LongStr(vec![b'p'; fm as usize])),
            );
            s.refused(ch, m, Some(reply::FRAME_ERROR), rule("AMQP091-frame-max"))
                .await
        },
    ));
    t.push(case(
        "connection.bad-frame-end",
        "A frame whose frame-end octet is not 0xCE is a connection exception 501 (frame-error)",
        &["AMQP091-frame-end"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let mut raw = hilt_wire::amqp091::RawFrame::of(&hilt_wire::amqp091::Frame::method(
                ch,
                q(&ctx.unique("q")),
            ));
            raw.end = 0;
            s.send_raw(&raw.to_bytes()).await;
            s.expect_exception(
                Some(reply::FRAME_ERROR),
                rule("AMQP091-frame-end"),
                "a frame ending in 0x00",
            )
            .await
        },
    ));
    t.push(case(
        "connection.body-without-method",
        "A content body frame where a method belongs is a connection exception 505 (unexpected-frame)",
        &["AMQP091-reply-unexpected-frame", "AMQP091-content-order"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            s.send_raw(&hilt_wire::amqp091::RawFrame::new(3, ch, b"stray".to_vec()).to_bytes()).await;
            s.expect_exception(Some(reply::UNEXPECTED_FRAME), rule("AMQP091-reply-unexpected-frame"), "a stray body frame").await
        },
    ));
    t.push(case(
        "connection.heartbeat-timeout",
        "With heartbeats negotiated, a client that stays silent is disconnected after two missed intervals",
        &["AMQP091-heartbeat-timeout", "AMQP091-heartbeat-negotiated"],
        controls::rewrite_to_server("connection.tune-ok", "the broker is told heartbeats are off", |m| m.set("heartbeat", 0u16)),
        |ctx| async move {
            let r = rule("AMQP091-heartbeat-timeout");
            let mut s = Session::open_with(&ctx, ClientConfig { heartbeat: Some(1), ..ClientConfig::default() }).await?;
            ctx.ensure(s.client.tuning().heartbeat == 1, rule("AMQP091-heartbeat-negotiated"), || "heartbeat not 1".into())?;
            // Two intervals, and the response deadline for the server to act on them.
            let within = std::time::Duration::from_secs(2) + s.response;
            let started = tokio::time::Instant::now();
            loop {
                let left = within.saturating_sub(started.elapsed());
                match s.next(left).await? {
                    Next::Closed => return Ok(()),
                    Next::Event(ClientEvent::ConnectionClosed(_)) => {}
                    Next::Silent => return Err(Failure::fail(r, format!("a client silent for {within:?} with a 1 s heartbeat was not disconnected"))),
                    Next::Event(e) => return Err(Failure::fail(r, format!("unexpected {e:?}"))),
                }
            }
        },
    ));
    t
}

/// A Start-Ok as hilt's core writes it, its client-properties padded with `pad`.
fn start_ok(config: &ClientConfig, pad: &str) -> Method {
    let mut props = config.client_properties.clone();
    if !pad.is_empty() {
        props = props.with("x-pad", pad);
    }
    Method::new(MethodId::CONNECTION_START_OK)
        .with("client-properties", props)
        .with("mechanism", "PLAIN")
        .with(
            "response",
            hilt_wire::amqp091::Value::LongStr(b"\0guest\0guest".to_vec()),
        )
        .with("locale", "en_US")
}

fn ex(name: &str, kind: &str) -> Method {
    Method::new(MethodId::EXCHANGE_DECLARE)
        .with("exchange", name)
        .with("type", kind)
}

fn exchange() -> Vec<TestCase> {
    let mut t = Vec::new();
    for (name, kinds, id) in [
        (
            "exchange.required-types",
            &["fanout", "direct"][..],
            "AMQP091-exchange-required-types",
        ),
        (
            "exchange.recommended-types",
            &["topic", "headers"][..],
            "AMQP091-exchange-recommended-types",
        ),
    ] {
        t.push(case(
            name,
            "Exchanges of the standard types can be declared",
            &[id],
            controls::drop_to_client("exchange.declare-ok", "Exchange.Declare-Ok never arrives"),
            move |ctx| async move {
                let (mut s, ch) = Session::with_channel(&ctx).await?;
                for kind in kinds {
                    let name = ctx.unique(kind);
                    s.declare_exchange(ch, &name, kind, &["auto-delete"], rule(id))
                        .await?;
                }
                s.close().await;
                Ok(())
            },
        ));
    }
    t.push(case(
        "exchange.required-instances",
        "amq.fanout, amq.direct, amq.topic and amq.headers exist: a queue binds to each",
        &["AMQP091-exchange-required-instances"],
        controls::drop_nth_to_client("queue.bind-ok", 3, "the third Queue.Bind-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-exchange-required-instances");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            for e in ["amq.fanout", "amq.direct", "amq.topic", "amq.headers"] {
                s.bind(ch, &qn, e, "k", r).await?;
            }
            s.close().await;
            Ok(())
        },
    ));
    for (name, id) in [
        (
            "exchange.default-exchange",
            "AMQP091-exchange-default-exchange",
        ),
        (
            "queue.default-binding",
            "AMQP091-queue-declare-default-binding",
        ),
        (
            "basic.publish-default-exchange",
            "AMQP091-basic-publish-exchange-default-exchange",
        ),
    ] {
        t.push(case(
            name,
            "A message published to the nameless exchange with a queue's name as routing key reaches that queue",
            &[id],
            controls::rewrite("basic.get-ok", "Basic.Get-Ok arrives as Get-Empty", |m| *m = Method::new(MethodId::BASIC_GET_EMPTY)),
            move |ctx| async move {
                let r = rule(id);
                let (mut s, ch) = Session::with_channel(&ctx).await?;
                let qn = s.declare_queue(ch, &ctx.unique("q"), &["exclusive"], r).await?;
                s.publish(ch, "", &qn, Default::default(), b"m").await;
                let got = s.get(ch, &qn, true, r).await?;
                ctx.ensure(got.is_some_and(|m| m.body == b"m"), r, || "the queue is empty".into())?;
                s.close().await;
                Ok(())
            },
        ));
    }
    t.push(case(
        "exchange.declare-minimum",
        "At least 16 exchanges can be declared",
        &["AMQP091-exchange-declare-minimum"],
        controls::drop_nth_to_client(
            "exchange.declare-ok",
            16,
            "the 16th Declare-Ok never arrives",
        ),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            for i in 0..16 {
                let name = ctx.unique(&format!("x{i}"));
                s.declare_exchange(
                    ch,
                    &name,
                    "direct",
                    &["auto-delete"],
                    rule("AMQP091-exchange-declare-minimum"),
                )
                .await?;
                let del = Method::new(MethodId::EXCHANGE_DELETE)
                    .with("exchange", name.as_str())
                    .with("no-wait", true);
                let _ = del;
            }
            for i in 0..16 {
                let name = ctx.unique(&format!("x{i}"));
                s.send(
                    ch,
                    Method::new(MethodId::EXCHANGE_DELETE)
                        .with("exchange", name.as_str())
                        .with("no-wait", true),
                )
                .await;
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(exception_case(
        "exchange.reserved-name",
        "Declaring a new exchange named amq.* is refused with 403 (access-refused)",
        &[
            "AMQP091-exchange-declare-exchange-reserved",
            "AMQP091-reply-access-refused",
        ],
        reply::ACCESS_REFUSED,
        |ctx, s, ch| async move { Ok((s, ch, ex(&format!("amq.{}", ctx.unique("x")), "direct"))) },
    ));
    t.push(case(
        "exchange.name-syntax",
        "An exchange name with characters outside letters, digits, - _ . : is refused",
        &["AMQP091-exchange-declare-exchange-syntax"],
        controls::hide_exceptions(),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let name = format!("{} bad name!", ctx.unique("x"));
            let r = s
                .refused(
                    ch,
                    ex(&name, "direct").with("auto-delete", true),
                    None,
                    rule("AMQP091-exchange-declare-exchange-syntax"),
                )
                .await;
            s.send(
                ch,
                Method::new(MethodId::EXCHANGE_DELETE)
                    .with("exchange", name.as_str())
                    .with("no-wait", true),
            )
            .await;
            r
        },
    ));
    t.push(exception_case(
        "exchange.redeclare-other-type",
        "Redeclaring an exchange with another type is refused with 406 (precondition-failed)",
        &[
            "AMQP091-exchange-declare-type-typed",
            "AMQP091-reply-precondition-failed",
        ],
        reply::PRECONDITION_FAILED,
        |ctx, mut s, ch| async move {
            let name = ctx.unique("x");
            s.declare_exchange(
                ch,
                &name,
                "direct",
                &["auto-delete"],
                rule("AMQP091-exchange-declare-type-typed"),
            )
            .await?;
            Ok((s, ch, ex(&name, "fanout").with("auto-delete", true)))
        },
    ));
    t.push(case(
        "exchange.unknown-type",
        "Declaring an exchange of a type the server does not implement is refused (503 command-invalid)",
        &["AMQP091-exchange-declare-type-support", "AMQP091-reply-command-invalid"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            s.refused(ch, ex(&ctx.unique("x"), "x-hilt-none"), Some(reply::COMMAND_INVALID), rule("AMQP091-exchange-declare-type-support")).await
        },
    ));
    t.push(exception_case(
        "exchange.passive-not-found",
        "A passive declare of a missing exchange is refused with 404 (not-found)",
        &["AMQP091-exchange-declare-passive-not-found", "AMQP091-reply-not-found"],
        reply::NOT_FOUND,
        |ctx, s, ch| async move { Ok((s, ch, ex(&ctx.unique("x"), "direct").with("passive", true))) },
    ));
    t.push(exception_case(
        "exchange.redeclare-not-equivalent",
        "Redeclaring an exchange with another durability is refused with 406",
        &["AMQP091-exchange-declare-passive-equivalent"],
        reply::PRECONDITION_FAILED,
        |ctx, mut s, ch| async move {
            let name = ctx.unique("x");
            s.declare_exchange(
                ch,
                &name,
                "direct",
                &["auto-delete"],
                rule("AMQP091-exchange-declare-passive-equivalent"),
            )
            .await?;
            s.declare_exchange(
                ch,
                &name,
                "direct",
                &["auto-delete"],
                rule("AMQP091-exchange-declare-passive-equivalent"),
            )
            .await?;
            Ok((
                s,
                ch,
                ex(&name, "direct")
                    .with("auto-delete", true)
                    .with("durable", true),
            ))
        },
    ));
    t.push(case(
        "exchange.durable-and-transient",
        "Durable and transient exchanges can both be declared",
        &["AMQP091-exchange-declare-durable-support"],
        controls::drop_nth_to_client(
            "exchange.declare-ok",
            2,
            "the second Declare-Ok never arrives",
        ),
        |ctx| async move {
            let r = rule("AMQP091-exchange-declare-durable-support");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            s.declare_exchange(ch, &ctx.unique("t"), "direct", &["auto-delete"], r)
                .await?;
            let d = ctx.unique("d");
            s.declare_exchange(ch, &d, "direct", &["durable"], r)
                .await?;
            s.ok(
                ch,
                Method::new(MethodId::EXCHANGE_DELETE).with("exchange", d.as_str()),
                MethodId::EXCHANGE_DELETE_OK,
                r,
            )
            .await?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(exception_case(
        "exchange.delete-if-unused",
        "Deleting an exchange that has bindings with if-unused is refused with 406",
        &["AMQP091-exchange-delete-if-unused-in-use"],
        reply::PRECONDITION_FAILED,
        |ctx, mut s, ch| async move {
            let r = rule("AMQP091-exchange-delete-if-unused-in-use");
            let name = ctx.unique("x");
            s.declare_exchange(ch, &name, "direct", &["auto-delete"], r)
                .await?;
            let qn = s.declare_queue(ch, "", &["exclusive"], r).await?;
            s.bind(ch, &qn, &name, "k", r).await?;
            Ok((
                s,
                ch,
                Method::new(MethodId::EXCHANGE_DELETE)
                    .with("exchange", name.as_str())
                    .with("if-unused", true),
            ))
        },
    ));
    t.push(exception_case(
        "exchange.delete-missing",
        "Deleting an exchange that does not exist is refused with 404 (RabbitMQ answers Delete-Ok)",
        &["AMQP091-exchange-delete-exchange-exists"],
        reply::NOT_FOUND,
        |ctx, s, ch| async move {
            Ok((
                s,
                ch,
                Method::new(MethodId::EXCHANGE_DELETE)
                    .with("exchange", ctx.unique("gone").as_str()),
            ))
        },
    ));
    t
}

fn queue() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(case(
        "queue.minimum-queues",
        "At least 256 queues can be declared",
        &["AMQP091-queue-declare-minimum-queues"],
        controls::drop_nth_to_client(
            "queue.declare-ok",
            256,
            "the 256th Declare-Ok never arrives",
        ),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            for _ in 0..256 {
                s.declare_queue(
                    ch,
                    "",
                    &["exclusive"],
                    rule("AMQP091-queue-declare-minimum-queues"),
                )
                .await?;
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "queue.default-name",
        "Queues declared with an empty name get unique generated names",
        &["AMQP091-queue-declare-queue-default-name"],
        controls::rewrite(
            "queue.declare-ok",
            "every Declare-Ok names the same queue",
            |m| m.set("queue", "hilt-same"),
        ),
        |ctx| async move {
            let r = rule("AMQP091-queue-declare-queue-default-name");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let mut names = std::collections::BTreeSet::new();
            for _ in 0..3 {
                let n = s.declare_queue(ch, "", &["exclusive"], r).await?;
                ctx.ensure(!n.is_empty() && names.insert(n.clone()), r, || {
                    format!("generated name {n:?} is empty or repeated")
                })?;
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(exception_case(
        "queue.reserved-name",
        "Declaring a new queue named amq.* is refused with 403 (access-refused)",
        &["AMQP091-queue-declare-queue-reserved"],
        reply::ACCESS_REFUSED,
        |ctx, s, ch| async move { Ok((s, ch, q(&format!("amq.{}", ctx.unique("q"))))) },
    ));
    t.push(case(
        "queue.name-syntax",
        "A queue name with characters outside letters, digits, - _ . : is refused",
        &["AMQP091-queue-declare-queue-syntax"],
        controls::hide_exceptions(),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let name = format!("{} bad name!", ctx.unique("q"));
            s.refused(
                ch,
                q(&name).with("exclusive", true),
                None,
                rule("AMQP091-queue-declare-queue-syntax"),
            )
            .await
        },
    ));
    t.push(case(
        "queue.passive",
        "A passive declare of an existing queue is accepted; of a missing one, refused with 404",
        &["AMQP091-queue-declare-passive-passive"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let r = rule("AMQP091-queue-declare-passive-passive");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = s
                .declare_queue(ch, &ctx.unique("q"), &["exclusive"], r)
                .await?;
            s.ok(
                ch,
                q(&qn).with("passive", true),
                MethodId::QUEUE_DECLARE_OK,
                r,
            )
            .await?;
            s.refused(
                ch,
                q(&ctx.unique("missing")).with("passive", true),
                Some(reply::NOT_FOUND),
                r,
            )
            .await
        },
    ));
    t.push(exception_case(
        "queue.redeclare-not-equivalent",
        "Redeclaring a queue with another durability is refused with 406",
        &["AMQP091-queue-declare-passive-equivalent"],
        reply::PRECONDITION_FAILED,
        |ctx, mut s, ch| async move {
            let qn = s
                .declare_queue(
                    ch,
                    &ctx.unique("q"),
                    &["auto-delete"],
                    rule("AMQP091-queue-declare-passive-equivalent"),
                )
                .await?;
            Ok((
                s,
                ch,
                q(&qn).with("durable", true).with("auto-delete", true),
            ))
        },
    ));
    for (name, flags, id) in [
        (
            "queue.durable-and-transient",
            ["durable", "auto-delete"],
            "AMQP091-queue-declare-durable-types",
        ),
        (
            "queue.exclusive-and-shared",
            ["exclusive", "auto-delete"],
            "AMQP091-queue-declare-exclusive-types",
        ),
    ] {
        t.push(case(
            name,
            "Both kinds of queue can be declared",
            &[id],
            controls::drop_nth_to_client(
                "queue.declare-ok",
                2,
                "the second Declare-Ok never arrives",
            ),
            move |ctx| async move {
                let r = rule(id);
                let (mut s, ch) = Session::with_channel(&ctx).await?;
                let a = s
                    .declare_queue(ch, &ctx.unique("a"), &[flags[0]], r)
                    .await?;
                let b = s
                    .declare_queue(ch, &ctx.unique("b"), &[flags[1]], r)
                    .await?;
                for n in [a, b] {
                    s.ok(
                        ch,
                        Method::new(MethodId::QUEUE_DELETE).with("queue", n.as_str()),
                        MethodId::QUEUE_DELETE_OK,
                        r,
                    )
                    .await?;
                }
                s.close().await;
                Ok(())
            },
        ));
    }
    t.push(case(
        "queue.exclusive-to-its-connection",
        "A queue declared exclusive by an open connection cannot be declared, consumed or purged by another (405 resource-locked)",
        &["AMQP091-queue-declare-exclusive-exclusive", "AMQP091-reply-resource-locked"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let r = rule("AMQP091-queue-declare-exclusive-exclusive");
            let (mut owner, och) = Session::with_channel(&ctx).await?;
            let qn = owner.declare_queue(och, &ctx.unique("q"), &["exclusive"], r).await?;
            let mut other = Session::open(&ctx).await?;
            for m in [
                q(&qn),
                Method::new(MethodId::BASIC_CONSUME).with("queue", qn.as_str()),
                Method::new(MethodId::QUEUE_PURGE).with("queue", qn.as_str()),
            ] {
                let ch = other.channel().await?;
                other.refused(ch, m, Some(reply::RESOURCE_LOCKED), r).await?;
            }
            other.close().await;
            owner.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "queue.auto-delete-ignored-on-redeclare",
        "Redeclaring existing queues with auto-delete reversed is accepted and keeps the original flag",
        &["AMQP091-queue-declare-auto-delete-pre-existence"],
        controls::hide_exceptions(),
        |ctx| async move {
            let r = rule("AMQP091-queue-declare-auto-delete-pre-existence");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let a = s.declare_queue(ch, &ctx.unique("a"), &["auto-delete"], r).await?;
            s.ok(ch, q(&a), MethodId::QUEUE_DECLARE_OK, r).await?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "queue.bind-duplicate",
        "Repeating an identical Queue.Bind is not an error",
        &["AMQP091-queue-bind-duplicates"],
        controls::drop_nth_to_client("queue.bind-ok", 2, "the second Bind-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-queue-bind-duplicates");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.bind(ch, &qn, "amq.direct", "k", r).await?;
            s.bind(ch, &qn, "amq.direct", "k", r).await?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "queue.bind-unique-delivery",
        "A message matching several bindings of one queue reaches it once",
        &["AMQP091-queue-bind-unique", "AMQP091-basic-get-empty"],
        controls::rewrite(
            "basic.get-empty",
            "the second Basic.Get finds a copy (Get-Empty becomes Get-Ok without content)",
            |m| *m = Method::new(MethodId::BASIC_GET_OK).with("delivery-tag", 9u64),
        ),
        |ctx| async move {
            let r = rule("AMQP091-queue-bind-unique");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            let key = format!("{}.a.b", ctx.unique("k"));
            for pat in ["#", "*.a.*", &key] {
                s.bind(ch, &qn, "amq.topic", pat, r).await?;
            }
            s.publish(ch, "amq.topic", &key, Default::default(), b"once")
                .await;
            ctx.ensure(s.get(ch, &qn, true, r).await?.is_some(), r, || {
                "the message never arrived".into()
            })?;
            match s.get(ch, &qn, true, r).await {
                Ok(None) => {}
                Ok(Some(_)) => return Err(Failure::fail(r, "the message arrived twice")),
                Err(e) => return Err(e),
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "queue.durable-queue-transient-exchange",
        "A durable queue binds to a transient exchange",
        &["AMQP091-queue-bind-transient-exchange"],
        controls::drop_to_client("queue.bind-ok", "Bind-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-queue-bind-transient-exchange");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let x = ctx.unique("x");
            s.declare_exchange(ch, &x, "direct", &["auto-delete"], r)
                .await?;
            let qn = s
                .declare_queue(ch, &ctx.unique("q"), &["durable"], r)
                .await?;
            s.bind(ch, &qn, &x, "k", r).await?;
            s.ok(
                ch,
                Method::new(MethodId::QUEUE_DELETE).with("queue", qn.as_str()),
                MethodId::QUEUE_DELETE_OK,
                r,
            )
            .await?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "queue.binding-count",
        "A queue can be bound to four exchanges",
        &["AMQP091-queue-bind-binding-count"],
        controls::drop_nth_to_client("queue.bind-ok", 4, "the fourth Bind-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-queue-bind-binding-count");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            for i in 0..4 {
                let x = ctx.unique(&format!("x{i}"));
                s.declare_exchange(ch, &x, "fanout", &["auto-delete"], r)
                    .await?;
                s.bind(ch, &qn, &x, "", r).await?;
            }
            s.close().await;
            Ok(())
        },
    ));
    // Methods naming no queue on a channel that declared none; methods naming a missing
    // queue or exchange.
    let bind = |queue: &str, exchange: &str| {
        Method::new(MethodId::QUEUE_BIND)
            .with("queue", queue)
            .with("exchange", exchange)
            .with("routing-key", "k")
    };
    let unbind = |queue: &str, exchange: &str| {
        Method::new(MethodId::QUEUE_UNBIND)
            .with("queue", queue)
            .with("exchange", exchange)
            .with("routing-key", "k")
    };
    for (name, id, which) in [
        (
            "queue.bind-no-queue-named",
            "AMQP091-queue-bind-queue-queue-known",
            0,
        ),
        (
            "queue.unbind-no-queue-named",
            "AMQP091-queue-unbind-queue-queue-known",
            1,
        ),
        (
            "queue.purge-no-queue-named",
            "AMQP091-queue-purge-queue-queue-known",
            2,
        ),
        (
            "queue.delete-no-queue-named",
            "AMQP091-queue-delete-queue-queue-known",
            3,
        ),
    ] {
        t.push(case(
            name,
            "A queue method naming no queue on a channel that declared none is refused",
            &[id],
            controls::hide_exceptions(),
            move |ctx| async move {
                let (mut s, ch) = Session::with_channel(&ctx).await?;
                let m = match which {
                    0 => bind("", "amq.direct"),
                    1 => unbind("", "amq.direct"),
                    2 => Method::new(MethodId::QUEUE_PURGE),
                    _ => Method::new(MethodId::QUEUE_DELETE),
                };
                s.refused(ch, m, None, rule(id)).await
            },
        ));
    }
    for (name, id, which) in [
        (
            "queue.bind-missing-queue",
            "AMQP091-queue-bind-queue-must-exist",
            0,
        ),
        (
            "queue.bind-missing-exchange",
            "AMQP091-queue-bind-exchange-exchange-existence",
            1,
        ),
        (
            "queue.unbind-missing-queue",
            "AMQP091-queue-unbind-queue-must-exist",
            2,
        ),
        (
            "queue.unbind-missing-exchange",
            "AMQP091-queue-unbind-exchange-must-exist",
            3,
        ),
        (
            "queue.purge-missing",
            "AMQP091-queue-purge-queue-must-exist",
            4,
        ),
        (
            "queue.delete-missing",
            "AMQP091-queue-delete-queue-must-exist",
            5,
        ),
    ] {
        t.push(exception_case(
            name,
            "A queue method naming a queue or exchange that does not exist is refused with 404",
            &[id],
            reply::NOT_FOUND,
            move |ctx, mut s, ch| async move {
                let missing = ctx.unique("missing");
                let own = if matches!(which, 1 | 3) {
                    s.declare_queue(ch, "", &["exclusive"], rule(id)).await?
                } else {
                    String::new()
                };
                let m = match which {
                    0 => bind(&missing, "amq.direct"),
                    1 => bind(&own, &missing),
                    2 => unbind(&missing, "amq.direct"),
                    3 => unbind(&own, &missing),
                    4 => Method::new(MethodId::QUEUE_PURGE).with("queue", missing.as_str()),
                    _ => Method::new(MethodId::QUEUE_DELETE).with("queue", missing.as_str()),
                };
                Ok((s, ch, m))
            },
        ));
    }
    for (name, id, unbinding) in [
        (
            "queue.bind-default-exchange",
            "AMQP091-queue-bind-exchange-default-exchange",
            false,
        ),
        (
            "queue.unbind-default-exchange",
            "AMQP091-queue-unbind-exchange-default-exchange",
            true,
        ),
    ] {
        t.push(case(
            name,
            "The empty exchange name in Queue.Bind/Unbind means the default exchange and is accepted",
            &[id],
            controls::drop_to_client(if unbinding { "queue.unbind-ok" } else { "queue.bind-ok" }, "the Bind-Ok/Unbind-Ok never arrives"),
            move |ctx| async move {
                let r = rule(id);
                let (mut s, ch) = Session::with_channel(&ctx).await?;
                let qn = s.declare_queue(ch, "", &["exclusive"], r).await?;
                if unbinding {
                    s.ok(ch, unbind(&qn, ""), MethodId::QUEUE_UNBIND_OK, r).await?;
                } else {
                    s.ok(ch, bind(&qn, ""), MethodId::QUEUE_BIND_OK, r).await?;
                }
                s.close().await;
                Ok(())
            },
        ));
    }
    t.push(exception_case(
        "queue.delete-if-unused",
        "Deleting a queue that has a consumer with if-unused is refused with 406",
        &["AMQP091-queue-delete-if-unused-in-use"],
        reply::PRECONDITION_FAILED,
        |_ctx, mut s, ch| async move {
            let r = rule("AMQP091-queue-delete-if-unused-in-use");
            let qn = s.declare_queue(ch, "", &["exclusive"], r).await?;
            s.consume(ch, &qn, true, r).await?;
            Ok((
                s,
                ch,
                Method::new(MethodId::QUEUE_DELETE)
                    .with("queue", qn.as_str())
                    .with("if-unused", true),
            ))
        },
    ));
    t.push(exception_case(
        "queue.delete-if-empty",
        "Deleting a queue that holds messages with if-empty is refused with 406",
        &["AMQP091-queue-delete-if-empty-not-empty"],
        reply::PRECONDITION_FAILED,
        |_ctx, mut s, ch| async move {
            let r = rule("AMQP091-queue-delete-if-empty-not-empty");
            let qn = s.declare_queue(ch, "", &["exclusive"], r).await?;
            s.publish(ch, "", &qn, Default::default(), b"m").await;
            // A passive declare after the publish: the message is queued by then.
            s.ok(
                ch,
                q(&qn).with("passive", true),
                MethodId::QUEUE_DECLARE_OK,
                r,
            )
            .await?;
            Ok((
                s,
                ch,
                Method::new(MethodId::QUEUE_DELETE)
                    .with("queue", qn.as_str())
                    .with("if-empty", true),
            ))
        },
    ));
    t
}

fn get_ok_redelivered_cleared() -> Control {
    Control::new(
        "the broker's deliveries have the redelivered flag cleared",
        || {
            ["basic.get-ok", "basic.deliver"]
                .into_iter()
                .flat_map(|k| (controls::rewrite(k, "", |m| m.set("redelivered", false)).rules)())
                .collect()
        },
    )
}

fn priority_queue(name: &str, max: u8) -> Method {
    q(name).with("exclusive", true).with(
        "arguments",
        FieldTable::new().with("x-max-priority", FieldValue::U8(max)),
    )
}

fn ack(tag: u64) -> Method {
    Method::new(MethodId::BASIC_ACK).with("delivery-tag", tag)
}

fn basic() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(case(
        "basic.durable-entities-survive-restart",
        "A durable queue, its binding to a durable exchange and a persistent message in it are there after a broker restart",
        &["AMQP091-queue-declare-durable-persistence", "AMQP091-queue-bind-durable-exchange", "AMQP091-basic-01"],
        controls::corrupt_bodies(),
        |ctx| async move {
            let r = rule("AMQP091-basic-01");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let (x, qn) = (ctx.unique("x"), ctx.unique("q"));
            s.declare_exchange(ch, &x, "direct", &["durable"], r).await?;
            s.declare_queue(ch, &qn, &["durable"], r).await?;
            s.bind(ch, &qn, &x, "k", r).await?;
            s.publish(ch, &x, "k", Properties::new().with("delivery-mode", 2u8), b"kept").await;
            s.ok(ch, q(&qn).with("durable", true), MethodId::QUEUE_DECLARE_OK, r).await?;
            s.close().await;
            ctx.restart_target().await?;
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let got = s.get(ch, &qn, true, rule("AMQP091-queue-declare-durable-persistence")).await?;
            ctx.ensure(got.as_ref().is_some_and(|m| m.body == b"kept"), r, || format!("after the restart: {got:?}"))?;
            // The binding: a new message through the exchange reaches the queue.
            s.publish(ch, &x, "k", Properties::new(), b"again").await;
            let got = s.get(ch, &qn, true, rule("AMQP091-queue-bind-durable-exchange")).await?;
            ctx.ensure(got.is_some(), rule("AMQP091-queue-bind-durable-exchange"), || "the binding did not survive".into())?;
            s.ok(ch, Method::new(MethodId::QUEUE_DELETE).with("queue", qn.as_str()), MethodId::QUEUE_DELETE_OK, r).await?;
            s.ok(ch, Method::new(MethodId::EXCHANGE_DELETE).with("exchange", x.as_str()), MethodId::EXCHANGE_DELETE_OK, r).await?;
            s.close().await;
            Ok(())
        },
    )
    .exclusive()
    .timeout(std::time::Duration::from_secs(120)));
    t.push(case(
        "basic.persistent-not-discarded-on-overflow",
        "Persistent messages are not discarded when a queue overflows its length limit",
        &["AMQP091-basic-02"],
        controls::rewrite("basic.get-ok", "every message the broker hands out is the first one", |m| m.set("message-count", 0u32)),
        |ctx| async move {
            let r = rule("AMQP091-basic-02");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = ctx.unique("q");
            let decl = q(&qn).with("exclusive", true).with("arguments", FieldTable::new().with("x-max-length", FieldValue::I32(1)));
            s.ok(ch, decl, MethodId::QUEUE_DECLARE_OK, r).await?;
            for b in [&b"one"[..], b"two"] {
                s.publish(ch, "", &qn, Properties::new().with("delivery-mode", 2u8), b).await;
            }
            let first = s.get(ch, &qn, true, r).await?;
            ctx.ensure(first.as_ref().is_some_and(|m| m.body == b"one" && m.method.int("message-count") == 1), r, || {
                format!("of two persistent messages in a queue limited to one, the first Get gave {:?}", first.map(|m| (String::from_utf8_lossy(&m.body).into_owned(), m.method.int("message-count"))))
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.two-priority-levels",
        "A priority 9 message sent after priority 0 ones is delivered first",
        &["AMQP091-basic-06"],
        controls::corrupt_bodies(),
        |ctx| async move {
            let r = rule("AMQP091-basic-06");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = s
                .declare_queue(ch, &ctx.unique("q"), &["exclusive"], r)
                .await?;
            for (p, b) in [(0u8, &b"p0"[..]), (0, b"p0"), (9, b"p9")] {
                s.publish(ch, "", &qn, Properties::new().with("priority", p), b)
                    .await;
            }
            let first = s.get(ch, &qn, true, r).await?;
            ctx.ensure(first.as_ref().is_some_and(|m| m.body == b"p9"), r, || {
                format!(
                    "first message: {:?}",
                    first.map(|m| String::from_utf8_lossy(&m.body).into_owned())
                )
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.ten-priority-levels",
        "A queue declared with x-max-priority 10 delivers priorities 9 down to 0 in order",
        &["AMQP091-basic-07"],
        controls::corrupt_bodies(),
        |ctx| async move {
            let r = rule("AMQP091-basic-07");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = ctx.unique("q");
            s.ok(ch, priority_queue(&qn, 10), MethodId::QUEUE_DECLARE_OK, r)
                .await?;
            for p in 0..10u8 {
                s.publish(
                    ch,
                    "",
                    &qn,
                    Properties::new().with("priority", p),
                    p.to_string().as_bytes(),
                )
                .await;
            }
            let mut order = Vec::new();
            for _ in 0..10 {
                if let Some(m) = s.get(ch, &qn, true, r).await? {
                    order.push(String::from_utf8_lossy(&m.body).into_owned());
                }
            }
            let want: Vec<String> = (0..10).rev().map(|p: u8| p.to_string()).collect();
            ctx.ensure(order == want, r, || {
                format!("delivered in the order {order:?}")
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.same-priority-in-order",
        "Messages of one priority, persistent or not, are delivered in publishing order",
        &["AMQP091-basic-08"],
        controls::corrupt_bodies(),
        |ctx| async move {
            let r = rule("AMQP091-basic-08");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = s
                .declare_queue(ch, &ctx.unique("q"), &["exclusive"], r)
                .await?;
            for i in 0..6u8 {
                let props = Properties::new()
                    .with("priority", 5u8)
                    .with("delivery-mode", 1 + i % 2);
                s.publish(ch, "", &qn, props, i.to_string().as_bytes())
                    .await;
            }
            let mut order = Vec::new();
            for _ in 0..6 {
                if let Some(m) = s.get(ch, &qn, true, r).await? {
                    order.push(String::from_utf8_lossy(&m.body).into_owned());
                }
            }
            ctx.ensure(order == ["0", "1", "2", "3", "4", "5"], r, || {
                format!("delivered in the order {order:?}")
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.explicit-ack-survives-reconnect",
        "Of four messages consumed with explicit acks, the two not acknowledged are there after the consumer's connection closes",
        &["AMQP091-basic-10", "AMQP091-delivery-tag-non-zero"],
        controls::drop_nth_to_client("basic.get-ok", 2, "the second remaining message never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-basic-10");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = s.declare_queue(ch, &ctx.unique("q"), &[], r).await?;
            for i in 0..4u8 {
                s.publish(ch, "", &qn, Properties::new(), &[i]).await;
            }
            s.consume(ch, &qn, false, r).await?;
            let mut tags = Vec::new();
            for _ in 0..4 {
                let m = s.message(ch, r, "a delivery").await?;
                tags.push(m.method.int("delivery-tag"));
            }
            ctx.ensure(tags.iter().all(|t| *t != 0), rule("AMQP091-delivery-tag-non-zero"), || format!("delivery tags {tags:?}"))?;
            for t in &tags[..2] {
                s.send(ch, ack(*t)).await;
            }
            s.close().await;
            let (mut s2, ch2) = Session::with_channel(&ctx).await?;
            for _ in 0..2 {
                ctx.ensure(s2.get(ch2, &qn, true, r).await?.is_some(), r, || "an unacknowledged message was lost".into())?;
            }
            s2.ok(ch2, Method::new(MethodId::QUEUE_DELETE).with("queue", qn.as_str()), MethodId::QUEUE_DELETE_OK, r).await?;
            s2.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.redelivered-after-connection-close",
        "A message consumed without an ack comes back, after its connection closes, with the redelivered flag",
        &["AMQP091-redelivered-implementation"],
        get_ok_redelivered_cleared(),
        |ctx| async move {
            let r = rule("AMQP091-redelivered-implementation");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = s.declare_queue(ch, &ctx.unique("q"), &[], r).await?;
            s.publish(ch, "", &qn, Properties::new(), b"m").await;
            s.consume(ch, &qn, false, r).await?;
            s.message(ch, r, "the delivery").await?;
            s.close().await;
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let m = s.get(ch, &qn, true, r).await?;
            ctx.ensure(m.as_ref().is_some_and(|m| m.method.flag("redelivered")), r, || format!("got {:?}", m.map(|m| m.method.to_string())))?;
            s.ok(ch, Method::new(MethodId::QUEUE_DELETE).with("queue", qn.as_str()), MethodId::QUEUE_DELETE_OK, r).await?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.prefetch-size",
        "With a prefetch-size smaller than a message, that message is still delivered",
        &["AMQP091-basic-qos-prefetch-size-01"],
        controls::drop_to_client("basic.qos-ok", "Qos-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-basic-qos-prefetch-size-01");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.ok(
                ch,
                Method::new(MethodId::BASIC_QOS).with("prefetch-size", 10u32),
                MethodId::BASIC_QOS_OK,
                r,
            )
            .await?;
            s.publish(ch, "", &qn, Properties::new(), &[7; 100]).await;
            s.consume(ch, &qn, false, r).await?;
            let m = s.message(ch, r, "the 100-octet message").await?;
            ctx.ensure(m.body.len() == 100, r, || {
                format!("{} octets arrived", m.body.len())
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.prefetch-count",
        "With prefetch-count 1 the server sends one unacknowledged message, not more",
        &["AMQP091-basic-qos-prefetch-count-01"],
        controls::drop_nth_to_server("basic.qos", 1, "the broker never sees Basic.Qos"),
        |ctx| async move {
            let r = rule("AMQP091-basic-qos-prefetch-count-01");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = s
                .declare_queue(ch, &ctx.unique("q"), &["exclusive"], r)
                .await?;
            for i in 0..3u8 {
                s.publish(ch, "", &qn, Properties::new(), &[i]).await;
            }
            s.ok(
                ch,
                Method::new(MethodId::BASIC_QOS).with("prefetch-count", 1u16),
                MethodId::BASIC_QOS_OK,
                r,
            )
            .await?;
            s.consume(ch, &qn, false, r).await?;
            s.message(ch, r, "the first delivery").await?;
            match s.next(s.response).await? {
                Next::Silent => {}
                other => {
                    return Err(Failure::fail(
                        r,
                        format!("beyond prefetch-count 1: {}", describe(&other)),
                    ));
                }
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.sixteen-consumers",
        "A queue takes at least 16 consumers",
        &["AMQP091-basic-consume-01"],
        controls::drop_nth_to_client("basic.consume-ok", 16, "the 16th Consume-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-basic-consume-01");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            for _ in 0..16 {
                s.consume(ch, &qn, true, r).await?;
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(exception_case(
        "basic.consumer-tag-reused",
        "A second consumer with an existing tag on the channel is refused (530 not-allowed)",
        &["AMQP091-basic-consume-consumer-tag-01"],
        reply::NOT_ALLOWED,
        |ctx, mut s, ch| async move {
            let r = rule("AMQP091-basic-consume-consumer-tag-01");
            let qn = s.declare_queue(ch, "", &["exclusive"], r).await?;
            let tag = ctx.unique("tag");
            let m = Method::new(MethodId::BASIC_CONSUME)
                .with("queue", qn.as_str())
                .with("consumer-tag", tag.as_str());
            s.ok(ch, m.clone(), MethodId::BASIC_CONSUME_OK, r).await?;
            Ok((s, ch, m))
        },
    ));
    t.push(case(
        "basic.consumer-tags-unique-across-channels",
        "Server-generated consumer tags on two channels differ",
        &["AMQP091-basic-consume-consumer-tag-02"],
        controls::rewrite(
            "basic.consume-ok",
            "every Consume-Ok carries the same tag",
            |m| m.set("consumer-tag", "hilt-same"),
        ),
        |ctx| async move {
            let r = rule("AMQP091-basic-consume-consumer-tag-02");
            let (mut s, c1) = Session::with_channel(&ctx).await?;
            let c2 = s.channel().await?;
            let qn = s.declare_queue(c1, "", &["exclusive"], r).await?;
            let a = s.consume(c1, &qn, true, r).await?;
            let b = s.consume(c2, &qn, true, r).await?;
            ctx.ensure(a != b, r, || {
                format!("both channels got consumer tag {a:?}")
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.exclusive-consume-on-busy-queue",
        "An exclusive consume on a queue that has consumers is refused (403 access-refused)",
        &["AMQP091-basic-consume-exclusive-01"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let r = rule("AMQP091-basic-consume-exclusive-01");
            let (mut a, ach) = Session::with_channel(&ctx).await?;
            let qn = a
                .declare_queue(ach, &ctx.unique("q"), &["auto-delete"], r)
                .await?;
            a.consume(ach, &qn, true, r).await?;
            let (mut b, bch) = Session::with_channel(&ctx).await?;
            let m = Method::new(MethodId::BASIC_CONSUME)
                .with("queue", qn.as_str())
                .with("exclusive", true);
            b.refused(bch, m, Some(reply::ACCESS_REFUSED), r).await?;
            b.close().await;
            a.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.cancel-after-queue-deleted",
        "Basic.Cancel of a valid tag is accepted after the consumer's queue was deleted",
        &["AMQP091-basic-cancel-01"],
        controls::drop_to_client("basic.cancel-ok", "Cancel-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-basic-cancel-01");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = s
                .declare_queue(ch, &ctx.unique("q"), &["auto-delete"], r)
                .await?;
            let tag = s.consume(ch, &qn, true, r).await?;
            let c2 = s.channel().await?;
            s.send(
                c2,
                Method::new(MethodId::QUEUE_DELETE).with("queue", qn.as_str()),
            )
            .await;
            let mut deleted = false;
            while !deleted {
                match s.next(s.response).await? {
                    // RabbitMQ tells consumers their queue went away (consumer_cancel_notify),
                    // before or after Delete-Ok.
                    Next::Event(ClientEvent::Method { method, .. })
                        if method.is(MethodId::BASIC_CANCEL) => {}
                    Next::Event(ClientEvent::Method { method, .. })
                        if method.is(MethodId::QUEUE_DELETE_OK) =>
                    {
                        deleted = true
                    }
                    other => {
                        return Err(Failure::error(format!(
                            "the queue was not deleted: {}",
                            describe(&other)
                        )));
                    }
                }
            }
            s.send(
                ch,
                Method::new(MethodId::BASIC_CANCEL).with("consumer-tag", tag.as_str()),
            )
            .await;
            loop {
                match s.next(s.response).await? {
                    // RabbitMQ tells consumers their queue went away (consumer_cancel_notify).
                    Next::Event(ClientEvent::Method { method, .. })
                        if method.is(MethodId::BASIC_CANCEL) => {}
                    Next::Event(ClientEvent::Method { method, .. })
                        if method.is(MethodId::BASIC_CANCEL_OK) =>
                    {
                        break;
                    }
                    other => {
                        return Err(Failure::fail(
                            r,
                            format!("no Cancel-Ok: {}", describe(&other)),
                        ));
                    }
                }
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.publish-missing-exchange",
        "Publishing to an exchange that does not exist is a channel exception 404",
        &["AMQP091-basic-publish-exchange-must-exist"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            s.publish(ch, &ctx.unique("gone"), "k", Properties::new(), b"m")
                .await;
            s.expect_exception(
                Some(reply::NOT_FOUND),
                rule("AMQP091-basic-publish-exchange-must-exist"),
                "basic.publish",
            )
            .await
        },
    ));
    t.push(case(
        "basic.publish-internal-exchange",
        "Publishing to an internal exchange is a channel exception 403 (access-refused)",
        &["AMQP091-basic-publish-exchange-02"],
        controls::reply_code(reply::PRECONDITION_FAILED),
        |ctx| async move {
            let r = rule("AMQP091-basic-publish-exchange-02");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let x = ctx.unique("x");
            s.declare_exchange(ch, &x, "fanout", &["auto-delete", "internal"], r)
                .await?;
            s.publish(ch, &x, "k", Properties::new(), b"m").await;
            s.expect_exception(
                Some(reply::ACCESS_REFUSED),
                r,
                "basic.publish to an internal exchange",
            )
            .await
        },
    ));
    t.push(case(
        "basic.content-accepted-by-every-type",
        "Basic content is accepted by exchanges of every standard type (none refuses it with 540)",
        &["AMQP091-basic-publish-exchange-03"],
        controls::drop_nth_to_client("basic.get-ok", 3, "the third message never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-basic-publish-exchange-03");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            for x in ["amq.direct", "amq.fanout", "amq.topic"] {
                s.bind(ch, &qn, x, &qn, r).await?;
                s.publish(ch, x, &qn, Properties::new(), x.as_bytes()).await;
                ctx.ensure(s.get(ch, &qn, true, r).await?.is_some(), r, || {
                    format!("nothing came through {x}")
                })?;
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.mandatory-returned",
        "An unroutable mandatory message comes back in Basic.Return with 312 (no-route)",
        &[
            "AMQP091-basic-publish-mandatory-01",
            "AMQP091-reply-no-route",
        ],
        controls::rewrite("basic.return", "Basic.Return carries 313", |m| {
            m.set("reply-code", reply::NO_CONSUMERS)
        }),
        |ctx| async move {
            let r = rule("AMQP091-basic-publish-mandatory-01");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let m = Method::new(MethodId::BASIC_PUBLISH)
                .with("exchange", "amq.direct")
                .with("routing-key", ctx.unique("nowhere").as_str())
                .with("mandatory", true);
            s.publish_method(ch, m, Properties::new(), b"back").await;
            let back = s.message(ch, r, "Basic.Return").await?;
            ctx.ensure(
                back.method.is(MethodId::BASIC_RETURN)
                    && back.method.int("reply-code") == u64::from(reply::NO_ROUTE)
                    && back.body == b"back",
                r,
                || format!("got {} {:?}", back.method, back.body),
            )?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.immediate-returned",
        "An immediate message to a queue without consumers comes back in Basic.Return with 313 (no-consumers)",
        &["AMQP091-basic-publish-immediate-01"],
        controls::rewrite("basic.return", "Basic.Return carries 312", |m| m.set("reply-code", reply::NO_ROUTE)),
        |ctx| async move {
            let r = rule("AMQP091-basic-publish-immediate-01");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            let m = Method::new(MethodId::BASIC_PUBLISH).with("routing-key", qn.as_str()).with("immediate", true);
            s.publish_method(ch, m, Properties::new(), b"back").await;
            match s.next(s.response).await? {
                Next::Event(ClientEvent::Message(back)) if back.method.is(MethodId::BASIC_RETURN) && back.method.int("reply-code") == u64::from(reply::NO_CONSUMERS) => {}
                other => return Err(Failure::fail(r, format!("expected Basic.Return 313: {}", describe(&other)))),
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.dead-letter-after-redeliveries",
        "A message rejected back to its queue five times is no longer redelivered (dead-lettered)",
        &["AMQP091-basic-deliver-01"],
        get_ok_redelivered_cleared(),
        |ctx| async move {
            let r = rule("AMQP091-basic-deliver-01");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.publish(ch, "", &qn, Properties::new(), b"poison").await;
            for i in 0..6 {
                match s.get(ch, &qn, false, r).await? {
                    None => return Ok(()),
                    Some(m) => {
                        ctx.ensure(i == 0 || m.method.flag("redelivered"), r, || "a redelivery without the redelivered flag".into())?;
                        s.send(ch, Method::new(MethodId::BASIC_REJECT).with("delivery-tag", m.method.int("delivery-tag")).with("requeue", true)).await;
                    }
                }
            }
            Err(Failure::fail(r, "the message was delivered six times without an acknowledgement and is still in its queue"))
        },
    ));
    t.push(exception_case(
        "basic.ack-unknown-tag",
        "Acknowledging a delivery tag that names no delivered message is refused with 406",
        &["AMQP091-basic-ack-multiple-exists"],
        reply::PRECONDITION_FAILED,
        |_ctx, s, ch| async move { Ok((s, ch, ack(999))) },
    ));
    t.push(case(
        "basic.reject-requeue",
        "A message rejected with requeue is delivered again, marked redelivered",
        &["AMQP091-basic-reject-02", "AMQP091-basic-reject-requeue"],
        get_ok_redelivered_cleared(),
        |ctx| async move {
            let r = rule("AMQP091-basic-reject-02");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.publish(ch, "", &qn, Properties::new(), b"m").await;
            let m = s
                .get(ch, &qn, false, r)
                .await?
                .ok_or_else(|| Failure::fail(r, "no message"))?;
            s.send(
                ch,
                Method::new(MethodId::BASIC_REJECT)
                    .with("delivery-tag", m.method.int("delivery-tag"))
                    .with("requeue", true),
            )
            .await;
            let again = s.get(ch, &qn, true, r).await?;
            ctx.ensure(
                again.as_ref().is_some_and(|m| m.method.flag("redelivered")),
                r,
                || {
                    format!(
                        "after the reject: {:?}",
                        again.map(|m| m.method.to_string())
                    )
                },
            )?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.reject-discard",
        "A message rejected without requeue is gone from its queue",
        &["AMQP091-basic-reject-03", "AMQP091-basic-reject-requeue"],
        controls::rewrite("basic.get-empty", "Get-Empty becomes a Get-Ok", |m| {
            *m = Method::new(MethodId::BASIC_GET_OK).with("delivery-tag", 9u64)
        }),
        |ctx| async move {
            let r = rule("AMQP091-basic-reject-03");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.publish(ch, "", &qn, Properties::new(), b"m").await;
            let m = s
                .get(ch, &qn, false, r)
                .await?
                .ok_or_else(|| Failure::fail(r, "no message"))?;
            s.send(
                ch,
                Method::new(MethodId::BASIC_REJECT)
                    .with("delivery-tag", m.method.int("delivery-tag")),
            )
            .await;
            ctx.ensure(s.get(ch, &qn, true, r).await?.is_none(), r, || {
                "the rejected message is still queued".into()
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.rejected-not-redelivered-to-same-channel",
        "A message a consumer rejects with requeue is not delivered to it again on the same channel",
        &["AMQP091-basic-reject-requeue-01"],
        controls::duplicate_to_client("basic.deliver", "each Basic.Deliver method frame arrives twice"),
        |ctx| async move {
            let r = rule("AMQP091-basic-reject-requeue-01");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.publish(ch, "", &qn, Properties::new(), b"m").await;
            s.consume(ch, &qn, false, r).await?;
            let m = s.message(ch, r, "the delivery").await?;
            s.send(ch, Method::new(MethodId::BASIC_REJECT).with("delivery-tag", m.method.int("delivery-tag")).with("requeue", true)).await;
            match s.next(s.response).await? {
                Next::Silent => Ok(()),
                other => Err(Failure::fail(r, format!("the rejected message came back to the same consumer: {}", describe(&other)))),
            }
        },
    ));
    for (name, id, m) in [
        (
            "basic.recover-async",
            "AMQP091-basic-recover-async-01",
            MethodId::BASIC_RECOVER_ASYNC,
        ),
        (
            "basic.recover",
            "AMQP091-basic-recover-01",
            MethodId::BASIC_RECOVER,
        ),
    ] {
        t.push(case(
            name,
            "Messages resent after Basic.Recover(-Async) with requeue carry the redelivered flag",
            &[id],
            get_ok_redelivered_cleared(),
            move |ctx| async move {
                let r = rule(id);
                let (mut s, ch) = Session::with_channel(&ctx).await?;
                let qn = s.declare_queue(ch, "", &["exclusive"], r).await?;
                s.publish(ch, "", &qn, Properties::new(), b"m").await;
                s.consume(ch, &qn, false, r).await?;
                s.message(ch, r, "the delivery").await?;
                s.send(ch, Method::new(m).with("requeue", true)).await;
                loop {
                    match s.next(s.response).await? {
                        Next::Event(ClientEvent::Method { method, .. })
                            if method.is(MethodId::BASIC_RECOVER_OK) => {}
                        Next::Event(ClientEvent::Message(d)) => {
                            ctx.ensure(d.method.flag("redelivered"), r, || {
                                format!("resent without the flag: {}", d.method)
                            })?;
                            break;
                        }
                        other => {
                            return Err(Failure::fail(
                                r,
                                format!("no resend after recover: {}", describe(&other)),
                            ));
                        }
                    }
                }
                s.close().await;
                Ok(())
            },
        ));
    }
    t.push(case(
        "queue.purge-keeps-unacked",
        "Purging leaves a delivered, unacknowledged message: it is back after its channel closes",
        &["AMQP091-queue-purge-02"],
        controls::drop_nth_to_client("basic.get-ok", 2, "the second Get-Ok is lost"),
        |ctx| async move {
            let r = rule("AMQP091-queue-purge-02");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let qn = s
                .declare_queue(ch, &ctx.unique("q"), &["exclusive"], r)
                .await?;
            s.publish(ch, "", &qn, Properties::new(), b"m").await;
            let c2 = s.channel().await?;
            s.get(c2, &qn, false, r)
                .await?
                .ok_or_else(|| Failure::fail(r, "no message"))?;
            s.ok(
                ch,
                Method::new(MethodId::QUEUE_PURGE).with("queue", qn.as_str()),
                MethodId::QUEUE_PURGE_OK,
                r,
            )
            .await?;
            s.ok(
                c2,
                Method::new(MethodId::CHANNEL_CLOSE).with("reply-code", reply::SUCCESS),
                MethodId::CHANNEL_CLOSE_OK,
                r,
            )
            .await?;
            ctx.ensure(s.get(ch, &qn, true, r).await?.is_some(), r, || {
                "the purge removed a delivered, unacknowledged message".into()
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t
}

fn tx_and_extensions() -> Vec<TestCase> {
    let mut t = Vec::new();
    for (name, id, m) in [
        (
            "tx.commit-not-transacted",
            "AMQP091-tx-commit-transacted",
            MethodId::TX_COMMIT,
        ),
        (
            "tx.rollback-not-transacted",
            "AMQP091-tx-rollback-transacted",
            MethodId::TX_ROLLBACK,
        ),
    ] {
        t.push(exception_case(
            name,
            "Tx.Commit / Tx.Rollback on a channel that is not transacted is refused with 406",
            &[id],
            reply::PRECONDITION_FAILED,
            move |_ctx, s, ch| async move { Ok((s, ch, Method::new(m))) },
        ));
    }
    t.push(case(
        "tx.commit-publishes",
        "A message published in a transaction is queued at Tx.Commit, not before",
        &["AMQP091-tx-commit"],
        controls::drop_to_client("tx.commit-ok", "Commit-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-tx-commit");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let c2 = s.channel().await?;
            let qn = s.declare_queue(ch, "", &["exclusive"], r).await?;
            s.ok(
                ch,
                Method::new(MethodId::TX_SELECT),
                MethodId::TX_SELECT_OK,
                r,
            )
            .await?;
            s.publish(ch, "", &qn, Properties::new(), b"m").await;
            ctx.ensure(s.get(c2, &qn, true, r).await?.is_none(), r, || {
                "the message was queued before the commit".into()
            })?;
            s.ok(
                ch,
                Method::new(MethodId::TX_COMMIT),
                MethodId::TX_COMMIT_OK,
                r,
            )
            .await?;
            ctx.ensure(s.get(c2, &qn, true, r).await?.is_some(), r, || {
                "the committed message is not queued".into()
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "tx.rollback-discards",
        "A message published in a transaction that is rolled back is never queued",
        &["AMQP091-tx-rollback"],
        controls::rewrite("basic.get-empty", "Get-Empty becomes a Get-Ok", |m| {
            *m = Method::new(MethodId::BASIC_GET_OK).with("delivery-tag", 9u64)
        }),
        |ctx| async move {
            let r = rule("AMQP091-tx-rollback");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.ok(
                ch,
                Method::new(MethodId::TX_SELECT),
                MethodId::TX_SELECT_OK,
                r,
            )
            .await?;
            s.publish(ch, "", &qn, Properties::new(), b"m").await;
            s.ok(
                ch,
                Method::new(MethodId::TX_ROLLBACK),
                MethodId::TX_ROLLBACK_OK,
                r,
            )
            .await?;
            s.ok(
                ch,
                Method::new(MethodId::TX_COMMIT),
                MethodId::TX_COMMIT_OK,
                r,
            )
            .await?;
            ctx.ensure(s.get(ch, &qn, true, r).await?.is_none(), r, || {
                "the rolled-back message was queued".into()
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "confirm.acks-every-publish",
        "After Confirm.Select every publish is acknowledged, delivery tags counting from 1",
        &["AMQP091-ext-confirm-select"],
        controls::rewrite("basic.ack", "confirms carry delivery tag 7", |m| {
            m.set("delivery-tag", 7u64)
        }),
        |ctx| async move {
            let r = rule("AMQP091-ext-confirm-select");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.ok(
                ch,
                Method::new(MethodId::CONFIRM_SELECT),
                MethodId::CONFIRM_SELECT_OK,
                r,
            )
            .await?;
            for _ in 0..3 {
                s.publish(ch, "", &qn, Properties::new(), b"m").await;
            }
            let mut confirmed = 0;
            while confirmed < 3 {
                match s.next(s.response).await? {
                    Next::Event(ClientEvent::Method { method, .. })
                        if method.is(MethodId::BASIC_ACK) =>
                    {
                        let tag = method.int("delivery-tag");
                        let upto = if method.flag("multiple") {
                            tag
                        } else {
                            confirmed + 1
                        };
                        ctx.ensure(tag == upto && tag > confirmed && tag <= 3, r, || {
                            format!("confirm {method} after {confirmed} confirmed")
                        })?;
                        confirmed = tag;
                    }
                    other => {
                        return Err(Failure::fail(
                            r,
                            format!("{confirmed} of 3 publishes confirmed: {}", describe(&other)),
                        ));
                    }
                }
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "basic.nack-requeue",
        "A message nacked with requeue is back in its queue",
        &["AMQP091-ext-basic-nack"],
        controls::drop_nth_to_server("basic.nack", 1, "the broker never sees Basic.Nack"),
        |ctx| async move {
            let r = rule("AMQP091-ext-basic-nack");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            for _ in 0..2 {
                s.publish(ch, "", &qn, Properties::new(), b"m").await;
            }
            let mut last = 0;
            for _ in 0..2 {
                last = s
                    .get(ch, &qn, false, r)
                    .await?
                    .ok_or_else(|| Failure::fail(r, "no message"))?
                    .method
                    .int("delivery-tag");
            }
            s.send(
                ch,
                Method::new(MethodId::BASIC_NACK)
                    .with("delivery-tag", last)
                    .with("multiple", true)
                    .with("requeue", true),
            )
            .await;
            for _ in 0..2 {
                ctx.ensure(s.get(ch, &qn, true, r).await?.is_some(), r, || {
                    "a nacked message did not come back".into()
                })?;
            }
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "exchange.exchange-to-exchange-binding",
        "A message published to an exchange bound to another reaches the other's queues",
        &["AMQP091-ext-exchange-bind"],
        controls::drop_to_client("basic.get-ok", "Get-Ok never arrives"),
        |ctx| async move {
            let r = rule("AMQP091-ext-exchange-bind");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let (src, dst) = (ctx.unique("src"), ctx.unique("dst"));
            s.declare_exchange(ch, &src, "fanout", &["auto-delete"], r)
                .await?;
            s.declare_exchange(ch, &dst, "fanout", &["auto-delete"], r)
                .await?;
            let bind = Method::new(MethodId::EXCHANGE_BIND)
                .with("destination", dst.as_str())
                .with("source", src.as_str());
            s.ok(ch, bind, MethodId::EXCHANGE_BIND_OK, r).await?;
            let qn = s.declare_queue(ch, "", &["exclusive"], r).await?;
            s.bind(ch, &qn, &dst, "", r).await?;
            s.publish(ch, &src, "", Properties::new(), b"m").await;
            ctx.ensure(s.get(ch, &qn, true, r).await?.is_some(), r, || {
                "nothing crossed the binding".into()
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "queue.dead-letter-on-reject",
        "A message rejected from a queue with a dead-letter exchange lands in the dead-letter queue",
        &["AMQP091-ext-dead-letter"],
        controls::drop_to_client("basic.deliver", "the dead-lettered message is never delivered"),
        |ctx| async move {
            let r = rule("AMQP091-ext-dead-letter");
            let (mut s, ch) = Session::with_channel(&ctx).await?;
            let dlq = s.declare_queue(ch, "", &["exclusive"], r).await?;
            let args = FieldTable::new()
                .with("x-dead-letter-exchange", "")
                .with("x-dead-letter-routing-key", dlq.as_str());
            let qn = ctx.unique("q");
            s.ok(ch, q(&qn).with("exclusive", true).with("arguments", args), MethodId::QUEUE_DECLARE_OK, r).await?;
            s.publish(ch, "", &qn, Properties::new(), b"dead").await;
            let m = s.get(ch, &qn, false, r).await?.ok_or_else(|| Failure::fail(r, "no message"))?;
            let tag = m.method.int("delivery-tag");
            // Dead-lettering is asynchronous: a consumer on the dead-letter queue sees it
            // arrive.
            let c2 = s.channel().await?;
            s.consume(c2, &dlq, true, r).await?;
            s.send(ch, Method::new(MethodId::BASIC_REJECT).with("delivery-tag", tag)).await;
            let dead = s.message(c2, r, "the dead-lettered message").await?;
            ctx.ensure(dead.body == b"dead", r, || format!("the dead-letter queue got {:?}", dead.body))?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "queue.message-ttl-expired",
        "A message whose expiration is 0 is not delivered from a queue with no consumer",
        &["AMQP091-ext-message-ttl"],
        controls::corrupt_bodies(),
        |ctx| async move {
            let r = rule("AMQP091-ext-message-ttl");
            let (mut s, ch, qn) = Session::with_queue(&ctx, r).await?;
            s.publish(
                ch,
                "",
                &qn,
                Properties::new().with("expiration", "0"),
                b"gone",
            )
            .await;
            s.publish(ch, "", &qn, Properties::new(), b"kept").await;
            let m = s.get(ch, &qn, true, r).await?;
            ctx.ensure(m.as_ref().is_some_and(|m| m.body == b"kept"), r, || {
                format!(
                    "got {:?}",
                    m.map(|m| String::from_utf8_lossy(&m.body).into_owned())
                )
            })?;
            s.close().await;
            Ok(())
        },
    ));
    t
}
