//! decode never panics, and whatever decodes re-encodes to bytes that decode equal.
#![no_main]

use hilt_wire::Decoded;
use hilt_wire::mqtt::{Packet, PublishView, Version, decode, dissect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for version in [Version::V311, Version::V5] {
        let _ = dissect(data, version);
        if let Ok(Decoded::Done(Some(view), _)) = PublishView::parse(data, version) {
            let _ = (view.topic(), view.payload(), view.properties().count());
        }
        if let Ok(Decoded::Done(packet, _)) = decode(data, version) {
            // CONNECT carries its own version: re-encode it as the one it declared.
            let emit_as = match &packet {
                Packet::Connect(_) => hilt_wire::mqtt::connect_version(data).unwrap_or(version),
                _ => version,
            };
            let again = packet.to_bytes(emit_as);
            assert_eq!(again.len(), packet.encoded_len(emit_as));
            match decode(&again, emit_as) {
                Ok(Decoded::Done(back, n)) => {
                    assert_eq!(n, again.len());
                    assert_eq!(back, packet);
                }
                other => panic!("re-decode failed: {other:?}"),
            }
        }
    }
});
