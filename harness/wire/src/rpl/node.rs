//! The RPL node and root (RFC 6550) as one sans-IO state machine.
//!
//! A [`Node`] is a router that joins a DODAG, or, built with [`Node::root`], the root
//! that forms one. The driver hands it link frames with [`Node::handle_input`], the time
//! with [`Node::handle_timeout`], link-layer acknowledgement results with
//! [`Node::handle_link_feedback`], and collects frames ([`Node::poll_transmit`]), its next
//! deadline ([`Node::poll_timeout`]) and what happened ([`Node::poll_event`]). Frames are
//! whole IPv6 datagrams; a neighbour is named by its link-local address, whose interface
//! identifier is also the one of its global address (6LoWPAN's stateless derivation), so
//! a next hop's link-layer identity follows from its address.
//!
//! What it does, by RFC 6550 section:
//! - §8.2.1, §8.2.2.3, §8.3: joins on a DIO (after soliciting with a DIS while alone),
//!   answers a multicast DIS by resetting Trickle and a unicast one with a unicast DIO;
//! - §8.2.2.4, RFC 6552, RFC 6719: picks the preferred parent through OF0 or MRHOF (the
//!   DODAG Configuration's OCP), never a candidate that would raise its Rank above
//!   L + DAGMaxRankIncrease, and never one of greater or equal DAGRank than the Rank it
//!   takes;
//! - §7.2, §8.2.2.1, §9.6: Version and DTSN as lollipop counters; a newer Version from
//!   the root's side is a global repair (parents chosen anew in it), a newer DTSN from
//!   the parent asks for DAOs (and is passed on in Non-Storing mode);
//! - §8.2.2.5, §8.2.2.6: local repair: losing every parent detaches the node, which
//!   poisons (advertises INFINITE_RANK) and then rejoins only through a neighbour ranked
//!   below where it was in that Version, so never through its own sub-DODAG;
//! - §9: DAOs (to the root with the parent in Transit Information in Non-Storing mode,
//!   to the parent in Storing mode), DAO-ACK and retransmission, No-Path DAOs on a
//!   parent change, route lifetimes from the DODAG Configuration, refreshes;
//! - §11.2, RFC 6553, RFC 6554: forwarding with the RPL Option's loop detection, and at
//!   the root, source routes computed from the Transit Information it collected.
//!
//! Peers' protocol violations are events naming the rule ([`Event::Violation`]).

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv6Addr;
use std::time::Duration;

use hilt_core::{Instant, SpecRef};

use super::error::Violation;
use super::hbh::{HopByHop, HopOption};
use super::ipv6::ALL_RPL_NODES;
use super::message::{Dio, Dis, Mop, RplMessage};
use super::objective::{Candidate, Mrhof, Of0};
use super::options::{DodagConfiguration, PrefixInformation, RplOption};
use super::packet::{Datagram, Payload};
use super::rank::{INFINITE_RANK, Rank, SequenceCounter};
use super::rules::Rule;
use super::trickle::{RandomSource, SplitMix64, Trickle};

/// ICMPv6 Echo Request: the data the simulator and tests send through the DODAG.
pub const ECHO_REQUEST: u8 = 128;
/// The hop limit data starts with; hops travelled are read back from it.
pub const DATA_HOP_LIMIT: u8 = 64;
/// DIOs a detached node sends with INFINITE_RANK before it goes quiet (§8.2.2.5 asks
/// for "a few").
const POISON_DIOS: u64 = 3;
/// ETX of a neighbour heard but never unicast to: 2, a cautious guess.
const INITIAL_ETX: u16 = 256;

/// A node's own settings (the DODAG's come from its root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// Interface identifier: the node is fe80::iid on the link and prefix::iid globally.
    pub iid: u64,
    /// Seeds Trickle and the other jitter, so a run repeats.
    pub seed: u64,
    /// Interval between DISes while the node has no parent.
    pub dis_interval: Duration,
    /// DelayDAO (§9.5, default 1 s): DAOs wait this long to aggregate changes.
    pub dao_delay: Duration,
    /// Ask for DAO-ACKs (the K flag).
    pub request_dao_ack: bool,
    /// Time to wait for a DAO-ACK before sending the DAO again.
    pub dao_ack_timeout: Duration,
    /// Retransmissions of an unacknowledged DAO before giving up on it.
    pub dao_retries: u8,
    /// Consecutive unacknowledged unicasts after which a neighbour counts as gone.
    pub max_link_failures: u8,
}

impl NodeConfig {
    pub fn new(iid: u64, seed: u64) -> Self {
        NodeConfig {
            iid,
            seed,
            dis_interval: Duration::from_secs(10),
            dao_delay: Duration::from_secs(1),
            request_dao_ack: true,
            dao_ack_timeout: Duration::from_secs(2),
            dao_retries: 3,
            max_link_failures: 3,
        }
    }
}

/// What a root announces for its DODAG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootConfig {
    pub instance_id: u8,
    /// The /64 the nodes configure their addresses from (Prefix Information, A flag).
    pub prefix: Ipv6Addr,
    pub version: SequenceCounter,
    pub mop: Mop,
    pub grounded: bool,
    pub preference: u8,
    /// Trickle, Rank and lifetime settings, carried unchanged down the DODAG.
    pub dodag: DodagConfiguration,
}

impl RootConfig {
    /// A Non-Storing, grounded DODAG on 2001:db8::/64 with RFC 6550's defaults, route
    /// lifetimes of 30 minutes.
    pub fn new(mop: Mop) -> Self {
        RootConfig {
            instance_id: 0,
            prefix: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
            version: SequenceCounter::initial(),
            mop,
            grounded: true,
            preference: 0,
            dodag: DodagConfiguration {
                default_lifetime: 30,
                lifetime_unit: 60,
                ..DodagConfiguration::default()
            },
        }
    }
}

/// Where a frame goes on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkTarget {
    /// Every neighbour (link-local multicast, ff02::1a for RPL).
    Broadcast,
    /// One neighbour, by its link-local address.
    Neighbor(Ipv6Addr),
}

/// What a frame carries, for the driver's accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FrameKind {
    Dis,
    Dio,
    Dao,
    DaoAck,
    Data,
}

/// A frame to put on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: LinkTarget,
    pub kind: FrameKind,
    /// The IPv6 datagram.
    pub bytes: Vec<u8>,
}

/// Why a datagram was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// No parent to send it up, no route to send it down.
    NoRoute,
    /// A Rank error seen twice (RFC 6550 §11.2.2.2) or a looping source route.
    Loop,
    HopLimit,
}

impl DropReason {
    /// The rule that calls for the drop, where one does.
    pub fn rule(self) -> Option<SpecRef> {
        match self {
            DropReason::Loop => Some(Rule::RankError.spec_ref()),
            DropReason::NoRoute | DropReason::HopLimit => None,
        }
    }
}

/// What happened, for metrics, logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The node has a preferred parent in a DODAG (again).
    Joined {
        dodag_id: Ipv6Addr,
        version: u8,
        rank: u16,
        parent: Ipv6Addr,
    },
    ParentChanged {
        old: Option<Ipv6Addr>,
        new: Option<Ipv6Addr>,
    },
    RankChanged {
        old: u16,
        new: u16,
    },
    /// The node lost every parent and detached, poisoning (§8.2.2.5).
    LocalRepair {
        rank_before: u16,
    },
    /// The node moved to a new DODAG Version; at the root, the root started one.
    GlobalRepair {
        version: u8,
    },
    DaoAcknowledged {
        sequence: u8,
        status: u8,
    },
    /// No DAO-ACK came after every retransmission.
    DaoFailed {
        sequence: u8,
    },
    /// A downward route appeared (root: source-route entry; Storing mode: next hop).
    RouteAdded {
        target: Ipv6Addr,
    },
    RouteRemoved {
        target: Ipv6Addr,
        expired: bool,
    },
    /// An Echo Request reached this node.
    Delivered {
        src: Ipv6Addr,
        ident: u16,
        seq: u16,
        hops: u8,
    },
    Dropped {
        dst: Ipv6Addr,
        reason: DropReason,
    },
    /// A peer broke a rule: a malformed datagram or a behaviour RFC 6550 forbids.
    Violation {
        from: Ipv6Addr,
        rule: SpecRef,
        detail: String,
    },
}

/// The DODAG the node belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dodag {
    pub instance_id: u8,
    pub dodag_id: Ipv6Addr,
    pub version: SequenceCounter,
    pub mop: Mop,
    pub grounded: bool,
    pub preference: u8,
    pub config: DodagConfiguration,
    pub prefix: Option<PrefixInformation>,
    /// This node's DTSN.
    pub dtsn: SequenceCounter,
}

impl Dodag {
    fn same(&self, dio: &Dio) -> bool {
        dio.instance_id == self.instance_id && dio.dodag_id == self.dodag_id
    }

    pub fn mhri(&self) -> u16 {
        self.config.min_hop_rank_increase.max(1)
    }

    pub fn rank(&self, value: u16) -> Rank {
        Rank::new(value, self.mhri())
    }

    /// A route's lifetime from the DODAG Configuration; `None` for infinite.
    pub fn lifetime(&self, units: u8) -> Option<Duration> {
        (units != 0xff)
            .then(|| Duration::from_secs(u64::from(units) * u64::from(self.config.lifetime_unit)))
    }
}

/// A neighbour heard in a DIO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Neighbor {
    pub link_local: Ipv6Addr,
    /// From its Prefix Information with the R flag, if it sent one.
    pub global: Option<Ipv6Addr>,
    pub instance_id: u8,
    pub dodag_id: Ipv6Addr,
    pub version: SequenceCounter,
    pub rank: u16,
    pub dtsn: u8,
    pub grounded: bool,
    pub preference: u8,
    /// Link ETX in 1/128 units, an average of link-layer attempts.
    pub etx: u16,
    pub failures: u8,
    /// The lowest Rank it advertised in `version`, for the DAGMaxRankIncrease check.
    pub lowest_rank: u16,
}

/// What a detached node remembers so it never rejoins below itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Detached {
    pub version: SequenceCounter,
    pub rank: u16,
}

/// A DAO waiting for its DAO-ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingDao {
    pub sequence: u8,
    pub to: Ipv6Addr,
    pub bytes: Vec<u8>,
    pub retries_left: u8,
    pub deadline: Instant,
}

/// A downward route: Storing mode's next hop, or the root's Non-Storing parent entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Route {
    /// Storing: the child's link-local address; Non-Storing (root): the target's parent.
    pub via: Ipv6Addr,
    pub path_sequence: SequenceCounter,
    pub expires: Option<Instant>,
}

/// An RPL router or root.
#[derive(Debug, Clone)]
pub struct Node {
    pub(super) cfg: NodeConfig,
    pub(super) link_local: Ipv6Addr,
    pub(super) root: Option<RootConfig>,
    pub(super) dodag: Option<Dodag>,
    pub(super) neighbors: Vec<Neighbor>,
    pub(super) preferred: Option<Ipv6Addr>,
    pub(super) rank: u16,
    /// L of §8.2.2.4: the lowest Rank advertised in this Version.
    pub(super) lowest_rank: u16,
    pub(super) detached: Option<Detached>,
    pub(super) poison_dios_at_detach: u64,
    pub(super) trickle: Option<Trickle>,
    pub(super) rng: SplitMix64,
    pub(super) dis_at: Option<Instant>,
    pub(super) dao_at: Option<Instant>,
    pub(super) dao_refresh_at: Option<Instant>,
    pub(super) dao_sequence: SequenceCounter,
    pub(super) path_sequence: SequenceCounter,
    pub(super) pending_daos: Vec<PendingDao>,
    pub(super) routes: BTreeMap<Ipv6Addr, Route>,
    pub(super) route_sweep_at: Option<Instant>,
    pub(super) transmits: VecDeque<Transmit>,
    pub(super) events: VecDeque<Event>,
    pub(super) started: bool,
}

/// fe80::iid.
pub fn link_local(iid: u64) -> Ipv6Addr {
    with_iid(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), iid)
}

/// The /64 of `prefix` with `iid` as its interface identifier.
pub fn with_iid(prefix: Ipv6Addr, iid: u64) -> Ipv6Addr {
    let p = u128::from(prefix) & !u128::from(u64::MAX);
    Ipv6Addr::from(p | u128::from(iid))
}

/// The interface identifier (low 64 bits) of an address.
pub fn iid_of(addr: Ipv6Addr) -> u64 {
    u128::from(addr) as u64
}

impl Node {
    /// A router that will look for a DODAG once started.
    pub fn new(cfg: NodeConfig) -> Self {
        Node {
            link_local: link_local(cfg.iid),
            rng: SplitMix64::new(cfg.seed ^ 0x6e6f_6465),
            cfg,
            root: None,
            dodag: None,
            neighbors: Vec::new(),
            preferred: None,
            rank: INFINITE_RANK,
            lowest_rank: INFINITE_RANK,
            detached: None,
            poison_dios_at_detach: 0,
            trickle: None,
            dis_at: None,
            dao_at: None,
            dao_refresh_at: None,
            dao_sequence: SequenceCounter::initial(),
            path_sequence: SequenceCounter::initial(),
            pending_daos: Vec::new(),
            routes: BTreeMap::new(),
            route_sweep_at: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            started: false,
        }
    }

    /// A DODAG root: ROOT_RANK, DODAGID its global address.
    pub fn root(cfg: NodeConfig, root: RootConfig) -> Self {
        let mut n = Node::new(cfg);
        n.root = Some(root);
        n
    }

    /// Starts the node at `now`: a root begins its DIOs, a router schedules a DIS.
    pub fn start(&mut self, now: Instant) {
        self.started = true;
        if let Some(r) = self.root.clone() {
            let dodag_id = with_iid(r.prefix, self.cfg.iid);
            self.dodag = Some(Dodag {
                instance_id: r.instance_id,
                dodag_id,
                version: r.version,
                mop: r.mop,
                grounded: r.grounded,
                preference: r.preference,
                config: r.dodag,
                prefix: Some(PrefixInformation {
                    prefix_len: 64,
                    on_link: false,
                    autonomous: true,
                    router_address: true,
                    reserved1: 0,
                    valid_lifetime: u32::MAX,
                    preferred_lifetime: u32::MAX,
                    reserved2: 0,
                    prefix: dodag_id,
                }),
                dtsn: SequenceCounter::initial(),
            });
            self.rank = r.dodag.min_hop_rank_increase.max(1);
            self.lowest_rank = self.rank;
            self.start_trickle(now);
        } else {
            let first = self.jitter(self.cfg.dis_interval / 2, self.cfg.dis_interval);
            self.dis_at = Some(now + first);
        }
    }

    pub fn is_root(&self) -> bool {
        self.root.is_some()
    }

    /// Whether the node is part of a DODAG: the root, or a router with a parent.
    pub fn is_joined(&self) -> bool {
        self.started && (self.is_root() || self.preferred.is_some())
    }

    pub fn rank(&self) -> u16 {
        self.rank
    }

    pub fn link_local(&self) -> Ipv6Addr {
        self.link_local
    }

    /// The global address, once the node knows its DODAG's prefix.
    pub fn global(&self) -> Option<Ipv6Addr> {
        let d = self.dodag.as_ref()?;
        let prefix = d.prefix.map_or(d.dodag_id, |p| p.prefix);
        Some(with_iid(prefix, self.cfg.iid))
    }

    /// The preferred parent's link-local address.
    pub fn preferred_parent(&self) -> Option<Ipv6Addr> {
        self.preferred
    }

    /// The DODAG Version the node is in.
    pub fn version(&self) -> Option<u8> {
        self.dodag.as_ref().map(|d| d.version.0)
    }

    pub fn dodag_id(&self) -> Option<Ipv6Addr> {
        self.dodag.as_ref().map(|d| d.dodag_id)
    }

    pub fn dtsn(&self) -> Option<u8> {
        self.dodag.as_ref().map(|d| d.dtsn.0)
    }

    /// Global repair (§8.2.2.1): the root increments its DODAG Version; the nodes follow.
    pub fn global_repair(&mut self, now: Instant) {
        if !self.is_root() {
            return;
        }
        if let Some(d) = self.dodag.as_mut() {
            d.version = d.version.next();
            let version = d.version.0;
            self.routes.clear();
            self.events.push_back(Event::GlobalRepair { version });
            self.reset_trickle(now);
        }
    }

    /// Asks every node below for fresh DAOs (§9.6): the root increments its DTSN.
    pub fn refresh_routes(&mut self, now: Instant) {
        if let Some(d) = self.dodag.as_mut() {
            d.dtsn = d.dtsn.next();
            self.reset_trickle(now);
        }
    }

    /// Processes one frame heard on the link from the neighbour `from` (link-local).
    pub fn handle_input(&mut self, now: Instant, from: Ipv6Addr, bytes: &[u8]) {
        if !self.started {
            return;
        }
        let dg = match Datagram::parse(bytes) {
            Ok(dg) => dg,
            Err(v) => return self.violation(from, v),
        };
        let dst = dg.ipv6.dst_addr;
        let route_continues = dg.routing.as_ref().is_some_and(|s| s.segments_left > 0);
        if (!self.is_mine(dst) && dst != ALL_RPL_NODES) || route_continues {
            return self.forward(now, dg, Some(from));
        }
        match dg.payload {
            Payload::Rpl(RplMessage::Dis(dis)) => self.on_dis(now, from, dst, &dis),
            Payload::Rpl(RplMessage::Dio(dio)) => self.on_dio(now, from, &dio),
            Payload::Rpl(RplMessage::Dao(dao)) => self.on_dao(now, from, &dg.ipv6, &dao),
            Payload::Rpl(RplMessage::DaoAck(ack)) => self.on_dao_ack(&ack),
            Payload::Icmpv6 {
                msg_type: ECHO_REQUEST,
                body,
                ..
            } => {
                let be = |i: usize| {
                    u16::from_be_bytes([
                        body.get(i).copied().unwrap_or(0),
                        body.get(i + 1).copied().unwrap_or(0),
                    ])
                };
                self.events.push_back(Event::Delivered {
                    src: dg.ipv6.src_addr,
                    ident: be(0),
                    seq: be(2),
                    hops: DATA_HOP_LIMIT.saturating_sub(dg.ipv6.hop_limit) + 1,
                });
            }
            _ => {}
        }
    }

    /// Link-layer feedback on a unicast to `neighbor`: `attempts` frames sent, and
    /// whether one was acknowledged. Feeds the ETX estimate and detects lost neighbours.
    pub fn handle_link_feedback(
        &mut self,
        now: Instant,
        neighbor: Ipv6Addr,
        attempts: u8,
        acked: bool,
    ) {
        let max = self.cfg.max_link_failures;
        let Some(i) = self.neighbors.iter().position(|n| n.link_local == neighbor) else {
            return;
        };
        let n = &mut self.neighbors[i];
        // An unacknowledged unicast counts as the worst link MRHOF accepts.
        let sample = if acked {
            u32::from(attempts.max(1)) * 128
        } else {
            u32::from(Mrhof::MAX_LINK_METRIC) * 2
        };
        n.etx = ((u32::from(n.etx) * 9 + sample) / 10).min(u32::from(u16::MAX)) as u16;
        if acked {
            n.failures = 0;
        } else {
            n.failures = n.failures.saturating_add(1);
            if n.failures >= max {
                self.neighbors.remove(i);
            }
        }
        if !self.is_root() && self.dodag.is_some() {
            self.select_parent(now);
        }
    }

    /// Sends an Echo Request to `dst` through the DODAG (up to the root, or down from it).
    pub fn send_ping(&mut self, now: Instant, dst: Ipv6Addr, ident: u16, seq: u16) {
        let Some(src) = self.global() else {
            self.events.push_back(Event::Dropped {
                dst,
                reason: DropReason::NoRoute,
            });
            return;
        };
        let mut body = Vec::with_capacity(8);
        body.extend_from_slice(&ident.to_be_bytes());
        body.extend_from_slice(&seq.to_be_bytes());
        body.extend_from_slice(b"hilt");
        let mut dg = Datagram::control(
            src,
            dst,
            RplMessage::Unknown {
                code: 0,
                body: Vec::new(),
            },
        );
        dg.ipv6.hop_limit = DATA_HOP_LIMIT;
        dg.payload = Payload::Icmpv6 {
            msg_type: ECHO_REQUEST,
            code: 0,
            body,
        };
        self.originate(now, dg);
    }

    /// Processes the timers due by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.started {
            return;
        }
        if self.dis_at.is_some_and(|t| t <= now) {
            if self.is_joined() {
                self.dis_at = None;
            } else {
                self.send_dis(None);
                let next = self.jitter(self.cfg.dis_interval, self.cfg.dis_interval * 3 / 2);
                self.dis_at = Some(now + next);
            }
        }
        let floating = self.preferred.is_none() && !self.is_root();
        let poison_done = self.poison_dios_at_detach + POISON_DIOS;
        if let Some(tr) = self.trickle.as_mut() {
            tr.handle_timeout(now);
            let due = tr.poll_transmit();
            // A detached node goes quiet once its poison is out.
            if floating && tr.stats().transmissions >= poison_done {
                tr.stop();
            }
            if due {
                self.send_dio(LinkTarget::Broadcast);
            }
        }
        if self.dao_at.is_some_and(|t| t <= now) {
            self.dao_at = None;
            self.send_dao(now, true);
        }
        if self.dao_refresh_at.is_some_and(|t| t <= now) {
            self.dao_refresh_at = None;
            self.send_dao(now, false);
        }
        self.retransmit_daos(now);
        if self.route_sweep_at.is_some_and(|t| t <= now) {
            self.sweep_routes(now);
        }
    }

    /// The earliest time [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.started {
            return None;
        }
        [
            self.dis_at,
            self.trickle.as_ref().and_then(Trickle::poll_timeout),
            self.dao_at,
            self.dao_refresh_at,
            self.pending_daos.iter().map(|p| p.deadline).min(),
            self.route_sweep_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Stops the node as a power cut would: it forgets everything and sends nothing.
    pub fn kill(&mut self) {
        let (cfg, root) = (self.cfg.clone(), self.root.clone());
        *self = Node::new(cfg);
        self.root = root;
    }

    pub(super) fn is_mine(&self, addr: Ipv6Addr) -> bool {
        addr == self.link_local || Some(addr) == self.global()
    }

    pub(super) fn violation(&mut self, from: Ipv6Addr, v: Violation) {
        self.events.push_back(Event::Violation {
            from,
            rule: v.rule,
            detail: v.detail,
        });
    }

    pub(super) fn rule_broken(&mut self, from: Ipv6Addr, rule: Rule, detail: String) {
        self.violation(from, Violation::new(rule, 0, detail));
    }

    /// A uniformly random duration in [lo, hi).
    pub(super) fn jitter(&mut self, lo: Duration, hi: Duration) -> Duration {
        let (lo_us, hi_us) = (lo.as_micros() as u64, hi.as_micros() as u64);
        let span = hi_us.saturating_sub(lo_us).max(1);
        Duration::from_micros(lo_us + self.rng.next_u64() % span)
    }

    fn start_trickle(&mut self, now: Instant) {
        let Some(c) = self.dodag.as_ref().map(|d| d.config) else {
            return;
        };
        let imin = Duration::from_millis(1u64 << c.dio_interval_min.min(40));
        let seed = self.rng.next_u64();
        let mut tr = Trickle::with_rng(
            imin,
            c.dio_interval_doublings,
            u32::from(c.dio_redundancy_constant),
            SplitMix64::new(seed),
        );
        tr.start(now);
        self.trickle = Some(tr);
    }

    pub(super) fn reset_trickle(&mut self, now: Instant) {
        match self.trickle.as_mut() {
            Some(tr) => tr.reset(now),
            None => self.start_trickle(now),
        }
    }

    pub(super) fn push(&mut self, to: LinkTarget, kind: FrameKind, dg: &Datagram) {
        self.transmits.push_back(Transmit {
            to,
            kind,
            bytes: dg.to_bytes(),
        });
    }

    fn send_dis(&mut self, to: Option<Ipv6Addr>) {
        let dst = to.unwrap_or(ALL_RPL_NODES);
        let dg = Datagram::control(self.link_local, dst, RplMessage::Dis(Dis::default()));
        let target = to.map_or(LinkTarget::Broadcast, LinkTarget::Neighbor);
        self.push(target, FrameKind::Dis, &dg);
    }

    /// A DIO with the DODAG Configuration and this router's Prefix Information (R flag:
    /// its whole global address, which children name as their parent in DAOs).
    fn send_dio(&mut self, to: LinkTarget) {
        let Some(d) = self.dodag.as_ref() else {
            return;
        };
        let mut options = vec![RplOption::DodagConfiguration(d.config)];
        if let (Some(p), Some(global)) = (d.prefix, self.global()) {
            options.push(RplOption::PrefixInformation(PrefixInformation {
                router_address: true,
                prefix: global,
                ..p
            }));
        }
        let dio = Dio {
            instance_id: d.instance_id,
            version: d.version.0,
            rank: self.rank,
            grounded: d.grounded,
            zero_bit: false,
            mop: d.mop,
            preference: d.preference,
            dtsn: d.dtsn.0,
            flags: 0,
            reserved: 0,
            dodag_id: d.dodag_id,
            options,
        };
        let dst = match to {
            LinkTarget::Broadcast => ALL_RPL_NODES,
            LinkTarget::Neighbor(a) => a,
        };
        let dg = Datagram::control(self.link_local, dst, RplMessage::Dio(dio));
        self.push(to, FrameKind::Dio, &dg);
    }

    /// §8.3: a multicast DIS resets Trickle (when its Solicited Information, if any,
    /// matches); a unicast DIS gets a unicast DIO and leaves Trickle alone.
    fn on_dis(&mut self, now: Instant, from: Ipv6Addr, dst: Ipv6Addr, dis: &Dis) {
        if !self.is_joined() {
            return;
        }
        if dst != ALL_RPL_NODES {
            return self.send_dio(LinkTarget::Neighbor(from));
        }
        let Some(d) = self.dodag.as_ref() else { return };
        let matches = dis.options.iter().all(|o| match o {
            RplOption::SolicitedInformation(si) => {
                (!si.instance_predicate || si.instance_id == d.instance_id)
                    && (!si.dodag_id_predicate || si.dodag_id == d.dodag_id)
                    && (!si.version_predicate || si.version == d.version.0)
            }
            _ => true,
        });
        if matches {
            self.reset_trickle(now);
        }
    }

    fn on_dio(&mut self, now: Instant, from: Ipv6Addr, dio: &Dio) {
        let config = dio.options.iter().find_map(|o| match o {
            RplOption::DodagConfiguration(c) => Some(*c),
            _ => None,
        });
        let router_global = dio.options.iter().find_map(|o| match o {
            RplOption::PrefixInformation(p) if p.router_address => Some(p.prefix),
            _ => None,
        });
        let mhri = config
            .map(|c| c.min_hop_rank_increase)
            .or(self.dodag.as_ref().map(|d| d.config.min_hop_rank_increase))
            .unwrap_or(super::rank::DEFAULT_MIN_HOP_RANK_INCREASE)
            .max(1);
        if dio.rank < mhri {
            return self.rule_broken(
                from,
                Rule::RankBelowRoot,
                format!("DIO Rank {} below ROOT_RANK {mhri}", dio.rank),
            );
        }
        self.note_neighbor(from, dio, router_global, config);

        if self.is_root() {
            let Some(d) = self.dodag.as_ref() else { return };
            let order = SequenceCounter(dio.version).compare(d.version);
            let same = d.same(dio);
            if let Some(tr) = self.trickle.as_mut().filter(|_| same) {
                // A neighbour behind on the Version hears about it sooner.
                match order {
                    Some(std::cmp::Ordering::Less) => tr.hear_inconsistent(now),
                    Some(std::cmp::Ordering::Equal) if dio.rank != INFINITE_RANK => {
                        tr.hear_consistent()
                    }
                    _ => {}
                }
            }
            return;
        }

        let Some(d) = self.dodag.as_ref() else {
            return self.try_join(now, from, dio, config);
        };
        if !d.same(dio) {
            // One instance at a time: other DODAGs only interest a node that has none.
            if self.preferred.is_none() {
                self.try_join(now, from, dio, config);
            }
            return;
        }
        if self.preferred.is_none() && dio.version != d.version.0 {
            // A detached node takes any other Version as a fresh start (a restarted
            // root begins again at its initial Version, which may compare older).
            return self.try_join(now, from, dio, config);
        }
        use std::cmp::Ordering::*;
        match SequenceCounter(dio.version).compare(d.version) {
            Some(Greater) => {
                // Global repair (§8.2.2.1): follow the new Version; parents come from it.
                let Some(d) = self.dodag.as_mut() else { return };
                d.version = SequenceCounter(dio.version);
                if let Some(c) = config {
                    d.config = c;
                }
                let version = d.version.0;
                self.lowest_rank = INFINITE_RANK;
                self.detached = None;
                self.events.push_back(Event::GlobalRepair { version });
                self.reset_trickle(now);
                self.select_parent(now);
                self.schedule_dao(now);
            }
            Some(Less) => {
                if let Some(tr) = self.trickle.as_mut() {
                    tr.hear_inconsistent(now);
                }
            }
            Some(Equal) => {
                if dio.rank != INFINITE_RANK
                    && let Some(tr) = self.trickle.as_mut()
                {
                    tr.hear_consistent();
                }
                if self.preferred.is_none() {
                    if self.may_rejoin_through(dio.rank) {
                        self.start_trickle_if_stopped(now);
                        self.select_parent(now);
                    }
                    return;
                }
                let parent_dtsn_moved = self.preferred == Some(from)
                    && self.neighbor(from).is_some_and(|n| n.dtsn != dio.dtsn);
                self.select_parent(now);
                if parent_dtsn_moved && self.preferred == Some(from) {
                    // §9.6: a new DTSN from the parent asks for DAOs; in Non-Storing
                    // mode the whole sub-DODAG must answer, so pass it on, and
                    // promptly: a changed DTSN resets Trickle like any news.
                    if let Some(d) = self.dodag.as_mut()
                        && d.mop == Mop::NonStoring
                    {
                        d.dtsn = d.dtsn.next();
                        self.reset_trickle(now);
                    }
                    self.schedule_dao(now);
                }
            }
            None => {}
        }
        if let Some(n) = self.neighbors.iter_mut().find(|n| n.link_local == from) {
            n.dtsn = dio.dtsn;
        }
    }

    fn start_trickle_if_stopped(&mut self, now: Instant) {
        if !self.trickle.as_ref().is_some_and(Trickle::is_running) {
            self.reset_trickle(now);
        }
    }

    /// Records what a DIO says about its sender, judging its Rank against its own L.
    fn note_neighbor(
        &mut self,
        from: Ipv6Addr,
        dio: &Dio,
        global: Option<Ipv6Addr>,
        config: Option<DodagConfiguration>,
    ) {
        let version = SequenceCounter(dio.version);
        let max_increase = config
            .or(self.dodag.as_ref().map(|d| d.config))
            .map_or(0, |c| c.max_rank_increase);
        let mut broken = None;
        match self.neighbors.iter_mut().find(|n| n.link_local == from) {
            Some(n) => {
                let same_version = n.version == version
                    && n.dodag_id == dio.dodag_id
                    && n.instance_id == dio.instance_id;
                if !same_version {
                    n.lowest_rank = INFINITE_RANK;
                } else if dio.rank != INFINITE_RANK
                    && max_increase != 0
                    && n.lowest_rank != INFINITE_RANK
                    && u32::from(dio.rank) > u32::from(n.lowest_rank) + u32::from(max_increase)
                {
                    broken = Some(format!(
                        "DIO Rank {} above L {} + DAGMaxRankIncrease {max_increase}",
                        dio.rank, n.lowest_rank
                    ));
                }
                n.instance_id = dio.instance_id;
                n.dodag_id = dio.dodag_id;
                n.version = version;
                n.rank = dio.rank;
                n.grounded = dio.grounded;
                n.preference = dio.preference;
                if dio.rank != INFINITE_RANK {
                    n.lowest_rank = n.lowest_rank.min(dio.rank);
                }
                n.global = global.or(n.global);
                n.failures = 0;
            }
            None => self.neighbors.push(Neighbor {
                link_local: from,
                global,
                instance_id: dio.instance_id,
                dodag_id: dio.dodag_id,
                version,
                rank: dio.rank,
                dtsn: dio.dtsn,
                grounded: dio.grounded,
                preference: dio.preference,
                etx: INITIAL_ETX,
                failures: 0,
                lowest_rank: dio.rank,
            }),
        }
        if let Some(detail) = broken {
            self.rule_broken(from, Rule::MaxRankIncrease, detail);
        }
    }

    pub(super) fn neighbor(&self, addr: Ipv6Addr) -> Option<&Neighbor> {
        self.neighbors.iter().find(|n| n.link_local == addr)
    }

    /// Joins the DODAG a DIO advertises, if the node can: it needs the DODAG
    /// Configuration (asked for with a unicast DIS) and a Mode and OF it implements.
    fn try_join(
        &mut self,
        now: Instant,
        from: Ipv6Addr,
        dio: &Dio,
        config: Option<DodagConfiguration>,
    ) {
        if dio.rank == INFINITE_RANK {
            return;
        }
        let Some(config) = config else {
            return self.send_dis(Some(from));
        };
        if matches!(dio.mop, Mop::Unknown(_) | Mop::StoringWithMulticast)
            || config.objective_code_point > Mrhof::OCP
        {
            return;
        }
        let prefix = dio.options.iter().find_map(|o| match o {
            RplOption::PrefixInformation(p) if p.autonomous => Some(PrefixInformation {
                prefix: with_iid(p.prefix, 0),
                router_address: false,
                ..*p
            }),
            _ => None,
        });
        self.dodag = Some(Dodag {
            instance_id: dio.instance_id,
            dodag_id: dio.dodag_id,
            version: SequenceCounter(dio.version),
            mop: dio.mop,
            grounded: dio.grounded,
            preference: dio.preference,
            config,
            prefix,
            dtsn: SequenceCounter::initial(),
        });
        self.detached = None;
        self.lowest_rank = INFINITE_RANK;
        self.start_trickle(now);
        self.select_parent(now);
    }

    /// Whether a detached node may rejoin its old Version through a neighbour of this
    /// Rank: only from strictly above where it was, so not through its own sub-DODAG.
    fn may_rejoin_through(&self, rank: u16) -> bool {
        let Some(d) = self.dodag.as_ref() else {
            return true;
        };
        match self.detached {
            Some(det) if det.version == d.version => d.rank(rank).less_than(d.rank(det.rank)),
            _ => true,
        }
    }

    /// The candidates of the current Version, with the Rank each would give.
    fn candidates(&self) -> Vec<(usize, Candidate)> {
        let Some(d) = self.dodag.as_ref() else {
            return Vec::new();
        };
        self.neighbors
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.instance_id == d.instance_id
                    && n.dodag_id == d.dodag_id
                    && n.version == d.version
                    && n.rank != INFINITE_RANK
                    && self.may_rejoin_through(n.rank)
            })
            .map(|(i, n)| {
                (
                    i,
                    Candidate {
                        rank: n.rank,
                        grounded: n.grounded,
                        preference: n.preference,
                        step_of_rank: None,
                        link_etx: n.etx,
                        advertised_cost: None,
                    },
                )
            })
            .collect()
    }

    /// Parent selection through the DODAG's objective function, under §8.2.2.4: the
    /// Rank taken stays within L + DAGMaxRankIncrease and above every parent's DAGRank.
    pub(super) fn select_parent(&mut self, now: Instant) {
        let Some(d) = self.dodag.as_ref() else { return };
        let config = d.config;
        let mhri = d.mhri();
        let limit = if config.max_rank_increase == 0 || self.lowest_rank == INFINITE_RANK {
            u32::from(INFINITE_RANK) - 1
        } else {
            u32::from(self.lowest_rank) + u32::from(config.max_rank_increase)
        };
        let all = self.candidates();
        let cands: Vec<Candidate> = all.iter().map(|(_, c)| *c).collect();
        let current = self.preferred.and_then(|p| {
            all.iter()
                .position(|(i, _)| self.neighbors[*i].link_local == p)
        });
        let rank_of = |choice: usize| -> u16 {
            if config.objective_code_point == Mrhof::OCP {
                // The parent set holds only neighbours ranked below the node (§8.2.1),
                // judged by the Rank the preferred parent alone gives: a child in the
                // set would drag the node's Rank up after its own, without end.
                let of = Mrhof::new(mhri, config.max_rank_increase);
                let alone = Rank::new(of.advertised_rank(&cands, &[choice], choice), mhri);
                let below: Vec<usize> = (0..cands.len())
                    .filter(|&j| j == choice || Rank::new(cands[j].rank, mhri).less_than(alone))
                    .collect();
                let sub: Vec<Candidate> = below.iter().map(|&j| cands[j]).collect();
                let at = below.iter().position(|&j| j == choice).unwrap_or(0);
                let set = of.parent_set(&sub, at);
                of.advertised_rank(&sub, &set, at)
            } else {
                Of0::new(mhri).rank_through(&cands[choice])
            }
        };
        let admissible = |i: usize, rank: u16| {
            rank != INFINITE_RANK
                && u32::from(rank) <= limit
                && Rank::new(cands[i].rank, mhri).less_than(Rank::new(rank, mhri))
        };
        // The OF's choice first; failing the Rank rules, the best admissible other.
        let chosen = if config.objective_code_point == Mrhof::OCP {
            Mrhof::new(mhri, config.max_rank_increase)
                .select(&cands, current)
                .map(|c| c.index)
        } else {
            Of0::new(mhri).select(&cands, current).map(|c| c.index)
        };
        let pick = chosen.filter(|&i| admissible(i, rank_of(i))).or_else(|| {
            (0..cands.len())
                .map(|i| (rank_of(i), i))
                .filter(|&(r, i)| admissible(i, r))
                .min()
                .map(|(_, i)| i)
        });
        match pick {
            Some(i) => {
                let new_parent = self.neighbors[all[i].0].link_local;
                let new_rank = rank_of(i);
                self.adopt(now, new_parent, new_rank);
            }
            None if self.preferred.is_some() => self.detach(now),
            None => {}
        }
    }

    fn adopt(&mut self, now: Instant, parent: Ipv6Addr, rank: u16) {
        let old_parent = self.preferred;
        let old_rank = self.rank;
        self.preferred = Some(parent);
        self.rank = rank;
        self.lowest_rank = self.lowest_rank.min(rank);
        if old_parent.is_none() {
            let d = self.dodag.as_ref().expect("adopt runs with a DODAG");
            self.events.push_back(Event::Joined {
                dodag_id: d.dodag_id,
                version: d.version.0,
                rank,
                parent,
            });
            self.detached = None;
            self.dis_at = None;
            self.start_trickle_if_stopped(now);
        }
        if old_parent != Some(parent) {
            self.events.push_back(Event::ParentChanged {
                old: old_parent,
                new: Some(parent),
            });
            if let Some(old) = old_parent {
                self.send_no_path_dao(old);
            }
            self.schedule_dao(now);
        }
        if old_rank != rank {
            self.events.push_back(Event::RankChanged {
                old: old_rank,
                new: rank,
            });
        }
    }

    /// Local repair (§8.2.2.5, §8.2.2.6): no parent left. The node advertises
    /// INFINITE_RANK a few times so its children look elsewhere, then waits for a
    /// neighbour ranked above where it was, soliciting with DISes.
    pub(super) fn detach(&mut self, now: Instant) {
        let Some(d) = self.dodag.as_ref() else { return };
        let rank_before = self.rank;
        self.detached = Some(Detached {
            version: d.version,
            rank: self.lowest_rank.min(rank_before),
        });
        self.events.push_back(Event::LocalRepair { rank_before });
        self.events.push_back(Event::ParentChanged {
            old: self.preferred,
            new: None,
        });
        self.events.push_back(Event::RankChanged {
            old: rank_before,
            new: INFINITE_RANK,
        });
        self.preferred = None;
        self.rank = INFINITE_RANK;
        self.lowest_rank = INFINITE_RANK;
        self.dao_at = None;
        self.dao_refresh_at = None;
        self.pending_daos.clear();
        self.reset_trickle(now);
        self.poison_dios_at_detach = self.trickle.as_ref().map_or(0, |t| t.stats().transmissions);
        let first = self.jitter(self.cfg.dis_interval / 2, self.cfg.dis_interval);
        self.dis_at = Some(now + first);
    }

    /// A Rank error seen twice: drop, and treat as an inconsistency (§8.3, §11.2.2.2).
    /// Not a peer's violation: transient loops are part of RPL's repair.
    pub(super) fn loop_detected(&mut self, now: Instant, dst: Ipv6Addr) {
        self.events.push_back(Event::Dropped {
            dst,
            reason: DropReason::Loop,
        });
        if let Some(tr) = self.trickle.as_mut() {
            tr.hear_inconsistent(now);
        }
    }

    /// §11.2.2.2: a packet going Up comes from a sender of greater DAGRank, one going
    /// Down from a sender of lesser DAGRank.
    pub(super) fn rank_consistent(&self, down: bool, sender_rank: u16) -> bool {
        let Some(d) = self.dodag.as_ref() else {
            return true;
        };
        if self.rank == INFINITE_RANK {
            return true;
        }
        let (s, me) = (d.rank(sender_rank), d.rank(self.rank));
        if down {
            s.less_than(me)
        } else {
            s.greater_than(me)
        }
    }

    /// The options a Hop-by-Hop header gets when this node sends or forwards.
    pub(super) fn stamp(&self, hbh: &mut HopByHop, down: bool) {
        for o in &mut hbh.options {
            if let HopOption::Rpl(r) = o {
                r.sender_rank = self.rank;
                r.down = down;
            }
        }
    }
}
