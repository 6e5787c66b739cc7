//! The MQTT suite against real brokers started by hilt, and against its own negative
//! controls.

use hilt_core::Verdict;

use crate::support::{hilt, missing, results, stderr};

fn registered_mqtt_tests() -> usize {
    hilt_suites::registry()
        .suite("mqtt")
        .map(|s| s.cases.len())
        .unwrap_or(0)
}

#[test]
fn mosquitto_passes_the_mqtt_suite_with_every_artefact_written() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = hilt(&[
        "run",
        "--suite",
        "mqtt",
        "--target",
        "mosquitto",
        "-j",
        "8",
        // A loaded CI machine may miss a deadline once; a pass on retry is reported
        // as flaky, which the assertions below accept.
        "--retries",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = results(&out);
    let bad: Vec<String> = r
        .results
        .iter()
        .filter(|t| {
            matches!(
                t.verdict,
                Verdict::Fail | Verdict::Error | Verdict::Inconclusive
            )
        })
        .map(|t| {
            format!(
                "{} {}: {}",
                t.verdict,
                t.test,
                t.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "unexpected verdicts against Mosquitto:\n{}\n{}",
        bad.join("\n"),
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        r.results.len(),
        registered_mqtt_tests(),
        "one result per registered test"
    );
    assert!(r.results.iter().any(|t| t.verdict == Verdict::Pass));
    for f in ["events.jsonl", "junit.xml", "report.html"] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let with_pcap = r.results.iter().filter_map(|t| t.pcap.as_ref()).count();
    assert!(with_pcap > 0, "pcapng traces written");
    for t in r.results.iter().filter_map(|t| t.pcap.as_ref()) {
        assert!(out.join(t).is_file(), "{t} exists");
    }
    // Each trace decodes again from its pcapng (hilt decode reads what hilt wrote).
    let pcap = r
        .results
        .iter()
        .find(|t| t.test.as_str() == "mqtt.v5.connect.clean-start-no-session-present")
        .and_then(|t| t.pcap.clone())
        .expect("the connect test has a trace");
    let o = hilt(&["decode", out.join(&pcap).to_str().unwrap()]);
    let decoded = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{decoded}");
    assert!(
        decoded.contains("CONNECT v5.0") && decoded.contains("CONNACK"),
        "{decoded}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Verdicts: tests × targets"));
    assert!(html.contains("Coverage by statement"));
    // Re-rendering from the results alone gives a report too.
    let again = dir.path().join("again.html");
    let o = hilt(&[
        "report",
        out.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(again.is_file());
}

#[test]
fn every_mqtt_test_fails_against_its_negative_control() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("controls");
    let o = hilt(&[
        "run",
        "--suite",
        "mqtt",
        "--target",
        "mosquitto",
        "-j",
        "8",
        "--controls",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = results(&out);
    assert!(r.controls);
    let cannot_fail: Vec<String> = r
        .results
        .iter()
        .filter(|t| t.verdict != Verdict::Fail)
        .map(|t| {
            format!(
                "{} {}: {}",
                t.verdict,
                t.test,
                t.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        cannot_fail.is_empty(),
        "these tests did not fail against a peer that breaks their rule:\n{}",
        cannot_fail.join("\n")
    );
    assert_eq!(r.results.len(), registered_mqtt_tests());
    // A failure carries the rule it judged and the packets behind it.
    for t in &r.results {
        assert!(t.rule.is_some(), "{} failed without naming a rule", t.test);
        assert!(!t.trace.is_empty(), "{} failed without packets", t.test);
    }
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn rabbitmq_deviations_are_listed_with_evidence() {
    if missing("rabbitmq-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rabbit");
    let o = hilt(&[
        "run",
        "--suite",
        "mqtt",
        "--target",
        "rabbitmq",
        "-j",
        "8",
        // A loaded CI machine may miss a deadline once; a pass on retry is reported
        // as flaky, which the assertions below accept.
        "--retries",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = results(&out);
    let unlisted: Vec<String> = r
        .results
        .iter()
        .filter(|t| matches!(t.verdict, Verdict::Fail | Verdict::Error))
        .map(|t| {
            format!(
                "{} {}: {}",
                t.verdict,
                t.test,
                t.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        unlisted.is_empty(),
        "RabbitMQ verdicts not explained by its target file:\n{}\n{}",
        unlisted.join("\n"),
        stderr(&o)
    );
    for t in r.results.iter().filter(|t| t.verdict == Verdict::Xfail) {
        assert!(
            t.deviation.is_some() && t.rule.is_some() && !t.trace.is_empty(),
            "{}: a deviation shows its reason, rule and packets",
            t.test
        );
    }
    // RabbitMQ 3.10 speaks 3.1.1 only: every 5.0 test is a skip, not a failure.
    assert!(
        r.results
            .iter()
            .filter(|t| t.test.as_str().starts_with("mqtt.v5."))
            .all(|t| t.verdict == Verdict::Skip)
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn an_external_broker_is_tested_where_it_runs() {
    if missing("mosquitto") {
        return;
    }
    // A broker hilt did not start: the test starts it on a port it picks.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("m.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .unwrap();
    let mut broker = std::process::Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("mqtt://127.0.0.1:{port}");
    let ready = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let out = dir.path().join("run");
    let o = hilt(&[
        "run",
        "--suite",
        "mqtt",
        "--select",
        "mqtt.*.connect.*",
        "--target",
        "external",
        "--url",
        &url,
        "--out",
        out.to_str().unwrap(),
    ]);
    let _ = broker.kill();
    let _ = broker.wait();
    assert!(ready, "mosquitto started");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&out);
    assert_eq!(r.targets[0].name, "external");
    assert!(
        r.results.iter().all(|t| t.verdict == Verdict::Pass),
        "connect tests pass against an external Mosquitto"
    );
}
