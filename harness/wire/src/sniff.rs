//! A framer for connections whose protocol is not known in advance: suites that speak
//! MQTT, STOMP and AMQP 0-9-1 to one broker (the communication patterns) record and
//! interpose all of them with one [`FramerFactory`](crate::FramerFactory).
//!
//! Each direction of a connection is recognised by its first bytes, or by the first
//! frame the other direction sent (the client always speaks first in these three
//! protocols), then handed to that protocol's own framer.

use crate::amqp091::Amqp091Framer;
use crate::framing::{Decoded, FrameMeta, Framer};
use crate::mqtt::MqttFramer;
use crate::stomp::StompFramer;

/// The protocols [`SniffingFramer`] tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Mqtt,
    Stomp,
    Amqp091,
}

impl Sniffed {
    /// The protocol a stream starting with `first` speaks, or `None` until enough bytes
    /// are there to tell.
    ///
    /// AMQP starts with `AMQP` (client) or a method frame, type 1 (server); STOMP with a
    /// command in capitals (`CONNECT`, `STOMP`, `CONNECTED`, `ERROR`) — `A…` waits for
    /// four bytes, as `ABORT` and `ACK` are commands too; anything else is an MQTT fixed
    /// header (`0x10` CONNECT, `0x20` CONNACK).
    pub fn of(first: &[u8]) -> Option<Sniffed> {
        let b = *first.first()?;
        match b {
            b'A' if first.len() < 4 => None,
            b'A' if first.starts_with(b"AMQP") => Some(Sniffed::Amqp091),
            1..=8 => Some(Sniffed::Amqp091),
            b'A'..=b'Z' => Some(Sniffed::Stomp),
            _ => Some(Sniffed::Mqtt),
        }
    }

    fn framer(self) -> Box<dyn Framer> {
        match self {
            Sniffed::Mqtt => Box::new(MqttFramer::new()),
            Sniffed::Stomp => Box::new(StompFramer::new()),
            Sniffed::Amqp091 => Box::new(Amqp091Framer::new()),
        }
    }
}

/// Frames MQTT, STOMP or AMQP 0-9-1, whichever the connection turns out to speak.
#[derive(Default)]
pub struct SniffingFramer {
    inner: Option<(Sniffed, Box<dyn Framer>)>,
}

impl std::fmt::Debug for SniffingFramer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniffingFramer")
            .field("protocol", &self.protocol())
            .finish()
    }
}

impl SniffingFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The protocol recognised so far.
    pub fn protocol(&self) -> Option<Sniffed> {
        self.inner.as_ref().map(|(p, _)| *p)
    }

    fn recognise(&mut self, first: &[u8]) -> Option<&mut Box<dyn Framer>> {
        if self.inner.is_none() {
            let p = Sniffed::of(first)?;
            self.inner = Some((p, p.framer()));
        }
        self.inner.as_mut().map(|(_, f)| f)
    }
}

impl Framer for SniffingFramer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        match self.recognise(buf) {
            Some(f) => f.frame_len(buf),
            None => Ok(Decoded::NeedMore(4usize.saturating_sub(buf.len()).max(1))),
        }
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        match self.recognise(frame) {
            Some(f) => f.describe(frame),
            None => FrameMeta {
                kind: "?",
                summary: format!("{} bytes of no protocol recognised", frame.len()),
                problems: Vec::new(),
            },
        }
    }

    fn observe_peer(&mut self, frame: &[u8]) {
        if let Some(f) = self.recognise(frame) {
            f.observe_peer(frame);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn kind_of_first_frame(stream: &[u8]) -> &'static str {
        let mut f = SniffingFramer::new();
        let Ok(Decoded::Done(n, _)) = f.frame_len(stream) else {
            panic!("no frame in {stream:?}");
        };
        f.describe(&stream[..n]).kind
    }

    #[test]
    fn each_protocol_is_recognised_by_its_first_bytes() {
        assert_eq!(Sniffed::of(b"AMQP\0\0\x09\x01"), Some(Sniffed::Amqp091));
        assert_eq!(Sniffed::of(&[1, 0, 0]), Some(Sniffed::Amqp091));
        assert_eq!(Sniffed::of(b"CONNECT\n"), Some(Sniffed::Stomp));
        assert_eq!(Sniffed::of(b"ABORT\n"), Some(Sniffed::Stomp));
        assert_eq!(Sniffed::of(b"AB"), None);
        assert_eq!(Sniffed::of(&[0x10, 0x0c]), Some(Sniffed::Mqtt));
        assert_eq!(Sniffed::of(&[0x20, 0x02, 0, 0]), Some(Sniffed::Mqtt));
        assert_eq!(Sniffed::of(b""), None);
    }

    #[test]
    fn frames_are_delimited_and_named_by_the_recognised_protocol() {
        assert_eq!(kind_of_first_frame(b"CONNECT\nhost:/\n\n\0"), "CONNECT");
        assert_eq!(kind_of_first_frame(&[0x20, 0x02, 0, 0, 0xc0]), "CONNACK");
        assert_eq!(kind_of_first_frame(b"AMQP\0\0\x09\x01"), "protocol-header");
    }

    #[test]
    fn a_silent_direction_learns_its_protocol_from_the_peer() {
        let mut server = SniffingFramer::new();
        server.observe_peer(b"AMQP\0\0\x09\x01");
        assert_eq!(server.protocol(), Some(Sniffed::Amqp091));
        let mut server = SniffingFramer::new();
        server.observe_peer(b"STOMP\naccept-version:1.2\n\n\0");
        assert_eq!(server.protocol(), Some(Sniffed::Stomp));
    }

    #[test]
    fn too_few_bytes_ask_for_more_without_deciding() {
        let mut f = SniffingFramer::new();
        assert!(matches!(f.frame_len(b"A"), Ok(Decoded::NeedMore(n)) if n >= 1));
        assert_eq!(f.protocol(), None);
        assert!(matches!(f.frame_len(b""), Ok(Decoded::NeedMore(_))));
    }
}
