//! A deterministic discrete-event simulator for low-power and lossy networks, in virtual
//! time, driving hilt-wire's RPL node and root state machines unchanged.
//!
//! A [`Scenario`] (YAML, see `suites/rpl/scenarios/`) gives the topology (grid, line,
//! random, or positions from a file), the radio medium (unit disk with distance-based
//! loss, or an explicit link-quality graph), the DODAG's settings, periodic traffic up
//! to the root and down from it, and scenario events (kill or restart the root or a
//! node, move a node, degrade a link, start a global repair). [`Simulation`] runs it:
//! one binary heap of timestamped events, one seeded generator for every random draw, so
//! the same scenario and seed give the same [`Metrics`], bit for bit.
//!
//! The MAC is simple on purpose: a frame takes a fixed time on the air, broadcasts are
//! sent once, unicasts are retried until acknowledged (acknowledgements are never lost)
//! and the sender's core is told how many attempts it took, which feeds its ETX.
//! Collisions and queueing are not modelled.

mod engine;
mod medium;
mod metrics;
mod scenario;

pub use engine::{CapturedFrame, Outcome, SimError, Simulation, run};
pub use metrics::{
    Convergence, Delivery, Drops, EndState, Messages, Metrics, NodeState, Performance, Repair,
    SCHEMA, Sample,
};
pub use scenario::{
    Action, LinkLayer, LinkQuality, Mode, Objective, Position, Radio, RplSettings, Scenario,
    ScenarioEvent, Topology, TopologyFile, Traffic,
};

#[cfg(test)]
mod tests;
