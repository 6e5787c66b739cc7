//! Running the `hilt` binary and reading what it wrote.

use std::path::Path;
use std::process::{Command, Output};

use hilt_core::{RunResults, TestResult, Verdict};

pub fn hilt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hilt"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the hilt binary runs")
}

pub fn results(dir: &Path) -> RunResults {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json written");
    serde_json::from_str(&text).expect("results.json matches the schema")
}

/// Skips (returning true) when a peer's program is not installed; `./ci/test` installs
/// them, so in CI this never skips.
pub fn missing(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
        || Path::new("/usr/sbin").join(program).is_file()
        || Path::new("/usr/lib/rabbitmq/bin").join(program).is_file();
    if !found {
        eprintln!("skipped: `{program}` is not installed (run ./ci/setup)");
    }
    !found
}

/// Skips (returning true) when the Python virtual environment `./ci/setup` creates
/// lacks `module` (a PyPI peer such as aiocoap); in CI it never does.
pub fn missing_python(module: &str) -> bool {
    let python = hilt_peers::python_venv().map(|v| v.join("bin/python"));
    let found = python.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        eprintln!("skipped: Python module `{module}` is not in hilt's venv (run ./ci/setup)");
    }
    !found
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// How many tests `suite` registers.
pub fn registered(suite: &str) -> usize {
    hilt_suites::registry()
        .suite(suite)
        .map(|s| s.cases.len())
        .unwrap_or(0)
}

/// A conformance run of one suite against one target, into `out`: `hilt run --suite
/// SUITE --target TARGET -j 8 --out OUT` followed by `extra` (`--controls`,
/// `--retries 1`, …).
pub struct SuiteRun {
    pub output: Output,
    pub results: RunResults,
}

pub fn run_suite(suite: &str, target: &str, out: &Path, extra: &[&str]) -> SuiteRun {
    let mut args = vec![
        "run",
        "--suite",
        suite,
        "--target",
        target,
        "-j",
        "8",
        "--out",
        out.to_str().expect("a UTF-8 temporary path"),
    ];
    args.extend_from_slice(extra);
    let output = hilt(&args);
    let results = results(out);
    SuiteRun { output, results }
}

impl SuiteRun {
    /// The results whose verdict `pick` selects, one line each, for assertion messages.
    pub fn lines(&self, pick: impl Fn(Verdict) -> bool) -> Vec<String> {
        self.results
            .results
            .iter()
            .filter(|t| pick(t.verdict))
            .map(|t| {
                format!(
                    "{} {}: {}",
                    t.verdict,
                    t.test,
                    t.message.as_deref().unwrap_or("")
                )
            })
            .collect()
    }

    /// How many results have verdict `v`.
    pub fn count(&self, v: Verdict) -> usize {
        self.results
            .results
            .iter()
            .filter(|t| t.verdict == v)
            .count()
    }

    /// The target conforms except where its file lists a deviation: no failure, error
    /// or inconclusive verdict, exit code 0, one result per registered test, at least
    /// one pass, and every xfail showing its reason, rule and traffic.
    pub fn assert_conforms_or_listed(&self, suite: &str) {
        let bad =
            self.lines(|v| matches!(v, Verdict::Fail | Verdict::Error | Verdict::Inconclusive));
        assert!(
            bad.is_empty(),
            "verdicts the target file does not explain:\n{}\n{}",
            bad.join("\n"),
            stderr(&self.output)
        );
        assert_eq!(
            self.output.status.code(),
            Some(0),
            "{}",
            stderr(&self.output)
        );
        assert_eq!(
            self.results.results.len(),
            registered(suite),
            "one result per registered test"
        );
        for t in self
            .results
            .results
            .iter()
            .filter(|t| t.verdict == Verdict::Xfail)
        {
            assert!(
                t.deviation.is_some() && t.rule.is_some() && !t.trace.is_empty(),
                "{}: a deviation shows its reason, rule and traffic",
                t.test
            );
        }
    }

    /// Every result left a pcapng of its traffic in the run folder `out`, but skipped
    /// tests, which sent nothing.
    pub fn assert_every_result_has_a_pcap(&self, out: &Path) {
        for t in self
            .results
            .results
            .iter()
            .filter(|t| t.verdict != Verdict::Skip)
        {
            let pcap = t
                .pcap
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no trace", t.test));
            assert!(out.join(pcap).is_file(), "{}: {pcap} missing", t.test);
        }
    }

    /// A `--controls` run: every test failed against the peer that breaks its rule,
    /// naming the rule and carrying the traffic behind it (or saying what never arrived),
    /// and hilt exited 0. A test skipped for a capability the target does not declare,
    /// or for a protocol it does not serve, never ran: there was nothing of the
    /// target's to mutate.
    pub fn assert_every_control_fails(&self, suite: &str) {
        assert!(self.results.controls, "a --controls run");
        let unserved = |t: &TestResult| {
            t.verdict == Verdict::Skip
                && t.message.as_deref().is_some_and(|m| {
                    m.starts_with("target does not declare capability")
                        || m.starts_with("target does not serve")
                })
        };
        let cannot_fail: Vec<String> = self
            .results
            .results
            .iter()
            .filter(|t| t.verdict != Verdict::Fail && !unserved(t))
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
        assert_eq!(self.results.results.len(), registered(suite));
        for t in self.results.results.iter().filter(|t| !unserved(t)) {
            assert!(t.rule.is_some(), "{} failed without naming a rule", t.test);
            // A peer that stayed silent leaves no traffic to show: the verdict itself
            // says what did not arrive within which deadline.
            let silence = t
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("no ") && m.contains(" within "));
            assert!(
                !t.trace.is_empty() || silence,
                "{} failed without its traffic",
                t.test
            );
        }
        assert_eq!(
            self.output.status.code(),
            Some(0),
            "{}",
            stderr(&self.output)
        );
    }
}
