//! Our CoAP codec against an independent one (coap-lite): messages encoded by one must
//! decode to the same header, token, options and payload with the other, both ways.

use coap_lite::{CoapOption as LiteOption, MessageClass, Packet as LitePacket};
use hilt_wire::coap::{Code, Message, MessageType, OptionNumber};

fn lite_type(t: MessageType) -> coap_lite::MessageType {
    match t {
        MessageType::Con => coap_lite::MessageType::Confirmable,
        MessageType::Non => coap_lite::MessageType::NonConfirmable,
        MessageType::Ack => coap_lite::MessageType::Acknowledgement,
        MessageType::Rst => coap_lite::MessageType::Reset,
    }
}

/// A spread of messages: every registered option, extended deltas and lengths,
/// repeated and unknown options, empty and long payloads.
fn corpus() -> Vec<Message> {
    let mut out = vec![
        Message::empty(MessageType::Con, 0),
        Message::empty(MessageType::Rst, 0xffff),
        Message::new(MessageType::Con, Code::GET, 0x1234)
            .with_token(&[0xab])
            .with_path("/time"),
        Message::new(MessageType::Ack, Code::CONTENT, 1)
            .with_token(&[1, 2, 3, 4, 5, 6, 7, 8])
            .with_uint(OptionNumber::ContentFormat, 40)
            .with_uint(OptionNumber::MaxAge, 60)
            .with_payload(vec![0x42; 700]),
        Message::new(MessageType::Non, Code::POST, 2)
            .with_path("/a/b/c")
            .with_query("x=1")
            .with_query("y=2")
            .with_option(OptionNumber::Unknown(2000), vec![9; 300])
            .with_option(OptionNumber::Unknown(65_000), vec![]),
    ];
    for (i, n) in OptionNumber::REGISTERED.into_iter().enumerate() {
        let len = n.def().map(|d| d.max_len.min(20)).unwrap_or(1);
        out.push(
            Message::new(MessageType::Con, Code::PUT, i as u16)
                .with_token(&[i as u8])
                .with_option(n, vec![i as u8 + 1; len])
                .with_option(n, vec![i as u8 + 2; len.min(1)])
                .with_payload(*b"p"),
        );
    }
    out
}

#[test]
fn ours_encoded_decodes_the_same_in_coap_lite() {
    for m in corpus() {
        let bytes = m.to_bytes();
        let lite = LitePacket::from_bytes(&bytes).unwrap_or_else(|e| panic!("{m:?}: {e:?}"));
        assert_eq!(lite.header.get_version(), 1);
        assert_eq!(lite.header.get_type(), lite_type(m.mtype));
        assert_eq!(u8::from(lite.header.code), m.code.0);
        assert_eq!(lite.header.message_id, m.message_id);
        assert_eq!(lite.get_token(), m.token.as_slice());
        assert_eq!(lite.payload, m.payload);
        let lite_opts: Vec<(u16, Vec<u8>)> = lite
            .options()
            .flat_map(|(n, vs)| vs.iter().map(move |v| (*n, v.clone())))
            .collect();
        let ours: Vec<(u16, Vec<u8>)> = m
            .options
            .iter()
            .map(|o| (o.number.number(), o.value.clone()))
            .collect();
        assert_eq!(lite_opts, ours);
    }
}

#[test]
fn coap_lite_encoded_decodes_the_same_in_ours() {
    for m in corpus() {
        let mut lite = LitePacket::new();
        lite.header.set_version(1);
        lite.header.set_type(lite_type(m.mtype));
        lite.header.code = MessageClass::from(m.code.0);
        lite.header.message_id = m.message_id;
        lite.set_token(m.token.clone());
        for o in &m.options {
            lite.add_option(LiteOption::from(o.number.number()), o.value.clone());
        }
        lite.payload = m.payload.clone();
        let bytes = lite.to_bytes_unlimited().expect("coap-lite encodes");
        assert_eq!(bytes, m.to_bytes(), "same bytes for {m:?}");
        assert_eq!(Message::parse(&bytes), Ok(m));
    }
}

#[test]
fn both_reject_what_rfc_7252_calls_format_errors() {
    // TKL 9 and a token cut short: coap-lite refuses both, and so do we.
    for bad in [
        &[0x49, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        &[0x42, 0x01, 0, 1, 0],
    ] {
        assert!(LitePacket::from_bytes(bad).is_err());
        assert!(Message::parse(bad).is_err());
    }
}
