//! The CORE test descriptions of the ETSI CoAP#4 plugtest (repository cabo/td-coap4,
//! base.yml): methods in CON and NON, separate responses, tokens, Uri-Path and
//! Uri-Query, Accept, ping. Where a TD names a resource (`/test`, `/seg1/seg2/seg3`,
//! `/query`), the test first creates its own copy with a PUT under a name unique to
//! the attempt, so tests run side by side.

use std::time::Duration;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::coap::{Code, Message, MessageType, OptionNumber, summarize};

use super::client::{ACK_RANDOM_FACTOR_MILLI, ACK_TIMEOUT, Client, Exchange, Reply};
use super::controls::{self, Control};
use super::{SUITE, rfc, td};

/// A resource that answers after a delay, with an Empty ACK first: libcoap's `/async`
/// takes the delay in seconds as its query.
pub const SEPARATE_PATH: &str = "/async";
pub const SEPARATE_DELAY_S: u64 = 1;

fn tc<F, Fut>(id: &str, title: &str, body: F) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hilt_runner::Outcome> + Send + 'static,
{
    TestCase::new(SUITE, format!("coap.core.{id}"), title, body)
}

/// A path unique to this test attempt under `/hilt-…`.
pub fn own_path(ctx: &Ctx, rest: &str) -> String {
    format!("/{}{rest}", ctx.unique("r"))
}

/// Creates (or replaces) the resource at `path` with a text payload, as the TDs'
/// preconditions require. A failure here is an error: the precondition, not the TD.
pub async fn create(c: &mut Client, path: &str, body: &str) -> Result<(), Failure> {
    create_as(c, path, 0, body.as_bytes()).await
}

/// As [`create`], with `body` in Content-Format `format`.
pub async fn create_as(
    c: &mut Client,
    path: &str,
    format: u32,
    body: &[u8],
) -> Result<(), Failure> {
    let req = c
        .request(MessageType::Con, Code::PUT, path)
        .with_uint(OptionNumber::ContentFormat, format)
        .with_payload(body.to_vec());
    let ex = c.exchange(&req, Duration::ZERO).await?;
    match ex.response.map(|r| r.msg.code) {
        Some(Code::CREATED | Code::CHANGED) => Ok(()),
        other => Err(Failure::error(format!(
            "precondition: PUT {path} to create the resource was answered {:?}",
            other.map(Code::name)
        ))),
    }
}

/// The checks every request TD shares: the reply is piggybacked in an ACK echoing
/// the Message ID (CON) or comes as NON (NON), carries the request's token, and its
/// code is one of `codes`.
pub fn judge(
    req: &Message,
    ex: &Exchange,
    codes: &[Code],
    code_rule: SpecRef,
) -> Result<Message, Failure> {
    let Some(resp) = ex.response.as_ref().map(|r| r.msg.clone()) else {
        let rule = if req.mtype == MessageType::Con && ex.ack.is_none() {
            rfc("RFC7252-4.2-ack-mid")
        } else {
            code_rule
        };
        return Err(Failure::fail(
            rule,
            format!(
                "no response to {} (sent {} times); {}",
                summarize(req),
                ex.transmissions,
                ex.strays()
            ),
        ));
    };
    match req.mtype {
        MessageType::Con => {
            if resp.mtype != MessageType::Ack || resp.message_id != req.message_id {
                return Err(Failure::fail(
                    rfc("RFC7252-5.2.1-piggyback"),
                    format!(
                        "expected the response piggybacked in the ACK of mid=0x{:04x}, got {}",
                        req.message_id,
                        summarize(&resp)
                    ),
                ));
            }
        }
        _ => {
            if resp.mtype != MessageType::Non {
                return Err(Failure::fail(
                    rfc("RFC7252-5.2.3-non"),
                    format!("the response to a NON request came as {}", summarize(&resp)),
                ));
            }
        }
    }
    if resp.token != req.token {
        return Err(Failure::fail(
            rfc("RFC7252-5.3.2-token"),
            format!(
                "request token {:02x?}, response token {:02x?}",
                req.token, resp.token
            ),
        ));
    }
    if !codes.contains(&resp.code) {
        let want: Vec<String> = codes.iter().map(|c| c.name()).collect();
        return Err(Failure::fail(
            code_rule,
            format!("expected {}, got {}", want.join(" or "), summarize(&resp)),
        ));
    }
    Ok(resp)
}

/// The TDs' content checks on a 2.05: a Content-Format option (CFO) and a non-empty
/// payload (NEP).
pub fn judge_content(id: &'static str, resp: &Message) -> Result<(), Failure> {
    if resp.payload.is_empty() {
        return Err(Failure::fail(
            td(id),
            format!("the 2.05 has an empty payload: {}", summarize(resp)),
        ));
    }
    if resp.content_format().is_none() {
        return Err(Failure::fail(
            td(id),
            format!(
                "the 2.05 carries no Content-Format option: {}",
                summarize(resp)
            ),
        ));
    }
    Ok(())
}

/// The TDs' check on other successes: a Content-Format when there is a payload (CFONE).
pub fn judge_cfone(id: &'static str, resp: &Message) -> Result<(), Failure> {
    if !resp.payload.is_empty() && resp.content_format().is_none() {
        return Err(Failure::fail(
            td(id),
            format!(
                "a payload without a Content-Format option: {}",
                summarize(resp)
            ),
        ));
    }
    Ok(())
}

fn is_code(code: Code) -> impl Fn(&Message) -> bool + Send + Sync + Clone + 'static {
    move |m| m.code == code
}

fn is_request_code(code: Code) -> impl Fn(&Message) -> bool + Send + Sync + Clone + 'static {
    move |m| m.code == code
}

/// The request's method becomes the unassigned 0.31, which no server can honour.
fn method_garbled(code: Code, what: &str) -> Control {
    controls::mutate_to_server(what, is_request_code(code), |m| m.code = Code(0x1f))
}

/// One method TD: create (unless PUT), send `method` as `mtype`, judge.
fn method_td(
    id: &'static str,
    slug: &str,
    title: &str,
    mtype: MessageType,
    method: Code,
    codes: &'static [Code],
    code_rule: SpecRef,
) -> TestCase {
    tc(slug, title, move |ctx: Ctx| async move {
        let mut c = Client::open(&ctx).await?;
        let path = own_path(&ctx, "");
        if method != Code::PUT {
            create(&mut c, &path, "hilt test resource").await?;
        }
        let mut req = c.request(mtype, method, &path);
        if matches!(method, Code::PUT | Code::POST) {
            req = req
                .with_uint(OptionNumber::ContentFormat, 0)
                .with_payload(b"hilt payload".to_vec());
        }
        let ex = c.exchange(&req, Duration::ZERO).await?;
        let resp = judge(&req, &ex, codes, code_rule)?;
        if method == Code::GET {
            judge_content(id, &resp)
        } else {
            judge_cfone(id, &resp)
        }
    })
    .covers(&[td(id), code_rule, rfc("RFC7252-5.3.2-token")])
    .needs(&["coap.dynamic-resources"])
}

pub fn tests() -> Vec<TestCase> {
    use MessageType::{Con, Non};
    let mut t = Vec::new();
    let get_rule = rfc("RFC7252-5.8.1-get");
    let del_rule = rfc("RFC7252-5.8.4-delete");
    let put_rule = rfc("RFC7252-5.8.3-put");
    let post_rule = rfc("RFC7252-5.8.2-post");
    const GET_OK: &[Code] = &[Code::CONTENT];
    const DEL_OK: &[Code] = &[Code::DELETED];
    const PUT_OK: &[Code] = &[Code::CHANGED, Code::CREATED];
    const POST_OK: &[Code] = &[Code::CREATED, Code::CHANGED];

    t.push(
        method_td("TD_COAP_CORE_01", "td-coap-core-01", "TD_COAP_CORE_01: a CON GET is answered 2.05 piggybacked, same Message ID and token, with Content-Format and payload", Con, Code::GET, GET_OK, get_rule)
            .covers(&[rfc("RFC7252-4.2-ack-mid"), rfc("RFC7252-5.2.1-piggyback")])
            .control(controls::mutate_to_client("the server's 2.05 carries another token", is_code(Code::CONTENT), |m| m.token = vec![0xee; 3])),
    );
    t.push(
        method_td(
            "TD_COAP_CORE_02",
            "td-coap-core-02",
            "TD_COAP_CORE_02: a CON DELETE is answered 2.02 piggybacked, same Message ID and token",
            Con,
            Code::DELETE,
            DEL_OK,
            del_rule,
        )
        .control(controls::mutate_to_server(
            "the server sees a GET instead of the DELETE",
            is_request_code(Code::DELETE),
            |m| m.code = Code::GET,
        )),
    );
    t.push(
        method_td("TD_COAP_CORE_03", "td-coap-core-03", "TD_COAP_CORE_03: a CON PUT is answered 2.04 or 2.01 piggybacked, same Message ID and token", Con, Code::PUT, PUT_OK, put_rule)
            .control(method_garbled(Code::PUT, "the server sees method 0.31 instead of PUT")),
    );
    t.push(
        method_td("TD_COAP_CORE_04", "td-coap-core-04", "TD_COAP_CORE_04: a CON POST is answered 2.01 or 2.04 piggybacked, same Message ID and token", Con, Code::POST, POST_OK, post_rule)
            .control(method_garbled(Code::POST, "the server sees method 0.31 instead of POST")),
    );
    let non_becomes_con = |what: &str| {
        controls::mutate_to_client(what, controls::is_type(Non), |m| m.mtype = MessageType::Con)
    };
    t.push(
        method_td(
            "TD_COAP_CORE_05",
            "td-coap-core-05",
            "TD_COAP_CORE_05: a NON GET is answered by a NON 2.05 with the request's token",
            Non,
            Code::GET,
            GET_OK,
            get_rule,
        )
        .covers(&[rfc("RFC7252-5.2.3-non")])
        .control(non_becomes_con("the server's NON responses arrive as CON")),
    );
    t.push(
        method_td(
            "TD_COAP_CORE_06",
            "td-coap-core-06",
            "TD_COAP_CORE_06: a NON DELETE is answered by a NON 2.02 with the request's token",
            Non,
            Code::DELETE,
            DEL_OK,
            del_rule,
        )
        .covers(&[rfc("RFC7252-5.2.3-non")])
        .control(non_becomes_con("the server's NON responses arrive as CON")),
    );
    t.push(
        method_td(
            "TD_COAP_CORE_07",
            "td-coap-core-07",
            "TD_COAP_CORE_07: a NON PUT is answered by a NON 2.04 or 2.01 with the request's token",
            Non,
            Code::PUT,
            PUT_OK,
            put_rule,
        )
        .covers(&[rfc("RFC7252-5.2.3-non")])
        .control(non_becomes_con("the server's NON responses arrive as CON")),
    );
    t.push(
        method_td("TD_COAP_CORE_08", "td-coap-core-08", "TD_COAP_CORE_08: a NON POST is answered by a NON 2.01 or 2.04 with the request's token", Non, Code::POST, POST_OK, post_rule)
            .covers(&[rfc("RFC7252-5.2.3-non")])
            .control(non_becomes_con("the server's NON responses arrive as CON")),
    );

    for (id, slug, tkl, title) in [
        (
            "TD_COAP_CORE_09",
            "td-coap-core-09",
            4usize,
            "TD_COAP_CORE_09: a CON GET of a slow resource gets an Empty ACK, then a CON 2.05 with the token, which the client acknowledges",
        ),
        (
            "TD_COAP_CORE_11",
            "td-coap-core-11",
            8,
            "TD_COAP_CORE_11: as TD_COAP_CORE_09 with an 8-byte token, echoed in the separate response",
        ),
    ] {
        t.push(
            tc(slug, title, move |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let mid = c.next_mid();
                let tok = c.token(tkl);
                let req = Message::new(MessageType::Con, Code::GET, mid)
                    .with_token(&tok)
                    .with_path(SEPARATE_PATH)
                    .with_query(&SEPARATE_DELAY_S.to_string());
                let ex = c
                    .exchange(&req, Duration::from_secs(SEPARATE_DELAY_S))
                    .await?;
                let sep = rfc("RFC7252-5.2.2-separate");
                let Some(ack) = &ex.ack else {
                    return Err(Failure::fail(
                        rfc("RFC7252-4.2-ack-mid"),
                        format!("no ACK for mid=0x{mid:04x}; {}", ex.strays()),
                    ));
                };
                if !ack.msg.code.is_empty() {
                    return Err(Failure::fail(
                        td(id),
                        format!(
                            "expected an Empty ACK, then a separate response; got {}",
                            summarize(&ack.msg)
                        ),
                    ));
                }
                let Some(resp) = &ex.response else {
                    return Err(Failure::fail(
                        sep,
                        format!(
                            "an Empty ACK but no separate response with token {tok:02x?}; {}",
                            ex.strays()
                        ),
                    ));
                };
                let resp = &resp.msg;
                ctx.ensure(resp.mtype == MessageType::Con, td(id), || {
                    format!("the separate response is not CON: {}", summarize(resp))
                })?;
                ctx.ensure(resp.code == Code::CONTENT, rfc("RFC7252-5.8.1-get"), || {
                    format!("expected 2.05, got {}", summarize(resp))
                })?;
                judge_content(id, resp)
            })
            .covers(&[
                td(id),
                rfc("RFC7252-5.2.2-separate"),
                rfc("RFC7252-5.3.2-token"),
            ])
            .needs(&["coap.separate"])
            .control(controls::drop_to_client(
                "the server's separate responses never arrive",
                |m: &Message| m.mtype == MessageType::Con && m.code.is_response(),
            )),
        );
    }

    t.push(
        tc("td-coap-core-10", "TD_COAP_CORE_10: a CON GET with an 8-byte token is answered 2.05 echoing the whole token", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "");
            create(&mut c, &path, "token test").await?;
            let tok = c.token(8);
            let req = c.request(Con, Code::GET, &path).with_token(&tok);
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let resp = judge(&req, &ex, &[Code::CONTENT], rfc("RFC7252-5.8.1-get"))?;
            judge_content("TD_COAP_CORE_10", &resp)
        })
        .covers(&[td("TD_COAP_CORE_10"), rfc("RFC7252-5.3.2-token")])
        .needs(&["coap.dynamic-resources"])
        .control(controls::mutate_to_client("the server echoes only half the token", is_code(Code::CONTENT), |m| m.token.truncate(4))),
    );
    t.push(
        tc(
            "td-coap-core-12",
            "TD_COAP_CORE_12: a CON GET with an empty token is answered 2.05 with an empty token",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let path = own_path(&ctx, "");
                create(&mut c, &path, "empty token").await?;
                let req = c.request(Con, Code::GET, &path).with_token(&[]);
                let ex = c.exchange(&req, Duration::ZERO).await?;
                let resp = judge(&req, &ex, &[Code::CONTENT], rfc("RFC7252-5.8.1-get"))?;
                judge_content("TD_COAP_CORE_12", &resp)
            },
        )
        .covers(&[td("TD_COAP_CORE_12"), rfc("RFC7252-5.3.2-token")])
        .needs(&["coap.dynamic-resources"])
        .control(controls::mutate_to_client(
            "the server's 2.05 carries a token the request did not have",
            is_code(Code::CONTENT),
            |m| m.token = vec![0x01],
        )),
    );
    t.push(
        tc("td-coap-core-13", "TD_COAP_CORE_13: a CON GET with three Uri-Path options reaches /seg1/seg2/seg3 and is answered 2.05", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "/seg1/seg2/seg3");
            create(&mut c, &path, "three segments").await?;
            let req = c.request(Con, Code::GET, &path);
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let resp = judge(&req, &ex, &[Code::CONTENT], rfc("RFC7252-5.10.1-uri"))?;
            judge_content("TD_COAP_CORE_13", &resp)
        })
        .covers(&[td("TD_COAP_CORE_13"), rfc("RFC7252-5.10.1-uri")])
        .needs(&["coap.dynamic-resources"])
        .control(controls::mutate_to_server("the server sees the GET without its last Uri-Path segment", is_request_code(Code::GET), |m| {
            if let Some(last) = m.options.iter().rposition(|o| o.number == OptionNumber::UriPath) {
                m.options.remove(last);
            }
        })),
    );
    t.push(
        tc("td-coap-core-14", "TD_COAP_CORE_14: a CON GET with Uri-Query options first=1 and second=2 is answered 2.05", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "/query");
            create(&mut c, &path, "query resource").await?;
            let req = c.request(Con, Code::GET, &path).with_query("first=1").with_query("second=2");
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let resp = judge(&req, &ex, &[Code::CONTENT], rfc("RFC7252-5.10.1-uri"))?;
            judge_content("TD_COAP_CORE_14", &resp)
        })
        .covers(&[td("TD_COAP_CORE_14"), rfc("RFC7252-5.10.1-uri")])
        .needs(&["coap.dynamic-resources"])
        .control(controls::mutate_to_client("the server answers a query with 4.00", is_code(Code::CONTENT), |m| m.code = Code::BAD_REQUEST)),
    );
    t.push(
        tc("td-coap-core-20", "TD_COAP_CORE_20: a CON GET with Accept gets that Content-Format, or 4.06 when the resource lacks it", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "");
            create(&mut c, &path, "plain text only").await?;
            // The resource exists only as text/plain (0); ask for application/xml (41).
            let req = c.request(Con, Code::GET, &path).with_uint(OptionNumber::Accept, 41);
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let rule = rfc("RFC7252-5.10.4-accept");
            let resp = judge(&req, &ex, &[Code::CONTENT, Code::NOT_ACCEPTABLE], rule)?;
            if resp.code == Code::CONTENT {
                ctx.ensure(resp.content_format() == Some(41), rule, || {
                    format!("Accept 41 (application/xml) for a text/plain resource was answered {} instead of 4.06", summarize(&resp))
                })?;
            }
            Ok(())
        })
        .covers(&[td("TD_COAP_CORE_20"), rfc("RFC7252-5.10.4-accept")])
        .needs(&["coap.dynamic-resources"])
        .control(controls::mutate_to_client("the server answers Accept with another format", |m: &Message| matches!(m.code, Code::CONTENT | Code::NOT_ACCEPTABLE), |m| {
            m.code = Code::CONTENT;
            m.options.retain(|o| o.number != OptionNumber::ContentFormat);
            m.push(hilt_wire::coap::CoapOption::uint(OptionNumber::ContentFormat, 0));
        })),
    );
    t.push(
        tc(
            "td-coap-core-31",
            "TD_COAP_CORE_31: a CoAP ping (Empty CON) is answered by a RST with its Message ID",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let mid = c.next_mid();
                let ping = Message::empty(MessageType::Con, mid);
                let ex = c.exchange(&ping, Duration::ZERO).await?;
                let rule = rfc("RFC7252-4.2-ping");
                match &ex.ack {
                    Some(r) if r.msg.mtype == MessageType::Rst => Ok(()),
                    Some(r) => Err(Failure::fail(
                        rule,
                        format!("the ping was answered {} instead of RST", summarize(&r.msg)),
                    )),
                    None => Err(Failure::fail(
                        rule,
                        format!(
                            "no RST for the ping mid=0x{mid:04x} (sent {} times); {}",
                            ex.transmissions,
                            ex.strays()
                        ),
                    )),
                }
            },
        )
        .covers(&[td("TD_COAP_CORE_31"), rfc("RFC7252-4.2-ping")])
        .control(controls::drop_to_client(
            "the server's RSTs never arrive",
            controls::is_type(MessageType::Rst),
        )),
    );
    t.extend(lossy_tests());
    t.push(separate_non());
    t.extend(location_tests());
    t.extend(conditional_tests());
    t
}

/// The delay asked of the slow resource in the lossy TDs: longer than the client's
/// largest first retransmission timeout (ACK_TIMEOUT × ACK_RANDOM_FACTOR), so the
/// retransmitted request reaches the server before its separate response is ready.
fn lossy_separate_delay_s() -> u64 {
    let max_first = ACK_TIMEOUT.as_millis() as u64 * u64::from(ACK_RANDOM_FACTOR_MILLI) / 1000;
    max_first.div_ceil(1000) + 1
}

/// A Confirmable message's first retransmission comes between ACK_TIMEOUT and
/// ACK_TIMEOUT × ACK_RANDOM_FACTOR after the original (RFC 7252 §4.8); `slack` widens
/// the upper end by the target's response time (both copies are timed on arrival).
fn judge_retransmission_gap(first: &Reply, again: &Reply, slack: Duration) -> Result<(), Failure> {
    let gap = again.at.saturating_duration_since(first.at);
    let low = ACK_TIMEOUT.saturating_sub(TIMER_SLACK);
    let high = ACK_TIMEOUT * ACK_RANDOM_FACTOR_MILLI / 1000 + slack;
    if gap < low || gap > high {
        return Err(Failure::fail(
            rfc("RFC7252-4.8-timeout"),
            format!(
                "the CON response was retransmitted {} ms after the first copy; RFC 7252 §4.8 puts the first retransmission {}–{} ms after it",
                gap.as_millis(),
                ACK_TIMEOUT.as_millis(),
                (ACK_TIMEOUT * ACK_RANDOM_FACTOR_MILLI / 1000).as_millis()
            ),
        ));
    }
    Ok(())
}

/// How early a timer may fire from scheduling alone.
const TIMER_SLACK: Duration = Duration::from_millis(50);

/// TD_COAP_CORE_15 and 16: the plugtest's lossy gateway, emulated by the client, which
/// treats chosen replies as lost (they are still recorded).
fn lossy_tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(
        tc("td-coap-core-15", "TD_COAP_CORE_15: lossy path: the piggybacked 2.05 of a CON GET is lost, the client retransmits, and the server answers the retransmission with the same ACK and response", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "");
            create(&mut c, &path, "lossy resource").await?;
            let req = c.request(MessageType::Con, Code::GET, &path);
            let mut lost_one = false;
            let ex = c
                .exchange_losing(&req, Duration::ZERO, |m| {
                    m.message_id == req.message_id && !std::mem::replace(&mut lost_one, true)
                })
                .await?;
            let dedup = rfc("RFC7252-4.5-dedup");
            let Some(first) = ex.lost.first() else {
                return Err(Failure::fail(rfc("RFC7252-4.2-ack-mid"), format!("no reply to {}; {}", summarize(&req), ex.strays())));
            };
            if ex.transmissions < 2 {
                return Err(Failure::error("the client did not retransmit after losing the ACK"));
            }
            let resp = judge(&req, &ex, &[Code::CONTENT], dedup)?;
            ctx.ensure(resp.code == first.msg.code && resp.payload == first.msg.payload, dedup, || {
                format!("the retransmission was answered {}, the original {}", summarize(&resp), summarize(&first.msg))
            })?;
            judge_content("TD_COAP_CORE_15", &resp)
        })
        .covers(&[td("TD_COAP_CORE_15"), rfc("RFC7252-4.5-dedup"), rfc("RFC7252-4.2-ack-mid"), rfc("RFC7252-5.2.1-piggyback")])
        .needs(&["coap.dynamic-resources"])
        .control(Control::new("the server answers only the first copy of a CON request", || {
            vec![controls::drop_rule_to_client(controls::is_type(MessageType::Ack)).after(1)]
        })),
    );
    t.push(
        tc("td-coap-core-16", "TD_COAP_CORE_16: lossy path: the Empty ACK and the first copy of the separate CON 2.05 are lost; the server acknowledges the retransmitted request again, runs it once, and retransmits its response with the same Message ID in the RFC 7252 §4.8 window", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let delay = lossy_separate_delay_s();
            let mid = c.next_mid();
            let tok = c.token(4);
            let req = Message::new(MessageType::Con, Code::GET, mid)
                .with_token(&tok)
                .with_path(SEPARATE_PATH)
                .with_query(&delay.to_string());
            let (mut lost_ack, mut lost_response) = (false, false);
            let ex = c
                .exchange_losing(&req, Duration::from_secs(delay), |m| {
                    let empty_ack = m.mtype == MessageType::Ack && m.code.is_empty() && m.message_id == mid;
                    let con_response = m.mtype == MessageType::Con && m.code.is_response() && m.token == tok;
                    (empty_ack && !std::mem::replace(&mut lost_ack, true))
                        || (con_response && !std::mem::replace(&mut lost_response, true))
                })
                .await?;
            let id = "TD_COAP_CORE_16";
            let first_ack = ex.lost.iter().find(|r| r.msg.mtype == MessageType::Ack);
            ctx.ensure(first_ack.is_some(), td(id), || format!("no Empty ACK for mid=0x{mid:04x} before the separate response; {}", ex.strays()))?;
            if ex.transmissions < 2 {
                return Err(Failure::error("the client did not retransmit after losing the Empty ACK"));
            }
            let dedup = rfc("RFC7252-4.5-dedup");
            ctx.ensure(ex.ack.is_some(), dedup, || format!("the retransmitted request (mid=0x{mid:04x}, sent {} times) was not acknowledged again; {}", ex.transmissions, ex.strays()))?;
            let Some(first) = ex.lost.iter().find(|r| r.msg.mtype == MessageType::Con) else {
                return Err(Failure::fail(rfc("RFC7252-5.2.2-separate"), format!("no separate response with token {tok:02x?}; {}", ex.strays())));
            };
            let Some(again) = &ex.response else {
                return Err(Failure::fail(rfc("RFC7252-4.2-retransmit"), format!("the unacknowledged CON response {} was never retransmitted; {}", summarize(&first.msg), ex.strays())));
            };
            ctx.ensure(again.msg.message_id == first.msg.message_id, rfc("RFC7252-4.2-retransmit"), || {
                format!("after {} went unacknowledged, the next response was {} (another Message ID: a second response, not a retransmission)", summarize(&first.msg), summarize(&again.msg))
            })?;
            if let Some(extra) = ex.stray.iter().find(|m| m.token == tok && m.code.is_response()) {
                return Err(Failure::fail(dedup, format!("the request was served twice: {} besides {}", summarize(extra), summarize(&first.msg))));
            }
            judge_retransmission_gap(first, again, ctx.response_timeout())?;
            ctx.ensure(again.msg.code == Code::CONTENT, rfc("RFC7252-5.8.1-get"), || format!("expected 2.05, got {}", summarize(&again.msg)))?;
            judge_content(id, &again.msg)
        })
        .covers(&[td("TD_COAP_CORE_16"), rfc("RFC7252-4.5-dedup"), rfc("RFC7252-4.2-retransmit"), rfc("RFC7252-4.8-timeout"), rfc("RFC7252-5.2.2-separate")])
        .needs(&["coap.separate"])
        .timeout(lossy_separate_timeout())
        .control(Control::new("the server's CON responses arrive only once, never retransmitted", || {
            vec![controls::drop_rule_to_client(|m: &Message| m.mtype == MessageType::Con && m.code.is_response()).after(1)]
        })),
    );
    t
}

/// The delay, plus the client's retransmissions and the server's, with room to spare.
fn lossy_separate_timeout() -> Duration {
    Duration::from_secs(lossy_separate_delay_s()) + ACK_TIMEOUT * 8
}

/// TD_COAP_CORE_17: a separate response to a NON request.
fn separate_non() -> TestCase {
    tc("td-coap-core-17", "TD_COAP_CORE_17: a NON GET of a slow resource is not acknowledged and is answered later by a NON 2.05 with the token", |ctx: Ctx| async move {
        let mut c = Client::open(&ctx).await?;
        let mid = c.next_mid();
        let tok = c.token(4);
        let req = Message::new(MessageType::Non, Code::GET, mid)
            .with_token(&tok)
            .with_path(SEPARATE_PATH)
            .with_query(&SEPARATE_DELAY_S.to_string());
        let ex = c.exchange(&req, Duration::from_secs(SEPARATE_DELAY_S)).await?;
        if let Some(ack) = ex.stray.iter().find(|m| m.mtype == MessageType::Ack && m.message_id == mid) {
            return Err(Failure::fail(rfc("RFC7252-4.3-no-ack"), format!("the NON request was acknowledged: {}", summarize(ack))));
        }
        let resp = judge(&req, &ex, &[Code::CONTENT], rfc("RFC7252-5.8.1-get"))?;
        judge_content("TD_COAP_CORE_17", &resp)
    })
    .covers(&[td("TD_COAP_CORE_17"), rfc("RFC7252-4.3-no-ack"), rfc("RFC7252-5.2.3-non"), rfc("RFC7252-5.3.2-token")])
    .needs(&["coap.separate"])
    .control(controls::mutate_to_client("the server's NON responses arrive as CON", controls::is_type(MessageType::Non), |m| m.mtype = MessageType::Con))
}

/// The Location-Path (or Location-Query) values of a response, as strings.
fn location(resp: &Message, n: OptionNumber) -> Vec<String> {
    resp.values(n)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

/// TD_COAP_CORE_18 and 19: POST creating a resource tells where, one segment or
/// argument per option. The TDs' fixed names are kept as the last segments of a path
/// unique to the attempt.
fn location_tests() -> Vec<TestCase> {
    let rule = rfc("RFC7252-5.10.7-location");
    let strip = |n: OptionNumber, what: &str| {
        controls::mutate_to_client(what, is_code(Code::CREATED), move |m| {
            m.options.retain(|o| o.number != n)
        })
    };
    vec![
        tc("td-coap-core-18", "TD_COAP_CORE_18: a CON POST creating a resource is answered 2.01 with one Location-Path option per segment of its location (location1/location2/location3)", move |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "/location1/location2/location3");
            let req = c.request(MessageType::Con, Code::POST, &path)
                .with_uint(OptionNumber::ContentFormat, 0)
                .with_payload(b"created by POST".to_vec());
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let resp = judge(&req, &ex, &[Code::CREATED], rfc("RFC7252-5.8.2-post"))?;
            judge_cfone("TD_COAP_CORE_18", &resp)?;
            let segs = location(&resp, OptionNumber::LocationPath);
            let id = td("TD_COAP_CORE_18");
            ctx.ensure(segs.iter().all(|s| !s.contains('/')), rule, || format!("a Location-Path value contains '/': {segs:?}"))?;
            ctx.ensure(segs.ends_with(&["location1".into(), "location2".into(), "location3".into()]), id, || {
                format!("expected Location-Path options ending location1, location2, location3; got {segs:?} in {}", summarize(&resp))
            })?;
            // The location names the resource that was made.
            let at = format!("/{}", segs.join("/"));
            let get = c.request(MessageType::Con, Code::GET, &at);
            let ex = c.exchange(&get, Duration::ZERO).await?;
            let got = judge(&get, &ex, &[Code::CONTENT], rule)?;
            ctx.ensure(got.payload == b"created by POST", rule, || format!("GET {at} returned {}, not what was POSTed", summarize(&got)))
        })
        .covers(&[td("TD_COAP_CORE_18"), rule, rfc("RFC7252-5.8.2-post")])
        .needs(&["coap.dynamic-resources"])
        .control(strip(OptionNumber::LocationPath, "the server's 2.01 carries no Location-Path")),
        tc("td-coap-core-19", "TD_COAP_CORE_19: a CON POST creating a resource at location-query?first=1&second=2 is answered 2.01 with Location-Query options first=1 and second=2", move |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "/location-query");
            let req = c.request(MessageType::Con, Code::POST, &path)
                .with_query("first=1")
                .with_query("second=2")
                .with_uint(OptionNumber::ContentFormat, 0)
                .with_payload(b"created by POST".to_vec());
            let ex = c.exchange(&req, Duration::ZERO).await?;
            let resp = judge(&req, &ex, &[Code::CREATED], rfc("RFC7252-5.8.2-post"))?;
            judge_cfone("TD_COAP_CORE_19", &resp)?;
            let args = location(&resp, OptionNumber::LocationQuery);
            ctx.ensure(args.iter().all(|a| !a.contains(['?', '&'])), rule, || format!("a Location-Query value contains '?' or '&': {args:?}"))?;
            ctx.ensure(args == ["first=1", "second=2"], td("TD_COAP_CORE_19"), || {
                format!("expected Location-Query options first=1 and second=2; got {args:?} in {}", summarize(&resp))
            })
        })
        .covers(&[td("TD_COAP_CORE_19"), rule, rfc("RFC7252-5.8.2-post")])
        .needs(&["coap.dynamic-resources"])
        .control(strip(OptionNumber::LocationQuery, "the server's 2.01 carries no Location-Query")),
    ]
}

/// A CON request of `code` for `path` with an ETag-family option `opt` (its value
/// `value`) and, for PUT, a text payload; judged by [`judge`] against `codes`.
async fn conditional(
    c: &mut Client,
    code: Code,
    path: &str,
    opt: Option<(OptionNumber, Vec<u8>)>,
    body: &str,
    codes: &[Code],
    rule: SpecRef,
) -> Result<Message, Failure> {
    let mut req = c.request(MessageType::Con, code, path);
    if let Some((n, v)) = opt {
        req = req.with_option(n, v);
    }
    if code == Code::PUT {
        req = req
            .with_uint(OptionNumber::ContentFormat, 0)
            .with_payload(body.as_bytes().to_vec());
    }
    let ex = c.exchange(&req, Duration::ZERO).await?;
    judge(&req, &ex, codes, rule)
}

/// The ETag a 2.05 must carry for the validation TDs.
fn etag_of(id: &'static str, resp: &Message) -> Result<Vec<u8>, Failure> {
    resp.etag().map(<[u8]>::to_vec).ok_or_else(|| {
        Failure::fail(
            td(id),
            format!("the 2.05 carries no ETag: {}", summarize(resp)),
        )
    })
}

/// TD_COAP_CORE_21–23: ETag validation and conditional requests, on a resource of the
/// test's own standing in for the TDs' `/validate` and `/create1`.
fn conditional_tests() -> Vec<TestCase> {
    use OptionNumber::{ETag, IfMatch, IfNoneMatch};
    let valid = rfc("RFC7252-5.10.6-etag");
    let if_match = rfc("RFC7252-5.10.8.1-if-match");
    let if_none = rfc("RFC7252-5.10.8.2-if-none-match");
    vec![
        tc("td-coap-core-21", "TD_COAP_CORE_21: a GET with the current ETag is answered 2.03 (Valid) with that ETag and no payload; after an update, 2.05 with a new ETag", move |ctx: Ctx| async move {
            let id = "TD_COAP_CORE_21";
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "/validate");
            create(&mut c, &path, "first version").await?;
            let get = rfc("RFC7252-5.8.1-get");
            let r1 = conditional(&mut c, Code::GET, &path, None, "", &[Code::CONTENT], get).await?;
            let etag1 = etag_of(id, &r1)?;
            let r2 = conditional(&mut c, Code::GET, &path, Some((ETag, etag1.clone())), "", &[Code::VALID], valid).await?;
            ctx.ensure(r2.etag() == Some(&etag1[..]) && r2.payload.is_empty(), valid, || format!("the 2.03 must carry ETag {etag1:02x?} and no payload: {}", summarize(&r2)))?;
            conditional(&mut c, Code::PUT, &path, None, "second version", &[Code::CHANGED], rfc("RFC7252-5.8.3-put")).await?;
            let r3 = conditional(&mut c, Code::GET, &path, Some((ETag, etag1.clone())), "", &[Code::CONTENT], valid).await?;
            ctx.ensure(r3.etag().is_some_and(|e| e != etag1) && r3.payload == b"second version", valid, || format!("after the update, expected 2.05 with the new content and an ETag other than {etag1:02x?}: {}", summarize(&r3)))
        })
        .covers(&[td("TD_COAP_CORE_21"), valid])
        .needs(&["coap.dynamic-resources", "coap.etag"])
        .control(controls::mutate_to_client("the server answers 2.05 to a valid ETag", is_code(Code::VALID), |m| m.code = Code::CONTENT)),
        tc("td-coap-core-22", "TD_COAP_CORE_22: a PUT with If-Match of the current ETag is applied (2.04); after another update, a PUT with If-Match of the old ETag is refused 4.12 and not applied", move |ctx: Ctx| async move {
            let id = "TD_COAP_CORE_22";
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "/validate");
            create(&mut c, &path, "first version").await?;
            let get = rfc("RFC7252-5.8.1-get");
            let put = rfc("RFC7252-5.8.3-put");
            let r1 = conditional(&mut c, Code::GET, &path, None, "", &[Code::CONTENT], get).await?;
            let etag1 = etag_of(id, &r1)?;
            conditional(&mut c, Code::PUT, &path, Some((IfMatch, etag1)), "second version", &[Code::CHANGED], if_match).await?;
            let r3 = conditional(&mut c, Code::GET, &path, None, "", &[Code::CONTENT], get).await?;
            ctx.ensure(r3.payload == b"second version", if_match, || format!("the PUT with a matching If-Match was not applied: {}", summarize(&r3)))?;
            let etag2 = etag_of(id, &r3)?;
            conditional(&mut c, Code::PUT, &path, None, "third version", &[Code::CHANGED], put).await?;
            conditional(&mut c, Code::PUT, &path, Some((IfMatch, etag2)), "fourth version", &[Code::PRECONDITION_FAILED], if_match).await?;
            let r5 = conditional(&mut c, Code::GET, &path, None, "", &[Code::CONTENT], get).await?;
            ctx.ensure(r5.payload == b"third version", if_match, || format!("the PUT refused 4.12 changed the resource anyway: {}", summarize(&r5)))
        })
        .covers(&[td("TD_COAP_CORE_22"), if_match])
        .needs(&["coap.dynamic-resources", "coap.etag"])
        .control(controls::mutate_to_server("the server never sees If-Match", is_request_code(Code::PUT), |m| m.options.retain(|o| o.number != IfMatch))),
        tc("td-coap-core-23", "TD_COAP_CORE_23: a PUT with If-None-Match creates a missing resource (2.01); a second one is refused 4.12 and does not change it", move |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "/create1");
            let opt = || Some((IfNoneMatch, Vec::new()));
            conditional(&mut c, Code::PUT, &path, opt(), "created once", &[Code::CREATED], if_none).await?;
            conditional(&mut c, Code::PUT, &path, opt(), "created twice", &[Code::PRECONDITION_FAILED], if_none).await?;
            let r = conditional(&mut c, Code::GET, &path, None, "", &[Code::CONTENT], rfc("RFC7252-5.8.1-get")).await?;
            ctx.ensure(r.payload == b"created once", if_none, || format!("the PUT refused 4.12 changed the resource anyway: {}", summarize(&r)))
        })
        .covers(&[td("TD_COAP_CORE_23"), if_none])
        .needs(&["coap.dynamic-resources"])
        .control(controls::mutate_to_server("the server never sees If-None-Match", is_request_code(Code::PUT), |m| m.options.retain(|o| o.number != IfNoneMatch))),
    ]
}
