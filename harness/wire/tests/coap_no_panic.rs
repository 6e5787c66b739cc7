//! The no-panic property for CoAP, exercised on every CI run without a fuzzer:
//! thousands of pseudo-random and mutated datagrams through every decoding entry point.

use hilt_wire::Framer;
use hilt_wire::coap::{
    Block, CoapFramer, Code, Message, MessageType, OptionNumber, Packet, decode_lenient, dissect,
    option_problems,
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

fn exercise(bytes: &[u8]) {
    let p = Packet::new_unchecked(bytes);
    let _ = (
        p.version(),
        p.msg_type(),
        p.code(),
        p.message_id(),
        p.token(),
    );
    let _ = p.check_len();
    let _ = p.options().count();
    let _ = p.payload();
    let _ = option_problems(bytes);
    let _ = decode_lenient(bytes);
    let d = dissect(bytes);
    assert!(!d.summary.is_empty());
    let mut f = CoapFramer::new();
    let _ = f.frame_len(bytes);
    let _ = f.describe(bytes);
    if let Ok(m) = Message::parse(bytes) {
        // What parses re-encodes to the same message (options may be re-sorted only
        // if they were in order already, which parsing guarantees).
        let again = m.to_bytes();
        assert_eq!(again.len(), m.buffer_len());
        assert_eq!(Message::parse(&again).as_ref(), Ok(&m), "{bytes:02x?}");
        let _ = (
            m.block1(),
            m.block2(),
            m.observe(),
            m.uri_path(),
            m.uri_query(),
        );
    }
}

/// A valid message with a random mix of options, as a seed for mutations.
fn seed(rng: &mut Rng) -> Vec<u8> {
    let types = [MessageType::Con, MessageType::Non, MessageType::Ack];
    let mut m = Message::new(
        types[rng.below(3)],
        Code(rng.below(256) as u8 & 0xbf),
        rng.next() as u16,
    )
    .with_token(&rng.next().to_be_bytes()[..rng.below(9)]);
    for _ in 0..rng.below(6) {
        let n = match rng.below(4) {
            0 => OptionNumber::REGISTERED[rng.below(OptionNumber::REGISTERED.len())],
            1 => OptionNumber::Unknown(rng.below(65_536) as u16),
            2 => OptionNumber::Block2,
            _ => OptionNumber::UriPath,
        };
        let len = match rng.below(8) {
            0 => 13 + rng.below(300),
            _ => rng.below(13),
        };
        m.push(hilt_wire::coap::CoapOption::new(
            n,
            vec![rng.below(256) as u8; len],
        ));
    }
    if rng.below(2) == 0 {
        m.payload = vec![0x5a; 1 + rng.below(20)];
    }
    m.to_bytes()
}

#[test]
fn random_and_mutated_datagrams_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for len in 0..12 {
        for _ in 0..200 {
            let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            exercise(&b);
        }
    }
    for _ in 0..5000 {
        let mut b = seed(&mut rng);
        exercise(&b);
        for _ in 0..1 + rng.below(4) {
            if b.is_empty() {
                break;
            }
            match rng.below(4) {
                0 => {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
                1 => b.truncate(rng.below(b.len())),
                2 => {
                    let i = rng.below(b.len());
                    b[i] = [0xff, 0xdd, 0xee, 0xf0, 0x0f, 0xed][rng.below(6)];
                }
                _ => b.push(rng.next() as u8),
            }
            exercise(&b);
        }
    }
    // Extremes: every block value width, the largest option value.
    for v in [&[][..], &[0xff], &[0xff, 0xff], &[0xff, 0xff, 0xff]] {
        let _ = Block::from_value(v).map(|b| (b.size(), b.offset(), b.to_value()));
    }
    let big = Message::new(MessageType::Con, Code::PUT, 1).with_option(
        OptionNumber::Unknown(65_535),
        vec![0; hilt_wire::coap::MAX_OPTION_VALUE],
    );
    exercise(&big.to_bytes());
}

/// Link-format payloads (RFC 6690) from the grammar's own characters, then mutated:
/// the parser never panics, and what it accepts prints back to what parses equal.
#[test]
fn link_format_never_panics_and_round_trips() {
    use hilt_wire::coap::parse_links;
    const ALPHABET: &[u8] = b"<>;,=\"\\ */abrtifsz01\t\xff\x01";
    let mut rng = Rng(0x6690_6690_6690_6690);
    let base: &[u8] = b"</a>;rt=\"x y\";if=If1;sz=12;obs,</b/c>;title=\"q\\\"\";ct=40";
    for _ in 0..20_000 {
        let mut bytes = if rng.below(2) == 0 {
            base.to_vec()
        } else {
            (0..rng.below(40))
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect()
        };
        for _ in 0..rng.below(4) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len());
            bytes[at] = ALPHABET[rng.below(ALPHABET.len())];
        }
        if let Ok(links) = parse_links(&bytes) {
            let printed: Vec<String> = links.iter().map(ToString::to_string).collect();
            assert_eq!(
                parse_links(printed.join(",").as_bytes()).as_ref(),
                Ok(&links),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
