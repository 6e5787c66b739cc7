//! hilt's benchmark engine: open-loop load, HdrHistogram recording, resource sampling.
//!
//! A [`Workload`] (YAML in `suites/bench/`) says who publishes to whom, how fast, for how
//! long. [`engine::run_rate`] runs it at one rate against one endpoint: publishers send
//! each message at its intended time ([`schedule`]) whatever the target does, every
//! payload carries a [`header`] (run, publisher, sequence, actual send time; the
//! intended time follows from the sequence number), and subscribers record latency from the intended time (coordinated-omission
//! corrected) and from the actual send time (raw) into [`hist`]ograms, and count loss,
//! duplicates and reordering ([`seq`]). The results follow the `hilt.bench/1` schema of
//! [`hilt_core::bench`].

pub mod amqp;
pub mod coap;
pub mod cpu;
pub mod efficiency;
pub mod engine;
pub mod header;
pub mod hist;
pub mod mqtt;
pub mod protocol;
pub mod publish;
pub mod schedule;
pub mod search;
pub mod seq;
pub mod stomp;
pub mod workload;

pub use engine::{Progress, RateConfig, RateOutcome, TargetControl, run_rate};
pub use workload::Workload;
