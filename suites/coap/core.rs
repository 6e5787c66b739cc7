//! The CORE test descriptions of the ETSI CoAP#4 plugtest (repository cabo/td-coap4,
//! base.yml): methods in CON and NON, separate responses, tokens, Uri-Path and
//! Uri-Query, Accept, ping. Where a TD names a resource (`/test`, `/seg1/seg2/seg3`,
//! `/query`), the test first creates its own copy with a PUT under a name unique to
//! the attempt, so tests run side by side.

use std::time::Duration;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::coap::{Code, Message, MessageType, OptionNumber, summarize};

use super::client::{Client, Exchange};
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
    let req = c
        .request(MessageType::Con, Code::PUT, path)
        .with_uint(OptionNumber::ContentFormat, 0)
        .with_payload(body.as_bytes().to_vec());
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
    t
}
