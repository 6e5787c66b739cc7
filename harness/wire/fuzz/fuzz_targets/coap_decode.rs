//! No decoding entry point panics, and whatever parses re-encodes to bytes that parse
//! equal.
#![no_main]

use hilt_wire::Framer;
use hilt_wire::coap::{CoapFramer, Message, Packet, dissect, option_problems};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Packet::new_unchecked(data);
    let _ = (
        p.version(),
        p.code(),
        p.message_id(),
        p.token(),
        p.payload(),
    );
    let _ = p.options().count();
    let _ = option_problems(data);
    let _ = dissect(data);
    let _ = CoapFramer::new().describe(data);
    if let Ok(m) = Message::parse(data) {
        let again = m.to_bytes();
        assert_eq!(again.len(), m.buffer_len());
        assert_eq!(Message::parse(&again), Ok(m));
    }
});
