//! Deliberate faults for negative controls: `hilt rpl node --mutate <fault>` and
//! `hilt rpl root --mutate <fault>` run hilt's own cores with one rule broken, so each
//! conformance test can be shown to catch the peer that breaks what it checks.
//!
//! A fault rewrites, drops or adds datagrams between the core and the link, on the way
//! out (what the node sends) or on the way in (what it hears, so the core reacts as a
//! careless implementation would). The cores themselves stay correct.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;

use hilt_core::Instant;
use hilt_wire::rpl::{
    ALL_RPL_NODES, Code, DaoAck, Datagram, Dis, FrameKind, INFINITE_RANK, Icmpv6Packet, LinkTarget,
    Mop, Node, OptionIter, Payload, RootConfig, RplMessage, RplOption, RplView, TYPE_RPL_CONTROL,
    Transmit,
};

macro_rules! faults {
    ($($variant:ident $name:literal $what:literal,)*) => {
        /// A fault a mutated peer commits.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Fault { $($variant,)* }

        impl Fault {
            pub const ALL: &'static [Fault] = &[$(Fault::$variant,)*];

            pub fn name(self) -> &'static str {
                match self { $(Fault::$variant => $name,)* }
            }

            /// What the mutated peer does wrong, in a sentence.
            pub fn what(self) -> &'static str {
                match self { $(Fault::$variant => $what,)* }
            }
        }
    };
}

faults! {
    NoDis "no-dis" "never sends a DIS",
    DisFlags "dis-flags" "sends DISes with a Flags bit set",
    NoDao "no-dao" "never sends a DAO",
    DaoNoTransitParent "dao-no-transit-parent" "leaves the Parent Address out of a Non-Storing DAO's Transit Information",
    DaoTargetLinkLocal "dao-target-link-local" "names its link-local address as the DAO Target",
    DaoLifetimeZero "dao-lifetime-zero" "sends DAOs with Path Lifetime 0 (a No-Path)",
    DaoWrongInstance "dao-wrong-instance" "sends DAOs for another RPLInstanceID",
    DaoNoAckRequest "dao-no-ack-request" "never sets the K flag",
    DaoNoRetransmit "dao-no-retransmit" "sends each DAO once, acknowledged or not",
    NoDaoRefresh "no-dao-refresh" "stops sending DAOs once one is acknowledged",
    RankPlusOne "rank-plus-one" "advertises its Rank plus one",
    RankAsRoot "rank-as-root" "advertises ROOT_RANK although it is not the root",
    DioNoConfig "dio-no-config" "leaves the DODAG Configuration out of its DIOs",
    DioNoPrefix "dio-no-prefix" "leaves the Prefix Information out of its DIOs",
    DioWrongMop "dio-wrong-mop" "advertises MOP 0 (no downward routes) whatever its mode",
    DodagIdLinkLocal "dodagid-link-local" "advertises its link-local address as DODAGID",
    NoPoison "no-poison" "never advertises INFINITE_RANK",
    DioFlood "dio-flood" "sends every DIO twice",
    NoDaoAck "no-dao-ack" "never sends a DAO-ACK",
    DaoAckWrongSequence "dao-ack-wrong-sequence" "acknowledges with DAOSequence plus one",
    NoSourceRoute "no-source-route" "sends downward without a Source Routing Header",
    IgnoreDisMulticast "ignore-dis-multicast" "ignores multicast DISes",
    IgnoreDisUnicast "ignore-dis-unicast" "ignores unicast DISes",
    IgnoreDaoAck "ignore-dao-ack" "ignores DAO-ACKs",
    AcceptAnyDaoAck "accept-any-dao-ack" "takes any DAO-ACK for its last DAO, whatever its DAOSequence",
    IgnoreDtsn "ignore-dtsn" "ignores DTSN changes",
    IgnoreVersion "ignore-version" "ignores new DODAG Versions",
    AcceptMhriZero "accept-mhri-zero" "reads a MinHopRankIncrease of 0 as 256",
    LenientOptions "lenient-options" "keeps the options before a malformed one instead of dropping the message",
    RejectUnknownOptions "reject-unknown-options" "drops messages carrying an option type it does not know",
    IgnoreChecksum "ignore-checksum" "accepts ICMPv6 checksum errors",
    AcceptRankBelowRoot "accept-rank-below-root" "reads a Rank below ROOT_RANK as ROOT_RANK",
    AcceptInfiniteRank "accept-infinite-rank" "reads INFINITE_RANK as a usable Rank",
    IgnoreMop "ignore-mop" "runs Non-Storing mode whatever MOP the DODAG advertises",
    TrickleNoDoubling "trickle-no-doubling" "never doubles its Trickle interval",
    TrickleNoSuppression "trickle-no-suppression" "never suppresses a DIO, whatever it heard (k = infinity)",
    IgnoreNoPath "ignore-no-path" "ignores No-Path DAOs",
    AckMalformed "ack-malformed" "acknowledges every DAO, malformed ones too",
    AnswerMalformedDis "answer-malformed-dis" "answers malformed DISes",
    AckAlways "ack-always" "acknowledges DAOs that did not ask for it",
    FollowVersion "follow-version" "takes a newer Version from a node's DIO as its own",
    UnicastDisResetsTrickle "unicast-dis-resets-trickle" "resets Trickle on unicast DISes too",
    IgnoreSolicitedInfo "ignore-solicited-info" "answers multicast DISes whatever their Solicited Information asks",
    AcceptTransitWithoutParent "accept-transit-without-parent" "takes a Non-Storing Transit Information without Parent Address as pointing at the root",
}

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault `{s}` (known: {})", names.join(", "))
            })
    }
}

/// Applies a set of faults to what one core sends and hears.
#[derive(Debug, Default)]
pub struct Mutator {
    faults: BTreeSet<Fault>,
    /// The Trickle settings the root advertises although it runs others.
    advertised_trickle: Option<(u8, u8)>,
    dao_sequences_sent: BTreeSet<u8>,
    last_dao_sequence: Option<u8>,
    dao_acked: bool,
    /// First DTSN and Version heard from each neighbour, for the faults that ignore change.
    first_dtsn: BTreeMap<Ipv6Addr, u8>,
    first_version: BTreeMap<Ipv6Addr, u8>,
    /// Frames the faults add (answers a correct core would not give).
    extra: Vec<Transmit>,
}

fn has(faults: &BTreeSet<Fault>, f: Fault) -> bool {
    faults.contains(&f)
}

impl Mutator {
    pub fn new(faults: impl IntoIterator<Item = Fault>) -> Self {
        Mutator {
            faults: faults.into_iter().collect(),
            ..Mutator::default()
        }
    }

    fn on(&self, f: Fault) -> bool {
        has(&self.faults, f)
    }

    /// A root that runs other Trickle settings than it advertises.
    pub fn adjust_root(&mut self, cfg: &mut RootConfig) {
        let (d, k) = (
            cfg.dodag.dio_interval_doublings,
            cfg.dodag.dio_redundancy_constant,
        );
        if self.on(Fault::TrickleNoDoubling) {
            cfg.dodag.dio_interval_doublings = 0;
            self.advertised_trickle = Some((d, k));
        }
        if self.on(Fault::TrickleNoSuppression) {
            cfg.dodag.dio_redundancy_constant = 0;
            self.advertised_trickle = Some((d, k));
        }
    }

    /// Frames the faults add, to send after the core's.
    pub fn take_extra(&mut self) -> Vec<Transmit> {
        std::mem::take(&mut self.extra)
    }

    /// What actually goes on the link for one frame the core wants sent.
    pub fn outgoing(&mut self, tx: Transmit) -> Vec<Transmit> {
        if self.faults.is_empty() {
            return vec![tx];
        }
        let Ok(mut dg) = Datagram::parse(&tx.bytes) else {
            return vec![tx];
        };
        let mut to = tx.to;
        let f = &self.faults;
        let mut copies = 1;
        match &mut dg.payload {
            Payload::Rpl(RplMessage::Dis(dis)) => {
                if has(f, Fault::NoDis) {
                    return Vec::new();
                }
                if has(f, Fault::DisFlags) {
                    dis.flags |= 0x80;
                }
            }
            Payload::Rpl(RplMessage::Dio(dio)) => {
                if has(f, Fault::NoPoison) && dio.rank == INFINITE_RANK {
                    return Vec::new();
                }
                let mhri = dio
                    .options
                    .iter()
                    .find_map(|o| match o {
                        RplOption::DodagConfiguration(c) => Some(c.min_hop_rank_increase),
                        _ => None,
                    })
                    .unwrap_or(256);
                if has(f, Fault::RankPlusOne) && dio.rank != INFINITE_RANK {
                    dio.rank += 1;
                }
                if has(f, Fault::RankAsRoot) && dio.rank != INFINITE_RANK {
                    dio.rank = mhri;
                }
                if has(f, Fault::DioNoConfig) {
                    dio.options
                        .retain(|o| !matches!(o, RplOption::DodagConfiguration(_)));
                }
                if has(f, Fault::DioNoPrefix) {
                    dio.options
                        .retain(|o| !matches!(o, RplOption::PrefixInformation(_)));
                }
                if has(f, Fault::DioWrongMop) {
                    dio.mop = Mop::NoDownwardRoutes;
                }
                if has(f, Fault::DodagIdLinkLocal) {
                    dio.dodag_id = dg.ipv6.src_addr;
                }
                if let Some((d, k)) = self.advertised_trickle {
                    for o in &mut dio.options {
                        if let RplOption::DodagConfiguration(c) = o {
                            c.dio_interval_doublings = d;
                            c.dio_redundancy_constant = k;
                        }
                    }
                }
                if has(f, Fault::DioFlood) {
                    copies = 2;
                }
            }
            Payload::Rpl(RplMessage::Dao(dao)) => {
                if has(f, Fault::NoDao) {
                    return Vec::new();
                }
                if has(f, Fault::DaoNoRetransmit) && self.dao_sequences_sent.contains(&dao.sequence)
                {
                    return Vec::new();
                }
                if has(f, Fault::NoDaoRefresh) && self.dao_acked {
                    return Vec::new();
                }
                self.dao_sequences_sent.insert(dao.sequence);
                self.last_dao_sequence = Some(dao.sequence);
                if has(f, Fault::DaoNoAckRequest) {
                    dao.expect_ack = false;
                }
                if has(f, Fault::DaoWrongInstance) {
                    dao.instance_id = dao.instance_id.wrapping_add(1);
                }
                let link_local = match tx.to {
                    LinkTarget::Neighbor(_) if has(f, Fault::DaoTargetLinkLocal) => Some(
                        hilt_wire::rpl::link_local(hilt_wire::rpl::iid_of(dg.ipv6.src_addr)),
                    ),
                    _ => None,
                };
                for o in &mut dao.options {
                    match o {
                        RplOption::TransitInformation(t) => {
                            if has(f, Fault::DaoNoTransitParent) {
                                t.parent = None;
                            }
                            if has(f, Fault::DaoLifetimeZero) {
                                t.path_lifetime = 0;
                            }
                        }
                        RplOption::RplTarget { prefix, .. } => {
                            if let Some(ll) = link_local {
                                *prefix = hilt_wire::rpl::Prefix::address(ll);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Payload::Rpl(RplMessage::DaoAck(ack)) => {
                if has(f, Fault::NoDaoAck) {
                    return Vec::new();
                }
                if has(f, Fault::DaoAckWrongSequence) {
                    ack.sequence = ack.sequence.wrapping_add(1);
                }
            }
            _ => {}
        }
        if has(f, Fault::NoSourceRoute)
            && let Some(srh) = dg.routing.take()
            && let Some(last) = srh.addresses.last()
        {
            dg.ipv6.dst_addr = *last;
            to = LinkTarget::Neighbor(hilt_wire::rpl::link_local(hilt_wire::rpl::iid_of(*last)));
        }
        let bytes = dg.to_bytes();
        (0..copies)
            .map(|_| Transmit {
                to,
                kind: tx.kind,
                bytes: bytes.clone(),
            })
            .collect()
    }

    /// What the core hears of a datagram from `from`; `None` drops it. Some faults act
    /// on the core directly (a root following a node's Version) or answer themselves;
    /// without a core (`node` is `None`: a device behind a bridge, whose own stack hears
    /// the result) those few do nothing.
    pub fn incoming(
        &mut self,
        now: Instant,
        mut node: Option<&mut Node>,
        from: Ipv6Addr,
        mut bytes: Vec<u8>,
    ) -> Option<Vec<u8>> {
        if self.faults.is_empty() {
            return Some(bytes);
        }
        let icmp_at = plain_icmpv6(&bytes);
        if self.on(Fault::IgnoreChecksum)
            && let Some(at) = icmp_at
        {
            refill_checksum(&mut bytes, at);
        }
        if let Some(at) = icmp_at {
            self.raw_faults(node.as_deref(), from, &mut bytes, at)?;
        }
        let Ok(mut dg) = Datagram::parse(&bytes) else {
            return Some(bytes);
        };
        let f = &self.faults;
        let multicast = dg.ipv6.dst_addr == ALL_RPL_NODES;
        match &mut dg.payload {
            Payload::Rpl(RplMessage::Dis(dis)) => {
                if (multicast && has(f, Fault::IgnoreDisMulticast))
                    || (!multicast && has(f, Fault::IgnoreDisUnicast))
                {
                    return None;
                }
                if has(f, Fault::IgnoreSolicitedInfo) {
                    dis.options
                        .retain(|o| !matches!(o, RplOption::SolicitedInformation(_)));
                }
                if has(f, Fault::UnicastDisResetsTrickle)
                    && !multicast
                    && let Some(node) = node.as_deref_mut()
                {
                    let mut copy = dg.clone();
                    copy.ipv6.dst_addr = ALL_RPL_NODES;
                    node.handle_input(now, from, &copy.to_bytes());
                }
            }
            Payload::Rpl(RplMessage::Dio(dio)) => {
                if has(f, Fault::FollowVersion)
                    && let Some(node) = node.as_deref_mut()
                    && node.is_root()
                    && node.version().is_some_and(|v| {
                        hilt_wire::rpl::SequenceCounter(dio.version)
                            .compare(hilt_wire::rpl::SequenceCounter(v))
                            == Some(std::cmp::Ordering::Greater)
                    })
                {
                    while node.version() != Some(dio.version) {
                        node.global_repair(now);
                    }
                }
                if has(f, Fault::IgnoreDtsn) {
                    dio.dtsn = *self.first_dtsn.entry(from).or_insert(dio.dtsn);
                }
                if has(f, Fault::IgnoreVersion) {
                    dio.version = *self.first_version.entry(from).or_insert(dio.version);
                }
                if has(f, Fault::AcceptInfiniteRank) && dio.rank == INFINITE_RANK {
                    dio.rank = 512;
                }
                if has(f, Fault::IgnoreMop) && dio.mop != Mop::NonStoring {
                    dio.mop = Mop::NonStoring;
                }
                for o in &mut dio.options {
                    if let RplOption::DodagConfiguration(c) = o {
                        if has(f, Fault::AcceptRankBelowRoot) && dio.rank < c.min_hop_rank_increase
                        {
                            dio.rank = c.min_hop_rank_increase;
                        }
                        if has(f, Fault::TrickleNoDoubling) {
                            c.dio_interval_doublings = 0;
                        }
                        if has(f, Fault::TrickleNoSuppression) {
                            c.dio_redundancy_constant = 0;
                        }
                    }
                }
            }
            Payload::Rpl(RplMessage::Dao(dao)) => {
                if has(f, Fault::AckAlways) {
                    dao.expect_ack = true;
                }
                let root = node.as_deref().and_then(Node::dodag_id);
                for o in &mut dao.options {
                    if let RplOption::TransitInformation(t) = o {
                        if has(f, Fault::IgnoreNoPath) && t.path_lifetime == 0 {
                            t.path_lifetime = 30;
                        }
                        if has(f, Fault::AcceptTransitWithoutParent) && t.parent.is_none() {
                            t.parent = root;
                        }
                    }
                }
            }
            Payload::Rpl(RplMessage::DaoAck(ack)) => {
                if has(f, Fault::IgnoreDaoAck) {
                    return None;
                }
                if has(f, Fault::AcceptAnyDaoAck)
                    && let Some(s) = self.last_dao_sequence
                {
                    ack.sequence = s;
                }
                self.dao_acked = true;
            }
            _ => return Some(bytes),
        }
        Some(dg.to_bytes())
    }

    /// Faults on datagrams the codec would refuse: they need the raw octets. `None`
    /// drops the datagram.
    fn raw_faults(
        &mut self,
        node: Option<&Node>,
        from: Ipv6Addr,
        bytes: &mut Vec<u8>,
        at: usize,
    ) -> Option<()> {
        let parses = Datagram::parse(bytes).is_ok();
        let (msg_type, code) = (byte(bytes, at), byte(bytes, at + 1));
        if msg_type != TYPE_RPL_CONTROL {
            return Some(());
        }
        if self.on(Fault::RejectUnknownOptions)
            && let Ok(view) = RplView::new_checked(&bytes[at..])
            && view.options().any(|o| {
                o.is_ok_and(|o| {
                    RplOption::parse(&o).is_ok_and(|p| matches!(p, RplOption::Unknown { .. }))
                })
            })
        {
            return None;
        }
        if parses {
            return Some(());
        }
        if self.on(Fault::AcceptMhriZero) && code == Code::Dio.to_u8() {
            patch_options(bytes, at, |kind, data| {
                if kind == hilt_wire::rpl::option_kind::DODAG_CONFIGURATION
                    && data.len() >= 8
                    && data[6] == 0
                    && data[7] == 0
                {
                    data[6] = 1;
                }
            });
        }
        if self.on(Fault::LenientOptions) {
            cut_at_bad_option(bytes, at);
        }
        if self.on(Fault::AnswerMalformedDis) && code == Code::Dis.to_u8() {
            // Whatever it was, answer it as a DIS.
            let src = addr(bytes, 8);
            let dst = addr(bytes, 24);
            *bytes = Datagram::control(src, dst, RplMessage::Dis(Dis::default())).to_bytes();
        }
        if self.on(Fault::AckMalformed)
            && code == Code::Dao.to_u8()
            && bytes.len() >= at + 8
            && let Some(node) = node
        {
            let d_flag = byte(bytes, at + 5) & 0x40 != 0;
            let ack = DaoAck {
                instance_id: byte(bytes, at + 4),
                reserved: 0,
                sequence: byte(bytes, at + 7),
                status: 0,
                dodag_id: d_flag.then(|| addr(bytes, at + 8)),
                options: Vec::new(),
            };
            let me = node.global().unwrap_or(node.link_local());
            let mut dg = Datagram::control(me, addr(bytes, 8), RplMessage::DaoAck(ack));
            dg.ipv6.hop_limit = 64;
            self.extra.push(Transmit {
                to: LinkTarget::Neighbor(from),
                kind: FrameKind::DaoAck,
                bytes: dg.to_bytes(),
            });
        }
        refill_checksum(bytes, at);
        Some(())
    }
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

fn addr(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    if let Some(s) = b.get(at..at + 16) {
        o.copy_from_slice(s);
    }
    Ipv6Addr::from(o)
}

/// Where the ICMPv6 message starts in a datagram without extension headers.
fn plain_icmpv6(bytes: &[u8]) -> Option<usize> {
    (bytes.len() >= 44 && bytes[0] >> 4 == 6 && bytes[6] == 58).then_some(40)
}

fn refill_checksum(bytes: &mut [u8], at: usize) {
    let (src, dst) = (addr(bytes, 8), addr(bytes, 24));
    if let Some(icmp) = bytes.get_mut(at..) {
        Icmpv6Packet::new_unchecked(icmp).fill_checksum(&src, &dst);
    }
}

/// Base length of an RPL message at `at`, for the option walk.
fn base_len(bytes: &[u8], at: usize) -> usize {
    let flags = byte(bytes, at + 5);
    4 + match Code::from_u8(byte(bytes, at + 1)) {
        Code::Dis => 2,
        Code::Dio => 24,
        Code::Dao if flags & 0x40 != 0 => 20,
        Code::DaoAck if byte(bytes, at + 5) & 0x80 != 0 => 20,
        Code::Dao | Code::DaoAck => 4,
        _ => 0,
    }
}

fn patch_options(bytes: &mut [u8], at: usize, mut f: impl FnMut(u8, &mut [u8])) {
    let start = at + base_len(bytes, at);
    let spans: Vec<(u8, usize, usize)> = OptionIter::new(bytes.get(start..).unwrap_or_default(), 0)
        .map_while(Result::ok)
        .map(|o| (o.kind, o.offset + 2, o.data.len()))
        .collect();
    for (kind, off, len) in spans {
        if let Some(data) = bytes.get_mut(start + off..start + off + len) {
            f(kind, data);
        }
    }
}

/// Drops the first option that does not parse and everything after it, fixing the
/// IPv6 Payload Length.
fn cut_at_bad_option(bytes: &mut Vec<u8>, at: usize) {
    let start = at + base_len(bytes, at);
    let Some(opts) = bytes.get(start..) else {
        return;
    };
    let mut good_end = 0;
    for o in OptionIter::new(opts, 0) {
        match o {
            Ok(raw) if RplOption::parse(&raw).is_ok() => {
                good_end = raw.offset + if raw.kind == 0 { 1 } else { 2 + raw.data.len() };
            }
            _ => break,
        }
    }
    bytes.truncate(start + good_end);
    let plen = (bytes.len() - 40) as u16;
    bytes[4..6].copy_from_slice(&plen.to_be_bytes());
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn every_fault_has_a_distinct_name_that_parses_back() {
        let mut names = BTreeSet::new();
        for f in Fault::ALL {
            assert!(names.insert(f.name()), "{} twice", f.name());
            assert_eq!(f.name().parse::<Fault>(), Ok(*f));
        }
        assert!("nonsense".parse::<Fault>().is_err());
    }
}
