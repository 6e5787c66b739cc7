//! hilt's CoAP codec against aiocoap's (a second, independent implementation beside
//! the coap-lite cross-check in hilt-wire): datagrams hilt encodes must decode in
//! aiocoap to the same type, code, Message ID, token, options and payload, and aiocoap
//! must encode them back to the same bytes, which hilt parses to the same message.
//!
//! Where the two disagree, aiocoap is the lenient one, pinned below: its decoder takes
//! a token length of 9 to 15 and a token cut short, both message format errors by
//! RFC 7252 §3.

use std::io::Write;
use std::process::{Command, Stdio};

use hilt_wire::coap::{Block, Code, Message, MessageType, OptionNumber};
use serde_json::Value;

use crate::support::missing_python;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).unwrap())
        .collect()
}

/// aiocoap's verdict on each datagram, one JSON object each.
fn aiocoap_decodes(datagrams: &[Vec<u8>]) -> Vec<Value> {
    let python = hilt_peers::python_venv().unwrap().join("bin/python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/aiocoap_codec.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = datagrams.iter().map(|d| hex(d) + "\n").collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn corpus() -> Vec<Message> {
    let mut out = Vec::new();
    for tkl in 0..=8u8 {
        let token: Vec<u8> = (1..=tkl).collect();
        out.push(
            Message::new(MessageType::Con, Code::GET, u16::from(tkl))
                .with_token(&token)
                .with_path("/seg1/seg2/seg3")
                .with_query("first=1"),
        );
    }
    // Deltas and lengths at each encoding edge (RFC 7252 §3.1), unregistered numbers.
    for (i, (n, len)) in [
        (13u16, 12usize),
        (268, 13),
        (269, 268),
        (65_000, 269),
        (65_535, 1034),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(
            Message::new(MessageType::Non, Code::POST, 100 + i as u16)
                .with_option(OptionNumber::from_u16(n), vec![0x5a; len])
                .with_payload(vec![i as u8; 3]),
        );
    }
    for (i, obs) in [0u32, 1, 256, 65_536, (1 << 24) - 1]
        .into_iter()
        .enumerate()
    {
        let block = Block::new(obs.min(Block::MAX_NUM), i % 2 == 0, 16 << i).unwrap();
        out.push(
            Message::new(MessageType::Ack, Code::CONTENT, 200 + i as u16)
                .with_token(&[0xab, i as u8])
                .with_uint(OptionNumber::ETag, 0x0102)
                .with_uint(OptionNumber::Observe, obs)
                .with_uint(OptionNumber::ContentFormat, 40)
                .with_uint(OptionNumber::MaxAge, 60)
                .with_option(OptionNumber::Block2, block.to_value())
                .with_uint(OptionNumber::Size2, 4096)
                .with_payload(vec![0x42; block.size()]),
        );
    }
    out.push(Message::empty(MessageType::Rst, 0xffff));
    out
}

#[test]
fn aiocoap_decodes_and_encodes_our_datagrams_alike() {
    if missing_python("aiocoap") {
        return;
    }
    let messages = corpus();
    let datagrams: Vec<Vec<u8>> = messages.iter().map(Message::to_bytes).collect();
    let theirs = aiocoap_decodes(&datagrams);
    assert_eq!(theirs.len(), messages.len());
    for ((m, bytes), t) in messages.iter().zip(&datagrams).zip(&theirs) {
        assert!(t.get("error").is_none(), "{m:?}: {t}");
        assert_eq!(t["type"], m.mtype as u8, "{t}");
        assert_eq!(t["code"], m.code.0, "{t}");
        assert_eq!(t["mid"], m.message_id, "{t}");
        assert_eq!(t["token"], hex(&m.token), "{t}");
        assert_eq!(t["payload"], hex(&m.payload), "{t}");
        let ours: Vec<Value> = m
            .options
            .iter()
            .map(|o| serde_json::json!([o.number.number(), hex(&o.value)]))
            .collect();
        assert_eq!(t["options"], Value::Array(ours), "{t}");
        let encoded = unhex(t["encoded"].as_str().unwrap());
        assert_eq!(&encoded, bytes, "aiocoap encodes {m:?} otherwise");
        assert_eq!(Message::parse(&encoded).as_ref(), Ok(m));
    }
}

#[test]
fn aiocoap_accepts_what_rfc_7252_calls_format_errors() {
    if missing_python("aiocoap") {
        return;
    }
    let cases = [
        // TKL 9, with nine token bytes.
        unhex("49011234010203040506070809"),
        // TKL 2, one token byte.
        unhex("4201123401"),
    ];
    let theirs = aiocoap_decodes(&cases);
    for (bytes, t) in cases.iter().zip(&theirs) {
        let ours = Message::parse(bytes);
        assert!(ours.is_err(), "hilt rejects {}", hex(bytes));
        // If aiocoap starts rejecting these, the note above is stale.
        assert!(
            t.get("error").is_none(),
            "aiocoap now rejects {}: {t}",
            hex(bytes)
        );
    }
}
