//! The no-panic property for CoAP, exercised on every CI run without a fuzzer:
//! thousands of pseudo-random and mutated datagrams through every decoding entry point.

#[path = "support/mutate.rs"]
mod mutate;

use hilt_wire::Framer;
use hilt_wire::coap::{
    Block, CoapFramer, Code, Message, MessageType, OptionNumber, Packet, decode_lenient, dissect,
    option_problems,
};
use mutate::{Rng, as_is, check_mutants};

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

/// The payload marker and the option nibbles that announce extended deltas and lengths
/// (13, 14) or are reserved (15), in either half of a byte.
const MARKERS: &[u8] = &[0xff, 0xdd, 0xee, 0xf0, 0x0f, 0xed];

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
    let mut rng = Rng::new(0x1234_5678_9abc_def1);
    for len in 0..12 {
        for _ in 0..200 {
            exercise(&rng.bytes(len));
        }
    }
    let seeds: Vec<Vec<u8>> = (0..5000).map(|_| seed(&mut rng)).collect();
    check_mutants(&mut rng, &seeds, 1, MARKERS, as_is, exercise);
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
    let mut rng = Rng::new(0x6690_6690_6690_6690);
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
