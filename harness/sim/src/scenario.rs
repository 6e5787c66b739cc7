//! Scenario files: what to simulate, as YAML (see `suites/rpl/scenarios/`).

use std::path::{Path, PathBuf};

use hilt_core::datafile::{DataFileError, read_yaml};
use serde::{Deserialize, Serialize};

/// One simulation: nodes, radio, RPL settings, traffic and what happens when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Same seed, same run.
    pub seed: u64,
    /// Simulated time, seconds.
    pub duration_s: f64,
    pub topology: Topology,
    pub radio: Radio,
    #[serde(default)]
    pub rpl: RplSettings,
    #[serde(default)]
    pub traffic: Traffic,
    #[serde(default)]
    pub events: Vec<ScenarioEvent>,
    /// Seconds between samples of the metrics over time; default: 1/100 of the run.
    #[serde(default)]
    pub sample_interval_s: Option<f64>,
}

/// Where the nodes are. Node 0.. are numbered in the order given; `root` picks the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Topology {
    /// `rows` × `cols` nodes `spacing` metres apart, numbered row by row.
    Grid {
        rows: usize,
        cols: usize,
        spacing: f64,
        /// Index of the root; default: the node nearest the centre.
        #[serde(default)]
        root: Option<usize>,
    },
    /// `nodes` in a row, `spacing` apart; the root is node 0.
    Line { nodes: usize, spacing: f64 },
    /// `nodes` placed uniformly at random (from the seed) in a `width` × `height` area;
    /// the root at the centre.
    Random {
        nodes: usize,
        width: f64,
        height: f64,
    },
    /// Positions (and, for a link-graph radio, links) from a YAML file, relative to the
    /// scenario's folder.
    File {
        path: PathBuf,
        #[serde(default)]
        root: usize,
    },
}

/// The radio medium.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Radio {
    /// Nodes within `range` hear each other; the chance a frame is lost grows with the
    /// square of the distance, up to `loss_at_edge` at the range's edge.
    UnitDisk {
        range: f64,
        #[serde(default)]
        loss_at_edge: f64,
        #[serde(default)]
        link: LinkLayer,
    },
    /// Exactly the links listed (symmetric), each with its packet reception ratio.
    Links {
        links: Vec<LinkQuality>,
        #[serde(default)]
        link: LinkLayer,
    },
}

impl Radio {
    pub fn link_layer(&self) -> &LinkLayer {
        match self {
            Radio::UnitDisk { link, .. } | Radio::Links { link, .. } => link,
        }
    }
}

/// A link of the explicit graph: nodes `a` and `b` and the ratio of frames received.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkQuality {
    pub a: usize,
    pub b: usize,
    pub prr: f64,
}

/// The MAC as the simulator models it: a frame takes `frame_ms` on the air; a unicast is
/// retried up to `retries` times until acknowledged (acknowledgements are not lost);
/// broadcasts are sent once. No collisions are modelled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkLayer {
    #[serde(default = "default_frame_ms")]
    pub frame_ms: f64,
    #[serde(default = "default_retries")]
    pub retries: u8,
}

fn default_frame_ms() -> f64 {
    4.0
}

fn default_retries() -> u8 {
    3
}

impl Default for LinkLayer {
    fn default() -> Self {
        LinkLayer {
            frame_ms: default_frame_ms(),
            retries: default_retries(),
        }
    }
}

/// The Mode of Operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    NonStoring,
    Storing,
}

/// The objective function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    #[default]
    Of0,
    Mrhof,
}

/// The DODAG's settings; defaults are RFC 6550 §17's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RplSettings {
    pub mode: Mode,
    pub objective: Objective,
    /// DIOIntervalMin: Imin = 2^this ms.
    pub dio_interval_min: u8,
    pub dio_interval_doublings: u8,
    pub dio_redundancy: u8,
    pub min_hop_rank_increase: u16,
    /// DAGMaxRankIncrease, in Rank units; 0 disables the limit.
    pub max_rank_increase: u16,
    /// Route lifetime in units of `lifetime_unit_s`.
    pub default_lifetime: u8,
    pub lifetime_unit_s: u16,
    pub dis_interval_s: f64,
    pub dao_ack: bool,
}

impl Default for RplSettings {
    fn default() -> Self {
        RplSettings {
            mode: Mode::NonStoring,
            objective: Objective::Of0,
            dio_interval_min: 3,
            dio_interval_doublings: 20,
            dio_redundancy: 10,
            min_hop_rank_increase: 256,
            max_rank_increase: 7 * 256,
            default_lifetime: 30,
            lifetime_unit_s: 60,
            dis_interval_s: 10.0,
            dao_ack: true,
        }
    }
}

/// Data: every node sends an Echo Request up to the root every `up_interval_s`; the root
/// sends one down to each node in turn, `down_interval_s` apart per node. Nothing before
/// `start_s`; 0 switches a direction off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Traffic {
    pub start_s: f64,
    pub up_interval_s: f64,
    pub down_interval_s: f64,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            start_s: 60.0,
            up_interval_s: 0.0,
            down_interval_s: 0.0,
        }
    }
}

/// Something that happens to the network at a given time.
// No deny_unknown_fields: serde cannot combine it with the flattened action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioEvent {
    pub at_s: f64,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The root loses power: its state is gone.
    KillRoot,
    /// The root comes back, starting afresh (its initial Version).
    RestartRoot,
    KillNode {
        node: usize,
    },
    RestartNode {
        node: usize,
    },
    /// Moves a node (unit-disk radio: its links follow).
    MoveNode {
        node: usize,
        x: f64,
        y: f64,
    },
    /// Sets the reception ratio of the link between `a` and `b` (both ways).
    DegradeLink {
        a: usize,
        b: usize,
        prr: f64,
    },
    /// The root increments the DODAG Version.
    GlobalRepair,
}

/// Node positions (and links) as a topology file holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    pub nodes: Vec<Position>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

impl Scenario {
    /// Reads a scenario file; a file topology is read relative to it.
    pub fn load(path: &Path) -> Result<(Scenario, Option<TopologyFile>), DataFileError> {
        let s: Scenario = read_yaml(path)?;
        let file = match &s.topology {
            Topology::File { path: p, .. } => {
                let base = path.parent().unwrap_or(Path::new("."));
                Some(read_yaml(&base.join(p))?)
            }
            _ => None,
        };
        Ok((s, file))
    }
}
