//! An unvalidated builder for negative tests: any code, any base, options with any
//! Length, and a checksum that is right or wrong on request.
//!
//! ```
//! use hilt_wire::rpl::{RawMessage, RplMessage};
//! // a DIO whose DODAG Configuration has MinHopRankIncrease 0
//! let msg = RawMessage::new(0x01)
//!     .raw(&[0x1e, 0xf0, 0x01, 0x00, 0x88, 0x00, 0x00, 0x00])
//!     .raw(&[0; 16])
//!     .option(0x04, &[0, 20, 3, 10, 0x07, 0x00, 0x00, 0x00, 0, 1, 0, 0xff, 0xff, 0xff])
//!     .build();
//! let err = RplMessage::parse(&msg).unwrap_err();
//! assert_eq!(err.rule.id, "RFC6550-6.7.6-2");
//! ```

use std::net::Ipv6Addr;

use super::icmpv6::{Icmpv6Packet, TYPE_RPL_CONTROL};
use super::ipv6::{Ipv6Repr, next_header};

/// An ICMPv6 message written field by field, checking nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    msg_type: u8,
    code: u8,
    body: Vec<u8>,
}

impl RawMessage {
    /// An RPL control message (type 155) with the given code.
    pub fn new(code: u8) -> Self {
        RawMessage {
            msg_type: TYPE_RPL_CONTROL,
            code,
            body: Vec::new(),
        }
    }

    /// Any ICMPv6 type.
    pub fn with_type(mut self, msg_type: u8) -> Self {
        self.msg_type = msg_type;
        self
    }

    pub fn u8(mut self, v: u8) -> Self {
        self.body.push(v);
        self
    }

    pub fn u16(mut self, v: u16) -> Self {
        self.body.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u32(mut self, v: u32) -> Self {
        self.body.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn addr(mut self, a: Ipv6Addr) -> Self {
        self.body.extend_from_slice(&a.octets());
        self
    }

    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.body.extend_from_slice(bytes);
        self
    }

    /// An option whose Length is the truth.
    pub fn option(self, kind: u8, data: &[u8]) -> Self {
        let len = data.len().min(255) as u8;
        self.option_with_len(kind, len, data)
    }

    /// An option whose Length need not match its data.
    pub fn option_with_len(mut self, kind: u8, declared_len: u8, data: &[u8]) -> Self {
        self.body.push(kind);
        self.body.push(declared_len);
        self.body.extend_from_slice(data);
        self
    }

    /// The message with a zero checksum.
    pub fn build(&self) -> Vec<u8> {
        let mut out = vec![self.msg_type, self.code, 0, 0];
        out.extend_from_slice(&self.body);
        out
    }

    /// The message with the right checksum for `src` → `dst`.
    pub fn build_checksummed(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Vec<u8> {
        let mut out = self.build();
        Icmpv6Packet::new_unchecked(&mut out[..]).fill_checksum(src, dst);
        out
    }
}

/// An IPv6 datagram around `payload` (hop limit 255; Payload Length the truth).
pub fn raw_ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
    let ip = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: next,
        payload_len: payload.len().min(usize::from(u16::MAX)) as u16,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut out = vec![0u8; ip.buffer_len()];
    ip.emit(&mut out);
    out.extend_from_slice(payload);
    out
}

/// An ICMPv6 datagram around `msg`, the checksum filled in.
pub fn raw_icmpv6_datagram(src: Ipv6Addr, dst: Ipv6Addr, msg: &RawMessage) -> Vec<u8> {
    raw_ipv6(
        src,
        dst,
        next_header::ICMPV6,
        &msg.build_checksummed(&src, &dst),
    )
}
