//! Dead-letter queue: a message a consumer rejects, one that expires, and one pushed out
//! of a full queue each end in the dead-letter queue with its body intact, and with the
//! reason where the broker records one. Capability-gated, since brokers differ:
//!
//! - `dead-letter.rejected`, `dead-letter.expired`, `dead-letter.overflow`: which of the
//!   three the broker dead-letters at all;
//! - AMQP 0-9-1 (RabbitMQ): the work queue is declared with `x-dead-letter-exchange`
//!   and `x-dead-letter-routing-key` (and `x-message-ttl`, `x-max-length`); the reason
//!   is the `x-first-death-reason` header (`rejected`, `expired`, `maxlen`);
//! - STOMP, `stomp.dead-letter.queue-arguments` (RabbitMQ): the same queue arguments as
//!   SUBSCRIBE and SEND headers (rabbitmq.com/stomp.html, "Optional Queue Properties"),
//!   the dead-letter queue bound to `amq.direct`; a NACK with `requeue:false` discards or
//!   dead-letters ("ACK and NACK": the default is to requeue);
//! - STOMP, `stomp.dead-letter.dlq-prefix` (ActiveMQ with an individual dead-letter
//!   strategy): the dead-letter queue of `/queue/Q` is `/queue/DLQ.Q`; a NACK is a
//!   poison acknowledgement, and `expires` (an absolute time in milliseconds) expires.

use std::time::{SystemTime, UNIX_EPOCH};

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::amqp091::{FieldTable, FieldValue, Method, MethodId};
use hilt_wire::stomp::{Command, Frame};

use super::controls::patch_to_client;
use super::endpoint::{Client, Msg, Proto, declare_amqp_queue};
use super::{pat, tc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Rejected,
    Expired,
    Overflow,
}

impl Why {
    const ALL: [Why; 3] = [Why::Rejected, Why::Expired, Why::Overflow];

    fn name(self) -> &'static str {
        match self {
            Why::Rejected => "rejected",
            Why::Expired => "expired",
            Why::Overflow => "overflow",
        }
    }

    fn cap(self) -> &'static str {
        match self {
            Why::Rejected => "dead-letter.rejected",
            Why::Expired => "dead-letter.expired",
            Why::Overflow => "dead-letter.overflow",
        }
    }

    fn rule(self) -> SpecRef {
        match self {
            Why::Rejected => pat("deadletter-1"),
            Why::Expired => pat("deadletter-2"),
            Why::Overflow => pat("deadletter-3"),
        }
    }

    /// RabbitMQ's word for it in `x-first-death-reason`.
    fn reason(self) -> &'static str {
        match self {
            Why::Rejected => "rejected",
            Why::Expired => "expired",
            Why::Overflow => "maxlen",
        }
    }

    /// The body of the message that must be dead-lettered.
    fn body(self) -> &'static [u8] {
        match self {
            Why::Rejected => b"dead-letter rejected",
            Why::Expired => b"dead-letter expired",
            Why::Overflow => b"dead-letter overflow",
        }
    }

    fn story(self) -> &'static str {
        match self {
            Why::Rejected => "a message a consumer rejects without requeueing",
            Why::Expired => "a message whose time to live passes in the queue",
            Why::Overflow => "the oldest message of a queue over its length limit",
        }
    }
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for p in [Proto::Stomp, Proto::Amqp] {
        for why in Why::ALL {
            // A corrupted body is what the broker would do if it dead-lettered another
            // message, or lost the content on the way.
            let control = patch_to_client(
                &why.body()[..12],
                b"dead-lettex ",
                "the dead-lettered message arrives with another body",
            );
            t.push(
                tc(
                    "deadletter",
                    &format!("{}.{}", p.tag(), why.name()),
                    &format!(
                        "{}: {} ends in the dead-letter queue with its body",
                        p.name(),
                        why.story()
                    ),
                    &[p.service()],
                    move |ctx| run(ctx, p, why),
                )
                .needs(&[p.cap(), why.cap()])
                .covers(&[why.rule(), pat("deadletter-4")])
                .control(control),
            );
        }
    }
    t
}

async fn run(ctx: Ctx, p: Proto, why: Why) -> Outcome {
    let dead = match p {
        Proto::Amqp => amqp(&ctx, why).await?,
        _ if ctx.has("stomp.dead-letter.queue-arguments") => {
            stomp_queue_arguments(&ctx, why).await?
        }
        _ if ctx.has("stomp.dead-letter.dlq-prefix") => stomp_dlq_prefix(&ctx, why).await?,
        _ => {
            return Err(Failure::skip(
                "the target declares no way to name a STOMP dead-letter queue \
                 (stomp.dead-letter.queue-arguments, stomp.dead-letter.dlq-prefix)",
            ));
        }
    };
    judge(&ctx, why, &dead)
}

/// The dead-lettered message carries the original body, and the reason where the broker
/// records it.
fn judge(ctx: &Ctx, why: Why, dead: &Msg) -> Outcome {
    if dead.body != why.body() {
        return Err(Failure::fail(
            pat("deadletter-4"),
            format!(
                "the dead-letter queue got {:?}, not {:?}",
                dead.text(),
                String::from_utf8_lossy(why.body())
            ),
        ));
    }
    match dead.header("x-first-death-reason") {
        Some(r) if r != why.reason() => Err(Failure::fail(
            pat("deadletter-4"),
            format!("dead-lettered with reason {r:?}, not {:?}", why.reason()),
        )),
        Some(r) => {
            ctx.note(format!("dead-lettered, reason {r}"));
            Ok(())
        }
        None => {
            ctx.note("dead-lettered; the broker records no reason header");
            Ok(())
        }
    }
}

async fn amqp(ctx: &Ctx, why: Why) -> Result<Msg, Failure> {
    let r = why.rule();
    let (work, dlq) = (ctx.unique("work"), ctx.unique("dlq"));
    let mut producer = Client::open(ctx, Proto::Amqp, "prod").await?;
    declare_amqp_queue(&mut producer, &dlq, FieldTable::new(), r).await?;
    let mut args = FieldTable::new()
        .with("x-dead-letter-exchange", "")
        .with("x-dead-letter-routing-key", dlq.as_str());
    match why {
        Why::Expired => args = args.with("x-message-ttl", FieldValue::I32(1)),
        Why::Overflow => args = args.with("x-max-length", FieldValue::I32(1)),
        Why::Rejected => {}
    }
    declare_amqp_queue(&mut producer, &work, args, r).await?;
    let mut dead = Client::open(ctx, Proto::Amqp, "dead").await?;
    dead.consume(&dlq, false).await?;
    match why {
        Why::Rejected => {
            let mut worker = Client::open(ctx, Proto::Amqp, "work").await?;
            worker.consume(&work, true).await?;
            producer.publish_amqp("", &work, why.body(), &[]).await?;
            let m = worker
                .expect(r, "the worker waiting for the message")
                .await?;
            let tag: u64 = m.header("delivery-tag").unwrap_or("0").parse().unwrap_or(0);
            let (s, ch) = worker.amqp()?;
            s.send(
                ch,
                Method::new(MethodId::BASIC_REJECT)
                    .with("delivery-tag", tag)
                    .with("requeue", false),
            )
            .await;
            let got = dead.expect(r, "the dead-letter queue").await;
            worker.close().await;
            finish(got, [producer, dead]).await
        }
        Why::Expired => {
            producer.publish_amqp("", &work, why.body(), &[]).await?;
            let got = dead.expect(r, "the dead-letter queue").await;
            finish(got, [producer, dead]).await
        }
        Why::Overflow => {
            producer.publish_amqp("", &work, why.body(), &[]).await?;
            producer
                .publish_amqp("", &work, b"the newer message", &[])
                .await?;
            let got = dead.expect(r, "the dead-letter queue").await;
            finish(got, [producer, dead]).await
        }
    }
}

/// RabbitMQ: queue arguments as SUBSCRIBE headers; the dead-letter exchange is
/// `amq.direct`, the dead-letter queue a subscription to it.
async fn stomp_queue_arguments(ctx: &Ctx, why: Why) -> Result<Msg, Failure> {
    let r = why.rule();
    let work = format!("/queue/{}", ctx.unique("work"));
    let key = ctx.unique("dlq");
    let mut dead = Client::open(ctx, Proto::Stomp, "dead").await?;
    dead.subscribe_stomp(&format!("/exchange/amq.direct/{key}"), "auto", &[])
        .await?;
    let mut args = vec![
        ("x-dead-letter-exchange", "amq.direct"),
        ("x-dead-letter-routing-key", key.as_str()),
    ];
    match why {
        Why::Expired => args.push(("x-message-ttl", "1")),
        Why::Overflow => args.push(("x-max-length", "1")),
        Why::Rejected => {}
    }
    let mut worker = Client::open(ctx, Proto::Stomp, "work").await?;
    worker
        .subscribe_stomp(&work, "client-individual", &args)
        .await?;
    // A SEND declares the queue too: it must give the same arguments, or the broker
    // refuses it as inequivalent.
    let mut producer = Client::open(ctx, Proto::Stomp, "prod").await?;
    match why {
        Why::Rejected => {
            producer.send_stomp(&work, why.body(), &args).await?;
            let m = worker
                .expect(r, "the worker waiting for the message")
                .await?;
            nack(&mut worker, &m, &[("requeue", "false")]).await?;
        }
        Why::Expired | Why::Overflow => {
            // The queue keeps its arguments once its only consumer leaves.
            unsubscribe(&mut worker).await?;
            producer.send_stomp(&work, why.body(), &args).await?;
            if why == Why::Overflow {
                producer
                    .send_stomp(&work, b"the newer message", &args)
                    .await?;
            }
        }
    }
    let got = dead.expect(r, "the dead-letter queue").await;
    finish(got, [producer, dead, worker]).await
}

/// ActiveMQ: the dead-letter queue of `/queue/Q` is `/queue/DLQ.Q`.
async fn stomp_dlq_prefix(ctx: &Ctx, why: Why) -> Result<Msg, Failure> {
    let r = why.rule();
    let name = ctx.unique("work");
    let work = format!("/queue/{name}");
    let mut dead = Client::open(ctx, Proto::Stomp, "dead").await?;
    dead.subscribe_stomp(&format!("/queue/DLQ.{name}"), "auto", &[])
        .await?;
    let mut producer = Client::open(ctx, Proto::Stomp, "prod").await?;
    match why {
        Why::Rejected => {
            let mut worker = Client::open(ctx, Proto::Stomp, "work").await?;
            worker
                .subscribe_stomp(&work, "client-individual", &[])
                .await?;
            producer.send_stomp(&work, why.body(), &[]).await?;
            let m = worker
                .expect(r, "the worker waiting for the message")
                .await?;
            nack(&mut worker, &m, &[]).await?;
            let got = dead.expect(r, "the dead-letter queue").await;
            finish(got, [producer, dead, worker]).await
        }
        Why::Expired => {
            // Already past: the broker expires it as it arrives.
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            let expires = (now_ms.saturating_sub(1000)).to_string();
            producer
                .send_stomp(&work, why.body(), &[("expires", expires.as_str())])
                .await?;
            let got = dead.expect(r, "the dead-letter queue").await;
            finish(got, [producer, dead]).await
        }
        Why::Overflow => Err(Failure::skip(
            "no STOMP queue length limit that dead-letters is known for this broker",
        )),
    }
}

/// NACKs a STOMP MESSAGE by its `ack` header, with `extra` headers, and waits for the
/// RECEIPT.
async fn nack(worker: &mut Client, m: &Msg, extra: &[(&str, &str)]) -> Outcome {
    let id = m
        .header("ack")
        .ok_or_else(|| Failure::error("a client-individual MESSAGE came without an ack header"))?
        .to_owned();
    let mut f = Frame::new(Command::Nack).header("id", id);
    for (k, v) in extra {
        f = f.header(*k, *v);
    }
    worker.stomp()?.with_receipt(f, "nacked").await
}

async fn unsubscribe(worker: &mut Client) -> Outcome {
    let f = Frame::new(Command::Unsubscribe).header("id", "sub-1");
    worker.stomp()?.with_receipt(f, "unsubscribed").await
}

/// Closes the clients, then hands back what the dead-letter queue gave.
async fn finish<const N: usize>(
    got: Result<Msg, Failure>,
    clients: [Client; N],
) -> Result<Msg, Failure> {
    for c in clients {
        c.close().await;
    }
    got
}
