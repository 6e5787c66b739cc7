//! Request-response: a requester sends requests saying where to reply and carrying a
//! correlation id; a responder (a second client of the same protocol) answers each at
//! that address with the same id. The broker must carry both, unchanged, each way.
//!
//! Where to reply, by protocol: STOMP's `reply-to` and `correlation-id` headers
//! (RabbitMQ maps them to the AMQP properties of the same names), AMQP 0-9-1's
//! `reply-to` and `correlation-id` properties, MQTT 5.0's Response Topic and
//! Correlation Data properties. MQTT 3.1.1 has no headers: the convention there is a
//! reply topic and an id in the payload, so the broker is judged on routing alone.

use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::amqp091::FieldTable;
use hilt_wire::mqtt::{Property, PropertyId, QoS, Version};

use super::controls::patch_to_client;
use super::endpoint::{Client, Msg, Proto, Topic, declare_amqp_queue};
use super::{pat, tc};
use crate::mqtt::v5_features::{message, remove_property};

const REQUESTS: usize = 2;

pub fn tests() -> Vec<TestCase> {
    let covers = [pat("request-1"), pat("request-2"), pat("request-3")];
    vec![
        tc(
            "request",
            "mqtt",
            "MQTT 3.1.1: requests naming a reply topic and an id in their payload are answered on that topic with the same id",
            &["mqtt"],
            |ctx| run(ctx, Via::Mqtt311),
        )
        .needs(&["mqtt.v3.1.1"])
        .covers(&covers)
        .control(patch_to_client(
            b"corr-0002",
            b"corr-0009",
            "the second request reaches the responder with another correlation id",
        )),
        tc(
            "request",
            "mqtt5",
            "MQTT 5.0: Response Topic and Correlation Data reach the responder, and the reply reaches the requester with the same Correlation Data",
            &["mqtt"],
            |ctx| run(ctx, Via::Mqtt5),
        )
        .needs(&["mqtt.v5"])
        .covers(&covers)
        .control(crate::mqtt::controls::mutate_to_client(
            Version::V5,
            "PUBLISH",
            "the broker drops Correlation Data from what it delivers",
            |p| {
                if let hilt_wire::mqtt::Packet::Publish(m) = p {
                    remove_property(&mut m.properties, PropertyId::CorrelationData);
                }
            },
        )),
        tc(
            "request",
            "stomp",
            "STOMP 1.2: reply-to and correlation-id headers reach the responder, and the reply reaches the requester's queue with the same correlation-id",
            &["stomp"],
            |ctx| run(ctx, Via::Stomp),
        )
        .needs(&["stomp.v1.2", "stomp.dest.queue"])
        .covers(&covers)
        .control(crate::stomp::controls::mutate_to_client(
            "MESSAGE",
            "the broker rewrites correlation-id headers",
            |f| {
                if f.get("correlation-id").is_some() {
                    f.set("correlation-id", "forged");
                }
            },
        )),
        tc(
            "request",
            "amqp091",
            "AMQP 0-9-1: reply-to and correlation-id properties reach the responder, and the reply reaches the requester's queue with the same correlation-id",
            &["amqp"],
            |ctx| run(ctx, Via::Amqp),
        )
        .needs(&["amqp.0-9-1"])
        .covers(&covers)
        .control(patch_to_client(
            b"corr-0002",
            b"corr-0009",
            "the second request reaches the responder with another correlation id",
        )),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Mqtt311,
    Mqtt5,
    Stomp,
    Amqp,
}

/// Where requests go and replies come back, in the protocol's own terms.
struct Addresses {
    service: String,
    reply: String,
}

async fn run(ctx: Ctx, via: Via) -> Outcome {
    let (mut requester, mut responder, at) = setup(&ctx, via).await?;
    for n in 1..=REQUESTS {
        let corr = format!("corr-{n:04}");
        let body = format!("question {n}");
        send_request(&mut requester, via, &at, &corr, &body).await?;
        let req = responder
            .expect(
                pat("request-1"),
                &format!("the responder waiting for request {n}"),
            )
            .await?;
        let (reply_to, got_corr) = read_request(via, &req)?;
        check(reply_to == at.reply, "request-1", || {
            format!(
                "request {n} reached the responder saying to reply to {reply_to:?}, not {:?}",
                at.reply
            )
        })?;
        check(got_corr == corr, "request-2", || {
            format!(
                "request {n} reached the responder with correlation id {got_corr:?}, not {corr:?}"
            )
        })?;
        send_reply(&mut responder, via, &reply_to, &got_corr, n).await?;
        let reply = requester
            .expect(
                pat("request-3"),
                &format!("the requester waiting for reply {n}"),
            )
            .await?;
        let (_, reply_corr) = read_request(via, &reply)?;
        check(reply_corr == corr, "request-2", || {
            format!("reply {n} came back with correlation id {reply_corr:?}, not {corr:?}")
        })?;
    }
    ctx.note(format!(
        "{REQUESTS} requests to {}, replies on {}",
        at.service, at.reply
    ));
    requester.close().await;
    responder.close().await;
    Ok(())
}

fn check(ok: bool, id: &'static str, message: impl FnOnce() -> String) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(Failure::fail(pat(id), message()))
    }
}

async fn setup(ctx: &Ctx, via: Via) -> Result<(Client, Client, Addresses), Failure> {
    Ok(match via {
        Via::Mqtt311 | Via::Mqtt5 => {
            let version = if via == Via::Mqtt5 {
                Version::V5
            } else {
                Version::V311
            };
            let (svc, reply) = (Topic::new(ctx, "svc").mqtt(), Topic::new(ctx, "re").mqtt());
            let mut responder = Client::open_mqtt(ctx, version, "resp").await?;
            responder.subscribe_mqtt(&svc).await?;
            let mut requester = Client::open_mqtt(ctx, version, "req").await?;
            requester.subscribe_mqtt(&reply).await?;
            let at = Addresses {
                service: svc,
                reply,
            };
            (requester, responder, at)
        }
        Via::Stomp => {
            let svc = format!("/queue/{}", ctx.unique("svc"));
            let reply = format!("/queue/{}", ctx.unique("re"));
            let mut responder = Client::open(ctx, Proto::Stomp, "resp").await?;
            responder.subscribe_stomp(&svc, "auto", &[]).await?;
            let mut requester = Client::open(ctx, Proto::Stomp, "req").await?;
            requester.subscribe_stomp(&reply, "auto", &[]).await?;
            let at = Addresses {
                service: svc,
                reply,
            };
            (requester, responder, at)
        }
        Via::Amqp => {
            let (svc, reply) = (ctx.unique("svc"), ctx.unique("re"));
            let mut responder = Client::open(ctx, Proto::Amqp, "resp").await?;
            declare_amqp_queue(&mut responder, &svc, FieldTable::new(), pat("request-1")).await?;
            responder.consume(&svc, false).await?;
            let mut requester = Client::open(ctx, Proto::Amqp, "req").await?;
            declare_amqp_queue(&mut requester, &reply, FieldTable::new(), pat("request-3")).await?;
            requester.consume(&reply, false).await?;
            let at = Addresses {
                service: svc,
                reply,
            };
            (requester, responder, at)
        }
    })
}

async fn send_request(c: &mut Client, via: Via, at: &Addresses, corr: &str, body: &str) -> Outcome {
    match via {
        Via::Mqtt311 => {
            let payload = format!("reply-to={};correlation-id={corr};{body}", at.reply);
            c.publish_mqtt(&at.service, payload.as_bytes()).await
        }
        Via::Mqtt5 => {
            let props = [
                Property::ResponseTopic(at.reply.clone()),
                Property::CorrelationData(corr.as_bytes().to_vec()),
            ]
            .into_iter()
            .collect();
            let p = message(&at.service, body.as_bytes(), QoS::AtLeastOnce, None, props);
            c.publish_packet(p).await
        }
        Via::Stomp => {
            let headers = [("reply-to", at.reply.as_str()), ("correlation-id", corr)];
            c.send_stomp(&at.service, body.as_bytes(), &headers).await
        }
        Via::Amqp => {
            let headers = [("reply-to", at.reply.as_str()), ("correlation-id", corr)];
            c.publish_amqp("", &at.service, body.as_bytes(), &headers)
                .await
        }
    }
}

async fn send_reply(c: &mut Client, via: Via, reply_to: &str, corr: &str, n: usize) -> Outcome {
    let body = format!("answer {n}");
    match via {
        Via::Mqtt311 => {
            let payload = format!("correlation-id={corr};{body}");
            c.publish_mqtt(reply_to, payload.as_bytes()).await
        }
        Via::Mqtt5 => {
            let props = [Property::CorrelationData(corr.as_bytes().to_vec())]
                .into_iter()
                .collect();
            let p = message(reply_to, body.as_bytes(), QoS::AtLeastOnce, None, props);
            c.publish_packet(p).await
        }
        Via::Stomp => {
            c.send_stomp(reply_to, body.as_bytes(), &[("correlation-id", corr)])
                .await
        }
        Via::Amqp => {
            c.publish_amqp("", reply_to, body.as_bytes(), &[("correlation-id", corr)])
                .await
        }
    }
}

/// Where a request says to reply (empty for a reply) and its correlation id, as the
/// receiving client saw them.
fn read_request(via: Via, m: &Msg) -> Result<(String, String), Failure> {
    let field = |name: &str| m.header(name).unwrap_or_default().to_owned();
    Ok(match via {
        Via::Mqtt311 => {
            let text = m.text();
            let part = |key: &str| {
                text.split(';')
                    .find_map(|kv| kv.strip_prefix(key))
                    .unwrap_or_default()
                    .to_owned()
            };
            (part("reply-to="), part("correlation-id="))
        }
        Via::Mqtt5 => (field("response-topic"), field("correlation-data")),
        Via::Stomp | Via::Amqp => (field("reply-to"), field("correlation-id")),
    })
}
