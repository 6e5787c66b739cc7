//! The protocol tests: headers and SASL, open and close, idle time-out, sessions, links,
//! credit and drain, settlement modes, outcomes, redelivery, message sections. Each names
//! the statements it covers and its negative control, and uses queue names unique to its
//! attempt.

use std::future::Future;
use std::time::Duration;

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::amqp10::{
    Body, Composite, Config, Connection, Event, LinkRole, Message, MessageBody, ProtocolHeader,
    RawFrame, Sasl, SettleMode, Value, condition as cond, decode, descriptor as d,
};

use super::controls::{self, Control};
use super::session::{Amqp, Next, condition, config, describe};
use super::{CAP, SUITE, rule};

pub(crate) fn case<F, Fut>(
    name: &str,
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
    let group: &'static str = match name.split('.').next().unwrap_or(name) {
        "connection" => "connection",
        "sasl" => "sasl",
        "session" => "session",
        "link" => "link",
        "flow" => "flow",
        "transfer" => "transfer",
        "outcome" => "outcome",
        "message" => "message",
        "types" => "types",
        _ => "frames",
    };
    TestCase::new(SUITE, format!("amqp10.{name}"), title, body)
        .covers(&refs)
        .needs(&[CAP])
        .tags(&[group])
        .control(control)
}

/// A queue address unique to the test.
pub(crate) fn queue(ctx: &Ctx, label: &str) -> String {
    format!("/queue/{}", ctx.unique(label))
}

/// A session with a receiving link (handle 1, declaring the queue) and a sending link
/// (handle 0) on one queue.
pub(crate) async fn pair(ctx: &Ctx, mode: SettleMode) -> Result<(Amqp, String), Failure> {
    let q = queue(ctx, "q");
    let mut s = Amqp::with_session(ctx).await?;
    s.receiver(1, &q, mode, rule("AMQP10-2.6.3-attach")).await?;
    s.sender(0, &q, SettleMode::Unsettled, rule("AMQP10-2.6.3-attach"))
        .await?;
    Ok((s, q))
}

/// Publishes `m` on handle 0 and requires it accepted.
pub(crate) async fn publish_accepted(s: &mut Amqp, m: &Message) -> Outcome {
    let r = rule("AMQP10-3.4-outcome");
    match s.publish(0, m, r).await? {
        Some(st) if st.is(d::ACCEPTED) => Ok(()),
        other => Err(Failure::fail(
            r,
            format!("the message was not accepted: {other:?}"),
        )),
    }
}

fn text(n: u32) -> Message {
    Message::value(Value::from(format!("m{n}")))
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.extend(headers_and_sasl());
    t.extend(connection());
    t.extend(sessions_and_links());
    t.extend(flow());
    t.extend(transfers_and_outcomes());
    t
}

/// A header exchange: `header` sent, the broker's header and whether it then closed.
async fn exchange_header(
    ctx: &Ctx,
    header: [u8; 8],
) -> Result<(Option<ProtocolHeader>, bool), Failure> {
    let mut s = Amqp::tcp(ctx, config(ctx)).await?;
    let now = s.now();
    s.conn.start_with_header(now, header);
    s.send_raw(&[]).await;
    let mut got = None;
    let mut closed = false;
    // Two response deadlines: the header, then the close.
    for _ in 0..2 {
        match s.next(s.response).await? {
            Next::Event(Event::Header(h) | Event::HeaderRefused(h)) => got = Some(h),
            Next::Closed => {
                closed = true;
                break;
            }
            Next::Silent => break,
            Next::Event(_) => {}
        }
    }
    Ok((got, closed))
}

fn headers_and_sasl() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(case(
        "connection.sasl-header-answered",
        "The SASL protocol header is answered with the same header, then sasl-mechanisms",
        &[
            "AMQP10-2.2-header-exchange",
            "AMQP10-5.3.1-sasl-header",
            "AMQP10-2.2-protocol-header",
        ],
        controls::header_version([1, 0, 1]),
        |ctx| async move {
            let r = rule("AMQP10-2.2-header-exchange");
            let mut s = Amqp::tcp(&ctx, config(&ctx)).await?;
            let now = s.now();
            s.conn.start(now);
            s.send_raw(&[]).await;
            match s.next(s.response).await? {
                Next::Event(Event::Header(h)) if h == ProtocolHeader::SASL => {}
                other => {
                    return Err(Failure::fail(
                        r,
                        format!("the SASL header was answered with {}", describe(&other)),
                    ));
                }
            }
            match s.next(s.response).await? {
                Next::Event(Event::Sasl(p)) if p.is(d::SASL_MECHANISMS) => Ok(()),
                other => Err(Failure::fail(
                    rule("AMQP10-5.3.1-sasl-header"),
                    format!("expected sasl-mechanisms: {}", describe(&other)),
                )),
            }
        },
    ));
    for (name, header, title) in [
        (
            "connection.version-1-0-1-refused",
            *b"AMQP\x00\x01\x00\x01",
            "A header asking for AMQP 1.0.1 is answered with a 1.0.0 header, then the socket closes",
        ),
        (
            "connection.version-2-0-0-refused",
            *b"AMQP\x00\x02\x00\x00",
            "A header asking for AMQP 2.0.0 is answered with a 1.0.0 header, then the socket closes",
        ),
        (
            "connection.protocol-id-9-refused",
            *b"AMQP\x09\x01\x00\x00",
            "A header naming an undefined protocol id (9) is answered with a header the broker speaks, then the socket closes",
        ),
        (
            "connection.tls-layer-refused",
            *b"AMQP\x02\x01\x00\x00",
            "A header asking for the TLS layer on a plain port is answered with a header the broker speaks there, then the socket closes",
        ),
    ] {
        t.push(case(
            name,
            title,
            &["AMQP10-2.2-version-refused"],
            controls::header_name(*b"HTTP"),
            move |ctx| async move {
                let r = rule("AMQP10-2.2-version-refused");
                let (got, closed) = exchange_header(&ctx, header).await?;
                // Any AMQP header but the one asked for names a version the broker
                // speaks (RabbitMQ's port speaks 0-9-1 too).
                let other = |h: &ProtocolHeader| h.name == *b"AMQP" && h.to_bytes() != header;
                match got {
                    Some(h) if other(&h) && closed => {
                        ctx.note(format!("answered with {h}"));
                        Ok(())
                    }
                    Some(h) if other(&h) => Err(Failure::fail(
                        r,
                        format!("answered with {h} but the socket stayed open"),
                    )),
                    Some(h) => Err(Failure::fail(
                        r,
                        format!("answered with {h}, not a header of a protocol the broker speaks"),
                    )),
                    None => Err(Failure::fail(
                        r,
                        format!("no protocol header came back (socket closed: {closed})"),
                    )),
                }
            },
        ));
    }
    t.push(case(
        "connection.amqp-header-without-sasl",
        "The AMQP header without SASL is either answered with the AMQP header and an open (the broker's default user), or with the SASL header it requires and a close",
        &["AMQP10-5.3.2-sasl-required", "AMQP10-2.2-header-exchange"],
        controls::header_version([1, 0, 1]),
        |ctx| async move {
            let r = rule("AMQP10-5.3.2-sasl-required");
            let cfg = Config { sasl: Sasl::None, ..config(&ctx) };
            let mut s = Amqp::tcp(&ctx, cfg).await?;
            let now = s.now();
            s.conn.start(now);
            s.send_raw(&[]).await;
            match s.next(s.response).await? {
                Next::Event(Event::Header(h)) if h == ProtocolHeader::AMQP => {
                    s.expect(d::OPEN, rule("AMQP10-2.4.1-open"), "open without SASL").await?;
                    ctx.note("the AMQP header without SASL is accepted (the broker's default user)");
                    Ok(())
                }
                Next::Event(Event::HeaderRefused(h)) if h == ProtocolHeader::SASL => {
                    s.expect_close(s.response, r, "the SASL header was required").await?;
                    Ok(())
                }
                other => Err(Failure::fail(r, format!("the AMQP header was answered with {}", describe(&other)))),
            }
        },
    ));
    t.push(case(
        "sasl.mechanisms-listed",
        "sasl-mechanisms lists PLAIN, the mechanism the broker then accepts",
        &["AMQP10-5.3.3.1-mechanisms"],
        controls::set_field(
            "sasl-mechanisms",
            "sasl-server-mechanisms",
            Value::symbol("X-NONE"),
            "the broker offers only X-NONE",
        ),
        |ctx| async move {
            let r = rule("AMQP10-5.3.3.1-mechanisms");
            let mut s = Amqp::tcp(&ctx, config(&ctx)).await?;
            let now = s.now();
            s.conn.start(now);
            s.send_raw(&[]).await;
            loop {
                match s.next(s.response).await? {
                    Next::Event(Event::Header(_)) => {}
                    Next::Event(Event::Sasl(p)) => {
                        let m: Vec<String> = p
                            .multiple("sasl-server-mechanisms")
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect();
                        ctx.note(format!("mechanisms offered: {m:?}"));
                        return ctx.ensure(m.iter().any(|x| x == "PLAIN"), r, || {
                            format!("PLAIN is not offered: {m:?}")
                        });
                    }
                    other => {
                        return Err(Failure::fail(
                            r,
                            format!("no sasl-mechanisms: {}", describe(&other)),
                        ));
                    }
                }
            }
        },
    ));
    t.push(case(
        "sasl.plain-accepted",
        "PLAIN with the guest account ends in sasl-outcome ok, then the AMQP header exchange and open",
        &["AMQP10-5.3.3.5-outcome-ok", "AMQP10-2.4.1-open"],
        controls::sasl_outcome(1),
        |ctx| async move {
            let r = rule("AMQP10-5.3.3.5-outcome-ok");
            let mut s = Amqp::tcp(&ctx, config(&ctx)).await?;
            let now = s.now();
            s.conn.start(now);
            s.send_raw(&[]).await;
            loop {
                match s.next(s.response).await? {
                    Next::Event(Event::Sasl(p)) if p.is(d::SASL_OUTCOME) => {
                        if p.u64("code") != Some(0) {
                            return Err(Failure::fail(r, format!("guest/guest got {p}")));
                        }
                    }
                    Next::Event(Event::Performative { performative, .. }) if performative.is(d::OPEN) => return Ok(()),
                    Next::Event(Event::Header(_) | Event::Sasl(_)) => {}
                    other => return Err(Failure::fail(r, format!("the connection did not open: {}", describe(&other)))),
                }
            }
        },
    ));
    t.push(case(
        "sasl.anonymous-accepted",
        "ANONYMOUS, where offered, ends in sasl-outcome ok and an open",
        &["AMQP10-5.3.3.5-outcome-ok"],
        controls::sasl_outcome(1),
        |ctx| async move {
            let r = rule("AMQP10-5.3.3.5-outcome-ok");
            let cfg = Config {
                sasl: Sasl::Anonymous,
                ..config(&ctx)
            };
            let mut s = Amqp::tcp(&ctx, cfg).await?;
            let now = s.now();
            s.conn.start(now);
            s.send_raw(&[]).await;
            loop {
                match s.next(s.response).await? {
                    Next::Event(Event::Sasl(p)) if p.is(d::SASL_MECHANISMS) => {
                        let offered = p
                            .multiple("sasl-server-mechanisms")
                            .iter()
                            .any(|v| v.as_str() == Some("ANONYMOUS"));
                        if !offered {
                            return Err(Failure::skip("the broker does not offer ANONYMOUS"));
                        }
                    }
                    Next::Event(Event::Sasl(p))
                        if p.is(d::SASL_OUTCOME) && p.u64("code") != Some(0) =>
                    {
                        return Err(Failure::fail(r, format!("ANONYMOUS got {p}")));
                    }
                    Next::Event(Event::Performative { performative, .. })
                        if performative.is(d::OPEN) =>
                    {
                        return Ok(());
                    }
                    Next::Event(Event::Header(_) | Event::Sasl(_)) => {}
                    other => {
                        return Err(Failure::fail(
                            r,
                            format!("the connection did not open: {}", describe(&other)),
                        ));
                    }
                }
            }
        },
    ));
    let good_init = || {
        let mut resp = b"\0guest\0guest".to_vec();
        resp.shrink_to_fit();
        Composite::named("sasl-init")
            .with("mechanism", Value::symbol("PLAIN"))
            .with("initial-response", resp)
    };
    for (name, title, sasl, covers) in [
        (
            "sasl.wrong-password",
            "PLAIN with a wrong password ends in sasl-outcome auth (1), and no AMQP layer follows",
            Sasl::Plain {
                user: "guest".into(),
                password: "not-the-password".into(),
            },
            &["AMQP10-5.3.3.5-outcome-auth"][..],
        ),
        (
            "sasl.unknown-user",
            "PLAIN with a user the broker does not know ends in sasl-outcome auth (1)",
            Sasl::Plain {
                user: "hilt-nobody".into(),
                password: "x".into(),
            },
            &["AMQP10-5.3.3.5-outcome-auth"][..],
        ),
        (
            "sasl.mechanism-not-offered",
            "A sasl-init naming a mechanism the broker did not offer does not succeed",
            Sasl::Mechanism {
                name: "X-HILT".into(),
                response: b"x".to_vec(),
            },
            &["AMQP10-5.3.2-mechanism-not-offered"][..],
        ),
    ] {
        let first = covers[0];
        t.push(case(
            name,
            title,
            covers,
            Control::new(
                "the client's sasl-init reaches the broker as PLAIN guest/guest",
                move || {
                    vec![Rule::new(
                        Dir::ToServer,
                        Match::kind("sasl-init"),
                        Action::rewrite(move |_| {
                            hilt_wire::amqp10::Frame::sasl(good_init()).to_bytes()
                        }),
                    )]
                },
            ),
            move |ctx| {
                let sasl = sasl.clone();
                async move {
                    let r = rule(first);
                    let cfg = Config {
                        sasl,
                        ..config(&ctx)
                    };
                    let mut s = Amqp::tcp(&ctx, cfg).await?;
                    let now = s.now();
                    s.conn.start(now);
                    s.send_raw(&[]).await;
                    let mut outcome = false;
                    loop {
                        match s.next(s.response).await? {
                            Next::Event(Event::Sasl(p)) if p.is(d::SASL_OUTCOME) => {
                                outcome = true;
                                let code = p.u64("code");
                                if code == Some(0) {
                                    return Err(Failure::fail(
                                        r,
                                        format!("the exchange succeeded: {p}"),
                                    ));
                                }
                                if first == "AMQP10-5.3.3.5-outcome-auth" && code != Some(1) {
                                    return Err(Failure::fail(
                                        r,
                                        format!("refused with {p}, not code 1 (auth)"),
                                    ));
                                }
                            }
                            Next::Event(Event::Header(h)) if h == ProtocolHeader::AMQP => {
                                return Err(Failure::fail(
                                    r,
                                    "the AMQP layer followed a failed exchange",
                                ));
                            }
                            Next::Event(Event::Performative { performative, .. }) => {
                                return Err(Failure::fail(
                                    r,
                                    format!("{performative} after a failed exchange"),
                                ));
                            }
                            // No AMQP layer within the deadline after the outcome: done,
                            // whether or not the broker also closed the socket.
                            Next::Silent | Next::Closed if outcome => return Ok(()),
                            Next::Closed => {
                                return Err(Failure::fail(
                                    r,
                                    "the socket closed without a sasl-outcome",
                                ));
                            }
                            Next::Silent => {
                                return Err(Failure::fail(
                                    r,
                                    format!(
                                        "no sasl-outcome within {:?} of the sasl-init",
                                        s.response
                                    ),
                                ));
                            }
                            Next::Event(_) => {}
                        }
                    }
                }
            },
        ));
    }
    t
}

fn connection() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(case(
        "connection.open-answered",
        "An open is answered with an open carrying a container-id",
        &["AMQP10-2.4.1-open", "AMQP10-2.7-performative"],
        controls::drop_to_client("open", "the broker's open never arrives"),
        |ctx| async move {
            let r = rule("AMQP10-2.4.1-open");
            let cfg = Config {
                auto_open: false,
                ..config(&ctx)
            };
            let mut s = Amqp::tcp(&ctx, cfg).await?;
            let now = s.now();
            s.conn.start(now);
            s.send_raw(&[]).await;
            let open = s.conn.open();
            // After SASL the AMQP header goes out; then our open.
            loop {
                match s.next(s.response).await? {
                    Next::Event(Event::Header(h)) if h == ProtocolHeader::AMQP => break,
                    Next::Event(Event::Header(_) | Event::Sasl(_)) => {}
                    other => {
                        return Err(Failure::error(format!(
                            "no AMQP header: {}",
                            describe(&other)
                        )));
                    }
                }
            }
            s.send(0, open).await;
            let (_, o) = s.expect(d::OPEN, r, "our open").await?;
            ctx.note(format!("broker's open: {o}"));
            ctx.ensure(
                o.get("container-id")
                    .as_str()
                    .is_some_and(|c| !c.is_empty()),
                r,
                || format!("open without a container-id: {o}"),
            )
        },
    ));
    t.push(case(
        "connection.close-answered",
        "A close is answered with a close, then the socket ends",
        &["AMQP10-2.4.3-close"],
        controls::drop_to_client("close", "the broker's close never arrives"),
        |ctx| async move {
            let r = rule("AMQP10-2.4.3-close");
            let mut s = Amqp::open(&ctx).await?;
            let now = s.now();
            s.conn.close(now, None);
            s.send_raw(&[]).await;
            s.expect(d::CLOSE, r, "our close").await?;
            Ok(())
        },
    ));
    t.push(case(
        "connection.first-frame-not-open",
        "A begin sent as the first frame after the AMQP header, instead of open, ends the connection",
        &["AMQP10-2.4.1-open-before-anything"],
        controls::black_hole_after(3, "after the SASL exchange nothing passes and no one closes"),
        |ctx| async move {
            let r = rule("AMQP10-2.4.1-open-before-anything");
            let cfg = Config { auto_open: false, ..config(&ctx) };
            let mut s = Amqp::tcp(&ctx, cfg).await?;
            let now = s.now();
            s.conn.start(now);
            s.send_raw(&[]).await;
            loop {
                match s.next(s.response).await? {
                    Next::Event(Event::Header(h)) if h == ProtocolHeader::AMQP => break,
                    Next::Event(Event::Header(_) | Event::Sasl(_)) => {}
                    other => return Err(Failure::error(format!("no AMQP header: {}", describe(&other)))),
                }
            }
            let now = s.now();
            s.conn.begin(now, 0);
            s.send_raw(&[]).await;
            let deadline = s.response * 2;
            let mut seen = Vec::new();
            let end = tokio::time::Instant::now() + deadline;
            loop {
                let left = end.saturating_duration_since(tokio::time::Instant::now());
                match s.next(left).await? {
                    Next::Closed => return Ok(()),
                    Next::Event(Event::Performative { performative, .. }) if performative.is(d::BEGIN) => {
                        return Err(Failure::fail(r, "the begin was answered before any open"));
                    }
                    Next::Event(Event::Performative { performative, .. }) if performative.is(d::CLOSE) => {
                        seen.push(performative.to_string());
                        s.close_ack().await;
                    }
                    Next::Silent => return Err(Failure::fail(r, format!("the connection stayed open ({seen:?})"))),
                    Next::Event(_) => {}
                }
            }
        },
    ));
    t.push(case(
        "connection.max-frame-size-honoured",
        "With max-frame-size 512 announced, a 3000-octet message arrives in several transfers, none above 512 octets, put together unchanged",
        &["AMQP10-2.7.1-max-frame-size", "AMQP10-2.6.14-multi-frame", "AMQP10-2.6.12-transfer"],
        Control::new("the client's open reaches the broker announcing max-frame-size 65536", || {
            vec![Rule::new(Dir::ToServer, Match::kind("open"), Action::rewrite(|b| match decode(b, 0) {
                Ok(hilt_wire::Decoded::Done(mut f, _)) => {
                    if let Body::Amqp { performative, .. } = &mut f.body {
                        performative.set("max-frame-size", 65536u32);
                    }
                    f.to_bytes()
                }
                _ => b.to_vec(),
            }))]
        }),
        |ctx| async move {
            let r = rule("AMQP10-2.6.14-multi-frame");
            let q = queue(&ctx, "q");
            let cfg = Config { max_frame_size: 512, ..config(&ctx) };
            let mut s = Amqp::open_with(&ctx, cfg).await?;
            s.begin(0, rule("AMQP10-2.5.1-begin")).await?;
            s.receiver(1, &q, SettleMode::Unsettled, rule("AMQP10-2.6.3-attach")).await?;
            s.sender(0, &q, SettleMode::Unsettled, rule("AMQP10-2.6.3-attach")).await?;
            let m = Message::data((0..3000u32).map(|i| i as u8).collect::<Vec<u8>>());
            publish_accepted(&mut s, &m).await?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "the large message").await?;
            ctx.note(format!("{} transfer frames", dl.frames));
            ctx.ensure(dl.frames >= 6, r, || format!("a 3000-octet message in {} transfer(s) of at most 512 octets", dl.frames))?;
            let body = dl.message.as_ref().map(|got| &got.body);
            ctx.ensure(body == Ok(&m.body), r, || format!("the body changed: {:?}", dl.message.as_ref().map(ToString::to_string)))
        },
    ));
    t.push(case(
        "connection.small-frames-accepted",
        "A 20000-octet message sent in transfers of 512 octets (the minimum any peer accepts) is put together unchanged",
        &["AMQP10-2.7.1-max-frame-size-minimum", "AMQP10-2.6.14-multi-frame", "AMQP10-3.2-bare-message-immutable"],
        controls::corrupt_sent_payloads(),
        |ctx| async move {
            let r = rule("AMQP10-2.7.1-max-frame-size-minimum");
            let (mut s, _) = pair(&ctx, SettleMode::Unsettled).await?;
            let m = Message::data((0..20000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
            let now = s.now();
            s.conn.transfer_payload(now, 0, 0, &m.to_bytes(), false, Some(512));
            s.send_raw(&[]).await;
            let (_, disp) = s.expect(d::DISPOSITION, r, "a message in 512-octet transfers").await?;
            ctx.ensure(disp.composite("state").is_some_and(|st| st.is(d::ACCEPTED)), r, || format!("not accepted: {disp}"))?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "the message sent in small frames").await?;
            let body = dl.message.as_ref().map(|got| &got.body);
            ctx.ensure(body == Ok(&m.body), rule("AMQP10-3.2-bare-message-immutable"), || format!("the body changed: {:?}", dl.message.as_ref().map(ToString::to_string)))
        },
    ));
    t.push(case(
        "connection.frame-above-max-frame-size",
        "A frame larger than the broker's announced max-frame-size ends the connection with an error",
        &["AMQP10-2.7.1-max-frame-size", "AMQP10-2.8.16-framing-error"],
        controls::black_hole_after(5, "the oversized frame never arrives and no one closes"),
        |ctx| async move {
            let r = rule("AMQP10-2.7.1-max-frame-size");
            let (mut s, _) = pair(&ctx, SettleMode::Unsettled).await?;
            let max = s.conn.peer_max_frame_size();
            if max >= 1 << 24 {
                return Err(Failure::skip(format!("the broker announces max-frame-size {max}")));
            }
            let m = Message::data(vec![0x61; max as usize + 100]);
            let now = s.now();
            s.conn.transfer_payload(now, 0, 0, &m.to_bytes(), false, Some(u32::MAX));
            s.send_raw(&[]).await;
            let e = s.expect_close(s.response, r, &format!("a frame above max-frame-size {max} was sent")).await?;
            ctx.note(format!("closed with {}", condition(&e)));
            Ok(())
        },
    ));
    t.push(case(
        "connection.idle-time-out-honoured",
        "With an idle time-out of 1000 ms announced, the broker sends a frame (empty if it has nothing to say) at least every 1000 ms for 3 s",
        &["AMQP10-2.4.5-idle-time-out-honoured", "AMQP10-2.3.2-empty-frame"],
        controls::drop_to_client("empty", "the broker's empty frames never arrive"),
        |ctx| async move {
            let r = rule("AMQP10-2.4.5-idle-time-out-honoured");
            let cfg = Config { idle_time_out: Some(1000), ..config(&ctx) };
            let mut s = Amqp::open_with(&ctx, cfg).await?;
            let start = tokio::time::Instant::now();
            let mut last = start;
            let mut frames = 0;
            while start.elapsed() < Duration::from_secs(3) {
                match s.next_with(Duration::from_millis(1000), false).await? {
                    Next::Event(_) => {
                        frames += 1;
                        last = tokio::time::Instant::now();
                    }
                    Next::Silent => {
                        return Err(Failure::fail(r, format!("nothing for 1000 ms after {frames} frame(s), {:?} in", last - start)));
                    }
                    Next::Closed => return Err(Failure::fail(r, "the broker closed the connection")),
                }
            }
            ctx.note(format!("{frames} frames in 3 s"));
            Ok(())
        },
    ));
    t.push(case(
        "connection.empty-frames-accepted",
        "Empty frames between performatives are accepted: a begin after three of them is answered",
        &["AMQP10-2.3.2-empty-frame"],
        controls::drop_to_client("begin", "the broker's begin never arrives"),
        |ctx| async move {
            let mut s = Amqp::open(&ctx).await?;
            let empty = hilt_wire::amqp10::Frame::empty().to_bytes();
            for _ in 0..3 {
                s.send_raw(&empty).await;
            }
            s.begin(0, rule("AMQP10-2.3.2-empty-frame")).await?;
            Ok(())
        },
    ));
    t.push(case(
        "connection.extended-header-skipped",
        "A begin whose frame has a 4-octet extended header (data offset 3) is read past it and answered",
        &["AMQP10-2.3.1-extended-header"],
        controls::drop_to_client("begin", "the broker's begin never arrives"),
        |ctx| async move {
            let r = rule("AMQP10-2.3.1-extended-header");
            let mut s = Amqp::open(&ctx).await?;
            let begin = Composite::named("begin")
                .with("next-outgoing-id", 0u32)
                .with("incoming-window", 100u32)
                .with("outgoing-window", 100u32);
            let mut raw = RawFrame::of(&hilt_wire::amqp10::Frame::amqp(0, begin));
            raw.extended = vec![0xa5; 4];
            s.send_raw(&raw.to_bytes()).await;
            s.expect(d::BEGIN, r, "a begin with an extended header").await?;
            Ok(())
        },
    ));
    t
}

impl Amqp {
    /// Answers a close the broker sent (best effort).
    pub async fn close_ack(&mut self) {
        let now = self.now();
        self.conn.close(now, None);
        self.send_raw(&[]).await;
    }
}

fn sessions_and_links() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(case(
        "session.begin-answered",
        "A begin on channel 3 is answered with a begin whose remote-channel is 3",
        &["AMQP10-2.5.1-begin"],
        controls::set_field(
            "begin",
            "remote-channel",
            Value::Ushort(7),
            "the broker's begin names remote-channel 7",
        ),
        |ctx| async move {
            let r = rule("AMQP10-2.5.1-begin");
            let mut s = Amqp::open(&ctx).await?;
            let b = s.begin(3, r).await?;
            ctx.ensure(b.u64("remote-channel") == Some(3), r, || {
                format!("answered with {b}")
            })
        },
    ));
    t.push(case(
        "session.two-sessions",
        "Begins on channels 0 and 1 are each answered, naming their own channel",
        &["AMQP10-2.5.1-begin"],
        controls::set_field(
            "begin",
            "remote-channel",
            Value::Ushort(0),
            "the broker's begins all name remote-channel 0",
        ),
        |ctx| async move {
            let r = rule("AMQP10-2.5.1-begin");
            let mut s = Amqp::open(&ctx).await?;
            let a = s.begin(0, r).await?;
            let b = s.begin(1, r).await?;
            let got = (a.u64("remote-channel"), b.u64("remote-channel"));
            ctx.ensure(got == (Some(0), Some(1)), r, || {
                format!("remote-channels {got:?}")
            })
        },
    ));
    t.push(case(
        "session.end-answered",
        "An end is answered with an end on the same session",
        &["AMQP10-2.5.5-end"],
        controls::drop_to_client("end", "the broker's end never arrives"),
        |ctx| async move {
            let r = rule("AMQP10-2.5.5-end");
            let mut s = Amqp::with_session(&ctx).await?;
            s.send(0, Composite::named("end")).await;
            s.expect(d::END, r, "our end").await?;
            s.close().await;
            Ok(())
        },
    ));
    t.push(case(
        "link.attach-sender",
        "A sending link's attach is answered with an attach of the same name, role receiver, and credit follows",
        &["AMQP10-2.6.3-attach"],
        controls::rewrite("attach", "the broker's attach names another link", |a| a.set("name", "someone-else")),
        |ctx| async move {
            let r = rule("AMQP10-2.6.3-attach");
            let q = queue(&ctx, "q");
            let mut s = Amqp::with_session(&ctx).await?;
            s.receiver(1, &q, SettleMode::Unsettled, r).await?;
            let a = s.sender(0, &q, SettleMode::Unsettled, r).await?;
            let want = format!("snd-0-{q}");
            ctx.ensure(a.get("name").as_str() == Some(want.as_str()) && a.bool("role") == Some(true), r, || format!("answered with {a}"))
        },
    ));
    t.push(case(
        "link.attach-receiver",
        "A receiving link's attach is answered with an attach of the same name and role sender",
        &["AMQP10-2.6.3-attach"],
        controls::rewrite("attach", "the broker's attach says role receiver", |a| {
            a.set("role", true)
        }),
        |ctx| async move {
            let r = rule("AMQP10-2.6.3-attach");
            let q = queue(&ctx, "q");
            let mut s = Amqp::with_session(&ctx).await?;
            let a = s.receiver(1, &q, SettleMode::Unsettled, r).await?;
            let want = format!("rcv-1-{q}");
            ctx.ensure(
                a.get("name").as_str() == Some(want.as_str()) && a.bool("role") == Some(false),
                r,
                || format!("answered with {a}"),
            )
        },
    ));
    t.push(case(
        "link.detach-closed",
        "A detach with closed=true is answered with a detach with closed=true",
        &["AMQP10-2.6.4-detach-closed"],
        controls::set_field(
            "detach",
            "closed",
            Value::Bool(false),
            "the broker's detach says closed=false",
        ),
        |ctx| async move {
            let r = rule("AMQP10-2.6.4-detach-closed");
            let q = queue(&ctx, "q");
            let mut s = Amqp::with_session(&ctx).await?;
            s.receiver(1, &q, SettleMode::Unsettled, r).await?;
            s.send(
                0,
                Composite::named("detach")
                    .with("handle", 1u32)
                    .with("closed", true),
            )
            .await;
            let (_, dt) = s.expect(d::DETACH, r, "a closing detach").await?;
            ctx.ensure(dt.bool("closed") == Some(true), r, || {
                format!("answered with {dt}")
            })
        },
    ));
    t.push(case(
        "link.source-not-found",
        "A receiving link from a queue that does not exist (/amq/queue/…) is refused: detach with amqp:not-found",
        &["AMQP10-2.8.15-not-found"],
        controls::rewrite("detach", "the broker's detach carries no error", |dt| dt.set("error", Value::Null)),
        |ctx| async move {
            let r = rule("AMQP10-2.8.15-not-found");
            let mut s = Amqp::with_session(&ctx).await?;
            let addr = format!("/amq/queue/{}", ctx.unique("none"));
            s.receiver(1, &addr, SettleMode::Unsettled, r).await?;
            let (_, dt) = s.expect(d::DETACH, r, "a link to a missing queue").await?;
            let e = dt.composite("error");
            ctx.ensure(condition(&e) == cond::NOT_FOUND, r, || format!("detached with {}", condition(&e)))
        },
    ));
    for (name, title, frame) in [
        (
            "link.transfer-unattached-handle",
            "A transfer on a handle that was never attached ends the session (or connection) with unattached-handle",
            "transfer",
        ),
        (
            "link.flow-unattached-handle",
            "A flow naming a handle that was never attached ends the session (or connection) with unattached-handle",
            "flow",
        ),
        (
            "link.disposition-unknown-delivery",
            "A disposition for a delivery that was never sent is ignored: the session stays usable",
            "disposition",
        ),
    ] {
        let covers: &[&'static str] = if frame == "disposition" {
            &["AMQP10-2.7.6-disposition"]
        } else {
            &["AMQP10-2.7.5-unattached-handle"]
        };
        t.push(case(
            name,
            title,
            covers,
            if frame == "disposition" {
                controls::drop_to_client("begin", "the broker's begins never arrive")
            } else {
                controls::black_hole_after(5, "the frame never arrives and no one answers")
            },
            move |ctx| async move {
                let r = rule(covers[0]);
                let mut s = Amqp::with_session(&ctx).await?;
                match frame {
                    "transfer" => {
                        let now = s.now();
                        s.conn
                            .transfer_payload(now, 0, 9, &text(0).to_bytes(), true, None);
                        s.send_raw(&[]).await;
                    }
                    "flow" => {
                        let f = s.conn.flow_frame(0, Some((9, 10, false)));
                        s.send(0, f).await;
                    }
                    _ => {
                        let now = s.now();
                        let p = Connection::disposition(
                            LinkRole::Receiver,
                            4000,
                            None,
                            true,
                            Some(Composite::named("accepted")),
                        );
                        s.conn.send(now, 0, p);
                        s.send_raw(&[]).await;
                        // Still usable: a second session begins.
                        s.begin(1, r).await?;
                        return Ok(());
                    }
                }
                let mut seen = Vec::new();
                let end = tokio::time::Instant::now() + s.response;
                loop {
                    let left = end.saturating_duration_since(tokio::time::Instant::now());
                    match s.next(left).await? {
                        Next::Event(Event::Performative { performative, .. })
                            if performative.is(d::END) || performative.is(d::CLOSE) =>
                        {
                            let e = performative.composite("error");
                            ctx.note(format!("{} with {}", performative.name(), condition(&e)));
                            return ctx.ensure(condition(&e) == cond::UNATTACHED_HANDLE, r, || {
                                format!("{performative}, not unattached-handle")
                            });
                        }
                        Next::Event(e) => seen.push(format!("{e:?}")),
                        other => {
                            return Err(Failure::fail(
                                r,
                                format!("no end or close: {} (seen {seen:?})", describe(&other)),
                            ));
                        }
                    }
                }
            },
        ));
    }
    t
}

fn flow() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(case(
        "flow.credit-limits-deliveries",
        "With 5 messages queued and 2 credits granted, exactly 2 arrive",
        &["AMQP10-2.6.7-credit"],
        controls::duplicate_deliveries(),
        |ctx| async move {
            let r = rule("AMQP10-2.6.7-credit");
            let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
            for i in 0..5 {
                publish_accepted(&mut s, &text(i)).await?;
            }
            s.flow(1, 2, false).await;
            s.delivery(r, "the first of 2 credited messages").await?;
            s.delivery(r, "the second of 2 credited messages").await?;
            s.no_delivery(s.response, r, "only 2 credits were granted")
                .await
        },
    ));
    t.push(case(
        "flow.delivery-count-echoed",
        "After 3 deliveries a flow with echo set is answered with a flow whose delivery-count is 3 above the initial one",
        &["AMQP10-2.6.7-delivery-count", "AMQP10-2.6.7-echo"],
        controls::skew_delivery_count(5),
        |ctx| async move {
            let r = rule("AMQP10-2.6.7-delivery-count");
            let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
            for i in 0..3 {
                publish_accepted(&mut s, &text(i)).await?;
            }
            s.flow(1, 3, false).await;
            for _ in 0..3 {
                s.delivery(r, "a credited message").await?;
            }
            let initial = 0u32;
            let mut f = s.conn.flow_frame(0, Some((1, 10, false)));
            f.set("echo", true);
            s.send(0, f).await;
            let end = tokio::time::Instant::now() + s.response;
            loop {
                let left = end.saturating_duration_since(tokio::time::Instant::now());
                match s.next(left).await? {
                    Next::Event(Event::Performative { performative, .. }) if performative.is(d::FLOW) && performative.u64("handle") == Some(1) => {
                        let dc = performative.u64("delivery-count");
                        return ctx.ensure(dc == Some(u64::from(initial + 3)), r, || format!("delivery-count {dc:?} after 3 deliveries: {performative}"));
                    }
                    Next::Event(Event::Performative { performative, .. }) if performative.is(d::FLOW) => {}
                    other => return Err(Failure::fail(rule("AMQP10-2.6.7-echo"), format!("a flow with echo got {}", describe(&other)))),
                }
            }
        },
    ));
    for (name, queued, title) in [
        (
            "flow.drain-empty-queue",
            0u32,
            "Drain with 5 credits on an empty queue is answered with a flow: delivery-count up by 5, link-credit 0",
        ),
        (
            "flow.drain-partial",
            2u32,
            "Drain with 5 credits and 2 messages queued: 2 deliveries, then a flow with delivery-count up by 5 and link-credit 0",
        ),
    ] {
        t.push(case(
            name,
            title,
            &["AMQP10-2.6.7-drain"],
            controls::skew_delivery_count(1),
            move |ctx| async move {
                let r = rule("AMQP10-2.6.7-drain");
                let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
                for i in 0..queued {
                    publish_accepted(&mut s, &text(i)).await?;
                }
                s.flow(1, 5, true).await;
                let mut got = 0;
                let mut flows = Vec::new();
                let end = tokio::time::Instant::now() + s.response;
                loop {
                    let left = end.saturating_duration_since(tokio::time::Instant::now());
                    match s.next(left).await? {
                        Next::Event(Event::Delivery(_)) => got += 1,
                        // The drain ends with a flow that has used the credit up.
                        Next::Event(Event::Performative { performative, .. })
                            if performative.is(d::FLOW)
                                && performative.u64("handle") == Some(1)
                                && performative.u64("link-credit") == Some(0) =>
                        {
                            let dc = performative.u64("delivery-count");
                            return ctx.ensure(got == queued && dc == Some(5), r, || {
                                format!("after {got} deliveries: {performative}")
                            });
                        }
                        Next::Event(Event::Performative { performative, .. })
                            if performative.is(d::FLOW) =>
                        {
                            flows.push(performative.to_string())
                        }
                        Next::Event(Event::Performative { performative, .. })
                            if performative.is(d::DISPOSITION) => {}
                        other => {
                            return Err(Failure::fail(
                                r,
                                format!(
                                    "the drain did not end ({got} deliveries, flows {flows:?}): {}",
                                    describe(&other)
                                ),
                            ));
                        }
                    }
                }
            },
        ));
    }
    t.push(case(
        "flow.credit-granted-to-sender",
        "A sending link gets link-credit from the broker (a flow naming its handle) without asking",
        &["AMQP10-2.6.7-credit"],
        controls::drop_to_client("flow", "the broker's flows never arrive"),
        |ctx| async move {
            let r = rule("AMQP10-2.6.7-credit");
            let q = queue(&ctx, "q");
            let mut s = Amqp::with_session(&ctx).await?;
            s.receiver(1, &q, SettleMode::Unsettled, r).await?;
            s.sender(0, &q, SettleMode::Unsettled, r).await?;
            let credit = s.conn.link(0, 0).map_or(0, |l| l.link_credit);
            ctx.note(format!("credit granted: {credit}"));
            Ok(())
        },
    ));
    t
}

fn transfers_and_outcomes() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(case(
        "transfer.at-most-once",
        "A receiving link with snd-settle-mode settled gets its deliveries settled",
        &["AMQP10-2.7.3-snd-settle-mode-settled"],
        controls::transfers_settled(false),
        |ctx| async move {
            let r = rule("AMQP10-2.7.3-snd-settle-mode-settled");
            let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
            publish_accepted(&mut s, &text(1)).await?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "a message").await?;
            ctx.ensure(dl.settled, r, || {
                format!("delivery {} arrived unsettled", dl.delivery_id)
            })
        },
    ));
    t.push(case(
        "transfer.at-least-once",
        "A receiving link with snd-settle-mode unsettled gets its deliveries unsettled",
        &["AMQP10-2.7.3-snd-settle-mode-unsettled"],
        controls::transfers_settled(true),
        |ctx| async move {
            let r = rule("AMQP10-2.7.3-snd-settle-mode-unsettled");
            let (mut s, _) = pair(&ctx, SettleMode::Unsettled).await?;
            publish_accepted(&mut s, &text(1)).await?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "a message").await?;
            ctx.ensure(!dl.settled, r, || {
                format!("delivery {} arrived settled", dl.delivery_id)
            })
        },
    ));
    t.push(case(
        "transfer.publish-accepted",
        "An unsettled transfer to a queue is answered with a disposition: settled, outcome accepted",
        &["AMQP10-3.4-outcome"],
        controls::disposition_state(Composite::named("released"), "the broker's dispositions say released"),
        |ctx| async move {
            let (mut s, _) = pair(&ctx, SettleMode::Unsettled).await?;
            publish_accepted(&mut s, &text(1)).await
        },
    ));
    t.push(case(
        "transfer.delivery-ids-consecutive",
        "Three deliveries on a session take consecutive delivery-ids",
        &["AMQP10-2.5.6-delivery-id", "AMQP10-2.6.12-transfer"],
        controls::set_field(
            "transfer",
            "delivery-id",
            Value::Uint(7),
            "every transfer of the broker says delivery-id 7",
        ),
        |ctx| async move {
            let r = rule("AMQP10-2.5.6-delivery-id");
            let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
            for i in 0..3 {
                publish_accepted(&mut s, &text(i)).await?;
            }
            s.flow(1, 3, false).await;
            let mut ids = Vec::new();
            for _ in 0..3 {
                ids.push(s.delivery(r, "a credited message").await?.delivery_id);
            }
            ctx.ensure(
                ids[1] == ids[0].wrapping_add(1) && ids[2] == ids[1].wrapping_add(1),
                r,
                || format!("delivery-ids {ids:?}"),
            )
        },
    ));
    t.push(case(
        "transfer.delivery-tags-unique",
        "Five unsettled deliveries on a link carry five distinct delivery-tags",
        &["AMQP10-2.7.5-delivery-tag-unique"],
        controls::set_field(
            "transfer",
            "delivery-tag",
            Value::Binary(vec![1]),
            "every transfer of the broker carries tag 0x01",
        ),
        |ctx| async move {
            let r = rule("AMQP10-2.7.5-delivery-tag-unique");
            let (mut s, _) = pair(&ctx, SettleMode::Unsettled).await?;
            for i in 0..5 {
                publish_accepted(&mut s, &text(i)).await?;
            }
            s.flow(1, 5, false).await;
            let mut tags = Vec::new();
            for _ in 0..5 {
                tags.push(s.delivery(r, "a credited message").await?.tag);
            }
            let mut distinct = tags.clone();
            distinct.sort();
            distinct.dedup();
            ctx.ensure(distinct.len() == 5, r, || format!("tags {tags:02x?}"))
        },
    ));
    t.push(case(
        "transfer.more-on-all-but-last",
        "A 2000-octet message to a 512-octet receiver: every transfer but the last sets more, the first carries delivery-id and tag",
        &["AMQP10-2.6.12-transfer"],
        controls::set_field("transfer", "more", Value::Bool(false), "the broker's transfers never set more"),
        |ctx| async move {
            let r = rule("AMQP10-2.6.12-transfer");
            let q = queue(&ctx, "q");
            let cfg = Config { max_frame_size: 512, ..config(&ctx) };
            let mut s = Amqp::open_with(&ctx, cfg).await?;
            s.begin(0, rule("AMQP10-2.5.1-begin")).await?;
            s.receiver(1, &q, SettleMode::Unsettled, rule("AMQP10-2.6.3-attach")).await?;
            s.sender(0, &q, SettleMode::Unsettled, rule("AMQP10-2.6.3-attach")).await?;
            let m = Message::data(vec![0x5a; 2000]);
            publish_accepted(&mut s, &m).await?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "a large message").await?;
            let first_ok = dl.transfer.u64("delivery-id").is_some() && dl.transfer.get("delivery-tag").as_bytes().is_some();
            let body = dl.message.as_ref().map(|got| &got.body);
            ctx.ensure(dl.frames > 1 && first_ok && body == Ok(&m.body), r, || format!("{} frame(s), first {}, message {:?}", dl.frames, dl.transfer, dl.message.as_ref().map(ToString::to_string)))
        },
    ));
    // Outcomes: receive one message unsettled, settle it with an outcome, and see what
    // the queue does with it.
    for (name, title, outcome, redelivered, covers) in [
        (
            "outcome.accepted-not-redelivered",
            "An accepted message is not delivered again (a new link finds the queue empty)",
            Composite::named("accepted"),
            false,
            &["AMQP10-3.4.2-accepted", "AMQP10-2.7.6-disposition"][..],
        ),
        (
            "outcome.rejected-not-redelivered",
            "A rejected message is not delivered again on the link",
            Composite::named("rejected"),
            false,
            &["AMQP10-3.4.3-rejected"][..],
        ),
        (
            "outcome.released-redelivered",
            "A released message is delivered again, its header's delivery-count not raised",
            Composite::named("released"),
            true,
            &["AMQP10-3.4.4-released"][..],
        ),
        (
            "outcome.modified-failed-redelivered",
            "A message settled modified (delivery-failed) is delivered again with the header's delivery-count raised",
            Composite::named("modified").with("delivery-failed", true),
            true,
            &["AMQP10-3.4.5-modified", "AMQP10-3.2.1-delivery-count"][..],
        ),
        (
            "outcome.modified-undeliverable-here",
            "A message settled modified (undeliverable-here) is not delivered again on the link",
            Composite::named("modified").with("undeliverable-here", true),
            false,
            &["AMQP10-3.4.5-modified"][..],
        ),
    ] {
        let first = covers[0];
        // The control settles with the opposite of what the test expects.
        let swapped = if redelivered {
            Composite::named("accepted")
        } else {
            Composite::named("released")
        };
        let control = Control::new(
            format!(
                "the client's disposition reaches the broker as {}",
                swapped.name()
            ),
            move || {
                let swapped = swapped.clone();
                vec![Rule::new(
                    Dir::ToServer,
                    Match::kind("disposition"),
                    Action::rewrite(move |b| match decode(b, 0) {
                        Ok(hilt_wire::Decoded::Done(mut f, _)) => {
                            if let Body::Amqp { performative, .. } = &mut f.body {
                                performative.set("state", swapped.clone());
                            }
                            f.to_bytes()
                        }
                        _ => b.to_vec(),
                    }),
                )]
            },
        );
        t.push(case(name, title, covers, control, move |ctx| {
            let outcome = outcome.clone();
            async move {
                let r = rule(first);
                let (mut s, _) = pair(&ctx, SettleMode::Unsettled).await?;
                let m = text(1);
                publish_accepted(&mut s, &m).await?;
                s.flow(1, 1, false).await;
                let dl = s.delivery(r, "the message").await?;
                s.settle(&dl, outcome.clone()).await;
                s.flow(1, 1, false).await;
                if !redelivered {
                    return s
                        .no_delivery(
                            s.response,
                            r,
                            &format!("the message was settled {}", outcome.name()),
                        )
                        .await;
                }
                let again = s
                    .delivery(r, &format!("the message again after {}", outcome.name()))
                    .await?;
                let count = again
                    .message
                    .as_ref()
                    .ok()
                    .and_then(|m| m.header.as_ref())
                    .and_then(|h| h.u64("delivery-count"))
                    .unwrap_or(0);
                ctx.note(format!("redelivered with header delivery-count {count}"));
                let want_raised = outcome.is(d::MODIFIED);
                ctx.ensure((count > 0) == want_raised, r, || {
                    format!("header delivery-count {count} after {outcome}")
                })
            }
        }));
    }
    for (name, title, raised) in [
        (
            "outcome.redelivered-after-connection-loss",
            "A message delivered unsettled on a connection that is then lost is delivered again on a new connection, first-acquirer false",
            false,
        ),
        (
            "outcome.redelivery-counts-the-lost-delivery",
            "A message redelivered after its connection was lost carries a header delivery-count above 0",
            true,
        ),
    ] {
        t.push(case(
            name,
            title,
            if raised {
                &["AMQP10-3.2.1-delivery-count"][..]
            } else {
                &["AMQP10-3.4-redelivery-after-loss"][..]
            },
            controls::replace_header(
                Composite::named("header")
                    .with("first-acquirer", true)
                    .with("delivery-count", 0u32),
                "the broker's deliveries say first-acquirer true, delivery-count 0",
            ),
            move |ctx| async move {
                let r = rule("AMQP10-3.4-redelivery-after-loss");
                let (mut s, q) = pair(&ctx, SettleMode::Unsettled).await?;
                publish_accepted(&mut s, &text(1)).await?;
                s.flow(1, 1, false).await;
                s.delivery(r, "the message").await?;
                // Lost: the socket ends with no close, no detach, no settlement.
                drop(s);
                let mut s2 = Amqp::with_session(&ctx).await?;
                s2.receiver(1, &q, SettleMode::Unsettled, rule("AMQP10-2.6.3-attach"))
                    .await?;
                s2.flow(1, 1, false).await;
                let again = s2
                    .delivery_within(s2.response * 2, r, "the message lost with its connection")
                    .await?;
                let header = again.message.as_ref().ok().and_then(|m| m.header.clone());
                let count = header
                    .as_ref()
                    .and_then(|h| h.u64("delivery-count"))
                    .unwrap_or(0);
                let first = header
                    .as_ref()
                    .and_then(|h| h.bool("first-acquirer"))
                    .unwrap_or(false);
                ctx.note(format!(
                    "redelivered: header delivery-count {count}, first-acquirer {first}"
                ));
                if raised {
                    ctx.ensure(count > 0, rule("AMQP10-3.2.1-delivery-count"), || {
                        format!("the redelivery's header says delivery-count {count}")
                    })
                } else {
                    ctx.ensure(!first, r, || {
                        "the redelivery's header says first-acquirer true".to_owned()
                    })
                }
            },
        ));
    }
    t.push(case(
        "message.properties-preserved",
        "The properties section (message-id, user-id, to, subject, reply-to, correlation-id, content-type, content-encoding, times, group) arrives as sent",
        &["AMQP10-3.2.4-properties", "AMQP10-3.2-bare-message-immutable"],
        controls::tamper_deliveries(),
        |ctx| async move {
            let r = rule("AMQP10-3.2.4-properties");
            let (mut s, q) = pair(&ctx, SettleMode::Settled).await?;
            let props = Composite::named("properties")
                .with("message-id", Value::Ulong(42))
                .with("user-id", b"guest".to_vec())
                .with("to", q.as_str())
                .with("subject", "hilt")
                .with("reply-to", "/queue/replies")
                .with("correlation-id", Value::Uuid([9; 16]))
                .with("content-type", Value::symbol("text/plain"))
                .with("content-encoding", Value::symbol("identity"))
                .with("absolute-expiry-time", Value::Timestamp(4_102_444_800_000))
                .with("creation-time", Value::Timestamp(1_700_000_000_000))
                .with("group-id", "g")
                .with("group-sequence", 3u32)
                .with("reply-to-group-id", "rg");
            let m = Message::data(b"body".to_vec()).with_properties(props);
            publish_accepted(&mut s, &m).await?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "the message").await?;
            let got = dl.message.map_err(|v| Failure::fail(v.spec_ref(), v.to_string()))?;
            ctx.ensure(got.properties == m.properties && got.body == m.body, r, || format!("sent {m}, received {got}"))
        },
    ));
    t.push(case(
        "message.header-preserved",
        "The header's durable and priority arrive as sent",
        &["AMQP10-3.2.1-header"],
        controls::replace_header(
            Composite::named("header"),
            "the broker's deliveries lose the header's durable and priority",
        ),
        |ctx| async move {
            let r = rule("AMQP10-3.2.1-header");
            let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
            let m = Message::data(b"h".to_vec()).with_header(
                Composite::named("header")
                    .with("durable", true)
                    .with("priority", 7u8),
            );
            publish_accepted(&mut s, &m).await?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "the message").await?;
            let got = dl
                .message
                .map_err(|v| Failure::fail(v.spec_ref(), v.to_string()))?;
            let h = got
                .header
                .clone()
                .unwrap_or_else(|| Composite::named("header"));
            ctx.ensure(
                h.bool("durable") == Some(true) && h.u64("priority") == Some(7),
                r,
                || format!("received header {h}"),
            )
        },
    ));
    for (name, title, body) in [
        (
            "message.two-data-sections",
            "A body of two data sections arrives as those two sections",
            MessageBody::Data(vec![b"one".to_vec(), b"two".to_vec()]),
        ),
        (
            "message.amqp-sequence",
            "A body of two amqp-sequence sections arrives unchanged",
            MessageBody::Sequence(vec![
                vec![Value::Int(1), Value::from("a")],
                vec![Value::Null],
            ]),
        ),
        (
            "message.amqp-value-described",
            "An amqp-value body holding a described value arrives unchanged",
            MessageBody::Value(Value::described(
                Value::symbol("hilt:test"),
                Value::List(vec![Value::Uint(1)]),
            )),
        ),
    ] {
        t.push(case(
            name,
            title,
            &["AMQP10-3.2-body", "AMQP10-3.2-bare-message-immutable"],
            controls::tamper_deliveries(),
            move |ctx| {
                let body = body.clone();
                async move {
                    let r = rule("AMQP10-3.2-bare-message-immutable");
                    let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
                    let m = Message {
                        body,
                        ..Message::default()
                    };
                    publish_accepted(&mut s, &m).await?;
                    s.flow(1, 1, false).await;
                    let dl = s.delivery(r, "the message").await?;
                    let got = dl
                        .message
                        .map_err(|v| Failure::fail(v.spec_ref(), v.to_string()))?;
                    ctx.ensure(got.body == m.body, r, || {
                        format!("sent {m}, received {got}")
                    })
                }
            },
        ));
    }
    t.push(case(
        "message.bare-message-without-properties",
        "A message sent with only a data body arrives without sections added to its bare message (no properties, no application-properties)",
        &["AMQP10-3.2-bare-message-immutable"],
        controls::tamper_deliveries(),
        |ctx| async move {
            let r = rule("AMQP10-3.2-bare-message-immutable");
            let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
            let m = Message::data(b"bare".to_vec());
            publish_accepted(&mut s, &m).await?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "the message").await?;
            let got = dl.message.map_err(|v| Failure::fail(v.spec_ref(), v.to_string()))?;
            let bare_same = got.properties.is_none() && got.application_properties.is_none() && got.body == m.body;
            ctx.ensure(bare_same, r, || format!("sent {m}, received {got}"))
        },
    ));
    t.push(case(
        "message.sections-in-order",
        "A message with header, annotations, properties, application-properties and body is delivered with its sections in order and its bare message unchanged",
        &["AMQP10-3.2-section-order", "AMQP10-3.2.5-application-properties"],
        controls::tamper_deliveries(),
        |ctx| async move {
            let r = rule("AMQP10-3.2-section-order");
            let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
            let m = Message {
                header: Some(Composite::named("header").with("durable", false)),
                message_annotations: Some(vec![(Value::symbol("x-opt-hilt"), Value::from("a"))]),
                properties: Some(Composite::named("properties").with("message-id", "id-1")),
                application_properties: Some(vec![("k".into(), Value::Long(-1))]),
                body: MessageBody::Value(Value::from("v")),
                ..Message::default()
            };
            publish_accepted(&mut s, &m).await?;
            s.flow(1, 1, false).await;
            let dl = s.delivery(r, "the message").await?;
            let got = dl.message.map_err(|v| Failure::fail(v.spec_ref(), v.to_string()))?;
            ctx.ensure(got.application_properties == m.application_properties && got.body == m.body && got.properties == m.properties, rule("AMQP10-3.2.5-application-properties"), || format!("sent {m}, received {got}"))
        },
    ));
    t
}
