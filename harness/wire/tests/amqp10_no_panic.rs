//! The `amqp10_decode` fuzz target's property on every CI run, without a fuzzer:
//! pseudo-random and mutated frames, values and messages through every decoding entry
//! point.

#[path = "support/amqp10_exercise.rs"]
mod exercise;

use hilt_wire::amqp10::{
    Array, Composite, Frame, Message, MessageBody, ProtocolHeader, Value, code, split_transfer,
};

/// xorshift64*: deterministic, no crate needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = hilt_wire::amqp10::COMPOSITES
        .iter()
        .map(|s| Frame::amqp(1, Composite::new(s)).to_bytes())
        .collect();
    v.push(
        Frame::amqp(
            0,
            Composite::named("open")
                .with("container-id", "c")
                .with("max-frame-size", 512u32)
                .with(
                    "offered-capabilities",
                    Value::Array(Array::of(code::SYM8, vec![Value::symbol("a")])),
                ),
        )
        .to_bytes(),
    );
    v.push(
        Frame::sasl(
            Composite::named("sasl-mechanisms")
                .with("sasl-server-mechanisms", Value::symbol("PLAIN")),
        )
        .to_bytes(),
    );
    let m = Message {
        header: Some(Composite::named("header").with("durable", true)),
        properties: Some(Composite::named("properties").with("message-id", Value::Uuid([7; 16]))),
        application_properties: Some(vec![
            ("a".into(), Value::Decimal64([1; 8])),
            (
                "b".into(),
                Value::Map(vec![(Value::Char('x'), Value::Float(1.0))]),
            ),
            (
                "c".into(),
                Value::Array(Array::described(
                    Value::symbol("d"),
                    code::LIST0,
                    vec![Value::List(vec![])],
                )),
            ),
        ]),
        body: MessageBody::Sequence(vec![vec![Value::Timestamp(5), Value::Long(-9)]]),
        footer: Some(vec![]),
        ..Message::default()
    };
    v.push(m.to_bytes());
    let first = Composite::named("transfer")
        .with("handle", 0u32)
        .with("delivery-id", 0u32)
        .with("delivery-tag", vec![1u8]);
    let mut stream = ProtocolHeader::AMQP.to_bytes().to_vec();
    for f in split_transfer(0, first, 0, &m.to_bytes(), 64) {
        stream.extend(f.to_bytes());
    }
    v.push(stream);
    v.push(Frame::empty().to_bytes());
    v
}

#[test]
fn mutated_frames_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for seed in seeds() {
        exercise::exercise(&seed);
        for _ in 0..200 {
            let mut b = seed.clone();
            for _ in 0..=rng.below(4) {
                match rng.below(4) {
                    0 if !b.is_empty() => {
                        let i = rng.below(b.len());
                        b[i] = rng.next() as u8;
                    }
                    1 if !b.is_empty() => b.truncate(rng.below(b.len())),
                    2 => {
                        let i = rng.below(b.len() + 1);
                        b.insert(i, rng.next() as u8);
                    }
                    _ if b.len() > 8 && b[0] != b'A' => {
                        // Keep the size field in step, so the damage reaches the body.
                        let size = b.len() as u32;
                        b[..4].copy_from_slice(&size.to_be_bytes());
                    }
                    _ => {}
                }
            }
            exercise::exercise(&b);
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(11);
    for _ in 0..3000 {
        let n = rng.below(64);
        let mut b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        // Half of them look like a frame header, to get past frame_len.
        if n > 8 && rng.below(2) == 0 {
            b[..4].copy_from_slice(&(n as u32).to_be_bytes());
            b[4] = 2;
            b[5] = rng.below(2) as u8;
            b[8] = 0;
        }
        exercise::exercise(&b);
    }
}
