//! Bad things happening during a run: Ctrl-C, a broker that dies.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hilt_core::Verdict;

use crate::support::{missing, results};

/// The tests the run's event log shows finished, with their verdicts.
fn finished_tests(run: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(run.join("events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "test_finished")
        .map(|e| {
            let r = &e["result"];
            (
                r["test"].as_str().unwrap_or_default().to_owned(),
                r["verdict"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Waits until the run's event log holds `n` finished tests (or the deadline passes).
fn wait_for_finished(run: &Path, n: usize, deadline: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        let finished = std::fs::read_to_string(run.join("events.jsonl"))
            .map(|t| t.matches("\"event\":\"test_finished\"").count())
            .unwrap_or(0);
        if finished >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn signal(sig: &str, pid: &str) {
    let _ = Command::new("kill").args([sig, pid]).status();
}

#[test]
fn ctrl_c_writes_partial_results_and_exits_130() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hilt"))
        .args([
            "run",
            "--suite",
            "mqtt",
            "--target",
            "mosquitto",
            "-j",
            "2",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for_finished(&out, 20, Duration::from_secs(60)),
        "the run got going"
    );
    // Whatever the event log says finished before the signal must survive it.
    let finished_before = finished_tests(&out);
    signal("-INT", &child.id().to_string());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let r = results(&out);
    assert!(r.interrupted, "results say they are partial");
    assert!(finished_before.len() >= 20);
    for (test, verdict) in &finished_before {
        let kept = r
            .results
            .iter()
            .find(|t| t.test.as_str() == test)
            .map(|t| t.verdict.to_string());
        assert_eq!(
            kept.as_deref(),
            Some(verdict.as_str()),
            "{test} finished before Ctrl-C and keeps its verdict"
        );
    }
    assert!(out.join("report.html").is_file());
    // The broker hilt started went down with the run.
    let left = Command::new("pgrep")
        .args(["-f", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "no process of the run survives: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn a_broker_killed_mid_run_is_restarted_and_the_run_completes() {
    if missing("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let child = Command::new(env!("CARGO_BIN_EXE_hilt"))
        .args([
            "run",
            "--suite",
            "mqtt",
            "--select",
            "mqtt.*.vector.*",
            "--target",
            "mosquitto",
            "-j",
            "2",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for_finished(&out, 50, Duration::from_secs(60)),
        "the run got going"
    );
    // The broker's command line names its instance folder inside the run folder.
    let killed = Command::new("pkill")
        .args(["-KILL", "-f", &format!("mosquitto -c {}", out.display())])
        .status()
        .unwrap();
    assert!(killed.success(), "found the broker to kill");
    let output = child.wait_with_output().unwrap();
    let r = results(&out);
    assert!(!r.interrupted);
    let planned = hilt_suites::registry()
        .suite("mqtt")
        .map(|s| {
            s.cases
                .iter()
                .filter(|c| c.id.as_str().contains(".vector."))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(r.results.len(), planned, "every test has a result");
    assert!(
        r.results.iter().any(|t| t
            .message
            .as_deref()
            .is_some_and(|m| m.contains("died during this test"))),
        "the death is noted on the test it happened in"
    );
    // After the restart the run went on judging the broker.
    let last = r
        .results
        .iter()
        .rev()
        .take(50)
        .filter(|t| matches!(t.verdict, Verdict::Pass | Verdict::Xfail))
        .count();
    assert!(
        last > 25,
        "tests after the restart ran normally ({last} of the last 50)"
    );
    let _ = output;
}
