//! The AMQP 1.0 suite against RabbitMQ started by hilt (its amqp1_0 plugin on the AMQP
//! port), and against its own negative controls (the TCP interposer in front of the same
//! broker).

use hilt_core::Verdict;

use crate::support::{missing, run_suite};

#[test]
fn rabbitmq_passes_the_amqp10_suite_or_its_deviations_are_listed() {
    if missing("rabbitmq-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = run_suite(
        "amqp10",
        "rabbitmq",
        &dir.path().join("run"),
        &["--retries", "1"],
    );
    run.assert_conforms_or_listed("amqp10");
    let passed = run.count(Verdict::Pass);
    assert!(passed >= 100, "{passed} tests passed");
}

#[test]
fn every_amqp10_test_fails_against_its_negative_control() {
    if missing("rabbitmq-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_suite(
        "amqp10",
        "rabbitmq",
        &dir.path().join("controls"),
        &["--controls"],
    )
    .assert_every_control_fails("amqp10");
}
