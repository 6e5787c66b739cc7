//! The AMQP 1.0 broker suite: protocol headers and SASL, connections, sessions, links,
//! credit and drain, settlement modes and outcomes, redelivery, message sections, a
//! type-encoding matrix through the broker and malformed frames, judged by hilt's own
//! codec and connection core as the client. Each test has a negative control applied by
//! the TCP interposer.

pub mod controls;
pub mod session;

mod cases;
mod malformed;
mod matrix;

use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_runner::{Suite, TestCase, Transport};
use hilt_wire::amqp10::{AMQP_PORT, Amqp10Framer, DOC};

pub const SUITE: &str = "amqp10";
/// What a target declares to get these tests.
pub const CAP: &str = "amqp.1.0";

/// A statement of hilt's AMQP 1.0 manifest.
pub const fn rule(id: &'static str) -> SpecRef {
    SpecRef::new(DOC, id)
}

pub fn suite() -> Suite {
    let mut cases: Vec<TestCase> = cases::tests();
    cases.extend(matrix::tests());
    cases.extend(malformed::tests());
    Suite {
        name: SUITE,
        // Served on the AMQP port beside 0-9-1 (`serves: amqp` in a target file).
        protocol: "amqp",
        under_test: hilt_runner::UnderTest::Server,
        well_known_port: Some(AMQP_PORT),
        transport: Transport::Tcp,
        framer: Arc::new(|| Box::new(Amqp10Framer::new())),
        cases,
    }
}
