//! `hilt bench` against real brokers: the files it writes, a stalled broker showing in
//! the corrected latency, each protocol's workloads, and workloads a target cannot run
//! skipped while the others go on.

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
    bench_on(dir, workload, &["mosquitto"], extra)
}

/// Runs `workload` on each of `targets` in turn; every one must succeed or be skipped.
fn bench_on(dir: &Path, workload: &Path, targets: &[&str], extra: &[&str]) -> BenchResults {
    let out = dir.join("run");
    let mut args = vec![
        "bench",
        workload.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    for t in targets {
        args.extend_from_slice(&["--target", t]);
    }
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
    // Mosquitto ran under its bench profile: no line per message in its log (the
    // conformance launch logs every packet).
    assert_eq!(
        r.environment.get("profile.mosquitto").map(String::as_str),
        Some("bench")
    );
    let log = t.target.logs.first().expect("the broker's log is named");
    let log = std::fs::read_to_string(dir.path().join("run").join(log)).unwrap();
    assert!(log.contains("running"), "{log}");
    assert!(
        !log.contains("PUBLISH"),
        "per-message lines in the bench log: {log}"
    );
    let html = std::fs::read_to_string(dir.path().join("run/bench.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("mosquitto"));
    assert!(html.contains("Latency against throughput") && html.contains("Over time"));
    for run in &t.runs {
        assert!(!run.timeline.is_empty(), "rate and p99 per second");
    }

    // `hilt report` recognises bench runs by their schema and compares them in one page.
    let compare = dir.path().join("compare.html");
    let run = dir.path().join("run");
    let o = hilt(&[
        "report",
        run.to_str().unwrap(),
        run.join("bench.json").to_str().unwrap(),
        "-o",
        compare.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&compare).unwrap();
    assert!(
        page.contains(&format!("mosquitto@{}", r.run_id)),
        "both runs' targets"
    );
    assert!(
        page.matches("<svg").count() >= 4,
        "spectrum, sweep, rate, p99"
    );
}

/// The issue's stall check. The publisher sends 16 KiB payloads at 2000/s (32 MB/s), so
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

/// The generator-efficiency comparison with hilt's generator alone against hilt's sink:
/// the sink counts every PUBLISH the generator says it wrote, and the CPU time comes from
/// the generator's own process.
#[test]
fn generator_efficiency_counts_what_the_sink_received() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eff");
    let o = hilt(&[
        "bench",
        "--generator-efficiency",
        "--duration",
        "300ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("efficiency.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["schema"], "hilt.efficiency/1");
    let m = &r["measurements"][0];
    assert_eq!(
        (m["generator"].as_str(), m["target"].as_str()),
        (Some("hilt"), Some("sink"))
    );
    let published = m["published"].as_u64().unwrap();
    assert!(published > 0);
    assert_eq!(m["received"].as_u64(), Some(published), "{m}");
    assert!(m["cpu_s"].as_f64().unwrap() >= 0.0 && m["per_core"].as_f64().unwrap() > 0.0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("msg/s per core"));
}

/// Ctrl-C mid-run: the load stops, what was measured is written, marked partial, and
/// hilt exits 130.
#[test]
fn ctrl_c_writes_partial_bench_results() {
    if missing("mosquitto") {
        return;
    }
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "topology: {kind: p2p, pairs: 1}\nqos: 0\npayload_bytes: 64\nrate: 500\n\
         warmup: 200ms\nduration: 60s\n",
    );
    let out = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hilt"))
        .args([
            "bench",
            w.to_str().unwrap(),
            "--target",
            "mosquitto",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The progress line, once a second in a log: the measured phase is under way.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("achieved") && !line.contains("[ -") {
            break;
        }
    }
    assert!(log.contains("achieved"), "no progress line: {log}");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{log}{}", rest.join("\n"));
    let r = hilt_reports::bench::read_json(&out.join("bench.json")).expect("bench.json written");
    assert!(r.interrupted, "the results say they are partial");
    let run = &r.targets[0].runs[0];
    assert!(run.interrupted, "the run says it was cut short");
    assert!(run.duration_s < 30.0, "stopped early: {} s", run.duration_s);
    assert!(run.latency_corrected.count > 0, "what was measured is kept");
    let html = std::fs::read_to_string(out.join("bench.html")).unwrap();
    assert!(html.contains("INTERRUPTED"), "the report marks it partial");
}

/// `--rate max`: short steps, doubling while they hold; the run reports the highest step
/// that held and every step tried, each judged with its reason.
#[test]
fn rate_max_searches_and_reports_its_steps() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "topology: {kind: p2p, pairs: 1}\nqos: 0\npayload_bytes: 64\nrate: 100\n\
         duration: 1s\n\
         search: {start: 200, step: 300ms, warmup: 100ms, max_steps: 3, p99_limit: 1s}\n",
    );
    let r = bench(dir.path(), &w, &["--rate", "max"]);
    assert!(r.workload.search_max);
    let run = &r.targets[0].runs[0];
    let s = run.search.as_ref().expect("the run is a search's result");
    assert_eq!(s.steps.len(), 3, "{s:?}");
    assert_eq!(s.steps[0].rate_per_publisher, 200);
    // Doubling while steps hold, halving while they fail, then bisecting between the
    // best that held and the lowest that failed (a loaded machine may fail any step).
    let (mut held, mut failed) = (None::<u64>, None::<u64>);
    for (a, b) in s.steps.iter().zip(&s.steps[1..]) {
        let r = a.rate_per_publisher;
        if a.held {
            held = held.max(Some(r));
        } else {
            failed = Some(failed.map_or(r, |f| f.min(r)));
        }
        let expected = match (held, failed) {
            (Some(l), None) => l * 2,
            (None, Some(h)) => h / 2,
            (Some(l), Some(h)) => l + (h - l) / 2,
            (None, None) => unreachable!("a step was judged"),
        };
        assert_eq!(b.rate_per_publisher, expected, "{s:?}");
    }
    for step in &s.steps {
        assert_eq!(step.held, step.reason.is_empty(), "{step:?}");
    }
    let best = s
        .steps
        .iter()
        .filter(|x| x.held)
        .map(|x| x.rate_per_publisher)
        .max();
    assert_eq!(s.found, best.unwrap_or(0));
    if s.found > 0 {
        assert_eq!(
            run.rate_per_publisher, s.found,
            "the run is the best step's"
        );
    }
    let html = std::fs::read_to_string(dir.path().join("run/bench.html")).unwrap();
    assert!(html.contains("Maximum sustainable rate"));
}

/// QoS 2 over MQTT 5.0: both legs run the four-packet exchange (the subscriber answers
/// PUBREC and PUBCOMP, the publisher PUBREL), nothing is lost or duplicated, and the
/// publish→PUBCOMP latency is recorded.
#[test]
fn qos_2_records_publish_to_pubcomp_latency() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "topology: {kind: p2p, pairs: 2}\nqos: 2\npayload_bytes: 64\nrate: 300\n\
         warmup: 200ms\nduration: 1s\n",
    );
    let w = {
        let text = std::fs::read_to_string(&w).unwrap().replace("3.1.1", "5.0");
        std::fs::write(&w, text).unwrap();
        w
    };
    let r = bench(dir.path(), &w, &[]);
    let run = &r.targets[0].runs[0];
    assert_eq!(r.workload.qos, 2);
    assert_eq!(run.error_count, 0, "{:?}", run.errors);
    assert!(run.counts.received > 0);
    assert_eq!(
        (run.counts.lost, run.counts.duplicates),
        (0, 0),
        "{:?}",
        run.counts
    );
    let ack = run
        .ack_latency
        .expect("QoS 2 records publish→PUBCOMP latency");
    assert!(ack.count > 0, "{ack:?}");
}

/// One short run of `topology` (YAML flow mapping) against Mosquitto; `extra` adds
/// workload lines. Returns the results and the HTML report.
fn run_topology(version: &str, topology: &str, extra: &str) -> (BenchResults, String) {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        &format!(
            "topology: {topology}\nqos: 1\npayload_bytes: 32\nrate: 200\n\
             warmup: 200ms\nduration: 1s\n{extra}"
        ),
    );
    let text = std::fs::read_to_string(&w)
        .unwrap()
        .replace("\"3.1.1\"", &format!("\"{version}\""));
    std::fs::write(&w, text).unwrap();
    let r = bench(dir.path(), &w, &[]);
    let html = std::fs::read_to_string(dir.path().join("run/bench.html")).unwrap();
    (r, html)
}

/// Every stream delivered whole: nothing lost, duplicated or foreign, and the counts
/// add up to `flows` streams of what the publishers sent, each due `fan` times.
fn assert_whole(r: &BenchResults, flows: u64, fan: u64) {
    let run = &r.targets[0].runs[0];
    let c = &run.counts;
    assert_eq!(run.error_count, 0, "{:?}", run.errors);
    assert_eq!(c.flows, flows, "{c:?}");
    assert_eq!(c.expected, c.published * fan, "{c:?}");
    assert_eq!((c.lost, c.duplicates, c.foreign), (0, 0, 0), "{c:?}");
    assert_eq!(c.received, c.expected, "{c:?}");
    assert_eq!(c.flows_with_loss + c.flows_with_duplicates, 0, "{c:?}");
    assert!(run.latency_corrected.count > 0);
}

#[test]
fn fan_in_judges_each_publisher_through_one_wildcard() {
    if missing("mosquitto") {
        return;
    }
    let (r, _) = run_topology("3.1.1", "{kind: fan-in, publishers: 3}", "");
    assert_eq!(r.workload.topology, "fan-in");
    assert_eq!((r.workload.publishers, r.workload.subscribers), (3, 1));
    assert_whole(&r, 3, 1);
}

#[test]
fn fan_out_with_several_publishers_reaches_every_subscriber() {
    if missing("mosquitto") {
        return;
    }
    let (r, _) = run_topology(
        "3.1.1",
        "{kind: fan-out, publishers: 2, subscribers: 3}",
        "",
    );
    // 2 publishers × 3 subscribers; each message due 3 times.
    assert_whole(&r, 6, 3);
}

/// Competing consumers: each message reaches one member of the $share group, so the
/// group is one stream per publisher and every message is due once.
#[test]
fn shared_subscription_delivers_each_message_once_to_the_group() {
    if missing("mosquitto") {
        return;
    }
    let (r, _) = run_topology("5.0", "{kind: shared, publishers: 3, subscribers: 3}", "");
    assert_eq!(r.workload.topology, "shared");
    assert_whole(&r, 3, 1);
}

/// A target that does not declare shared subscriptions is skipped, with the reason,
/// and the run goes on for the others.
#[test]
fn a_target_lacking_a_capability_is_skipped_and_the_others_run() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "topology: {kind: shared, publishers: 1, subscribers: 2}\npayload_bytes: 32\n\
         rate: 100\nwarmup: 200ms\nduration: 1s\n",
    );
    let text = std::fs::read_to_string(&w)
        .unwrap()
        .replace("\"3.1.1\"", "\"5.0\"");
    std::fs::write(&w, text).unwrap();
    let r = bench_on(dir.path(), &w, &["rabbitmq", "mosquitto"], &[]);
    let rabbit = &r.targets[0];
    assert_eq!(rabbit.target.name, "rabbitmq");
    let why = rabbit.skipped.as_deref().unwrap_or_default();
    assert!(why.contains("mqtt.v5"), "{why}");
    assert!(rabbit.runs.is_empty() && rabbit.error.is_none());
    assert_eq!(r.targets[1].target.name, "mosquitto");
    assert_eq!(r.targets[1].runs.len(), 1, "the others still run");
    let html = std::fs::read_to_string(dir.path().join("run/bench.html")).unwrap();
    assert!(
        html.contains("skipped: MQTT 5.0 needs"),
        "the report says why"
    );
}

/// A STOMP workload: a topic per pair, auto ack, against a broker serving STOMP; a
/// broker that does not serve it (Mosquitto) is skipped.
fn stomp_run(target: &str, body: &str) -> BenchResults {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        format!(
            "name: test\nprotocol: stomp\npayload_bytes: 32\nrate: 200\n\
             warmup: 300ms\nduration: 1s\n{body}"
        ),
    )
    .unwrap();
    let r = bench_on(dir.path(), &w, &[target, "mosquitto"], &[]);
    let json = std::fs::read_to_string(dir.path().join("run/bench.json")).unwrap();
    assert!(
        json.contains("\"client_bound\""),
        "the client-bound flag is recorded"
    );
    assert_eq!(r.workload.protocol, "stomp");
    assert_eq!(r.workload.version, "1.2");
    let skipped = r.targets[1].skipped.as_deref().unwrap_or_default();
    assert!(skipped.contains("does not serve stomp"), "{skipped}");
    r
}

/// Queues, one per pair, each MESSAGE acknowledged on its own, each SEND receipted:
/// corrected and raw latency, publish→receipt latency, nothing lost.
#[test]
fn stomp_queues_with_client_individual_acks_and_receipts_on_rabbitmq() {
    if missing("rabbitmq-server") || missing("mosquitto") {
        return;
    }
    let r = stomp_run(
        "rabbitmq",
        "topology: {kind: p2p, pairs: 2}\ndestination: queue\nack: client-individual\n\
         confirm: true\nprefetch: 20\n",
    );
    assert_eq!(r.workload.ack.as_deref(), Some("client-individual"));
    assert_whole(&r, 2, 1);
    let run = &r.targets[0].runs[0];
    assert!(run.latency_raw.count > 0);
    assert!(
        run.ack_latency.is_some_and(|a| a.count > 0),
        "receipts record publish→ack latency"
    );
}

/// Competing consumers on one ActiveMQ queue: each message reaches one of them.
#[test]
fn stomp_work_queue_on_activemq_delivers_each_message_once() {
    if missing("activemq") || missing("mosquitto") {
        return;
    }
    let r = stomp_run(
        "activemq",
        "topology: {kind: shared, publishers: 2, subscribers: 2}\nack: client\n",
    );
    assert_eq!(r.workload.topology, "shared");
    assert_whole(&r, 2, 1);
    assert!(r.targets[0].runs[0].latency_raw.count > 0);
}

/// Request-response: every request answered, the round trip recorded per requester.
#[test]
fn request_response_measures_the_round_trip() {
    if missing("mosquitto") {
        return;
    }
    let (r, _) = run_topology("3.1.1", "{kind: request-response, pairs: 2}", "");
    assert_eq!(r.workload.responders, 2);
    assert_whole(&r, 2, 1);
}

/// Many connections opened at a ramp: each subscriber judges its own publisher.
#[test]
fn many_connections_ramp_and_are_judged_per_pair() {
    if missing("mosquitto") {
        return;
    }
    let (r, html) = run_topology("3.1.1", "{kind: p2p, pairs: 60}", "connect_rate: 1000\n");
    assert_eq!(r.workload.connect_rate, Some(1000));
    assert_whole(&r, 60, 1);
    assert!(
        html.contains("streams l/d/r") && html.contains(" of 60<"),
        "streams judged in the report"
    );
}

/// AMQP 0-9-1 competing consumers on one RabbitMQ queue through the default exchange,
/// publisher confirms on, each delivery acknowledged: corrected and raw latency,
/// publish→confirm latency, each message delivered once.
#[test]
fn amqp091_work_queue_with_confirms_on_rabbitmq() {
    if missing("rabbitmq-server") || missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        "name: test\nprotocol: amqp091\ntopology: {kind: shared, publishers: 2, subscribers: 2}\n\
         ack: client-individual\nconfirm: true\nprefetch: 20\npayload_bytes: 32\nrate: 200\n\
         warmup: 300ms\nduration: 1s\n",
    )
    .unwrap();
    let r = bench_on(dir.path(), &w, &["rabbitmq", "mosquitto"], &[]);
    assert_eq!(r.workload.version, "0-9-1");
    assert_whole(&r, 2, 1);
    let run = &r.targets[0].runs[0];
    assert!(run.latency_raw.count > 0);
    assert!(
        run.ack_latency.is_some_and(|a| a.count > 0),
        "publisher confirms record publish→ack latency"
    );
    let skipped = r.targets[1].skipped.as_deref().unwrap_or_default();
    assert!(skipped.contains("does not serve amqp091"), "{skipped}");
}

fn coap_run(dir: &Path, coap: &str, extra: &str) -> hilt_core::bench::RateRun {
    let p = dir.join("coap.yaml");
    std::fs::write(
        &p,
        format!(
            "name: coap\nprotocol: coap\ntopology: {{kind: request-response, pairs: 4}}\n\
             coap: {coap}\npayload_bytes: 0\nrate: 200\nwarmup: 200ms\nduration: 1s\n{extra}"
        ),
    )
    .unwrap();
    let r = bench_on(dir, &p, &["libcoap"], &[]);
    assert_eq!(r.workload.protocol, "coap");
    assert_eq!(r.workload.responders, 0, "the server answers itself");
    let t = &r.targets[0];
    assert!(t.error.is_none(), "{:?}", t.error);
    let run = t.runs[0].clone();
    let json = std::fs::read_to_string(dir.join("run/bench.json")).unwrap();
    assert!(
        json.contains("\"client_bound\""),
        "the client-bound flag is written"
    );
    run
}

/// CoAP CON requests to libcoap's /time, with the server frozen for longer than the
/// ACK timeout: the requests it left unanswered are retransmitted (and counted), every
/// one is answered in the end, and the corrected latency shows the freeze.
#[test]
fn coap_con_retransmits_across_a_frozen_server() {
    if missing("coap-server-notls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = coap_run(
        dir.path(),
        "{confirmable: true, method: get, path: /time, ack_timeout: 100ms, \
         ack_random_factor: 1.5, max_retransmit: 4}",
        "pause: {at: 300ms, for: 400ms}\n",
    );
    let c = &run.counts;
    eprintln!(
        "{c:?}\ncorrected {:?}\nraw {:?}",
        run.latency_corrected, run.latency_raw
    );
    assert!(run.pause.is_some(), "the freeze happened");
    assert_eq!(c.flows, 4);
    assert_eq!((c.lost, c.foreign), (0, 0), "{c:?}");
    assert!(
        c.retransmissions.is_some_and(|n| n > 0),
        "requests unanswered past the ACK timeout are retransmitted: {c:?}"
    );
    assert!(run.latency_corrected.count > 0 && run.latency_raw.count > 0);
    assert!(
        run.latency_corrected.max >= 300_000.0,
        "corrected max {} µs shows the freeze",
        run.latency_corrected.max
    );
    assert!(run.latency_raw.p50 > 0.0 && run.latency_raw.p50 <= run.latency_corrected.p50 * 1.01);
}

/// CoAP NON requests: nothing is retransmitted (no count is reported) and, on loopback
/// at a low rate, no request is lost.
#[test]
fn coap_non_counts_loss_and_makes_no_retransmissions() {
    if missing("coap-server-notls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = coap_run(
        dir.path(),
        "{confirmable: false, method: get, path: /time}",
        "",
    );
    let c = &run.counts;
    assert_eq!(
        c.retransmissions, None,
        "NON requests are never retransmitted"
    );
    assert_eq!(c.expected, c.published, "{c:?}");
    assert_eq!(c.lost + c.received - c.duplicates, c.expected, "{c:?}");
    assert_eq!(c.lost, 0, "{c:?}");
    assert!(run.latency_corrected.count > 0 && run.latency_raw.count > 0);
}
