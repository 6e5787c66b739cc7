//! Arbitrary frames from a few neighbours, interleaved with time passing, at a router
//! and at a root: neither panics, and everything they send parses.
#![no_main]

use hilt_core::Instant;
use hilt_wire::rpl::{Datagram, Mop, Node, NodeConfig, RootConfig, link_local};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut nodes = [
        Node::new(NodeConfig::new(2, 2)),
        Node::root(NodeConfig::new(1, 1), RootConfig::new(Mop::NonStoring)),
    ];
    let mut now = Instant::ZERO;
    for n in &mut nodes {
        n.start(now);
    }
    // Each record: [neighbour, time step in ms, length, frame...].
    let mut rest = data;
    while let [who, step, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (frame, next) = tail.split_at(len);
        rest = next;
        now = now + std::time::Duration::from_millis(u64::from(*step) * 37);
        for n in &mut nodes {
            n.handle_input(now, link_local(u64::from(*who % 4) + 3), frame);
            n.handle_timeout(now);
            while let Some(t) = n.poll_transmit() {
                assert!(Datagram::parse(&t.bytes).is_ok(), "sent an unparsable frame");
            }
            while n.poll_event().is_some() {}
        }
    }
});
