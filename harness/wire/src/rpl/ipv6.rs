//! The IPv6 fixed header (RFC 8200 §3): a view and a validated representation.
//!
//! Once [`Ipv6Packet::new_checked`] succeeds every accessor is in bounds; accessors on an
//! unchecked view never panic either (missing bytes read as zero).

use std::net::Ipv6Addr;

use super::error::{Violation, addr_at, put, put_u8, put_u16, put_u32, u8_at, u16_at, u32_at};
use super::rules::Rule;

/// Next Header values the RPL codecs follow.
pub mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT_HEADER: u8 = 59;
}

/// The all-RPL-nodes multicast address, ff02::1a (RFC 6550 §6).
pub const ALL_RPL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x1a);

pub const HEADER_LEN: usize = 40;

mod field {
    pub const VER_TC_FLOW: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

/// A read-only (or, over `&mut [u8]`, writable) view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// The view, once the header is complete and Payload Length fits the buffer.
    /// A version other than 6 is left to [`Ipv6Repr::parse`] to judge.
    pub fn new_checked(buffer: T) -> Result<Self, Violation> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<(), Violation> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Violation::new(
                Rule::Ipv6Truncated,
                len,
                format!("{len} octets, the IPv6 header needs 40"),
            ));
        }
        let want = HEADER_LEN + self.payload_len() as usize;
        if want > len {
            return Err(Violation::new(
                Rule::Ipv6PayloadLength,
                field::PAYLOAD_LEN,
                format!(
                    "Payload Length {} but {} octets follow the header",
                    self.payload_len(),
                    len - HEADER_LEN
                ),
            ));
        }
        Ok(())
    }

    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::VER_TC_FLOW) >> 4
    }

    pub fn traffic_class(&self) -> u8 {
        ((u32_at(self.buffer.as_ref(), field::VER_TC_FLOW) >> 20) & 0xff) as u8
    }

    pub fn flow_label(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::VER_TC_FLOW) & 0x000f_ffff
    }

    pub fn payload_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    pub fn next_header(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::NEXT_HEADER)
    }

    pub fn hop_limit(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::HOP_LIMIT)
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::SRC)
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::DST)
    }

    /// The octets Payload Length covers (fewer if the buffer is short; link-layer
    /// padding after them is not included).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (HEADER_LEN + self.payload_len() as usize).min(b.len());
        b.get(HEADER_LEN.min(end)..end).unwrap_or_default()
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The fixed header's fields, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: u16,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Ipv6Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) -> Result<Self, Violation> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(Violation::new(
                Rule::Ipv6Version,
                0,
                format!("Version {}", p.version()),
            ));
        }
        Ok(Ipv6Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: p.payload_len(),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 40-octet header into `buf[..40]`.
    pub fn emit(&self, buf: &mut [u8]) {
        let first =
            (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0xf_ffff);
        put_u32(buf, field::VER_TC_FLOW, first);
        put_u16(buf, field::PAYLOAD_LEN, self.payload_len);
        put_u8(buf, field::NEXT_HEADER, self.next_header);
        put_u8(buf, field::HOP_LIMIT, self.hop_limit);
        put(buf, field::SRC, &self.src_addr.octets());
        put(buf, field::DST, &self.dst_addr.octets());
    }
}

/// The Internet checksum over the IPv6 pseudo-header (RFC 8200 §8.1) and `data`.
/// `data` is the upper-layer message with its checksum field as it stands: zero it to
/// compute, leave it to verify (a correct message then sums to zero).
pub fn pseudo_header_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        let mut chunks = bytes.chunks_exact(2);
        for c in &mut chunks {
            sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u64::from(*last) << 8;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(data.len() as u32).to_be_bytes());
    add(&[0, 0, 0, next_header]);
    add(data);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod test {
    use super::*;

    // fe80::1 -> ff02::1a, hop limit 255, 8 octets of payload (an ICMPv6 DIS).
    static PACKET: [u8; 48] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3a, 0xff, //
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, //
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, //
        0x9b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    ];

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src_addr: "fe80::1".parse().unwrap(),
            dst_addr: ALL_RPL_NODES,
            next_header: next_header::ICMPV6,
            payload_len: 8,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        }
    }

    #[test]
    fn test_parse() {
        let p = Ipv6Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p).unwrap(), repr());
        assert_eq!(p.payload(), &PACKET[40..]);
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 40];
        repr().emit(&mut buf);
        assert_eq!(&buf[..], &PACKET[..40]);
    }

    #[test]
    fn test_tc_and_flow_label_round_trip() {
        let r = Ipv6Repr {
            traffic_class: 0xb8,
            flow_label: 0xabcde,
            ..repr()
        };
        let mut buf = PACKET;
        r.emit(&mut buf);
        assert_eq!(
            Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&buf[..])).unwrap(),
            r
        );
    }

    #[test]
    fn test_impossible_len() {
        let e = Ipv6Packet::new_checked(&PACKET[..39]).unwrap_err();
        assert_eq!(e.rule.id, "RFC8200-3-1");
        let e = Ipv6Packet::new_checked(&PACKET[..47]).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("RFC8200-3-3", 4));
        let mut v4 = PACKET;
        v4[0] = 0x40;
        let e = Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&v4[..])).unwrap_err();
        assert_eq!(e.rule.id, "RFC8200-3-2");
        // An unchecked view of nothing reads zeros rather than panicking.
        let empty = Ipv6Packet::new_unchecked(&[][..]);
        assert_eq!((empty.version(), empty.payload().len()), (0, 0));
    }

    #[test]
    fn checksum_of_a_known_message_verifies_to_zero() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let mut msg = PACKET[40..].to_vec();
        let c = pseudo_header_checksum(&src, &ALL_RPL_NODES, 58, &msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(pseudo_header_checksum(&src, &ALL_RPL_NODES, 58, &msg), 0);
        // Odd lengths pad with a zero octet.
        let odd = [0x9b, 0x00, 0x00, 0x00, 0x01];
        let c = pseudo_header_checksum(&src, &ALL_RPL_NODES, 58, &odd);
        let mut fixed = odd;
        fixed[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(pseudo_header_checksum(&src, &ALL_RPL_NODES, 58, &fixed), 0);
    }
}
