//! The property the `amqp10_decode` fuzz target and the AMQP 1.0 no-panic test share:
//! no decoding entry point panics on any input; `frame_len` agrees with `decode`;
//! whatever decodes (a frame, a value, a message) re-encodes to octets that decode to
//! the same thing; the framers and the connection core swallow anything.

use hilt_core::Instant;
use hilt_wire::amqp10::{
    Amqp10Framer, AmqpFramer, Config, Connection, Message, Sasl, Value, decode, dissect, frame_len,
};
use hilt_wire::{Decoded, Framer};

pub fn exercise(data: &[u8]) {
    let _ = dissect(data, 0);
    let _ = dissect(data, 512);
    let len = frame_len(data);
    if let Ok(Decoded::Done(f, n)) = decode(data, 0) {
        assert_eq!(len, Ok(Decoded::Done(n, n)));
        let again = f.to_bytes();
        match decode(&again, 0) {
            Ok(Decoded::Done(back, m)) => {
                assert_eq!(m, again.len());
                assert_eq!(back, f, "{data:02x?}");
            }
            other => panic!("{data:02x?} re-decodes as {other:?}"),
        }
    }
    if let Ok((v, _)) = Value::decode(data) {
        assert_eq!(Value::decode_exact(&v.to_bytes()), Ok(v));
    }
    if let Ok(m) = Message::decode(data) {
        assert_eq!(Message::decode(&m.to_bytes()), Ok(m));
    }
    for mut framer in [
        Box::new(Amqp10Framer::new()) as Box<dyn Framer>,
        Box::new(AmqpFramer::new()),
    ] {
        let mut rest = data;
        while let Ok(Decoded::Done(n, _)) = framer.frame_len(rest) {
            let Some(frame) = rest.get(..n).filter(|f| !f.is_empty()) else {
                break;
            };
            let _ = framer.describe(frame);
            framer.observe_peer(frame);
            rest = &rest[n..];
        }
    }
    for sasl in [Sasl::None, Sasl::Anonymous] {
        let mut c = Connection::new(Config {
            sasl,
            ..Config::default()
        });
        c.start(Instant::ZERO);
        c.handle_input(Instant::from_micros(1), data);
        while c.poll_event().is_some() {}
        c.handle_timeout(Instant::from_micros(u64::from(u32::MAX)));
        while c.poll_transmit().is_some() {}
    }
}
