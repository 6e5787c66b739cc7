//! The AMQP 0-9-1 broker suite: the rules of the 0-9-1 specification (one test per rule
//! the XML gives a scenario, where hilt has one yet), frame grammar, heartbeats and reply
//! codes, judged by hilt as the client. Each test has a negative control applied by the
//! TCP interposer.

pub mod controls;
pub mod session;

mod cases;
pub mod vectors;

use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_runner::{Suite, TestCase, Transport};
use hilt_wire::amqp10::AmqpFramer;
use hilt_wire::amqp091::{AMQP_PORT, DOC};

pub const SUITE: &str = "amqp091";
/// What a target declares to get these tests.
pub const CAP: &str = "amqp.0-9-1";

/// A statement of hilt's AMQP 0-9-1 manifest.
pub const fn rule(id: &'static str) -> SpecRef {
    SpecRef::new(DOC, id)
}

pub fn suite() -> Suite {
    let mut cases: Vec<TestCase> = cases::tests();
    cases.extend(vectors::tests());
    Suite {
        name: SUITE,
        protocol: "amqp",
        under_test: hilt_runner::UnderTest::Server,
        well_known_port: Some(AMQP_PORT),
        transport: Transport::Tcp,
        // 0-9-1 and 1.0 share the port: the protocol header tells which one a
        // connection speaks.
        framer: Arc::new(|| Box::new(AmqpFramer::new())),
        cases,
    }
}
