//! A whole IPv6 datagram as RPL nodes exchange it: the fixed header, the optional
//! Hop-by-Hop header with the RPL Option, the optional Source Routing Header, and an
//! ICMPv6 payload (an RPL control message or anything else).

use std::net::Ipv6Addr;

use super::error::Violation;
use super::hbh::HopByHop;
use super::icmpv6::{Icmpv6Packet, TYPE_RPL_CONTROL};
use super::ipv6::{HEADER_LEN, Ipv6Packet, Ipv6Repr, next_header};
use super::message::RplMessage;
use super::rules::Rule;
use super::srh::{ROUTING_TYPE, SourceRoute};

/// What the header chain ends in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Payload {
    Rpl(RplMessage),
    /// Another ICMPv6 message (checksum already verified), body as sent.
    Icmpv6 {
        msg_type: u8,
        code: u8,
        body: Vec<u8>,
    },
    /// Any other upper layer, or a header hilt does not walk (a Routing header of
    /// another type), with everything from it on.
    Other {
        next_header: u8,
        bytes: Vec<u8>,
    },
}

/// An IPv6 datagram carrying RPL, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Datagram {
    /// `next_header` and `payload_len` are recomputed by [`Datagram::to_bytes`].
    pub ipv6: Ipv6Repr,
    pub hop_by_hop: Option<HopByHop>,
    pub routing: Option<SourceRoute>,
    pub payload: Payload,
}

impl Datagram {
    /// A link-local control message as RPL sends it: hop limit 255, no extension headers.
    pub fn control(src: Ipv6Addr, dst: Ipv6Addr, msg: RplMessage) -> Self {
        Datagram {
            ipv6: Ipv6Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: next_header::ICMPV6,
                payload_len: 0,
                hop_limit: 255,
                traffic_class: 0,
                flow_label: 0,
            },
            hop_by_hop: None,
            routing: None,
            payload: Payload::Rpl(msg),
        }
    }

    /// Parses a datagram, checking the ICMPv6 checksum. Offsets count from the first
    /// octet of the IPv6 header.
    pub fn parse(bytes: &[u8]) -> Result<Datagram, Violation> {
        let view = Ipv6Packet::new_checked(bytes)?;
        let ipv6 = Ipv6Repr::parse(&view)?;
        let body = view.payload();
        let mut nh = ipv6.next_header;
        let mut at = 0usize;
        let mut hop_by_hop = None;
        let mut routing = None;
        loop {
            let rest = body.get(at..).unwrap_or_default();
            let here = HEADER_LEN + at;
            match nh {
                next_header::HOP_BY_HOP => {
                    if at != 0 {
                        return Err(Violation::new(
                            Rule::HopByHopNotFirst,
                            here,
                            "Hop-by-Hop Options header after another extension header",
                        ));
                    }
                    let (h, n) = HopByHop::parse(rest).map_err(|e| e.shifted(here))?;
                    nh = h.next_header;
                    hop_by_hop = Some(h);
                    at += n;
                }
                next_header::ROUTING if rest.get(2) == Some(&ROUTING_TYPE) && routing.is_none() => {
                    let (s, n) =
                        SourceRoute::parse(rest, &ipv6.dst_addr).map_err(|e| e.shifted(here))?;
                    nh = s.next_header;
                    routing = Some(s);
                    at += n;
                }
                next_header::ICMPV6 => {
                    let p = Icmpv6Packet::new_checked(rest).map_err(|e| e.shifted(here))?;
                    p.check_checksum(&ipv6.src_addr, &ipv6.dst_addr)
                        .map_err(|e| e.shifted(here))?;
                    let payload = if p.msg_type() == TYPE_RPL_CONTROL {
                        Payload::Rpl(RplMessage::parse(rest).map_err(|e| e.shifted(here))?)
                    } else {
                        Payload::Icmpv6 {
                            msg_type: p.msg_type(),
                            code: p.code(),
                            body: p.body().to_vec(),
                        }
                    };
                    return Ok(Datagram {
                        ipv6,
                        hop_by_hop,
                        routing,
                        payload,
                    });
                }
                other => {
                    return Ok(Datagram {
                        ipv6,
                        hop_by_hop,
                        routing,
                        payload: Payload::Other {
                            next_header: other,
                            bytes: rest.to_vec(),
                        },
                    });
                }
            }
        }
    }

    fn payload_len(&self) -> usize {
        self.hop_by_hop.as_ref().map_or(0, HopByHop::buffer_len)
            + self.routing.as_ref().map_or(0, SourceRoute::buffer_len)
            + match &self.payload {
                Payload::Rpl(m) => m.buffer_len(),
                Payload::Icmpv6 { body, .. } => 4 + body.len(),
                Payload::Other { bytes, .. } => bytes.len(),
            }
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// The datagram's octets: Next Header chain, lengths and the ICMPv6 checksum are
    /// computed here (the `next_header` fields of the extension headers are overwritten).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.buffer_len()];
        let upper = match &self.payload {
            Payload::Rpl(_) | Payload::Icmpv6 { .. } => next_header::ICMPV6,
            Payload::Other { next_header, .. } => *next_header,
        };
        let after_hbh = if self.routing.is_some() {
            next_header::ROUTING
        } else {
            upper
        };
        let first = if self.hop_by_hop.is_some() {
            next_header::HOP_BY_HOP
        } else {
            after_hbh
        };
        let ip = Ipv6Repr {
            next_header: first,
            payload_len: self.payload_len().min(usize::from(u16::MAX)) as u16,
            ..self.ipv6
        };
        ip.emit(&mut buf);
        let mut at = HEADER_LEN;
        if let Some(h) = &self.hop_by_hop {
            let h = HopByHop {
                next_header: after_hbh,
                ..h.clone()
            };
            h.emit(&mut buf[at..]);
            at += h.buffer_len();
        }
        if let Some(s) = &self.routing {
            let s = SourceRoute {
                next_header: upper,
                ..s.clone()
            };
            s.emit(&mut buf[at..]);
            at += s.buffer_len();
        }
        let tail = &mut buf[at..];
        match &self.payload {
            Payload::Rpl(m) => m.emit(tail),
            Payload::Icmpv6 {
                msg_type,
                code,
                body,
            } => {
                tail[0] = *msg_type;
                tail[1] = *code;
                tail[4..].copy_from_slice(body);
            }
            Payload::Other { bytes, .. } => tail.copy_from_slice(bytes),
        }
        if upper == next_header::ICMPV6 {
            Icmpv6Packet::new_unchecked(tail)
                .fill_checksum(&self.ipv6.src_addr, &self.ipv6.dst_addr);
        }
        buf
    }
}
