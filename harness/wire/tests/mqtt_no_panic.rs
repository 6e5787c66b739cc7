//! The no-panic property, exercised on every CI run without a fuzzer: thousands of
//! pseudo-random and mutated frames through every decoding entry point.

#[path = "support/mutate.rs"]
mod mutate;

use hilt_wire::mqtt::{
    MqttFramer, Packet, PublishView, Version, decode, dissect, frame_len, frame_len_for,
};
use hilt_wire::{Decoded, Framer};
use mutate::{EDGES, Rng, as_is, check_mutants};

fn exercise(bytes: &[u8]) {
    for version in [Version::V311, Version::V5] {
        let _ = frame_len(bytes);
        let _ = frame_len_for(bytes, version);
        let _ = PublishView::parse(bytes, version).map(|d| {
            if let Decoded::Done(Some(v), _) = d {
                let _ = (v.topic(), v.payload(), v.properties().count(), v.to_owned());
            }
        });
        let _ = dissect(bytes, version);
        if let Ok(Decoded::Done(p, n)) = decode(bytes, version) {
            // What decodes must re-encode to something that decodes to the same packet.
            let again = p.to_bytes(version);
            let redecoded = decode(&again, version);
            let connect_level_may_differ = matches!(p, Packet::Connect(_));
            if !connect_level_may_differ {
                assert_eq!(
                    redecoded,
                    Ok(Decoded::Done(p.clone(), again.len())),
                    "{bytes:02x?}"
                );
            }
            assert!(n <= bytes.len());
        }
        let mut framer = MqttFramer::with_version(version);
        let mut rest = bytes;
        while let Ok(Decoded::Done(n, _)) = framer.frame_len(rest) {
            let Some(frame) = rest.get(..n) else { break };
            let _ = framer.describe(frame);
            framer.observe_peer(frame);
            rest = &rest[n..];
            if n == 0 {
                break;
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..4000 {
        let len = rng.below(64);
        let mut bytes = rng.bytes(len);
        // Give most inputs a plausible header so the body parsers get exercised too.
        if len >= 2 && rng.below(4) != 0 {
            bytes[1] = (len - 2).min(127) as u8;
        }
        exercise(&bytes);
    }
}

#[test]
fn mutated_valid_frames_never_panic() {
    let seeds: Vec<Vec<u8>> = vec![
        vec![
            0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 5, 0xc6, 0, 60, 0, 0, 1, b'c', 0, 0,
        ],
        vec![0x32, 12, 0, 3, b'a', b'/', b'b', 0, 7, 3, 0x23, 0, 9, b'x'],
        vec![0x82, 9, 0, 1, 2, 0x0b, 7, 0, 1, b'a', 0x2e],
        vec![0x20, 8, 0, 0, 5, 0x21, 0, 10, 0x24, 1],
        vec![0x90, 5, 0, 10, 0, 0x01, 0xa2],
        vec![0xe0, 7, 0x04, 5, 0x11, 0, 0, 0, 9],
        vec![0xf0, 9, 0x18, 7, 0x15, 0, 4, b'S', b'C', b'R', b'M'],
    ];
    let mut rng = Rng::new(42);
    check_mutants(&mut rng, &seeds, 600, EDGES, as_is, exercise);
}
