//! The results file of a benchmark (`bench.json`): the versioned schema `hilt bench`
//! writes and the HTML comparison (and later `hilt report`) reads.
//!
//! Latencies are in microseconds as floating point (the histograms record nanoseconds,
//! so sub-microsecond detail survives); every percentile set comes from an HdrHistogram
//! whose interval log is saved next to this file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::TargetInfo;
use crate::time::Timestamp;

/// Bumped on any change a reader of an older file would misread.
pub const BENCH_SCHEMA: &str = "hilt.bench/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResults {
    pub schema: String,
    pub run_id: String,
    pub hilt_version: String,
    pub invocation: String,
    pub started: Timestamp,
    pub finished: Timestamp,
    /// True when the run was cut short (Ctrl-C): what finished before is kept.
    #[serde(default)]
    pub interrupted: bool,
    pub workload: WorkloadInfo,
    /// Facts about where the run happened: cores, kernel, host, hilt version.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    pub targets: Vec<TargetBench>,
}

/// What was run, as the workload file and the command line decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    pub name: String,
    /// The workload file as given.
    pub file: String,
    pub protocol: String,
    /// `3.1.1` or `5.0`.
    pub version: String,
    /// `p2p`, `fan-out`, `fan-in`, `shared` or `request-response`.
    pub topology: String,
    pub publishers: u32,
    pub subscribers: u32,
    /// Connections answering requests (request-response).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub responders: u32,
    /// Connections opened per second while setting up, when ramped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_rate: Option<u32>,
    /// MQTT's QoS (0 for other protocols).
    pub qos: u8,
    /// How subscribers acknowledged (STOMP, AMQP): `auto`, `client` or
    /// `client-individual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<String>,
    /// Publishers asked the target to confirm each message (STOMP receipts, AMQP
    /// publisher confirms).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm: bool,
    /// Messages a subscriber could hold unacknowledged, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch: Option<u32>,
    /// STOMP: `topic` or `queue` destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub payload_bytes: u32,
    /// Messages per second per publisher, one entry per fixed step of the sweep.
    pub rates: Vec<u64>,
    /// The sweep also searched for the highest sustainable rate (`rate: max`).
    #[serde(default)]
    pub search_max: bool,
    pub warmup_ms: u64,
    pub duration_ms: u64,
    /// A fault injected into every run: the target paused for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<PauseInfo>,
    /// The workload file's text, verbatim, so the run can be repeated.
    #[serde(default)]
    pub text: String,
}

/// The target frozen (SIGSTOP) `at_ms` after the warm-up ended, for `for_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseInfo {
    pub at_ms: u64,
    pub for_ms: u64,
}

/// One target's runs, one per rate of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetBench {
    pub target: TargetInfo,
    pub runs: Vec<RateRun>,
    /// Why the target could not be benchmarked (it did not start, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the workload was not run on this target: it lacks a capability the workload
    /// needs, or does not serve its protocol. Not a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The measured phase of one run at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateRun {
    /// Messages per second per publisher, as asked.
    pub rate_per_publisher: u64,
    /// Publishes per second all publishers were asked for.
    pub intended_publish_rate: f64,
    /// Publishes per second actually written in the measured phase.
    pub publish_rate: f64,
    /// Deliveries per second received in the measured phase (all subscribers).
    pub achieved_rate: f64,
    pub duration_s: f64,
    /// Latency from the intended send time to receipt (coordinated-omission corrected).
    pub latency_corrected: Percentiles,
    /// Latency from the actual send time to receipt.
    pub latency_raw: Percentiles,
    /// Actual minus intended send time: how late the generator was.
    pub send_delay: Percentiles,
    /// PUBLISH → PUBACK round trip (QoS 1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_latency: Option<Percentiles>,
    pub counts: MessageCounts,
    pub client: ClientUse,
    pub broker: BrokerUse,
    /// The pause that was injected in this run, as it really happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<PauseDone>,
    /// The corrected and raw percentile spectra, for charts.
    pub spectrum: Vec<SpectrumPoint>,
    /// Per second of the measured phase: deliveries and the corrected p99 of that second
    /// (the interval log's histogram).
    pub timeline: Vec<TimelinePoint>,
    /// Interval logs (HdrHistogram log format), relative to the run folder.
    pub interval_logs: BTreeMap<String, String>,
    /// Connection errors, protocol violations and timeouts, in order (the first few).
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub error_count: u64,
    /// True when the run was cut short.
    #[serde(default)]
    pub interrupted: bool,
    /// Set when this run is the result of a `max` search: the highest step that held,
    /// and every step tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<MaxSearch>,
}

/// A search for the highest rate a target sustains: exponential steps until one fails,
/// then bisection between the highest that held and the lowest that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxSearch {
    /// The highest rate per publisher that held; 0 when none did.
    pub found: u64,
    /// What a step had to satisfy to hold.
    pub criteria: String,
    pub steps: Vec<SearchStep>,
}

/// One short run of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchStep {
    pub rate_per_publisher: u64,
    pub held: bool,
    /// Why it did not hold (empty when it did).
    #[serde(default)]
    pub reason: String,
    /// Deliveries per second, all subscribers.
    pub achieved_rate: f64,
    pub p99_us: f64,
    pub send_delay_p99_us: f64,
}

/// Percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub max: f64,
}

/// Loss, duplicates and reordering, judged from the sequence numbers in the payloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCounts {
    /// PUBLISHes written by all publishers (warm-up included).
    pub published: u64,
    /// Deliveries expected: each publication times the subscribers of its topic.
    pub expected: u64,
    /// Deliveries received, duplicates included.
    pub received: u64,
    /// Expected deliveries never received.
    pub lost: u64,
    pub duplicates: u64,
    /// Deliveries that arrived after a later sequence number of the same publisher.
    pub reordered: u64,
    /// Payloads that did not carry this run's header.
    pub foreign: u64,
    /// Streams judged: one per publisher and delivery group hearing it (a subscriber, or
    /// a set of competing consumers).
    #[serde(default)]
    pub flows: u64,
    /// Of those, streams that lost, duplicated or reordered at least one message.
    #[serde(default)]
    pub flows_with_loss: u64,
    #[serde(default)]
    pub flows_with_duplicates: u64,
    #[serde(default)]
    pub flows_with_reordering: u64,
    /// Messages the client sent again on its own timers (CoAP CON requests), for
    /// protocols that retransmit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmissions: Option<u64>,
}

/// What the load generator itself used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientUse {
    /// CPU time of the whole hilt process in the measured phase, as a percentage of one
    /// core (getrusage).
    pub cpu_percent: f64,
    pub cores: u32,
    /// Time publishers spent blocked writing to a full socket, summed over publishers.
    pub write_blocked_ms: f64,
    /// The generator, not the target, may have set the pace; `client_bound_reasons` says why.
    pub client_bound: bool,
    #[serde(default)]
    pub client_bound_reasons: Vec<String>,
}

/// What the target used in the measured phase, from hilt's sampling of its processes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerUse {
    /// CPU as a percentage of one core; `None` when hilt did not launch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// Peak resident memory seen so far, in KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<u64>,
}

/// A pause that happened: when (after the warm-up) and for how long, as measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PauseDone {
    pub at_ms: f64,
    pub for_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpectrumPoint {
    /// Percentile, 0–100.
    pub percentile: f64,
    pub corrected_us: f64,
    pub raw_us: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the measured phase began (end of the interval).
    pub t_s: f64,
    /// Deliveries per second in the interval.
    pub rate: f64,
    /// Corrected p99 of the messages received in the interval, µs.
    pub p99_us: f64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
