//! The CoAP suite against libcoap's and aiocoap's servers started by hilt, and against
//! its own negative controls (the UDP interposer in front of the same servers).

use hilt_core::Verdict;

use std::path::Path;

use hilt_core::TestResult;

use crate::support::{hilt, missing, missing_python, run_suite};

#[test]
fn libcoap_passes_the_coap_suite_or_its_deviations_are_listed() {
    if missing("coap-server-notls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = run_suite("coap", "libcoap", &out, &["--retries", "1"]);
    run.assert_conforms_or_listed("coap");
    assert!(run.count(Verdict::Pass) > 0);
    // Every test that ran leaves a pcapng of its UDP datagrams.
    run.assert_every_result_has_a_pcap(&out);
    decodes_its_own_traces(&out, &run.results.results);
}

/// `hilt decode` reads back what the run wrote: one line per datagram with its time and
/// direction, the protocol guessed from the port, and the rule a datagram breaks.
fn decodes_its_own_traces(out: &Path, results: &[TestResult]) {
    let decode = |test: &str| {
        let t = results
            .iter()
            .find(|t| t.test.as_str() == test)
            .unwrap_or_else(|| panic!("{test} ran"));
        let pcap = out.join(t.pcap.as_ref().expect("a trace"));
        let o = hilt(&["decode", pcap.to_str().unwrap()]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    // A separate response: the Empty ACK, then the CON 2.05 that the client acknowledges.
    let (code, text) = decode("coap.core.td-coap-core-09");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with("== udp ") && text.contains("(coap)"),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let expect = [
        "-> CON GET",
        "<- ACK Empty",
        "<- CON 2.05 Content",
        "-> ACK Empty",
    ];
    assert_eq!(lines.len(), expect.len(), "{text}");
    for (line, want) in lines.iter().zip(expect) {
        let (time, rest) = line
            .trim()
            .split_once("  ")
            .expect("time, then the datagram");
        assert!(time.parse::<f64>().is_ok(), "{line}");
        assert!(rest.starts_with(want), "{line} should start with {want}");
    }
    // hilt's own reserved-class request breaks a rule: the decode says which, exits 1.
    let (code, text) = decode("coap.rfc7252.reserved-class-rejected");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("! [RFC7252-4.2-reserved-class]"), "{text}");
}

#[test]
fn decode_names_the_rule_a_coap_datagram_breaks() {
    let ok = hilt(&["decode", "--protocol", "coap", "40 01 12 34 b4 74 69 6d 65"]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(text.contains("CON GET mid=0x1234 /time"), "{text}");
    // TKL 9 is reserved (RFC 7252 §3).
    let bad = hilt(&["decode", "-p", "coap", "49 01 12 34"]);
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("[RFC7252-3-tkl]"), "{text}");
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
    assert!(run.count(Verdict::Pass) > 0);
    // aiocoap's listed deviations still show: a run that xfails nothing would mean the
    // tests stopped reaching what they judge.
    assert!(
        run.count(Verdict::Xfail) > 0,
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

/// A child process killed when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A UDP port free on loopback a moment ago.
fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

#[test]
fn proxy_relays_coap_over_udp_and_applies_a_drop_rule() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    if missing("coap-server-notls") || missing("coap-client-notls") {
        return;
    }
    let (server_port, proxy_port) = (free_udp_port(), free_udp_port());
    let _server = Child(
        Command::new("coap-server-notls")
            .args(["-A", "127.0.0.1", "-p", &server_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.txt");
    // The server's first ACK (its piggybacked 2.05) never reaches the client.
    std::fs::write(&faults, "to-client ACK drop nth=1\n").unwrap();
    let mut proxy = Child(
        Command::new(env!("CARGO_BIN_EXE_hilt"))
            .args(["proxy", "--protocol", "coap", "--listen"])
            .arg(format!("127.0.0.1:{proxy_port}"))
            .arg("--upstream")
            .arg(format!("127.0.0.1:{server_port}"))
            .arg("--faults")
            .arg(&faults)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = proxy.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the proxy starts");
    assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
    // The client retransmits its CON GET after ACK_TIMEOUT (2–3 s, RFC 7252 §4.8) and
    // gets the answer the second time; -B bounds the whole exchange.
    let client = Command::new("coap-client-notls")
        .args(["-m", "get", "-B", "15"])
        .arg(format!("coap://127.0.0.1:{proxy_port}/"))
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&client.stdout);
    assert!(client.status.success() && got.contains("libcoap"), "{got}");
    let _ = Command::new("kill")
        .args(["-INT", &proxy.0.id().to_string()])
        .status();
    let mut lines = vec![first];
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(10)) {
        lines.push(l);
    }
    let log = lines.join("\n");
    let to_server = lines.iter().filter(|l| l.contains("C->S CON GET")).count();
    assert!(to_server >= 2, "the GET was retransmitted:\n{log}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("S->C ACK 2.05 Content") && l.ends_with("[dropped]")),
        "the first response was dropped:\n{log}"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("stopped after 1 connections")
            && last.contains("to client: 2 frames, 1 dropped"),
        "{log}"
    );
}
