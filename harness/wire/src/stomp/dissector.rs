//! One-line summaries and complete problem lists for traces, and the [`Framer`] the
//! protocol-agnostic layers (recorder, interposer, reports) use for STOMP.

use std::fmt::Write as _;

use crate::framing::{Decoded, FrameMeta, Framer};

use super::error::Violation;
use super::frame::{Frame, decode_lenient, frame_len};

/// The frame kind of an EOL between frames.
pub const HEARTBEAT: &str = "HEARTBEAT";

/// What the dissector makes of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dissection {
    /// `SEND`, `MESSAGE`…; `HEARTBEAT` for an EOL; `UNKNOWN` for other commands.
    pub kind: &'static str,
    pub summary: String,
    /// Every rule the frame breaks, in frame order.
    pub problems: Vec<Violation>,
    /// The frame, when it could be read to its end despite its problems.
    pub frame: Option<Frame>,
}

/// Decodes one complete item (as delimited by [`frame_len`]) leniently.
pub fn dissect(item: &[u8]) -> Dissection {
    if item == b"\n" || item == b"\r\n" {
        let summary = if item.len() == 2 {
            "EOL (CR LF)"
        } else {
            "EOL"
        };
        return Dissection {
            kind: HEARTBEAT,
            summary: summary.into(),
            problems: Vec::new(),
            frame: None,
        };
    }
    let (frame, problems) = decode_lenient(item);
    match frame {
        Some(f) => Dissection {
            kind: f.command.kind(),
            summary: summarize(&f),
            problems,
            frame: Some(f),
        },
        None => Dissection {
            kind: "MALFORMED",
            summary: format!("unreadable frame {}B", item.len()),
            problems,
            frame: None,
        },
    }
}

/// Longest header value shown in a summary.
const SHOWN: usize = 48;

/// A one-line description: `SEND destination="/queue/a" receipt="r1" 12B`. Every header
/// is shown in wire order (repeats too), long values cut.
pub fn summarize(frame: &Frame) -> String {
    let mut s = frame.command.to_string();
    for (name, value) in &frame.headers {
        // Writing to a String cannot fail.
        if value.chars().count() > SHOWN {
            let cut: String = value.chars().take(SHOWN).collect();
            let _ = write!(s, " {name}={cut:?}…");
        } else {
            let _ = write!(s, " {name}={value:?}");
        }
    }
    if !frame.body.is_empty() {
        let _ = write!(s, " {}B", frame.body.len());
    }
    s
}

/// STOMP's [`Framer`]: frames up to their NUL, and each EOL between frames on its own
/// (kind `HEARTBEAT`), so rules can drop or delay heart-beats.
#[derive(Debug, Clone, Default)]
pub struct StompFramer;

impl StompFramer {
    pub fn new() -> Self {
        StompFramer
    }
}

impl Framer for StompFramer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        Ok(frame_len(buf))
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        let d = dissect(frame);
        FrameMeta {
            kind: d.kind,
            summary: d.summary,
            problems: d.problems.iter().map(ToString::to_string).collect(),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn framer_splits_frames_and_heart_beats() {
        let mut f = StompFramer::new();
        let stream =
            b"\nMESSAGE\ndestination:/q\nmessage-id:1\nsubscription:0\nx:a\\cb\n\nhi\0\r\n";
        let mut at = 0;
        let mut kinds = Vec::new();
        while at < stream.len() {
            let Ok(Decoded::Done(n, _)) = f.frame_len(&stream[at..]) else {
                panic!("delimits at {at}")
            };
            let meta = f.describe(&stream[at..at + n]);
            assert!(meta.problems.is_empty(), "{:?}", meta.problems);
            kinds.push((meta.kind, meta.summary));
            at += n;
        }
        assert_eq!(
            kinds,
            [
                (HEARTBEAT, "EOL".to_owned()),
                (
                    "MESSAGE",
                    "MESSAGE destination=\"/q\" message-id=\"1\" subscription=\"0\" x=\"a:b\" 2B"
                        .to_owned()
                ),
                (HEARTBEAT, "EOL (CR LF)".to_owned()),
            ]
        );
    }

    #[test]
    fn problems_are_all_listed() {
        let d = dissect(b"SUBSCRIBE\nx:\\q\n\n\0");
        assert_eq!(d.kind, "SUBSCRIBE");
        assert_eq!(
            d.problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "[STOMP-1.2-value-encoding-3] undefined escape sequence \"\\\\q\" at offset 12",
                "[STOMP-1.2-subscribe-3] SUBSCRIBE without the required destination header at offset 0",
                "[STOMP-1.2-subscribe-id-1] SUBSCRIBE without the required id header at offset 0",
            ]
        );
    }
}
