//! The Variable Byte Integer: Remaining Length, Property Length, Subscription Identifier.
//!
//! Seven bits per byte, least significant group first, the top bit saying "more follows";
//! at most four bytes, and the shortest encoding is the only valid one.

/// The largest value four bytes can carry.
pub const MAX: u32 = 268_435_455;

/// What the front of a buffer holds, read as a Variable Byte Integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintRead {
    /// A value, the bytes it took, and whether those were the fewest possible.
    Value {
        value: u32,
        len: usize,
        minimal: bool,
    },
    /// The buffer ends while the continuation bit is still set.
    NeedMore,
    /// A fifth byte would be needed: never valid.
    TooLong,
}

/// Reads a Variable Byte Integer from the front of `buf`; never panics.
#[inline]
pub fn read(buf: &[u8]) -> VarintRead {
    let mut value: u32 = 0;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let len = i + 1;
            // A trailing zero group after the first byte could have been left out.
            let minimal = len == 1 || byte != 0;
            return VarintRead::Value {
                value,
                len,
                minimal,
            };
        }
    }
    if buf.len() >= 4 {
        VarintRead::TooLong
    } else {
        VarintRead::NeedMore
    }
}

/// Bytes the shortest encoding of `value` takes (5 for values above [`MAX`], which only
/// [`write()`] produces, for negative tests).
#[inline]
pub const fn encoded_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=MAX => 4,
        _ => 5,
    }
}

/// Appends the shortest encoding of `value`. Values above [`MAX`] come out as five
/// bytes: invalid on the wire, useful to a negative test.
#[inline]
pub fn write(mut value: u32, out: &mut Vec<u8>) {
    loop {
        let group = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(group);
            return;
        }
        out.push(group | 0x80);
    }
}

/// Appends `value` padded to `width` bytes with redundant continuation groups: a
/// non-minimal encoding for negative tests. A width below the minimum is raised to it.
pub fn write_padded(mut value: u32, width: usize, out: &mut Vec<u8>) {
    let width = width.max(encoded_len(value));
    for i in 0..width {
        let group = (value & 0x7f) as u8;
        value >>= 7;
        if i + 1 == width {
            out.push(group);
        } else {
            out.push(group | 0x80);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    static FIXTURES: &[(u32, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xff, 0x7f]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xff, 0xff, 0x7f]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (MAX, &[0xff, 0xff, 0xff, 0x7f]),
    ];

    #[test]
    fn test_parse() {
        for &(value, bytes) in FIXTURES {
            assert_eq!(
                read(bytes),
                VarintRead::Value {
                    value,
                    len: bytes.len(),
                    minimal: true
                },
                "{value}"
            );
        }
    }

    #[test]
    fn test_emit() {
        for &(value, bytes) in FIXTURES {
            let mut out = vec![0xa5; 0];
            write(value, &mut out);
            assert_eq!(out, bytes);
            assert_eq!(encoded_len(value), bytes.len());
        }
    }

    #[test]
    fn test_impossible_len() {
        assert_eq!(read(&[]), VarintRead::NeedMore);
        assert_eq!(read(&[0x80, 0x80]), VarintRead::NeedMore);
        assert_eq!(read(&[0x80, 0x80, 0x80, 0x80, 0x01]), VarintRead::TooLong);
        assert_eq!(read(&[0xff, 0xff, 0xff, 0xff]), VarintRead::TooLong);
    }

    #[test]
    fn non_minimal_is_flagged() {
        assert_eq!(
            read(&[0x80, 0x00]),
            VarintRead::Value {
                value: 0,
                len: 2,
                minimal: false
            }
        );
        let mut out = Vec::new();
        write_padded(5, 3, &mut out);
        assert_eq!(out, [0x85, 0x80, 0x00]);
        assert_eq!(
            read(&out),
            VarintRead::Value {
                value: 5,
                len: 3,
                minimal: false
            }
        );
    }

    #[test]
    fn over_max_writes_five_bytes() {
        let mut out = Vec::new();
        write(MAX + 1, &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(read(&out), VarintRead::TooLong);
    }
}
