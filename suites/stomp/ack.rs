//! Acknowledgement modes: auto, client (cumulative) and client-individual; ACK and NACK;
//! redelivery of unacknowledged messages after the connection is lost.

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::stomp::{Command, Frame, summarize};

use super::controls::{self, Control};
use super::session::Session;
use super::{queue, send, st, subscribe, tc};

/// Sends `bodies` to `q` from a fresh connection, each acknowledged by a RECEIPT.
async fn produce(ctx: &Ctx, q: &str, bodies: &[&str]) -> Result<(), Failure> {
    let mut p = Session::connect(ctx).await?;
    for (i, b) in bodies.iter().enumerate() {
        p.with_receipt(send(q, b), &format!("p{i}")).await?;
    }
    p.disconnect().await;
    Ok(())
}

/// Subscribes to `q` in `mode` and receives `n` MESSAGEs.
async fn consume(
    ctx: &Ctx,
    q: &str,
    mode: &str,
    n: usize,
) -> Result<(Session, Vec<Frame>), Failure> {
    let mut c = Session::connect(ctx).await?;
    c.send(&subscribe("0", q, mode)).await?;
    let mut got = Vec::new();
    for i in 0..n {
        got.push(
            c.message(st!("subscribe-1"), &format!("MESSAGE {i} of the queue"))
                .await?,
        );
    }
    Ok((c, got))
}

/// The ack header of a MESSAGE from a client or client-individual subscription.
fn ack_id(m: &Frame) -> Result<String, Failure> {
    m.get("ack").map(str::to_owned).ok_or_else(|| {
        Failure::fail(
            st!("message-5"),
            format!(
                "a MESSAGE of a subscription needing ACKs has no ack header: {}",
                summarize(m)
            ),
        )
    })
}

/// After the consumer's connection is gone, a new subscriber (auto) gets exactly the
/// bodies `want` (in any order), else `rule` fails.
async fn left_in_queue(ctx: &Ctx, q: &str, want: &[&str], rule: SpecRef, why: &str) -> Outcome {
    let mut c = Session::connect(ctx).await?;
    c.with_receipt(subscribe("0", q, "auto"), "resub").await?;
    let mut got = Vec::new();
    for _ in 0..want.len() {
        let m = c
            .message(rule, &format!("{why}: a redelivered message"))
            .await?;
        got.push(String::from_utf8_lossy(&m.body).into_owned());
    }
    c.no_message(rule, &format!("{why}: only {want:?} were left"))
        .await?;
    got.sort();
    let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    if got != want {
        return Err(Failure::fail(
            rule,
            format!("{why}: redelivered {got:?}, expected {want:?}"),
        ));
    }
    c.disconnect().await;
    Ok(())
}

/// The consumer's SUBSCRIBE reaches the broker with ack mode `mode`.
fn mode_becomes(mode: &'static str) -> Control {
    controls::mutate_to_server(
        "SUBSCRIBE",
        &format!("the broker treats the subscription as ack:{mode}"),
        move |f| f.set("ack", mode),
    )
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(
        tc(
            "ack",
            "auto-consumed-when-sent",
            "In auto mode a delivered message is consumed: not redelivered after the connection is lost",
            |ctx: Ctx| async move {
                let q = queue(&ctx, "auto");
                produce(&ctx, &q, &["auto"]).await?;
                let (c, _) = consume(&ctx, &q, "auto", 1).await?;
                c.drop_connection();
                left_in_queue(&ctx, &q, &[], st!("subscribe-ack-2"), "auto mode").await
            },
        )
        .needs(&["stomp.dest.queue"])
        .covers(&[st!("subscribe-ack-1"), st!("subscribe-ack-2")])
        .control(mode_becomes("client-individual")),
    );
    for mode in ["client", "client-individual"] {
        t.push(
            tc(
                "ack",
                &format!("{mode}-message-has-ack-header"),
                &format!("MESSAGEs of an ack:{mode} subscription carry an ack header"),
                move |ctx: Ctx| async move {
                    let q = queue(&ctx, "ackh");
                    produce(&ctx, &q, &["m"]).await?;
                    let (c, got) = consume(&ctx, &q, mode, 1).await?;
                    ack_id(&got[0])?;
                    c.disconnect().await;
                    Ok(())
                },
            )
            .needs(&["stomp.dest.queue"])
            .covers(&[st!("message-5")])
            .control(controls::mutate_to_client(
                "MESSAGE",
                "the broker's MESSAGE has no ack header",
                |f| f.remove("ack"),
            )),
        );
    }
    t.push(
        tc(
            "ack",
            "acked-not-redelivered",
            "A message ACKed (id = its ack header) is not redelivered after the connection is lost",
            |ctx: Ctx| async move {
                let q = queue(&ctx, "acked");
                produce(&ctx, &q, &["acked"]).await?;
                let (mut c, got) = consume(&ctx, &q, "client-individual", 1).await?;
                let id = ack_id(&got[0])?;
                c.with_receipt(Frame::new(Command::Ack).header("id", id), "ack")
                    .await?;
                c.drop_connection();
                left_in_queue(&ctx, &q, &[], st!("ack-3"), "after an ACK").await
            },
        )
        .needs(&["stomp.dest.queue"])
        .covers(&[st!("ack-1"), st!("ack-3")])
        .control(controls::neutralize_to_server(
            "ACK",
            "the broker acknowledges the ACK frame but ignores it",
        )),
    );
    t.push(
        tc(
            "ack",
            "unacked-redelivered-after-connection-loss",
            "A message not ACKed when the connection is lost is redelivered to the next subscriber",
            |ctx: Ctx| async move {
                let q = queue(&ctx, "lost");
                produce(&ctx, &q, &["unacked"]).await?;
                let (c, _) = consume(&ctx, &q, "client-individual", 1).await?;
                c.drop_connection();
                left_in_queue(
                    &ctx,
                    &q,
                    &["unacked"],
                    st!("subscribe-ack-4"),
                    "no ACK before the loss",
                )
                .await
            },
        )
        .needs(&["stomp.dest.queue"])
        .covers(&[st!("subscribe-ack-4"), st!("ack-3")])
        .control(mode_becomes("auto")),
    );
    t.push(
        tc(
            "ack",
            "client-ack-is-cumulative",
            "In client mode an ACK of the third message acknowledges the first two as well",
            |ctx: Ctx| async move {
                let q = queue(&ctx, "cumul");
                produce(&ctx, &q, &["1", "2", "3"]).await?;
                let (mut c, got) = consume(&ctx, &q, "client", 3).await?;
                let id = ack_id(&got[2])?;
                c.with_receipt(Frame::new(Command::Ack).header("id", id), "ack3")
                    .await?;
                c.drop_connection();
                left_in_queue(
                    &ctx,
                    &q,
                    &[],
                    st!("subscribe-ack-5"),
                    "after a cumulative ACK of the third",
                )
                .await
            },
        )
        .needs(&["stomp.dest.queue"])
        .covers(&[st!("subscribe-ack-5"), st!("subscribe-ack-3")])
        .control(mode_becomes("client-individual")),
    );
    t.push(
        tc(
            "ack",
            "client-individual-not-cumulative",
            "In client-individual mode an ACK of the third message leaves the first two unacknowledged",
            |ctx: Ctx| async move {
                let q = queue(&ctx, "indiv");
                produce(&ctx, &q, &["1", "2", "3"]).await?;
                let (mut c, got) = consume(&ctx, &q, "client-individual", 3).await?;
                let id = ack_id(&got[2])?;
                c.with_receipt(Frame::new(Command::Ack).header("id", id), "ack3").await?;
                c.drop_connection();
                left_in_queue(&ctx, &q, &["1", "2"], st!("subscribe-ack-7"), "after an individual ACK of the third").await
            },
        )
        .needs(&["stomp.dest.queue"])
        .covers(&[st!("subscribe-ack-7")])
        .control(mode_becomes("client")),
    );
    t.push(
        tc(
            "ack",
            "nack-acknowledged",
            "A NACK with a receipt is acknowledged with that RECEIPT and the message is not consumed by it",
            |ctx: Ctx| async move {
                let q = queue(&ctx, "nack");
                produce(&ctx, &q, &["nacked"]).await?;
                let (mut c, got) = consume(&ctx, &q, "client-individual", 1).await?;
                let id = ack_id(&got[0])?;
                c.with_receipt(Frame::new(Command::Nack).header("id", id), "nack").await?;
                c.disconnect().await;
                Ok(())
            },
        )
        .needs(&["stomp.dest.queue", "stomp.nack"])
        .covers(&[st!("nack-1"), st!("receipt-1")])
        .control(controls::mutate_to_client(
            "RECEIPT",
            "the broker's RECEIPT names another receipt-id",
            |f| f.set("receipt-id", "not-the-nack"),
        )),
    );
    t
}
