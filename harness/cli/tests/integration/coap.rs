//! The CoAP suite against libcoap's server started by hilt, and against its own
//! negative controls (the UDP interposer in front of the same server).

use hilt_core::Verdict;

use crate::support::{hilt, missing, results, stderr};

fn registered_coap_tests() -> usize {
    hilt_suites::registry()
        .suite("coap")
        .map(|s| s.cases.len())
        .unwrap_or(0)
}

#[test]
fn libcoap_passes_the_coap_suite_or_its_deviations_are_listed() {
    if missing("coap-server-notls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = hilt(&[
        "run",
        "--suite",
        "coap",
        "--target",
        "libcoap",
        "-j",
        "8",
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
        "unexpected verdicts against libcoap:\n{}\n{}",
        bad.join("\n"),
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(r.results.len(), registered_coap_tests());
    assert!(r.results.iter().any(|t| t.verdict == Verdict::Pass));
    for t in r.results.iter().filter(|t| t.verdict == Verdict::Xfail) {
        assert!(
            t.deviation.is_some() && t.rule.is_some() && !t.trace.is_empty(),
            "{}: a deviation shows its reason, rule and datagrams",
            t.test
        );
    }
    // Every test leaves a pcapng of its UDP datagrams.
    for t in &r.results {
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
    let out = dir.path().join("controls");
    let o = hilt(&[
        "run",
        "--suite",
        "coap",
        "--target",
        "libcoap",
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
        "these tests did not fail against a server that breaks their rule:\n{}",
        cannot_fail.join("\n")
    );
    assert_eq!(r.results.len(), registered_coap_tests());
    for t in &r.results {
        assert!(t.rule.is_some(), "{} failed without naming a rule", t.test);
        assert!(!t.trace.is_empty(), "{} failed without datagrams", t.test);
    }
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
