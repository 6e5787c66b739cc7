//! An unvalidated builder for negative tests: any first byte, any Remaining Length
//! (minimal, padded, or lying), and fields written exactly as asked.
//!
//! ```
//! use hilt_wire::mqtt::{decode, RawPacket, Version};
//! // a CONNECT with the reserved flag set
//! let frame = RawPacket::new(0x10)
//!     .with_body(|w| {
//!         w.utf8("MQTT").u8(4).u8(0b0000_0011).u16(60).utf8("c");
//!     })
//!     .build();
//! let err = decode(&frame, Version::V311).unwrap_err();
//! assert_eq!(err.rule.id, "MQTT-3.1.2-3");
//! ```

use super::header::PacketType;
use super::properties::{Property, write_binary};
use super::varint;

/// Appends fields to a byte buffer, checking nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A Variable Byte Integer in its shortest form (five bytes above the maximum).
    pub fn varint(&mut self, v: u32) -> &mut Self {
        varint::write(v, &mut self.buf);
        self
    }

    /// A Variable Byte Integer padded to `width` bytes: non-minimal on purpose.
    pub fn varint_padded(&mut self, v: u32, width: usize) -> &mut Self {
        varint::write_padded(v, width, &mut self.buf);
        self
    }

    /// A UTF-8 Encoded String: two-byte length, then the text.
    pub fn utf8(&mut self, s: &str) -> &mut Self {
        write_binary(s.as_bytes(), &mut self.buf);
        self
    }

    /// A "string" of arbitrary bytes (ill-formed UTF-8, surrogates, U+0000).
    pub fn utf8_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        write_binary(bytes, &mut self.buf);
        self
    }

    /// A length prefix that need not match the bytes that follow it.
    pub fn lying_string(&mut self, declared_len: u16, bytes: &[u8]) -> &mut Self {
        self.u16(declared_len);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Binary Data: two-byte length, then the bytes.
    pub fn binary(&mut self, bytes: &[u8]) -> &mut Self {
        write_binary(bytes, &mut self.buf);
        self
    }

    /// Bytes as they are.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// One property item (identifier and value), wherever it is not allowed too.
    pub fn property(&mut self, p: &Property) -> &mut Self {
        let mut one = Vec::new();
        super::properties::Properties(vec![p.clone()]).emit(&mut one);
        // Drop the section length that `emit` puts in front of the single item.
        let skip = match varint::read(&one) {
            varint::VarintRead::Value { len, .. } => len,
            _ => 0,
        };
        self.buf
            .extend_from_slice(one.get(skip..).unwrap_or_default());
        self
    }

    /// A property item with any identifier and any value bytes.
    pub fn property_raw(&mut self, id: u8, value: &[u8]) -> &mut Self {
        self.buf.push(id);
        self.buf.extend_from_slice(value);
        self
    }

    /// A property section whose length is that of the items `items` writes.
    pub fn properties(&mut self, items: impl FnOnce(&mut Writer)) -> &mut Self {
        let mut inner = Writer::new();
        items(&mut inner);
        self.varint(inner.buf.len() as u32);
        self.buf.extend_from_slice(&inner.buf);
        self
    }

    /// A property section with a declared length that need not be the truth.
    pub fn properties_with_len(
        &mut self,
        declared_len: u32,
        items: impl FnOnce(&mut Writer),
    ) -> &mut Self {
        let mut inner = Writer::new();
        items(&mut inner);
        self.varint(declared_len);
        self.buf.extend_from_slice(&inner.buf);
        self
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// How the Remaining Length of a [`RawPacket`] is written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RemainingLength {
    /// The body's true length, minimally encoded.
    #[default]
    Auto,
    /// A value of your choosing (it may lie), minimally encoded.
    Value(u32),
    /// The true length padded to this many bytes (non-minimal).
    Padded(usize),
    /// These bytes exactly (e.g. five continuation bytes).
    Raw(Vec<u8>),
}

/// A frame assembled from a first byte, a Remaining Length and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    pub first_byte: u8,
    pub remaining_length: RemainingLength,
    pub body: Writer,
}

impl RawPacket {
    /// Any first byte: type nibble and flags as given.
    pub fn new(first_byte: u8) -> Self {
        RawPacket {
            first_byte,
            remaining_length: RemainingLength::Auto,
            body: Writer::new(),
        }
    }

    /// A first byte from a type and any four flag bits.
    pub fn typed(kind: PacketType, flags: u8) -> Self {
        Self::new((kind as u8) << 4 | (flags & 0x0f))
    }

    pub fn remaining_length(mut self, rl: RemainingLength) -> Self {
        self.remaining_length = rl;
        self
    }

    pub fn with_body(mut self, write: impl FnOnce(&mut Writer)) -> Self {
        write(&mut self.body);
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let body = self.body.as_bytes();
        let mut out = Vec::with_capacity(body.len() + 5);
        out.push(self.first_byte);
        match &self.remaining_length {
            RemainingLength::Auto => varint::write(body.len() as u32, &mut out),
            RemainingLength::Value(v) => varint::write(*v, &mut out),
            RemainingLength::Padded(width) => {
                varint::write_padded(body.len() as u32, *width, &mut out)
            }
            RemainingLength::Raw(bytes) => out.extend_from_slice(bytes),
        }
        out.extend_from_slice(body);
        out
    }
}

#[cfg(test)]
mod test {
    use super::super::{Version, decode, dissect};
    use super::*;
    use crate::framing::Decoded;

    #[test]
    fn test_emit() {
        let frame = RawPacket::typed(PacketType::Publish, 0b0010)
            .with_body(|w| {
                w.utf8("a/+").u16(0);
            })
            .build();
        let mut expected = vec![0xa5; 0];
        expected.extend_from_slice(&[0x32, 7, 0, 3, b'a', b'/', b'+', 0, 0]);
        assert_eq!(frame, expected);
        let e = decode(&frame, Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.3.2-2", 6));
        // and the dissector reports the zero packet identifier too
        let d = dissect(&frame, Version::V311);
        assert_eq!(d.problems.len(), 2);
    }

    #[test]
    fn duplicated_properties() {
        let frame = RawPacket::typed(PacketType::Publish, 0)
            .with_body(|w| {
                w.utf8("t").properties(|p| {
                    p.property(&Property::MessageExpiryInterval(1))
                        .property(&Property::MessageExpiryInterval(2));
                });
            })
            .build();
        let e = decode(&frame, Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.2.2", 11));
    }

    #[test]
    fn lying_and_padded_lengths() {
        let short = RawPacket::new(0xc0)
            .remaining_length(RemainingLength::Value(3))
            .build();
        assert_eq!(decode(&short, Version::V5), Ok(Decoded::NeedMore(3)));
        let padded = RawPacket::new(0xc0)
            .remaining_length(RemainingLength::Padded(4))
            .build();
        assert_eq!(padded, [0xc0, 0x80, 0x80, 0x80, 0x00]);
        let e = decode(&padded, Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-1.5.5-1", 1));
        let five = RawPacket::new(0xc0)
            .remaining_length(RemainingLength::Raw(vec![0x80; 5]))
            .build();
        assert_eq!(decode(&five, Version::V5).unwrap_err().rule.id, "§1.5.5");
        let lying_string = RawPacket::typed(PacketType::Unsubscribe, 2)
            .with_body(|w| {
                w.u16(1).lying_string(9, b"a");
            })
            .build();
        let e = decode(&lying_string, Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 6));
        let bad_utf8 = RawPacket::typed(PacketType::Unsubscribe, 2)
            .with_body(|w| {
                w.u16(1).utf8_bytes(&[0xed, 0xa0, 0x80]);
            })
            .build();
        let e = decode(&bad_utf8, Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-1.5.3-1", 6));
        let lying_props = RawPacket::typed(PacketType::Disconnect, 0)
            .with_body(|w| {
                w.u8(0).properties_with_len(1, |p| {
                    p.property_raw(0x11, &[0, 0, 0, 1]);
                });
            })
            .build();
        let e = decode(&lying_props, Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.2.1", 5));
    }
}
