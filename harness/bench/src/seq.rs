//! Loss, duplicates and reordering of one publisher's stream as one subscriber saw it.

/// Sequence numbers seen, as a bitmap grown in whole words (sized ahead of the run, so
/// the hot path does not allocate).
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    seen: Vec<u64>,
    distinct: u64,
    highest: Option<u64>,
    pub received: u64,
    pub duplicates: u64,
    pub reordered: u64,
}

/// What one delivery was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// First time, after every earlier sequence number seen.
    InOrder,
    /// First time, but a later sequence number came before it.
    Reordered,
    /// Seen before.
    Duplicate,
}

impl SeqTracker {
    /// A tracker that holds `expected` sequence numbers without growing.
    pub fn with_capacity(expected: u64) -> SeqTracker {
        SeqTracker {
            seen: Vec::with_capacity(expected.div_ceil(64) as usize + 1),
            ..SeqTracker::default()
        }
    }

    pub fn record(&mut self, seq: u64) -> Arrival {
        self.received += 1;
        let word = (seq / 64) as usize;
        let bit = 1u64 << (seq % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & bit != 0 {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        self.seen[word] |= bit;
        self.distinct += 1;
        match self.highest {
            Some(h) if seq < h => {
                self.reordered += 1;
                Arrival::Reordered
            }
            _ => {
                self.highest = Some(seq);
                Arrival::InOrder
            }
        }
    }

    /// Folds in what another member of the same delivery group (a competing consumer)
    /// saw of the same publisher: a number either saw counts as delivered, one both saw
    /// is a duplicate. Reordering stays per member: order across consumers means nothing.
    pub fn merge(&mut self, other: &SeqTracker) {
        if other.seen.len() > self.seen.len() {
            self.seen.resize(other.seen.len(), 0);
        }
        let mut both = 0u64;
        for (mine, theirs) in self.seen.iter_mut().zip(&other.seen) {
            both += u64::from((*mine & theirs).count_ones());
            *mine |= theirs;
        }
        self.received += other.received;
        self.distinct = self.distinct + other.distinct - both;
        self.duplicates = self.received - self.distinct;
        self.reordered += other.reordered;
        self.highest = self.highest.max(other.highest);
    }

    /// Of the `published` sequence numbers 0..published, how many never arrived.
    pub fn lost(&self, published: u64) -> u64 {
        let full = (published / 64) as usize;
        let mut have: u64 = self
            .seen
            .iter()
            .take(full)
            .map(|w| u64::from(w.count_ones()))
            .sum();
        let rest = published % 64;
        if rest > 0
            && let Some(w) = self.seen.get(full)
        {
            have += u64::from((w & ((1u64 << rest) - 1)).count_ones());
        }
        published - have
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn gaps_duplicates_and_reordering() {
        let mut t = SeqTracker::with_capacity(200);
        let arrivals: Vec<Arrival> = [0, 1, 3, 2, 2, 5, 130, 129]
            .into_iter()
            .map(|s| t.record(s))
            .collect();
        use Arrival::*;
        assert_eq!(
            arrivals,
            [
                InOrder, InOrder, InOrder, Reordered, Duplicate, InOrder, InOrder, Reordered
            ]
        );
        assert_eq!((t.received, t.duplicates, t.reordered), (8, 1, 2));
        // Of 0..=130: seen 0,1,2,3,5,129,130 → 124 lost.
        assert_eq!(t.lost(131), 131 - 7);
        // Loss is judged at the end against what was published: 4 never came.
        assert_eq!(t.lost(6), 1);
        assert_eq!(t.lost(0), 0);
    }

    #[test]
    fn competing_consumers_merge_into_one_stream() {
        let (mut a, mut b) = (SeqTracker::default(), SeqTracker::default());
        for s in [0, 2, 4, 3] {
            a.record(s);
        }
        for s in [1, 5, 4, 200] {
            b.record(s);
        }
        a.merge(&b);
        // 0..=5 delivered, 4 twice; 3 and 4 each late at their consumer; 200 beyond.
        assert_eq!((a.received, a.duplicates, a.reordered), (8, 1, 2));
        assert_eq!(a.lost(6), 0);
        assert_eq!(a.lost(201), 201 - 7);
        let mut empty = SeqTracker::default();
        empty.merge(&a);
        assert_eq!((empty.received, empty.duplicates), (8, 1));
    }

    #[test]
    fn nothing_received_is_all_lost() {
        assert_eq!(SeqTracker::default().lost(1000), 1000);
    }

    #[test]
    fn sized_ahead_it_does_not_grow() {
        let mut t = SeqTracker::with_capacity(10_000);
        let cap = t.seen.capacity();
        for s in 0..10_000 {
            t.record(s);
        }
        assert_eq!(t.seen.capacity(), cap);
        assert_eq!(t.lost(10_000), 0);
    }
}
