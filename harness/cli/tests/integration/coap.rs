//! The CoAP suite against libcoap's and aiocoap's servers started by hilt, and against
//! its own negative controls (the UDP interposer in front of the same servers).

use hilt_core::Verdict;

use crate::support::{missing, missing_python, run_suite};

#[test]
fn libcoap_passes_the_coap_suite_or_its_deviations_are_listed() {
    if missing("coap-server-notls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = run_suite("coap", "libcoap", &out, &["--retries", "1"]);
    run.assert_conforms_or_listed("coap");
    assert!(
        run.results
            .results
            .iter()
            .any(|t| t.verdict == Verdict::Pass)
    );
    // Every test that ran leaves a pcapng of its UDP datagrams.
    for t in run
        .results
        .results
        .iter()
        .filter(|t| t.verdict != Verdict::Skip)
    {
        let pcap = t
            .pcap
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no trace", t.test));
        assert!(out.join(pcap).is_file());
    }
}

#[test]
fn every_coap_test_fails_against_its_negative_control() {
    if missing("coap-server-notls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_suite(
        "coap",
        "libcoap",
        &dir.path().join("controls"),
        &["--controls"],
    )
    .assert_every_control_fails("coap");
}

#[test]
fn aiocoap_passes_the_coap_suite_or_its_deviations_are_listed() {
    if missing_python("aiocoap") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = run_suite("coap", "aiocoap", &out, &["--retries", "1"]);
    run.assert_conforms_or_listed("coap");
    let r = &run.results.results;
    assert!(r.iter().any(|t| t.verdict == Verdict::Pass));
    // aiocoap's listed deviations still show: a run that xfails nothing would mean the
    // tests stopped reaching what they judge.
    assert!(
        r.iter().any(|t| t.verdict == Verdict::Xfail),
        "no deviation of aiocoap seen"
    );
}

#[test]
fn every_coap_test_fails_against_its_negative_control_in_front_of_aiocoap() {
    if missing_python("aiocoap") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_suite(
        "coap",
        "aiocoap",
        &dir.path().join("controls"),
        &["--controls"],
    )
    .assert_every_control_fails("coap");
}
