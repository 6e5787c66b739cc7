//! RFC 7252 requirements beyond the plugtest descriptions, with hilt's own ids:
//! Message ID and token echo, unrecognised critical and elective options, 4.04, and
//! rejection of reserved code classes.

use std::time::Duration;

use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::coap::{Code, Message, MessageType, OptionNumber, summarize};

use super::client::Client;
use super::controls::{self, Control};
use super::core::{judge, own_path};
use super::{SUITE, rfc};
use hilt_net::interposer::Dir;

/// An unassigned critical option number (odd, in the experimental range 65000–65535).
const UNKNOWN_CRITICAL: u16 = 65_001;
/// An unassigned elective option number (even, same range).
const UNKNOWN_ELECTIVE: u16 = 65_000;

fn tc<F, Fut>(id: &str, title: &str, body: F) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hilt_runner::Outcome> + Send + 'static,
{
    TestCase::new(SUITE, format!("coap.rfc7252.{id}"), title, body)
}

fn get_root() -> impl Fn(&Message) -> bool + Send + Sync + Clone + 'static {
    |m| m.code == Code::GET
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(
        tc(
            "ack-echoes-message-id",
            "A CON request is acknowledged by an ACK carrying its Message ID",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let req = c.request(MessageType::Con, Code::GET, "/");
                let ex = c.exchange(&req, Duration::ZERO).await?;
                ctx.ensure(ex.ack.is_some(), rfc("RFC7252-4.2-ack-mid"), || {
                    format!(
                        "no ACK or RST with mid=0x{:04x} after {} transmissions; {}",
                        req.message_id,
                        ex.transmissions,
                        ex.strays()
                    )
                })
            },
        )
        .covers(&[rfc("RFC7252-4.2-ack-mid")])
        .control(controls::mutate_to_client(
            "the server's ACKs carry the next Message ID",
            controls::is_type(MessageType::Ack),
            |m| {
                m.message_id = m.message_id.wrapping_add(1);
            },
        )),
    );
    t.push(
        tc(
            "token-echoed",
            "A response carries the request's 8-byte token unchanged",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let tok = c.token(8);
                let req = c.request(MessageType::Con, Code::GET, "/").with_token(&tok);
                let ex = c.exchange(&req, Duration::ZERO).await?;
                judge(&req, &ex, &[Code::CONTENT], rfc("RFC7252-5.8.1-get")).map(|_| ())
            },
        )
        .covers(&[rfc("RFC7252-5.3.2-token")])
        .control(controls::mutate_to_client(
            "the server flips a bit of the token",
            controls::is_response,
            |m| {
                if let Some(b) = m.token.last_mut() {
                    *b ^= 1;
                }
            },
        )),
    );
    t.push(
        tc(
            "unknown-critical-option-4-02",
            "A CON GET with an unrecognised critical option is answered 4.02 (Bad Option)",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let req = c
                    .request(MessageType::Con, Code::GET, "/")
                    .with_option(OptionNumber::from_u16(UNKNOWN_CRITICAL), b"x".to_vec());
                let ex = c.exchange(&req, Duration::ZERO).await?;
                judge(
                    &req,
                    &ex,
                    &[Code::BAD_OPTION],
                    rfc("RFC7252-5.4.1-critical"),
                )
                .map(|_| ())
            },
        )
        .covers(&[rfc("RFC7252-5.4.1-critical")])
        .control(controls::mutate_to_server(
            "the server never sees the critical option",
            get_root(),
            |m| {
                m.options.retain(|o| o.number.number() != UNKNOWN_CRITICAL);
            },
        )),
    );
    t.push(
        tc(
            "unknown-elective-option-ignored",
            "A CON GET with an unrecognised elective option is served as if it were absent",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let req = c
                    .request(MessageType::Con, Code::GET, "/")
                    .with_option(OptionNumber::from_u16(UNKNOWN_ELECTIVE), b"x".to_vec());
                let ex = c.exchange(&req, Duration::ZERO).await?;
                judge(&req, &ex, &[Code::CONTENT], rfc("RFC7252-5.4.1-elective")).map(|_| ())
            },
        )
        .covers(&[rfc("RFC7252-5.4.1-elective")])
        // A server that rejects the elective option, emulated on the way back rather
        // than by turning the option critical on the way in: that would not fail
        // against a server that ignores critical options too (aiocoap does).
        .control(controls::mutate_to_client(
            "the server rejects the elective option with 4.02",
            controls::is_response,
            |m| {
                m.code = Code::BAD_OPTION;
                m.payload.clear();
            },
        )),
    );
    t.push(
        tc(
            "not-found-4-04",
            "A GET of a resource the server does not have is answered 4.04 (Not Found)",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let path = format!("/{}", ctx.unique("missing"));
                let req = c.request(MessageType::Con, Code::GET, &path);
                let ex = c.exchange(&req, Duration::ZERO).await?;
                judge(
                    &req,
                    &ex,
                    &[Code::NOT_FOUND],
                    rfc("RFC7252-5.9.2.5-not-found"),
                )
                .map(|_| ())
            },
        )
        .covers(&[rfc("RFC7252-5.9.2.5-not-found")])
        .control(controls::mutate_to_client(
            "the server answers 2.05 for what it lacks",
            controls::is_response,
            |m| m.code = Code::CONTENT,
        )),
    );
    t.push(
        tc("reserved-class-rejected", "A CON message with a code of reserved class 1 is rejected with a RST carrying its Message ID", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let mid = c.next_mid();
            let tok = c.token(2);
            let req = Message::new(MessageType::Con, Code::new(1, 1), mid).with_token(&tok);
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let rule = rfc("RFC7252-4.2-reserved-class");
            match &ex.ack {
                Some(r) if r.msg.mtype == MessageType::Rst => Ok(()),
                Some(r) => Err(Failure::fail(rule, format!("code 1.01 was answered {} instead of RST", summarize(&r.msg)))),
                None => Err(Failure::fail(rule, format!("no RST for mid=0x{mid:04x} (sent {} times); {}", ex.transmissions, ex.strays()))),
            }
        })
        .covers(&[rfc("RFC7252-4.2-reserved-class")])
        .control(controls::drop_to_client("the server's RSTs never arrive", controls::is_type(MessageType::Rst))),
    );
    t.push(
        tc("duplicate-post-runs-once", "A CON POST sent twice with the same Message ID (a duplicate within EXCHANGE_LIFETIME) is answered both times with the same ACK and response, and runs once", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "");
            let req = c
                .request(MessageType::Con, Code::POST, &path)
                .with_uint(OptionNumber::ContentFormat, 0)
                .with_payload(b"posted once".to_vec());
            let rule = rfc("RFC7252-4.5-dedup");
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let first = judge(&req, &ex, &[Code::CREATED], rfc("RFC7252-5.8.2-post"))?;
            // The same datagram again, as if the ACK had been lost on the way.
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let again = judge(&req, &ex, &[first.code], rule).map_err(|f| match f {
                Failure::Fail { message, .. } => Failure::fail(rule, format!("the duplicate of {} (first answered {}): {message}", summarize(&req), summarize(&first))),
                other => other,
            })?;
            ctx.ensure(again == first, rule, || format!("the duplicate was answered {}, the original {}", summarize(&again), summarize(&first)))
        })
        .covers(&[rfc("RFC7252-4.5-dedup")])
        .needs(&["coap.dynamic-resources"])
        .control(Control::new("the server sees the duplicate under a new Message ID", || {
            // The server runs it again; its answer gets the client's Message ID back.
            vec![
                controls::mutate_rule(Dir::ToServer, |m: &Message| m.code == Code::POST, |m| m.message_id = m.message_id.wrapping_add(0x100)).nth(2),
                controls::mutate_rule(Dir::ToClient, controls::is_response, |m| m.message_id = m.message_id.wrapping_sub(0x100)).nth(2),
            ]
        })),
    );
    t
}
