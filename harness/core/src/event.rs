//! The event stream a run produces; every reporter is a consumer of it.
//!
//! Events are appended to the run's event log as they happen (one JSON object per
//! line), so a run that crashes keeps everything it finished.

use serde::{Deserialize, Serialize};

use crate::result::TestResult;
use crate::time::Timestamp;
use crate::verdict::Verdict;

/// A target as it was during the run: what it was, how it was reached, resources used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Version string reported by the target, when it reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Protocol name → `host:port` where hilt reached it.
    #[serde(default)]
    pub endpoints: std::collections::BTreeMap<String, String>,
    /// How long it took from launch until it accepted connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<u64>,
    /// Peak resident memory seen while sampling, in KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<u64>,
    /// CPU time consumed, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    /// Log files of the target, relative to the run folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub pass: u32,
    pub fail: u32,
    pub error: u32,
    pub skip: u32,
    pub xfail: u32,
    pub flaky: u32,
    pub inconclusive: u32,
}

impl Counts {
    pub fn add(&mut self, v: Verdict) {
        let slot = match v {
            Verdict::Pass => &mut self.pass,
            Verdict::Fail => &mut self.fail,
            Verdict::Error => &mut self.error,
            Verdict::Skip => &mut self.skip,
            Verdict::Xfail => &mut self.xfail,
            Verdict::Flaky => &mut self.flaky,
            Verdict::Inconclusive => &mut self.inconclusive,
        };
        *slot += 1;
    }

    pub fn get(&self, v: Verdict) -> u32 {
        match v {
            Verdict::Pass => self.pass,
            Verdict::Fail => self.fail,
            Verdict::Error => self.error,
            Verdict::Skip => self.skip,
            Verdict::Xfail => self.xfail,
            Verdict::Flaky => self.flaky,
            Verdict::Inconclusive => self.inconclusive,
        }
    }

    pub fn total(&self) -> u32 {
        Verdict::ALL.iter().map(|v| self.get(*v)).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        at: Timestamp,
        hilt_version: String,
        /// The command line or plan that started the run.
        invocation: String,
        planned: u32,
    },
    TargetStarting {
        target: String,
        at: Timestamp,
    },
    TargetReady {
        info: TargetInfo,
        at: Timestamp,
    },
    /// A target could not be started or died; its tests become errors.
    TargetFailed {
        target: String,
        error: String,
        at: Timestamp,
    },
    TestStarted {
        test: String,
        target: String,
        attempt: u32,
        at: Timestamp,
    },
    TestFinished {
        result: Box<TestResult>,
    },
    TargetStopped {
        info: TargetInfo,
        at: Timestamp,
    },
    RunFinished {
        at: Timestamp,
        counts: Counts,
        /// True when the run was cut short (Ctrl-C): results are partial.
        interrupted: bool,
    },
}
