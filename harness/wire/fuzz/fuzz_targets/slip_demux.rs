//! Arbitrary line bytes, split at arbitrary points: the demultiplexer never panics, no
//! frame exceeds its limit, and every frame it hands out encodes back to bytes that
//! decode to the same frame.
#![no_main]

use hilt_wire::slip::{SlipDemux, SlipEvent, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, line)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(line.len());
    let mut d = SlipDemux::new(64);
    d.handle_input(&line[..cut]);
    d.handle_input(&line[cut..]);
    while let Some(e) = d.poll_event() {
        if let SlipEvent::Frame(f) = e {
            assert!(f.len() <= 64);
            let mut again = SlipDemux::new(64);
            again.handle_input(&encode(&f));
            assert_eq!(again.poll_event(), Some(SlipEvent::Frame(f)));
        }
    }
});
