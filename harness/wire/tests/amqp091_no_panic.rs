//! The no-panic property of the AMQP 0-9-1 codec, exercised on every CI run without a
//! fuzzer: pseudo-random and mutated frames through every decoding entry point.

#[path = "support/mutate.rs"]
mod mutate;

use hilt_wire::amqp091::{
    Amqp091Framer, Client, ClientConfig, FieldTable, FieldValue, Frame, Method, MethodId,
    Properties, content_frames, decode, dissect, frame_len,
};
use hilt_wire::{Decoded, Framer};
use mutate::{EDGES, Rng, check_mutants};

fn exercise(bytes: &[u8]) {
    let _ = dissect(bytes);
    let len = frame_len(bytes);
    if let Ok(Decoded::Done(f, n)) = decode(bytes, 0) {
        assert_eq!(len, Ok(Decoded::Done(n, n)));
        let again = f.to_bytes();
        match decode(&again, 0) {
            Ok(Decoded::Done(back, m)) => {
                assert_eq!(m, again.len());
                assert_eq!(back.to_bytes(), again, "{bytes:02x?}");
            }
            other => panic!("{bytes:02x?} re-decodes as {other:?}"),
        }
    }
    let mut framer = Amqp091Framer::new();
    let mut rest = bytes;
    while let Ok(Decoded::Done(n, _)) = framer.frame_len(rest) {
        let Some(frame) = rest.get(..n) else { break };
        let _ = framer.describe(frame);
        rest = &rest[n..];
    }
    let mut client = Client::new(ClientConfig::default());
    client.start(hilt_core::Instant::ZERO);
    client.handle_input(hilt_core::Instant::ZERO, bytes);
    while client.poll_event().is_some() {}
}

fn seeds() -> Vec<Vec<u8>> {
    let table = FieldTable::new()
        .with(
            "a",
            FieldValue::Array(vec![FieldValue::I64(-1), "s".into()]),
        )
        .with("d", FieldValue::Decimal { scale: 1, value: 5 })
        .with(
            "t",
            FieldValue::Table(FieldTable::new().with("x", FieldValue::Bytes(vec![1]))),
        );
    let mut v: Vec<Vec<u8>> = hilt_wire::amqp091::spec::METHODS
        .iter()
        .map(|s| Frame::method(u16::from(s.class_id != 10), Method::new(s.id())).to_bytes())
        .collect();
    v.push(
        Frame::method(
            0,
            Method::new(MethodId::CONNECTION_START).with("server-properties", table.clone()),
        )
        .to_bytes(),
    );
    let props = Properties::new()
        .with("headers", table)
        .with("priority", 3u8);
    let publish = Method::new(MethodId::BASIC_PUBLISH).with("routing-key", "k");
    v.extend(
        content_frames(1, publish, props, b"body", 0)
            .iter()
            .map(Frame::to_bytes),
    );
    v.push(Frame::heartbeat().to_bytes());
    v
}

#[test]
fn mutated_frames_never_panic() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    check_mutants(&mut rng, &seeds(), 300, EDGES, keep_size_in_step, exercise);
}

/// Keeps most mutants' size field in step with the payload, so the damage reaches the
/// payload's parser.
fn keep_size_in_step(rng: &mut Rng, b: &mut [u8]) {
    if b.len() > 7 && rng.below(4) != 0 {
        let size = (b.len() - 8) as u32;
        b[3..7].copy_from_slice(&size.to_be_bytes());
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(7);
    for _ in 0..3000 {
        let len = rng.below(64);
        exercise(&rng.bytes(len));
    }
}
