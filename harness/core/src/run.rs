//! The results file of a run (`results.json`): the versioned schema every reporter and
//! `hilt report` read.

use serde::{Deserialize, Serialize};

use crate::event::{Counts, TargetInfo};
use crate::result::TestResult;
use crate::time::Timestamp;

/// Bumped on any change a reader of an older file would misread.
pub const RESULTS_SCHEMA: &str = "hilt.results/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub schema: String,
    pub run_id: String,
    pub hilt_version: String,
    pub invocation: String,
    pub started: Timestamp,
    pub finished: Timestamp,
    /// True when the run was cut short: the results are what finished before.
    pub interrupted: bool,
    /// True when the run judged the negative controls (every test is expected to fail).
    #[serde(default)]
    pub controls: bool,
    pub counts: Counts,
    pub targets: Vec<TargetInfo>,
    pub results: Vec<TestResult>,
    /// Statement coverage per specification document.
    #[serde(default)]
    pub coverage: Vec<DocCoverage>,
    /// Facts about where the run happened (host, cores, kernel, versions).
    #[serde(default)]
    pub environment: std::collections::BTreeMap<String, String>,
}

/// How the tests of a run cover one specification's normative statements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocCoverage {
    /// Manifest name: `mqtt-v5`.
    pub doc: String,
    pub title: String,
    pub statements: Vec<StatementCoverage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementCoverage {
    pub id: String,
    pub section: String,
    pub level: String,
    pub summary: String,
    /// Ids of the tests in this run that cover the statement.
    pub tests: Vec<String>,
}

impl DocCoverage {
    pub fn covered(&self) -> usize {
        self.statements
            .iter()
            .filter(|s| !s.tests.is_empty())
            .count()
    }
}
