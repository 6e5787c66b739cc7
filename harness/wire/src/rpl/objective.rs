//! Objective functions: OF0 (RFC 6552) and MRHOF with ETX (RFC 6719).
//!
//! Both work on a slice of [`Candidate`]s (what the node heard in DIOs, plus its own
//! link estimate) and say which to prefer and what Rank that gives. They hold no state:
//! the node keeps its preferred parent and passes it in, which is what makes MRHOF's
//! hysteresis testable on its own.

use super::rank::{INFINITE_RANK, Rank};

/// A neighbour that advertised a DODAG the node may join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The Rank in its DIO.
    pub rank: u16,
    /// G from its DIO.
    pub grounded: bool,
    /// DODAGPreference from its DIO, 0..=7.
    pub preference: u8,
    /// OF0: this link's step_of_rank (Sp); `None` for DEFAULT_STEP_OF_RANK.
    pub step_of_rank: Option<u16>,
    /// MRHOF: this link's ETX in units of 1/128 (128 is a perfect link).
    pub link_etx: u16,
    /// MRHOF: the path ETX its DAG Metric Container advertised; `None` when it sent
    /// none, in which case its Rank stands in (RFC 6719 §3.1).
    pub advertised_cost: Option<u16>,
}

impl Candidate {
    /// A candidate with only a Rank: ungrounded, preference 0, a perfect link.
    pub fn with_rank(rank: u16) -> Self {
        Candidate {
            rank,
            grounded: false,
            preference: 0,
            step_of_rank: None,
            link_etx: 128,
            advertised_cost: None,
        }
    }
}

/// The outcome of parent selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParentChoice {
    /// Index into the candidates.
    pub index: usize,
    /// The Rank the node advertises through it.
    pub rank: u16,
    /// MRHOF: the path cost through it (OF0: equal to `rank`).
    pub path_cost: u32,
    /// Whether this differs from the `current` that was passed in.
    pub switched: bool,
}

/// OF0, the Objective Function Zero (RFC 6552).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Of0 {
    /// Rf, MINIMUM_RANK_FACTOR 1 ..= MAXIMUM_RANK_FACTOR 4.
    pub rank_factor: u16,
    /// Sr, 0 ..= MAXIMUM_RANK_STRETCH 5.
    pub stretch_of_rank: u16,
    pub min_hop_rank_increase: u16,
}

impl Of0 {
    /// The Objective Code Point (RFC 6552 §6.1).
    pub const OCP: u16 = 0;
    pub const DEFAULT_STEP_OF_RANK: u16 = 3;
    pub const MINIMUM_STEP_OF_RANK: u16 = 1;
    pub const MAXIMUM_STEP_OF_RANK: u16 = 9;
    pub const DEFAULT_RANK_STRETCH: u16 = 0;
    pub const MAXIMUM_RANK_STRETCH: u16 = 5;
    pub const DEFAULT_RANK_FACTOR: u16 = 1;
    pub const MINIMUM_RANK_FACTOR: u16 = 1;
    pub const MAXIMUM_RANK_FACTOR: u16 = 4;

    pub fn new(min_hop_rank_increase: u16) -> Self {
        Of0 {
            rank_factor: Self::DEFAULT_RANK_FACTOR,
            stretch_of_rank: Self::DEFAULT_RANK_STRETCH,
            min_hop_rank_increase,
        }
    }

    /// rank_increase = (Rf·Sp + Sr) · MinHopRankIncrease (RFC 6552 §4.1), each factor
    /// held to its allowed range, saturating at INFINITE_RANK.
    pub fn rank_increase(&self, step_of_rank: Option<u16>) -> u16 {
        let sp = step_of_rank
            .unwrap_or(Self::DEFAULT_STEP_OF_RANK)
            .clamp(Self::MINIMUM_STEP_OF_RANK, Self::MAXIMUM_STEP_OF_RANK);
        let rf = self
            .rank_factor
            .clamp(Self::MINIMUM_RANK_FACTOR, Self::MAXIMUM_RANK_FACTOR);
        let sr = self.stretch_of_rank.min(Self::MAXIMUM_RANK_STRETCH);
        let inc = u32::from(rf * sp + sr) * u32::from(self.min_hop_rank_increase);
        inc.min(u32::from(INFINITE_RANK)) as u16
    }

    /// R(N) = R(P) + rank_increase, saturating at INFINITE_RANK.
    pub fn rank_through(&self, c: &Candidate) -> u16 {
        if c.rank == INFINITE_RANK {
            return INFINITE_RANK;
        }
        c.rank.saturating_add(self.rank_increase(c.step_of_rank))
    }

    /// The preferred parent by RFC 6552 §4.2.1's order: grounded first, then higher
    /// DODAGPreference, then the lower resulting Rank; on a tie the current parent stays.
    /// Candidates at INFINITE_RANK are never chosen.
    pub fn select(&self, candidates: &[Candidate], current: Option<usize>) -> Option<ParentChoice> {
        let key = |c: &Candidate| {
            (
                !c.grounded,
                std::cmp::Reverse(c.preference),
                self.rank_through(c),
            )
        };
        let feasible = |i: &usize| {
            candidates
                .get(*i)
                .is_some_and(|c| self.rank_through(c) != INFINITE_RANK)
        };
        let best = (0..candidates.len())
            .filter(feasible)
            .min_by_key(|&i| (key(&candidates[i]), Some(i) != current))?;
        let rank = self.rank_through(&candidates[best]);
        Some(ParentChoice {
            index: best,
            rank,
            path_cost: u32::from(rank),
            switched: Some(best) != current,
        })
    }

    pub fn rank(&self, value: u16) -> Rank {
        Rank::new(value, self.min_hop_rank_increase)
    }
}

/// MRHOF with the ETX metric (RFC 6719).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mrhof {
    pub min_hop_rank_increase: u16,
    pub max_rank_increase: u16,
    pub parent_switch_threshold: u16,
    pub max_link_metric: u16,
    pub max_path_cost: u16,
    pub parent_set_size: usize,
}

impl Mrhof {
    /// The Objective Code Point (RFC 6719 §6).
    pub const OCP: u16 = 1;
    /// ETX 1.5 in units of 1/128 (§5).
    pub const PARENT_SWITCH_THRESHOLD: u16 = 192;
    /// ETX 4 (§5).
    pub const MAX_LINK_METRIC: u16 = 512;
    /// ETX 256 (§5).
    pub const MAX_PATH_COST: u16 = 32768;
    /// §5 recommends three.
    pub const PARENT_SET_SIZE: usize = 3;

    pub fn new(min_hop_rank_increase: u16, max_rank_increase: u16) -> Self {
        Mrhof {
            min_hop_rank_increase,
            max_rank_increase,
            parent_switch_threshold: Self::PARENT_SWITCH_THRESHOLD,
            max_link_metric: Self::MAX_LINK_METRIC,
            max_path_cost: Self::MAX_PATH_COST,
            parent_set_size: Self::PARENT_SET_SIZE,
        }
    }

    /// Path cost through a candidate: its advertised cost (or Rank) plus the link's ETX
    /// (§3.1); `None` when the link is worse than MAX_LINK_METRIC or the path costs
    /// more than MAX_PATH_COST, which excludes the candidate (§3.2.2).
    pub fn path_cost(&self, c: &Candidate) -> Option<u32> {
        if c.link_etx > self.max_link_metric || c.rank == INFINITE_RANK {
            return None;
        }
        let cost = u32::from(c.advertised_cost.unwrap_or(c.rank)) + u32::from(c.link_etx);
        (cost <= u32::from(self.max_path_cost)).then_some(cost)
    }

    /// The preferred parent with hysteresis (§3.2.2): the cheapest path, unless the
    /// current parent is still usable and the cheapest is not better than it by at least
    /// PARENT_SWITCH_THRESHOLD.
    pub fn select(&self, candidates: &[Candidate], current: Option<usize>) -> Option<ParentChoice> {
        let costed = |i: usize| {
            candidates
                .get(i)
                .and_then(|c| self.path_cost(c))
                .map(|p| (i, p))
        };
        let (best, best_cost) = (0..candidates.len())
            .filter_map(costed)
            .min_by_key(|&(i, p)| (p, Some(i) != current))?;
        let (index, cost) = match current.and_then(costed) {
            Some((cur, cur_cost))
                if cur_cost < best_cost + u32::from(self.parent_switch_threshold) =>
            {
                (cur, cur_cost)
            }
            _ => (best, best_cost),
        };
        Some(ParentChoice {
            index,
            rank: cost.min(u32::from(INFINITE_RANK)) as u16,
            path_cost: cost,
            switched: Some(index) != current,
        })
    }

    /// The parent set: the preferred parent, then the cheapest other usable candidates
    /// up to `parent_set_size` in all.
    pub fn parent_set(&self, candidates: &[Candidate], preferred: usize) -> Vec<usize> {
        let mut others: Vec<(u32, usize)> = (0..candidates.len())
            .filter(|&i| i != preferred)
            .filter_map(|i| self.path_cost(&candidates[i]).map(|p| (p, i)))
            .collect();
        others.sort_unstable();
        let mut set = Vec::with_capacity(self.parent_set_size);
        if candidates
            .get(preferred)
            .and_then(|c| self.path_cost(c))
            .is_some()
        {
            set.push(preferred);
        }
        set.extend(others.into_iter().map(|(_, i)| i));
        set.truncate(self.parent_set_size);
        set
    }

    /// The Rank to advertise (§3.3): the largest of the Rank through the preferred
    /// parent (its path cost, for ETX), the highest Rank in the parent set plus
    /// MinHopRankIncrease, and the highest path cost in the set minus MaxRankIncrease.
    pub fn advertised_rank(
        &self,
        candidates: &[Candidate],
        parent_set: &[usize],
        preferred: usize,
    ) -> u16 {
        let Some(via_preferred) = candidates.get(preferred).and_then(|c| self.path_cost(c)) else {
            return INFINITE_RANK;
        };
        let members = parent_set.iter().filter_map(|&i| candidates.get(i));
        let highest_rank = members
            .clone()
            .map(|c| u32::from(c.rank))
            .max()
            .unwrap_or(0);
        let highest_cost = members.filter_map(|c| self.path_cost(c)).max().unwrap_or(0);
        let r = via_preferred
            .max(highest_rank + u32::from(self.min_hop_rank_increase))
            .max(highest_cost.saturating_sub(u32::from(self.max_rank_increase)));
        r.min(u32::from(INFINITE_RANK)) as u16
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn of0_rank_increase_worked_numbers() {
        let of = Of0::new(256);
        // Defaults: (1·3 + 0)·256 = 768, so a root child sits at 256 + 768 = 1024.
        assert_eq!(of.rank_increase(None), 768);
        assert_eq!(of.rank_through(&Candidate::with_rank(256)), 1024);
        // Rf 2, Sp 4, Sr 1: (2·4 + 1)·256 = 2304.
        let of2 = Of0 {
            rank_factor: 2,
            stretch_of_rank: 1,
            ..of
        };
        assert_eq!(of2.rank_increase(Some(4)), 2304);
        // The bounds: minimum (1·1 + 0)·256 = 256, maximum (4·9 + 5)·256 = 10496.
        assert_eq!(of.rank_increase(Some(0)), 256);
        let max = Of0 {
            rank_factor: 9,
            stretch_of_rank: 9,
            ..of
        };
        assert_eq!(max.rank_increase(Some(99)), 41 * 256);
        // Saturates at INFINITE_RANK.
        let far = Candidate {
            step_of_rank: Some(9),
            ..Candidate::with_rank(60000)
        };
        assert_eq!(max.rank_through(&far), INFINITE_RANK);
        // Default Sp with the clamped Rf 4 and Sr 5: (4·3 + 5)·256 = 4352.
        assert_eq!(max.rank_through(&Candidate::with_rank(60000)), 64352);
        assert_eq!(Of0::new(1024).rank_increase(None), 3072);
    }

    #[test]
    fn of0_selection_order() {
        let of = Of0::new(256);
        let mut a = Candidate::with_rank(256);
        let mut b = Candidate::with_rank(1024);
        // Lower resulting rank wins.
        assert_eq!(of.select(&[b, a], None).unwrap().index, 1);
        // Grounded beats lower rank; preference beats rank within grounded.
        b.grounded = true;
        assert_eq!(of.select(&[a, b], None).unwrap().index, 1);
        a.grounded = true;
        a.preference = 0;
        b.preference = 4;
        assert_eq!(of.select(&[a, b], None).unwrap().index, 1);
        // Ties keep the current parent.
        let c = Candidate::with_rank(512);
        let choice = of.select(&[c, c], Some(1)).unwrap();
        assert_eq!(
            (choice.index, choice.switched, choice.rank),
            (1, false, 1280)
        );
        assert!(
            of.select(&[Candidate::with_rank(INFINITE_RANK)], None)
                .is_none()
        );
    }

    #[test]
    fn mrhof_path_cost_and_bounds() {
        let m = Mrhof::new(256, 7 * 256);
        let mut c = Candidate::with_rank(256);
        c.link_etx = 256; // ETX 2
        assert_eq!(m.path_cost(&c), Some(512));
        c.advertised_cost = Some(1000);
        assert_eq!(m.path_cost(&c), Some(1256));
        c.link_etx = 513; // worse than MAX_LINK_METRIC (ETX 4)
        assert_eq!(m.path_cost(&c), None);
        c.link_etx = 512;
        assert_eq!(m.path_cost(&c), Some(1512));
        c.advertised_cost = Some(32768 - 511);
        assert_eq!(m.path_cost(&c), None); // past MAX_PATH_COST
        c.advertised_cost = Some(32768 - 512);
        assert_eq!(m.path_cost(&c), Some(32768));
    }

    #[test]
    fn mrhof_hysteresis() {
        let m = Mrhof::new(256, 7 * 256);
        let at = |rank, etx| Candidate {
            link_etx: etx,
            ..Candidate::with_rank(rank)
        };
        // The current parent costs 256 + 384 = 640, the other 256 + 200 = 456:
        // better by 184 < 192, so stay.
        let cands = [at(256, 384), at(256, 200)];
        let c = m.select(&cands, Some(0)).unwrap();
        assert_eq!((c.index, c.switched, c.path_cost), (0, false, 640));
        // Better by exactly 192: switch.
        let cands = [at(256, 384), at(256, 192)];
        let c = m.select(&cands, Some(0)).unwrap();
        assert_eq!((c.index, c.switched, c.path_cost), (1, true, 448));
        // Without a current parent the cheapest wins outright.
        assert_eq!(
            m.select(&[at(256, 384), at(256, 383)], None).unwrap().index,
            1
        );
        // A current parent that became unusable is dropped whatever the threshold.
        let cands = [at(256, 600), at(256, 500)];
        assert_eq!(m.select(&cands, Some(0)).unwrap().index, 1);
    }

    #[test]
    fn mrhof_parent_set_and_rank() {
        let m = Mrhof::new(256, 3 * 256);
        let at = |rank, etx| Candidate {
            link_etx: etx,
            ..Candidate::with_rank(rank)
        };
        let cands = [
            at(256, 128),
            at(512, 128),
            at(768, 256),
            at(1024, 128),
            at(300, 900),
        ];
        let set = m.parent_set(&cands, 0);
        assert_eq!(set, vec![0, 1, 2]); // costs 384, 640, 1024; index 4 is unusable.
        // max(384, 768 + 256, 1024 - 768) = 1024.
        assert_eq!(m.advertised_rank(&cands, &set, 0), 1024);
        // A parent set of just the preferred parent: max(384, 256 + 256, 0) = 512.
        assert_eq!(m.advertised_rank(&cands, &[0], 0), 512);
        // The third term dominates when MaxRankIncrease is small: max(384, 512+256, 3000-0).
        let far = [at(256, 128), at(512, 128), at(2600, 400)];
        let m0 = Mrhof {
            max_rank_increase: 0,
            ..m
        };
        assert_eq!(m0.advertised_rank(&far, &[0, 1, 2], 0), 3000);
        assert_eq!(m.advertised_rank(&far, &[0], 5), INFINITE_RANK);
    }
}
