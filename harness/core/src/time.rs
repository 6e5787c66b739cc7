//! Time as a value.
//!
//! Protocol cores never read a clock: they are handed an [`Instant`]. Drivers map the
//! monotonic clock onto it; the simulator advances it virtually; unit tests construct it.

use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point on a monotonic time line, in microseconds from an origin the driver chooses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }

    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms * 1000)
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time since `earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

/// Wall-clock time as microseconds since the Unix epoch, for records people read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn micros(self) -> u64 {
        self.0
    }

    /// RFC 3339 in UTC with millisecond precision, computed without a time-zone database.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0 / 1_000_000;
        let millis = (self.0 / 1000) % 1000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T10:34:16.250Z
        assert_eq!(
            Timestamp(1_795_602_856_250_000).to_rfc3339(),
            "2026-11-25T10:34:16.250Z"
        );
        assert_eq!(
            Timestamp(951_782_400_000_000).to_rfc3339(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let a = Instant::from_millis(5);
        let b = a + Duration::from_millis(10);
        assert_eq!(b - a, Duration::from_millis(10));
        assert_eq!(a - b, Duration::ZERO);
    }
}
