//! Rank (RFC 6550 §3.5) and the lollipop counters of Version, DTSN and DAO Sequence
//! (§7.2).

use std::cmp::Ordering;

/// RFC 6550 §17: the default MinHopRankIncrease.
pub const DEFAULT_MIN_HOP_RANK_INCREASE: u16 = 256;
/// RFC 6550 §17: the Rank that means "not reachable" (poisoning).
pub const INFINITE_RANK: u16 = 0xffff;

/// A Rank together with the MinHopRankIncrease of its DODAG, which gives it meaning:
/// comparisons go by DAGRank() = floor(Rank / MinHopRankIncrease), so Ranks that differ
/// by less than one hop's increase compare equal (§3.5.1).
///
/// No `Ord`: two unequal values can be DAGRank-equal, which `Ord` could not express
/// without contradicting `Eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rank {
    pub value: u16,
    pub min_hop_rank_increase: u16,
}

impl Rank {
    pub const fn new(value: u16, min_hop_rank_increase: u16) -> Self {
        Rank {
            value,
            min_hop_rank_increase,
        }
    }

    /// ROOT_RANK is MinHopRankIncrease (§8.2.2.2): DAGRank 1.
    pub const fn root(min_hop_rank_increase: u16) -> Self {
        Rank::new(min_hop_rank_increase, min_hop_rank_increase)
    }

    pub const fn infinite(min_hop_rank_increase: u16) -> Self {
        Rank::new(INFINITE_RANK, min_hop_rank_increase)
    }

    pub const fn is_infinite(self) -> bool {
        self.value == INFINITE_RANK
    }

    /// DAGRank(rank) = floor(rank / MinHopRankIncrease). A MinHopRankIncrease of 0
    /// (which the codec rejects) is read as 1 rather than dividing by zero.
    pub const fn dag_rank(self) -> u16 {
        let m = if self.min_hop_rank_increase == 0 {
            1
        } else {
            self.min_hop_rank_increase
        };
        self.value / m
    }

    /// Comparison by DAGRank (§3.5.1): Less means "closer to the root".
    pub fn cmp_dag(self, other: Rank) -> Ordering {
        self.dag_rank().cmp(&other.dag_rank())
    }

    pub fn less_than(self, other: Rank) -> bool {
        self.cmp_dag(other) == Ordering::Less
    }

    pub fn greater_than(self, other: Rank) -> bool {
        self.cmp_dag(other) == Ordering::Greater
    }

    pub fn dag_equal(self, other: Rank) -> bool {
        self.cmp_dag(other) == Ordering::Equal
    }

    /// This Rank plus `increase`, saturating at INFINITE_RANK.
    pub fn saturating_add(self, increase: u16) -> Rank {
        Rank::new(
            self.value.saturating_add(increase),
            self.min_hop_rank_increase,
        )
    }
}

/// A lollipop sequence counter (RFC 6550 §7.2): 128..=255 is the straight part a
/// restarted node begins on, 0..=127 the circular part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SequenceCounter(pub u8);

impl SequenceCounter {
    /// SEQUENCE_WINDOW.
    pub const WINDOW: u8 = 16;

    /// 256 - SEQUENCE_WINDOW: where counters start, so that a restart is recognised.
    pub const fn initial() -> Self {
        SequenceCounter(0u8.wrapping_sub(Self::WINDOW))
    }

    /// The next value: the straight part runs into 0, the circular part wraps 127 → 0.
    pub const fn next(self) -> Self {
        SequenceCounter(match self.0 {
            127 | 255 => 0,
            n => n + 1,
        })
    }

    /// Ordering per §7.2; `None` when the two have drifted apart by more than the window
    /// inside the circular region (desynchronised: not comparable). Distances inside the
    /// circular region are taken modulo 128, so 2 comes after 126.
    pub fn compare(self, other: SequenceCounter) -> Option<Ordering> {
        let (a, b) = (self.0, other.0);
        let w = u16::from(Self::WINDOW);
        match (a > 127, b > 127) {
            (true, true) => Some(a.cmp(&b)),
            (true, false) => Some(if 256 + u16::from(b) - u16::from(a) <= w {
                Ordering::Less
            } else {
                Ordering::Greater
            }),
            (false, true) => other.compare(self).map(Ordering::reverse),
            (false, false) => {
                let d = u16::from(a.wrapping_sub(b) & 0x7f);
                if d == 0 {
                    Some(Ordering::Equal)
                } else if d <= w {
                    Some(Ordering::Greater)
                } else if 128 - d <= w {
                    Some(Ordering::Less)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn dag_rank_floors_by_min_hop_rank_increase() {
        let r = |v| Rank::new(v, 256);
        assert_eq!(r(256).dag_rank(), 1);
        assert_eq!(r(511).dag_rank(), 1);
        assert_eq!(r(512).dag_rank(), 2);
        // 300 and 511 are the same DAGRank: neither may be the other's parent.
        assert!(r(300).dag_equal(r(511)));
        assert!(r(256).less_than(r(512)));
        assert!(r(768).greater_than(r(767)));
        assert_eq!(Rank::root(256).dag_rank(), 1);
        assert_eq!(Rank::new(1000, 0).dag_rank(), 1000);
        assert_eq!(Rank::infinite(256).dag_rank(), 255);
        assert!(r(0xff00).saturating_add(0x200).is_infinite());
    }

    #[test]
    fn lollipop_counters() {
        let c = SequenceCounter::initial();
        assert_eq!(c.0, 240);
        assert_eq!(SequenceCounter(255).next().0, 0);
        assert_eq!(SequenceCounter(127).next().0, 0);
        let s = SequenceCounter;
        // Straight part: plain arithmetic.
        assert_eq!(s(241).compare(s(240)), Some(Ordering::Greater));
        // Straight vs circular: 255 then 0..=15 are "after", further is "before".
        assert_eq!(s(250).compare(s(5)), Some(Ordering::Less));
        assert_eq!(s(240).compare(s(100)), Some(Ordering::Greater));
        assert_eq!(s(5).compare(s(250)), Some(Ordering::Greater));
        // Circular part: within the window both ways, wrapping at 128.
        assert_eq!(s(10).compare(s(3)), Some(Ordering::Greater));
        assert_eq!(s(2).compare(s(126)), Some(Ordering::Greater));
        assert_eq!(s(126).compare(s(2)), Some(Ordering::Less));
        assert_eq!(s(7).compare(s(7)), Some(Ordering::Equal));
        assert_eq!(s(60).compare(s(10)), None);
    }
}
