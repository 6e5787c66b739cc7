//! One-line summaries and problem lists for traces, and the [`Framer`] the
//! protocol-agnostic layers (recorder, interposer, reports) use for AMQP 0-9-1.

use std::collections::BTreeMap;

use crate::framing::{Decoded, FrameMeta, Framer};

use super::frame::{Frame, Payload, ProtocolHeader, decode, frame_len};
use super::rules::{Rule, Violation};
use super::spec::{self, MethodId, frame_type};

/// What the dissector makes of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Dissection {
    /// The method's name (`basic.deliver`), `content-header`, `content-body`,
    /// `heartbeat`, `protocol-header`; `malformed` when not even the type reads.
    pub kind: &'static str,
    pub summary: String,
    pub problems: Vec<Violation>,
    pub frame: Option<Frame>,
}

/// Decodes one complete frame (or protocol header) and says what it is and what is
/// wrong with it.
pub fn dissect(bytes: &[u8]) -> Dissection {
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
    match decode(bytes, 0) {
        Ok(Decoded::Done(f, _)) => Dissection {
            kind: f.kind(),
            summary: f.to_string(),
            problems: Vec::new(),
            frame: Some(f),
        },
        Ok(Decoded::NeedMore(_)) => malformed(bytes, "a cut frame"),
        Err(v) => Dissection {
            kind: kind_of_bytes(bytes),
            summary: format!("{} ({}B, unreadable)", kind_of_bytes(bytes), bytes.len()),
            problems: vec![v],
            frame: None,
        },
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

/// The kind of a frame that does not decode, from what can be read of it.
fn kind_of_bytes(bytes: &[u8]) -> &'static str {
    match bytes.first() {
        Some(&frame_type::METHOD) if bytes.len() >= 11 => {
            let id = MethodId(
                u16::from_be_bytes([bytes[7], bytes[8]]),
                u16::from_be_bytes([bytes[9], bytes[10]]),
            );
            spec::method(id).map_or("method", |s| s.name)
        }
        Some(&frame_type::METHOD) => "method",
        Some(&frame_type::HEADER) => "content-header",
        Some(&frame_type::BODY) => "content-body",
        Some(&frame_type::HEARTBEAT) => "heartbeat",
        _ => "malformed",
    }
}

/// A one-line description of a frame: `ch1 basic.deliver consumer-tag="c" …`.
pub fn summarize(frame: &Frame) -> String {
    frame.to_string()
}

/// What each channel's content is waiting for: the sequencing half of
/// [`Rule::ContentOrder`], shared by the framer and the client.
#[derive(Debug, Clone, Default)]
pub struct ContentTracker {
    /// Channel → `None` while the header is due, `Some(n)` while n body octets are.
    pending: BTreeMap<u16, Option<u64>>,
}

impl ContentTracker {
    /// Sees one frame; says what it breaks.
    pub fn observe(&mut self, f: &Frame) -> Option<String> {
        let state = self.pending.get(&f.channel).copied();
        match (&f.payload, state) {
            (Payload::Heartbeat, _) => None,
            (Payload::Method(m), None) => {
                if m.spec.content {
                    self.pending.insert(f.channel, None);
                }
                None
            }
            (Payload::Header(h), Some(None)) => {
                if h.body_size == 0 {
                    self.pending.remove(&f.channel);
                } else {
                    self.pending.insert(f.channel, Some(h.body_size));
                }
                None
            }
            (Payload::Body(b), Some(Some(left))) => {
                let n = b.len() as u64;
                if n > left {
                    self.pending.remove(&f.channel);
                    return Some(format!(
                        "a body frame of {n} octets where {left} remained of the body size"
                    ));
                }
                if n == left {
                    self.pending.remove(&f.channel);
                } else {
                    self.pending.insert(f.channel, Some(left - n));
                }
                None
            }
            (p, expected) => {
                self.pending.remove(&f.channel);
                let what = match p {
                    Payload::Method(m) => m.name(),
                    Payload::Header(_) => "a content header",
                    _ => "a body frame",
                };
                let want = match expected {
                    None => "no content was due",
                    Some(None) => "the content header was due",
                    Some(Some(_)) => "body frames were due",
                };
                Some(format!("{what} on channel {} where {want}", f.channel))
            }
        }
    }
}

/// Splits one direction of an AMQP 0-9-1 connection into frames for the recorder,
/// the interposer and reports.
#[derive(Debug, Default)]
pub struct Amqp091Framer {
    content: ContentTracker,
}

impl Amqp091Framer {
    pub fn new() -> Self {
        Amqp091Framer::default()
    }
}

impl Framer for Amqp091Framer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        frame_len(buf).map_err(|v| v.to_string())
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        let d = dissect(frame);
        let mut problems: Vec<String> = d.problems.iter().map(ToString::to_string).collect();
        if let Some(f) = &d.frame
            && let Some(p) = self.content.observe(f)
        {
            problems.push(Violation::new(Rule::ContentOrder, 0, p).to_string());
        }
        FrameMeta {
            kind: d.kind,
            summary: d.summary,
            problems,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::amqp091::content::Properties;
    use crate::amqp091::frame::{RawFrame, content_frames};
    use crate::amqp091::method::Method;

    #[test]
    fn framer_names_methods_and_reports_broken_frames() {
        let mut f = Amqp091Framer::new();
        let open = Frame::method(1, Method::new(MethodId::CHANNEL_OPEN)).to_bytes();
        assert_eq!(f.describe(&open).kind, "channel.open");
        assert_eq!(f.describe(b"AMQP\0\0\x09\x01").kind, "protocol-header");
        let mut broken = RawFrame::of(&Frame::method(1, Method::new(MethodId::CHANNEL_OPEN)));
        broken.end = 0;
        let m = f.describe(&broken.to_bytes());
        assert_eq!(m.kind, "channel.open");
        assert!(
            m.problems[0].contains("AMQP091-frame-end"),
            "{:?}",
            m.problems
        );
    }

    #[test]
    fn content_out_of_order_is_a_problem() {
        let mut f = Amqp091Framer::new();
        let frames = content_frames(
            1,
            Method::new(MethodId::BASIC_PUBLISH),
            Properties::new(),
            b"hello",
            0,
        );
        // The method, then the body without its header.
        assert!(f.describe(&frames[0].to_bytes()).problems.is_empty());
        let m = f.describe(&frames[2].to_bytes());
        assert!(
            m.problems[0].contains("AMQP091-content-order"),
            "{:?}",
            m.problems
        );
        // In order, nothing is wrong.
        let mut f = Amqp091Framer::new();
        for fr in &frames {
            assert!(f.describe(&fr.to_bytes()).problems.is_empty());
        }
    }
}
