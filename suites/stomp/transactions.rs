//! Transactions: BEGIN, COMMIT and ABORT over SEND and ACK; implicit abort on DISCONNECT
//! and on connection loss; errors for unknown or reused transaction ids.

use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::stomp::{Command, Frame};

use super::controls;
use super::session::Session;
use super::{queue, send, st, subscribe, tc};

fn frame(command: Command, tx: &str) -> Frame {
    Frame::new(command).header("transaction", tx)
}

/// A subscriber on a fresh queue and a producer that has begun transaction `tx` and
/// sent one message in it, not yet delivered. The transactional SEND asks for no
/// receipt (a broker may hold it until COMMIT); a RECEIPT for a later frame outside the
/// transaction acknowledges that it was received.
async fn pending_send(ctx: &Ctx, tx: &str) -> Result<(Session, Session, String), Failure> {
    let q = queue(ctx, "tx");
    let mut sub = Session::connect(ctx).await?;
    sub.with_receipt(subscribe("0", &q, "auto"), "sub").await?;
    let mut p = Session::connect(ctx).await?;
    p.with_receipt(frame(Command::Begin, tx), "begin").await?;
    p.send(&send(&q, "in a transaction").header("transaction", tx))
        .await?;
    p.with_receipt(send(&queue(ctx, "txother"), "outside"), "sent")
        .await?;
    Ok((sub, p, q))
}

/// A consumer (client-individual) holding one delivered message, inside transaction
/// `tx` which ACKs it.
async fn ack_in_transaction(ctx: &Ctx, q: &str, tx: &str) -> Result<Session, Failure> {
    let mut p = Session::connect(ctx).await?;
    p.with_receipt(send(q, "to ack"), "p").await?;
    p.disconnect().await;
    let mut c = Session::connect(ctx).await?;
    c.send(&subscribe("0", q, "client-individual")).await?;
    let m = c.message(st!("subscribe-1"), "the message to ACK").await?;
    let id = m.get("ack").unwrap_or_default().to_owned();
    c.with_receipt(frame(Command::Begin, tx), "begin").await?;
    c.send(
        &Frame::new(Command::Ack)
            .header("id", id)
            .header("transaction", tx),
    )
    .await?;
    Ok(c)
}

/// Whether a new subscriber finds a message in `q` (`want`), judged against `rule`.
async fn redelivered(
    ctx: &Ctx,
    q: &str,
    want: bool,
    rule: hilt_core::SpecRef,
    why: &str,
) -> Outcome {
    let mut c = Session::connect(ctx).await?;
    c.with_receipt(subscribe("0", q, "auto"), "resub").await?;
    if want {
        c.message(rule, why).await?;
    } else {
        c.no_message(rule, why).await?;
    }
    c.disconnect().await;
    Ok(())
}

/// The producer's SEND reaches the broker outside any transaction.
fn send_outside_transaction() -> controls::Control {
    controls::mutate_to_server(
        "SEND",
        "the broker delivers a transactional SEND at once",
        |f| f.remove("transaction"),
    )
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(
        tc(
            "transaction",
            "send-delivered-on-commit",
            "A SEND in a transaction is delivered on COMMIT, not before",
            |ctx: Ctx| async move {
                let (mut sub, mut p, _) = pending_send(&ctx, "tx1").await?;
                sub.no_message(st!("begin-3"), "the transaction is not committed")
                    .await?;
                p.with_receipt(frame(Command::Commit, "tx1"), "commit")
                    .await?;
                sub.message(st!("commit-1"), "the message after COMMIT")
                    .await?;
                p.disconnect().await;
                sub.disconnect().await;
                Ok(())
            },
        )
        .needs(&["stomp.transactions"])
        .covers(&[st!("begin-3"), st!("commit-1"), st!("begin-1")])
        .control(send_outside_transaction()),
    );
    t.push(
        tc(
            "transaction",
            "abort-discards-send",
            "A SEND in a transaction that is aborted is never delivered",
            |ctx: Ctx| async move {
                let (mut sub, mut p, _) = pending_send(&ctx, "tx1").await?;
                p.with_receipt(frame(Command::Abort, "tx1"), "abort")
                    .await?;
                sub.no_message(st!("abort-1"), "the transaction was aborted")
                    .await?;
                p.disconnect().await;
                sub.disconnect().await;
                Ok(())
            },
        )
        .needs(&["stomp.transactions"])
        .covers(&[st!("abort-1")])
        .control(controls::mutate_to_server(
            "ABORT",
            "the broker commits instead of aborting",
            |f| f.command = Command::Commit,
        )),
    );
    t.push(
        tc(
            "transaction",
            "disconnect-aborts",
            "A transaction open at DISCONNECT is aborted: its SEND is never delivered",
            |ctx: Ctx| async move {
                let (mut sub, mut p, _) = pending_send(&ctx, "tx1").await?;
                p.with_receipt(Frame::new(Command::Disconnect), "bye")
                    .await?;
                sub.no_message(st!("begin-4"), "the transaction ended with a DISCONNECT")
                    .await?;
                sub.disconnect().await;
                Ok(())
            },
        )
        .needs(&["stomp.transactions"])
        .covers(&[st!("begin-4")])
        .control(controls::mutate_to_server(
            "DISCONNECT",
            "the broker commits open transactions at DISCONNECT",
            |f| {
                f.command = Command::Commit;
                f.set("transaction", "tx1");
            },
        )),
    );
    t.push(
        tc(
            "transaction",
            "connection-loss-aborts",
            "A transaction open when the connection is lost is aborted: its SEND is never delivered",
            |ctx: Ctx| async move {
                let (mut sub, p, _) = pending_send(&ctx, "tx1").await?;
                p.drop_connection();
                sub.no_message(st!("begin-4"), "the transaction's connection was lost").await?;
                sub.disconnect().await;
                Ok(())
            },
        )
        .needs(&["stomp.transactions"])
        .covers(&[st!("begin-4")])
        .control(send_outside_transaction()),
    );
    t.push(
        tc(
            "transaction",
            "ack-undone-by-abort",
            "An ACK in an aborted transaction is undone: the message is redelivered after the connection is lost",
            |ctx: Ctx| async move {
                let q = queue(&ctx, "txack");
                let mut c = ack_in_transaction(&ctx, &q, "tx1").await?;
                c.with_receipt(frame(Command::Abort, "tx1"), "abort").await?;
                c.drop_connection();
                redelivered(&ctx, &q, true, st!("ack-2"), "the ACK's transaction was aborted").await
            },
        )
        .needs(&["stomp.transactions", "stomp.dest.queue"])
        .covers(&[st!("ack-2"), st!("abort-1")])
        .control(controls::mutate_to_server(
            "ACK",
            "the broker applies an ACK at once, outside its transaction",
            |f| f.remove("transaction"),
        )),
    );
    t.push(
        tc(
            "transaction",
            "ack-applied-by-commit",
            "An ACK in a committed transaction holds: the message is not redelivered",
            |ctx: Ctx| async move {
                let q = queue(&ctx, "txcommit");
                let mut c = ack_in_transaction(&ctx, &q, "tx1").await?;
                c.with_receipt(frame(Command::Commit, "tx1"), "commit")
                    .await?;
                c.drop_connection();
                redelivered(
                    &ctx,
                    &q,
                    false,
                    st!("ack-2"),
                    "the ACK's transaction was committed",
                )
                .await
            },
        )
        .needs(&["stomp.transactions", "stomp.dest.queue"])
        .covers(&[st!("ack-2"), st!("commit-1")])
        .control(controls::neutralize_to_server(
            "ACK",
            "the broker ignores an ACK inside a transaction",
        )),
    );
    t.push(
        tc(
            "transaction",
            "commit-unknown-transaction-error",
            "COMMIT of a transaction never begun gets an ERROR, then the close",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                s.send(&frame(Command::Commit, "never-begun")).await?;
                s.error_then_close(st!("commit-1"), "COMMIT transaction:never-begun")
                    .await
                    .map(|_| ())
            },
        )
        .needs(&["stomp.transactions"])
        .covers(&[st!("commit-1"), st!("error-1")])
        .control(controls::mutate_to_server(
            "COMMIT",
            "the broker accepts a COMMIT of an unknown transaction (it sees a BEGIN)",
            |f| f.command = Command::Begin,
        )),
    );
    t.push(
        tc(
            "transaction",
            "abort-unknown-transaction-error",
            "ABORT of a transaction never begun gets an ERROR, then the close",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                s.send(&frame(Command::Abort, "never-begun")).await?;
                s.error_then_close(st!("abort-1"), "ABORT transaction:never-begun")
                    .await
                    .map(|_| ())
            },
        )
        .needs(&["stomp.transactions"])
        .covers(&[st!("abort-1"), st!("error-1")])
        .control(controls::mutate_to_server(
            "ABORT",
            "the broker accepts an ABORT of an unknown transaction (it sees a BEGIN)",
            |f| f.command = Command::Begin,
        )),
    );
    t.push(
        tc(
            "transaction",
            "begin-reused-id-error",
            "BEGIN of a transaction id already in progress gets an ERROR, then the close",
            |ctx: Ctx| async move {
                let mut s = Session::connect(&ctx).await?;
                s.with_receipt(frame(Command::Begin, "tx1"), "b1").await?;
                s.send(&frame(Command::Begin, "tx1")).await?;
                s.error_then_close(st!("begin-2"), "a second BEGIN transaction:tx1")
                    .await
                    .map(|_| ())
            },
        )
        .needs(&["stomp.transactions"])
        .covers(&[st!("begin-2"), st!("error-1")])
        .control(controls::drop_nth_to_server(
            "BEGIN",
            2,
            "the broker ignores the second BEGIN",
        )),
    );
    t
}
