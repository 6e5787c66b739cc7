//! JUnit XML for CI systems: one test suite per target. A fail is a JUnit failure, an
//! error a JUnit error (as nextest keeps them apart); skips and expected failures are
//! skipped with their reason; flaky tests pass with their retries recorded.

use std::path::Path;
use std::time::Duration;

use hilt_core::{RunResults, Verdict};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::{ReportError, write_atomically};

pub fn render(results: &RunResults) -> Result<String, ReportError> {
    let mut report = Report::new(format!("hilt {}", results.run_id));
    for target in &results.targets {
        let mut suite = TestSuite::new(target.name.clone());
        for r in results.results.iter().filter(|r| r.target == target.name) {
            let message = r.message.clone().unwrap_or_default();
            let rule = r
                .rule
                .as_ref()
                .map(|r| format!("[{}] ({}) ", r.id, r.doc))
                .unwrap_or_default();
            let mut status = match r.verdict {
                Verdict::Pass | Verdict::Flaky => TestCaseStatus::success(),
                Verdict::Fail => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!("{rule}{message}"));
                    s
                }
                Verdict::Error | Verdict::Inconclusive => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(format!("{}: {message}", r.verdict));
                    s
                }
                Verdict::Skip => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(message.clone());
                    s
                }
                Verdict::Xfail => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(format!(
                        "expected failure (known deviation: {}): {rule}{message}",
                        r.deviation.as_deref().unwrap_or("")
                    ));
                    s
                }
            };
            if matches!(r.verdict, Verdict::Fail | Verdict::Error | Verdict::Xfail) {
                let trace: String = r
                    .trace
                    .iter()
                    .map(|f| {
                        let arrow = match f.dir {
                            hilt_core::Direction::Sent => "->",
                            hilt_core::Direction::Received => "<-",
                        };
                        format!(
                            "{:>10.3} ms  c{} {arrow} {}\n",
                            f.t_us as f64 / 1000.0,
                            f.conn,
                            f.summary
                        )
                    })
                    .collect();
                status.set_description(trace);
            }
            let mut case = TestCase::new(r.test.to_string(), status);
            case.set_classname(
                r.test
                    .as_str()
                    .rsplit_once('.')
                    .map(|(c, _)| c)
                    .unwrap_or(r.test.as_str())
                    .to_owned(),
            );
            case.set_time(Duration::from_micros(r.duration_us));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|e| ReportError::Render {
        what: "JUnit XML".into(),
        message: e.to_string(),
    })
}

pub fn write(path: &Path, results: &RunResults) -> Result<(), ReportError> {
    write_atomically(path, render(results)?.as_bytes())
}
