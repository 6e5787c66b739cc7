//! The frame grammar as a broker reads and writes it: frames split across TCP segments or
//! sharing one, EOLs between frames, CR LF lines, escapes decoded and re-encoded, values
//! never trimmed, bodies with NULs, repeated headers, case-sensitive commands and names.
//! (Malformed frames that must be refused are the corpus in `vectors.rs`.)

use std::time::Duration;

use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::stomp::{Command, Frame, RawFrame, summarize};

use super::controls::{self, Control};
use super::session::{Next, Session, describe};
use super::{queue, send, st, subscribe, tc};

/// Subscribes (auto) to a fresh queue with a receipt, so later frames find the
/// subscription in place; returns the session and the queue.
async fn subscribed(ctx: &Ctx, label: &str) -> Result<(Session, String), Failure> {
    let mut s = Session::connect(ctx).await?;
    let q = queue(ctx, label);
    s.with_receipt(subscribe("0", &q, "auto"), "sub").await?;
    Ok((s, q))
}

/// Sends `bytes` (a SEND to the session's queue) and checks that the MESSAGE carries
/// header `name` with exactly `want`.
async fn header_survives(
    ctx: Ctx,
    label: &str,
    build: impl Fn(&str) -> Vec<u8>,
    name: &str,
    want: &str,
    rule: hilt_core::SpecRef,
) -> Outcome {
    let (mut s, q) = subscribed(&ctx, label).await?;
    s.send_raw(&build(&q)).await?;
    let m = s
        .message(st!("subscribe-1"), "the MESSAGE of the SEND")
        .await?;
    let got = m.get(name);
    if got != Some(want) {
        return Err(Failure::fail(
            rule,
            format!(
                "header {name} was sent as {want:?}, the MESSAGE carries {got:?}: {}",
                summarize(&m)
            ),
        ));
    }
    s.disconnect().await;
    Ok(())
}

/// The MESSAGE's header `name` reaches the client as `value`.
fn header_becomes(name: &'static str, value: &'static str) -> Control {
    controls::mutate_to_client(
        "MESSAGE",
        &format!("the broker delivers {name} as {value:?}"),
        move |f| f.set(name, value),
    )
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(
        tc(
            "grammar",
            "frame-split-across-segments",
            "A SEND written in three TCP segments is read as one frame",
            |ctx: Ctx| async move {
                let (mut s, q) = subscribed(&ctx, "split").await?;
                let bytes = send(&q, "split across segments")
                    .header("receipt", "r1")
                    .to_bytes();
                let third = bytes.len() / 3;
                for part in [
                    &bytes[..third],
                    &bytes[third..2 * third],
                    &bytes[2 * third..],
                ] {
                    s.send_raw(part).await?;
                    // A pause so the segments leave separately (Nagle is off).
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                s.receipt("r1").await?;
                let m = s
                    .message(st!("frames-1"), "the MESSAGE of the split SEND")
                    .await?;
                if m.body != b"split across segments" {
                    return Err(Failure::fail(
                        st!("frames-1"),
                        format!("the split SEND was delivered as {}", summarize(&m)),
                    ));
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("frames-1")])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker delivers a different body",
            |f| {
                f.body = b"split".to_vec();
                f.remove("content-length");
            },
        )),
    );
    t.push(
        tc(
            "grammar",
            "eols-between-frames",
            "EOLs (LF and CR LF) between and after frames are skipped",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "eols");
                let mut bytes = b"\n\r\n".to_vec();
                bytes.extend(subscribe("0", &q, "auto").to_bytes());
                bytes.extend(b"\n\n\r\n\n");
                bytes.extend(send(&q, "after EOLs").header("receipt", "r1").to_bytes());
                bytes.extend(b"\r\n");
                s.send_raw(&bytes).await?;
                s.receipt("r1").await?;
                s.message(st!("bnf-6"), "the MESSAGE of the SEND after EOLs")
                    .await?;
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("bnf-6"), st!("bnf-1")])
        .control(controls::drop_to_client(
            "MESSAGE",
            "the broker delivers nothing",
        )),
    );
    t.push(
        tc(
            "grammar",
            "crlf-lines",
            "A SEND with CR LF line ends is read with the CRs removed from its header values",
            |ctx| {
                header_survives(
                    ctx,
                    "crlf",
                    |q| {
                        RawFrame::new("SEND")
                            .header("destination", q)
                            .header("x-crlf", "value")
                            .header("receipt", "r1")
                            .body("crlf")
                            .crlf()
                            .build()
                    },
                    "x-crlf",
                    "value",
                    st!("bnf-1"),
                )
            },
        )
        .covers(&[st!("bnf-1"), st!("send-3")])
        .control(header_becomes("x-crlf", "value\r")),
    );
    t.push(
        tc(
            "grammar",
            "escapes-decoded-and-reencoded",
            "Escaped CR, LF, colon and backslash in a header reach the subscriber as the same value",
            |ctx| {
                header_survives(
                    ctx,
                    "esc",
                    |q| {
                        send(q, "escapes")
                            .header("x-esc", "a:b\nc\rd\\e")
                            .to_bytes()
                    },
                    "x-esc",
                    "a:b\nc\rd\\e",
                    st!("value-encoding-2"),
                )
            },
        )
        .covers(&[st!("value-encoding-2"), st!("value-encoding-4"), st!("send-3")])
        .control(header_becomes("x-esc", "a\\cb\\nc\\rd\\\\e")),
    );
    t.push(
        tc(
            "grammar",
            "values-not-trimmed",
            "Spaces around a header value are kept",
            |ctx| {
                header_survives(
                    ctx,
                    "pad",
                    |q| {
                        send(q, "pad")
                            .header("x-pad", "  padded value  ")
                            .to_bytes()
                    },
                    "x-pad",
                    "  padded value  ",
                    st!("value-encoding-6"),
                )
            },
        )
        .covers(&[st!("value-encoding-6")])
        .control(header_becomes("x-pad", "padded value")),
    );
    t.push(
        tc(
            "grammar",
            "utf8-header-value",
            "A UTF-8 header value with non-ASCII characters is passed through intact",
            |ctx| {
                header_survives(
                    ctx,
                    "utf",
                    |q| send(q, "utf8").header("x-utf8", "héllo ✓ 日本").to_bytes(),
                    "x-utf8",
                    "héllo ✓ 日本",
                    st!("value-encoding-1"),
                )
            },
        )
        .covers(&[st!("value-encoding-1"), st!("content-type-5")])
        .control(header_becomes("x-utf8", "h?llo ? ??")),
    );
    t.push(
        tc(
            "grammar",
            "repeated-user-header-first-wins",
            "Of a header repeated in a SEND, the subscriber's first entry is the first one sent",
            |ctx| {
                header_survives(
                    ctx,
                    "rep",
                    |q| {
                        send(q, "repeat")
                            .header("x-rep", "first")
                            .header("x-rep", "second")
                            .to_bytes()
                    },
                    "x-rep",
                    "first",
                    st!("repeated-headers-1"),
                )
            },
        )
        .covers(&[st!("repeated-headers-1")])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker delivers the repeated header in reverse order",
            |f| {
                f.remove("x-rep");
                f.headers.insert(0, ("x-rep".into(), "second".into()));
            },
        )),
    );
    t.push(
        tc(
            "grammar",
            "repeated-destination-first-wins",
            "A SEND with two destination headers goes to the first",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let (first, second) = (queue(&ctx, "first"), queue(&ctx, "second"));
                s.with_receipt(subscribe("1", &first, "auto"), "s1").await?;
                s.with_receipt(subscribe("2", &second, "auto"), "s2")
                    .await?;
                let mut f = send(&first, "which destination");
                f.headers.push(("destination".into(), second.clone()));
                s.with_receipt(f, "r1").await?;
                let m = s.message(st!("repeated-headers-1"), "the MESSAGE").await?;
                if m.get("subscription") != Some("1") {
                    return Err(Failure::fail(
                        st!("repeated-headers-1"),
                        format!(
                            "sent with destination {first} then {second}, delivered as {}",
                            summarize(&m)
                        ),
                    ));
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("repeated-headers-1")])
        .control(controls::mutate_to_server(
            "SEND",
            "the broker uses the last destination header",
            |f| {
                let dests: Vec<String> = f.get_all("destination").map(str::to_owned).collect();
                f.remove("destination");
                for d in dests.into_iter().rev() {
                    f.headers.push(("destination".into(), d));
                }
            },
        )),
    );
    t.push(
        tc(
            "grammar",
            "nul-octets-in-body",
            "A body with NUL octets and a content-length is delivered whole, with its content-length",
            |ctx: Ctx| async move {
                let (mut s, q) = subscribed(&ctx, "nul").await?;
                let body = b"a\0b\0\0c\0".to_vec();
                let f = Frame::new(Command::Send)
                    .header("destination", q.as_str())
                    .header("content-type", "application/octet-stream")
                    .body(body.clone())
                    .with_content_length();
                s.send(&f).await?;
                let m = s.message(st!("content-length-1"), "the MESSAGE of the SEND").await?;
                if m.body != body {
                    return Err(Failure::fail(
                        st!("content-length-1"),
                        format!("sent a {}-octet body with NULs, delivered {}", body.len(), summarize(&m)),
                    ));
                }
                if m.get("content-length") != Some("7") {
                    return Err(Failure::fail(
                        st!("content-length-3"),
                        format!("a body with NULs delivered without a right content-length: {}", summarize(&m)),
                    ));
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("content-length-1"), st!("content-length-3")])
        .control(controls::mutate_to_client(
            "MESSAGE",
            "the broker cuts the body at its first NUL",
            |f| {
                f.body = b"a".to_vec();
                f.set("content-length", "1");
            },
        )),
    );
    t.push(
        tc(
            "grammar",
            "frames-sharing-a-segment",
            "SUBSCRIBE and two SENDs written in one TCP segment are all processed",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "batch");
                let mut bytes = subscribe("0", &q, "auto").to_bytes();
                bytes.extend(send(&q, "one").to_bytes());
                bytes.extend(send(&q, "two").header("receipt", "r2").to_bytes());
                s.send_raw(&bytes).await?;
                s.receipt("r2").await?;
                for n in ["one", "two"] {
                    let m = s
                        .message(st!("frames-1"), &format!("MESSAGE {n:?}"))
                        .await?;
                    if m.body != n.as_bytes() {
                        return Err(Failure::fail(
                            st!("frames-1"),
                            format!("expected body {n:?}, got {}", summarize(&m)),
                        ));
                    }
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("frames-1"), st!("bnf-6")])
        .control(controls::drop_nth_to_server(
            "SEND",
            1,
            "the broker loses the first of two frames in a segment",
        )),
    );
    t.push(
        tc(
            "grammar",
            "commands-case-sensitive",
            "A frame with command `send` is not a SEND: nothing is delivered",
            |ctx: Ctx| async move {
                let (mut s, q) = subscribed(&ctx, "case").await?;
                let mut other = Session::connect(&ctx).await?;
                other
                    .send_raw(
                        &RawFrame::new("send")
                            .header("destination", &q)
                            .body("lower")
                            .build(),
                    )
                    .await?;
                s.no_message(st!("frames-2"), "`send` is not a command")
                    .await?;
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("frames-2"), st!("bnf-4")])
        .control(controls::patch_to_server(
            b"send\n",
            b"SEND\n",
            "the broker reads `send` as SEND",
        )),
    );
    t.push(
        tc(
            "grammar",
            "header-names-case-sensitive",
            "A SEND whose only destination header is `Destination` lacks a destination: ERROR, then the close",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let q = queue(&ctx, "hcase");
                s.send_raw(&RawFrame::new("SEND").header("Destination", &q).body("x").build())
                    .await?;
                s.error_then_close(st!("send-1"), "SEND with `Destination` only")
                    .await
                    .map(|_| ())
            },
        )
        .covers(&[st!("frames-2"), st!("send-1"), st!("send-4")])
        .control(controls::patch_to_server(
            b"\nDestination:",
            b"\ndestination:",
            "the broker reads `Destination` as destination",
        )),
    );
    t.push(
        tc(
            "grammar",
            "unknown-command-error-or-ignored",
            "A frame with an unknown command gets an ERROR then the close, or is ignored",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                let mut bytes = RawFrame::new("FROBNICATE").header("x", "y").build();
                bytes.extend(
                    Frame::new(Command::Begin)
                        .header("transaction", "t1")
                        .header("receipt", "probe")
                        .to_bytes(),
                );
                s.send_raw(&bytes).await?;
                let within = s.response_timeout();
                match s.next_frame(within).await? {
                    Next::Frame(f) if f.command == Command::Error => {
                        s.closes(st!("error-1"), "after the ERROR").await
                    }
                    Next::Frame(f) if f.command == Command::Receipt => {
                        s.disconnect().await;
                        Ok(())
                    }
                    other => Err(Failure::fail(
                        st!("client-frames-1"),
                        format!("after an unknown command and a probe: {}", describe(&other)),
                    )),
                }
            },
        )
        .covers(&[st!("client-frames-1"), st!("error-1")])
        .control(controls::black_hole_after(
            1,
            "the broker hangs on an unknown command",
        )),
    );
    t
}
