//! The AMQP 1.0 codec, dissector, framers and connection core never panic; what decodes
//! re-encodes to octets that decode the same (see tests/support/amqp10_exercise.rs).
#![no_main]

#[path = "../../tests/support/amqp10_exercise.rs"]
mod exercise;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| exercise::exercise(data));
