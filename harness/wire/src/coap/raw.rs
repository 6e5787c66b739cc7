//! An unvalidated builder for negative tests: any header byte, any token length nibble,
//! option headers with any nibbles, and bytes exactly as asked.
//!
//! ```
//! use hilt_wire::coap::{Message, RawMessage};
//! // TKL 9: reserved, a message format error.
//! let bytes = RawMessage::new().header(1, 0, 9).code(0x01).mid(1).raw(&[0; 9]).build();
//! assert_eq!(Message::parse(&bytes).unwrap_err().rule.id, "RFC7252-3-tkl");
//! ```

use super::message::{PAYLOAD_MARKER, write_option_header};

/// Appends message parts to a buffer, checking nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    buf: Vec<u8>,
    /// The option number the next [`RawMessage::option`] is relative to.
    last: u32,
}

impl Default for RawMessage {
    fn default() -> Self {
        Self::new()
    }
}

impl RawMessage {
    /// An empty buffer: start with [`RawMessage::header`] or [`RawMessage::first_byte`].
    pub fn new() -> Self {
        RawMessage {
            buf: Vec::new(),
            last: 0,
        }
    }

    /// The first byte from its fields; each is cut to its width (2, 2 and 4 bits).
    pub fn header(self, version: u8, mtype: u8, tkl: u8) -> Self {
        self.first_byte(((version & 3) << 6) | ((mtype & 3) << 4) | (tkl & 0x0f))
    }

    pub fn first_byte(mut self, b: u8) -> Self {
        self.buf.push(b);
        self
    }

    pub fn code(mut self, code: u8) -> Self {
        self.buf.push(code);
        self
    }

    pub fn mid(mut self, mid: u16) -> Self {
        self.buf.extend_from_slice(&mid.to_be_bytes());
        self
    }

    /// Token bytes, whatever the TKL nibble said.
    pub fn token(self, token: &[u8]) -> Self {
        self.raw(token)
    }

    /// An option numbered `number` (relative to the previous one written with this
    /// method), with shortest-form extended delta and length. A number below the
    /// previous one is written as delta 0.
    pub fn option(mut self, number: u32, value: &[u8]) -> Self {
        let delta = number.saturating_sub(self.last);
        self.last = number.max(self.last);
        write_option_header(&mut self.buf, delta, value.len() as u32);
        self.buf.extend_from_slice(value);
        self
    }

    /// An option header byte with these nibbles, then `ext` and `value` as given:
    /// nibble 15, missing or lying extended bytes.
    pub fn option_nibbles(mut self, delta: u8, len: u8, ext: &[u8], value: &[u8]) -> Self {
        self.buf.push(((delta & 0x0f) << 4) | (len & 0x0f));
        self.buf.extend_from_slice(ext);
        self.buf.extend_from_slice(value);
        self
    }

    /// The 0xFF marker, then `payload` (which may be empty: a format error).
    pub fn payload(mut self, payload: &[u8]) -> Self {
        self.buf.push(PAYLOAD_MARKER);
        self.buf.extend_from_slice(payload);
        self
    }

    /// Bytes as they are.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn build(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod test {
    use super::super::{Message, OptionNumber};
    use super::*;

    #[test]
    fn builds_what_it_is_told() {
        let b = RawMessage::new()
            .header(1, 0, 1)
            .code(1)
            .mid(0x1234)
            .token(&[0xab])
            .option(11, b"time")
            .build();
        assert_eq!(
            b,
            [0x41, 0x01, 0x12, 0x34, 0xab, 0xb4, b't', b'i', b'm', b'e']
        );
        let b = RawMessage::new()
            .header(1, 0, 0)
            .code(1)
            .mid(1)
            .option(300, &[])
            .option(9, &[1])
            .build();
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.options[0].number, OptionNumber::Unknown(300));
        assert_eq!(
            m.options[1].number,
            OptionNumber::Unknown(300),
            "delta 0 when going back"
        );
        let b = RawMessage::new()
            .header(1, 0, 0)
            .code(1)
            .mid(1)
            .payload(&[])
            .build();
        assert_eq!(Message::parse(&b).unwrap_err().rule.id, "RFC7252-3-marker");
        let b = RawMessage::new()
            .header(1, 0, 0)
            .code(1)
            .mid(1)
            .option_nibbles(13, 0, &[], &[])
            .build();
        assert_eq!(
            Message::parse(&b).unwrap_err().rule.id,
            "RFC7252-3.1-truncated"
        );
    }
}
