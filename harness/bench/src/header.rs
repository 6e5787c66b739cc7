//! The header at the front of every benchmark payload.
//!
//! ```text
//! 0      4        8          16              24           32
//! | run  | pub    | sequence | intended (ns) | sent (ns)  | filler …
//! ```
//!
//! All fields big-endian. Times are nanoseconds since the run's origin, a monotonic
//! instant every task of the process shares: loopback latencies are tens of
//! microseconds, so microsecond stamps would cost several percent of resolution. The
//! actual send time travels too, so the subscriber computes both latencies alone.

/// Bytes of the header; payloads are at least this long.
pub const HEADER_LEN: usize = 32;

/// What a payload's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Identifies the run, so stray messages (a retained one, an earlier run's) are
    /// told apart.
    pub run: u32,
    pub publisher: u32,
    pub seq: u64,
    /// When the schedule said the message should go.
    pub intended_ns: u64,
    /// When the publisher actually wrote it.
    pub sent_ns: u64,
}

impl Header {
    /// Writes the header over the front of `payload` (which is at least [`HEADER_LEN`]).
    pub fn write(&self, payload: &mut [u8]) {
        let Some(h) = payload.get_mut(..HEADER_LEN) else {
            return;
        };
        h[0..4].copy_from_slice(&self.run.to_be_bytes());
        h[4..8].copy_from_slice(&self.publisher.to_be_bytes());
        h[8..16].copy_from_slice(&self.seq.to_be_bytes());
        h[16..24].copy_from_slice(&self.intended_ns.to_be_bytes());
        h[24..32].copy_from_slice(&self.sent_ns.to_be_bytes());
    }

    /// Reads a header; `None` when the payload is too short to hold one.
    pub fn read(payload: &[u8]) -> Option<Header> {
        let h = payload.get(..HEADER_LEN)?;
        let u32_at = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&h[i..i + 8]);
            u64::from_be_bytes(b)
        };
        Some(Header {
            run: u32_at(0),
            publisher: u32_at(4),
            seq: u64_at(8),
            intended_ns: u64_at(16),
            sent_ns: u64_at(24),
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn round_trip_leaves_the_filler_alone() {
        let h = Header {
            run: 0xdead_beef,
            publisher: 7,
            seq: 1 << 40,
            intended_ns: 123_456_789,
            sent_ns: 123_999_000,
        };
        let mut p = [0xa5u8; 40];
        h.write(&mut p);
        assert_eq!(Header::read(&p), Some(h));
        assert_eq!(&p[HEADER_LEN..], &[0xa5; 8]);
        assert_eq!(&p[..4], &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn short_payloads_have_no_header() {
        assert_eq!(Header::read(&[0; HEADER_LEN - 1]), None);
        let mut short = [0u8; 4];
        Header {
            run: 1,
            publisher: 1,
            seq: 1,
            intended_ns: 1,
            sent_ns: 1,
        }
        .write(&mut short);
        assert_eq!(short, [0; 4], "a short buffer is left untouched");
    }
}
