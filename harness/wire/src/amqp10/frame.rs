//! Protocol headers and frames (part 2, 2.2 and 2.3): what an AMQP 1.0 byte stream is
//! made of.
//!
//! A frame is `size (4) doff (1) type (1) channel (2) extended header (4·doff − 8) body`.
//! Once [`frame_len`] has delimited a frame, [`decode`] reads it strictly and returns the
//! first rule it breaks with its offset from the frame's first octet.

use std::fmt;

use crate::framing::Decoded;

use super::composite::{Class, Composite, descriptor};
use super::rules::{Rule, Violation};
use super::value::Value;

/// The IANA port of AMQP.
pub const AMQP_PORT: u16 = 5672;

/// The smallest max-frame-size a peer may announce, and the frame size in force before
/// open is exchanged (2.7.1, 2.4.1).
pub const MIN_MAX_FRAME_SIZE: u32 = 512;

/// The frame header: size, doff, type, channel.
pub const FRAME_HEADER_LEN: usize = 8;

/// Frame types (2.3.1).
pub mod frame_type {
    pub const AMQP: u8 = 0x00;
    pub const SASL: u8 = 0x01;
}

/// The eight octets that open a connection and each protocol layer: `AMQP`, a protocol
/// id, and the version major, minor, revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolHeader {
    pub name: [u8; 4],
    pub id: u8,
    pub version: [u8; 3],
}

impl ProtocolHeader {
    pub const AMQP: ProtocolHeader = ProtocolHeader {
        name: *b"AMQP",
        id: 0,
        version: [1, 0, 0],
    };
    pub const SASL: ProtocolHeader = ProtocolHeader {
        name: *b"AMQP",
        id: 3,
        version: [1, 0, 0],
    };
    /// The TLS layer's header (protocol id 2); hilt does not speak it, but names it.
    pub const TLS: ProtocolHeader = ProtocolHeader {
        name: *b"AMQP",
        id: 2,
        version: [1, 0, 0],
    };

    pub fn parse(buf: &[u8]) -> Decoded<ProtocolHeader> {
        if buf.len() < 8 {
            return Decoded::NeedMore(8 - buf.len());
        }
        let mut name = [0; 4];
        name.copy_from_slice(&buf[..4]);
        Decoded::Done(
            ProtocolHeader {
                name,
                id: buf[4],
                version: [buf[5], buf[6], buf[7]],
            },
            8,
        )
    }

    /// Whether this is a 1.0 header of a known layer (AMQP, TLS or SASL).
    pub fn check(&self) -> Result<(), Violation> {
        if self.name != *b"AMQP" {
            return Err(Violation::new(
                Rule::ProtocolHeader,
                0,
                format!(
                    "protocol name {:?}, not \"AMQP\"",
                    String::from_utf8_lossy(&self.name)
                ),
            ));
        }
        if !matches!(self.id, 0 | 2 | 3) {
            return Err(Violation::new(
                Rule::ProtocolHeader,
                4,
                format!("protocol id {}, not 0, 2 or 3", self.id),
            ));
        }
        if self.version != [1, 0, 0] {
            return Err(Violation::new(
                Rule::ProtocolHeader,
                5,
                format!("version {:?}, not 1.0.0", self.version),
            ));
        }
        Ok(())
    }

    /// Whether the header names AMQP 1.0 (any layer) rather than 0-9-1 or another
    /// version: what tells the two protocols apart on a shared port.
    pub fn is_1_0(&self) -> bool {
        self.name == *b"AMQP" && self.version == [1, 0, 0]
    }

    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0; 8];
        b[..4].copy_from_slice(&self.name);
        b[4] = self.id;
        b[5..].copy_from_slice(&self.version);
        b
    }
}

impl fmt::Display for ProtocolHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer = match self.id {
            0 => "amqp",
            2 => "tls",
            3 => "sasl",
            _ => "unknown",
        };
        let v = self.version;
        write!(
            f,
            "protocol-header {:?} id={} ({layer}) {}.{}.{}",
            String::from_utf8_lossy(&self.name),
            self.id,
            v[0],
            v[1],
            v[2]
        )
    }
}

/// What a frame carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// An AMQP frame with no body: a heartbeat that keeps the idle time-out away (2.4.5).
    Empty,
    /// An AMQP frame: a performative, and (for transfer) the payload after it.
    Amqp {
        performative: Composite,
        payload: Vec<u8>,
    },
    /// A SASL frame.
    Sasl(Composite),
}

/// One frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub channel: u16,
    pub body: Body,
}

impl Frame {
    /// An AMQP frame carrying `p` and no payload.
    pub fn amqp(channel: u16, p: Composite) -> Frame {
        Frame {
            channel,
            body: Body::Amqp {
                performative: p,
                payload: Vec::new(),
            },
        }
    }

    pub fn transfer(channel: u16, p: Composite, payload: Vec<u8>) -> Frame {
        Frame {
            channel,
            body: Body::Amqp {
                performative: p,
                payload,
            },
        }
    }

    pub fn sasl(p: Composite) -> Frame {
        Frame {
            channel: 0,
            body: Body::Sasl(p),
        }
    }

    pub fn empty() -> Frame {
        Frame {
            channel: 0,
            body: Body::Empty,
        }
    }

    pub fn frame_type(&self) -> u8 {
        match self.body {
            Body::Sasl(_) => frame_type::SASL,
            _ => frame_type::AMQP,
        }
    }

    /// The performative or SASL frame, if any.
    pub fn performative(&self) -> Option<&Composite> {
        match &self.body {
            Body::Amqp { performative, .. } | Body::Sasl(performative) => Some(performative),
            Body::Empty => None,
        }
    }

    pub fn payload(&self) -> &[u8] {
        match &self.body {
            Body::Amqp { payload, .. } => payload,
            _ => &[],
        }
    }

    /// The name a trace shows: the performative's (`attach`, `sasl-init`) or `empty`.
    pub fn kind(&self) -> &'static str {
        self.performative().map_or("empty", Composite::name)
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0, 0, 0, 0, 2, self.frame_type()]);
        out.extend_from_slice(&self.channel.to_be_bytes());
        match &self.body {
            Body::Empty => {}
            Body::Amqp {
                performative,
                payload,
            } => {
                performative.encode(out);
                out.extend_from_slice(payload);
            }
            Body::Sasl(p) => p.encode(out),
        }
        let size = (out.len() - at) as u32;
        out[at..at + 4].copy_from_slice(&size.to_be_bytes());
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.emit(&mut out);
        out
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            Body::Empty => write!(f, "ch{} empty", self.channel),
            Body::Amqp {
                performative,
                payload,
            } => {
                write!(f, "ch{} {performative}", self.channel)?;
                if !payload.is_empty() {
                    write!(f, " +{}B", payload.len())?;
                }
                Ok(())
            }
            Body::Sasl(p) => write!(f, "sasl {p}"),
        }
    }
}

/// Largest frame hilt will buffer: a bound on what a broken size field can make a reader
/// wait for.
pub const MAX_FRAME_SIZE: u32 = 1 << 28;

/// The length of the frame (or protocol header) at the start of `buf`.
pub fn frame_len(buf: &[u8]) -> Result<Decoded<usize>, Violation> {
    if buf.first() == Some(&b'A') {
        return Ok(match ProtocolHeader::parse(buf) {
            Decoded::Done(_, n) => Decoded::Done(n, n),
            Decoded::NeedMore(n) => Decoded::NeedMore(n),
        });
    }
    if buf.len() < 4 {
        return Ok(Decoded::NeedMore(4 - buf.len()));
    }
    let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < FRAME_HEADER_LEN as u32 {
        return Err(Violation::new(
            Rule::FrameHeader,
            0,
            format!("a frame size of {size}, below the 8-octet header"),
        ));
    }
    if size > MAX_FRAME_SIZE {
        return Err(Violation::new(
            Rule::MaxFrameSize,
            0,
            format!("a frame size of {size} octets"),
        ));
    }
    let total = size as usize;
    Ok(if buf.len() < total {
        Decoded::NeedMore(total - buf.len())
    } else {
        Decoded::Done(total, total)
    })
}

/// Reads the frame at the start of `buf`. `max_frame_size` is the limit the reader
/// announced (0: none checked).
pub fn decode(buf: &[u8], max_frame_size: u32) -> Result<Decoded<Frame>, Violation> {
    let total = match frame_len(buf)? {
        Decoded::Done(n, _) => n,
        Decoded::NeedMore(n) => return Ok(Decoded::NeedMore(n)),
    };
    if buf[0] == b'A' {
        return Err(Violation::new(
            Rule::FrameHeader,
            0,
            "a protocol header where a frame was expected",
        ));
    }
    if max_frame_size != 0 && total > max_frame_size as usize {
        return Err(Violation::new(
            Rule::MaxFrameSize,
            0,
            format!("a frame of {total} octets, above max-frame-size {max_frame_size}"),
        ));
    }
    let frame = &buf[..total];
    let doff = usize::from(frame[4]);
    if doff < 2 || doff * 4 > total {
        return Err(Violation::new(
            Rule::FrameHeader,
            4,
            format!("data offset {doff} in a frame of {total} octets"),
        ));
    }
    let channel = u16::from_be_bytes([frame[6], frame[7]]);
    let start = doff * 4;
    let body_bytes = &frame[start..];
    let body = match frame[5] {
        frame_type::AMQP if body_bytes.is_empty() => Body::Empty,
        frame_type::AMQP => {
            let (p, used) = performative(body_bytes, start, Class::Performative)?;
            Body::Amqp {
                performative: p,
                payload: body_bytes[used..].to_vec(),
            }
        }
        frame_type::SASL => {
            let (p, used) = performative(body_bytes, start, Class::Sasl)?;
            if used != body_bytes.len() {
                return Err(Violation::new(
                    Rule::FrameBody,
                    start + used,
                    format!(
                        "{} octets after the {} SASL frame",
                        body_bytes.len() - used,
                        p.name()
                    ),
                ));
            }
            Body::Sasl(p)
        }
        t => {
            return Err(Violation::new(
                Rule::FrameType,
                5,
                format!("frame type 0x{t:02x} is not defined"),
            ));
        }
    };
    if let Body::Amqp {
        performative,
        payload,
    } = &body
        && !payload.is_empty()
        && !performative.is(descriptor::TRANSFER)
    {
        return Err(Violation::new(
            Rule::FrameBody,
            total - payload.len(),
            format!("{} octets after {}", payload.len(), performative.name()),
        ));
    }
    Ok(Decoded::Done(Frame { channel, body }, total))
}

/// The performative (or SASL frame) at the start of a frame body; `at` is the body's
/// offset in the frame.
fn performative(body: &[u8], at: usize, class: Class) -> Result<(Composite, usize), Violation> {
    let (v, used) = Value::decode(body).map_err(|e| e.shifted(at))?;
    let what = match class {
        Class::Sasl => "a SASL frame",
        _ => "a performative",
    };
    let Some((d, _)) = v.as_described() else {
        return Err(Violation::new(
            Rule::FrameBody,
            at,
            format!("a {} where {what} was expected", v.type_name()),
        ));
    };
    let c = Composite::from_value(&v).map_err(|e| {
        Violation::new(
            Rule::Performative,
            at,
            format!("{} (descriptor {d}) where {what} was expected", e.detail),
        )
    })?;
    if c.spec.class != class {
        return Err(Violation::new(
            Rule::Performative,
            at,
            format!("{} where {what} was expected", c.name()),
        ));
    }
    c.check(at)?;
    Ok((c, used))
}

/// A frame written exactly as given: any size field, data offset, type, channel, extended
/// header and body, for tests that send what a broken peer would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// The size field; `None` writes the real size.
    pub size: Option<u32>,
    /// The data offset; `None` writes the one the extended header needs.
    pub doff: Option<u8>,
    pub frame_type: u8,
    pub channel: u16,
    pub extended: Vec<u8>,
    pub body: Vec<u8>,
}

impl RawFrame {
    pub fn new(frame_type: u8, channel: u16, body: Vec<u8>) -> Self {
        RawFrame {
            size: None,
            doff: None,
            frame_type,
            channel,
            extended: Vec::new(),
            body,
        }
    }

    /// `frame` as raw parts, to be broken in one place.
    pub fn of(frame: &Frame) -> Self {
        let bytes = frame.to_bytes();
        RawFrame::new(
            frame.frame_type(),
            frame.channel,
            bytes[FRAME_HEADER_LEN..].to_vec(),
        )
    }

    /// An AMQP frame whose body is `v` (any value, described or not) and `payload`.
    pub fn amqp_value(channel: u16, v: &Value, payload: &[u8]) -> Self {
        let mut body = v.to_bytes();
        body.extend_from_slice(payload);
        RawFrame::new(frame_type::AMQP, channel, body)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let real = FRAME_HEADER_LEN + self.extended.len() + self.body.len();
        let mut out = Vec::with_capacity(real);
        out.extend_from_slice(&self.size.unwrap_or(real as u32).to_be_bytes());
        let doff = self
            .doff
            .unwrap_or(((FRAME_HEADER_LEN + self.extended.len()) / 4) as u8);
        out.push(doff);
        out.push(self.frame_type);
        out.extend_from_slice(&self.channel.to_be_bytes());
        out.extend_from_slice(&self.extended);
        out.extend_from_slice(&self.body);
        out
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// `open` with container-id "c": size 17, doff 2, type 0, channel 0.
    static OPEN: [u8; 17] = [
        0, 0, 0, 17, 2, 0, 0, 0, 0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa1, 0x01, b'c',
    ];

    fn open() -> Frame {
        Frame::amqp(0, Composite::named("open").with("container-id", "c"))
    }

    #[test]
    fn parse_and_emit_open() {
        let bytes = open().to_bytes();
        assert_eq!(bytes, OPEN);
        assert_eq!(decode(&bytes, 0), Ok(Decoded::Done(open(), 17)));
    }

    #[test]
    fn empty_frame_is_eight_octets() {
        let b = Frame::empty().to_bytes();
        assert_eq!(b, [0, 0, 0, 8, 2, 0, 0, 0]);
        assert_eq!(decode(&b, 0), Ok(Decoded::Done(Frame::empty(), 8)));
    }

    #[test]
    fn extended_header_is_skipped() {
        let mut raw = RawFrame::of(&open());
        raw.extended = vec![0xa5; 4];
        let b = raw.to_bytes();
        assert_eq!(b[4], 3);
        assert_eq!(decode(&b, 0), Ok(Decoded::Done(open(), b.len())));
    }

    #[test]
    fn partial_input_asks_for_more() {
        let b = open().to_bytes();
        for n in 0..b.len() {
            assert!(
                matches!(decode(&b[..n], 0), Ok(Decoded::NeedMore(_))),
                "{n}"
            );
        }
    }

    #[test]
    fn broken_frames_name_rule_and_offset() {
        let good = RawFrame::of(&open());
        let e = |r: RawFrame| decode(&r.to_bytes(), 0).unwrap_err();
        let mut r = good.clone();
        r.doff = Some(1);
        assert_eq!((e(r).rule, 4), (Rule::FrameHeader, 4));
        let mut r = good.clone();
        r.frame_type = 2;
        assert_eq!(e(r).rule, Rule::FrameType);
        let mut r = good.clone();
        r.frame_type = frame_type::SASL;
        assert_eq!(e(r).rule, Rule::Performative);
        let r = RawFrame::amqp_value(0, &Value::Uint(1), &[]);
        assert_eq!(e(r).rule, Rule::FrameBody);
        let r = RawFrame::amqp_value(
            0,
            &Value::described(Value::Ulong(0x99), Value::List(vec![])),
            &[],
        );
        assert_eq!(e(r).rule, Rule::Performative);
        let mut r = good.clone();
        r.body.push(0x40);
        assert_eq!(e(r).rule, Rule::FrameBody);
        assert_eq!(
            frame_len(&[0, 0, 0, 7]).unwrap_err().rule,
            Rule::FrameHeader
        );
        assert_eq!(
            decode(&open().to_bytes(), 16).unwrap_err().rule,
            Rule::MaxFrameSize
        );
    }

    #[test]
    fn protocol_headers() {
        assert_eq!(
            ProtocolHeader::parse(b"AMQP\x03\x01\x00\x00"),
            Decoded::Done(ProtocolHeader::SASL, 8)
        );
        assert!(ProtocolHeader::AMQP.check().is_ok());
        let v091 = ProtocolHeader {
            name: *b"AMQP",
            id: 0,
            version: [0, 9, 1],
        };
        assert_eq!(v091.check().unwrap_err().offset, 5);
        assert!(!v091.is_1_0());
    }
}
