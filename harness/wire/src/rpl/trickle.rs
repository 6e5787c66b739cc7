//! The Trickle timer (RFC 6206) as a sans-IO state machine.
//!
//! The caller passes the time in and asks when to call again ([`Trickle::poll_timeout`]);
//! after [`Trickle::handle_timeout`] it asks whether to transmit
//! ([`Trickle::poll_transmit`]). Randomness comes from a [`RandomSource`] the caller
//! chooses, so a seeded run repeats exactly.
//!
//! The rules of RFC 6206 §4.2, as numbered there:
//! 1. start with I = Imin (RFC 6550 §8.3.1 starts DIO timers at Imin);
//! 2. at the start of each interval, c = 0 and t is drawn uniformly from [I/2, I);
//! 3. a consistent transmission heard increments c;
//! 4. at t, transmit if c < k (k = 0 is RFC 6550's "infinite": always transmit);
//! 5. when I expires, double it up to Imax and start a new interval;
//! 6. an inconsistency heard while I > Imin resets I to Imin and starts a new interval.

use std::time::Duration;

use hilt_core::Instant;

/// Where Trickle's randomness comes from.
pub trait RandomSource {
    fn next_u64(&mut self) -> u64;
}

/// A small seeded generator (SplitMix64): good enough spread for timer jitter, and
/// reproducible from its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub const fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
}

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Counters over the timer's life, for metrics and for tests of the rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrickleStats {
    pub intervals: u64,
    pub transmissions: u64,
    pub suppressions: u64,
    pub resets: u64,
}

/// A Trickle timer.
#[derive(Debug, Clone)]
pub struct Trickle<R = SplitMix64> {
    imin: u64,
    imax: u64,
    k: u32,
    /// Current interval length, µs.
    i: u64,
    start: Instant,
    t: Instant,
    c: u32,
    t_passed: bool,
    running: bool,
    pending: bool,
    rng: R,
    stats: TrickleStats,
}

impl Trickle<SplitMix64> {
    /// A stopped timer with a fixed-seed generator; see [`Trickle::with_rng`].
    pub fn new(imin: Duration, doublings: u8, k: u32) -> Self {
        Trickle::with_rng(imin, doublings, k, SplitMix64::new(0x7269_636b_6c65))
    }
}

impl<R: RandomSource> Trickle<R> {
    /// Imin (at least 1 µs, the timer's resolution), Imax = Imin × 2^doublings
    /// (saturating), redundancy constant k (0: never suppress).
    pub fn with_rng(imin: Duration, doublings: u8, k: u32, rng: R) -> Self {
        let imin = (imin.as_micros().min(u128::from(u64::MAX)) as u64).max(1);
        let imax = imin
            .checked_shl(u32::from(doublings))
            .filter(|v| v >> doublings == imin)
            .unwrap_or(u64::MAX);
        Trickle {
            imin,
            imax,
            k,
            i: imin,
            start: Instant::ZERO,
            t: Instant::ZERO,
            c: 0,
            t_passed: false,
            running: false,
            pending: false,
            rng,
            stats: TrickleStats::default(),
        }
    }

    /// Rule 1: begin with I = Imin at `now`.
    pub fn start(&mut self, now: Instant) {
        self.running = true;
        self.i = self.imin;
        self.begin_interval(now);
    }

    pub fn stop(&mut self) {
        self.running = false;
        self.pending = false;
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Rule 2.
    fn begin_interval(&mut self, at: Instant) {
        self.start = at;
        self.c = 0;
        self.t_passed = false;
        let half = self.i / 2;
        let span = self.i - half;
        let jitter = self.rng.next_u64() % span.max(1);
        self.t = at + Duration::from_micros(half + jitter);
        self.stats.intervals += 1;
    }

    fn interval_end(&self) -> Instant {
        self.start + Duration::from_micros(self.i)
    }

    /// Processes everything due by `now`: the transmission point t (rule 4) and the
    /// end of the interval (rule 5), as many intervals as `now` has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.running {
            if !self.t_passed {
                if now < self.t {
                    return;
                }
                self.t_passed = true;
                if self.k == 0 || self.c < self.k {
                    self.pending = true;
                    self.stats.transmissions += 1;
                } else {
                    self.stats.suppressions += 1;
                }
            }
            let end = self.interval_end();
            // `end == start` only once the time line has saturated: nothing can follow.
            if now < end || end == self.start {
                return;
            }
            self.i = self.i.saturating_mul(2).min(self.imax);
            self.begin_interval(end);
        }
    }

    /// When [`Self::handle_timeout`] next has work: t, or else the end of the interval.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.running {
            return None;
        }
        Some(if self.t_passed {
            self.interval_end()
        } else {
            self.t
        })
    }

    /// Whether a transmission fell due and was not yet taken; taking it clears it.
    pub fn poll_transmit(&mut self) -> bool {
        std::mem::take(&mut self.pending)
    }

    /// Whether a transmission is due, without taking it.
    pub fn should_transmit(&self) -> bool {
        self.pending
    }

    /// Rule 3.
    pub fn hear_consistent(&mut self) {
        self.c = self.c.saturating_add(1);
    }

    /// Rule 6: an inconsistency resets to Imin unless I already is Imin.
    pub fn hear_inconsistent(&mut self, now: Instant) {
        if self.running && self.i > self.imin {
            self.reset(now);
        }
    }

    /// An external event (RFC 6206 §4.2 allows them; RPL resets on a DIS, a new
    /// version, …): I = Imin and a new interval, starting the timer if stopped.
    pub fn reset(&mut self, now: Instant) {
        self.running = true;
        self.i = self.imin;
        self.stats.resets += 1;
        self.begin_interval(now);
    }

    /// The current interval length I.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(self.i)
    }

    pub fn imin(&self) -> Duration {
        Duration::from_micros(self.imin)
    }

    pub fn imax(&self) -> Duration {
        Duration::from_micros(self.imax)
    }

    /// The counter c of consistent transmissions heard this interval.
    pub fn counter(&self) -> u32 {
        self.c
    }

    /// The transmission point t of the current interval.
    pub fn transmit_at(&self) -> Instant {
        self.t
    }

    pub fn interval_start(&self) -> Instant {
        self.start
    }

    pub fn stats(&self) -> TrickleStats {
        self.stats
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(v: u64) -> Instant {
        Instant::from_millis(v)
    }

    /// Runs to `until`, calling handle_timeout at each deadline; returns the times of
    /// transmissions and each interval's (start, length).
    fn run(tr: &mut Trickle, until: Instant) -> (Vec<Instant>, Vec<(Instant, Duration)>) {
        let mut tx = Vec::new();
        let mut iv = vec![(tr.interval_start(), tr.interval())];
        while let Some(at) = tr.poll_timeout() {
            if at > until {
                break;
            }
            tr.handle_timeout(at);
            if tr.poll_transmit() {
                tx.push(at);
            }
            if iv.last() != Some(&(tr.interval_start(), tr.interval())) {
                iv.push((tr.interval_start(), tr.interval()));
            }
        }
        (tx, iv)
    }

    #[test]
    fn intervals_double_up_to_imax_and_stay() {
        let mut tr = Trickle::new(8 * MS, 4, 10);
        assert_eq!(tr.imax(), 128 * MS);
        tr.start(ms(0));
        let (tx, iv) = run(&mut tr, ms(1000));
        let lengths: Vec<u64> = iv.iter().map(|(_, d)| d.as_millis() as u64).collect();
        assert_eq!(&lengths[..7], &[8, 16, 32, 64, 128, 128, 128]);
        // Intervals abut: each starts where the previous ended.
        for w in iv.windows(2) {
            assert_eq!(w[1].0, w[0].0 + w[0].1);
        }
        // Nothing heard: one transmission per interval (the last may not have reached
        // its t), each in [I/2, I).
        assert!(tx.len() + 1 == iv.len() || tx.len() == iv.len());
        for (t, (s, d)) in tx.iter().zip(&iv) {
            assert!(
                *t >= *s + *d / 2 && *t < *s + *d,
                "{t:?} outside [{s:?}+I/2, +I)"
            );
        }
    }

    #[test]
    fn suppression_when_c_reaches_k() {
        let mut tr = Trickle::new(100 * MS, 0, 2);
        tr.start(ms(0));
        tr.hear_consistent();
        tr.hear_consistent();
        assert_eq!(tr.counter(), 2);
        tr.handle_timeout(tr.transmit_at());
        assert!(!tr.should_transmit(), "c = k suppresses");
        // Next interval: c back to 0; one heard (< k) still transmits.
        tr.handle_timeout(ms(100));
        assert_eq!((tr.counter(), tr.interval()), (0, 100 * MS));
        tr.hear_consistent();
        tr.handle_timeout(tr.transmit_at());
        assert!(tr.poll_transmit());
        assert!(!tr.poll_transmit(), "taken once");
        assert_eq!((tr.stats().transmissions, tr.stats().suppressions), (1, 1));
    }

    #[test]
    fn k_zero_never_suppresses() {
        let mut tr = Trickle::new(10 * MS, 0, 0);
        tr.start(ms(0));
        for _ in 0..1000 {
            tr.hear_consistent();
        }
        tr.handle_timeout(ms(10));
        assert_eq!(tr.stats().transmissions, 1);
    }

    #[test]
    fn inconsistency_resets_to_imin_unless_already_there() {
        let mut tr = Trickle::new(8 * MS, 6, 3);
        tr.start(ms(0));
        // At Imin an inconsistency changes nothing.
        let t0 = tr.transmit_at();
        tr.hear_inconsistent(ms(1));
        assert_eq!((tr.transmit_at(), tr.stats().resets), (t0, 0));
        tr.handle_timeout(ms(8 + 16 + 32));
        assert_eq!(tr.interval(), 64 * MS);
        tr.hear_consistent();
        tr.hear_inconsistent(ms(60));
        assert_eq!(
            (tr.interval(), tr.interval_start(), tr.counter()),
            (8 * MS, ms(60), 0)
        );
        assert!(tr.transmit_at() >= ms(64) && tr.transmit_at() < ms(68));
        // An external reset starts a stopped timer.
        let mut idle = Trickle::new(8 * MS, 6, 3);
        assert_eq!(idle.poll_timeout(), None);
        idle.reset(ms(5));
        assert_eq!(idle.interval_start(), ms(5));
        assert!(idle.poll_timeout().is_some());
    }

    #[test]
    fn t_is_uniform_over_the_second_half() {
        // 20,000 intervals at Imax = Imin: every t in [I/2, I), mean ≈ 3I/4, and each
        // tenth of the half-interval gets ≈ 10%.
        let i = 1000u64;
        let mut tr = Trickle::with_rng(Duration::from_micros(i), 0, 1, SplitMix64::new(42));
        tr.start(Instant::ZERO);
        let mut buckets = [0u32; 10];
        let mut sum = 0u64;
        let n = 20_000u64;
        for _ in 0..n {
            let off = tr.transmit_at().as_micros() - tr.interval_start().as_micros();
            assert!((i / 2..i).contains(&off));
            sum += off;
            buckets[((off - i / 2) * 10 / (i / 2)) as usize] += 1;
            let end = tr.interval_start() + tr.interval();
            tr.handle_timeout(end);
        }
        let mean = sum as f64 / n as f64;
        assert!((mean - 750.0).abs() < 5.0, "mean {mean}");
        for b in buckets {
            assert!((1800..2200).contains(&b), "{buckets:?}");
        }
        assert_eq!(tr.stats().transmissions, n);
    }

    #[test]
    fn steady_state_transmissions_fall_with_listeners() {
        // Statistics over many intervals: with a neighbour heard every interval and
        // k = 1, this node never speaks; with k = 2 it always does.
        for (k, expect) in [(1u32, 0u64), (2, 500)] {
            let mut tr = Trickle::new(10 * MS, 0, k);
            tr.start(ms(0));
            for n in 0..500 {
                tr.hear_consistent();
                tr.handle_timeout(ms(10 * (n + 1)));
                tr.poll_transmit();
            }
            assert_eq!(tr.stats().transmissions, expect, "k = {k}");
            assert_eq!(tr.stats().transmissions + tr.stats().suppressions, 500);
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        let sched = |seed| {
            let mut tr = Trickle::with_rng(8 * MS, 8, 3, SplitMix64::new(seed));
            tr.start(ms(0));
            run(&mut tr, ms(10_000)).0
        };
        assert_eq!(sched(7), sched(7));
        assert_ne!(sched(7), sched(8));
    }

    #[test]
    fn huge_settings_saturate_instead_of_overflowing() {
        let mut tr = Trickle::new(Duration::from_secs(1 << 40), 255, 1);
        assert_eq!(tr.imax(), Duration::from_micros(u64::MAX));
        tr.start(Instant::from_micros(u64::MAX - 10));
        tr.handle_timeout(Instant::from_micros(u64::MAX));
        let mut zero = Trickle::new(Duration::ZERO, 0, 1);
        zero.start(ms(0));
        zero.handle_timeout(ms(1)); // 1 µs intervals: a thousand of them, no hang
        assert_eq!(zero.stats().intervals, 1001);
    }
}
