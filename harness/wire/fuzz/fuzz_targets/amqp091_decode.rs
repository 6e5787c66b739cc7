//! decode and dissect never panic, the framer agrees with decode on lengths, and
//! whatever decodes re-encodes to bytes that decode and re-encode to the same bytes
//! (compared as bytes: a NaN in a field table is not equal to itself).
#![no_main]

use hilt_wire::Decoded;
use hilt_wire::amqp091::{decode, dissect, frame_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dissect(data);
    let len = frame_len(data);
    if let Ok(Decoded::Done(frame, n)) = decode(data, 0) {
        assert_eq!(len, Ok(Decoded::Done(n, n)));
        let again = frame.to_bytes();
        match decode(&again, 0) {
            Ok(Decoded::Done(back, m)) => {
                assert_eq!(m, again.len());
                assert_eq!(back.to_bytes(), again);
            }
            other => panic!("re-decode failed: {other:?}"),
        }
    }
});
