//! The reporters on hand-made results: escaping, verdict mapping, schema checks, and a
//! torn event log.

use hilt_core::event::{Counts, TargetInfo};
use hilt_core::id::SpecRefOwned;
use hilt_core::run::RESULTS_SCHEMA;
use hilt_core::{Direction, Event, RunResults, TestId, TestResult, Timestamp, TraceFrame, Verdict};

fn result(test: &str, verdict: Verdict, summary: &str) -> TestResult {
    TestResult {
        test: TestId::new(test),
        target: "broker".into(),
        title: "a title".into(),
        verdict,
        covers: vec![SpecRefOwned {
            doc: "mqtt-v5".into(),
            id: "MQTT-3.1.0-2".into(),
        }],
        rule: (verdict == Verdict::Fail).then(|| SpecRefOwned {
            doc: "mqtt-v5".into(),
            id: "MQTT-3.1.0-2".into(),
        }),
        message: Some(format!("{verdict} happened")),
        deviation: None,
        attempts: 1,
        started: Timestamp(1_700_000_000_000_000),
        duration_us: 1500,
        trace: vec![TraceFrame {
            t_us: 10,
            conn: 0,
            dir: Direction::Received,
            summary: summary.into(),
            problems: vec![],
            hex: "d000".into(),
        }],
        pcap: None,
    }
}

fn run(results: Vec<TestResult>) -> RunResults {
    let mut counts = Counts::default();
    for r in &results {
        counts.add(r.verdict);
    }
    RunResults {
        schema: RESULTS_SCHEMA.into(),
        run_id: "r1".into(),
        hilt_version: "0".into(),
        invocation: "hilt run".into(),
        started: Timestamp(1_700_000_000_000_000),
        finished: Timestamp(1_700_000_001_000_000),
        interrupted: false,
        controls: false,
        counts,
        targets: vec![TargetInfo {
            name: "broker".into(),
            ..TargetInfo::default()
        }],
        results,
        coverage: vec![],
        environment: Default::default(),
    }
}

#[test]
fn what_a_target_sent_is_escaped_in_html() {
    let hostile = r#"PUBLISH topic="<script>alert(1)</script>" & <img src=x onerror=y>"#;
    let html = hilt_reports::html::render(&run(vec![result("mqtt.v5.x", Verdict::Fail, hostile)]))
        .unwrap();
    assert!(
        !html.contains("<script>alert(1)"),
        "raw markup from the target reached the page"
    );
    assert!(!html.contains("<img src=x"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
}

#[test]
fn junit_keeps_failures_and_errors_apart() {
    let xml = hilt_reports::junit::render(&run(vec![
        result("mqtt.a", Verdict::Fail, "x"),
        result("mqtt.b", Verdict::Error, "x"),
        result("mqtt.c", Verdict::Skip, "x"),
        result("mqtt.d", Verdict::Pass, "x"),
    ]))
    .unwrap();
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    assert!(xml.contains(r#"errors="1""#), "{xml}");
    assert!(xml.contains(r#"skipped="1""#), "{xml}");
    assert!(
        xml.contains("[MQTT-3.1.0-2]"),
        "a failure names its rule: {xml}"
    );
}

#[test]
fn results_round_trip_and_foreign_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let r = run(vec![result("mqtt.a", Verdict::Pass, "x")]);
    hilt_reports::json::write(&path, &r).unwrap();
    assert_eq!(hilt_reports::json::read(&path).unwrap(), r);

    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(RESULTS_SCHEMA, "hilt.results/999");
    std::fs::write(&path, text).unwrap();
    let err = hilt_reports::json::read(&path).unwrap_err().to_string();
    assert!(err.contains("hilt.results/999"), "{err}");

    std::fs::write(&path, "{ not json").unwrap();
    assert!(hilt_reports::json::read(&path).is_err());
}

#[test]
fn a_torn_event_log_keeps_every_whole_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = hilt_reports::eventlog::EventLog::create(&path).unwrap();
    log.append(&Event::TargetStarting {
        target: "broker".into(),
        at: Timestamp(1),
    });
    log.append(&Event::TestFinished {
        result: Box::new(result("mqtt.a", Verdict::Pass, "x")),
    });
    drop(log);
    // A crash in the middle of writing the third line.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"event":"test_finished","result":{"test":"mqtt.b","#);
    std::fs::write(&path, text).unwrap();
    let (events, bad) = hilt_reports::eventlog::read(&path).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(bad, vec![3]);
}
