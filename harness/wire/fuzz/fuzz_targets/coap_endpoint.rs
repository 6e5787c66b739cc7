//! Arbitrary datagrams from a few peers, interleaved with time passing, requests and
//! answers: the CoAP endpoint never panics, whatever it sends parses, and NSTART holds.
#![no_main]

#[path = "../../tests/support/coap_endpoint_drive.rs"]
mod drive;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| drive::drive(data));
