//! Downward routes and the data plane of [`Node`]: DAO and DAO-ACK (RFC 6550 §9), the
//! Storing-mode routing table and the root's Non-Storing source-route table, and
//! forwarding with the RPL Option (RFC 6553, RFC 6550 §11.2) and the Source Routing
//! Header (RFC 6554).

use std::net::Ipv6Addr;
use std::time::Duration;

use hilt_core::Instant;

use super::hbh::{HopByHop, RplHopOption};
use super::ipv6::{ALL_RPL_NODES, Ipv6Repr, next_header};
use super::message::{Dao, DaoAck, Mop, RplMessage};
use super::node::{
    DATA_HOP_LIMIT, DropReason, Event, FrameKind, LinkTarget, Node, PendingDao, Route, iid_of,
    link_local, with_iid,
};
use super::options::{RplOption, TransitInformation};
use super::packet::{Datagram, Payload};
use super::rank::SequenceCounter;
use super::rules::Rule;
use super::srh::SourceRoute;

/// Targets a Storing-mode node packs into one DAO when passing its sub-DODAG on.
const TARGETS_PER_DAO: usize = 8;

/// A target and how long its route lives, as a DAO carries it.
#[derive(Debug, Clone, Copy)]
struct Advertised {
    target: Ipv6Addr,
    path_sequence: u8,
    /// Path Lifetime in Lifetime Units; 0 is a No-Path.
    lifetime: u8,
}

fn kind_of(dg: &Datagram) -> FrameKind {
    match &dg.payload {
        Payload::Rpl(RplMessage::Dis(_)) => FrameKind::Dis,
        Payload::Rpl(RplMessage::Dio(_)) => FrameKind::Dio,
        Payload::Rpl(RplMessage::Dao(_)) => FrameKind::Dao,
        Payload::Rpl(RplMessage::DaoAck(_)) => FrameKind::DaoAck,
        _ => FrameKind::Data,
    }
}

impl Node {
    fn mop(&self) -> Option<Mop> {
        self.dodag.as_ref().map(|d| d.mop)
    }

    /// §9.5: a DAO after DelayDAO (jittered, so siblings do not collide).
    pub(super) fn schedule_dao(&mut self, now: Instant) {
        if self.is_root() || matches!(self.mop(), None | Some(Mop::NoDownwardRoutes)) {
            return;
        }
        let delay = self.jitter(self.cfg.dao_delay, self.cfg.dao_delay * 2);
        let at = now + delay;
        if self.dao_at.is_none_or(|t| t > at) {
            self.dao_at = Some(at);
        }
    }

    /// The parent's global address, for Transit Information: what its Prefix
    /// Information announced, or else its interface identifier in our prefix.
    fn parent_global(&self, parent: Ipv6Addr) -> Option<Ipv6Addr> {
        let n = self.neighbor(parent);
        n.and_then(|n| n.global)
            .or_else(|| self.global().map(|g| with_iid(g, iid_of(parent))))
    }

    /// This node's own DAO: to the root in Non-Storing mode (Transit Information names
    /// the parent), to the parent in Storing mode. Schedules the refresh. In Storing mode
    /// after a change (`with_sub_dodag`), the new parent also learns every target below
    /// this node, a few per DAO, or it would route to them through the old path.
    pub(super) fn send_dao(&mut self, now: Instant, with_sub_dodag: bool) {
        let (Some(me), Some(d)) = (self.global(), self.dodag.clone()) else {
            return;
        };
        if self.preferred.is_none() {
            return;
        }
        self.path_sequence = self.path_sequence.next();
        let own = Advertised {
            target: me,
            path_sequence: self.path_sequence.0,
            lifetime: d.config.default_lifetime,
        };
        self.send_dao_for(now, &[own]);
        if with_sub_dodag && d.mop != Mop::NonStoring {
            let below: Vec<Advertised> = self
                .routes
                .iter()
                .map(|(t, r)| Advertised {
                    target: *t,
                    path_sequence: r.path_sequence.0,
                    lifetime: d.config.default_lifetime,
                })
                .collect();
            for chunk in below.chunks(TARGETS_PER_DAO) {
                self.send_dao_for(now, chunk);
            }
        }
        if let Some(life) = d.lifetime(d.config.default_lifetime) {
            let refresh = self.jitter(life / 2, life * 3 / 4);
            self.dao_refresh_at = Some(now + refresh.max(Duration::from_secs(1)));
        }
    }

    /// A DAO carrying `targets`, each with its Transit Information, sent for an
    /// acknowledgement when configured.
    fn send_dao_for(&mut self, now: Instant, targets: &[Advertised]) {
        let (Some(parent), Some(me), Some(d)) = (self.preferred, self.global(), self.dodag.clone())
        else {
            return;
        };
        let non_storing = d.mop == Mop::NonStoring;
        let parent_addr = if non_storing {
            self.parent_global(parent)
        } else {
            None
        };
        let mut options = Vec::with_capacity(targets.len() * 2);
        for t in targets {
            options.push(RplOption::target(t.target));
            options.push(RplOption::TransitInformation(TransitInformation {
                external: false,
                flags: 0,
                path_control: 0,
                path_sequence: t.path_sequence,
                path_lifetime: t.lifetime,
                parent: parent_addr,
            }));
        }
        self.dao_sequence = self.dao_sequence.next();
        let sequence = self.dao_sequence.0;
        let expect_ack = self.cfg.request_dao_ack;
        let dao = Dao {
            instance_id: d.instance_id,
            expect_ack,
            flags: 0,
            reserved: 0,
            sequence,
            dodag_id: Some(d.dodag_id),
            options,
        };
        let dg = if non_storing {
            let mut dg = Datagram::control(me, d.dodag_id, RplMessage::Dao(dao));
            dg.ipv6.hop_limit = DATA_HOP_LIMIT;
            dg.hop_by_hop = Some(HopByHop::with_rpl(
                0,
                RplHopOption::new(d.instance_id, self.rank, false),
            ));
            dg
        } else {
            Datagram::control(self.link_local, parent, RplMessage::Dao(dao))
        };
        let bytes = dg.to_bytes();
        if expect_ack {
            self.pending_daos.push(PendingDao {
                sequence,
                to: parent,
                bytes: bytes.clone(),
                retries_left: self.cfg.dao_retries,
                deadline: now + self.cfg.dao_ack_timeout,
            });
        }
        self.transmits.push_back(super::node::Transmit {
            to: LinkTarget::Neighbor(parent),
            kind: FrameKind::Dao,
            bytes,
        });
    }

    /// Storing mode, on a parent change: tell the old parent its route to us is gone.
    pub(super) fn send_no_path_dao(&mut self, old_parent: Ipv6Addr) {
        let (Some(me), Some(d)) = (self.global(), self.dodag.as_ref()) else {
            return;
        };
        if !matches!(d.mop, Mop::StoringWithoutMulticast) {
            return;
        }
        let dao = Dao {
            instance_id: d.instance_id,
            expect_ack: false,
            flags: 0,
            reserved: 0,
            sequence: self.dao_sequence.next().0,
            dodag_id: Some(d.dodag_id),
            options: vec![
                RplOption::target(me),
                RplOption::TransitInformation(TransitInformation {
                    external: false,
                    flags: 0,
                    path_control: 0,
                    path_sequence: self.path_sequence.next().0,
                    path_lifetime: 0,
                    parent: None,
                }),
            ],
        };
        self.dao_sequence = self.dao_sequence.next();
        let dg = Datagram::control(self.link_local, old_parent, RplMessage::Dao(dao));
        self.push(LinkTarget::Neighbor(old_parent), FrameKind::Dao, &dg);
    }

    /// A DAO arrived for this node: routes learnt (or removed), a DAO-ACK if asked, and
    /// in Storing mode the targets passed on up.
    pub(super) fn on_dao(&mut self, now: Instant, from: Ipv6Addr, ip: &Ipv6Repr, dao: &Dao) {
        let Some(d) = self.dodag.clone() else { return };
        if dao.instance_id != d.instance_id || dst_is_multicast(ip.dst_addr) {
            return;
        }
        let non_storing = d.mop == Mop::NonStoring;
        if non_storing && !self.is_root() {
            return;
        }
        let mut targets: Vec<Ipv6Addr> = Vec::new();
        let mut learnt: Vec<Advertised> = Vec::new();
        let mut grouped = false;
        for o in &dao.options {
            match o {
                RplOption::RplTarget { prefix, .. } => {
                    if grouped {
                        targets.clear();
                        grouped = false;
                    }
                    targets.push(prefix.as_address());
                }
                RplOption::TransitInformation(t) => {
                    grouped = true;
                    let via = if non_storing {
                        match t.parent {
                            Some(p) => p,
                            None => {
                                self.rule_broken(
                                    ip.src_addr,
                                    Rule::NonStoringTransitParent,
                                    "Transit Information without a Parent Address".into(),
                                );
                                continue;
                            }
                        }
                    } else {
                        from
                    };
                    for &target in &targets {
                        self.learn_route(now, target, via, t.path_sequence, t.path_lifetime);
                        learnt.push(Advertised {
                            target,
                            path_sequence: t.path_sequence,
                            lifetime: t.path_lifetime,
                        });
                    }
                }
                _ => {}
            }
        }
        if dao.expect_ack {
            self.send_dao_ack(now, if non_storing { ip.src_addr } else { from }, dao);
        }
        if !non_storing && !self.is_root() && !learnt.is_empty() {
            self.send_dao_for(now, &learnt);
        }
    }

    fn learn_route(
        &mut self,
        now: Instant,
        target: Ipv6Addr,
        via: Ipv6Addr,
        path_sequence: u8,
        lifetime: u8,
    ) {
        let Some(d) = self.dodag.as_ref() else { return };
        let seq = SequenceCounter(path_sequence);
        if let Some(r) = self.routes.get(&target)
            && seq.compare(r.path_sequence) == Some(std::cmp::Ordering::Less)
        {
            return; // stale information (§9.2.1)
        }
        if lifetime == 0 {
            // No-Path: only the route it names goes (Storing: through that child).
            if self
                .routes
                .get(&target)
                .is_some_and(|r| r.via == via || self.is_root())
            {
                self.routes.remove(&target);
                self.events.push_back(Event::RouteRemoved {
                    target,
                    expired: false,
                });
            }
            return;
        }
        let expires = d.lifetime(lifetime).map(|l| now + l);
        let route = Route {
            via,
            path_sequence: seq,
            expires,
        };
        if self.routes.insert(target, route).is_none() {
            self.events.push_back(Event::RouteAdded { target });
        }
        if let Some(e) = expires
            && self.route_sweep_at.is_none_or(|t| t > e)
        {
            self.route_sweep_at = Some(e);
        }
    }

    fn send_dao_ack(&mut self, now: Instant, to: Ipv6Addr, dao: &Dao) {
        let ack = RplMessage::DaoAck(DaoAck {
            instance_id: dao.instance_id,
            reserved: 0,
            sequence: dao.sequence,
            status: 0,
            dodag_id: dao.dodag_id,
            options: Vec::new(),
        });
        if self.mop() == Some(Mop::NonStoring) {
            let Some(me) = self.global() else { return };
            let mut dg = Datagram::control(me, to, ack);
            dg.ipv6.hop_limit = DATA_HOP_LIMIT;
            self.originate(now, dg);
        } else {
            let dg = Datagram::control(self.link_local, to, ack);
            self.push(LinkTarget::Neighbor(to), FrameKind::DaoAck, &dg);
        }
    }

    pub(super) fn on_dao_ack(&mut self, ack: &DaoAck) {
        if let Some(i) = self
            .pending_daos
            .iter()
            .position(|p| p.sequence == ack.sequence)
        {
            self.pending_daos.remove(i);
            self.events.push_back(Event::DaoAcknowledged {
                sequence: ack.sequence,
                status: ack.status,
            });
        }
    }

    pub(super) fn retransmit_daos(&mut self, now: Instant) {
        let timeout = self.cfg.dao_ack_timeout;
        let mut i = 0;
        while i < self.pending_daos.len() {
            let p = &mut self.pending_daos[i];
            if p.deadline > now {
                i += 1;
                continue;
            }
            if p.retries_left == 0 {
                let sequence = p.sequence;
                self.pending_daos.remove(i);
                self.events.push_back(Event::DaoFailed { sequence });
                continue;
            }
            p.retries_left -= 1;
            p.deadline = now + timeout;
            // Retransmitted through the current parent: the old one may be gone.
            let to = self.preferred.unwrap_or(p.to);
            p.to = to;
            let bytes = p.bytes.clone();
            self.transmits.push_back(super::node::Transmit {
                to: LinkTarget::Neighbor(to),
                kind: FrameKind::Dao,
                bytes,
            });
            i += 1;
        }
    }

    pub(super) fn sweep_routes(&mut self, now: Instant) {
        let expired: Vec<Ipv6Addr> = self
            .routes
            .iter()
            .filter(|(_, r)| r.expires.is_some_and(|e| e <= now))
            .map(|(t, _)| *t)
            .collect();
        for target in expired {
            self.routes.remove(&target);
            self.events.push_back(Event::RouteRemoved {
                target,
                expired: true,
            });
        }
        self.route_sweep_at = self.routes.values().filter_map(|r| r.expires).min();
    }

    /// The downward routes this node holds: (target, via). At a Non-Storing root, `via`
    /// is the target's parent; in Storing mode, the child to send through.
    pub fn routes(&self) -> impl Iterator<Item = (Ipv6Addr, Ipv6Addr)> + '_ {
        self.routes.iter().map(|(t, r)| (*t, r.via))
    }

    /// Non-Storing root: the hops from the root to `target` (first hop first, `target`
    /// last), following each node's parent up from `target`; `None` when a link is
    /// missing or the entries loop.
    pub fn source_route(&self, target: Ipv6Addr) -> Option<Vec<Ipv6Addr>> {
        let me = self.global()?;
        let mut path = vec![target];
        let mut at = target;
        loop {
            let parent = self.routes.get(&at)?.via;
            if parent == me {
                break;
            }
            if path.contains(&parent) || path.len() > 255 {
                return None;
            }
            path.push(parent);
            at = parent;
        }
        path.reverse();
        Some(path)
    }

    /// Sends a datagram this node built: down from the root by source route (Non-Storing)
    /// or routing table (Storing), otherwise up to the preferred parent.
    pub(super) fn originate(&mut self, now: Instant, mut dg: Datagram) {
        let dst = dg.ipv6.dst_addr;
        if self.is_root() && self.mop() == Some(Mop::NonStoring) {
            let Some(hops) = self.source_route(dst) else {
                return self.drop_packet(dst, DropReason::NoRoute);
            };
            let first = hops[0];
            if hops.len() > 1 {
                dg.ipv6.dst_addr = first;
                dg.routing = Some(SourceRoute::for_path(
                    next_header::ICMPV6,
                    &first,
                    hops[1..].to_vec(),
                ));
            }
            let to = LinkTarget::Neighbor(link_local(iid_of(first)));
            let kind = kind_of(&dg);
            return self.push(to, kind, &dg);
        }
        let Some(d) = self.dodag.as_ref() else {
            return self.drop_packet(dst, DropReason::NoRoute);
        };
        let down = self.routes.contains_key(&dst);
        dg.hop_by_hop = Some(HopByHop::with_rpl(
            0,
            RplHopOption::new(d.instance_id, self.rank, down),
        ));
        self.route_hop_by_hop(now, dg, None);
    }

    /// A datagram for someone else: the Source Routing Header's next hop if it has one,
    /// else by the RPL Option's direction, checking Rank consistency on the way.
    pub(super) fn forward(&mut self, now: Instant, mut dg: Datagram, from: Option<Ipv6Addr>) {
        let dst = dg.ipv6.dst_addr;
        if dst_is_multicast(dst) {
            return;
        }
        if dg.ipv6.hop_limit <= 1 {
            return self.drop_packet(dst, DropReason::HopLimit);
        }
        dg.ipv6.hop_limit -= 1;
        if let Some(srh) = dg.routing.as_mut().filter(|s| s.segments_left > 0) {
            let n = srh.addresses.len();
            let i = n - usize::from(srh.segments_left);
            let next = srh.addresses[i];
            let me = dg.ipv6.dst_addr;
            // RFC 6554 §4.2: this router again further along means a loop.
            if next != me && srh.addresses[i..].contains(&me) {
                let origin = dg.ipv6.src_addr;
                self.rule_broken(
                    origin,
                    Rule::SourceRouteLoop,
                    format!("{me} listed again in a Source Routing Header"),
                );
                return self.drop_packet(dst, DropReason::Loop);
            }
            srh.addresses[i] = me;
            srh.segments_left -= 1;
            dg.ipv6.dst_addr = next;
            let kind = kind_of(&dg);
            return self.push(LinkTarget::Neighbor(link_local(iid_of(next))), kind, &dg);
        }
        self.route_hop_by_hop(now, dg, from);
    }

    fn route_hop_by_hop(&mut self, now: Instant, mut dg: Datagram, from: Option<Ipv6Addr>) {
        let dst = dg.ipv6.dst_addr;
        let instance = self.dodag.as_ref().map_or(0, |d| d.instance_id);
        let rank = self.rank;
        let hbh = dg
            .hop_by_hop
            .get_or_insert_with(|| HopByHop::with_rpl(0, RplHopOption::new(instance, rank, false)));
        if hbh.rpl().is_none() {
            hbh.options
                .push(super::hbh::HopOption::Rpl(RplHopOption::new(
                    instance, rank, false,
                )));
        }
        let opt = *hbh.rpl().expect("added above");
        let mut rank_error = opt.rank_error;
        if from.is_some() && !self.rank_consistent(opt.down, opt.sender_rank) {
            if opt.rank_error {
                return self.loop_detected(now, dst);
            }
            rank_error = true;
        }
        let (to, down) = match self.routes.get(&dst) {
            Some(r) if self.mop() != Some(Mop::NonStoring) => (Some(r.via), true),
            _ if opt.down && from.is_some() => (None, true),
            _ => (self.preferred, false),
        };
        let Some(to) = to else {
            return self.drop_packet(dst, DropReason::NoRoute);
        };
        if let Some(h) = dg.hop_by_hop.as_mut() {
            self.stamp(h, down);
            for o in &mut h.options {
                if let super::hbh::HopOption::Rpl(r) = o {
                    r.rank_error = rank_error;
                }
            }
        }
        let kind = kind_of(&dg);
        self.push(LinkTarget::Neighbor(to), kind, &dg);
    }

    fn drop_packet(&mut self, dst: Ipv6Addr, reason: DropReason) {
        self.events.push_back(Event::Dropped { dst, reason });
    }
}

fn dst_is_multicast(a: Ipv6Addr) -> bool {
    a.is_multicast() || a == ALL_RPL_NODES
}
