//! Drives a CoAP endpoint from arbitrary bytes; shared by the `coap_endpoint` fuzz
//! target and the deterministic test that runs on every CI run.
//!
//! Each step is a control byte, a length byte and that many bytes of datagram: the
//! control byte picks one of four peers, how much time passes, whether a timeout fires
//! or a request goes out first, and how a request received is answered.

use std::net::SocketAddr;
use std::time::Duration;

use hilt_core::Instant;
use hilt_wire::coap::{Code, Endpoint, EndpointEvent, Message, MessageType, TransmissionParams};

/// Runs `data` through an endpoint, checking that whatever it sends parses and that
/// NSTART is kept.
pub fn drive(data: &[u8]) {
    let params = TransmissionParams::default();
    let mut e = Endpoint::new(params, u64::from(data.first().copied().unwrap_or(0)));
    let mut now = Instant::ZERO;
    let mut rest = data;
    while let [control, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (datagram, after) = tail.split_at(n);
        rest = after;
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000 + u16::from(control & 3)));
        now = now + Duration::from_millis(u64::from(control >> 4) * 700);
        match control & 0x0c {
            0 => e.handle_timeout(now),
            4 => {
                let t = if control & 0x40 == 0 {
                    MessageType::Con
                } else {
                    MessageType::Non
                };
                e.request(now, peer, Message::new(t, Code::GET, 0).with_path("/f"));
            }
            _ => {}
        }
        e.handle_input(now, peer, datagram);
        while let Some(ev) = e.poll_event() {
            if let EndpointEvent::Request { exchange, .. } = ev {
                match control & 0x30 {
                    0x00 => {
                        e.respond(
                            now,
                            &exchange,
                            Message::new(MessageType::Con, Code::CONTENT, 0),
                        );
                    }
                    0x10 => e.accept(&exchange),
                    0x20 => e.reject(&exchange),
                    _ => {}
                }
            }
        }
        while let Some(tx) = e.poll_transmit() {
            assert!(
                Message::parse(&tx.bytes).is_ok(),
                "sent an invalid datagram {:02x?}",
                tx.bytes
            );
        }
        assert!(
            e.outstanding() <= 4 * params.nstart,
            "NSTART per peer, 4 peers"
        );
    }
}
