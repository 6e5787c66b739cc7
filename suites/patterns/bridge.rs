//! Bridging across protocols: a message published on a topic in one protocol reaches a
//! subscriber of the same topic in another, its payload byte for byte and its headers
//! as the broker documents the mapping.
//!
//! - RabbitMQ: MQTT topics are routing keys on `amq.topic`, MQTT's `/` separators turned
//!   into AMQP's `.` (rabbitmq.com/mqtt.html, "How it Works"); a STOMP SEND to
//!   `/topic/K` publishes to `amq.topic` with routing key K, and a SUBSCRIBE binds a
//!   queue there with K (rabbitmq.com/stomp.html, "Topic Destinations"); SEND headers
//!   named like AMQP 0-9-1 properties (`content-type`, `correlation-id`, `reply-to`…)
//!   set those properties, and MESSAGE frames carry them back as headers ("Protocol
//!   Extensions and Restrictions", "Queue Properties"); other headers travel in the
//!   headers table.
//! - ActiveMQ: an MQTT topic is the JMS topic with `/` turned into `.`, which STOMP names
//!   `/topic/…` (activemq.apache.org/mqtt, the mapping of MQTT topic names and
//!   wildcards); a STOMP SEND with a content-length is a BytesMessage, delivered to MQTT
//!   as its bytes (activemq.apache.org/stomp, "Working with JMS Text/Bytes Messages and
//!   Stomp").
//!
//! MQTT 3.1.1 has no headers: across it only the payload is judged. Between STOMP and
//! AMQP 0-9-1 the content type and an application header must come through.

use hilt_runner::{Ctx, Failure, Outcome, TestCase};

use super::controls::patch_to_client;
use super::endpoint::{Client, Proto, Topic};
use super::{judge_sequence, pat, tc};

/// Bytes no text decoding keeps: a NUL, an invalid UTF-8 byte, a line end.
const PAYLOADS: [&[u8]; 2] = [b"bridged-1 \x00\xff\r\n", b"bridged-2"];
const NOTE: &str = "x-hilt-note";
const NOTE_VALUE: &str = "carried-across";

fn carries_headers(p: Proto) -> bool {
    p != Proto::Mqtt
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for from in Proto::ALL {
        for to in Proto::ALL {
            if from == to {
                continue;
            }
            let headers = carries_headers(from) && carries_headers(to);
            let control = if headers {
                patch_to_client(
                    b"carried-across",
                    b"carried-acrozz",
                    "the application header reaches the receiver changed",
                )
            } else {
                patch_to_client(
                    b"bridged-2",
                    b"bridged-9",
                    "the second payload reaches the receiver changed",
                )
            }
            .on(to.service());
            let mut covers = vec![pat("bridge-1"), pat("bridge-2")];
            if headers {
                covers.push(pat("bridge-3"));
            }
            t.push(
                tc(
                    "bridge",
                    &format!("{}-to-{}", from.tag(), to.tag()),
                    &format!(
                        "Published in {}, received in {}: payload byte for byte{}",
                        from.name(),
                        to.name(),
                        if headers {
                            ", content type and application header as documented"
                        } else {
                            ""
                        }
                    ),
                    &[from.service(), to.service()],
                    move |ctx| run(ctx, from, to),
                )
                .needs(&[from.cap(), to.cap()])
                .covers(&covers)
                .control(control),
            );
        }
    }
    t
}

async fn run(ctx: Ctx, from: Proto, to: Proto) -> Outcome {
    let topic = Topic::new(&ctx, "br");
    let mut receiver = Client::open(&ctx, to, "rx").await?;
    receiver.subscribe_topic(&topic).await?;
    let mut sender = Client::open(&ctx, from, "tx").await?;
    let headers: &[(&str, &str)] = if carries_headers(from) {
        &[
            ("content-type", "application/octet-stream"),
            (NOTE, NOTE_VALUE),
        ]
    } else {
        &[]
    };
    for p in PAYLOADS {
        sender.publish_topic(&topic, p, headers).await?;
    }
    let mut got = Vec::new();
    for n in 1..=PAYLOADS.len() {
        let what = format!(
            "the {} subscriber of {} waiting for message {n} published as {}",
            to.name(),
            topic.in_(to),
            topic.in_(from)
        );
        got.push(receiver.expect(pat("bridge-1"), &what).await?);
    }
    let sent: Vec<Vec<u8>> = PAYLOADS.iter().map(|p| p.to_vec()).collect();
    let who = format!("the {} subscriber", to.name());
    judge_sequence(
        &who,
        &sent,
        &got,
        pat("bridge-1"),
        pat("bridge-2"),
        pat("bridge-2"),
    )?;
    if carries_headers(from) && carries_headers(to) {
        for m in &got {
            for (name, want) in headers {
                match m.header(name) {
                    Some(v) if v == *want => {}
                    other => {
                        return Err(Failure::fail(
                            pat("bridge-3"),
                            format!(
                                "{name}: {want} sent in {} arrived in {} as {other:?} (headers {:?})",
                                from.name(),
                                to.name(),
                                m.headers
                            ),
                        ));
                    }
                }
            }
        }
    }
    ctx.note(format!(
        "{} → {}: {} → {}",
        from.name(),
        to.name(),
        topic.in_(from),
        topic.in_(to)
    ));
    sender.close().await;
    receiver.close().await;
    Ok(())
}
