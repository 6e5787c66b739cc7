//! The message: a zero-copy view over a datagram ([`Packet`]) and the validated
//! representation ([`Message`]) with `parse`, `buffer_len` and `emit` (RFC 7252 §3).
//!
//! No accessor of [`Packet`] panics, whatever the bytes: fields past the end read as
//! zero or empty, and [`Packet::check_len`] says whether the header and token are all
//! there. Options are walked lazily by [`OptionIter`], which stops at the first option
//! it cannot read and reports why.

use super::code::{Code, CodeKind, MessageType};
use super::error::Violation;
use super::option::{Block, CoapOption, OptionNumber, ValueFormat, decode_uint};
use super::rules::Rule;

mod field {
    pub const VER_T_TKL: usize = 0;
    pub const CODE: usize = 1;
    pub const MID: std::ops::Range<usize> = 2..4;
    pub const TOKEN: usize = 4;
}

/// The payload marker: the byte that ends the options.
pub const PAYLOAD_MARKER: u8 = 0xff;
/// The only version RFC 7252 defines.
pub const VERSION: u8 = 1;
/// The longest token a message may carry.
pub const MAX_TOKEN: usize = 8;

fn violation(rule: Rule, offset: usize, detail: impl Into<String>) -> Violation {
    Violation {
        rule: rule.spec_ref(),
        offset,
        detail: detail.into(),
    }
}

/// A read-only view of a datagram as a CoAP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking anything.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps `buffer` once [`Packet::check_len`] passes.
    pub fn new_checked(buffer: T) -> Result<Self, Violation> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The fixed header and the token are all there, and the token length is legal.
    pub fn check_len(&self) -> Result<(), Violation> {
        let len = self.buffer.as_ref().len();
        if len < field::TOKEN {
            return Err(violation(
                Rule::Truncated,
                len,
                format!("{len} bytes, shorter than the 4-byte header"),
            ));
        }
        let tkl = usize::from(self.token_len());
        if tkl > MAX_TOKEN {
            return Err(violation(
                Rule::TokenLength,
                0,
                format!("token length {tkl} (9-15 are reserved)"),
            ));
        }
        if len < field::TOKEN + tkl {
            return Err(violation(
                Rule::Truncated,
                len,
                format!("token of {tkl} bytes cut short at {len} bytes"),
            ));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }

    pub fn version(&self) -> u8 {
        self.byte(field::VER_T_TKL) >> 6
    }

    pub fn msg_type(&self) -> MessageType {
        MessageType::from_bits(self.byte(field::VER_T_TKL) >> 4)
    }

    /// The Token Length nibble as sent (0–15).
    pub fn token_len(&self) -> u8 {
        self.byte(field::VER_T_TKL) & 0x0f
    }

    pub fn code(&self) -> Code {
        Code(self.byte(field::CODE))
    }

    pub fn message_id(&self) -> u16 {
        u16::from_be_bytes([self.byte(field::MID.start), self.byte(field::MID.end - 1)])
    }

    /// The token: as many of the announced bytes as the datagram holds (at most 8).
    pub fn token(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let tkl = usize::from(self.token_len()).min(MAX_TOKEN);
        let end = (field::TOKEN + tkl).min(b.len());
        b.get(field::TOKEN..end).unwrap_or_default()
    }

    /// The options, in wire order.
    pub fn options(&self) -> OptionIter<'_> {
        let b = self.buffer.as_ref();
        let start = field::TOKEN + usize::from(self.token_len()).min(MAX_TOKEN);
        OptionIter {
            buf: b,
            pos: start.min(b.len()),
            number: 0,
            state: IterState::Options,
        }
    }

    /// The payload (after the marker); empty when there is none. Errors when the
    /// options cannot be walked to their end.
    pub fn payload(&self) -> Result<&[u8], Violation> {
        let mut it = self.options();
        for o in it.by_ref() {
            o?;
        }
        Ok(it.payload())
    }
}

/// One option as it sits in the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// The option number (sum of deltas so far).
    pub number: u16,
    pub value: &'a [u8],
    /// Offset of the option's first header byte.
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IterState {
    Options,
    /// Past the marker: the payload starts here.
    Payload(usize),
    Failed,
}

/// Walks the options of a [`Packet`]; after an `Err` it yields nothing more.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    buf: &'a [u8],
    pos: usize,
    number: u32,
    state: IterState,
}

impl<'a> OptionIter<'a> {
    /// The payload, once the iterator has run to its end without error.
    pub fn payload(&self) -> &'a [u8] {
        match self.state {
            IterState::Payload(at) => self.buf.get(at..).unwrap_or_default(),
            _ => &[],
        }
    }

    /// Reads an extended delta or length for `nibble`; `what` names it in errors.
    fn extended(&mut self, nibble: u8, at: usize, what: &str) -> Result<u32, Violation> {
        match nibble {
            0..=12 => Ok(u32::from(nibble)),
            13 => {
                let b = self.take(1, at, what)?;
                Ok(u32::from(b[0]) + 13)
            }
            14 => {
                let b = self.take(2, at, what)?;
                Ok(u32::from(u16::from_be_bytes([b[0], b[1]])) + 269)
            }
            _ => unreachable_15(at, what),
        }
    }

    fn take(&mut self, n: usize, at: usize, what: &str) -> Result<&'a [u8], Violation> {
        match self.buf.get(self.pos..self.pos + n) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(violation(
                Rule::OptionTruncated,
                at,
                format!("{what} runs past the end of the datagram"),
            )),
        }
    }

    fn step(&mut self) -> Option<Result<RawOption<'a>, Violation>> {
        let at = self.pos;
        let &first = self.buf.get(at)?;
        if first == PAYLOAD_MARKER {
            if at + 1 >= self.buf.len() {
                return Some(Err(violation(
                    Rule::EmptyPayloadAfterMarker,
                    at,
                    "payload marker followed by no payload",
                )));
            }
            self.state = IterState::Payload(at + 1);
            return None;
        }
        self.pos += 1;
        let (dn, ln) = (first >> 4, first & 0x0f);
        if dn == 15 {
            return Some(Err(violation(
                Rule::OptionDelta15,
                at,
                format!(
                    "option delta nibble 15 in byte 0x{first:02x}, which is not the payload marker"
                ),
            )));
        }
        if ln == 15 {
            return Some(Err(violation(
                Rule::OptionLength15,
                at,
                format!("option length nibble 15 in byte 0x{first:02x}"),
            )));
        }
        let r = (|| {
            let delta = self.extended(dn, at, "option delta")?;
            let len = self.extended(ln, at, "option length")?;
            let number = self.number + delta;
            if number > u32::from(u16::MAX) {
                return Err(violation(
                    Rule::OptionNumberOverflow,
                    at,
                    format!("option number {number} is above 65535"),
                ));
            }
            let value = self.take(
                len as usize,
                at,
                &format!("option {number}'s {len}-byte value"),
            )?;
            self.number = number;
            Ok(RawOption {
                number: number as u16,
                value,
                offset: at,
            })
        })();
        Some(r)
    }
}

/// Nibble 15 is handled before `extended` is called; this keeps the match total
/// without a panic.
fn unreachable_15(at: usize, what: &str) -> Result<u32, Violation> {
    Err(violation(
        Rule::OptionLength15,
        at,
        format!("{what} nibble 15"),
    ))
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<RawOption<'a>, Violation>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != IterState::Options {
            return None;
        }
        let r = self.step();
        match &r {
            Some(Err(_)) => self.state = IterState::Failed,
            None if self.state == IterState::Options => {
                // Ran off the end without a marker: no payload.
                self.state = IterState::Payload(self.buf.len());
            }
            _ => {}
        }
        r
    }
}

/// A validated CoAP message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    pub mtype: MessageType,
    pub code: Code,
    pub message_id: u16,
    /// At most 8 bytes.
    pub token: Vec<u8>,
    /// In number order; repeated options keep their relative order.
    pub options: Vec<CoapOption>,
    pub payload: Vec<u8>,
}

impl Message {
    /// A message with no token, options or payload.
    pub fn new(mtype: MessageType, code: Code, message_id: u16) -> Self {
        Message {
            mtype,
            code,
            message_id,
            token: Vec::new(),
            options: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// An Empty message of `mtype` (an ACK, a RST, or a CoAP ping as CON).
    pub fn empty(mtype: MessageType, message_id: u16) -> Self {
        Message::new(mtype, Code::EMPTY, message_id)
    }

    pub fn with_token(mut self, token: &[u8]) -> Self {
        self.token = token.to_vec();
        self
    }

    /// Adds Uri-Path options for each segment of `path` (`/a/b` → `a`, `b`).
    pub fn with_path(mut self, path: &str) -> Self {
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            self.push(CoapOption::new(OptionNumber::UriPath, seg.as_bytes()));
        }
        self
    }

    pub fn with_query(mut self, query: &str) -> Self {
        self.push(CoapOption::new(OptionNumber::UriQuery, query.as_bytes()));
        self
    }

    pub fn with_option(mut self, number: OptionNumber, value: impl Into<Vec<u8>>) -> Self {
        self.push(CoapOption::new(number, value));
        self
    }

    pub fn with_uint(mut self, number: OptionNumber, value: u32) -> Self {
        self.push(CoapOption::uint(number, value));
        self
    }

    pub fn with_payload(mut self, payload: impl Into<Vec<u8>>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Inserts `o` after every option with a number not above its own, keeping order.
    pub fn push(&mut self, o: CoapOption) {
        let at = self
            .options
            .iter()
            .position(|x| x.number.number() > o.number.number())
            .unwrap_or(self.options.len());
        self.options.insert(at, o);
    }

    /// Values of every option numbered `n`, in order.
    pub fn values(&self, n: OptionNumber) -> impl Iterator<Item = &[u8]> {
        self.options
            .iter()
            .filter(move |o| o.number == n)
            .map(|o| o.value.as_slice())
    }

    /// The first value of option `n`.
    pub fn option(&self, n: OptionNumber) -> Option<&[u8]> {
        self.values(n).next()
    }

    /// The first value of option `n` as a uint.
    pub fn uint(&self, n: OptionNumber) -> Option<u32> {
        self.option(n).and_then(decode_uint)
    }

    /// The Uri-Path as a path: `/` then the segments joined by `/`.
    pub fn uri_path(&self) -> String {
        let segs: Vec<String> = self
            .values(OptionNumber::UriPath)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        format!("/{}", segs.join("/"))
    }

    /// The Uri-Query options joined by `&`, empty when there are none.
    pub fn uri_query(&self) -> String {
        self.values(OptionNumber::UriQuery)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect::<Vec<_>>()
            .join("&")
    }

    pub fn content_format(&self) -> Option<u32> {
        self.uint(OptionNumber::ContentFormat)
    }

    pub fn observe(&self) -> Option<u32> {
        self.uint(OptionNumber::Observe)
    }

    pub fn block1(&self) -> Option<Block> {
        self.option(OptionNumber::Block1)
            .and_then(Block::from_value)
    }

    pub fn block2(&self) -> Option<Block> {
        self.option(OptionNumber::Block2)
            .and_then(Block::from_value)
    }

    pub fn etag(&self) -> Option<&[u8]> {
        self.option(OptionNumber::ETag)
    }

    /// Decodes a datagram strictly: the first rule of RFC 7252 §3–§4 it breaks is the
    /// error. Option values are not judged here (a receiver treats a bad one like an
    /// unknown option, §5.4.3); [`option_problems`] lists those.
    pub fn parse(buf: &[u8]) -> Result<Message, Violation> {
        let p = Packet::new_unchecked(buf);
        if p.version() != VERSION && !buf.is_empty() {
            return Err(violation(
                Rule::Version,
                0,
                format!("version {} (only 1 is defined)", p.version()),
            ));
        }
        p.check_len()?;
        let mut options = Vec::new();
        let mut it = p.options();
        for o in it.by_ref() {
            let o = o?;
            options.push(CoapOption::new(OptionNumber::from_u16(o.number), o.value));
        }
        let payload = it.payload().to_vec();
        let m = Message {
            mtype: p.msg_type(),
            code: p.code(),
            message_id: p.message_id(),
            token: p.token().to_vec(),
            options,
            payload,
        };
        if let Some(v) = m.semantic_problems(buf.len()).into_iter().next() {
            return Err(v);
        }
        Ok(m)
    }

    /// Rules about which type may carry which code, and Empty messages (§4.1–§4.3).
    fn semantic_problems(&self, len: usize) -> Vec<Violation> {
        let mut out = Vec::new();
        match self.code.kind() {
            CodeKind::Empty if len > 4 => out.push(violation(
                Rule::EmptyMessageNotEmpty,
                4,
                format!(
                    "Empty message (0.00) with {} bytes after the Message ID",
                    len - 4
                ),
            )),
            CodeKind::Reserved(c) => out.push(violation(
                Rule::ReservedClass,
                1,
                format!("code {} is in reserved class {c}", self.code),
            )),
            CodeKind::Request(_) if self.mtype == MessageType::Ack => out.push(violation(
                Rule::TypeCodeMismatch,
                1,
                format!("an ACK carries the request code {}", self.code.name()),
            )),
            _ => {}
        }
        if self.mtype == MessageType::Rst && !self.code.is_empty() {
            out.push(violation(
                Rule::ResetNotEmpty,
                1,
                format!("a RST carries code {}", self.code.name()),
            ));
        }
        out
    }

    /// Bytes [`Message::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let mut n = 4 + self.token.len().min(MAX_TOKEN);
        let mut prev = 0u16;
        for o in self.sorted() {
            let delta = o.number.number() - prev;
            prev = o.number.number();
            let len = o.value.len().min(MAX_OPTION_VALUE);
            n += 1 + ext_len(u32::from(delta)) + ext_len(len as u32) + len;
        }
        if !self.payload.is_empty() {
            n += 1 + self.payload.len();
        }
        n
    }

    /// Appends the encoded message to `out`. Options are written in number order; a
    /// token beyond 8 bytes and option values beyond 65 804 bytes are cut, so what is
    /// written always parses (write invalid datagrams with [`RawMessage`]).
    ///
    /// [`RawMessage`]: super::RawMessage
    pub fn emit(&self, out: &mut Vec<u8>) {
        let token = &self.token[..self.token.len().min(MAX_TOKEN)];
        out.push((VERSION << 6) | ((self.mtype as u8) << 4) | token.len() as u8);
        out.push(self.code.0);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(token);
        let mut prev = 0u16;
        for o in self.sorted() {
            let n = o.number.number();
            let value = &o.value[..o.value.len().min(MAX_OPTION_VALUE)];
            write_option_header(out, u32::from(n - prev), value.len() as u32);
            out.extend_from_slice(value);
            prev = n;
        }
        if !self.payload.is_empty() {
            out.push(PAYLOAD_MARKER);
            out.extend_from_slice(&self.payload);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        self.emit(&mut out);
        out
    }

    fn sorted(&self) -> Vec<&CoapOption> {
        let mut v: Vec<&CoapOption> = self.options.iter().collect();
        v.sort_by_key(|o| o.number.number());
        v
    }
}

/// The largest value an option header can announce: 65535 + 269.
pub const MAX_OPTION_VALUE: usize = 65_535 + 269;

fn ext_len(v: u32) -> usize {
    match v {
        0..=12 => 0,
        13..=268 => 1,
        _ => 2,
    }
}

fn nibble_and_ext(v: u32) -> (u8, Vec<u8>) {
    match v {
        0..=12 => (v as u8, Vec::new()),
        13..=268 => (13, vec![(v - 13) as u8]),
        _ => (
            14,
            ((v.min(65_535 + 269) - 269) as u16).to_be_bytes().to_vec(),
        ),
    }
}

/// Writes an option header for `delta` and `len` in their shortest forms.
pub(crate) fn write_option_header(out: &mut Vec<u8>, delta: u32, len: u32) {
    let (dn, dext) = nibble_and_ext(delta);
    let (ln, lext) = nibble_and_ext(len);
    out.push((dn << 4) | ln);
    out.extend_from_slice(&dext);
    out.extend_from_slice(&lext);
}

/// Problems with option values and repetitions (RFC 7252 §5.4.3, §5.4.5, §3.2;
/// RFC 7641 §2; RFC 7959 §2.2): what a receiver would treat as unrecognised options,
/// and encodings a sender should not use. Options after an unreadable one are not seen.
pub fn option_problems(buf: &[u8]) -> Vec<Violation> {
    let p = Packet::new_unchecked(buf);
    let mut out = Vec::new();
    let mut seen: Vec<u16> = Vec::new();
    for o in p.options().map_while(Result::ok) {
        let number = OptionNumber::from_u16(o.number);
        let Some(def) = number.def() else { continue };
        let len = o.value.len();
        if len < def.min_len || len > def.max_len {
            out.push(violation(
                Rule::OptionLength,
                o.offset,
                format!(
                    "{} value of {len} bytes (allowed {}-{})",
                    def.name, def.min_len, def.max_len
                ),
            ));
        }
        if !def.repeatable && seen.contains(&o.number) {
            out.push(violation(
                Rule::OptionRepeated,
                o.offset,
                format!("{} appears more than once", def.name),
            ));
        }
        seen.push(o.number);
        if def.format == ValueFormat::Uint && o.value.first() == Some(&0) {
            out.push(violation(
                Rule::UintNotMinimal,
                o.offset,
                format!("{} uint value has a leading zero byte", def.name),
            ));
        }
        if matches!(number, OptionNumber::Block1 | OptionNumber::Block2)
            && let Some(b) = Block::from_value(o.value)
            && b.szx == 7
        {
            out.push(violation(
                Rule::BlockSzx7,
                o.offset,
                format!("{} uses the reserved SZX 7", def.name),
            ));
        }
    }
    out
}

/// Every rule the datagram breaks (format, type/code, option values), and the message
/// when its structure could be read despite them.
pub fn decode_lenient(buf: &[u8]) -> (Option<Message>, Vec<Violation>) {
    let p = Packet::new_unchecked(buf);
    let mut problems = Vec::new();
    if !buf.is_empty() && p.version() != VERSION {
        problems.push(violation(
            Rule::Version,
            0,
            format!("version {} (only 1 is defined)", p.version()),
        ));
    }
    if let Err(v) = p.check_len() {
        problems.push(v);
        return (None, problems);
    }
    let mut options = Vec::new();
    let mut it = p.options();
    for o in it.by_ref() {
        match o {
            Ok(o) => options.push(CoapOption::new(OptionNumber::from_u16(o.number), o.value)),
            Err(v) => problems.push(v),
        }
    }
    let m = Message {
        mtype: p.msg_type(),
        code: p.code(),
        message_id: p.message_id(),
        token: p.token().to_vec(),
        options,
        payload: it.payload().to_vec(),
    };
    problems.extend(m.semantic_problems(buf.len()));
    problems.extend(option_problems(buf));
    // A broken option list still yields the header, token and the options before it.
    (Some(m), problems)
}

#[cfg(test)]
mod test {
    use super::*;

    /// CON GET mid=0x1234 token=ab, Uri-Path "time".
    static GET_TIME: [u8; 10] = [0x41, 0x01, 0x12, 0x34, 0xab, 0xb4, b't', b'i', b'm', b'e'];
    /// ACK 2.05 mid=0x1234 token=ab, Content-Format 0, Max-Age 1, payload "hi".
    static CONTENT: [u8; 11] = [
        0x61, 0x45, 0x12, 0x34, 0xab, 0xc0, 0x21, 0x01, 0xff, b'h', b'i',
    ];

    #[test]
    fn test_parse() {
        let m = Message::parse(&GET_TIME).unwrap();
        assert_eq!(m.mtype, MessageType::Con);
        assert_eq!(m.code, Code::GET);
        assert_eq!(m.message_id, 0x1234);
        assert_eq!(m.token, [0xab]);
        assert_eq!(m.uri_path(), "/time");
        let m = Message::parse(&CONTENT).unwrap();
        assert_eq!(m.content_format(), Some(0));
        assert_eq!(m.uint(OptionNumber::MaxAge), Some(1));
        assert_eq!(m.payload, b"hi");
        let p = Packet::new_checked(&CONTENT[..]).unwrap();
        assert_eq!(p.payload().unwrap(), b"hi");
        assert_eq!(p.options().count(), 2);
    }

    #[test]
    fn test_emit() {
        let m = Message::new(MessageType::Con, Code::GET, 0x1234)
            .with_token(&[0xab])
            .with_path("/time");
        assert_eq!(m.buffer_len(), GET_TIME.len());
        assert_eq!(m.to_bytes(), GET_TIME);
        let m = Message::new(MessageType::Ack, Code::CONTENT, 0x1234)
            .with_token(&[0xab])
            .with_uint(OptionNumber::MaxAge, 1)
            .with_uint(OptionNumber::ContentFormat, 0)
            .with_payload(*b"hi");
        assert_eq!(m.to_bytes(), CONTENT, "options are sorted by number");
        // Appending keeps what was in the buffer (fill pattern shows stray writes).
        let mut out = vec![0xa5];
        m.emit(&mut out);
        assert_eq!(out[0], 0xa5);
        assert_eq!(&out[1..], CONTENT);
    }

    #[test]
    fn extended_deltas_and_lengths() {
        // Option 292 (Request-Tag, delta 292 = 14 ext) then Option 2000 with a 300-byte value.
        let m = Message::new(MessageType::Non, Code::POST, 7)
            .with_option(OptionNumber::RequestTag, vec![1])
            .with_option(OptionNumber::Unknown(2000), vec![0x5a; 300])
            .with_option(OptionNumber::Unknown(20), vec![0x33; 20]);
        let b = m.to_bytes();
        // 20: delta 13 + ext 7, len 13 + ext 7.
        assert_eq!(&b[4..7], [0xdd, 7, 7]);
        let back = Message::parse(&b).unwrap();
        assert_eq!(back, {
            let mut s = m.clone();
            s.options.sort_by_key(|o| o.number.number());
            s
        });
        assert_eq!(back.buffer_len(), b.len());
    }

    #[test]
    fn test_impossible_len() {
        for (bytes, id, offset) in [
            (&[0x40, 0x01, 0x00][..], "RFC7252-3-truncated", 3),
            (
                &[0x49, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9],
                "RFC7252-3-tkl",
                0,
            ),
            (&[0x42, 0x01, 0, 1, 0xaa], "RFC7252-3-truncated", 5),
            (&[0x80, 0x01, 0, 1], "RFC7252-3-ver", 0),
            (&[0x40, 0x01, 0, 1, 0xff], "RFC7252-3-marker", 4),
            (&[0x40, 0x01, 0, 1, 0xf1, 0], "RFC7252-3.1-delta15", 4),
            (&[0x40, 0x01, 0, 1, 0x1f], "RFC7252-3.1-length15", 4),
            (&[0x40, 0x01, 0, 1, 0xd0], "RFC7252-3.1-truncated", 4),
            (&[0x40, 0x01, 0, 1, 0x13, b'a'], "RFC7252-3.1-truncated", 4),
            (&[0x40, 0x00, 0, 1, 0xff, 1], "RFC7252-4.1-empty", 4),
            (&[0x41, 0x00, 0, 1, 0xab], "RFC7252-4.1-empty", 4),
            (&[0x40, 0x21, 0, 1], "RFC7252-4.2-reserved-class", 1),
            (&[0x60, 0x01, 0, 1], "RFC7252-4-type-code", 1),
            (&[0x70, 0x45, 0, 1], "RFC7252-4.2-rst-empty", 1),
            (
                &[0x40, 0x01, 0, 1, 0xe0, 0xfe, 0xf2, 0x10],
                "RFC7252-3.1-number",
                7,
            ),
        ] {
            let e = Message::parse(bytes).unwrap_err();
            assert_eq!((e.rule.id, e.offset), (id, offset), "{bytes:02x?}: {e}");
            assert_eq!(e.rule.doc, "coap-rfc7252");
        }
    }

    #[test]
    fn option_value_problems() {
        let m = Message::new(MessageType::Con, Code::GET, 1)
            .with_option(OptionNumber::ETag, vec![])
            .with_option(OptionNumber::ContentFormat, vec![0, 1])
            .with_option(OptionNumber::ContentFormat, vec![1])
            .with_option(OptionNumber::Block2, vec![0x07]);
        let ids: Vec<&str> = option_problems(&m.to_bytes())
            .iter()
            .map(|v| v.rule.id)
            .collect();
        assert_eq!(
            ids,
            [
                "RFC7252-5.4.3-length",
                "RFC7252-3.2-uint",
                "RFC7252-5.4.5-repeat",
                "RFC7959-2.2-szx"
            ]
        );
        // Still a well-formed message: these are the receiver's judgement.
        assert!(Message::parse(&m.to_bytes()).is_ok());
    }

    #[test]
    fn unknown_options_and_codes_survive() {
        let b = [0x50, 0x1f, 0, 9, 0x91, 0x00, 0xff, 1];
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.options[0].number, OptionNumber::Unknown(9));
        assert_eq!(m.code, Code(0x1f));
        assert_eq!(m.to_bytes(), b);
    }

    #[test]
    fn view_never_panics_on_short_input() {
        let p = Packet::new_unchecked(&[][..]);
        assert_eq!((p.version(), p.message_id(), p.token()), (0, 0, &[][..]));
        assert!(p.check_len().is_err());
        assert_eq!(p.options().count(), 0);
        let p = Packet::new_unchecked(&[0x4f, 1][..]);
        assert!(p.token().is_empty());
    }
}
