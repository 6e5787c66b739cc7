//! The RPL Source Routing Header (RFC 6554 §3): IPv6 Routing header type 3, whose
//! addresses drop the octets they share with the IPv6 Destination Address.

use std::net::Ipv6Addr;

use super::error::{Violation, put, put_u8, put_u32, u8_at, u32_at};
use super::rules::Rule;

pub const ROUTING_TYPE: u8 = 3;

/// A Source Routing Header, with its addresses restored to full length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceRoute {
    pub next_header: u8,
    pub segments_left: u8,
    /// Octets elided from `Addresses[1..n-1]`, 0..=15.
    pub cmpr_i: u8,
    /// Octets elided from `Addresses[n]`, 0..=15.
    pub cmpr_e: u8,
    /// Octets of padding after the last address, 0..=15.
    pub pad: u8,
    /// The 20 reserved bits, as sent.
    pub reserved: u32,
    /// `Addresses[1..=n]`, with the elided prefixes taken from the destination address.
    pub addresses: Vec<Ipv6Addr>,
}

fn common_prefix(a: &Ipv6Addr, b: &Ipv6Addr) -> u8 {
    a.octets()
        .iter()
        .zip(b.octets())
        .take_while(|(x, y)| **x == *y)
        .count()
        .min(15) as u8
}

fn restore(dst: &Ipv6Addr, elided: usize, carried: &[u8]) -> Ipv6Addr {
    let mut o = dst.octets();
    for (d, s) in o.iter_mut().skip(elided).zip(carried) {
        *d = *s;
    }
    Ipv6Addr::from(o)
}

impl SourceRoute {
    /// A route through `addresses`, eliding as many octets as each shares with `dst`
    /// (the Destination Address the packet carries alongside this header).
    pub fn compress(next_header: u8, dst: &Ipv6Addr, addresses: Vec<Ipv6Addr>) -> Self {
        let (last, rest) = match addresses.split_last() {
            Some((l, r)) => (common_prefix(dst, l), r),
            None => (0, &[][..]),
        };
        let cmpr_i = rest
            .iter()
            .map(|a| common_prefix(dst, a))
            .min()
            .unwrap_or(0);
        let mut s = SourceRoute {
            next_header,
            segments_left: addresses.len().min(255) as u8,
            cmpr_i,
            cmpr_e: last,
            pad: 0,
            reserved: 0,
            addresses,
        };
        let raw = s.address_octets();
        s.pad = ((8 - raw % 8) % 8) as u8;
        s
    }

    /// A route for a packet sent to `first_hop` and then through `rest`, eliding only the
    /// octets every one of them shares: the Destination Address changes at each hop
    /// (RFC 6554 §4.2) and each router restores the elided prefix from it.
    pub fn for_path(next_header: u8, first_hop: &Ipv6Addr, rest: Vec<Ipv6Addr>) -> Self {
        let shared = rest
            .iter()
            .map(|a| common_prefix(first_hop, a))
            .min()
            .unwrap_or(0);
        let mut s = SourceRoute {
            next_header,
            segments_left: rest.len().min(255) as u8,
            cmpr_i: shared,
            cmpr_e: shared,
            pad: 0,
            reserved: 0,
            addresses: rest,
        };
        s.pad = ((8 - s.address_octets() % 8) % 8) as u8;
        s
    }

    fn address_octets(&self) -> usize {
        match self.addresses.len() {
            0 => 0,
            n => (n - 1) * (16 - usize::from(self.cmpr_i)) + 16 - usize::from(self.cmpr_e),
        }
    }

    /// Parses a type-3 Routing header at the start of `b`; `dst` restores the elided
    /// prefixes. Returns the header and its length.
    pub fn parse(b: &[u8], dst: &Ipv6Addr) -> Result<(SourceRoute, usize), Violation> {
        let total = 8 * (usize::from(u8_at(b, 1)) + 1);
        if b.len() < total {
            return Err(Violation::new(
                Rule::ExtensionHeaderLength,
                1,
                format!("Routing header of {total} octets, {} remain", b.len()),
            ));
        }
        let word = u32_at(b, 4);
        let cmpr_i = (word >> 28) as u8;
        let cmpr_e = ((word >> 24) & 0xf) as u8;
        let pad = ((word >> 20) & 0xf) as u8;
        let (si, se) = (16 - usize::from(cmpr_i), 16 - usize::from(cmpr_e));
        let area = (total - 8).checked_sub(usize::from(pad));
        let n = match area {
            Some(a) if a >= se && (a - se) % si == 0 => (a - se) / si + 1,
            _ => {
                return Err(Violation::new(
                    Rule::SourceRouteLength,
                    1,
                    format!(
                        "Hdr Ext Len {} with CmprI {cmpr_i}, CmprE {cmpr_e}, Pad {pad} holds no whole number of addresses",
                        u8_at(b, 1)
                    ),
                ));
            }
        };
        let segments_left = u8_at(b, 3);
        if usize::from(segments_left) > n {
            return Err(Violation::new(
                Rule::SourceRouteSegmentsLeft,
                3,
                format!("Segments Left {segments_left} with {n} addresses"),
            ));
        }
        let mut addresses = Vec::with_capacity(n);
        let mut at = 8;
        for i in 0..n {
            let (elided, size) = if i + 1 == n {
                (16 - se, se)
            } else {
                (16 - si, si)
            };
            addresses.push(restore(
                dst,
                elided,
                b.get(at..at + size).unwrap_or_default(),
            ));
            at += size;
        }
        Ok((
            SourceRoute {
                next_header: u8_at(b, 0),
                segments_left,
                cmpr_i,
                cmpr_e,
                pad,
                reserved: word & 0x000f_ffff,
                addresses,
            },
            total,
        ))
    }

    pub fn buffer_len(&self) -> usize {
        (8 + self.address_octets() + usize::from(self.pad)).div_ceil(8) * 8
    }

    /// Writes the header, carrying each address without its elided prefix.
    pub fn emit(&self, b: &mut [u8]) {
        let len = self.buffer_len();
        put_u8(b, 0, self.next_header);
        put_u8(b, 1, (len / 8).saturating_sub(1).min(255) as u8);
        put_u8(b, 2, ROUTING_TYPE);
        put_u8(b, 3, self.segments_left);
        put_u32(
            b,
            4,
            (u32::from(self.cmpr_i & 0xf) << 28)
                | (u32::from(self.cmpr_e & 0xf) << 24)
                | (u32::from(self.pad & 0xf) << 20)
                | (self.reserved & 0x000f_ffff),
        );
        let mut at = 8;
        let n = self.addresses.len();
        for (i, a) in self.addresses.iter().enumerate() {
            let elided = usize::from(if i + 1 == n { self.cmpr_e } else { self.cmpr_i } & 0xf);
            let o = a.octets();
            put(b, at, &o[elided..]);
            at += 16 - elided;
        }
        if let Some(rest) = b.get_mut(at..len) {
            rest.fill(0);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    // Destination fd00::1; route fd00::2, fd00::3, fd00::4: CmprI = CmprE = 15, so each
    // address is one octet; 3 octets + 5 of pad.
    static SRH: [u8; 16] = [
        0x3a, 0x01, 0x03, 0x03, 0xff, 0x50, 0x00, 0x00, //
        0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn test_parse() {
        let (s, n) = SourceRoute::parse(&SRH, &a("fd00::1")).unwrap();
        assert_eq!(n, 16);
        assert_eq!(s.addresses, vec![a("fd00::2"), a("fd00::3"), a("fd00::4")]);
        assert_eq!((s.cmpr_i, s.cmpr_e, s.pad, s.segments_left), (15, 15, 5, 3));
    }

    #[test]
    fn test_emit() {
        let s = SourceRoute::compress(
            58,
            &a("fd00::1"),
            vec![a("fd00::2"), a("fd00::3"), a("fd00::4")],
        );
        assert_eq!(s.buffer_len(), 16);
        let mut buf = [0xa5u8; 16];
        s.emit(&mut buf);
        assert_eq!(buf, SRH);
    }

    #[test]
    fn mixed_elision_round_trips() {
        let dst = a("2001:db8::1");
        let route = vec![a("2001:db8::aa:2"), a("2001:db8:1::3"), a("fe80::9")];
        let s = SourceRoute::compress(58, &dst, route.clone());
        // 2001:db8:1::3 shares five octets with the destination, fe80::9 none.
        assert_eq!((s.cmpr_i, s.cmpr_e), (5, 0));
        let mut buf = vec![0xa5u8; s.buffer_len()];
        s.emit(&mut buf);
        let (back, n) = SourceRoute::parse(&buf, &dst).unwrap();
        assert_eq!((back.addresses, n), (route, buf.len()));
    }

    #[test]
    fn test_impossible_len() {
        assert_eq!(
            SourceRoute::parse(&SRH[..15], &a("fd00::1"))
                .unwrap_err()
                .rule
                .id,
            "RFC8200-4-1"
        );
        // Pad 4 leaves 4 octets for 1-octet addresses with CmprE 14 (2 octets): 3 + ... no:
        // CmprI 14 (2 octets each) and CmprE 15 with 8 octets: (8 - 1) is odd.
        let mut b = SRH;
        b[4] = 0xef;
        b[5] = 0x00;
        assert_eq!(
            SourceRoute::parse(&b, &a("fd00::1")).unwrap_err().rule.id,
            "RFC6554-3-1"
        );
        let mut b = SRH;
        b[3] = 4;
        assert_eq!(
            SourceRoute::parse(&b, &a("fd00::1")).unwrap_err().rule.id,
            "RFC6554-3-2"
        );
        // Pad larger than the address area.
        let mut b = SRH;
        b[1] = 0;
        b[5] = 0xf0;
        assert!(SourceRoute::parse(&b[..8], &a("fd00::1")).is_err());
    }
}
