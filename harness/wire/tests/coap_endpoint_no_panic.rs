//! The `coap_endpoint` fuzz target's property on every CI run, without a fuzzer:
//! pseudo-random steps mixing well-formed messages (ACKs and RSTs for Message IDs the
//! endpoint used, requests, responses) with junk.

#[path = "support/coap_endpoint_drive.rs"]
mod drive;
#[path = "support/mutate.rs"]
mod mutate;

use hilt_wire::coap::{Code, Message, MessageType};
use mutate::Rng;

fn datagram(r: &mut Rng) -> Vec<u8> {
    let x = r.next();
    // Message IDs from a small range so that ACKs, RSTs and duplicates meet their match.
    let mid = (x >> 8) as u16 % 8;
    let mtype = match x % 4 {
        0 => MessageType::Con,
        1 => MessageType::Non,
        2 => MessageType::Ack,
        _ => MessageType::Rst,
    };
    match (x >> 4) % 5 {
        0 => Message::empty(mtype, mid).to_bytes(),
        1 => Message::new(mtype, Code::GET, mid)
            .with_token(&[(x >> 24) as u8 % 4])
            .with_path("/r")
            .to_bytes(),
        2 => Message::new(mtype, Code::CONTENT, mid)
            .with_token(&((x >> 32) as u32).to_be_bytes())
            .to_bytes(),
        3 => {
            let n = (x >> 40) as usize % 12;
            r.bytes(n)
        }
        _ => {
            let mut b = Message::new(MessageType::Con, Code::POST, mid)
                .with_payload(*b"p")
                .to_bytes();
            let at = (x >> 48) as usize % b.len();
            b[at] ^= (x >> 56) as u8 | 1;
            b
        }
    }
}

#[test]
fn endpoint_survives_random_steps() {
    let mut r = Rng::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..40 {
            let d = datagram(&mut r);
            input.push(r.byte());
            input.push(d.len() as u8);
            input.extend_from_slice(&d);
        }
        drive::drive(&input);
    }
}
