//! The Hop-by-Hop Options header (RFC 8200 §4.3) and the RPL Option it carries
//! (RFC 6553 §3).

use super::error::{Violation, put, put_u8, put_u16, u8_at, u16_at};
use super::rules::Rule;

/// RFC 6553's option type: act 01 (discard if unknown), chg 1 (rewritten en route).
pub const RPL_OPTION_TYPE: u8 = 0x63;
/// RFC 9008's renumbering: act 00 (skip if unknown), so packets may leave the domain.
pub const RPL_OPTION_TYPE_RFC9008: u8 = 0x23;

const PAD1: u8 = 0;
const PADN: u8 = 1;

/// The RPL Option (RFC 6553 §3): loop detection data carried hop by hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RplHopOption {
    /// 0x63 (RFC 6553) or 0x23 (RFC 9008), as sent.
    pub option_type: u8,
    /// O: the packet travels down the DODAG.
    pub down: bool,
    /// R: a Rank error was seen on the way.
    pub rank_error: bool,
    /// F: a forwarding error (no route down) was seen.
    pub forwarding_error: bool,
    /// The five low flag bits, reserved.
    pub flags: u8,
    pub instance_id: u8,
    pub sender_rank: u16,
}

impl RplHopOption {
    pub fn new(instance_id: u8, sender_rank: u16, down: bool) -> Self {
        RplHopOption {
            option_type: RPL_OPTION_TYPE,
            down,
            rank_error: false,
            forwarding_error: false,
            flags: 0,
            instance_id,
            sender_rank,
        }
    }
}

/// One option of a Hop-by-Hop header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HopOption {
    Pad1,
    /// PadN with its data.
    PadN(Vec<u8>),
    Rpl(RplHopOption),
    /// Any other type, with its data. The two high bits of `kind` tell a receiver that
    /// does not know it what to do (RFC 8200 §4.2).
    Unknown {
        kind: u8,
        data: Vec<u8>,
    },
}

impl HopOption {
    fn buffer_len(&self) -> usize {
        match self {
            HopOption::Pad1 => 1,
            HopOption::PadN(d) => 2 + d.len(),
            HopOption::Rpl(_) => 6,
            HopOption::Unknown { data, .. } => 2 + data.len(),
        }
    }
}

/// A Hop-by-Hop Options header, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HopByHop {
    pub next_header: u8,
    pub options: Vec<HopOption>,
}

impl HopByHop {
    /// A header holding just the RPL Option (2 + 6 octets: no padding needed).
    pub fn with_rpl(next_header: u8, rpl: RplHopOption) -> Self {
        HopByHop {
            next_header,
            options: vec![HopOption::Rpl(rpl)],
        }
    }

    /// The RPL Option, if the header has one.
    pub fn rpl(&self) -> Option<&RplHopOption> {
        self.options.iter().find_map(|o| match o {
            HopOption::Rpl(r) => Some(r),
            _ => None,
        })
    }

    /// Parses the header at the start of `b`; returns it and its length. Offsets count
    /// from `b`'s start.
    pub fn parse(b: &[u8]) -> Result<(HopByHop, usize), Violation> {
        let len = 8 * (usize::from(u8_at(b, 1)) + 1);
        let Some(area) = b.get(2..len).filter(|_| b.len() >= 2) else {
            return Err(Violation::new(
                Rule::ExtensionHeaderLength,
                1,
                format!("Hop-by-Hop header of {len} octets, {} remain", b.len()),
            ));
        };
        let mut options = Vec::new();
        let mut at = 0;
        while at < area.len() {
            let kind = u8_at(area, at);
            if kind == PAD1 {
                options.push(HopOption::Pad1);
                at += 1;
                continue;
            }
            let dlen = usize::from(u8_at(area, at + 1));
            let Some(data) = area
                .get(at + 2..at + 2 + dlen)
                .filter(|_| at + 1 < area.len())
            else {
                return Err(Violation::new(
                    Rule::ExtensionOptionLength,
                    2 + at + 1,
                    format!("option {kind:#04x} of {dlen} octets overruns the header"),
                ));
            };
            let o = match kind {
                PADN => HopOption::PadN(data.to_vec()),
                RPL_OPTION_TYPE | RPL_OPTION_TYPE_RFC9008 => {
                    if dlen != 4 {
                        return Err(Violation::new(
                            Rule::RplOptionLength,
                            2 + at + 1,
                            format!("RPL Option data of {dlen} octets, must be 4"),
                        ));
                    }
                    let f = u8_at(data, 0);
                    HopOption::Rpl(RplHopOption {
                        option_type: kind,
                        down: f & 0x80 != 0,
                        rank_error: f & 0x40 != 0,
                        forwarding_error: f & 0x20 != 0,
                        flags: f & 0x1f,
                        instance_id: u8_at(data, 1),
                        sender_rank: u16_at(data, 2),
                    })
                }
                other => {
                    if other >> 6 != 0 {
                        return Err(Violation::new(
                            Rule::ExtensionOptionUnknownDiscard,
                            2 + at,
                            format!("unrecognised option {other:#04x} whose action is to discard"),
                        ));
                    }
                    HopOption::Unknown {
                        kind: other,
                        data: data.to_vec(),
                    }
                }
            };
            options.push(o);
            at += 2 + dlen;
        }
        Ok((
            HopByHop {
                next_header: u8_at(b, 0),
                options,
            },
            len,
        ))
    }

    /// Options plus header, padded up to a multiple of eight octets.
    pub fn buffer_len(&self) -> usize {
        let raw = 2 + self
            .options
            .iter()
            .map(HopOption::buffer_len)
            .sum::<usize>();
        raw.div_ceil(8) * 8
    }

    /// Writes the header, padding with Pad1/PadN to the length [`Self::buffer_len`] says.
    pub fn emit(&self, b: &mut [u8]) {
        let len = self.buffer_len();
        put_u8(b, 0, self.next_header);
        put_u8(b, 1, (len / 8).saturating_sub(1).min(255) as u8);
        let mut at = 2;
        for o in &self.options {
            match o {
                HopOption::Pad1 => put_u8(b, at, PAD1),
                HopOption::PadN(d) => {
                    put_u8(b, at, PADN);
                    put_u8(b, at + 1, d.len().min(255) as u8);
                    put(b, at + 2, d);
                }
                HopOption::Rpl(r) => {
                    put_u8(b, at, r.option_type);
                    put_u8(b, at + 1, 4);
                    put_u8(
                        b,
                        at + 2,
                        (u8::from(r.down) << 7)
                            | (u8::from(r.rank_error) << 6)
                            | (u8::from(r.forwarding_error) << 5)
                            | (r.flags & 0x1f),
                    );
                    put_u8(b, at + 3, r.instance_id);
                    put_u16(b, at + 4, r.sender_rank);
                }
                HopOption::Unknown { kind, data } => {
                    put_u8(b, at, *kind);
                    put_u8(b, at + 1, data.len().min(255) as u8);
                    put(b, at + 2, data);
                }
            }
            at += o.buffer_len();
        }
        match len - at {
            0 => {}
            1 => put_u8(b, at, PAD1),
            n => {
                put_u8(b, at, PADN);
                put_u8(b, at + 1, (n - 2) as u8);
                put(b, at + 2, &vec![0; n - 2]);
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // Next header ICMPv6, length 0 (8 octets), RPL Option: O=1, instance 0x1e, rank 0x0200.
    static HBH: [u8; 8] = [0x3a, 0x00, 0x63, 0x04, 0x80, 0x1e, 0x02, 0x00];

    #[test]
    fn test_parse() {
        let (h, n) = HopByHop::parse(&HBH).unwrap();
        assert_eq!(n, 8);
        assert_eq!(
            h,
            HopByHop::with_rpl(58, RplHopOption::new(0x1e, 0x200, true))
        );
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 8];
        HopByHop::with_rpl(58, RplHopOption::new(0x1e, 0x200, true)).emit(&mut buf);
        assert_eq!(buf, HBH);
    }

    #[test]
    fn emit_pads_to_eight_octets() {
        let h = HopByHop {
            next_header: 58,
            options: vec![
                HopOption::Pad1,
                HopOption::Rpl(RplHopOption::new(1, 256, false)),
            ],
        };
        assert_eq!(h.buffer_len(), 16);
        let mut buf = [0xa5u8; 16];
        h.emit(&mut buf);
        assert_eq!(&buf[9..], &[0x01, 0x05, 0, 0, 0, 0, 0]);
        let (back, n) = HopByHop::parse(&buf).unwrap();
        assert_eq!((n, back.rpl()), (16, h.rpl()));
    }

    #[test]
    fn test_impossible_len() {
        assert_eq!(
            HopByHop::parse(&HBH[..7]).unwrap_err().rule.id,
            "RFC8200-4-1"
        );
        let mut b = HBH;
        b[3] = 5;
        assert_eq!(HopByHop::parse(&b).unwrap_err().rule.id, "RFC8200-4.2-1");
        let bad = [0x3a, 0x00, 0x63, 0x02, 0x80, 0x1e, 0x01, 0x00];
        assert_eq!(HopByHop::parse(&bad).unwrap_err().rule.id, "RFC6553-3-1");
        let discard = [0x3a, 0x00, 0x83, 0x04, 0, 0, 0, 0];
        let e = HopByHop::parse(&discard).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("RFC8200-4.2-2", 2));
        let skip = [0x3a, 0x00, 0x1f, 0x04, 0, 0, 0, 0];
        assert!(HopByHop::parse(&skip).is_ok());
    }
}
