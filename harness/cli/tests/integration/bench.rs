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
/// the socket buffers fill within a fraction of the 1 s pause and the sender then
/// blocks. What holds, protocol-level rather than timing-level:
/// - every message whose intended time fell in the pause waits for the broker, so the
///   corrected max and p99.99 are at least the pause;
/// - the messages the blocked sender wrote after the broker came back carry no wait in
///   the raw latency, so raw p90 stays far below corrected p90;
/// - the raw max still shows the pause: the messages already in the socket buffers when
///   the broker froze waited the whole time (only the corrected view counts the rest).
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
    let (c, raw) = (&run.latency_corrected, &run.latency_raw);
    eprintln!(
        "corrected {c:?}\nraw {raw:?}\nblocked {} ms",
        run.client.write_blocked_ms
    );
    assert!(
        c.max >= 1_000_000.0,
        "corrected max {} µs ≥ the 1 s pause",
        c.max
    );
    assert!(
        c.p99_99 >= 1_000_000.0,
        "corrected p99.99 {} µs ≥ the pause",
        c.p99_99
    );
    assert!(
        run.client.write_blocked_ms > 0.0,
        "the sender was blocked by a full socket"
    );
    assert!(
        raw.p90 < c.p90 / 2.0,
        "raw latency hides most of the stall: raw p90 {} µs, corrected p90 {} µs",
        raw.p90,
        c.p90
    );
    assert!(
        !run.client.client_bound,
        "a blocked sender is the target's backpressure: {:?}",
        run.client.client_bound_reasons
    );
    assert_eq!(
        run.counts.lost, 0,
        "QoS 0 over loopback: a pause loses nothing"
    );
}
