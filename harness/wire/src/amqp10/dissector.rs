//! One-line summaries and problem lists for traces; the [`Framer`] the protocol-agnostic
//! layers (recorder, interposer, reports) use for AMQP 1.0, and [`AmqpFramer`], which
//! tells 1.0 from 0-9-1 on a shared port by the protocol header.

use std::collections::BTreeMap;

use crate::amqp091::Amqp091Framer;
use crate::framing::{Decoded, FrameMeta, Framer};

use super::composite::descriptor;
use super::frame::{Body, Frame, ProtocolHeader, decode, frame_len};
use super::message::Message;
use super::rules::Violation;

/// What the dissector makes of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Dissection {
    /// The performative's name (`attach`, `sasl-outcome`), `empty`, `protocol-header`;
    /// `malformed` when not even that reads.
    pub kind: &'static str,
    pub summary: String,
    pub problems: Vec<Violation>,
    pub frame: Option<Frame>,
}

/// Decodes one complete frame (or protocol header) and says what it is and what is
/// wrong with it. `max_frame_size` is the limit its receiver announced (0: unknown).
pub fn dissect(bytes: &[u8], max_frame_size: u32) -> Dissection {
    if bytes.first() == Some(&b'A') {
        return match ProtocolHeader::parse(bytes) {
            Decoded::Done(h, _) => Dissection {
                kind: "protocol-header",
                summary: h.to_string(),
                problems: h.check().err().into_iter().collect(),
                frame: None,
            },
            Decoded::NeedMore(_) => malformed(bytes, "a cut protocol header"),
        };
    }
    match decode(bytes, max_frame_size) {
        Ok(Decoded::Done(f, _)) => Dissection {
            kind: f.kind(),
            summary: f.to_string(),
            problems: Vec::new(),
            frame: Some(f),
        },
        Ok(Decoded::NeedMore(_)) => malformed(bytes, "a cut frame"),
        Err(v) => {
            let kind = kind_of_bytes(bytes);
            Dissection {
                kind,
                summary: format!("{kind} ({}B, unreadable)", bytes.len()),
                problems: vec![v],
                frame: None,
            }
        }
    }
}

fn malformed(bytes: &[u8], what: &str) -> Dissection {
    Dissection {
        kind: "malformed",
        summary: format!("{what} ({}B)", bytes.len()),
        problems: Vec::new(),
        frame: None,
    }
}

/// The kind of a frame that does not decode, from its descriptor where one reads.
fn kind_of_bytes(bytes: &[u8]) -> &'static str {
    let doff = bytes.get(4).map_or(2, |d| usize::from(*d) * 4);
    let body = bytes.get(doff..).unwrap_or(&[]);
    // A described value starts 0x00, then the descriptor: smallulong or ulong.
    let code = match body {
        [0x00, 0x53, c, ..] => Some(u64::from(*c)),
        [0x00, 0x80, rest @ ..] if rest.len() >= 8 => {
            let mut b = [0; 8];
            b.copy_from_slice(&rest[..8]);
            Some(u64::from_be_bytes(b))
        }
        _ => None,
    };
    match code.and_then(super::composite::by_code) {
        Some(s) => s.name,
        None if body.is_empty() && bytes.len() >= 8 => "empty",
        None => "malformed",
    }
}

/// Splits one direction of an AMQP 1.0 connection into frames; puts the payloads of
/// multi-frame transfers together to show (and judge) the message each delivery carries,
/// and holds frames to the max-frame-size the other side announced in its open.
#[derive(Debug, Default)]
pub struct Amqp10Framer {
    /// The other side's max-frame-size, once its open was seen.
    peer_max_frame_size: u32,
    /// (channel, handle) → payload of a delivery still arriving.
    partial: BTreeMap<(u16, u64), Vec<u8>>,
}

/// The largest delivery the framer puts together to show its message.
const MAX_SHOWN_DELIVERY: usize = 1 << 24;

impl Amqp10Framer {
    pub fn new() -> Self {
        Amqp10Framer::default()
    }

    /// The message a transfer completes, if it completes one.
    fn delivery(&mut self, f: &Frame) -> Option<Result<Message, Violation>> {
        let Body::Amqp {
            performative,
            payload,
        } = &f.body
        else {
            return None;
        };
        if !performative.is(descriptor::TRANSFER) {
            return None;
        }
        let key = (f.channel, performative.u64("handle").unwrap_or(0));
        if performative.bool("aborted") == Some(true) {
            self.partial.remove(&key);
            return None;
        }
        let buf = self.partial.entry(key).or_default();
        if buf.len() + payload.len() <= MAX_SHOWN_DELIVERY {
            buf.extend_from_slice(payload);
        }
        if performative.bool("more") == Some(true) {
            return None;
        }
        let whole = self.partial.remove(&key).unwrap_or_default();
        Some(Message::decode(&whole))
    }
}

impl Framer for Amqp10Framer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        frame_len(buf).map_err(|v| v.to_string())
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        let mut d = dissect(frame, self.peer_max_frame_size);
        if let Some(f) = &d.frame {
            match self.delivery(f) {
                Some(Ok(m)) => d.summary.push_str(&format!(" | {m}")),
                Some(Err(v)) => d.problems.push(v),
                None => {}
            }
        }
        FrameMeta {
            kind: d.kind,
            summary: d.summary,
            problems: d.problems.iter().map(ToString::to_string).collect(),
        }
    }

    fn observe_peer(&mut self, frame: &[u8]) {
        if let Ok(Decoded::Done(f, _)) = decode(frame, 0)
            && let Some(p) = f.performative()
            && p.is(descriptor::OPEN)
        {
            self.peer_max_frame_size = p
                .u64("max-frame-size")
                .map_or(u32::MAX, |n| n.min(u64::from(u32::MAX)) as u32);
        }
    }
}

/// Either AMQP: 0-9-1 or 1.0, told apart by the protocol header that opens the
/// connection (this direction's own, or the other direction's seen through
/// [`Framer::observe_peer`]). A direction that starts with a frame rather than a header
/// is 0-9-1's server side (1.0 servers answer with a header first).
#[derive(Debug, Default)]
pub enum AmqpFramer {
    #[default]
    Undecided,
    V091(Amqp091Framer),
    V10(Amqp10Framer),
}

impl AmqpFramer {
    pub fn new() -> Self {
        AmqpFramer::default()
    }

    fn decide_by(&mut self, header: &[u8]) {
        if let AmqpFramer::Undecided = self
            && let Decoded::Done(h, _) = ProtocolHeader::parse(header)
        {
            *self = if h.is_1_0() {
                AmqpFramer::V10(Amqp10Framer::new())
            } else {
                AmqpFramer::V091(Amqp091Framer::new())
            };
        }
    }

    fn inner(&mut self, buf: &[u8]) -> Option<&mut dyn Framer> {
        if let AmqpFramer::Undecided = self {
            match buf.first() {
                Some(b'A') if buf.len() >= 8 => self.decide_by(buf),
                Some(b'A') | None => return None,
                Some(_) => *self = AmqpFramer::V091(Amqp091Framer::new()),
            }
        }
        match self {
            AmqpFramer::V091(f) => Some(f),
            AmqpFramer::V10(f) => Some(f),
            AmqpFramer::Undecided => None,
        }
    }
}

impl Framer for AmqpFramer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        match self.inner(buf) {
            Some(f) => f.frame_len(buf),
            None => Ok(Decoded::NeedMore(8 - buf.len().min(8))),
        }
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        match self.inner(frame) {
            Some(f) => f.describe(frame),
            None => FrameMeta {
                kind: "malformed",
                summary: format!("{}B before any protocol header", frame.len()),
                problems: Vec::new(),
            },
        }
    }

    fn observe_peer(&mut self, frame: &[u8]) {
        if frame.first() == Some(&b'A') {
            self.decide_by(frame);
        }
        match self {
            AmqpFramer::V091(f) => f.observe_peer(frame),
            AmqpFramer::V10(f) => f.observe_peer(frame),
            AmqpFramer::Undecided => {}
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::amqp10::composite::Composite;
    use crate::amqp10::value::Value;

    #[test]
    fn framer_names_performatives_and_reports_broken_frames() {
        let mut f = Amqp10Framer::new();
        let open = Frame::amqp(0, Composite::named("open").with("container-id", "c")).to_bytes();
        assert_eq!(f.describe(&open).kind, "open");
        assert_eq!(f.describe(b"AMQP\x03\x01\x00\x00").kind, "protocol-header");
        let bad = Composite::named("attach").with("name", "l");
        let m = f.describe(&Frame::amqp(0, bad).to_bytes());
        assert_eq!(m.kind, "attach");
        assert!(
            m.problems[0].contains("AMQP10-1.4-mandatory"),
            "{:?}",
            m.problems
        );
    }

    #[test]
    fn multi_frame_transfers_show_their_message() {
        let mut f = Amqp10Framer::new();
        let msg = Message::value(Value::from("hello")).to_bytes();
        let t = |more: bool| {
            Composite::named("transfer")
                .with("handle", 0u32)
                .with("more", more)
        };
        let first = Frame::transfer(0, t(true), msg[..3].to_vec()).to_bytes();
        let last = Frame::transfer(0, t(false), msg[3..].to_vec()).to_bytes();
        assert!(!f.describe(&first).summary.contains("hello"));
        let m = f.describe(&last);
        assert!(m.summary.contains("\"hello\""), "{}", m.summary);
        assert!(m.problems.is_empty());
    }

    #[test]
    fn frames_above_the_peers_max_frame_size_are_problems() {
        let mut f = Amqp10Framer::new();
        let peer_open = Composite::named("open")
            .with("container-id", "b")
            .with("max-frame-size", 512u32);
        f.observe_peer(&Frame::amqp(0, peer_open).to_bytes());
        let big = Frame::transfer(
            0,
            Composite::named("transfer").with("handle", 0u32),
            vec![0; 600],
        );
        let m = f.describe(&big.to_bytes());
        assert!(
            m.problems
                .iter()
                .any(|p| p.contains("AMQP10-2.7.1-max-frame-size"))
        );
    }

    #[test]
    fn amqp_framer_tells_the_versions_apart() {
        let mut client = AmqpFramer::new();
        assert_eq!(
            client.describe(b"AMQP\x00\x01\x00\x00").kind,
            "protocol-header"
        );
        assert!(matches!(client, AmqpFramer::V10(_)));
        let mut server = AmqpFramer::new();
        server.observe_peer(b"AMQP\x00\x00\x09\x01");
        assert!(matches!(server, AmqpFramer::V091(_)));
        let mut server = AmqpFramer::new();
        let _ = server.frame_len(&[1, 0, 0]);
        assert!(matches!(server, AmqpFramer::V091(_)));
    }
}
