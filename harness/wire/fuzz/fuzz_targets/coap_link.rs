//! The link-format parser never panics, and what it accepts prints back to a payload
//! that parses equal.
#![no_main]

use hilt_wire::coap::{Filter, parse_links};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(links) = parse_links(data) {
        let printed: Vec<String> = links.iter().map(ToString::to_string).collect();
        assert_eq!(parse_links(printed.join(",").as_bytes()), Ok(links.clone()));
        let _ = Filter::new("rt", "a*").select(&links);
    }
});
