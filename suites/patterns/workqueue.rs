//! Push-pull (competing consumers): three workers take messages from one queue (an MQTT
//! shared subscription, a STOMP `/queue/`, an AMQP queue); each message reaches exactly
//! one of them. How evenly the broker shares the work is measured and reported: the
//! count per worker and Jain's fairness index (1 when all got the same, 1/n when one
//! got everything).

use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::amqp091::FieldTable;

use super::controls::{duplicate_nth_to_client, patch_to_client};
use super::endpoint::{Client, Got, Proto, Topic, declare_amqp_queue};
use super::{pat, tc};

const WORKERS: usize = 3;
const MESSAGES: usize = 12;

pub fn tests() -> Vec<TestCase> {
    Proto::ALL
        .into_iter()
        .map(|p| {
            let (control, needs): (_, &[&'static str]) = match p {
                Proto::Mqtt => (
                    duplicate_nth_to_client(
                        "PUBLISH",
                        2,
                        "each worker gets its second message twice",
                    ),
                    &["mqtt.v3.1.1", "mqtt.shared-subscriptions"],
                ),
                Proto::Stomp => (
                    duplicate_nth_to_client(
                        "MESSAGE",
                        2,
                        "each worker gets its second message twice",
                    ),
                    &["stomp.v1.2", "stomp.dest.queue"],
                ),
                Proto::Amqp => (
                    patch_to_client(
                        b"wq#05",
                        b"wq#04",
                        "the fifth message reaches its worker as a copy of the fourth",
                    ),
                    &["amqp.0-9-1"],
                ),
            };
            tc(
                "workqueue",
                p.tag(),
                &format!(
                    "{}: each of {MESSAGES} messages on a queue reaches exactly one of {WORKERS} competing workers; the share per worker is reported",
                    p.name()
                ),
                &[p.service()],
                move |ctx| run(ctx, p),
            )
            .needs(needs)
            .covers(&[pat("workqueue-1"), pat("workqueue-2"), pat("workqueue-3")])
            .control(control)
        })
        .collect()
}

async fn run(ctx: Ctx, p: Proto) -> hilt_runner::Outcome {
    let name = ctx.unique("wq");
    let topic = Topic::new(&ctx, "wq");
    let mut producer = Client::open(&ctx, p, "prod").await?;
    if p == Proto::Amqp {
        declare_amqp_queue(&mut producer, &name, FieldTable::new(), pat("workqueue-1")).await?;
    }
    let mut workers = Vec::new();
    for i in 0..WORKERS {
        let mut c = Client::open(&ctx, p, &format!("w{i}")).await?;
        match p {
            Proto::Mqtt => {
                c.subscribe_mqtt(&format!("$share/{name}/{}", topic.mqtt()))
                    .await?
            }
            Proto::Stomp => {
                c.subscribe_stomp(&format!("/queue/{name}"), "auto", &[])
                    .await?
            }
            Proto::Amqp => c.consume(&name, false).await?,
        }
        workers.push(c);
    }
    let sent: Vec<Vec<u8>> = (1..=MESSAGES)
        .map(|i| format!("wq#{i:02}").into_bytes())
        .collect();
    for m in &sent {
        match p {
            Proto::Mqtt => producer.publish_mqtt(&topic.mqtt(), m).await?,
            Proto::Stomp => {
                producer
                    .send_stomp(&format!("/queue/{name}"), m, &[])
                    .await?
            }
            Proto::Amqp => producer.publish_amqp("", &name, m, &[]).await?,
        }
    }
    // Each worker reads until the broker has been silent towards it for the response
    // deadline: a message given to two workers shows up in both.
    let mut reading = tokio::task::JoinSet::new();
    for (i, mut w) in workers.into_iter().enumerate() {
        reading.spawn(async move {
            let mut got = Vec::new();
            loop {
                let within = w.response();
                match w.next(within).await {
                    Ok(Got::Msg(m)) => got.push(m.body),
                    Ok(Got::Silent) => break,
                    Ok(Got::Ended(why)) => {
                        return Err(Failure::fail(
                            pat("workqueue-2"),
                            format!("worker {}: {why}", i + 1),
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
            w.close().await;
            Ok::<_, Failure>((i, got))
        });
    }
    let mut per_worker = vec![Vec::new(); WORKERS];
    while let Some(joined) = reading.join_next().await {
        let (i, got) =
            joined.map_err(|e| Failure::error(format!("a worker's reader ended: {e}")))??;
        per_worker[i] = got;
    }
    producer.close().await;

    let show = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
    for m in &sent {
        let takers: Vec<usize> = per_worker
            .iter()
            .enumerate()
            .flat_map(|(i, got)| got.iter().filter(|g| *g == m).map(move |_| i + 1))
            .collect();
        match takers.len() {
            1 => {}
            0 => {
                return Err(Failure::fail(
                    pat("workqueue-2"),
                    format!("no worker received {}", show(m)),
                ));
            }
            _ => {
                return Err(Failure::fail(
                    pat("workqueue-1"),
                    format!(
                        "{} was delivered {} times (to workers {takers:?})",
                        show(m),
                        takers.len()
                    ),
                ));
            }
        }
    }
    let counts: Vec<usize> = per_worker.iter().map(Vec::len).collect();
    if let Some(extra) = per_worker.iter().flatten().find(|g| !sent.contains(g)) {
        return Err(Failure::fail(
            pat("workqueue-1"),
            format!("a worker received {}, which was never sent", show(extra)),
        ));
    }
    ctx.note(format!(
        "{} per worker {}, Jain's fairness index {:.3}",
        p.name(),
        counts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        jain(&counts)
    ));
    Ok(())
}

/// Jain's fairness index of `counts`: (Σx)² / (n·Σx²).
pub fn jain(counts: &[usize]) -> f64 {
    let sum: f64 = counts.iter().map(|&c| c as f64).sum();
    let squares: f64 = counts.iter().map(|&c| (c as f64).powi(2)).sum();
    if squares == 0.0 {
        return 0.0;
    }
    sum * sum / (counts.len() as f64 * squares)
}

#[cfg(test)]
mod test {
    use super::jain;

    #[test]
    fn jain_is_one_for_an_even_share_and_one_over_n_for_a_monopoly() {
        assert!((jain(&[4, 4, 4]) - 1.0).abs() < 1e-9);
        assert!((jain(&[12, 0, 0]) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(jain(&[0, 0]), 0.0);
    }
}
