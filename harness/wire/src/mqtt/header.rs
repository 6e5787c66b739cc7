//! The fixed header: packet type, flags, Remaining Length.
//!
//! [`FixedHeader::parse`] looks only at the first two to five bytes and never panics; it
//! is all a framer needs to split a stream.

use crate::framing::Decoded;

use super::error::{Version, Violation};
use super::rules::Rule;
use super::varint::{self, VarintRead};

/// The MQTT Control Packet type, the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    /// MQTT 5.0 only; type 15 is reserved in 3.1.1.
    Auth = 15,
}

impl PacketType {
    pub const ALL: [PacketType; 15] = [
        PacketType::Connect,
        PacketType::ConnAck,
        PacketType::Publish,
        PacketType::PubAck,
        PacketType::PubRec,
        PacketType::PubRel,
        PacketType::PubComp,
        PacketType::Subscribe,
        PacketType::SubAck,
        PacketType::Unsubscribe,
        PacketType::UnsubAck,
        PacketType::PingReq,
        PacketType::PingResp,
        PacketType::Disconnect,
        PacketType::Auth,
    ];

    /// The type a first byte's high nibble names; `None` for the reserved type 0.
    pub const fn from_nibble(nibble: u8) -> Option<PacketType> {
        use PacketType::*;
        Some(match nibble {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The name the specification uses.
    pub const fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }

    /// The low nibble every packet but PUBLISH must carry.
    pub const fn required_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

/// Quality of Service of a PUBLISH, a Will or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// `None` for 3, which no field may carry.
    pub const fn from_u8(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// A parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    pub first_byte: u8,
    pub remaining_length: u32,
    /// Bytes the fixed header took: 1 plus the Remaining Length's encoding.
    pub header_len: usize,
    /// Whether the Remaining Length used the fewest bytes possible.
    pub minimal_length: bool,
}

impl FixedHeader {
    /// Reads the fixed header at the front of `buf`. `NeedMore` when `buf` ends inside
    /// it; `Err` only for a Remaining Length longer than four bytes, after which the
    /// stream cannot be split any more.
    pub fn parse(buf: &[u8], version: Version) -> Result<Decoded<FixedHeader>, Violation> {
        let Some((&first_byte, rest)) = buf.split_first() else {
            return Ok(Decoded::NeedMore(2));
        };
        match varint::read(rest) {
            VarintRead::Value {
                value,
                len,
                minimal,
            } => Ok(Decoded::Done(
                FixedHeader {
                    first_byte,
                    remaining_length: value,
                    header_len: 1 + len,
                    minimal_length: minimal,
                },
                1 + len,
            )),
            VarintRead::NeedMore => Ok(Decoded::NeedMore(1)),
            VarintRead::TooLong => Err(Violation {
                rule: Rule::VarintTooLong.spec_ref(version),
                offset: 1,
                detail: "remaining length is longer than 4 bytes".into(),
            }),
        }
    }

    /// The packet type, `None` for the reserved type 0.
    pub fn packet_type(&self) -> Option<PacketType> {
        PacketType::from_nibble(self.first_byte >> 4)
    }

    pub fn flags(&self) -> u8 {
        self.first_byte & 0x0f
    }

    /// The whole frame's length: fixed header plus Remaining Length.
    pub fn frame_len(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }
}

/// The length of the frame at the front of `buf`, from the fixed header alone.
///
/// `NeedMore(n)` when `buf` holds less than the frame; `Err` when the Remaining Length is
/// longer than four bytes. Rules are cited from the MQTT 5.0 document; use
/// [`frame_len_for`] to cite 3.1.1's.
pub fn frame_len(buf: &[u8]) -> Result<Decoded<usize>, Violation> {
    frame_len_for(buf, Version::V5)
}

/// [`frame_len`], citing the document of `version`.
pub fn frame_len_for(buf: &[u8], version: Version) -> Result<Decoded<usize>, Violation> {
    match FixedHeader::parse(buf, version)? {
        Decoded::NeedMore(n) => Ok(Decoded::NeedMore(n)),
        Decoded::Done(header, _) => {
            let total = header.frame_len();
            if buf.len() < total {
                Ok(Decoded::NeedMore(total - buf.len()))
            } else {
                Ok(Decoded::Done(total, total))
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    static PINGREQ: [u8; 2] = [0xc0, 0x00];
    static PUBLISH_HEAD: [u8; 3] = [0x32, 0x80, 0x01];

    #[test]
    fn test_parse() {
        let Ok(Decoded::Done(h, 2)) = FixedHeader::parse(&PINGREQ, Version::V5) else {
            panic!()
        };
        assert_eq!(h.packet_type(), Some(PacketType::PingReq));
        assert_eq!(h.remaining_length, 0);
        let Ok(Decoded::Done(h, 3)) = FixedHeader::parse(&PUBLISH_HEAD, Version::V5) else {
            panic!()
        };
        assert_eq!(h.packet_type(), Some(PacketType::Publish));
        assert_eq!(h.flags(), 2);
        assert_eq!(h.remaining_length, 128);
        assert_eq!(h.frame_len(), 131);
    }

    #[test]
    fn test_frame_len() {
        assert_eq!(frame_len(&[]), Ok(Decoded::NeedMore(2)));
        assert_eq!(frame_len(&[0x30]), Ok(Decoded::NeedMore(1)));
        assert_eq!(frame_len(&[0x30, 0x80]), Ok(Decoded::NeedMore(1)));
        assert_eq!(frame_len(&PUBLISH_HEAD), Ok(Decoded::NeedMore(128)));
        assert_eq!(frame_len(&[0xc0, 0x00, 0xd0]), Ok(Decoded::Done(2, 2)));
    }

    #[test]
    fn test_impossible_len() {
        let e = frame_len(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]).unwrap_err();
        assert_eq!(e.rule.id, "§1.5.5");
        assert_eq!(e.offset, 1);
        let e = frame_len_for(&[0x30, 0x80, 0x80, 0x80, 0x80], Version::V311).unwrap_err();
        assert_eq!(e.rule, hilt_core::SpecRef::new("mqtt-v3.1.1", "§2.2.3"));
    }
}
