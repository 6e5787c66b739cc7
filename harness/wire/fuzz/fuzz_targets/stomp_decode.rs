//! No decoding entry point panics; the framer always makes progress; whatever `decode`
//! accepts as a frame of a known command re-encodes to `encoded_len` bytes that decode
//! to the same frame.
#![no_main]

use hilt_wire::stomp::{Command, Item, StompFramer, decode, dissect, frame_len};
use hilt_wire::{Decoded, Framer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut framer = StompFramer::new();
    let mut at = 0;
    while at < data.len() {
        match framer.frame_len(&data[at..]) {
            Ok(Decoded::Done(n, _)) => {
                assert!(n > 0 && at + n <= data.len());
                let _ = framer.describe(&data[at..at + n]);
                let _ = dissect(&data[at..at + n]);
                at += n;
            }
            _ => break,
        }
    }
    let _ = frame_len(data);
    if let Ok(Decoded::Done(Item::Frame(f), _)) = decode(data)
        && !matches!(f.command, Command::Unknown(_))
    {
        let again = f.to_bytes();
        assert_eq!(again.len(), f.encoded_len());
        assert_eq!(decode(&again), Ok(Decoded::Done(Item::Frame(f), again.len())));
    }
});
