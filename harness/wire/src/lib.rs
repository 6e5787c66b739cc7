//! Protocol codecs and sans-IO protocol cores.
//!
//! This crate never touches sockets, threads, the clock or an async runtime: bytes and
//! time come in as arguments, bytes and events go out as values. The same code therefore
//! runs over TCP, over a serial line, inside the simulator, under a fuzzer, and in unit
//! tests with a fake clock.

pub mod amqp091;
pub mod coap;
pub mod framing;
pub mod mqtt;
pub mod rpl;
pub mod stomp;

pub use framing::{Decoded, FrameMeta, Framer, FramerFactory};
