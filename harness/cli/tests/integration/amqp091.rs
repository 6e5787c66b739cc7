//! The AMQP 0-9-1 suite against RabbitMQ started by hilt, and against its own negative
//! controls (the TCP interposer in front of the same broker).

use hilt_core::Verdict;

use crate::support::{missing, run_suite};

#[test]
fn rabbitmq_passes_the_amqp091_suite_or_its_deviations_are_listed() {
    if missing("rabbitmq-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = run_suite(
        "amqp091",
        "rabbitmq",
        &dir.path().join("run"),
        &["--retries", "1"],
    );
    run.assert_conforms_or_listed("amqp091");
    let passed = run.count(Verdict::Pass);
    assert!(passed >= 60, "{passed} tests passed");
}

#[test]
fn every_amqp091_test_fails_against_its_negative_control() {
    if missing("rabbitmq-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_suite(
        "amqp091",
        "rabbitmq",
        &dir.path().join("controls"),
        &["--controls"],
    )
    .assert_every_control_fails("amqp091");
}
