//! `rate: max`: the highest rate whose backlog and p99 stay bounded.
//!
//! Short steps (the workload's `search`: 0.5 s warm-up and 2 s measured by default),
//! each judged by [`holds`]: doubling from `start` until a step fails, then bisection
//! between the highest step that held and the lowest that failed until they are within
//! `precision` of each other. A target that cannot keep up builds a backlog, and an
//! open-loop load charges that backlog to every later message's corrected latency: its
//! p99 grows past any fixed limit within a step, its deliveries fall behind the intended
//! rate, and what is still queued when the step's drain ends counts as lost. So a step
//! holds only when none of that happened, and when the generator itself kept its
//! schedule (a client-bound step says nothing about the target).

use hilt_core::bench::{MaxSearch, RateRun, SearchStep};

use crate::engine::RateOutcome;
use crate::workload::{Dur, Search, Workload};

/// Deliveries below this share of the intended rate mean the target fell behind.
const MIN_DELIVERED: f64 = 0.95;

/// What a step must satisfy, in words for the results file.
pub fn criteria(s: &Search) -> String {
    format!(
        "no errors, no loss, not client-bound, deliveries ≥ {:.0} % of the intended rate, corrected p99 ≤ {} ms, in {} ms steps after {} ms of warm-up",
        MIN_DELIVERED * 100.0,
        s.p99_limit.0.as_secs_f64() * 1000.0,
        s.step.0.as_millis(),
        s.warmup.0.as_millis()
    )
}

/// Whether a step held; the reason when it did not.
pub fn holds(run: &RateRun, s: &Search) -> Result<(), String> {
    if run.error_count > 0 {
        let first = run.errors.first().cloned().unwrap_or_default();
        return Err(format!("{} error(s): {first}", run.error_count));
    }
    if run.client.client_bound {
        return Err(format!(
            "client-bound ({}): the generator, not the target, set the pace",
            run.client.client_bound_reasons.join("; ")
        ));
    }
    if run.counts.lost > 0 {
        return Err(format!(
            "{} of {} deliveries lost or still queued after the drain",
            run.counts.lost, run.counts.expected
        ));
    }
    let fan = if run.counts.published > 0 {
        run.counts.expected as f64 / run.counts.published as f64
    } else {
        1.0
    };
    let intended = run.intended_publish_rate * fan;
    if run.achieved_rate < MIN_DELIVERED * intended {
        return Err(format!(
            "delivered {:.0}/s of {intended:.0}/s intended",
            run.achieved_rate
        ));
    }
    let limit_us = s.p99_limit.0.as_secs_f64() * 1e6;
    if run.latency_corrected.p99 > limit_us {
        return Err(format!(
            "corrected p99 {:.0} µs > {limit_us:.0} µs",
            run.latency_corrected.p99
        ));
    }
    Ok(())
}

/// The workload each step runs: the search's short warm-up and duration, no fault.
pub fn step_workload(w: &Workload) -> Workload {
    let mut short = w.clone();
    short.warmup = Dur(w.search.warmup.0);
    short.duration = Dur(w.search.step.0);
    short.pause = None;
    short
}

/// The next rate to try, or `None` when the search is done.
fn next_rate(held: Option<u64>, failed: Option<u64>, s: &Search) -> Option<u64> {
    match (held, failed) {
        (Some(l), None) => l.checked_mul(2),
        (None, Some(h)) => (h / 2 > 0).then_some(h / 2),
        (Some(l), Some(h)) => {
            ((h - l) as f64 > s.precision * l as f64 && h - l > 1).then_some(l + (h - l) / 2)
        }
        (None, None) => Some(s.start),
    }
}

/// Searches with `run_step(workload, rate)`, which runs one step. Returns the outcome of
/// the highest step that held (or of the last step tried, when none held), with the
/// search recorded in it.
pub async fn find_max(
    w: &Workload,
    mut run_step: impl AsyncFnMut(&Workload, u64) -> Result<RateOutcome, String>,
) -> Result<RateOutcome, String> {
    let s = w.search;
    let short = step_workload(w);
    let mut steps: Vec<SearchStep> = Vec::new();
    let mut best: Option<(u64, RateOutcome)> = None;
    let mut last: Option<RateOutcome> = None;
    let mut failed: Option<u64> = None;
    while steps.len() < s.max_steps as usize {
        let Some(rate) = next_rate(best.as_ref().map(|b| b.0), failed, &s) else {
            break;
        };
        let out = run_step(&short, rate).await?;
        if out.run.interrupted {
            last = Some(out);
            break;
        }
        let verdict = holds(&out.run, &s);
        steps.push(SearchStep {
            rate_per_publisher: rate,
            held: verdict.is_ok(),
            reason: verdict.clone().err().unwrap_or_default(),
            achieved_rate: out.run.achieved_rate,
            p99_us: out.run.latency_corrected.p99,
            send_delay_p99_us: out.run.send_delay.p99,
        });
        match verdict {
            Ok(()) => best = Some((rate, out)),
            Err(_) => {
                failed = Some(rate);
                last = Some(out);
            }
        }
    }
    let found = best.as_ref().map_or(0, |b| b.0);
    let mut out = match (best, last) {
        (Some((_, b)), _) => b,
        (None, Some(l)) => l,
        (None, None) => return Err("the search ran no step".into()),
    };
    out.run.search = Some(MaxSearch {
        found,
        criteria: criteria(&s),
        steps,
    });
    Ok(out)
}

#[cfg(test)]
mod test {
    use super::*;

    /// A target that sustains `capacity` per publisher: the search's sequence of steps.
    fn search(capacity: u64, s: &Search) -> Vec<(u64, bool)> {
        let mut tried = Vec::new();
        let (mut held, mut failed) = (None, None);
        while tried.len() < s.max_steps as usize {
            let Some(r) = next_rate(held, failed, s) else {
                break;
            };
            let ok = r <= capacity;
            tried.push((r, ok));
            if ok {
                held = Some(r);
            } else {
                failed = Some(r);
            }
        }
        tried
    }

    #[test]
    fn doubles_then_bisects_to_the_precision() {
        let s = Search::default();
        let tried = search(11_000, &s);
        let rates: Vec<u64> = tried.iter().map(|t| t.0).collect();
        assert_eq!(&rates[..5], [1000, 2000, 4000, 8000, 16000]);
        let best = tried.iter().filter(|t| t.1).map(|t| t.0).max().unwrap();
        let worst = tried.iter().filter(|t| !t.1).map(|t| t.0).min().unwrap();
        assert!(best <= 11_000 && worst > 11_000);
        assert!(
            (worst - best) as f64 <= s.precision * best as f64,
            "{tried:?}"
        );
    }

    #[test]
    fn halves_when_the_start_already_fails() {
        let tried = search(300, &Search::default());
        assert_eq!(tried[..3], [(1000, false), (500, false), (250, true)]);
    }

    #[test]
    fn stops_at_max_steps_and_at_zero() {
        let s = Search {
            max_steps: 3,
            ..Search::default()
        };
        assert_eq!(search(u64::MAX, &s).len(), 3);
        let tried = search(0, &Search::default());
        assert!(tried.iter().all(|t| !t.1) && tried.last().unwrap().0 == 1);
    }
}
