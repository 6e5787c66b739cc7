//! Verdicts, in the vocabulary of conformance testing.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a test concluded about a target.
///
/// `Fail` and `Error` are kept apart as JUnit keeps failure and error apart: a fail
/// means the system under test broke a rule (and the result names the rule and holds
/// the evidence); an error means the test could not judge (a broker did not start, a
/// rig vanished, hilt itself misbehaved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// The system under test broke the rule the test checks.
    Fail,
    /// Infrastructure: the test could not run to a judgement.
    Error,
    /// A capability the test needs is not declared by the target.
    Skip,
    /// Failed as the target's file says it will (a known deviation, with its reason).
    Xfail,
    /// Failed, then passed on a retry.
    Flaky,
    /// Ran, but the observation cannot decide pass or fail.
    Inconclusive,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Error,
        Verdict::Skip,
        Verdict::Xfail,
        Verdict::Flaky,
        Verdict::Inconclusive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skip => "skip",
            Verdict::Xfail => "xfail",
            Verdict::Flaky => "flaky",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// Whether this verdict makes a run fail in CI (exit code 1).
    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::Fail)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
