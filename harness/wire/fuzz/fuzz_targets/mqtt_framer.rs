//! The framer splits any byte stream without panicking and always makes progress.
#![no_main]

use hilt_wire::mqtt::MqttFramer;
use hilt_wire::{Decoded, Framer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut client_side = MqttFramer::new();
    let mut server_side = MqttFramer::new();
    let mut rest = data;
    let mut turn = false;
    while let Ok(Decoded::Done(len, _)) = client_side.frame_len(rest) {
        assert!(len >= 2, "an MQTT frame is at least two bytes");
        let Some(frame) = rest.get(..len) else { break };
        let meta = client_side.describe(frame);
        assert!(!meta.summary.is_empty());
        server_side.observe_peer(frame);
        rest = &rest[len..];
        turn = !turn;
        if turn {
            std::mem::swap(&mut client_side, &mut server_side);
        }
    }
});
