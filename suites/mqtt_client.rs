//! The MQTT client suite: MQTT 3.1.1 and 5.0 behaviour of a client (a device under
//! test), judged by hilt as the broker.
//!
//! The target is a device file (`targets/devices/*.yaml`) whose commands make the
//! client act. Each test runs hilt's own scripted broker (`mqtt_client/server.rs`), puts the
//! interposer between it and the client (recording both legs, applying the negative
//! control's mutations of the client's traffic), starts one command against the
//! interposer's address, and judges what reached the broker — and how the client
//! copes when the broker misbehaves on purpose: a refused or odd CONNACK, withheld
//! acknowledgements, small limits, malformed or unexpected packets, a DISCONNECT, a
//! dropped connection.
//!
//! The stimuli a device file may give; every command may use every placeholder:
//!
//! | stimulus          | what the client does |
//! |-------------------|----------------------|
//! | `connect`         | connects and stays connected (subscribed to `{topic}` if it subscribes at all) |
//! | `subscribe`       | subscribes to `{topic}` at `{qos}`, prints each message's payload on a line, exits after `{count}` messages |
//! | `unsubscribe`     | subscribes to `{topic}`, then unsubscribes from it |
//! | `publish`         | publishes `{payload}` to `{topic}` at `{qos}`, `{count}` times, then disconnects |
//! | `publish-session` | as `publish`, in a session that outlives the connection (Clean Session 0, or a Session Expiry Interval in 5.0), client id `{client_id}` |
//!
//! Placeholders: `{host}` `{port}` (the interposer), `{topic}`, `{qos}`, `{count}`,
//! `{payload}`, `{client_id}`, `{keepalive}` (seconds), `{version}` (`311` or `5`, as
//! mosquitto's clients spell it), `{level}` (4 or 5, the CONNECT protocol level) and
//! `{wait_s}` (seconds the test may last). `hilt certify --device-cmd` makes its one
//! command the `connect` stimulus; tests that need another are skipped.

mod bench;
mod connect;
mod controls;
mod deliver;
mod faults;
mod publish;
mod server;
mod v5;

use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Suite, TestCase, Transport, UnderTest};
use hilt_wire::mqtt::{MqttFramer, Version};

use crate::mqtt::MQTT_PORT;
pub use crate::mqtt::{VERSIONS, spec, tag, v5, v311};

pub const SUITE: &str = "mqtt-client";

/// A test of `version`: id `mqtt-client.<v5|v311>.<id>`, needing the device to speak it.
fn tc<F, Fut>(version: Version, id: &str, title: &str, body: F) -> TestCase
where
    F: Fn(Ctx, Version) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hilt_runner::Outcome> + Send + 'static,
{
    TestCase::new(
        SUITE,
        format!("{SUITE}.{}.{id}", tag(version)),
        title,
        move |ctx| body(ctx, version),
    )
    .needs(&[crate::mqtt::cap(version)])
}

/// The statements `v5_ids` in a 5.0 test, `v311_ids` in a 3.1.1 one.
fn specs(version: Version, v5_ids: &[&'static str], v311_ids: &[&'static str]) -> Vec<SpecRef> {
    match version {
        Version::V5 => v5_ids.iter().map(|id| v5(id)).collect(),
        Version::V311 => v311_ids.iter().map(|id| v311(id)).collect(),
    }
}

pub fn suite() -> Suite {
    let mut cases: Vec<TestCase> = Vec::new();
    for version in VERSIONS {
        cases.extend(connect::tests(version));
        cases.extend(publish::tests(version));
        cases.extend(deliver::tests(version));
        cases.extend(faults::tests(version));
    }
    cases.extend(v5::tests());
    Suite {
        name: SUITE,
        protocol: "mqtt",
        under_test: UnderTest::Client,
        well_known_port: Some(MQTT_PORT),
        transport: Transport::Tcp,
        framer: Arc::new(|| Box::new(MqttFramer::new())),
        cases,
    }
}
