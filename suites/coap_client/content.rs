//! What a client asks for and how it follows up: block-wise GET (RFC 7959 §2.4),
//! observation and its end (RFC 7641 §3.1, §3.6), Accept and Content-Format
//! (RFC 7252 §5.10.3, §5.10.4).

use std::time::Duration;

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::coap::{
    Block, Code, EndpointEvent, Message, MessageType, OptionNumber, TransmissionParams,
    observe as obs, summarize,
};
use tokio::time::Instant;

use super::bench::{Bench, content, ended, secs};
use super::server::Server;
use super::{block, observe, rfc, tc};
use crate::coap::controls;

/// The block size hilt's server offers (SZX 2).
const BLOCK_SIZE: usize = 64;
/// How long the client observes.
const OBSERVE_S: u64 = 2;
/// Between two notifications.
const NOTIFY_EVERY: Duration = Duration::from_millis(400);

/// The large resource: 5 blocks and a bit, each byte telling its offset's last digit.
fn large_body() -> Vec<u8> {
    (0..BLOCK_SIZE * 5 + 20)
        .map(|i| b'0' + (i / 10 % 10) as u8)
        .collect()
}

pub fn tests() -> Vec<TestCase> {
    vec![
        tc(
            "rfc7959.block2-follow",
            "A GET of a resource larger than one block is continued with Block2 NUM and SZX asking for the next block, until the last",
            block2_follow,
        )
        .covers(&[block("RFC7959-2.4-block2-follow")])
        .timeout(Duration::from_secs(20))
        .control(controls::mutate_to_server(
            "the client's Block2 requests ask for one block further than they do",
            |m| m.block2().is_some_and(|b| b.num > 0),
            |m| {
                if let Some(b) = m.block2() {
                    let next = Block { num: b.num + 1, ..b };
                    m.options.retain(|o| o.number != OptionNumber::Block2);
                    m.push(hilt_wire::coap::CoapOption::new(OptionNumber::Block2, next.to_value()));
                }
            },
        )),
        tc(
            "rfc7641.observe-register",
            "An observation starts with a GET carrying Observe 0, and every CON notification is acknowledged",
            observe_register,
        )
        .covers(&[observe("RFC7641-3.1-request"), rfc("RFC7252-4.2-ack-con")])
        .timeout(Duration::from_secs(20))
        .control(controls::mutate_to_server(
            "the client's GET reaches hilt without its Observe option",
            |m| m.observe() == Some(obs::REGISTER),
            |m| m.options.retain(|o| o.number != OptionNumber::Observe),
        )),
        tc(
            "rfc7641.observe-deregister",
            "A client that stops observing deregisters (GET with Observe 1 and the observation's token) or resets the next notification",
            observe_deregister,
        )
        .covers(&[observe("RFC7641-3.6-client-deregister")])
        .timeout(Duration::from_secs(20))
        .control(controls::Control::new(
            "the client's deregistration and RSTs never reach hilt",
            || {
                vec![Rule::new(
                    Dir::ToServer,
                    Match::pred(|d| {
                        Message::parse(d).is_ok_and(|m| {
                            m.mtype == MessageType::Rst || m.observe() == Some(obs::DEREGISTER)
                        })
                    }),
                    Action::Drop,
                )]
            },
        )),
        tc(
            "rfc7252.uri-options",
            "A request for coap://host:port/seg/a%20b?x=1&y=2 carries exactly the Uri-Path and Uri-Query options RFC 7252 §6.4 decomposes it into, and no Uri-Host or Uri-Port for the literal address and port it is sent to",
            uri_options,
        )
        .covers(&[rfc("RFC7252-6.4-decompose")])
        .timeout(Duration::from_secs(15))
        .control(controls::mutate_to_server(
            "the client's second path segment arrives unescaped, as `a%20b`",
            |m| m.code == Code::GET,
            |m| {
                let segs: Vec<Vec<u8>> = m.values(OptionNumber::UriPath).map(<[u8]>::to_vec).collect();
                m.options.retain(|o| o.number != OptionNumber::UriPath);
                for (i, seg) in segs.into_iter().enumerate() {
                    let seg = if i == 1 { b"a%20b".to_vec() } else { seg };
                    m.push(hilt_wire::coap::CoapOption::new(OptionNumber::UriPath, seg));
                }
            },
        )),
        tc(
            "rfc7252.accept",
            "A GET asking for application/json carries Accept 50, minimally encoded",
            accept,
        )
        .covers(&[rfc("RFC7252-5.10.4-accept-request"), rfc("RFC7252-3.2-uint")])
        .timeout(Duration::from_secs(15))
        .control(controls::mutate_to_server(
            "the client's Accept option is lost on the way",
            |m| m.code == Code::GET,
            |m| m.options.retain(|o| o.number != OptionNumber::Accept),
        )),
        tc(
            "rfc7252.content-format",
            "A PUT of a JSON payload carries Content-Format 50 and the payload unchanged",
            content_format,
        )
        .covers(&[rfc("RFC7252-5.10.3-content-format")])
        .timeout(Duration::from_secs(15))
        .control(controls::mutate_to_server(
            "the client's Content-Format reads 0 (text/plain) when it reaches hilt",
            |m| m.code == Code::PUT,
            |m| {
                m.options.retain(|o| o.number != OptionNumber::ContentFormat);
                m.push(hilt_wire::coap::CoapOption::uint(OptionNumber::ContentFormat, 0));
            },
        )),
    ]
}

/// Serves `body` block-wise: the block the request asks for (at most [`BLOCK_SIZE`]),
/// or the first one when it asks for none.
fn serve_block(s: &mut Server, ex: &hilt_wire::coap::Exchange, req: &Message, body: &[u8]) {
    let asked = req.block2();
    let size = asked.map_or(BLOCK_SIZE, |b| b.size().min(BLOCK_SIZE));
    let offset = asked.map_or(0, Block::offset);
    if offset >= body.len() {
        s.respond(ex, Message::new(MessageType::Con, Code::BAD_OPTION, 0));
        return;
    }
    let end = (offset + size).min(body.len());
    let num = (offset / size) as u32;
    let more = end < body.len();
    let Some(b) = Block::new(num, more, size) else {
        s.respond(ex, Message::new(MessageType::Con, Code::BAD_OPTION, 0));
        return;
    };
    let resp = content(&body[offset..end]).with_option(OptionNumber::Block2, b.to_value());
    s.respond(ex, resp);
}

async fn block2_follow(ctx: Ctx) -> hilt_runner::Outcome {
    let body = large_body();
    let mut b = Bench::start(&ctx, Vec::new()).await?;
    let deadline = Instant::now() + Duration::from_secs(6) + b.response * 3;
    let mut run = b
        .device(&ctx, "get", &[("path", "/large".into())], deadline)
        .await?;
    let served = body.clone();
    b.serve(&mut run, deadline, |s, ex, req| {
        serve_block(s, ex, req, &served)
    })
    .await?;
    let outcome = run.finish(Instant::now()).await;
    // Each request once (retransmissions share the Message ID).
    let mut requests: Vec<&Message> = Vec::new();
    for (_, m) in b.server.requests() {
        if !requests.iter().any(|r| r.message_id == m.message_id) {
            requests.push(m);
        }
    }
    let trail = || {
        requests
            .iter()
            .map(|m| {
                m.block2()
                    .map_or("no Block2".to_owned(), |b| format!("Block2 {b}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(first) = requests.first() else {
        return Err(Failure::inconclusive(format!(
            "no request reached hilt; {}",
            ended(&outcome)
        )));
    };
    // What the client should ask for next: the byte after what it was given.
    let served = |b: Option<Block>| b.map_or(BLOCK_SIZE, |b| b.size().min(BLOCK_SIZE));
    let mut next = first.block2().map_or(0, Block::offset) + served(first.block2());
    for (i, m) in requests.iter().enumerate().skip(1) {
        let asked = m.block2();
        let ok = asked.is_some_and(|b| b.offset() == next && b.size() <= BLOCK_SIZE && b.szx < 7)
            && m.uri_path() == first.uri_path();
        if !ok {
            return Err(Failure::fail(
                block("RFC7959-2.4-block2-follow"),
                format!(
                    "request {} is {} ({}); after {next} bytes of /large, served in {BLOCK_SIZE}-byte blocks, the next asks for offset {next} with a size of at most {BLOCK_SIZE}; requests: {}; {}",
                    i + 1,
                    summarize(m),
                    asked.map_or("no Block2".to_owned(), |b| format!(
                        "Block2 {b}, offset {}",
                        b.offset()
                    )),
                    trail(),
                    ended(&outcome)
                ),
            ));
        }
        next += served(asked);
    }
    if next < body.len()
        || !outcome
            .stdout
            .contains(std::str::from_utf8(&body).unwrap_or_default())
    {
        return Err(Failure::fail(
            block("RFC7959-2.4-block2-follow"),
            format!(
                "the client stopped after {} of {} bytes (requests: {}); it printed {} bytes; {}",
                next.min(body.len()),
                body.len(),
                trail(),
                outcome.stdout.len(),
                ended(&outcome)
            ),
        ));
    }
    ctx.note(format!("{} requests: {}", requests.len(), trail()));
    Ok(())
}

/// Serves an observation of /obs: the registration is answered with Observe 1, then a
/// CON notification follows every [`NOTIFY_EVERY`] until the client deregisters or
/// resets one, or `deadline`. Returns every event and the observation's token.
struct Observation {
    events: Vec<EndpointEvent>,
    /// The registering GET, if one came.
    register: Option<Message>,
    /// Message IDs of the CON notifications sent, with when.
    notifications: Vec<(u16, Instant)>,
    /// When the observation ended and how: a deregistering GET or a RST.
    ended: Option<(Instant, String)>,
}

async fn observation(
    ctx: &Ctx,
    seconds: u64,
) -> Result<(Observation, hilt_runner::CommandOutcome), Failure> {
    let mut b = Bench::start(ctx, Vec::new()).await?;
    let params = TransmissionParams::default();
    let deadline = Instant::now()
        + Duration::from_secs(seconds)
        + params.retransmission_window(1).1
        + b.response * 2;
    let mut run = b
        .device(
            ctx,
            "observe",
            &[("path", "/obs".into()), ("seconds", seconds.to_string())],
            deadline,
        )
        .await?;
    let mut o = Observation {
        events: Vec::new(),
        register: None,
        notifications: Vec::new(),
        ended: None,
    };
    let mut seq = 1u32;
    let mut peer_token = None;
    let mut next_note = Instant::now() + NOTIFY_EVERY;
    let mut exited = false;
    let mut until = deadline;
    while Instant::now() < until {
        let wake = if peer_token.is_some() && o.ended.is_none() {
            next_note.min(until)
        } else {
            until.min(Instant::now() + Duration::from_millis(100))
        };
        if let Some(ev) = b.server.next_event(wake).await? {
            match &ev {
                EndpointEvent::Request { exchange, request } => match request.observe() {
                    Some(obs::REGISTER) if o.register.is_none() => {
                        o.register = Some(request.clone());
                        peer_token = Some((exchange.peer, exchange.token.clone()));
                        b.server.respond(
                            exchange,
                            content(b"n1").with_uint(OptionNumber::Observe, seq),
                        );
                    }
                    Some(obs::DEREGISTER) => {
                        if peer_token
                            .as_ref()
                            .is_some_and(|(_, t)| *t == exchange.token)
                        {
                            o.ended.get_or_insert((Instant::now(), summarize(request)));
                        }
                        b.server.respond(exchange, content(b"bye"));
                    }
                    _ => {
                        b.server.respond(exchange, content(b"not observed"));
                    }
                },
                EndpointEvent::Reset { message_id, .. }
                    if o.notifications.iter().any(|(m, _)| m == message_id) =>
                {
                    o.ended.get_or_insert((
                        Instant::now(),
                        format!("RST to notification mid=0x{message_id:04x}"),
                    ));
                }
                _ => {}
            }
            o.events.push(ev);
        }
        if let Some((peer, token)) = &peer_token
            && o.ended.is_none()
            && Instant::now() >= next_note
        {
            seq += 1;
            let note = Message::new(MessageType::Con, Code::CONTENT, 0)
                .with_token(token)
                .with_uint(OptionNumber::Observe, seq)
                .with_uint(OptionNumber::ContentFormat, 0)
                .with_payload(format!("n{seq}").into_bytes());
            let mid = b.server.send(*peer, note);
            o.notifications.push((mid, Instant::now()));
            next_note = Instant::now() + NOTIFY_EVERY;
        }
        if !exited && !run.is_running() {
            exited = true;
            until = until.min(Instant::now() + b.response);
        }
    }
    let outcome = run.finish(Instant::now()).await;
    Ok((o, outcome))
}

async fn observe_register(ctx: Ctx) -> hilt_runner::Outcome {
    let (o, outcome) = observation(&ctx, OBSERVE_S).await?;
    let Some(register) = &o.register else {
        let got: Vec<String> = o
            .events
            .iter()
            .filter_map(|e| match e {
                EndpointEvent::Request { request, .. } => Some(summarize(request)),
                _ => None,
            })
            .collect();
        return Err(Failure::fail(
            observe("RFC7641-3.1-request"),
            format!(
                "no GET with Observe 0 reached hilt (requests: {}); {}",
                if got.is_empty() {
                    "none".to_owned()
                } else {
                    got.join("; ")
                },
                ended(&outcome)
            ),
        ));
    };
    // Every CON notification sent before the observation ended must be acknowledged
    // (or reset, which ends it).
    let end = o.ended.as_ref().map(|(at, _)| *at);
    let unacked: Vec<String> = o
        .notifications
        .iter()
        .filter(|(_, at)| end.is_none_or(|e| *at < e))
        .filter(|(mid, _)| {
            !o.events.iter().any(|e| {
                matches!(e, EndpointEvent::Acknowledged { message_id, .. } | EndpointEvent::Reset { message_id, .. } if message_id == mid)
            })
        })
        .map(|(mid, _)| format!("0x{mid:04x}"))
        .collect();
    // The last notification may have crossed the deregistration.
    if unacked.len() > 1 {
        return Err(Failure::fail(
            rfc("RFC7252-4.2-ack-con"),
            format!(
                "{} of {} CON notifications were neither acknowledged nor reset: mid {}; {}",
                unacked.len(),
                o.notifications.len(),
                unacked.join(", "),
                ended(&outcome)
            ),
        ));
    }
    ctx.note(format!(
        "registered with {}; {} CON notifications sent",
        summarize(register),
        o.notifications.len()
    ));
    Ok(())
}

async fn observe_deregister(ctx: Ctx) -> hilt_runner::Outcome {
    let (o, outcome) = observation(&ctx, OBSERVE_S).await?;
    if o.register.is_none() {
        return Err(Failure::inconclusive(format!(
            "the client never registered, so there is nothing to end; {}",
            ended(&outcome)
        )));
    }
    match &o.ended {
        Some((_, how)) => {
            ctx.note(format!("ended by {how}"));
            Ok(())
        }
        None => Err(Failure::fail(
            observe("RFC7641-3.6-client-deregister"),
            format!(
                "asked to observe for {OBSERVE_S} s, the client neither sent a GET with Observe 1 and the observation's token nor reset any of the {} notifications; {}",
                o.notifications.len(),
                ended(&outcome)
            ),
        )),
    }
}

/// Runs a single-request stimulus with a fixed answer; returns the first request.
async fn one_request(
    ctx: &Ctx,
    stimulus: &str,
    params: &[(&str, String)],
    answer: Message,
) -> Result<(Message, hilt_runner::CommandOutcome), Failure> {
    let mut b = Bench::start(ctx, Vec::new()).await?;
    let deadline = Instant::now() + Duration::from_secs(4) + b.response * 2;
    let mut run = b.device(ctx, stimulus, params, deadline).await?;
    b.serve(&mut run, deadline, |s, ex, _| {
        s.respond(ex, answer.clone());
    })
    .await?;
    let outcome = run.finish(Instant::now()).await;
    let first = b.server.requests().next().map(|(_, m)| m.clone());
    match first {
        Some(m) => Ok((m, outcome)),
        None => Err(Failure::inconclusive(format!(
            "no request reached hilt within {}; {}",
            secs(deadline - Instant::now().min(deadline)),
            ended(&outcome)
        ))),
    }
}

const JSON: u32 = 50;

async fn uri_options(ctx: Ctx) -> hilt_runner::Outcome {
    let (req, outcome) = one_request(
        &ctx,
        "get",
        &[("path", "/seg/a%20b?x=1&y=2".into())],
        content(b"found"),
    )
    .await?;
    let strings = |n: OptionNumber| -> Vec<String> {
        req.values(n)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    };
    let (path, query) = (
        strings(OptionNumber::UriPath),
        strings(OptionNumber::UriQuery),
    );
    let (host, port) = (
        strings(OptionNumber::UriHost),
        strings(OptionNumber::UriPort),
    );
    let mut wrong = Vec::new();
    if path != ["seg", "a b"] {
        wrong.push(format!(
            "Uri-Path {path:?} where [\"seg\", \"a b\"] (percent-decoded) was due"
        ));
    }
    if query != ["x=1", "y=2"] {
        wrong.push(format!(
            "Uri-Query {query:?} where [\"x=1\", \"y=2\"] was due"
        ));
    }
    if !host.is_empty() {
        wrong.push(format!(
            "Uri-Host {host:?} for a host given as an IP literal (step 5)"
        ));
    }
    if let Some(p) = req.uint(OptionNumber::UriPort) {
        wrong.push(format!(
            "Uri-Port {p}, the port the request was sent to (step 7 includes it only when it differs)"
        ));
    }
    let _ = port;
    ctx.ensure(wrong.is_empty(), rfc("RFC7252-6.4-decompose"), || {
        format!(
            "{}: {}; {}",
            summarize(&req),
            wrong.join("; "),
            ended(&outcome)
        )
    })
}

async fn accept(ctx: Ctx) -> hilt_runner::Outcome {
    let answer = Message::new(MessageType::Con, Code::CONTENT, 0)
        .with_uint(OptionNumber::ContentFormat, JSON)
        .with_payload(b"{\"v\":1}".to_vec());
    let (req, outcome) = one_request(
        &ctx,
        "get-accept",
        &[("path", "/json".into()), ("accept", JSON.to_string())],
        answer,
    )
    .await?;
    let raw = req.option(OptionNumber::Accept);
    ctx.ensure(raw.is_some(), rfc("RFC7252-5.10.4-accept-request"), || {
        format!(
            "asked to accept {JSON} (application/json), the client sent {} without Accept; {}",
            summarize(&req),
            ended(&outcome)
        )
    })?;
    ctx.ensure(
        raw == Some(&[JSON as u8][..]),
        rfc("RFC7252-3.2-uint"),
        || {
            format!(
                "Accept is {:02x?}; {JSON} as a uint is the single byte 0x{:02x}",
                raw.unwrap_or_default(),
                JSON
            )
        },
    )
}

async fn content_format(ctx: Ctx) -> hilt_runner::Outcome {
    let payload = "{\"v\":1}";
    let (req, outcome) = one_request(
        &ctx,
        "put",
        &[
            ("path", "/json".into()),
            ("format", JSON.to_string()),
            ("payload", payload.into()),
        ],
        Message::new(MessageType::Con, Code::CHANGED, 0),
    )
    .await?;
    ctx.ensure(
        req.code == Code::PUT && req.content_format() == Some(JSON) && req.payload == payload.as_bytes(),
        rfc("RFC7252-5.10.3-content-format"),
        || {
            format!(
                "asked to PUT {payload:?} as Content-Format {JSON}, the client sent {} with Content-Format {:?} and payload {:?}; {}",
                summarize(&req),
                req.content_format(),
                String::from_utf8_lossy(&req.payload),
                ended(&outcome)
            )
        },
    )
}
