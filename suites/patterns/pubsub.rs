//! Publish-subscribe: three subscribers of one topic and a publisher, all speaking the
//! same protocol; every subscriber gets each message exactly once, in publication order.

use hilt_runner::{Ctx, TestCase};

use super::controls::{patch_to_client, reorder_nth_to_client};
use super::endpoint::{Client, Proto, Topic};
use super::{judge_sequence, pat, tc};
use crate::stomp::controls::drop_nth_to_client;

const SUBSCRIBERS: usize = 3;
const MESSAGES: usize = 5;

pub fn tests() -> Vec<TestCase> {
    Proto::ALL
        .into_iter()
        .map(|p| {
            let control = match p {
                Proto::Mqtt => reorder_nth_to_client(
                    "PUBLISH",
                    2,
                    "each subscriber gets the second message after the third",
                ),
                // Not a reorder: STOMP brokers write an EOL after each frame, and the
                // held frame would only swap with it.
                Proto::Stomp => drop_nth_to_client(
                    "MESSAGE",
                    2,
                    "each subscriber misses the second message",
                ),
                Proto::Amqp => patch_to_client(
                    b"ps#02",
                    b"ps#01",
                    "the second message's body reaches subscribers as a copy of the first",
                ),
            };
            tc(
                "pubsub",
                p.tag(),
                &format!(
                    "{}: each of {SUBSCRIBERS} subscribers of a topic gets each of {MESSAGES} messages exactly once, in order",
                    p.name()
                ),
                &[p.service()],
                move |ctx| run(ctx, p),
            )
            .needs(&[p.cap()])
            .covers(&[pat("pubsub-1"), pat("pubsub-2"), pat("pubsub-3")])
            .control(control)
        })
        .collect()
}

async fn run(ctx: Ctx, p: Proto) -> hilt_runner::Outcome {
    let topic = Topic::new(&ctx, "ps");
    let mut subscribers = Vec::new();
    for i in 0..SUBSCRIBERS {
        let mut c = Client::open(&ctx, p, &format!("s{i}")).await?;
        c.subscribe_topic(&topic).await?;
        subscribers.push(c);
    }
    let mut publisher = Client::open(&ctx, p, "pub").await?;
    let sent: Vec<Vec<u8>> = (1..=MESSAGES)
        .map(|i| format!("ps#{i:02}").into_bytes())
        .collect();
    for m in &sent {
        publisher.publish_topic(&topic, m, &[]).await?;
    }
    publisher.publish_topic(&topic, b"ps#end", &[]).await?;
    for (i, s) in subscribers.iter_mut().enumerate() {
        let who = format!("subscriber {}", i + 1);
        let got = s.until(b"ps#end", pat("pubsub-1"), &who).await?;
        judge_sequence(
            &who,
            &sent,
            &got,
            pat("pubsub-1"),
            pat("pubsub-2"),
            pat("pubsub-3"),
        )?;
    }
    ctx.note(format!(
        "{SUBSCRIBERS} subscribers × {MESSAGES} messages over {} on {}",
        p.name(),
        topic.in_(p)
    ));
    publisher.close().await;
    for s in subscribers {
        s.close().await;
    }
    Ok(())
}
