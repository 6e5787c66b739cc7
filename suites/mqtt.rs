//! The MQTT broker suite: MQTT 3.1.1 and 5.0 behaviour of a server, judged by hilt as
//! the client(s), each test with the statements it checks and a negative control.

pub mod controls;
pub mod packets;
pub mod session;

mod connect;
mod keepalive;
mod pubsub;
mod qos;
mod retain;
mod session_state;
mod subscribe;
mod topics;
pub(crate) mod v5_features;
mod v5_limits;
mod v5_messages;
mod v5_subscriptions;
mod vectors;
mod will;

use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_runner::{Suite, TestCase};
use hilt_wire::mqtt::{MqttFramer, Version};

pub const SUITE: &str = "mqtt";
pub use hilt_wire::mqtt::MQTT_PORT;

/// A statement of MQTT 5.0.
pub const fn v5(id: &'static str) -> SpecRef {
    SpecRef::new("mqtt-v5", id)
}

/// A statement of MQTT 3.1.1.
pub const fn v311(id: &'static str) -> SpecRef {
    SpecRef::new("mqtt-v3.1.1", id)
}

/// Both versions, in the order tests are registered.
pub const VERSIONS: [Version; 2] = [Version::V5, Version::V311];

/// `v5` or `v311`, the version part of a test id.
pub fn tag(version: Version) -> &'static str {
    match version {
        Version::V5 => "v5",
        Version::V311 => "v311",
    }
}

/// The capability every test of `version` needs.
pub fn cap(version: Version) -> &'static str {
    match version {
        Version::V5 => "mqtt.v5",
        Version::V311 => "mqtt.v3.1.1",
    }
}

/// The statement `v5_id` in a 5.0 test, `v311_id` in a 3.1.1 one: the two documents
/// number the same requirement differently, so each test cites its own.
pub fn spec(version: Version, v5_id: &'static str, v311_id: &'static str) -> SpecRef {
    match version {
        Version::V5 => v5(v5_id),
        Version::V311 => v311(v311_id),
    }
}

pub fn suite() -> Suite {
    let mut cases: Vec<TestCase> = Vec::new();
    cases.extend(connect::tests());
    cases.extend(keepalive::tests());
    cases.extend(session_state::tests());
    cases.extend(pubsub::tests());
    cases.extend(qos::tests());
    cases.extend(retain::tests());
    cases.extend(subscribe::tests());
    cases.extend(topics::tests());
    cases.extend(will::tests());
    cases.extend(v5_features::tests());
    cases.extend(vectors::tests());
    Suite {
        name: SUITE,
        protocol: "mqtt",
        under_test: hilt_runner::UnderTest::Server,
        well_known_port: Some(MQTT_PORT),
        transport: hilt_runner::Transport::Tcp,
        framer: Arc::new(|| Box::new(MqttFramer::new())),
        cases,
    }
}
