//! hilt's integration tests: the `hilt` binary against real peers started by hilt.
//!
//! One test binary (so the peers' start-up and the build are shared), one module per
//! area.

mod amqp091;
mod amqp10;
mod bench;
mod cli;
mod coap;
mod coap_client;
mod coap_codec;
mod faults;
mod hil;
mod mqtt_brokers;
mod mqtt_client;
mod patterns;
mod rig;
mod rpl;
mod rpl_live;
mod stomp;
mod support;
