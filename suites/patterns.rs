//! The communication-pattern suite: the patterns IoT systems are built on, checked end
//! to end on a multi-protocol broker, one test per pattern × protocol (× protocol pair
//! for bridging), so a run against several brokers gives a verdict per pattern ×
//! protocol × broker.
//!
//! - publish-subscribe: every subscriber gets each message exactly once, in order;
//! - push-pull (competing consumers): each message reaches exactly one worker, and the
//!   share each worker got is measured (Jain's fairness index) and reported;
//! - request-response: the request carries where to reply and a correlation id, the
//!   reply comes back with the same id;
//! - dead-letter queue: rejected, expired and overflowing messages end there, where the
//!   broker declares it (capabilities `dead-letter.*`);
//! - bridging: a message published in one protocol is received in another with its
//!   payload intact and its headers mapped as the broker documents.
//!
//! Tests use the protocol suites' own clients (MQTT, STOMP, AMQP 0-9-1 sessions); each
//! connects to the services it needs ([`TestCase::over`]) and is skipped on a broker that
//! does not serve one of them. Statements are hilt's own (`suites/spec/patterns.yaml`).

pub mod controls;
pub mod endpoint;

mod bridge;
mod deadletter;
mod pubsub;
mod request;
mod workqueue;

use std::future::Future;
use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, Outcome, Suite, TestCase, Transport};
use hilt_wire::sniff::SniffingFramer;

pub const SUITE: &str = "patterns";
/// The manifest of the suite's statements.
pub const DOC: &str = "patterns";

/// A statement of hilt's pattern manifest.
pub const fn pat(id: &'static str) -> SpecRef {
    SpecRef::new(DOC, id)
}

/// A test `patterns.<pattern>.<variant>` over `services`, tagged with its pattern; the
/// capabilities of the protocols it speaks are added by the caller.
pub(crate) fn tc<F, Fut>(
    pattern: &'static str,
    variant: &str,
    title: &str,
    services: &[&'static str],
    body: F,
) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    TestCase::new(SUITE, format!("patterns.{pattern}.{variant}"), title, body)
        .tags(&[pattern])
        .over(services)
}

pub fn suite() -> Suite {
    let mut cases: Vec<TestCase> = Vec::new();
    cases.extend(pubsub::tests());
    cases.extend(workqueue::tests());
    cases.extend(request::tests());
    cases.extend(deadletter::tests());
    cases.extend(bridge::tests());
    Suite {
        name: SUITE,
        protocol: "mqtt+stomp+amqp",
        under_test: hilt_runner::UnderTest::Server,
        // Each connection gets its own protocol's IANA port in traces.
        well_known_port: None,
        transport: Transport::Tcp,
        framer: Arc::new(|| Box::new(SniffingFramer::new())),
        cases,
    }
}

/// Judges what one receiver got against what was sent, in order: a message missing
/// fails `missing`, one received twice `twice`, and any other difference (order,
/// content) `order`.
pub(crate) fn judge_sequence(
    who: &str,
    sent: &[Vec<u8>],
    got: &[endpoint::Msg],
    missing: SpecRef,
    twice: SpecRef,
    order: SpecRef,
) -> Outcome {
    let show = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
    let bodies: Vec<&[u8]> = got.iter().map(|m| m.body.as_slice()).collect();
    for (i, b) in bodies.iter().enumerate() {
        if bodies[..i].contains(b) {
            return Err(Failure::fail(
                twice,
                format!("{who} received {} twice", show(b)),
            ));
        }
    }
    if let Some(m) = sent.iter().find(|s| !bodies.contains(&s.as_slice())) {
        return Err(Failure::fail(
            missing,
            format!(
                "{who} never received {} (it got {})",
                show(m),
                bodies
                    .iter()
                    .map(|b| show(b))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if bodies.len() != sent.len() || bodies.iter().zip(sent).any(|(g, s)| *g != s.as_slice()) {
        return Err(Failure::fail(
            order,
            format!(
                "{who} received {} where {} were published in that order",
                bodies
                    .iter()
                    .map(|b| show(b))
                    .collect::<Vec<_>>()
                    .join(", "),
                sent.iter().map(|b| show(b)).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(())
}
