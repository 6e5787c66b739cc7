//! ICMPv6 framing (RFC 4443 §2.1) and its checksum (§2.3).

use std::net::Ipv6Addr;

use super::error::{Violation, put_u16, u8_at, u16_at};
use super::ipv6::{next_header, pseudo_header_checksum};
use super::rules::Rule;

/// ICMPv6 type of RPL control messages (RFC 6550 §6).
pub const TYPE_RPL_CONTROL: u8 = 155;

pub const HEADER_LEN: usize = 4;

/// A view of an ICMPv6 message: Type, Code, Checksum, then the body.
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self, Violation> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<(), Violation> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Violation::new(
                Rule::Icmpv6Truncated,
                len,
                format!("{len} octets, the ICMPv6 header needs 4"),
            ));
        }
        Ok(())
    }

    pub fn msg_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 0)
    }

    pub fn code(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 1)
    }

    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), 2)
    }

    pub fn body(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or_default()
    }

    /// Whether the checksum is right for a message from `src` to `dst`.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        pseudo_header_checksum(src, dst, next_header::ICMPV6, self.buffer.as_ref()) == 0
    }

    /// [`Self::verify_checksum`] as a violation that shows what the checksum should be.
    pub fn check_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<(), Violation> {
        if self.verify_checksum(src, dst) {
            return Ok(());
        }
        let mut copy = self.buffer.as_ref().to_vec();
        put_u16(&mut copy, 2, 0);
        let want = pseudo_header_checksum(src, dst, next_header::ICMPV6, &copy);
        Err(Violation::new(
            Rule::Icmpv6Checksum,
            2,
            format!("checksum {:#06x}, expected {want:#06x}", self.checksum()),
        ))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Computes and writes the checksum for a message from `src` to `dst`.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let buf = self.buffer.as_mut();
        put_u16(buf, 2, 0);
        let c = pseudo_header_checksum(src, dst, next_header::ICMPV6, buf);
        put_u16(buf, 2, c);
    }
}
