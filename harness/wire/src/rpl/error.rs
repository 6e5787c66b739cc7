//! The error that names a broken rule, and the byte readers that never panic.

use std::net::Ipv6Addr;

use hilt_core::SpecRef;

use super::rules::Rule;

/// A packet breaks a rule: which statement, and where.
///
/// `offset` counts from the first byte handed to the parser that failed: the IPv6 header
/// for whole packets, the ICMPv6 Type octet for control messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{}] {detail} at offset {offset}", rule.id)]
pub struct Violation {
    pub rule: SpecRef,
    pub offset: usize,
    pub detail: String,
}

impl Violation {
    pub(crate) fn new(rule: Rule, offset: usize, detail: impl Into<String>) -> Self {
        Violation {
            rule: rule.spec_ref(),
            offset,
            detail: detail.into(),
        }
    }

    /// The same violation seen from an enclosing buffer that starts `base` bytes earlier.
    pub(crate) fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }
}

pub(crate) fn u8_at(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// Missing bytes read as zero: accessors on a view never panic, and the checked
/// constructors make sure they are never missing in the first place.
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([u8_at(b, at), u8_at(b, at.wrapping_add(1))])
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([
        u8_at(b, at),
        u8_at(b, at.wrapping_add(1)),
        u8_at(b, at.wrapping_add(2)),
        u8_at(b, at.wrapping_add(3)),
    ])
}

pub(crate) fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    if let Some(s) = b.get(at..at.saturating_add(16)) {
        o.copy_from_slice(s);
    }
    Ipv6Addr::from(o)
}

/// Writes that silently stop at the end of the buffer, so `emit` never panics either;
/// callers size buffers with `buffer_len`.
pub(crate) fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = b.get_mut(at..at.saturating_add(bytes.len())) {
        dst.copy_from_slice(bytes);
    }
}

pub(crate) fn put_u8(b: &mut [u8], at: usize, v: u8) {
    put(b, at, &[v]);
}

pub(crate) fn put_u16(b: &mut [u8], at: usize, v: u16) {
    put(b, at, &v.to_be_bytes());
}

pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    put(b, at, &v.to_be_bytes());
}

/// Octets needed for a prefix of `bits` bits.
pub(crate) const fn prefix_octets(bits: u8) -> usize {
    (bits as usize).div_ceil(8)
}
