//! The CoAP client suite: RFC 7252 (with Observe and block-wise transfers) behaviour of
//! a client, judged by hilt as the server.
//!
//! The target is a device file (`targets/devices/*.yaml`) whose commands make the
//! client act; each test runs hilt's own server (the sans-IO endpoint of
//! [`hilt_wire::coap`]), puts the UDP interposer between it and the client with the
//! test's faults (and, in a control run, the control's), starts one command against
//! the interposer's address, and judges what reached the server. The interposer records
//! both legs: the report shows what the client sent and what hilt received.
//!
//! The stimuli a device file may give, with the placeholders each command may use
//! besides `{host}` and `{port}`:
//!
//! | stimulus     | placeholders                          | what the client does |
//! |--------------|---------------------------------------|----------------------|
//! | `get`        | `{path}` `{wait_s}`                   | one Confirmable GET, printing the payload |
//! | `get-repeat` | `{path}` `{count}` `{wait_s}`         | `count` GETs one after another |
//! | `get-accept` | `{path}` `{accept}` `{wait_s}`        | a GET with Accept `accept` |
//! | `put`        | `{path}` `{format}` `{payload}` `{wait_s}` | a PUT of `payload` as Content-Format `format` |
//! | `observe`    | `{path}` `{seconds}` `{wait_s}`       | observes for `seconds`, then stops observing |
//!
//! `{wait_s}` is how long the client may wait in all (its own give-up time); hilt
//! kills it at the test's deadline anyway.

mod bench;
mod content;
mod exchange;
mod server;

/// How a device's command ended, for failure messages (the MQTT client suite says it the same way).
pub(crate) use bench::{ended, secs};

use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Suite, TestCase, Transport, UnderTest};
use hilt_wire::coap::{COAP_PORT, CoapFramer, RFC7252, RFC7641, RFC7959};

pub const SUITE: &str = "coap-client";

/// A statement of RFC 7252, by hilt's id.
pub const fn rfc(id: &'static str) -> SpecRef {
    SpecRef::new(RFC7252, id)
}

/// A statement of RFC 7641 (Observe).
pub const fn observe(id: &'static str) -> SpecRef {
    SpecRef::new(RFC7641, id)
}

/// A statement of RFC 7959 (block-wise transfers).
pub const fn block(id: &'static str) -> SpecRef {
    SpecRef::new(RFC7959, id)
}

fn tc<F, Fut>(id: &str, title: &str, body: F) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hilt_runner::Outcome> + Send + 'static,
{
    TestCase::new(SUITE, format!("{SUITE}.{id}"), title, body)
}

pub fn suite() -> Suite {
    let mut cases: Vec<TestCase> = Vec::new();
    cases.extend(exchange::tests());
    cases.extend(content::tests());
    Suite {
        name: SUITE,
        protocol: "coap",
        under_test: UnderTest::Client,
        well_known_port: Some(COAP_PORT),
        transport: Transport::Udp,
        framer: Arc::new(|| Box::new(CoapFramer::new())),
        cases,
    }
}
