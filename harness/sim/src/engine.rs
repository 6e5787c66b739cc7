//! The discrete-event loop: a binary heap of timestamped events in virtual time,
//! driving one [`Node`] per simulated device.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use hilt_core::Instant;
use hilt_wire::rpl::{
    DropReason, Event, FrameKind, LinkTarget, Mop, Node, NodeConfig, RandomSource, RootConfig,
    SplitMix64, iid_of, link_local, with_iid,
};

use crate::medium::Medium;
use crate::metrics::{
    Convergence, Delivery, Drops, EndState, Messages, Metrics, NodeState, Repair, SCHEMA, Sample,
};
use crate::scenario::{Action, Mode, Objective, Position, Scenario, Topology, TopologyFile};

/// Echo identifiers telling the two traffic directions apart.
const IDENT_UP: u16 = 1;
const IDENT_DOWN: u16 = 2;
/// Quiet time for data at the end of a run.
const DRAIN: Duration = Duration::from_secs(10);

/// A scenario that cannot run as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario {scenario}: {message}")]
pub struct SimError {
    pub scenario: String,
    pub message: String,
}

/// A frame as it went on the air, for the pcapng export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    pub t_us: u64,
    pub sender: usize,
    /// The IPv6 datagram.
    pub bytes: Arc<[u8]>,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub metrics: Metrics,
    pub samples: Vec<Sample>,
    pub nodes: Vec<NodeState>,
    pub frames: Vec<CapturedFrame>,
}

#[derive(Debug, Clone)]
enum What {
    Timer(u32),
    Frame {
        to: u32,
        from: u32,
        bytes: Arc<[u8]>,
    },
    Scenario(usize),
    Up(u32),
    Down,
    Sample,
}

#[derive(Debug, Clone)]
struct Item {
    at: Instant,
    seq: u64,
    what: What,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    /// Reversed, so the max-heap pops the earliest; ties go in insertion order.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Debug)]
struct SimNode {
    core: Node,
    alive: bool,
    joined: bool,
    /// The deadline a Timer item is queued for; others are stale.
    timer: Option<Instant>,
    /// The DODAG Version it reached since the last global repair began.
    migrated: bool,
    /// Its preferred parent, as its events told.
    parent: Option<usize>,
    /// Live nodes whose preferred parent it is.
    children: u32,
}

/// A repair being watched: a scenario event and what it should lead to.
#[derive(Debug, Clone)]
struct Watch {
    repair: Repair,
    since: Instant,
    wants_detach: bool,
    wants_version: bool,
    /// A node that died: recovered once no node has it as its parent any more.
    orphaning: Option<usize>,
    /// A node that moved: recovered once its parent is within its radio range.
    moved: Option<usize>,
}

/// A running simulation.
#[derive(Debug)]
pub struct Simulation {
    scenario: Scenario,
    nodes: Vec<SimNode>,
    medium: Medium,
    root: usize,
    root_cfg: RootConfig,
    prefix: Ipv6Addr,
    heap: BinaryHeap<Item>,
    seq: u64,
    now: Instant,
    end: Instant,
    rng: SplitMix64,
    frame: Duration,
    retries: u8,
    sample_every: Duration,
    down_next: usize,
    // Measurements.
    messages: Messages,
    delivery: Delivery,
    up_hops: u64,
    down_hops: u64,
    drops: Drops,
    parent_changes: u64,
    local_repairs: u64,
    dao_failures: u64,
    violations: u64,
    violation_examples: Vec<String>,
    joined: usize,
    alive_routers: usize,
    all_joined: Option<Instant>,
    all_routes: Option<Instant>,
    watches: Vec<Watch>,
    samples: Vec<Sample>,
    events: u64,
    capture: Option<(Vec<CapturedFrame>, usize)>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn as_secs(t: Instant) -> f64 {
    t.as_micros() as f64 / 1e6
}

fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn positions(s: &Scenario, file: Option<&TopologyFile>) -> Result<(Vec<Position>, usize), String> {
    let pos = |x, y| Position { x, y };
    Ok(match &s.topology {
        Topology::Grid {
            rows,
            cols,
            spacing,
            root,
        } => {
            let p: Vec<_> = (0..rows * cols)
                .map(|i| pos((i % cols) as f64 * spacing, (i / cols) as f64 * spacing))
                .collect();
            (p, root.unwrap_or((rows / 2) * cols + cols / 2))
        }
        Topology::Line { nodes, spacing } => (
            (0..*nodes).map(|i| pos(i as f64 * spacing, 0.0)).collect(),
            0,
        ),
        Topology::Random {
            nodes,
            width,
            height,
        } => {
            let mut rng = SplitMix64::new(s.seed ^ 0x746f_706f);
            let mut p = vec![pos(width / 2.0, height / 2.0)];
            p.extend((1..*nodes).map(|_| pos(unit(&mut rng) * width, unit(&mut rng) * height)));
            (p, 0)
        }
        Topology::File { root, .. } => {
            let f = file.ok_or("a file topology needs its file read (Scenario::load)")?;
            (f.nodes.clone(), *root)
        }
    })
}

impl Simulation {
    /// Sets a scenario up; `file` is the topology file [`Scenario::load`] read, if any.
    pub fn new(scenario: &Scenario, file: Option<&TopologyFile>) -> Result<Self, SimError> {
        let err = |message: String| SimError {
            scenario: scenario.name.clone(),
            message,
        };
        let (pos, root) = positions(scenario, file).map_err(err)?;
        let n = pos.len();
        if n < 2 || root >= n {
            return Err(err(format!(
                "needs at least two nodes and a root among them ({n} nodes, root {root})"
            )));
        }
        if n >= 0xffff {
            return Err(err(format!("{n} nodes: at most 65,534")));
        }
        // Written so that NaN is refused too.
        if scenario.duration_s.partial_cmp(&0.0) != Some(Ordering::Greater) {
            return Err(err("duration_s must be positive".into()));
        }
        for e in &scenario.events {
            let bad = match e.action {
                Action::KillNode { node }
                | Action::RestartNode { node }
                | Action::MoveNode { node, .. } => node >= n,
                Action::DegradeLink { a, b, prr } => {
                    a >= n || b >= n || !(0.0..=1.0).contains(&prr)
                }
                _ => false,
            };
            if bad {
                return Err(err(format!(
                    "event at {} s names a node outside 0..{n} or a ratio outside [0, 1]",
                    e.at_s
                )));
            }
        }
        let medium = Medium::new(pos, &scenario.radio).map_err(err)?;
        let r = &scenario.rpl;
        let mut root_cfg = RootConfig::new(match r.mode {
            Mode::NonStoring => Mop::NonStoring,
            Mode::Storing => Mop::StoringWithoutMulticast,
        });
        root_cfg.dodag.dio_interval_min = r.dio_interval_min;
        root_cfg.dodag.dio_interval_doublings = r.dio_interval_doublings;
        root_cfg.dodag.dio_redundancy_constant = r.dio_redundancy;
        root_cfg.dodag.min_hop_rank_increase = r.min_hop_rank_increase.max(1);
        root_cfg.dodag.max_rank_increase = r.max_rank_increase;
        root_cfg.dodag.default_lifetime = r.default_lifetime;
        root_cfg.dodag.lifetime_unit = r.lifetime_unit_s;
        root_cfg.dodag.objective_code_point = match r.objective {
            Objective::Of0 => 0,
            Objective::Mrhof => 1,
        };
        let prefix = root_cfg.prefix;
        let node_cfg = |i: usize| {
            let mut c = NodeConfig::new(i as u64 + 1, scenario.seed.wrapping_add(i as u64 * 7919));
            c.dis_interval = secs(r.dis_interval_s);
            c.request_dao_ack = r.dao_ack;
            c
        };
        let nodes = (0..n)
            .map(|i| SimNode {
                core: if i == root {
                    Node::root(node_cfg(i), root_cfg.clone())
                } else {
                    Node::new(node_cfg(i))
                },
                alive: true,
                joined: false,
                timer: None,
                migrated: false,
                parent: None,
                children: 0,
            })
            .collect();
        let link = scenario.radio.link_layer();
        let end = Instant::ZERO + secs(scenario.duration_s);
        let sample_every = secs(
            scenario
                .sample_interval_s
                .unwrap_or(scenario.duration_s / 100.0)
                .max(0.001),
        );
        let mut sim = Simulation {
            scenario: scenario.clone(),
            nodes,
            medium,
            root,
            root_cfg,
            prefix,
            heap: BinaryHeap::new(),
            seq: 0,
            now: Instant::ZERO,
            end,
            rng: SplitMix64::new(scenario.seed),
            frame: secs(link.frame_ms / 1000.0).max(Duration::from_micros(1)),
            retries: link.retries,
            sample_every,
            down_next: 0,
            messages: Messages::default(),
            delivery: Delivery::default(),
            up_hops: 0,
            down_hops: 0,
            drops: Drops::default(),
            parent_changes: 0,
            local_repairs: 0,
            dao_failures: 0,
            violations: 0,
            violation_examples: Vec::new(),
            joined: 0,
            alive_routers: n - 1,
            all_joined: None,
            all_routes: None,
            watches: Vec::new(),
            samples: Vec::new(),
            events: 0,
            capture: None,
        };
        for (i, e) in scenario.events.iter().enumerate() {
            sim.push(Instant::ZERO + secs(e.at_s), What::Scenario(i));
        }
        let t = &scenario.traffic;
        let start = Instant::ZERO + secs(t.start_s);
        if t.up_interval_s > 0.0 {
            for i in (0..n).filter(|&i| i != root) {
                let phase = secs(unit(&mut sim.rng) * t.up_interval_s);
                sim.push(start + phase, What::Up(i as u32));
            }
        }
        if t.down_interval_s > 0.0 {
            sim.push(start, What::Down);
        }
        sim.push(Instant::ZERO, What::Sample);
        for i in 0..n {
            sim.nodes[i].core.start(Instant::ZERO);
            sim.settle(i);
        }
        Ok(sim)
    }

    /// Keeps up to `limit` frames sent, for a pcapng export.
    pub fn capture(&mut self, limit: usize) {
        self.capture = Some((Vec::new(), limit));
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn end(&self) -> Instant {
        self.end
    }

    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// Nodes other than the root that have a parent, and those alive.
    pub fn joined(&self) -> (usize, usize) {
        (self.joined, self.alive_routers)
    }

    fn push(&mut self, at: Instant, what: What) {
        self.seq += 1;
        self.heap.push(Item {
            at,
            seq: self.seq,
            what,
        });
    }

    /// Runs every event up to `until` (at most the scenario's end).
    pub fn run_until(&mut self, until: Instant) {
        let until = until.min(self.end);
        while let Some(top) = self.heap.peek() {
            if top.at > until {
                break;
            }
            let Some(item) = self.heap.pop() else { break };
            self.now = item.at;
            self.events += 1;
            self.dispatch(item);
            self.check_watches();
        }
        self.now = self.now.max(until);
    }

    fn dispatch(&mut self, item: Item) {
        let at = item.at;
        match item.what {
            What::Timer(i) => {
                let i = i as usize;
                let n = &mut self.nodes[i];
                if n.timer != Some(at) || !n.alive {
                    return;
                }
                n.timer = None;
                n.core.handle_timeout(at);
                self.settle(i);
            }
            What::Frame { to, from, bytes } => {
                let to = to as usize;
                if !self.nodes[to].alive {
                    return;
                }
                let from_ll = link_local(u64::from(from) + 1);
                self.nodes[to].core.handle_input(at, from_ll, &bytes);
                self.settle(to);
            }
            What::Scenario(k) => self.scenario_event(k),
            What::Up(i) => {
                let i = i as usize;
                if self.nodes[i].alive && self.in_traffic_window() {
                    self.delivery.up_sent += 1;
                    let dst = with_iid(self.prefix, self.root as u64 + 1);
                    let seq = self.delivery.up_sent as u16;
                    self.nodes[i].core.send_ping(at, dst, IDENT_UP, seq);
                    self.settle(i);
                }
                let every = secs(self.scenario.traffic.up_interval_s);
                self.push(at + every, What::Up(i as u32));
            }
            What::Down => {
                let n = self.nodes.len();
                let target = (0..n)
                    .map(|k| (self.down_next + k) % n)
                    .find(|&k| k != self.root && self.nodes[k].alive);
                if let Some(k) = target {
                    self.down_next = k + 1;
                    if self.nodes[self.root].alive && self.in_traffic_window() {
                        self.delivery.down_sent += 1;
                        let dst = with_iid(self.prefix, k as u64 + 1);
                        let seq = self.delivery.down_sent as u16;
                        self.nodes[self.root]
                            .core
                            .send_ping(at, dst, IDENT_DOWN, seq);
                        self.settle(self.root);
                    }
                }
                let routers = (n - 1).max(1) as f64;
                let every = secs(self.scenario.traffic.down_interval_s / routers);
                self.push(at + every.max(Duration::from_micros(1)), What::Down);
            }
            What::Sample => {
                self.sample();
                let next = at + self.sample_every;
                if next <= self.end {
                    self.push(next, What::Sample);
                }
            }
        }
    }

    /// No new data in the last [`DRAIN`] of a run: what is still in flight at the end
    /// would count as lost.
    fn in_traffic_window(&self) -> bool {
        self.now + DRAIN <= self.end
    }

    fn sample(&mut self) {
        self.samples.push(Sample {
            t_s: as_secs(self.now),
            joined: self.joined,
            alive: self.alive_routers,
            messages: self.messages,
            up_delivered: self.delivery.up_delivered,
            down_delivered: self.delivery.down_delivered,
        });
    }

    /// Takes what node `i` wants to send and report, and queues its next deadline.
    fn settle(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].core.poll_transmit() {
            self.transmit(i, t);
        }
        while let Some(e) = self.nodes[i].core.poll_event() {
            self.on_event(i, e);
        }
        let next = self.nodes[i].core.poll_timeout();
        if next != self.nodes[i].timer {
            self.nodes[i].timer = next;
            if let Some(t) = next {
                self.push(t.max(self.now), What::Timer(i as u32));
            }
        }
    }

    fn transmit(&mut self, i: usize, t: hilt_wire::rpl::Transmit) {
        let m = &mut self.messages;
        match t.kind {
            FrameKind::Dio => m.dio += 1,
            FrameKind::Dis => m.dis += 1,
            FrameKind::Dao => m.dao += 1,
            FrameKind::DaoAck => m.dao_ack += 1,
            FrameKind::Data => m.data += 1,
        }
        let bytes: Arc<[u8]> = t.bytes.into();
        if let Some((frames, limit)) = self.capture.as_mut()
            && frames.len() < *limit
        {
            frames.push(CapturedFrame {
                t_us: self.now.as_micros(),
                sender: i,
                bytes: bytes.clone(),
            });
        }
        match t.to {
            LinkTarget::Broadcast => {
                let arrive = self.now + self.frame;
                for k in 0..self.medium.neighbors(i).len() {
                    let (j, prr) = self.medium.neighbors(i)[k];
                    if self.nodes[j as usize].alive && unit(&mut self.rng) < prr {
                        self.push(
                            arrive,
                            What::Frame {
                                to: j,
                                from: i as u32,
                                bytes: bytes.clone(),
                            },
                        );
                    }
                }
            }
            LinkTarget::Neighbor(ll) => {
                let j = (iid_of(ll) as usize).wrapping_sub(1);
                let prr = if j < self.nodes.len() && self.nodes[j].alive {
                    self.medium.prr(i, j).unwrap_or(0.0)
                } else {
                    0.0
                };
                let mut attempts = 0u8;
                let mut acked = false;
                while attempts <= self.retries && !acked {
                    attempts += 1;
                    acked = unit(&mut self.rng) < prr;
                }
                if acked {
                    let arrive = self.now + self.frame * u32::from(attempts);
                    self.push(
                        arrive,
                        What::Frame {
                            to: j as u32,
                            from: i as u32,
                            bytes,
                        },
                    );
                }
                let now = self.now;
                self.nodes[i]
                    .core
                    .handle_link_feedback(now, ll, attempts, acked);
            }
        }
    }

    fn on_event(&mut self, i: usize, e: Event) {
        let is_root = i == self.root;
        match e {
            Event::Joined { .. } if !is_root => {
                if !self.nodes[i].joined {
                    self.nodes[i].joined = true;
                    self.joined += 1;
                }
                self.note_version(i);
                if self.all_joined.is_none() && self.joined == self.alive_routers {
                    self.all_joined = Some(self.now);
                }
            }
            Event::LocalRepair { .. } => {
                self.local_repairs += 1;
                if self.nodes[i].joined {
                    self.nodes[i].joined = false;
                    self.joined -= 1;
                }
            }
            Event::GlobalRepair { .. } => self.note_version(i),
            Event::ParentChanged { old, new } => {
                if old.is_some() && new.is_some() {
                    self.parent_changes += 1;
                }
                let index = |a: Ipv6Addr| (iid_of(a) as usize).wrapping_sub(1);
                self.set_parent(i, new.map(index).filter(|&p| p < self.nodes.len()));
            }
            Event::DaoFailed { .. } => self.dao_failures += 1,
            Event::RouteAdded { .. } if is_root => self.check_routes(),
            Event::Delivered {
                ident: IDENT_UP,
                hops,
                ..
            } if is_root => {
                self.delivery.up_delivered += 1;
                self.up_hops += u64::from(hops);
                self.delivery.up_hops_max = self.delivery.up_hops_max.max(hops);
            }
            Event::Delivered {
                ident: IDENT_DOWN,
                hops,
                ..
            } if !is_root => {
                self.delivery.down_delivered += 1;
                self.down_hops += u64::from(hops);
                self.delivery.down_hops_max = self.delivery.down_hops_max.max(hops);
            }
            Event::Dropped { reason, .. } => match reason {
                DropReason::NoRoute => self.drops.no_route += 1,
                DropReason::Loop => self.drops.loop_detected += 1,
                DropReason::HopLimit => self.drops.hop_limit += 1,
            },
            Event::Violation { rule, detail, .. } => {
                self.violations += 1;
                if self.violation_examples.len() < 20 {
                    self.violation_examples
                        .push(format!("node {i}: [{}] {detail}", rule.id));
                }
            }
            _ => {}
        }
    }

    fn set_parent(&mut self, i: usize, parent: Option<usize>) {
        if let Some(p) = self.nodes[i].parent {
            self.nodes[p].children = self.nodes[p].children.saturating_sub(1);
        }
        if let Some(p) = parent {
            self.nodes[p].children += 1;
        }
        self.nodes[i].parent = parent;
    }

    fn note_version(&mut self, i: usize) {
        let root_version = self.nodes[self.root].core.version();
        if root_version.is_some() && self.nodes[i].core.version() == root_version {
            self.nodes[i].migrated = true;
        }
    }

    /// The root has a route to every live node (Non-Storing: a whole source route).
    fn check_routes(&mut self) {
        if self.all_routes.is_some() {
            return;
        }
        let root = &self.nodes[self.root].core;
        if root.routes().count() < self.alive_routers {
            return;
        }
        let non_storing = self.root_cfg.mop == Mop::NonStoring;
        let complete = (0..self.nodes.len())
            .filter(|&k| k != self.root && self.nodes[k].alive)
            .all(|k| {
                let target = with_iid(self.prefix, k as u64 + 1);
                if non_storing {
                    root.source_route(target).is_some()
                } else {
                    root.routes().any(|(t, _)| t == target)
                }
            });
        if complete {
            self.all_routes = Some(self.now);
        }
    }

    fn scenario_event(&mut self, k: usize) {
        let e = self.scenario.events[k].clone();
        let now = self.now;
        let mut watch = Watch {
            repair: Repair {
                at_s: as_secs(now),
                action: format!("{:?}", e.action),
                recovered_after_s: None,
                all_detached_after_s: None,
            },
            since: now,
            wants_detach: false,
            wants_version: false,
            orphaning: None,
            moved: None,
        };
        match e.action {
            Action::KillRoot => {
                let r = self.root;
                self.kill(r);
                watch.wants_detach = true;
            }
            Action::RestartRoot => {
                let r = self.root;
                self.restart(r);
            }
            Action::KillNode { node } => {
                self.kill(node);
                watch.orphaning = Some(node);
            }
            Action::RestartNode { node } => self.restart(node),
            Action::MoveNode { node, x, y } => {
                self.medium.move_node(node, Position { x, y });
                watch.moved = Some(node);
            }
            Action::DegradeLink { a, b, prr } => self.medium.degrade(a, b, prr),
            Action::GlobalRepair => {
                for n in &mut self.nodes {
                    n.migrated = false;
                }
                let r = self.root;
                self.nodes[r].core.global_repair(now);
                self.settle(r);
                watch.wants_version = true;
            }
        }
        self.watches.push(watch);
    }

    fn kill(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if !n.alive {
            return;
        }
        n.core.kill();
        n.alive = false;
        n.timer = None;
        if i != self.root {
            self.alive_routers -= 1;
            if n.joined {
                self.joined -= 1;
            }
        }
        n.joined = false;
        self.set_parent(i, None);
    }

    fn restart(&mut self, i: usize) {
        if self.nodes[i].alive {
            return;
        }
        self.nodes[i].alive = true;
        if i != self.root {
            self.alive_routers += 1;
        }
        self.nodes[i].core.start(self.now);
        self.settle(i);
    }

    fn check_watches(&mut self) {
        if self.watches.is_empty() {
            return;
        }
        let root_alive = self.nodes[self.root].alive;
        let all_migrated = || {
            self.nodes
                .iter()
                .enumerate()
                .all(|(k, n)| k == self.root || !n.alive || n.migrated)
        };
        let now = self.now;
        let mut updates = Vec::new();
        for (w_i, w) in self.watches.iter().enumerate() {
            let after = as_secs(now) - as_secs(w.since);
            if w.wants_detach && w.repair.all_detached_after_s.is_none() && self.joined == 0 {
                updates.push((w_i, true, after));
            }
            if w.repair.recovered_after_s.is_none()
                && !w.wants_detach
                && root_alive
                && self.joined == self.alive_routers
                && (!w.wants_version || all_migrated())
                && w.orphaning.is_none_or(|d| self.nodes[d].children == 0)
                && w.moved.is_none_or(|m| {
                    self.nodes[m]
                        .parent
                        .is_some_and(|p| self.medium.prr(m, p).is_some())
                })
            {
                updates.push((w_i, false, after));
            }
        }
        for (w_i, detach, after) in updates {
            let r = &mut self.watches[w_i].repair;
            if detach {
                r.all_detached_after_s = Some(after);
            } else {
                r.recovered_after_s = Some(after);
            }
        }
    }

    /// Runs to the end and gathers the results.
    pub fn finish(mut self) -> Outcome {
        let end = self.end;
        self.run_until(end);
        if self.samples.last().is_none_or(|s| s.t_s < as_secs(end)) {
            self.sample();
        }
        let nodes = self.node_states();
        let depth_of = |mut k: usize| -> Option<usize> {
            let mut d = 0;
            while !nodes[k].root {
                k = nodes[k].parent?;
                d += 1;
                if d > nodes.len() {
                    return None;
                }
            }
            Some(d)
        };
        let mut max_depth = 0;
        let mut nodes_in_loops = 0;
        for k in 0..nodes.len() {
            if !nodes[k].alive || nodes[k].parent.is_none() {
                continue;
            }
            match depth_of(k) {
                Some(d) => max_depth = max_depth.max(d),
                None if self.chain_loops(&nodes, k) => nodes_in_loops += 1,
                None => {}
            }
        }
        let d = &mut self.delivery;
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        d.up_ratio = ratio(d.up_delivered, d.up_sent);
        d.down_ratio = ratio(d.down_delivered, d.down_sent);
        d.up_hops_mean = ratio(self.up_hops, d.up_delivered);
        d.down_hops_mean = ratio(self.down_hops, d.down_delivered);
        let s = &self.scenario;
        let metrics = Metrics {
            schema: SCHEMA.into(),
            scenario: s.name.clone(),
            seed: s.seed,
            nodes: self.nodes.len(),
            duration_s: s.duration_s,
            mode: format!("{:?}", s.rpl.mode),
            objective: format!("{:?}", s.rpl.objective),
            convergence: Convergence {
                all_joined_s: self.all_joined.map(as_secs),
                all_routes_s: self.all_routes.map(as_secs),
            },
            messages: self.messages,
            delivery: self.delivery,
            parent_changes: self.parent_changes,
            local_repairs: self.local_repairs,
            dao_failures: self.dao_failures,
            drops: self.drops,
            violations: self.violations,
            violation_examples: self.violation_examples.clone(),
            repairs: self.watches.iter().map(|w| w.repair.clone()).collect(),
            end: EndState {
                alive: nodes.iter().filter(|n| n.alive).count(),
                joined: self.joined,
                max_rank: nodes
                    .iter()
                    .filter(|n| n.alive && n.parent.is_some())
                    .map(|n| n.rank)
                    .max()
                    .unwrap_or(0),
                max_depth,
                nodes_in_loops,
            },
            events: self.events,
        };
        Outcome {
            metrics,
            samples: self.samples,
            nodes,
            frames: self.capture.map(|c| c.0).unwrap_or_default(),
        }
    }

    /// Whether following parents from `k` comes back to `k` itself.
    fn chain_loops(&self, nodes: &[NodeState], k: usize) -> bool {
        let mut at = k;
        for _ in 0..nodes.len() {
            match nodes[at].parent {
                Some(p) if p == k => return true,
                Some(p) => at = p,
                None => return false,
            }
        }
        false
    }

    /// Each node's position, Rank and parent now.
    pub fn node_states(&self) -> Vec<NodeState> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(k, n)| NodeState {
                id: k,
                x: self.medium.pos[k].x,
                y: self.medium.pos[k].y,
                root: k == self.root,
                alive: n.alive,
                rank: n.core.rank(),
                parent: n
                    .core
                    .preferred_parent()
                    .map(|p| (iid_of(p) as usize).wrapping_sub(1))
                    .filter(|&p| p < self.nodes.len()),
            })
            .collect()
    }
}

/// Runs a scenario from start to end.
pub fn run(scenario: &Scenario, file: Option<&TopologyFile>) -> Result<Outcome, SimError> {
    Ok(Simulation::new(scenario, file)?.finish())
}
