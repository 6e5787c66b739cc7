//! The CoAP client suite: libcoap's coap-client as the device under test, judged by
//! hilt's own server, and against its own negative controls (the interposer between
//! the two mutating the client's datagrams).

use hilt_core::Verdict;

use crate::support::{missing, run_suite};

#[test]
fn libcoap_client_passes_the_client_suite_or_its_deviations_are_listed() {
    if missing("coap-client-notls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = run_suite("coap-client", "libcoap-client", &out, &["--retries", "1"]);
    run.assert_conforms_or_listed("coap-client");
    let retransmission = run
        .results
        .results
        .iter()
        .find(|t| t.test.as_str() == "coap-client.rfc7252.retransmission")
        .expect("the retransmission test ran");
    assert_eq!(retransmission.verdict, Verdict::Pass);
    // A pass keeps what was measured: every retransmission against its window.
    let measured = retransmission.message.as_deref().unwrap_or_default();
    for n in 1..=4 {
        assert!(
            measured.contains(&format!("retransmission {n}: ")),
            "{measured}"
        );
    }
    // The interposer recorded both legs of every test.
    run.assert_every_result_has_a_pcap(&out);
}

#[test]
fn every_coap_client_test_fails_against_its_negative_control() {
    if missing("coap-client-notls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_suite(
        "coap-client",
        "libcoap-client",
        &dir.path().join("controls"),
        &["--controls"],
    )
    .assert_every_control_fails("coap-client");
}
