//! `hilt bench` against a real Mosquitto: the files it writes, and a stalled broker
//! showing in the corrected latency.

use std::path::Path;

use hilt_core::bench::BenchResults;

use crate::support::{hilt, missing, stderr};

fn workload(dir: &Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("w.yaml");
    std::fs::write(
        &p,
        format!("name: test\nprotocol: mqtt\nversion: \"3.1.1\"\n{body}"),
    )
    .unwrap();
    p
}

fn bench(dir: &Path, workload: &Path, extra: &[&str]) -> BenchResults {
    let out = dir.join("run");
    let mut args = vec![
        "bench",
        workload.to_str().unwrap(),
        "--target",
        "mosquitto",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = hilt(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "hilt bench failed: {}",
        stderr(&o)
    );
    hilt_reports::bench::read_json(&out.join("bench.json")).expect("bench.json parses")
}

#[test]
fn bench_writes_json_intervals_and_html() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "topology: {kind: p2p, pairs: 2}\nqos: 1\npayload_bytes: 64\nrate: 200\n\
         warmup: 200ms\nduration: 1s\n",
    );
    let r = bench(dir.path(), &w, &["--rate", "100,200"]);
    assert_eq!(r.schema, "hilt.bench/1");
    assert_eq!(r.targets.len(), 1);
    let t = &r.targets[0];
    assert_eq!(t.target.name, "mosquitto");
    assert!(t.error.is_none(), "{:?}", t.error);
    assert_eq!(
        t.runs
            .iter()
            .map(|x| x.rate_per_publisher)
            .collect::<Vec<_>>(),
        [100, 200],
        "--rate overrides the workload's rate with a sweep"
    );
    for run in &t.runs {
        assert_eq!(run.counts.lost, 0, "loopback QoS 1 loses nothing");
        assert_eq!(run.counts.duplicates, 0);
        assert!(run.latency_corrected.count > 0 && run.latency_raw.count > 0);
        assert!(
            run.ack_latency.is_some_and(|a| a.count > 0),
            "QoS 1 records PUBACK latency"
        );
        assert!(run.broker.cpu_percent.is_some(), "broker CPU sampled");
        assert!(!run.spectrum.is_empty());
        let log = run
            .interval_logs
            .get("intervals")
            .expect("interval log named");
        let text = std::fs::read_to_string(dir.path().join("run").join(log)).unwrap();
        assert!(text.starts_with("#hilt bench"), "{text}");
        assert!(
            text.contains(",corrected,") || text.contains("Tag=corrected"),
            "{text}"
        );
    }
    assert!(r.environment.contains_key("cores"));
    assert!(r.environment.contains_key("kernel"));
    let html = std::fs::read_to_string(dir.path().join("run/bench.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("mosquitto"));
}

/// The stall check. The publisher sends 16 KiB payloads at 2000/s (32 MB/s), so
/// the socket buffers fill during the 1 s pause and the sender then blocks. What holds
/// whatever the machine's load and socket buffer sizes:
/// - the first message intended after the freeze waits until the broker is back, so the
///   corrected max and p99.99 are at least the pause less one message interval (the
///   1/rate by which that message's intended time may follow the freeze);
/// - per message, corrected = raw + send delay: a sender held back by a full socket
///   shows the wait in the corrected latency only, so the raw latency shows less of it.
///   How much less depends on how much the kernel buffered before the sender blocked
///   (those messages waited the whole pause in both views).
#[test]
fn a_paused_broker_shows_in_the_corrected_latency() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "topology: {kind: p2p, pairs: 1}\nqos: 0\npayload_bytes: 16384\nrate: 2000\n\
         warmup: 500ms\nduration: 3s\n",
    );
    let r = bench(dir.path(), &w, &["--pause", "1s@1s"]);
    let run = &r.targets[0].runs[0];
    let pause = run.pause.expect("the pause happened");
    assert!(pause.for_ms >= 1000.0, "{pause:?}");
    let (c, raw, delay) = (&run.latency_corrected, &run.latency_raw, &run.send_delay);
    eprintln!(
        "corrected {c:?}\nraw {raw:?}\nsend delay {delay:?}\nblocked {} ms",
        run.client.write_blocked_ms
    );
    let floor_us = 1_000_000.0 - 1_000_000.0 / 2000.0;
    assert!(c.max >= floor_us, "corrected max {} µs ≥ the pause", c.max);
    assert!(
        c.p99_99 >= floor_us,
        "corrected p99.99 {} µs ≥ the pause",
        c.p99_99
    );
    assert!(
        run.client.write_blocked_ms > 0.0,
        "the sender was blocked by a full socket"
    );
    assert!(
        delay.max > 0.0 && raw.mean < c.mean,
        "raw shows less of the stall"
    );
    // Means of histograms at 3 significant digits: the identity holds to about 0.1 %.
    let gap = c.mean - raw.mean;
    assert!(
        (gap - delay.mean).abs() <= 0.01 * c.mean,
        "corrected − raw = send delay: {gap} µs vs {} µs",
        delay.mean
    );
}
