//! Open-loop pacing: when each message should be sent, whatever happened before.
//!
//! Message `i` of a publisher is due at `start + i / rate`, fixed before the run begins.
//! A publisher that falls behind (a blocked socket, a descheduled thread) sends its
//! backlog at once but keeps each message's intended time, so the delay it suffered is
//! charged to the latency measured from the intended time — the coordinated-omission
//! correction of wrk2 and OMB. Pure arithmetic on nanoseconds: tests drive it with a
//! fake clock.

use std::ops::Range;

const NS_PER_S: u128 = 1_000_000_000;

/// The intended send times of one publisher's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// First message's intended time, ns since the run's origin.
    pub start_ns: u64,
    /// Messages per second.
    pub rate: u64,
    /// Messages in the whole run (warm-up included).
    pub total: u64,
}

impl Schedule {
    /// A schedule of `rate` messages per second from `start_ns` for `length_ns`.
    pub fn new(start_ns: u64, rate: u64, length_ns: u64) -> Schedule {
        let total = (u128::from(length_ns) * u128::from(rate)).div_ceil(NS_PER_S) as u64;
        Schedule {
            start_ns,
            rate,
            total,
        }
    }

    /// When message `i` should be sent.
    #[inline]
    pub fn intended(&self, i: u64) -> u64 {
        let rate = self.rate.max(1);
        // Every message of a run is a hot path: 64-bit division while i·1e9 fits.
        let offset = match i.checked_mul(NS_PER_S as u64) {
            Some(n) => n / rate,
            None => (u128::from(i) * NS_PER_S / u128::from(rate)) as u64,
        };
        self.start_ns + offset
    }

    /// How many messages are due at `now_ns` (intended at or before it), at most `total`.
    pub fn due_by(&self, now_ns: u64) -> u64 {
        if now_ns < self.start_ns {
            return 0;
        }
        // i is due iff floor(i·1e9/rate) ≤ d  ⇔  i·1e9 < (d+1)·rate.
        let d = u128::from(now_ns - self.start_ns);
        let due = ((d + 1) * u128::from(self.rate)).div_ceil(NS_PER_S);
        (due as u64).min(self.total)
    }
}

/// What a publisher should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these messages now (a batch: the first may be late).
    Send(Range<u64>),
    /// Nothing is due: flush, then sleep until this time (ns).
    SleepUntil(u64),
    /// Every message has been sent.
    Done,
}

/// Walks a [`Schedule`] against the clock the caller reads.
#[derive(Debug, Clone)]
pub struct Pacer {
    pub schedule: Schedule,
    next: u64,
    max_batch: u64,
}

impl Pacer {
    /// `max_batch` bounds one [`Step::Send`], so a long backlog is sent in pieces whose
    /// actual send times are read afresh.
    pub fn new(schedule: Schedule, max_batch: u64) -> Pacer {
        Pacer {
            schedule,
            next: 0,
            max_batch: max_batch.max(1),
        }
    }

    /// Messages handed out so far.
    pub fn sent(&self) -> u64 {
        self.next
    }

    pub fn poll(&mut self, now_ns: u64) -> Step {
        if self.next >= self.schedule.total {
            return Step::Done;
        }
        let due = self.schedule.due_by(now_ns);
        if due > self.next {
            let end = due.min(self.next + self.max_batch);
            let r = self.next..end;
            self.next = end;
            Step::Send(r)
        } else {
            Step::SleepUntil(self.schedule.intended(self.next))
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn intended_times_are_absolute() {
        let s = Schedule::new(1_000, 3, 2_000_000_000);
        assert_eq!(s.total, 6);
        assert_eq!(s.intended(0), 1_000);
        assert_eq!(s.intended(1), 1_000 + 333_333_333);
        assert_eq!(s.intended(3), 1_000 + 1_000_000_000);
        // No drift: the 3000th message of a 3/s schedule is exactly 1000 s in.
        assert_eq!(s.intended(3000), 1_000 + 1_000_000_000_000);
    }

    #[test]
    fn due_by_agrees_with_intended() {
        for rate in [1, 3, 7, 1000, 33_333, 1_000_000_000] {
            let s = Schedule::new(500, rate, 10_000_000_000);
            for i in [0, 1, 2, 5, 99] {
                let t = s.intended(i);
                assert_eq!(s.due_by(t), (i + 1).min(s.total), "rate {rate} i {i}");
                if t > 500 {
                    assert_eq!(s.due_by(t - 1), i.min(s.total), "rate {rate} i {i}");
                }
            }
        }
        assert_eq!(Schedule::new(500, 10, 1).due_by(499), 0);
    }

    #[test]
    fn on_time_publisher_sends_one_at_a_time() {
        let mut p = Pacer::new(Schedule::new(0, 1000, 3_000_000), 64);
        assert_eq!(p.poll(0), Step::Send(0..1));
        assert_eq!(p.poll(10), Step::SleepUntil(1_000_000));
        assert_eq!(p.poll(1_000_000), Step::Send(1..2));
        assert_eq!(p.poll(2_000_005), Step::Send(2..3));
        assert_eq!(p.poll(9_000_000), Step::Done);
    }

    #[test]
    fn a_late_publisher_sends_its_backlog_at_once_keeping_intended_times() {
        // 1000/s; the clock jumps 10.5 ms (a stall): 11 messages are due.
        let mut p = Pacer::new(Schedule::new(0, 1000, 1_000_000_000), 4);
        assert_eq!(p.poll(0), Step::Send(0..1));
        let now = 10_500_000;
        let mut sent = Vec::new();
        while let Step::Send(r) = p.poll(now) {
            assert!(r.end - r.start <= 4, "batches are bounded");
            sent.extend(r);
        }
        assert_eq!(sent, (1..11).collect::<Vec<_>>());
        // The backlog keeps its intended times: message 5 was meant for 5 ms.
        assert_eq!(p.schedule.intended(5), 5_000_000);
        assert_eq!(p.poll(now), Step::SleepUntil(11_000_000));
        assert_eq!(p.sent(), 11);
    }
}
