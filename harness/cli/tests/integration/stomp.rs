//! The STOMP suite against RabbitMQ (rabbitmq_stomp) and ActiveMQ started by hilt, and
//! against its own negative controls (the interposer in front of the same brokers).

use hilt_core::Verdict;

use crate::support::{missing, run_suite};

fn conforms_or_listed(target: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = run_suite("stomp", target, &out, &["--retries", "1"]);
    run.assert_conforms_or_listed("stomp");
    assert!(run.count(Verdict::Pass) >= 50, "most STOMP tests pass");
    // Every test leaves a pcapng of its connections, with STOMP frames dissected.
    run.assert_every_result_has_a_pcap(&out);
    for t in &run.results.results {
        if t.verdict == Verdict::Skip {
            continue;
        }
        assert!(
            t.trace.iter().any(|f| f.summary.starts_with("CONNECT")),
            "{}: the trace shows decoded STOMP frames",
            t.test
        );
    }
}

fn every_control_fails(target: &str) {
    let dir = tempfile::tempdir().unwrap();
    run_suite(
        "stomp",
        target,
        &dir.path().join("controls"),
        &["--controls"],
    )
    .assert_every_control_fails("stomp");
}

// One test per broker, its conformance run then its control run: two brokers starting
// at once is load enough on a small CI machine.

#[test]
fn rabbitmq_passes_the_stomp_suite_or_its_deviations_are_listed_and_every_control_fails() {
    if missing("rabbitmq-server") {
        return;
    }
    conforms_or_listed("rabbitmq");
    every_control_fails("rabbitmq");
}

#[test]
fn activemq_passes_the_stomp_suite_or_its_deviations_are_listed_and_every_control_fails() {
    if missing("activemq") {
        return;
    }
    conforms_or_listed("activemq");
    every_control_fails("activemq");
}
