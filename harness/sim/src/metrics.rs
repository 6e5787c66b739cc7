//! What a run measured, as plain serializable data (`metrics.json`).

use serde::{Deserialize, Serialize};

/// The version of the `metrics.json` layout.
pub const SCHEMA: &str = "hilt-rpl-sim/1";

/// Everything a run measured that depends only on the scenario and its seed: the same
/// seed gives an equal value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub schema: String,
    pub scenario: String,
    pub seed: u64,
    pub nodes: usize,
    pub duration_s: f64,
    pub mode: String,
    pub objective: String,
    pub convergence: Convergence,
    pub messages: Messages,
    pub delivery: Delivery,
    pub parent_changes: u64,
    pub local_repairs: u64,
    pub dao_failures: u64,
    pub drops: Drops,
    /// Rule violations the nodes reported about each other (a healthy run has none).
    pub violations: u64,
    pub violation_examples: Vec<String>,
    pub repairs: Vec<Repair>,
    pub end: EndState,
    /// Simulator events processed (frames, timers, traffic, scenario events).
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// First time every live node other than the root had a parent.
    pub all_joined_s: Option<f64>,
    /// First time the root held a downward route to every live node.
    pub all_routes_s: Option<f64>,
}

/// Frames sent, by kind (a unicast retried by the MAC counts once).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Messages {
    pub dio: u64,
    pub dis: u64,
    pub dao: u64,
    pub dao_ack: u64,
    pub data: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Delivery {
    pub up_sent: u64,
    pub up_delivered: u64,
    pub up_ratio: Option<f64>,
    pub up_hops_mean: Option<f64>,
    pub up_hops_max: u8,
    pub down_sent: u64,
    pub down_delivered: u64,
    pub down_ratio: Option<f64>,
    pub down_hops_mean: Option<f64>,
    pub down_hops_max: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Drops {
    pub no_route: u64,
    pub loop_detected: u64,
    pub hop_limit: u64,
}

/// How the network came through one scenario event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    pub at_s: f64,
    pub action: String,
    /// Time until every live node had a parent again (after a global repair: in the
    /// new Version; after a node died: none of them through it; after a node moved: it
    /// through a node in its new range); `None` if that never happened. A degraded link
    /// only counts as recovered when every node has a parent.
    pub recovered_after_s: Option<f64>,
    /// Time until no live node had a parent (after the root dies); `None` otherwise.
    pub all_detached_after_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EndState {
    pub alive: usize,
    pub joined: usize,
    pub max_rank: u16,
    /// Longest parent chain to the root, in hops.
    pub max_depth: usize,
    /// Nodes whose parent chain loops instead of reaching the root.
    pub nodes_in_loops: usize,
}

/// One point of the metrics over time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t_s: f64,
    pub joined: usize,
    pub alive: usize,
    pub messages: Messages,
    pub up_delivered: u64,
    pub down_delivered: u64,
}

/// A node as the run left it, for drawing the DODAG.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub id: usize,
    pub x: f64,
    pub y: f64,
    pub root: bool,
    pub alive: bool,
    pub rank: u16,
    pub parent: Option<usize>,
}

/// Wall-clock cost of a run: not part of [`Metrics`], since it differs run to run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    pub wall_s: f64,
    pub simulated_s_per_wall_s: f64,
    pub events_per_s: f64,
}

impl Performance {
    pub fn new(simulated_s: f64, events: u64, wall_s: f64) -> Self {
        let w = wall_s.max(1e-9);
        Performance {
            wall_s,
            simulated_s_per_wall_s: simulated_s / w,
            events_per_s: events as f64 / w,
        }
    }
}
