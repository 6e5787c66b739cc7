//! One-line summaries and complete problem lists for traces, and the [`Framer`] the
//! protocol-agnostic layers (recorder, interposer, reports) use for CoAP.

use std::fmt::Write as _;

use crate::framing::{Decoded, FrameMeta, Framer};

use super::error::Violation;
use super::message::{Message, decode_lenient};
use super::option::OptionNumber;

/// What the dissector makes of one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dissection {
    /// The message type (`CON`, `NON`, `ACK`, `RST`), or `MALFORMED` when not even the
    /// header and token read.
    pub kind: &'static str,
    pub summary: String,
    /// Every rule the datagram breaks.
    pub problems: Vec<Violation>,
    pub message: Option<Message>,
}

/// Decodes one datagram leniently: all the rules it breaks, and a summary even when
/// it breaks some.
pub fn dissect(datagram: &[u8]) -> Dissection {
    let (message, problems) = decode_lenient(datagram);
    let (kind, summary) = match &message {
        Some(m) => (m.mtype.name(), summarize(m)),
        None => ("MALFORMED", format!("MALFORMED {}B", datagram.len())),
    };
    Dissection {
        kind,
        summary,
        problems,
        message,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A one-line description: `CON GET mid=0x1234 tok=ab /time`,
/// `ACK 2.05 Content mid=0x1234 tok=ab cf=0 obs=3 12B`.
pub fn summarize(m: &Message) -> String {
    // Writing to a String cannot fail.
    let mut s = format!("{} {} mid=0x{:04x}", m.mtype, m.code.name(), m.message_id);
    if !m.token.is_empty() {
        let _ = write!(s, " tok={}", hex(&m.token));
    }
    if m.code.is_request() {
        s.push(' ');
        s.push_str(&m.uri_path());
        let q = m.uri_query();
        if !q.is_empty() {
            let _ = write!(s, "?{q}");
        }
    }
    let locs: Vec<String> = m
        .values(OptionNumber::LocationPath)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    if !locs.is_empty() {
        let _ = write!(s, " loc=/{}", locs.join("/"));
    }
    for o in &m.options {
        use OptionNumber::*;
        let uint = o
            .as_uint()
            .map(|v| v.to_string())
            .unwrap_or_else(|| format!("0x{}", hex(&o.value)));
        match o.number {
            UriPath | UriQuery | LocationPath | UriPort | UriHost => {}
            Observe => {
                let _ = write!(s, " obs={uint}");
            }
            ContentFormat => {
                let _ = write!(s, " cf={uint}");
            }
            Accept => {
                let _ = write!(s, " accept={uint}");
            }
            MaxAge => {
                let _ = write!(s, " max-age={uint}");
            }
            ETag => {
                let _ = write!(s, " etag={}", hex(&o.value));
            }
            IfMatch => {
                let _ = write!(s, " if-match={}", hex(&o.value));
            }
            IfNoneMatch => s.push_str(" if-none-match"),
            Block1 | Block2 => match super::option::Block::from_value(&o.value) {
                Some(b) => {
                    let _ = write!(s, " {}={b}", o.number.name().to_ascii_lowercase());
                }
                None => {
                    let _ = write!(
                        s,
                        " {}=0x{}",
                        o.number.name().to_ascii_lowercase(),
                        hex(&o.value)
                    );
                }
            },
            Size1 | Size2 => {
                let _ = write!(s, " {}={uint}", o.number.name().to_ascii_lowercase());
            }
            other => {
                let _ = write!(s, " {}", other.name().to_ascii_lowercase());
                if !o.value.is_empty() {
                    let _ = write!(s, "=0x{}", hex(&o.value));
                }
            }
        }
    }
    if !m.payload.is_empty() {
        let _ = write!(s, " {}B", m.payload.len());
    }
    s
}

/// CoAP's [`Framer`]: a datagram is one frame. It is meant for transports that hand
/// over whole datagrams (the recorded UDP socket, the UDP interposer); over a stream it
/// would take everything buffered as one message.
#[derive(Debug, Clone, Default)]
pub struct CoapFramer;

impl CoapFramer {
    pub fn new() -> Self {
        CoapFramer
    }
}

impl Framer for CoapFramer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        if buf.is_empty() {
            Ok(Decoded::NeedMore(1))
        } else {
            Ok(Decoded::Done(buf.len(), buf.len()))
        }
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
    use super::super::{Code, MessageType};
    use super::*;

    #[test]
    fn summaries() {
        let m = Message::new(MessageType::Con, Code::GET, 0x1234)
            .with_token(&[0xab])
            .with_path("/time");
        assert_eq!(summarize(&m), "CON GET mid=0x1234 tok=ab /time");
        let m = Message::new(MessageType::Ack, Code::CONTENT, 0x1234)
            .with_token(&[0xab])
            .with_uint(OptionNumber::ContentFormat, 0)
            .with_uint(OptionNumber::Observe, 3)
            .with_option(OptionNumber::Block2, vec![0x1e])
            .with_payload(*b"hello");
        assert_eq!(
            summarize(&m),
            "ACK 2.05 Content mid=0x1234 tok=ab obs=3 cf=0 block2=1/1/1024 5B"
        );
        assert_eq!(
            summarize(&Message::empty(MessageType::Rst, 7)),
            "RST Empty mid=0x0007"
        );
        let m = Message::new(MessageType::Non, Code::GET, 1)
            .with_path("/a/b")
            .with_query("x=1")
            .with_query("y")
            .with_option(OptionNumber::Unknown(9), vec![1]);
        assert_eq!(summarize(&m), "NON GET mid=0x0001 /a/b?x=1&y option9=0x01");
    }

    #[test]
    fn framer_takes_a_datagram_whole() {
        let mut f = CoapFramer::new();
        assert_eq!(f.frame_len(&[]), Ok(Decoded::NeedMore(1)));
        assert_eq!(f.frame_len(&[0x40, 0, 0, 1]), Ok(Decoded::Done(4, 4)));
        let meta = f.describe(&[0x40, 0, 0, 1]);
        assert_eq!(
            (meta.kind, meta.summary.as_str()),
            ("CON", "CON Empty mid=0x0001")
        );
        assert!(meta.problems.is_empty());
        let meta = f.describe(&[0x49, 1, 0, 1]);
        assert_eq!(meta.kind, "MALFORMED");
        assert_eq!(meta.problems.len(), 1);
        assert!(
            meta.problems[0].starts_with("[RFC7252-3-tkl]"),
            "{:?}",
            meta.problems
        );
    }
}
