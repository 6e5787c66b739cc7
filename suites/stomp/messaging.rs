//! SEND, SUBSCRIBE and UNSUBSCRIBE; MESSAGE headers; destinations; RECEIPT (DISCONNECT's
//! included); ERROR then close; size limits.

use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::stomp::{Command, Frame, RawFrame, summarize};

use super::controls;
use super::session::{Next, Session, describe};
use super::{queue, send, st, subscribe, tc, topic};

/// Subscribes `id` to `dest` (auto) with a receipt, sends `f` from the same session, and
/// returns the MESSAGE.
async fn round_trip(s: &mut Session, id: &str, dest: &str, f: Frame) -> Result<Frame, Failure> {
    s.with_receipt(subscribe(id, dest, "auto"), &format!("sub-{id}"))
        .await?;
    s.send(&f).await?;
    s.message(st!("subscribe-1"), &format!("the MESSAGE from {dest}"))
        .await
}

/// Either the broker serves the frame (`served` judges how), or it refuses it with an
/// ERROR then the close, as the size-limit statement allows. Anything else fails.
async fn served_or_refused(
    ctx: Ctx,
    label: &str,
    build: impl Fn(&str) -> Vec<u8>,
    served: impl Fn(&Frame) -> Result<(), Failure>,
) -> Outcome {
    let mut s = Session::connect(&ctx).await?;
    let q = queue(&ctx, label);
    s.with_receipt(subscribe("0", &q, "auto"), "sub").await?;
    s.send_raw(&build(&q)).await?;
    let within = s.response_timeout() * 2;
    loop {
        match s.next_frame(within).await? {
            Next::Frame(m) if m.command == Command::Message => {
                served(&m)?;
                s.disconnect().await;
                return Ok(());
            }
            Next::Frame(e) if e.command == Command::Error => {
                return s.closes(st!("error-1"), "after refusing the frame").await;
            }
            Next::Frame(_) => {}
            other => {
                return Err(Failure::fail(
                    st!("size-limits-1"),
                    format!(
                        "a large frame was neither served nor refused: {}",
                        describe(&other)
                    ),
                ));
            }
        }
    }
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(
        tc(
            "receipt",
            "send-receipt-id-matches",
            "A SEND with a receipt header is acknowledged with RECEIPT receipt-id equal to it",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "rcpt");
                s.with_receipt(send(&q, "receipt please"), "hilt-r:1")
                    .await?;
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("receipt-header-1"), st!("receipt-1")])
        .control(controls::mutate_to_client(
            "RECEIPT",
            "the broker's RECEIPT names another receipt-id",
            |f| f.set("receipt-id", "something-else"),
        )),
    );
    t.push(
        tc(
            "receipt",
            "receipt-for-each-frame",
            "SEND, SUBSCRIBE and SEND written together each get their RECEIPT",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "each");
                let mut bytes = send(&q, "1").header("receipt", "r1").to_bytes();
                bytes.extend(
                    subscribe("0", &queue(&ctx, "other"), "auto")
                        .header("receipt", "r2")
                        .to_bytes(),
                );
                bytes.extend(send(&q, "3").header("receipt", "r3").to_bytes());
                s.send_raw(&bytes).await?;
                // The order is not specified: a broker may confirm a SEND after it has
                // processed the SUBSCRIBE behind it.
                for want in ["r1", "r2", "r3"] {
                    s.receipt(want).await?;
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("receipt-header-1"), st!("receipt-1")])
        .control(controls::drop_nth_to_client(
            "RECEIPT",
            2,
            "the broker loses one of three RECEIPTs",
        )),
    );
    t.push(
        tc(
            "receipt",
            "disconnect-receipt-then-close",
            "DISCONNECT with a receipt is answered with that RECEIPT, then the connection closes",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                s.with_receipt(Frame::new(Command::Disconnect), "bye-77")
                    .await?;
                s.closes(st!("disconnect-1"), "after the DISCONNECT's RECEIPT")
                    .await
            },
        )
        .covers(&[st!("disconnect-1"), st!("receipt-1")])
        .control(controls::drop_to_client(
            "RECEIPT",
            "the broker never sends the RECEIPT",
        )),
    );
    t.push(
        tc(
            "receipt",
            "frames-before-disconnect-processed",
            "A SEND followed by DISCONNECT is processed: the message waits in its queue",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "linger");
                s.send(&send(&q, "sent before DISCONNECT")).await?;
                s.with_receipt(Frame::new(Command::Disconnect), "bye")
                    .await?;
                let mut r = Session::connect(&ctx).await?;
                r.send(&subscribe("0", &q, "auto")).await?;
                r.message(st!("receipt-3"), "the message sent before DISCONNECT")
                    .await?;
                r.disconnect().await;
                Ok(())
            },
        )
        .needs(&["stomp.dest.queue"])
        .covers(&[st!("receipt-3"), st!("receipt-2")])
        .control(controls::drop_to_server(
            "SEND",
            "the broker loses the SEND",
        )),
    );
    t.push(
        tc(
            "message",
            "required-headers",
            "MESSAGE carries destination (as sent), message-id and subscription (the SUBSCRIBE's id)",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "hdrs");
                let m = round_trip(&mut s, "sub-7", &q, send(&q, "headers")).await?;
                if m.get("destination") != Some(q.as_str()) {
                    return Err(Failure::fail(
                        st!("message-2"),
                        format!("sent to {q}, delivered as {}", summarize(&m)),
                    ));
                }
                if m.get("subscription") != Some("sub-7") {
                    return Err(Failure::fail(
                        st!("message-4"),
                        format!("subscription sub-7, delivered as {}", summarize(&m)),
                    ));
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("message-1"), st!("message-2"), st!("message-3"), st!("message-4"), st!("subscribe-1")])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker's MESSAGE names another subscription",
            |f| f.set("subscription", "not-mine"),
        )),
    );
    t.push(
        tc(
            "message",
            "topic-destination-as-sent",
            "A message sent to a topic is delivered with that destination",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let tp = topic(&ctx, "tdest");
                let m = round_trip(&mut s, "0", &tp, send(&tp, "topic")).await?;
                if m.get("destination") != Some(tp.as_str()) {
                    return Err(Failure::fail(
                        st!("message-2"),
                        format!("sent to {tp}, delivered as {}", summarize(&m)),
                    ));
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .needs(&["stomp.dest.topic"])
        .covers(&[st!("message-2"), st!("subscribe-1")])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker's MESSAGE names another destination",
            |f| f.set("destination", "/topic/elsewhere"),
        )),
    );
    t.push(
        tc(
            "message",
            "message-ids-unique",
            "Five messages get five different message-ids",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "ids");
                s.with_receipt(subscribe("0", &q, "auto"), "sub").await?;
                for i in 0..5 {
                    s.send(&send(&q, &format!("m{i}"))).await?;
                }
                let mut ids = std::collections::BTreeSet::new();
                for i in 0..5 {
                    let m = s
                        .message(st!("subscribe-1"), &format!("MESSAGE {i}"))
                        .await?;
                    let id = m.get("message-id").unwrap_or_default().to_owned();
                    if !ids.insert(id.clone()) {
                        return Err(Failure::fail(
                            st!("message-3"),
                            format!("message-id {id:?} used twice: {}", summarize(&m)),
                        ));
                    }
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("message-3")])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker gives every MESSAGE the same message-id",
            |f| f.set("message-id", "same"),
        )),
    );
    t.push(
        tc(
            "send",
            "user-headers-passed-through",
            "User headers of a SEND reach the subscriber in the MESSAGE",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "user");
                let users = [("x-app", "hilt"), ("x-number", "42"), ("x-empty", "")];
                let mut f = send(&q, "user headers");
                for (n, v) in users {
                    f = f.header(n, v);
                }
                let m = round_trip(&mut s, "0", &q, f).await?;
                for (n, v) in users {
                    if m.get(n) != Some(v) {
                        return Err(Failure::fail(
                            st!("send-3"),
                            format!(
                                "user header {n}:{v:?} not passed through: {}",
                                summarize(&m)
                            ),
                        ));
                    }
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("send-3"), st!("frames-headers-2")])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker strips user headers",
            |f| f.headers.retain(|(n, _)| !n.starts_with("x-")),
        )),
    );
    t.push(
        tc(
            "message",
            "content-length-and-type",
            "A MESSAGE with a body carries content-length (its size) and the SEND's content-type",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "ctype");
                let m = round_trip(&mut s, "0", &q, send(&q, "typed body")).await?;
                if m.get("content-length") != Some("10") {
                    return Err(Failure::fail(
                        st!("message-6"),
                        format!(
                            "a 10-octet body without content-length:10: {}",
                            summarize(&m)
                        ),
                    ));
                }
                if m.get("content-type")
                    .is_none_or(|v| !v.starts_with("text/plain"))
                {
                    return Err(Failure::fail(
                        st!("content-type-1"),
                        format!("sent as text/plain, delivered as {}", summarize(&m)),
                    ));
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[
            st!("message-6"),
            st!("content-length-2"),
            st!("content-type-1"),
        ])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker's MESSAGE has neither content-length nor content-type",
            |f| {
                f.remove("content-length");
                f.remove("content-type");
            },
        )),
    );
    t.push(
        tc(
            "subscribe",
            "subscriptions-told-apart",
            "Two subscriptions on one connection get MESSAGEs naming their own ids",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let (qa, qb) = (queue(&ctx, "a"), queue(&ctx, "b"));
                s.with_receipt(subscribe("a", &qa, "auto"), "sa").await?;
                s.with_receipt(subscribe("b", &qb, "auto"), "sb").await?;
                s.send(&send(&qa, "for a")).await?;
                s.send(&send(&qb, "for b")).await?;
                for _ in 0..2 {
                    let m = s.message(st!("subscribe-1"), "a MESSAGE").await?;
                    let want = if m.body == b"for a" { "a" } else { "b" };
                    if m.get("subscription") != Some(want) {
                        return Err(Failure::fail(
                            st!("message-4"),
                            format!("expected subscription {want}: {}", summarize(&m)),
                        ));
                    }
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("subscribe-id-2"), st!("message-4")])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker names the first subscription on every MESSAGE",
            |f| f.set("subscription", "a"),
        )),
    );
    t.push(
        tc(
            "unsubscribe",
            "stops-delivery",
            "After UNSUBSCRIBE (acknowledged), messages to the destination no longer arrive",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "unsub");
                s.with_receipt(subscribe("0", &q, "auto"), "sub").await?;
                s.with_receipt(Frame::new(Command::Unsubscribe).header("id", "0"), "unsub")
                    .await?;
                s.with_receipt(send(&q, "after unsubscribe"), "sent")
                    .await?;
                s.no_message(st!("unsubscribe-3"), "the subscription was removed")
                    .await?;
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("unsubscribe-3"), st!("unsubscribe-1")])
        .control(controls::neutralize_to_server(
            "UNSUBSCRIBE",
            "the broker acknowledges UNSUBSCRIBE but keeps the subscription",
        )),
    );
    t.push(
        tc(
            "subscribe",
            "topic-reaches-every-subscriber",
            "A message sent to a topic reaches each of two subscribers",
            |ctx: Ctx| async move {
                let tp = topic(&ctx, "fan");
                let mut subs = Vec::new();
                for _ in 0..2 {
                    let mut s = Session::connect(&ctx).await?;
                    s.with_receipt(subscribe("0", &tp, "auto"), "sub").await?;
                    subs.push(s);
                }
                let mut p = Session::connect(&ctx).await?;
                p.with_receipt(send(&tp, "to all"), "sent").await?;
                for (i, s) in subs.iter_mut().enumerate() {
                    s.message(
                        st!("subscribe-1"),
                        &format!("the MESSAGE at subscriber {i}"),
                    )
                    .await?;
                }
                Ok(())
            },
        )
        .needs(&["stomp.dest.topic"])
        .covers(&[st!("subscribe-1")])
        .control(controls::drop_to_client(
            "MESSAGE",
            "the broker delivers nothing",
        )),
    );
    t.push(
        tc(
            "subscribe",
            "exchange-destination",
            "A message sent to /exchange/amq.topic/KEY reaches a subscription to the same destination",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let d = format!("/exchange/amq.topic/{}", ctx.unique("key"));
                let m = round_trip(&mut s, "0", &d, send(&d, "via exchange")).await?;
                if m.body != b"via exchange" {
                    return Err(Failure::fail(st!("subscribe-1"), format!("got {}", summarize(&m))));
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .needs(&["stomp.dest.exchange"])
        .covers(&[st!("subscribe-1")])
        .control(controls::drop_to_client("MESSAGE", "the broker delivers nothing")),
    );
    t.push(
        tc(
            "error",
            "names-the-frame-and-closes",
            "A SEND without destination, with a receipt, gets an ERROR with message and receipt-id, then the close",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                s.send(&Frame::new(Command::Send).header("receipt", "bad-send").body("x"))
                    .await?;
                let e = s.error_then_close(st!("send-4"), "SEND without destination").await?;
                if e.get("message").is_none() {
                    return Err(Failure::fail(
                        st!("error-2"),
                        format!("the ERROR has no message header: {}", summarize(&e)),
                    ));
                }
                if e.get("receipt-id") != Some("bad-send") {
                    return Err(Failure::fail(
                        st!("error-3"),
                        format!("the ERROR about a frame with receipt:bad-send lacks receipt-id:bad-send: {}", summarize(&e)),
                    ));
                }
                Ok(())
            },
        )
        .covers(&[st!("send-4"), st!("error-1"), st!("error-2"), st!("error-3")])
        .control(controls::mutate_to_client(
            "ERROR",
            "the broker's ERROR does not say which frame it is about",
            |f| f.remove("receipt-id"),
        )),
    );
    for (name, cmd, title, rule) in [
        (
            "subscribe-bad-destination",
            "SUBSCRIBE",
            "SUBSCRIBE to a destination the broker cannot serve gets an ERROR, then the close",
            st!("subscribe-2"),
        ),
        (
            "send-bad-destination",
            "SEND",
            "SEND to a destination the broker cannot serve gets an ERROR, then the close",
            st!("send-4"),
        ),
    ] {
        t.push(
            tc("error", name, title, move |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let d = format!("/hilt-nonsense/{}", ctx.unique("d"));
                let f = RawFrame::new(cmd)
                    .header("id", "0")
                    .header("destination", &d)
                    .build();
                s.send_raw(&f).await?;
                s.error_then_close(rule, &format!("{cmd} to {d}"))
                    .await
                    .map(|_| ())
            })
            .needs(&["stomp.dest.only-known-prefixes"])
            .covers(&[rule, st!("error-1")])
            .control(controls::patch_to_server(
                b"destination:/hilt-nonsense/",
                b"destination:/queue/",
                "the broker serves any destination (it sees a queue)",
            )),
        );
    }
    t.push(
        tc(
            "size",
            "large-body",
            "A 1 MiB body is delivered intact, or refused with an ERROR then the close",
            |ctx| {
                let body: Vec<u8> = (0..1 << 20).map(|i: u32| b'a' + (i % 26) as u8).collect();
                let want = body.clone();
                served_or_refused(
                    ctx,
                    "big",
                    move |q| {
                        Frame::new(Command::Send)
                            .header("destination", q)
                            .body(body.clone())
                            .with_content_length()
                            .to_bytes()
                    },
                    move |m| {
                        if m.body == want {
                            Ok(())
                        } else {
                            Err(Failure::fail(
                                st!("content-length-1"),
                                format!("a 1 MiB body delivered as {}", summarize(m)),
                            ))
                        }
                    },
                )
            },
        )
        .covers(&[st!("size-limits-1"), st!("content-length-1")])
        .control(controls::black_hole_after(
            2,
            "the broker hangs on the large frame",
        )),
    );
    for (name, title, count, len) in [
        (
            "long-header-line",
            "A 64 KiB header value is passed through, or refused with an ERROR then the close",
            1usize,
            64 << 10,
        ),
        (
            "many-headers",
            "A SEND with 2000 headers is passed through, or refused with an ERROR then the close",
            2000,
            8,
        ),
    ] {
        t.push(
            tc("size", name, title, move |ctx| {
                served_or_refused(
                    ctx,
                    "hdr",
                    move |q| {
                        let mut f = send(q, "headers");
                        for i in 0..count {
                            f = f.header(format!("x-h{i}"), "v".repeat(len));
                        }
                        f.to_bytes()
                    },
                    move |m| {
                        let last = format!("x-h{}", count - 1);
                        if m.get(&last).map(str::len) == Some(len) {
                            Ok(())
                        } else {
                            Err(Failure::fail(
                                st!("send-3"),
                                format!(
                                    "header {last} of {len} octets not passed through: {}",
                                    summarize(m)
                                ),
                            ))
                        }
                    },
                )
            })
            .covers(&[st!("size-limits-1"), st!("send-3")])
            .control(controls::black_hole_after(
                2,
                "the broker hangs on the large frame",
            )),
        );
    }
    t
}
