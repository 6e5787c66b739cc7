//! The node and root state machines against RFC 6550's rules, on a fake clock: a few
//! nodes wired by a lossless link with a fixed delay, frames delivered in time order.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::time::Duration;

use hilt_core::Instant;

use super::*;

const HOP: Duration = Duration::from_millis(2);

/// A toy link layer: `links` are the pairs of node indices that hear each other.
struct Net {
    nodes: Vec<Node>,
    links: BTreeSet<(usize, usize)>,
    now: Instant,
    /// (arrival, receiver, sender, bytes), kept sorted by arrival.
    air: Vec<(Instant, usize, usize, Vec<u8>)>,
    events: Vec<(usize, Event)>,
    sent: Vec<(usize, Transmit)>,
    /// Frames for which this returns true are lost.
    drop: LossRule,
}

/// Which frames a test's air loses: (sender, frame) → lost.
type LossRule = Box<dyn Fn(usize, &Transmit) -> bool>;

impl Net {
    /// Node 0 is the root; nodes get iid index + 1.
    fn new(n: usize, root: RootConfig, links: &[(usize, usize)]) -> Self {
        let mut nodes = vec![Node::root(NodeConfig::new(1, 1), root)];
        nodes.extend((1..n).map(|i| Node::new(NodeConfig::new(i as u64 + 1, i as u64 + 1))));
        let links = links.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect();
        let mut net = Net {
            nodes,
            links,
            now: Instant::ZERO,
            air: Vec::new(),
            events: Vec::new(),
            sent: Vec::new(),
            drop: Box::new(|_, _| false),
        };
        for n in &mut net.nodes {
            n.start(Instant::ZERO);
        }
        net
    }

    fn line(n: usize, mop: Mop) -> Self {
        let links: Vec<_> = (1..n).map(|i| (i - 1, i)).collect();
        Net::new(n, RootConfig::new(mop), &links)
    }

    fn index_of(&self, ll: Ipv6Addr) -> Option<usize> {
        self.nodes.iter().position(|n| n.link_local() == ll)
    }

    fn pump(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].poll_transmit() {
            let lost = (self.drop)(i, &t);
            let receivers: Vec<usize> = match t.to {
                LinkTarget::Broadcast => (0..self.nodes.len())
                    .filter(|&j| self.links.contains(&(i, j)))
                    .collect(),
                LinkTarget::Neighbor(ll) => self.index_of(ll).into_iter().collect(),
            };
            if let LinkTarget::Neighbor(ll) = t.to {
                let acked = !lost && receivers.iter().any(|&j| self.links.contains(&(i, j)));
                self.nodes[i].handle_link_feedback(self.now, ll, 1, acked);
            }
            if !lost {
                for j in receivers
                    .into_iter()
                    .filter(|&j| self.links.contains(&(i, j)))
                {
                    self.air.push((self.now + HOP, j, i, t.bytes.clone()));
                }
            }
            self.sent.push((i, t));
        }
        while let Some(e) = self.nodes[i].poll_event() {
            self.events.push((i, e));
        }
    }

    fn run_until(&mut self, until: Instant) {
        loop {
            for i in 0..self.nodes.len() {
                self.pump(i);
            }
            self.air.sort_by_key(|f| f.0);
            let next_frame = self.air.first().map(|f| f.0);
            let next_timer = self.nodes.iter().filter_map(Node::poll_timeout).min();
            let Some(next) = [next_frame, next_timer].into_iter().flatten().min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = next;
            if next_frame == Some(next) {
                let (_, to, from, bytes) = self.air.remove(0);
                let from_ll = self.nodes[from].link_local();
                self.nodes[to].handle_input(next, from_ll, &bytes);
            } else {
                for n in &mut self.nodes {
                    if n.poll_timeout().is_some_and(|t| t <= next) {
                        n.handle_timeout(next);
                    }
                }
            }
        }
        self.now = self.now.max(until);
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn global(&self, i: usize) -> Ipv6Addr {
        self.nodes[i].global().expect("joined")
    }

    fn events_of(&self, i: usize) -> impl Iterator<Item = &Event> {
        self.events
            .iter()
            .filter(move |(n, _)| *n == i)
            .map(|(_, e)| e)
    }

    fn count(&self, kind: FrameKind) -> usize {
        self.sent.iter().filter(|(_, t)| t.kind == kind).count()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn a_line_joins_with_of0_ranks_and_the_root_source_routes_down() {
    let mut net = Net::line(4, Mop::NonStoring);
    net.run_for(secs(30));
    // OF0 (RFC 6552 §4.1): each hop adds (Rf·Sp + Sr)·MinHopRankIncrease = 3 × 256.
    let ranks: Vec<u16> = net.nodes.iter().map(Node::rank).collect();
    assert_eq!(ranks, vec![256, 1024, 1792, 2560]);
    for i in 1..4 {
        assert_eq!(
            net.nodes[i].preferred_parent(),
            Some(net.nodes[i - 1].link_local())
        );
        assert!(net.events_of(i).any(|e| matches!(e, Event::Joined { .. })));
        assert!(
            net.events_of(i)
                .any(|e| matches!(e, Event::DaoAcknowledged { status: 0, .. }))
        );
    }
    // The root's table: each target's parent by global address.
    let route = net.nodes[0].source_route(net.global(3)).unwrap();
    assert_eq!(route, vec![net.global(1), net.global(2), net.global(3)]);
    let (root, leaf) = (net.global(0), net.global(3));
    net.nodes[0].send_ping(net.now, leaf, 7, 1);
    net.nodes[3].send_ping(net.now, root, 7, 2);
    net.run_for(secs(1));
    assert!(net.events_of(3).any(|e| *e
        == Event::Delivered {
            src: root,
            ident: 7,
            seq: 1,
            hops: 3
        }));
    assert!(net.events_of(0).any(|e| *e
        == Event::Delivered {
            src: leaf,
            ident: 7,
            seq: 2,
            hops: 3
        }));
    // Downward data carried a Source Routing Header on its first hop.
    let first_hop = net
        .sent
        .iter()
        .rev()
        .find(|(i, t)| *i == 0 && t.kind == FrameKind::Data)
        .unwrap();
    let dg = Datagram::parse(&first_hop.1.bytes).unwrap();
    assert_eq!(dg.ipv6.dst_addr, net.global(1));
    assert_eq!(
        dg.routing.unwrap().addresses,
        vec![net.global(2), net.global(3)]
    );
}

#[test]
fn storing_mode_routes_hop_by_hop_and_a_parent_change_sends_no_path() {
    // 0 - 1 - 2 - 3, and 3 also hears 0's other child 4 (ranked like 1).
    let mut net = Net::new(
        5,
        RootConfig::new(Mop::StoringWithoutMulticast),
        &[(0, 1), (1, 2), (2, 3), (0, 4)],
    );
    net.run_for(secs(30));
    let leaf = net.global(3);
    // Node 1 stores routes to 2 and 3 through 2; the root to 1, 2, 3 through 1.
    let via: Vec<_> = net.nodes[1].routes().collect();
    assert!(via.contains(&(leaf, net.nodes[2].link_local())));
    assert_eq!(net.nodes[0].routes().count(), 4);
    net.nodes[0].send_ping(net.now, leaf, 1, 1);
    net.run_for(secs(1));
    assert!(
        net.events_of(3)
            .any(|e| matches!(e, Event::Delivered { hops: 3, .. }))
    );
    // A new link makes 4 a better parent for 2 (rank 1024 < 1024? no: equal), so give 2
    // a link to the root itself: it moves and tells 1 with a No-Path DAO.
    net.links.insert((0, 2));
    net.links.insert((2, 0));
    net.nodes[0].refresh_routes(net.now);
    net.run_for(secs(30));
    assert_eq!(
        net.nodes[2].preferred_parent(),
        Some(net.nodes[0].link_local())
    );
    let me = net.global(2);
    assert!(net.events_of(1).any(|e| *e
        == Event::RouteRemoved {
            target: me,
            expired: false
        }));
}

#[test]
fn multicast_dis_resets_trickle_and_unicast_dis_gets_a_unicast_dio() {
    let mut net = Net::line(2, Mop::NonStoring);
    net.run_for(secs(120));
    let interval = |n: &Node| n.trickle.as_ref().unwrap().interval();
    assert!(interval(&net.nodes[1]) > Duration::from_millis(8));
    // Unicast DIS (§8.3): a unicast DIO back, Trickle untouched.
    let before = interval(&net.nodes[1]);
    let stranger = link_local(99);
    let dis = Datagram::control(
        stranger,
        net.nodes[1].link_local(),
        RplMessage::Dis(Dis::default()),
    );
    let now = net.now;
    net.nodes[1].handle_input(now, stranger, &dis.to_bytes());
    let t = net.nodes[1].poll_transmit().unwrap();
    assert_eq!(
        (t.to, t.kind),
        (LinkTarget::Neighbor(stranger), FrameKind::Dio)
    );
    assert_eq!(interval(&net.nodes[1]), before);
    // Multicast DIS: Trickle back to Imin = 2^3 ms.
    let dis = Datagram::control(stranger, ALL_RPL_NODES, RplMessage::Dis(Dis::default()));
    net.nodes[1].handle_input(now, stranger, &dis.to_bytes());
    assert_eq!(interval(&net.nodes[1]), Duration::from_millis(8));
}

#[test]
fn unjoined_nodes_solicit_with_dis_and_ignore_dis() {
    let mut net = Net::new(2, RootConfig::new(Mop::NonStoring), &[]);
    net.run_for(secs(35));
    let dis: Vec<_> = net
        .sent
        .iter()
        .filter(|(i, t)| *i == 1 && t.kind == FrameKind::Dis)
        .collect();
    // One in [5 s, 10 s), then one every [10 s, 15 s).
    assert!((3..=4).contains(&dis.len()), "{}", dis.len());
    assert!(!net.nodes[1].is_joined());
    net.links.extend([(0, 1), (1, 0)]);
    net.run_for(secs(15));
    assert!(net.nodes[1].is_joined(), "a DIS reset the root's Trickle");
}

#[test]
fn global_repair_moves_every_node_to_the_new_version_and_refreshes_daos() {
    let mut net = Net::line(4, Mop::NonStoring);
    net.run_for(secs(30));
    let v0 = net.nodes[0].version().unwrap();
    let daos = net.count(FrameKind::Dao);
    net.nodes[0].global_repair(net.now);
    net.run_for(secs(30));
    let v1 = SequenceCounter(v0).next().0;
    for (i, n) in net.nodes.iter().enumerate() {
        assert_eq!(n.version(), Some(v1), "node {i}");
        assert!(n.is_joined());
    }
    for i in 1..4 {
        assert!(
            net.events_of(i)
                .any(|e| *e == Event::GlobalRepair { version: v1 })
        );
    }
    assert!(net.count(FrameKind::Dao) >= daos + 3);
    assert_eq!(net.nodes[0].routes().count(), 3);
}

#[test]
fn a_new_dtsn_from_the_root_asks_the_whole_sub_dodag_for_daos() {
    let mut net = Net::line(4, Mop::NonStoring);
    net.run_for(secs(30));
    let dtsn = net.nodes[2].dtsn().unwrap();
    let daos = net.count(FrameKind::Dao);
    net.nodes[0].refresh_routes(net.now);
    net.run_for(secs(10));
    // §9.6: Non-Storing nodes pass the increment on, so the grandchildren answer too.
    assert_eq!(net.nodes[2].dtsn(), Some(SequenceCounter(dtsn).next().0));
    let originated: BTreeSet<usize> = net.sent[..]
        .iter()
        .filter(|(_, t)| t.kind == FrameKind::Dao)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(originated, BTreeSet::from([1, 2, 3]));
    // 3 DAOs, each forwarded hop by hop: 1 + 2 + 3 frames.
    assert_eq!(net.count(FrameKind::Dao) - daos, 6);
}

#[test]
fn losing_the_root_poisons_and_detaches_the_line() {
    let mut net = Net::line(4, Mop::NonStoring);
    net.run_for(secs(30));
    net.links.retain(|&(a, b)| a != 0 && b != 0);
    // Node 1 only notices through failed unicasts: send it data until it gives up.
    let root = net.global(0);
    for s in 0..3 {
        net.nodes[1].send_ping(net.now, root, 1, s);
        net.run_for(secs(1));
    }
    net.run_for(secs(60));
    for i in 1..4 {
        assert!(!net.nodes[i].is_joined(), "node {i} detached");
        assert!(
            net.events_of(i)
                .any(|e| matches!(e, Event::LocalRepair { .. })),
            "node {i}"
        );
    }
    // Node 1 poisoned: a DIO with INFINITE_RANK (§8.2.2.5), then quiet.
    let poison = net.sent.iter().filter(|(i, t)| {
        *i == 1
            && t.kind == FrameKind::Dio
            && matches!(Datagram::parse(&t.bytes).unwrap().payload,
                Payload::Rpl(RplMessage::Dio(ref d)) if d.rank == INFINITE_RANK)
    });
    assert_eq!(poison.count(), 3);
    // No node rejoined through its own old sub-DODAG.
    assert!(
        net.nodes
            .iter()
            .skip(1)
            .all(|n| n.preferred_parent().is_none())
    );
}

#[test]
fn dao_without_ack_is_retransmitted_then_reported() {
    let mut net = Net::line(2, Mop::NonStoring);
    net.drop = Box::new(|_, t| t.kind == FrameKind::DaoAck);
    net.run_for(secs(30));
    // One DAO and dao_retries (3) retransmissions, then DaoFailed.
    assert_eq!(net.count(FrameKind::Dao), 4);
    assert!(
        net.events_of(1)
            .any(|e| matches!(e, Event::DaoFailed { .. }))
    );
    assert!(
        !net.events_of(1)
            .any(|e| matches!(e, Event::DaoAcknowledged { .. }))
    );
}

#[test]
fn routes_expire_at_the_root_when_not_refreshed() {
    let mut root = RootConfig::new(Mop::NonStoring);
    root.dodag.default_lifetime = 10;
    root.dodag.lifetime_unit = 1;
    let mut net = Net::new(2, root, &[(0, 1)]);
    net.run_for(secs(8));
    assert_eq!(net.nodes[0].routes().count(), 1);
    // Refreshes keep it alive...
    net.run_for(secs(60));
    assert_eq!(net.nodes[0].routes().count(), 1);
    // ...until the node goes silent.
    net.nodes[1].kill();
    net.run_for(secs(11));
    assert_eq!(net.nodes[0].routes().count(), 0);
    assert!(
        net.events_of(0)
            .any(|e| matches!(e, Event::RouteRemoved { expired: true, .. }))
    );
}

fn dio_from(rank: u16, version: u8) -> Dio {
    Dio {
        instance_id: 0,
        version,
        rank,
        grounded: true,
        zero_bit: false,
        mop: Mop::NonStoring,
        preference: 0,
        dtsn: 240,
        flags: 0,
        reserved: 0,
        dodag_id: with_iid(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 1),
        options: vec![RplOption::DodagConfiguration(DodagConfiguration {
            default_lifetime: 30,
            lifetime_unit: 60,
            ..DodagConfiguration::default()
        })],
    }
}

fn hear(node: &mut Node, now: Instant, from: Ipv6Addr, dio: Dio) {
    let dg = Datagram::control(from, ALL_RPL_NODES, RplMessage::Dio(dio));
    node.handle_input(now, from, &dg.to_bytes());
}

fn drain(node: &mut Node) -> Vec<Event> {
    std::iter::from_fn(|| node.poll_event()).collect()
}

#[test]
fn rank_never_rises_past_dag_max_rank_increase() {
    let mut n = Node::new(NodeConfig::new(5, 5));
    n.start(Instant::ZERO);
    let (a, b) = (link_local(2), link_local(3));
    let t = Instant::from_millis(10);
    hear(&mut n, t, a, dio_from(256, 240));
    assert_eq!(n.rank(), 1024);
    hear(&mut n, t, b, dio_from(1024, 240));
    assert_eq!(n.preferred_parent(), Some(a));
    // a now ranks 1280: through it 2048, through b 1792: b is better (OF0 §4.2.1).
    hear(&mut n, t, a, dio_from(1280, 240));
    assert_eq!((n.preferred_parent(), n.rank()), (Some(b), 1792));
    drain(&mut n);
    // b moves away: through it 3072 is past L + DAGMaxRankIncrease = 1024 + 1792 = 2816,
    // so the node goes back to a (2048), the best admissible.
    hear(&mut n, t, b, dio_from(2304, 240));
    assert_eq!((n.preferred_parent(), n.rank()), (Some(a), 2048));
    // Then a too (3328 through it): no admissible parent, so it detaches (§8.2.2.4).
    hear(&mut n, t, a, dio_from(2560, 240));
    let ev = drain(&mut n);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::LocalRepair { rank_before: 2048 }))
    );
    assert_eq!(n.rank(), INFINITE_RANK);
    // And a's jump itself broke the rule at a: its L was 256, 2560 > 256 + 1792.
    assert!(ev.iter().any(|e| matches!(e,
        Event::Violation { rule, .. } if rule.id == "RFC6550-8.2.2.4-1")));
}

#[test]
fn never_a_parent_of_higher_or_equal_rank_and_detached_nodes_rejoin_only_from_above() {
    let mut n = Node::new(NodeConfig::new(5, 5));
    n.start(Instant::ZERO);
    let t = Instant::from_millis(10);
    let (a, b, c) = (link_local(2), link_local(3), link_local(4));
    hear(&mut n, t, a, dio_from(256, 240));
    hear(&mut n, t, a, dio_from(INFINITE_RANK, 240));
    assert!(!n.is_joined(), "poisoned by its only parent");
    // Detached at 1024: a neighbour at 1024 or more may be below it; one at 768 may not.
    hear(&mut n, t, b, dio_from(1024, 240));
    assert!(!n.is_joined());
    hear(&mut n, t, c, dio_from(768, 240));
    assert_eq!(n.preferred_parent(), Some(c));
    assert_eq!(n.rank(), 1536);
    // A new Version lifts the restriction.
    hear(&mut n, t, b, dio_from(256, 241));
    assert_eq!((n.preferred_parent(), n.version()), (Some(b), Some(241)));
}

#[test]
fn peers_breaking_rules_become_violation_events() {
    let mut n = Node::new(NodeConfig::new(5, 5));
    n.start(Instant::ZERO);
    let t = Instant::from_millis(1);
    let from = link_local(2);
    // Rank below ROOT_RANK.
    hear(&mut n, t, from, dio_from(100, 240));
    // A DIO whose checksum is wrong: the codec's rule.
    let mut bytes =
        Datagram::control(from, ALL_RPL_NODES, RplMessage::Dio(dio_from(512, 240))).to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    n.handle_input(t, from, &bytes);
    let rules: Vec<String> = drain(&mut n)
        .into_iter()
        .filter_map(|e| match e {
            Event::Violation { rule, .. } => Some(rule.id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(rules, vec!["RFC6550-8.2.2.2-1", "RFC4443-2.3-1"]);
    assert!(!n.is_joined());
}

#[test]
fn rank_error_twice_is_a_loop_and_a_source_route_through_us_twice_too() {
    let mut net = Net::line(3, Mop::NonStoring);
    net.run_for(secs(30));
    let (root, mid, leaf) = (net.global(0), net.global(1), net.global(2));
    let root_ll = net.nodes[0].link_local();
    // Going Up from the root's side with the R flag already set: node 1 sees a sender
    // ranked below it, a second Rank error: dropped, a loop.
    let mut dg = Datagram::control(leaf, root, RplMessage::Dis(Dis::default()));
    let mut opt = RplHopOption::new(0, 256, false);
    opt.rank_error = true;
    dg.hop_by_hop = Some(HopByHop::with_rpl(0, opt));
    let now = net.now;
    net.nodes[1].handle_input(now, root_ll, &dg.to_bytes());
    let ev = drain(&mut net.nodes[1]);
    assert_eq!(
        ev,
        vec![Event::Dropped {
            dst: root,
            reason: DropReason::Loop
        }]
    );
    assert_eq!(DropReason::Loop.rule().unwrap().id, "RFC6550-11.2.2.2-1");
    // Without the R flag the first error only sets it, and the packet goes on.
    opt.rank_error = false;
    dg.hop_by_hop = Some(HopByHop::with_rpl(0, opt));
    net.nodes[1].handle_input(now, root_ll, &dg.to_bytes());
    let t = net.nodes[1].poll_transmit().unwrap();
    let fwd = Datagram::parse(&t.bytes).unwrap();
    assert!(fwd.hop_by_hop.unwrap().rpl().unwrap().rank_error);
    // A Source Routing Header naming node 1 again after node 2.
    let mut dg = Datagram::control(root, mid, RplMessage::Dis(Dis::default()));
    dg.routing = Some(SourceRoute::for_path(58, &mid, vec![leaf, mid]));
    net.nodes[1].handle_input(now, root_ll, &dg.to_bytes());
    let ev = drain(&mut net.nodes[1]);
    assert!(ev.iter().any(|e| matches!(e,
        Event::Violation { rule, .. } if rule.id == "RFC6554-4.2-1")));
}

#[test]
fn mrhof_prefers_the_better_link_and_keeps_it_within_the_threshold() {
    let mut n = Node::new(NodeConfig::new(5, 5));
    n.start(Instant::ZERO);
    let t = Instant::from_millis(1);
    let (a, b) = (link_local(2), link_local(3));
    let mrhof = |rank| {
        let mut d = dio_from(rank, 240);
        d.options = vec![RplOption::DodagConfiguration(DodagConfiguration {
            objective_code_point: Mrhof::OCP,
            ..DodagConfiguration::default()
        })];
        d
    };
    hear(&mut n, t, a, mrhof(256));
    hear(&mut n, t, b, mrhof(256));
    assert_eq!(n.preferred_parent(), Some(a), "equal: the first stays");
    // a's link degrades to ETX 4: one sample is within PARENT_SWITCH_THRESHOLD
    // (RFC 6719 §3.2.2), so a stays; as the average climbs, the node moves.
    n.handle_link_feedback(t, a, 4, true);
    assert_eq!(n.preferred_parent(), Some(a));
    for _ in 0..20 {
        n.handle_link_feedback(t, a, 4, true);
    }
    assert_eq!(n.preferred_parent(), Some(b));
    // RFC 6719 §3.3: Rank at least the parent's Rank + MinHopRankIncrease.
    assert!(n.rank() >= 512);
}

#[test]
fn mutated_frames_never_make_a_node_panic_or_send_garbage() {
    // Real frames of a storing and a non-storing DODAG, each mutated many ways, fed to
    // a joined router and to the root.
    let mut frames = Vec::new();
    for mop in [Mop::NonStoring, Mop::StoringWithoutMulticast] {
        let mut net = Net::line(3, mop);
        net.run_for(secs(20));
        let leaf = net.global(2);
        net.nodes[0].send_ping(net.now, leaf, 1, 1);
        net.run_for(secs(1));
        frames.extend(net.sent.iter().map(|(_, t)| t.bytes.clone()));
    }
    let mut rng = SplitMix64::new(9);
    let mut net = Net::line(3, Mop::NonStoring);
    net.run_for(secs(20));
    let from = net.nodes[0].link_local();
    let mut t = net.now;
    for f in &frames {
        for _ in 0..40 {
            let mut m = f.clone();
            match rng.next_u64() % 3 {
                0 => {
                    let at = (rng.next_u64() as usize) % m.len();
                    m[at] ^= 1 << (rng.next_u64() % 8);
                }
                1 => m.truncate((rng.next_u64() as usize) % m.len()),
                _ => {
                    let at = (rng.next_u64() as usize) % m.len();
                    m[at] = rng.next_u64() as u8;
                }
            }
            t = t + Duration::from_millis(3);
            for n in &mut net.nodes[..2] {
                n.handle_input(t, from, &m);
                n.handle_timeout(t);
                while let Some(tx) = n.poll_transmit() {
                    assert!(Datagram::parse(&tx.bytes).is_ok());
                }
                while n.poll_event().is_some() {}
            }
        }
    }
    assert!(frames.len() > 20);
}
