//! Frames and the protocol header: the two things a byte stream of 0-9-1 is made of.
//!
//! A frame is `type (1) channel (2) size (4) payload (size) frame-end (1)`. Once
//! [`frame_len`] has delimited a frame, [`decode`] reads it strictly: the first rule it
//! breaks is returned with its offset from the frame's first octet.

use std::fmt;

use crate::framing::Decoded;

use super::content::{ContentHeader, Properties};
use super::method::Method;
use super::rules::{Rule, Violation};
use super::spec::{FRAME_END, FRAME_HEADER_LEN, PROTOCOL_HEADER, frame_type};

/// The header that opens a connection: `AMQP` then four octets naming the version
/// (0, 0, 9, 1 for 0-9-1; RabbitMQ also knows 0-8 and 0-9, and 1.0's `AMQP 0 1 0 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolHeader {
    pub name: [u8; 4],
    pub version: [u8; 4],
}

impl ProtocolHeader {
    pub const V0_9_1: ProtocolHeader = ProtocolHeader {
        name: *b"AMQP",
        version: [0, 0, 9, 1],
    };

    /// Reads the eight octets at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Decoded<ProtocolHeader> {
        if buf.len() < 8 {
            return Decoded::NeedMore(8 - buf.len());
        }
        let mut name = [0; 4];
        let mut version = [0; 4];
        name.copy_from_slice(&buf[..4]);
        version.copy_from_slice(&buf[4..8]);
        Decoded::Done(ProtocolHeader { name, version }, 8)
    }

    /// Whether this is the 0-9-1 header exactly.
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
        if self.version != PROTOCOL_HEADER[4..] {
            return Err(Violation::new(
                Rule::ProtocolHeader,
                4,
                format!("version octets {:?}, not [0, 0, 9, 1]", self.version),
            ));
        }
        Ok(())
    }

    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0; 8];
        b[..4].copy_from_slice(&self.name);
        b[4..].copy_from_slice(&self.version);
        b
    }
}

impl fmt::Display for ProtocolHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.version;
        write!(
            f,
            "protocol-header {:?} {}-{}-{}-{}",
            String::from_utf8_lossy(&self.name),
            v[0],
            v[1],
            v[2],
            v[3]
        )
    }
}

/// What a frame carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Method(Method),
    Header(ContentHeader),
    Body(Vec<u8>),
    Heartbeat,
}

/// One frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub channel: u16,
    pub payload: Payload,
}

impl Frame {
    pub fn method(channel: u16, m: Method) -> Frame {
        Frame {
            channel,
            payload: Payload::Method(m),
        }
    }

    pub fn heartbeat() -> Frame {
        Frame {
            channel: 0,
            payload: Payload::Heartbeat,
        }
    }

    pub fn frame_type(&self) -> u8 {
        match self.payload {
            Payload::Method(_) => frame_type::METHOD,
            Payload::Header(_) => frame_type::HEADER,
            Payload::Body(_) => frame_type::BODY,
            Payload::Heartbeat => frame_type::HEARTBEAT,
        }
    }

    pub fn as_method(&self) -> Option<&Method> {
        match &self.payload {
            Payload::Method(m) => Some(m),
            _ => None,
        }
    }

    /// The name a trace shows: the method's (`basic.deliver`), or `content-header`,
    /// `content-body`, `heartbeat`.
    pub fn kind(&self) -> &'static str {
        match &self.payload {
            Payload::Method(m) => m.name(),
            Payload::Header(_) => "content-header",
            Payload::Body(_) => "content-body",
            Payload::Heartbeat => "heartbeat",
        }
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.frame_type());
        out.extend_from_slice(&self.channel.to_be_bytes());
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        match &self.payload {
            Payload::Method(m) => m.encode(out),
            Payload::Header(h) => h.encode(out),
            Payload::Body(b) => out.extend_from_slice(b),
            Payload::Heartbeat => {}
        }
        let size = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        out.push(FRAME_END);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.emit(&mut out);
        out
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ch{} ", self.channel)?;
        match &self.payload {
            Payload::Method(m) => write!(f, "{m}"),
            Payload::Header(h) => write!(f, "{h}"),
            Payload::Body(b) => write!(f, "content-body {}B", b.len()),
            Payload::Heartbeat => f.write_str("heartbeat"),
        }
    }
}

/// The frames of one message: the content-bearing method, its header, and the body cut
/// into frames no larger than `frame_max` (0: no limit) octets, header and end included.
pub fn content_frames(
    channel: u16,
    method: Method,
    properties: Properties,
    body: &[u8],
    frame_max: u32,
) -> Vec<Frame> {
    let mut frames = vec![
        Frame::method(channel, method),
        Frame {
            channel,
            payload: Payload::Header(ContentHeader::basic(body.len() as u64, properties)),
        },
    ];
    let room = match frame_max {
        0 => usize::MAX,
        n => (n as usize).saturating_sub(FRAME_HEADER_LEN + 1).max(1),
    };
    frames.extend(body.chunks(room).map(|c| Frame {
        channel,
        payload: Payload::Body(c.to_vec()),
    }));
    frames
}

/// Largest payload hilt will buffer for one frame: a bound on what a broken size field
/// can make a reader wait for.
pub const MAX_FRAME_SIZE: u32 = 1 << 28;

/// The length of the frame (or protocol header) at the start of `buf`.
pub fn frame_len(buf: &[u8]) -> Result<Decoded<usize>, Violation> {
    if buf.first() == Some(&b'A') {
        return Ok(match ProtocolHeader::parse(buf) {
            Decoded::Done(_, n) => Decoded::Done(n, n),
            Decoded::NeedMore(n) => Decoded::NeedMore(n),
        });
    }
    if buf.len() < FRAME_HEADER_LEN {
        return Ok(Decoded::NeedMore(FRAME_HEADER_LEN - buf.len()));
    }
    let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]);
    if size > MAX_FRAME_SIZE {
        return Err(Violation::new(
            Rule::FrameMax,
            3,
            format!("a payload of {size} octets"),
        ));
    }
    let total = FRAME_HEADER_LEN + size as usize + 1;
    Ok(if buf.len() < total {
        Decoded::NeedMore(total - buf.len())
    } else {
        Decoded::Done(total, total)
    })
}

/// Reads the frame at the start of `buf`. `frame_max` is the negotiated limit (0: none
/// yet checked): a larger frame breaks [`Rule::FrameMax`].
pub fn decode(buf: &[u8], frame_max: u32) -> Result<Decoded<Frame>, Violation> {
    let total = match frame_len(buf)? {
        Decoded::Done(n, _) => n,
        Decoded::NeedMore(n) => return Ok(Decoded::NeedMore(n)),
    };
    if buf[0] == b'A' {
        return Err(Violation::new(
            Rule::FrameType,
            0,
            "a protocol header where a frame was expected",
        ));
    }
    let frame = &buf[..total];
    if frame_max != 0 && total > frame_max as usize {
        return Err(Violation::new(
            Rule::FrameMax,
            3,
            format!("a frame of {total} octets, above frame-max {frame_max}"),
        ));
    }
    let end = frame[total - 1];
    if end != FRAME_END {
        return Err(Violation::new(
            Rule::FrameEnd,
            total - 1,
            format!("frame-end 0x{end:02x}, not 0xce"),
        ));
    }
    let channel = u16::from_be_bytes([frame[1], frame[2]]);
    let body = &frame[FRAME_HEADER_LEN..total - 1];
    let payload = match frame[0] {
        frame_type::METHOD => {
            let m = Method::decode(body, FRAME_HEADER_LEN)?;
            let on_zero = m.spec.class_id == 10;
            if on_zero != (channel == 0) {
                return Err(Violation::new(
                    Rule::ChannelZero,
                    1,
                    format!("{} on channel {channel}", m.name()),
                ));
            }
            Payload::Method(m)
        }
        frame_type::HEADER => Payload::Header(ContentHeader::decode(body, FRAME_HEADER_LEN)?),
        frame_type::BODY => Payload::Body(body.to_vec()),
        frame_type::HEARTBEAT => {
            if channel != 0 || !body.is_empty() {
                return Err(Violation::new(
                    Rule::Heartbeat,
                    1,
                    format!(
                        "a heartbeat on channel {channel} with {} octets",
                        body.len()
                    ),
                ));
            }
            Payload::Heartbeat
        }
        t => {
            return Err(Violation::new(
                Rule::FrameType,
                0,
                format!("frame type {t} is not defined"),
            ));
        }
    };
    if matches!(payload, Payload::Header(_) | Payload::Body(_)) && channel == 0 {
        return Err(Violation::new(Rule::ChannelZero, 1, "content on channel 0"));
    }
    Ok(Decoded::Done(Frame { channel, payload }, total))
}

/// A frame written exactly as given: any type, channel, declared size and end octet, for
/// tests that send what a broken peer would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub frame_type: u8,
    pub channel: u16,
    pub payload: Vec<u8>,
    /// The size field; `None` writes the payload's real length.
    pub size: Option<u32>,
    pub end: u8,
}

impl RawFrame {
    pub fn new(frame_type: u8, channel: u16, payload: Vec<u8>) -> Self {
        RawFrame {
            frame_type,
            channel,
            payload,
            size: None,
            end: FRAME_END,
        }
    }

    /// `frame` as raw parts, to be broken in one place.
    pub fn of(frame: &Frame) -> Self {
        let bytes = frame.to_bytes();
        RawFrame::new(
            bytes[0],
            frame.channel,
            bytes[FRAME_HEADER_LEN..bytes.len() - 1].to_vec(),
        )
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + 8);
        out.push(self.frame_type);
        out.extend_from_slice(&self.channel.to_be_bytes());
        let size = self.size.unwrap_or(self.payload.len() as u32);
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out.push(self.end);
        out
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::amqp091::spec::MethodId;

    static CHANNEL_OPEN: [u8; 13] = [1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0xce];

    #[test]
    fn parse_and_emit_channel_open() {
        let f = Frame::method(1, Method::new(MethodId::CHANNEL_OPEN));
        assert_eq!(f.to_bytes(), CHANNEL_OPEN);
        assert_eq!(decode(&CHANNEL_OPEN, 0), Ok(Decoded::Done(f, 13)));
    }

    #[test]
    fn partial_input_asks_for_more() {
        for n in 0..CHANNEL_OPEN.len() {
            assert!(matches!(
                decode(&CHANNEL_OPEN[..n], 0),
                Ok(Decoded::NeedMore(_))
            ));
        }
        assert_eq!(frame_len(b"AMQ"), Ok(Decoded::NeedMore(5)));
    }

    #[test]
    fn heartbeat_is_eight_octets() {
        let b = Frame::heartbeat().to_bytes();
        assert_eq!(b, [8, 0, 0, 0, 0, 0, 0, 0xce]);
        assert_eq!(decode(&b, 0), Ok(Decoded::Done(Frame::heartbeat(), 8)));
    }

    #[test]
    fn broken_frames_name_rule_and_offset() {
        let mut bad_end = CHANNEL_OPEN;
        bad_end[12] = 0;
        let e = decode(&bad_end, 0).unwrap_err();
        assert_eq!((e.rule, e.offset), (Rule::FrameEnd, 12));
        let mut bad_type = CHANNEL_OPEN;
        bad_type[0] = 4;
        assert_eq!(decode(&bad_type, 0).unwrap_err().rule, Rule::FrameType);
        let mut on_zero = CHANNEL_OPEN;
        on_zero[2] = 0;
        assert_eq!(decode(&on_zero, 0).unwrap_err().rule, Rule::ChannelZero);
        assert_eq!(decode(&CHANNEL_OPEN, 12).unwrap_err().rule, Rule::FrameMax);
        let hb_on_1 = RawFrame::new(8, 1, vec![]).to_bytes();
        assert_eq!(decode(&hb_on_1, 0).unwrap_err().rule, Rule::Heartbeat);
    }

    #[test]
    fn body_is_split_by_frame_max() {
        let publish = Method::new(MethodId::BASIC_PUBLISH);
        let frames = content_frames(1, publish, Properties::new(), &[7; 10_000], 4096);
        let bodies: Vec<usize> = frames
            .iter()
            .filter_map(|f| match &f.payload {
                Payload::Body(b) => Some(b.len()),
                _ => None,
            })
            .collect();
        assert_eq!(bodies, [4088, 4088, 1824]);
        assert!(frames.iter().all(|f| f.to_bytes().len() <= 4096));
    }

    #[test]
    fn protocol_headers() {
        assert_eq!(
            ProtocolHeader::parse(b"AMQP\0\0\x09\x01"),
            Decoded::Done(ProtocolHeader::V0_9_1, 8)
        );
        let h = ProtocolHeader {
            name: *b"AMQP",
            version: [0, 0, 9, 2],
        };
        assert_eq!(h.check().unwrap_err().offset, 4);
        assert_eq!(frame_len(b"AMQP\0\0\x09\x01rest"), Ok(Decoded::Done(8, 8)));
    }

    #[test]
    fn raw_frame_writes_what_it_is_told() {
        let mut r = RawFrame::of(&Frame::heartbeat());
        r.end = 0;
        r.size = Some(3);
        assert_eq!(r.to_bytes(), [8, 0, 0, 0, 0, 0, 3, 0]);
    }
}
