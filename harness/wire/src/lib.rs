//! Protocol codecs and sans-IO protocol cores.
//!
//! This crate never touches sockets, threads, the clock or an async runtime: bytes and
//! time come in as arguments, bytes and events go out as values. The same code therefore
//! runs over TCP, over a serial line, inside the simulator, under a fuzzer, and in unit
//! tests with a fake clock.

pub mod amqp091;
pub mod amqp10;
pub mod coap;
pub mod framing;
pub mod mqtt;
pub mod rpl;
pub mod slip;
pub mod sniff;
pub mod stomp;

pub use framing::{Decoded, FrameMeta, Framer, FramerFactory};

/// IANA's port for a protocol by the name target files serve it under (`mqtt`, `stomp`,
/// `amqp`, `coap`), written into traces so Wireshark dissects each stream.
pub fn well_known_port(protocol: &str) -> Option<u16> {
    match protocol {
        "mqtt" => Some(mqtt::MQTT_PORT),
        "stomp" => Some(stomp::STOMP_PORT),
        "amqp" => Some(amqp091::AMQP_PORT),
        "coap" => Some(coap::COAP_PORT),
        _ => None,
    }
}
