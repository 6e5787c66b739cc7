//! Benchmark reports: `bench.json` (schema `hilt.bench/1`), the terminal comparison
//! table, and `bench.html`, a self-contained comparison page with an inline SVG
//! percentile spectrum, rendered from the results file alone.

use std::fmt::Write as _;
use std::path::Path;

use hilt_core::bench::{BENCH_SCHEMA, BenchResults, Percentiles, RateRun};
use serde::Serialize;

use crate::svg::{Axis, COLOURS, Series, escape, line_chart};
use crate::{ReportError, file, write_atomically};

const TEMPLATE: &str = include_str!("../templates/bench.html.tera");

pub fn write_json(path: &Path, results: &BenchResults) -> Result<(), ReportError> {
    file::write_json(path, "bench JSON", results)
}

/// Reads a bench results file, refusing schemas this version cannot read.
pub fn read_json(path: &Path) -> Result<BenchResults, ReportError> {
    file::read_json(path, BENCH_SCHEMA, "bench")
}

/// Several bench runs in one comparison: every target of every run side by side, a
/// target named in more than one run suffixed with its run id. The first run's workload
/// and environment head the page; each run's invocation is kept.
pub fn merge(runs: Vec<BenchResults>) -> Option<BenchResults> {
    if runs.is_empty() {
        return None;
    }
    let all = runs;
    let mut merged = all[0].clone();
    let named = |name: &str| {
        all.iter()
            .flat_map(|r| &r.targets)
            .filter(|t| t.target.name == name)
            .count()
    };
    let mut targets = Vec::new();
    for r in &all {
        for t in &r.targets {
            let mut t = t.clone();
            if named(&t.target.name) > 1 {
                t.target.name = format!("{}@{}", t.target.name, r.run_id);
            }
            targets.push(t);
        }
    }
    merged.targets = targets;
    merged.interrupted = all.iter().any(|r| r.interrupted);
    if all.len() > 1 {
        merged.invocation = all
            .iter()
            .map(|r| r.invocation.as_str())
            .collect::<Vec<_>>()
            .join(" · ");
    }
    Some(merged)
}

/// A latency in µs, in the unit that reads best.
pub fn fmt_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.3} s", us / 1e6)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

fn fmt_rate(r: f64) -> String {
    if r >= 10_000.0 {
        format!("{:.1}k/s", r / 1000.0)
    } else {
        format!("{r:.0}/s")
    }
}

/// The side-by-side summary printed at the end of `hilt bench`.
pub fn summary_table(results: &BenchResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>6} {:>7} {:>7}  flags",
        "target",
        "rate/pub",
        "achieved",
        "p50 corr",
        "p50 raw",
        "p99 corr",
        "p99 raw",
        "max corr",
        "max raw",
        "lost",
        "retx",
        "cliCPU",
        "brkCPU"
    );
    for t in &results.targets {
        if let Some(e) = &t.error {
            let _ = writeln!(out, "{:<12} error: {e}", t.target.name);
        }
        if let Some(why) = &t.skipped {
            let _ = writeln!(out, "{:<12} skipped: {why}", t.target.name);
        }
        for r in &t.runs {
            let mut flags = Vec::new();
            if r.client.client_bound {
                flags.push("client-bound");
            }
            if r.interrupted {
                flags.push("interrupted");
            }
            if r.error_count > 0 {
                flags.push("errors");
            }
            let _ = writeln!(
                out,
                "{:<12} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>6} {:>6.0}% {:>7}  {}",
                t.target.name,
                rate_label(r),
                fmt_rate(r.achieved_rate),
                fmt_us(r.latency_corrected.p50),
                fmt_us(r.latency_raw.p50),
                fmt_us(r.latency_corrected.p99),
                fmt_us(r.latency_raw.p99),
                fmt_us(r.latency_corrected.max),
                fmt_us(r.latency_raw.max),
                r.counts.lost,
                retransmissions(r),
                r.client.cpu_percent,
                r.broker
                    .cpu_percent
                    .map(|c| format!("{c:.0}%"))
                    .unwrap_or_else(|| "-".into()),
                flags.join(",")
            );
        }
    }
    out
}

/// Retransmissions the client made, or `-` for a protocol that makes none.
fn retransmissions(r: &RateRun) -> String {
    r.counts
        .retransmissions
        .map(|n| n.to_string())
        .unwrap_or_else(|| "-".into())
}

/// A run's rate: `2500`, or `max 12000` for the result of a search.
pub fn rate_label(r: &RateRun) -> String {
    match &r.search {
        Some(s) => format!("max {}", s.found),
        None => r.rate_per_publisher.to_string(),
    }
}

#[derive(Serialize)]
struct StepView {
    rate: u64,
    held: bool,
    reason: String,
    achieved: String,
    p99: String,
    send_delay_p99: String,
}

#[derive(Serialize)]
struct SearchView {
    found: u64,
    criteria: String,
    steps: Vec<StepView>,
}

#[derive(Serialize)]
struct RowView {
    rate: String,
    achieved: String,
    publish_rate: String,
    intended: String,
    corrected: Vec<String>,
    raw: Vec<String>,
    send_delay_p99: String,
    send_delay_max: String,
    ack_p99: String,
    lost: u64,
    duplicates: u64,
    reordered: u64,
    retransmissions: String,
    /// Streams (publisher × delivery group) with loss / duplicates / reordering, of all.
    flows: String,
    client_cpu: String,
    broker_cpu: String,
    broker_rss: String,
    client_bound: bool,
    reasons: Vec<String>,
    pause: String,
    errors: Vec<String>,
    error_count: u64,
    logs: Vec<String>,
}

#[derive(Serialize)]
struct TargetView {
    name: String,
    version: String,
    error: Option<String>,
    skipped: Option<String>,
    rows: Vec<RowView>,
    searches: Vec<SearchView>,
}

fn searches(runs: &[RateRun]) -> Vec<SearchView> {
    runs.iter()
        .filter_map(|r| r.search.as_ref())
        .map(|s| SearchView {
            found: s.found,
            criteria: s.criteria.clone(),
            steps: s
                .steps
                .iter()
                .map(|x| StepView {
                    rate: x.rate_per_publisher,
                    held: x.held,
                    reason: x.reason.clone(),
                    achieved: fmt_rate(x.achieved_rate),
                    p99: fmt_us(x.p99_us),
                    send_delay_p99: fmt_us(x.send_delay_p99_us),
                })
                .collect(),
        })
        .collect()
}

#[derive(Serialize)]
struct RatioView {
    target: String,
    rate: String,
    cells: Vec<String>,
}

fn pct_cells(p: &Percentiles) -> Vec<String> {
    [p.p50, p.p90, p.p99, p.p99_9, p.p99_99, p.max]
        .iter()
        .map(|v| fmt_us(*v))
        .collect()
}

fn row(r: &RateRun) -> RowView {
    RowView {
        rate: rate_label(r),
        achieved: fmt_rate(r.achieved_rate),
        publish_rate: fmt_rate(r.publish_rate),
        intended: fmt_rate(r.intended_publish_rate),
        corrected: pct_cells(&r.latency_corrected),
        raw: pct_cells(&r.latency_raw),
        send_delay_p99: fmt_us(r.send_delay.p99),
        send_delay_max: fmt_us(r.send_delay.max),
        ack_p99: r
            .ack_latency
            .map(|a| fmt_us(a.p99))
            .unwrap_or_else(|| "–".into()),
        lost: r.counts.lost,
        duplicates: r.counts.duplicates,
        reordered: r.counts.reordered,
        retransmissions: retransmissions(r),
        flows: format!(
            "{} / {} / {} of {}",
            r.counts.flows_with_loss,
            r.counts.flows_with_duplicates,
            r.counts.flows_with_reordering,
            r.counts.flows
        ),
        client_cpu: format!("{:.0}% of {} cores", r.client.cpu_percent, r.client.cores),
        broker_cpu: r
            .broker
            .cpu_percent
            .map(|c| format!("{c:.0}%"))
            .unwrap_or_else(|| "–".into()),
        broker_rss: r
            .broker
            .peak_rss_kib
            .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "–".into()),
        client_bound: r.client.client_bound,
        reasons: r.client.client_bound_reasons.clone(),
        pause: r
            .pause
            .map(|p| format!("{:.0} ms at {:.0} ms", p.for_ms, p.at_ms))
            .unwrap_or_default(),
        errors: r.errors.clone(),
        error_count: r.error_count,
        logs: r.interval_logs.values().cloned().collect(),
    }
}

/// Each target's figures divided by the first target's, at the same rate.
fn ratios(results: &BenchResults) -> (String, Vec<RatioView>) {
    let Some(base) = results.targets.first() else {
        return (String::new(), Vec::new());
    };
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}×", a / b)
        } else {
            "–".into()
        }
    };
    let mut out = Vec::new();
    for t in results.targets.iter().skip(1) {
        for r in &t.runs {
            let Some(b) = base.runs.iter().find(|b| match (&b.search, &r.search) {
                (Some(_), Some(_)) => true,
                (None, None) => b.rate_per_publisher == r.rate_per_publisher,
                _ => false,
            }) else {
                continue;
            };
            out.push(RatioView {
                target: t.target.name.clone(),
                rate: rate_label(r),
                cells: vec![
                    ratio(r.achieved_rate, b.achieved_rate),
                    ratio(r.latency_corrected.p50, b.latency_corrected.p50),
                    ratio(r.latency_corrected.p99, b.latency_corrected.p99),
                    ratio(r.latency_corrected.p99_9, b.latency_corrected.p99_9),
                    ratio(r.latency_corrected.max, b.latency_corrected.max),
                    ratio(
                        r.broker.cpu_percent.unwrap_or(0.0),
                        b.broker.cpu_percent.unwrap_or(0.0),
                    ),
                    ratio(
                        r.broker.peak_rss_kib.unwrap_or(0) as f64,
                        b.broker.peak_rss_kib.unwrap_or(0) as f64,
                    ),
                ],
            });
        }
    }
    (base.target.name.clone(), out)
}

/// The latency percentile spectrum: x is log10(1/(1−p)) (so 90 %, 99 %, 99.9 % … are
/// evenly spaced), y is latency on a log scale; corrected solid, raw dashed, one colour
/// per target and rate.
pub fn spectrum_svg(results: &BenchResults) -> String {
    let (w, h) = (900.0, 420.0);
    let (left, right, top, bottom) = (70.0, 220.0, 20.0, 50.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let x_max = 6.3; // 99.9999 % sits at 6; max is drawn just right of it
    let x_of = |p: f64| {
        let x = if p >= 100.0 {
            x_max
        } else {
            (1.0 / (1.0 - p / 100.0)).log10().min(6.0)
        };
        left + x / x_max * pw
    };
    let mut lo = f64::MAX;
    let mut hi = 0f64;
    for t in &results.targets {
        for r in &t.runs {
            for s in &r.spectrum {
                for v in [s.corrected_us, s.raw_us] {
                    if v > 0.0 {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
            }
        }
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="system-ui, sans-serif" font-size="11">"#
    );
    if hi <= 0.0 {
        svg.push_str(r#"<text x="20" y="40">no latency recorded</text></svg>"#);
        return svg;
    }
    let (y_lo, y_hi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let y_of = |v: f64| top + ph - (v.max(1e-3).log10() - y_lo) / (y_hi - y_lo) * ph;
    let _ = write!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#b0bec5"/>"##
    );
    for (i, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
        .iter()
        .enumerate()
    {
        let x = left + i as f64 / x_max * pw;
        let _ = write!(
            svg,
            r##"<line x1="{x}" y1="{top}" x2="{x}" y2="{}" stroke="#eceff1"/><text x="{x}" y="{}" text-anchor="middle">{label}</text>"##,
            top + ph,
            top + ph + 16.0
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">max</text><text x="{}" y="{}" text-anchor="middle">percentile (log scale of 1/(1−p))</text>"#,
        x_of(100.0),
        top + ph + 16.0,
        left + pw / 2.0,
        h - 8.0
    );
    let mut e = y_lo;
    while e <= y_hi {
        let y = y_of(10f64.powf(e));
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y}" x2="{}" y2="{y}" stroke="#eceff1"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 6.0,
            y + 4.0,
            fmt_us(10f64.powf(e))
        );
        e += 1.0;
    }
    let mut series = 0usize;
    for t in &results.targets {
        for r in &t.runs {
            if r.spectrum.is_empty() {
                continue;
            }
            let colour = COLOURS[series % COLOURS.len()];
            for (dash, pick) in [("", 0), ("5,4", 1)] {
                let pts: Vec<String> = r
                    .spectrum
                    .iter()
                    .map(|s| {
                        let v = if pick == 0 { s.corrected_us } else { s.raw_us };
                        format!("{:.1},{:.1}", x_of(s.percentile), y_of(v))
                    })
                    .collect();
                let _ = write!(
                    svg,
                    r#"<polyline fill="none" stroke="{colour}" stroke-width="1.8" stroke-dasharray="{dash}" points="{}"/>"#,
                    pts.join(" ")
                );
            }
            let ly = top + 14.0 + series as f64 * 30.0;
            let lx = left + pw + 14.0;
            let _ = write!(
                svg,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{} @ {}/s corrected</text><line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="2" stroke-dasharray="5,4"/><text x="{}" y="{}">raw</text>"#,
                lx + 22.0,
                lx + 28.0,
                ly + 4.0,
                escape(&t.target.name),
                r.rate_per_publisher,
                ly + 13.0,
                lx + 22.0,
                ly + 13.0,
                lx + 28.0,
                ly + 17.0
            );
            series += 1;
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Each run's series name: target and rate.
fn run_name(t: &hilt_core::bench::TargetBench, r: &RateRun) -> String {
    format!("{} @ {}/s", t.target.name, rate_label(r))
}

fn fmt_plain(v: f64) -> String {
    if v >= 1000.0 {
        fmt_rate(v)
    } else {
        format!("{v}")
    }
}

/// Latency against throughput across each target's sweep: corrected p99 solid, p50
/// dashed, one point per run.
pub fn sweep_svg(results: &BenchResults) -> String {
    let mut series = Vec::new();
    for (i, t) in results.targets.iter().enumerate() {
        let mut runs: Vec<&RateRun> = t.runs.iter().collect();
        runs.sort_by(|a, b| a.achieved_rate.total_cmp(&b.achieved_rate));
        let colour = COLOURS[i % COLOURS.len()];
        for (what, dashed, pick) in [("p99", false, 0), ("p50", true, 1)] {
            series.push(Series {
                label: format!("{} {what}", t.target.name),
                colour,
                dashed,
                points: runs
                    .iter()
                    .map(|r| {
                        let p = &r.latency_corrected;
                        (r.achieved_rate, if pick == 0 { p.p99 } else { p.p50 })
                    })
                    .collect(),
            });
        }
    }
    line_chart(
        &series,
        Axis {
            title: "deliveries per second (all subscribers)",
            log: false,
            format: fmt_plain,
        },
        Axis {
            title: "corrected latency",
            log: true,
            format: fmt_us,
        },
    )
}

/// Rate or p99 over the measured phase, one line per run, from the per-second
/// interval histograms.
pub fn timeline_svg(results: &BenchResults, p99: bool) -> String {
    let mut series = Vec::new();
    for t in &results.targets {
        for r in &t.runs {
            series.push(Series {
                label: run_name(t, r),
                colour: COLOURS[series.len() % COLOURS.len()],
                dashed: false,
                points: r
                    .timeline
                    .iter()
                    .map(|p| (p.t_s, if p99 { p.p99_us } else { p.rate }))
                    .collect(),
            });
        }
    }
    let x = Axis {
        title: "seconds into the measured phase",
        log: false,
        format: |v| format!("{v}"),
    };
    if p99 {
        line_chart(
            &series,
            x,
            Axis {
                title: "corrected p99 of the second",
                log: true,
                format: fmt_us,
            },
        )
    } else {
        line_chart(
            &series,
            x,
            Axis {
                title: "deliveries per second",
                log: false,
                format: fmt_plain,
            },
        )
    }
}

pub fn render_html(results: &BenchResults) -> Result<String, ReportError> {
    let targets: Vec<TargetView> = results
        .targets
        .iter()
        .map(|t| TargetView {
            name: t.target.name.clone(),
            version: t.target.version.clone().unwrap_or_default(),
            error: t.error.clone(),
            skipped: t.skipped.clone(),
            rows: t.runs.iter().map(row).collect(),
            searches: searches(&t.runs),
        })
        .collect();
    let (base, ratio_rows) = ratios(results);
    let mut ctx = tera::Context::new();
    ctx.insert("b", results);
    ctx.insert("started", &results.started.to_rfc3339());
    ctx.insert("targets", &targets);
    ctx.insert("base", &base);
    ctx.insert("ratios", &ratio_rows);
    // Generated here from numbers only; target names inside are escaped.
    ctx.insert("chart", &spectrum_svg(results));
    ctx.insert("sweep_chart", &sweep_svg(results));
    ctx.insert("rate_chart", &timeline_svg(results, false));
    ctx.insert("p99_chart", &timeline_svg(results, true));
    let mut tera = tera::Tera::default();
    tera.add_raw_template("bench.html", TEMPLATE)
        .map_err(|e| ReportError::Render {
            what: "the bench HTML template".into(),
            message: format!("{e:?}"),
        })?;
    tera.render("bench.html", &ctx)
        .map_err(|e| ReportError::Render {
            what: "the bench HTML report".into(),
            message: format!("{e:?}"),
        })
}

pub fn write_html(path: &Path, results: &BenchResults) -> Result<(), ReportError> {
    write_atomically(path, render_html(results)?.as_bytes())
}

#[cfg(test)]
mod test {
    use hilt_core::bench::*;
    use hilt_core::event::TargetInfo;
    use hilt_core::time::Timestamp;

    use super::*;

    fn run(rate: u64, scale: f64) -> RateRun {
        let p = Percentiles {
            count: 100,
            min: 10.0 * scale,
            mean: 60.0 * scale,
            p50: 50.0 * scale,
            p90: 80.0 * scale,
            p99: 120.0 * scale,
            p99_9: 300.0 * scale,
            p99_99: 900.0 * scale,
            max: 1_000_000.0 * scale,
        };
        RateRun {
            rate_per_publisher: rate,
            intended_publish_rate: rate as f64,
            publish_rate: rate as f64,
            achieved_rate: rate as f64,
            duration_s: 1.0,
            latency_corrected: p,
            latency_raw: p,
            send_delay: Percentiles::default(),
            ack_latency: None,
            counts: MessageCounts::default(),
            client: ClientUse {
                cpu_percent: 10.0,
                cores: 2,
                write_blocked_ms: 0.0,
                client_bound: false,
                client_bound_reasons: vec![],
            },
            broker: BrokerUse {
                cpu_percent: Some(20.0),
                peak_rss_kib: Some(8000),
            },
            pause: None,
            spectrum: vec![
                SpectrumPoint {
                    percentile: 50.0,
                    corrected_us: p.p50,
                    raw_us: p.p50,
                },
                SpectrumPoint {
                    percentile: 100.0,
                    corrected_us: p.max,
                    raw_us: p.max / 2.0,
                },
            ],
            timeline: vec![],
            interval_logs: Default::default(),
            errors: vec![],
            error_count: 0,
            interrupted: false,
            search: None,
        }
    }

    fn results() -> BenchResults {
        let target = |name: &str| TargetInfo {
            name: name.into(),
            ..TargetInfo::default()
        };
        BenchResults {
            schema: BENCH_SCHEMA.into(),
            run_id: "r".into(),
            hilt_version: "0".into(),
            invocation: "hilt bench".into(),
            started: Timestamp(0),
            finished: Timestamp(1),
            interrupted: false,
            workload: WorkloadInfo {
                name: "w".into(),
                file: "w.yaml".into(),
                protocol: "mqtt".into(),
                version: "3.1.1".into(),
                topology: "p2p".into(),
                publishers: 1,
                subscribers: 1,
                responders: 0,
                connect_rate: None,
                qos: 0,
                ack: None,
                confirm: false,
                prefetch: None,
                destination: None,
                payload_bytes: 64,
                rates: vec![100],
                search_max: false,
                warmup_ms: 0,
                duration_ms: 1000,
                pause: None,
                text: String::new(),
            },
            environment: Default::default(),
            targets: vec![
                TargetBench {
                    target: target("a"),
                    runs: vec![run(100, 1.0)],
                    error: None,
                    skipped: None,
                },
                TargetBench {
                    target: target("<b>"),
                    runs: vec![run(100, 2.0)],
                    error: None,
                    skipped: None,
                },
            ],
        }
    }

    #[test]
    fn json_round_trips_and_html_escapes_names() {
        let dir = tempfile::tempdir().unwrap();
        let r = results();
        write_json(&dir.path().join("bench.json"), &r).unwrap();
        assert_eq!(read_json(&dir.path().join("bench.json")).unwrap(), r);
        let html = render_html(&r).unwrap();
        assert!(html.contains("<svg"));
        assert!(!html.contains("<b>"), "target names are escaped");
        assert!(html.contains("2.00×"), "ratios against the first target");
        let t = summary_table(&r);
        assert!(t.contains("1.000 s") && t.contains("2.000 s"), "{t}");
    }

    #[test]
    fn merged_runs_keep_every_target_and_tell_clashes_apart() {
        let a = results();
        let mut b = results();
        b.run_id = "r2".into();
        b.targets.truncate(1);
        let m = merge(vec![a, b]).unwrap();
        let names: Vec<&str> = m.targets.iter().map(|t| t.target.name.as_str()).collect();
        assert_eq!(names, ["a@r", "<b>", "a@r2"]);
        assert!(render_html(&m).unwrap().contains("a@r2"));
        assert!(merge(Vec::new()).is_none());
    }

    #[test]
    fn other_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bench.json");
        std::fs::write(&p, r#"{"schema":"hilt.results/1"}"#).unwrap();
        assert!(
            read_json(&p)
                .unwrap_err()
                .to_string()
                .contains("hilt.bench/1")
        );
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_us(42.4), "42 µs");
        assert_eq!(fmt_us(1500.0), "1.50 ms");
        assert_eq!(fmt_us(1_002_000.0), "1.002 s");
    }
}
