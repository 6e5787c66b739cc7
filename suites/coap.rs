//! The CoAP server suite: RFC 7252 behaviour of a server, judged by hilt as the client
//! over UDP. Tests named after the ETSI CoAP#4 plugtest descriptions (`td-coap-…`)
//! follow those TDs' steps and checks (CORE in `core`, LINK in `link`); the others
//! check RFC MUSTs with hilt's own ids (`rfc7252`), and a corpus of malformed datagrams
//! kept as data (`vectors`) judges the reaction to each. Each test has a negative
//! control applied by the UDP interposer.

pub mod client;
pub mod controls;

mod block;
mod core;
mod link;
mod observe;
mod rfc7252;
mod vectors;

use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_runner::{Suite, TestCase, Transport};
use hilt_wire::coap::{COAP_PORT, CoapFramer, RFC7252, RFC7641, RFC7959};

pub const SUITE: &str = "coap";

/// A statement of RFC 7252, by hilt's id.
pub const fn rfc(id: &'static str) -> SpecRef {
    SpecRef::new(RFC7252, id)
}

/// A statement of RFC 7641 (Observe), by hilt's id.
pub const fn obs(id: &'static str) -> SpecRef {
    SpecRef::new(RFC7641, id)
}

/// A statement of RFC 7959 (block-wise transfers), by hilt's id.
pub const fn blk(id: &'static str) -> SpecRef {
    SpecRef::new(RFC7959, id)
}

/// A plugtest test description, by its id.
pub const fn td(id: &'static str) -> SpecRef {
    SpecRef::new("coap-td", id)
}

pub fn suite() -> Suite {
    let mut cases: Vec<TestCase> = Vec::new();
    cases.extend(core::tests());
    cases.extend(link::tests());
    cases.extend(rfc7252::tests());
    cases.extend(vectors::tests());
    cases.extend(block::tests());
    cases.extend(observe::tests());
    Suite {
        name: SUITE,
        protocol: "coap",
        under_test: hilt_runner::UnderTest::Server,
        well_known_port: Some(COAP_PORT),
        transport: Transport::Udp,
        framer: Arc::new(|| Box::new(CoapFramer::new())),
        cases,
    }
}
