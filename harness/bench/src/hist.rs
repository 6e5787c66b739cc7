//! HdrHistograms of nanosecond latencies: creating, merging, summarising.

use hdrhistogram::Histogram;
use hilt_core::bench::{Percentiles, SpectrumPoint};

/// Values are nanoseconds; 60 s is the largest recorded exactly (larger ones saturate),
/// with three significant digits everywhere.
pub const HIGHEST_NS: u64 = 60_000_000_000;

pub type Hist = Histogram<u64>;

pub fn new_hist() -> Hist {
    Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("constant bounds are valid")
}

/// Adds `from` into `into`. Both come from [`new_hist`], so the addition cannot fail.
pub fn merge(into: &mut Hist, from: &Hist) {
    if let Err(e) = into.add(from) {
        tracing::warn!("histogram merge failed: {e}");
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The summary the results file keeps, in microseconds.
pub fn percentiles(h: &Hist) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        min: us(h.min()),
        mean: h.mean() / 1000.0,
        p50: us(h.value_at_quantile(0.5)),
        p90: us(h.value_at_quantile(0.9)),
        p99: us(h.value_at_quantile(0.99)),
        p99_9: us(h.value_at_quantile(0.999)),
        p99_99: us(h.value_at_quantile(0.9999)),
        max: us(h.max()),
    }
}

/// Percentiles evenly spaced on a log scale of 1/(1−p) — ten points a decade, from the
/// median-free start (p0) to 99.9999 % — then the maximum, for the spectrum chart.
pub fn spectrum(corrected: &Hist, raw: &Hist) -> Vec<SpectrumPoint> {
    let mut out = Vec::new();
    if corrected.is_empty() {
        return out;
    }
    for k in 0..=60 {
        let q = 1.0 - 10f64.powf(-f64::from(k) / 10.0);
        out.push(SpectrumPoint {
            percentile: q * 100.0,
            corrected_us: us(corrected.value_at_quantile(q)),
            raw_us: us(raw.value_at_quantile(q)),
        });
    }
    out.push(SpectrumPoint {
        percentile: 100.0,
        corrected_us: us(corrected.max()),
        raw_us: us(raw.max()),
    });
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn per_connection_histograms_merge_into_the_run() {
        let mut a = new_hist();
        let mut b = new_hist();
        for v in 1..=1000u64 {
            a.record(v * 1000).unwrap(); // 1 µs … 1 ms
        }
        b.record(2_000_000_000).unwrap(); // one 2 s outlier on another connection
        let mut run = new_hist();
        merge(&mut run, &a);
        merge(&mut run, &b);
        let p = percentiles(&run);
        assert_eq!(p.count, 1001);
        assert!((p.p50 - 501.0).abs() < 1.0, "{p:?}");
        assert!((p.max - 2_000_000.0).abs() / 2_000_000.0 < 0.001, "{p:?}");
        assert!(p.p99 < 1000.5, "one outlier in 1001 stays above p99: {p:?}");
    }

    #[test]
    fn values_beyond_the_range_saturate() {
        let mut h = new_hist();
        h.saturating_record(HIGHEST_NS * 10);
        assert!(h.max() >= HIGHEST_NS);
    }

    #[test]
    fn spectrum_is_monotone_and_ends_at_max() {
        let mut c = new_hist();
        let mut r = new_hist();
        for v in 1..=10_000u64 {
            c.record(v * 100).unwrap();
            r.record(v * 50).unwrap();
        }
        let s = spectrum(&c, &r);
        assert_eq!(s.len(), 62);
        assert!(s.windows(2).all(|w| w[0].corrected_us <= w[1].corrected_us));
        assert_eq!(s.last().unwrap().percentile, 100.0);
        assert!((s.last().unwrap().corrected_us - 1000.0).abs() < 1.0);
        assert!(percentiles(&new_hist()).count == 0);
    }
}
