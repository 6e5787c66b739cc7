//! The STOMP broker suite: STOMP 1.2 behaviour of a server, judged by hilt as the client,
//! each test citing hilt's statement ids (`suites/spec/stomp-1.2.yaml`) and with a
//! negative control applied by the TCP interposer.
//!
//! Destinations are `/queue/NAME` and `/topic/NAME` (capabilities `stomp.dest.queue`,
//! `stomp.dest.topic`) and RabbitMQ's `/exchange/EXCHANGE/KEY` (`stomp.dest.exchange`),
//! each name unique to the test attempt. A broker that refuses destinations of any other
//! form declares `stomp.dest.only-known-prefixes`. The suite logs in as guest/guest on virtual
//! host `/` ([`session::LOGIN`]); target files configure their brokers so.

pub mod controls;
pub mod session;

mod ack;
mod connect;
mod grammar;
mod heartbeat;
mod messaging;
mod transactions;
mod vectors;

use std::future::Future;
use std::sync::Arc;

use hilt_runner::{Ctx, Outcome, Suite, TestCase, Transport};
use hilt_wire::stomp::{Command, Frame, STOMP_PORT, StompFramer};

pub const SUITE: &str = "stomp";

/// A statement of STOMP 1.2 by the part of its id after `STOMP-1.2-`.
macro_rules! st {
    ($id:literal) => {
        hilt_wire::stomp::spec(concat!("STOMP-1.2-", $id))
    };
}
pub(crate) use st;

/// A test `stomp.<area>.<name>` needing STOMP 1.2 (and `needs`), tagged with its area.
pub(crate) fn tc<F, Fut>(area: &'static str, name: &str, title: &str, body: F) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    TestCase::new(SUITE, format!("stomp.{area}.{name}"), title, body)
        .tags(&[area])
        .needs(&["stomp.v1.2"])
}

/// A queue unique to this test attempt.
pub fn queue(ctx: &Ctx, label: &str) -> String {
    format!("/queue/{}", ctx.unique(label))
}

/// A topic unique to this test attempt.
pub fn topic(ctx: &Ctx, label: &str) -> String {
    format!("/topic/{}", ctx.unique(label))
}

pub fn subscribe(id: &str, destination: &str, ack: &str) -> Frame {
    Frame::new(Command::Subscribe)
        .header("id", id)
        .header("destination", destination)
        .header("ack", ack)
}

/// A text SEND with content-type and content-length, as the specification recommends.
pub fn send(destination: &str, body: &str) -> Frame {
    Frame::new(Command::Send)
        .header("destination", destination)
        .header("content-type", "text/plain")
        .body(body.as_bytes())
        .with_content_length()
}

pub fn suite() -> Suite {
    let mut cases: Vec<TestCase> = Vec::new();
    cases.extend(connect::tests());
    cases.extend(heartbeat::tests());
    cases.extend(grammar::tests());
    cases.extend(messaging::tests());
    cases.extend(ack::tests());
    cases.extend(transactions::tests());
    cases.extend(vectors::tests());
    Suite {
        name: SUITE,
        protocol: "stomp",
        well_known_port: Some(STOMP_PORT),
        transport: Transport::Tcp,
        under_test: hilt_runner::UnderTest::Server,
        framer: Arc::new(|| Box::new(StompFramer::new())),
        cases,
    }
}
