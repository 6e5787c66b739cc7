//! What a test leaves behind: its verdict, the rule it judged, and the packets.

use serde::{Deserialize, Serialize};

use crate::id::{SpecRefOwned, TestId};
use crate::time::Timestamp;
use crate::verdict::Verdict;

/// Which way a recorded frame went, seen from hilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// hilt (the tester) sent it to the system under test.
    Sent,
    /// The system under test sent it to hilt.
    Received,
}

/// One decoded frame of a recorded exchange, as reports show it.
///
/// Decoding is the protocol's business (see the dissectors in `wire`); by the time a
/// frame reaches a result it is text plus the raw bytes, so reporters stay
/// protocol-agnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceFrame {
    /// Microseconds since the test started.
    pub t_us: u64,
    /// Which connection of the test (0, 1, …) carried it.
    pub conn: u32,
    pub dir: Direction,
    /// One line: `PUBLISH qos=1 id=7 topic="a/b" (5 bytes)`.
    pub summary: String,
    /// Every rule the frame breaks, by statement id, with the offset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The frame's bytes, lowercase hex.
    pub hex: String,
}

/// The outcome of one test against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub test: TestId,
    pub target: String,
    pub title: String,
    pub verdict: Verdict,
    /// Statements the test covers.
    pub covers: Vec<SpecRefOwned>,
    /// The statement judged broken (fail) or the reason of an error/skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<SpecRefOwned>,
    /// A sentence a person reads first: what was expected, what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For xfail: the deviation's reason from the target file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deviation: Option<String>,
    pub attempts: u32,
    pub started: Timestamp,
    pub duration_us: u64,
    /// The exchange behind the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<TraceFrame>,
    /// The pcapng file of this test, relative to the run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcap: Option<String>,
}
