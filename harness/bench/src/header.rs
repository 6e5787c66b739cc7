//! The header at the front of every benchmark payload.
//!
//! ```text
//! 0     2     4          8                16
//! | run | pub | sequence | sent (ns)      | filler …
//! ```
//!
//! All fields big-endian; 16 bytes, so the smallest payload the issue's efficiency
//! comparison uses (16 bytes) still carries it. The intended send time is not carried:
//! it is a pure function of the publisher's schedule and the sequence number
//! ([`crate::schedule::Schedule::intended`]), which every task of the run shares. The
//! actual send time travels (nanoseconds since the run's origin, a monotonic instant
//! every task of the process shares: loopback latencies are tens of microseconds, so
//! microsecond stamps would cost several percent of resolution), so the subscriber
//! computes both latencies alone.
//!
//! The run id is the low 16 bits of the run's: topics carry the whole id, so the header's
//! share only has to tell an earlier run's stray message (a retained one) apart, and
//! sequence numbers are 32 bits, which a workload check keeps within range.

/// Bytes of the header; payloads are at least this long.
pub const HEADER_LEN: usize = 16;

/// Offsets of the fields a publisher patches into a pre-encoded payload.
pub(crate) const SEQ_AT: usize = 4;
pub(crate) const SENT_AT: usize = 8;

/// What a payload's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Identifies the run (its low 16 bits), so stray messages are told apart.
    pub run: u16,
    pub publisher: u16,
    pub seq: u32,
    /// When the publisher actually wrote it.
    pub sent_ns: u64,
}

impl Header {
    /// Writes the header over the front of `payload` (which is at least [`HEADER_LEN`]).
    pub fn write(&self, payload: &mut [u8]) {
        let Some(h) = payload.get_mut(..HEADER_LEN) else {
            return;
        };
        h[0..2].copy_from_slice(&self.run.to_be_bytes());
        h[2..4].copy_from_slice(&self.publisher.to_be_bytes());
        patch(h, self.seq, self.sent_ns);
    }

    /// Reads a header; `None` when the payload is too short to hold one.
    pub fn read(payload: &[u8]) -> Option<Header> {
        let h: &[u8; HEADER_LEN] = payload.get(..HEADER_LEN)?.try_into().ok()?;
        let [r0, r1, p0, p1, s0, s1, s2, s3, t @ ..] = *h;
        Some(Header {
            run: u16::from_be_bytes([r0, r1]),
            publisher: u16::from_be_bytes([p0, p1]),
            seq: u32::from_be_bytes([s0, s1, s2, s3]),
            sent_ns: u64::from_be_bytes(t),
        })
    }
}

/// Rewrites the per-message fields of a header already in place: what a publisher does
/// to its pre-encoded PUBLISH for each message.
#[inline]
pub(crate) fn patch(header: &mut [u8], seq: u32, sent_ns: u64) {
    header[SEQ_AT..SENT_AT].copy_from_slice(&seq.to_be_bytes());
    header[SENT_AT..HEADER_LEN].copy_from_slice(&sent_ns.to_be_bytes());
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn round_trip_leaves_the_filler_alone() {
        let h = Header {
            run: 0xbeef,
            publisher: 7,
            seq: 1 << 30,
            sent_ns: 123_999_000,
        };
        let mut p = [0xa5u8; 24];
        h.write(&mut p);
        assert_eq!(Header::read(&p), Some(h));
        assert_eq!(&p[HEADER_LEN..], &[0xa5; 8]);
        assert_eq!(&p[..4], &[0xbe, 0xef, 0, 7]);
        patch(&mut p, 9, 10);
        let again = Header::read(&p).unwrap();
        assert_eq!(
            (again.run, again.publisher, again.seq, again.sent_ns),
            (0xbeef, 7, 9, 10)
        );
    }

    #[test]
    fn short_payloads_have_no_header() {
        assert_eq!(Header::read(&[0; HEADER_LEN - 1]), None);
        let mut short = [0u8; 4];
        Header {
            run: 1,
            publisher: 1,
            seq: 1,
            sent_ns: 1,
        }
        .write(&mut short);
        assert_eq!(short, [0; 4], "a short buffer is left untouched");
    }
}
