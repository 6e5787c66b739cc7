//! A sans-IO CoAP endpoint over UDP: the message layer of RFC 7252 §4 under a
//! request/response layer (§5), in the quinn-proto shape.
//!
//! One [`Endpoint`] serves as a client ([`Endpoint::request`], responses out as
//! [`EndpointEvent::Response`]), as a server (requests out as
//! [`EndpointEvent::Request`], answers in through [`Endpoint::respond`],
//! [`Endpoint::accept`] and [`Endpoint::send`]), or both at once, as CoAP nodes are.
//! The driver feeds it datagrams ([`Endpoint::handle_input`]) and time
//! ([`Endpoint::handle_timeout`]), and drains [`Endpoint::poll_transmit`],
//! [`Endpoint::poll_timeout`] and [`Endpoint::poll_event`]. It never reads a clock,
//! never touches a socket, and draws its random numbers from the seed it was given, so
//! a run is repeatable.
//!
//! The message layer:
//! - a Confirmable message is retransmitted after a first timeout drawn from
//!   `[ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR]`, doubled after each
//!   retransmission, until an ACK or RST with its Message ID arrives or MAX_RETRANSMIT
//!   retransmissions have gone unanswered (§4.2, §4.8);
//! - at most NSTART Confirmable messages are outstanding to one peer; later ones wait,
//!   in order (§4.7);
//! - a CON or NON seen again within EXCHANGE_LIFETIME or NON_LIFETIME is a duplicate:
//!   it is not delivered again, and the ACK, RST or response first sent for it is
//!   sent again (§4.5);
//! - a datagram that cannot be a CoAP message becomes [`EndpointEvent::Malformed`]
//!   naming the rule; a malformed CON whose header is readable is answered with a RST,
//!   and so is a CON carrying a response nobody asked for (§4.2, §4.3).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use hilt_core::Instant;

use super::code::MessageType;
use super::error::Violation;
use super::message::{Message, Packet};
use super::option::OptionNumber;
use super::params::TransmissionParams;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub peer: SocketAddr,
    pub bytes: Vec<u8>,
}

/// A request received, and what answering it needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Exchange {
    pub peer: SocketAddr,
    pub message_id: u16,
    pub token: Vec<u8>,
    /// The request was Confirmable: the first answer is piggybacked in its ACK.
    pub confirmable: bool,
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointEvent {
    /// A new request (duplicates are answered by the message layer, not delivered).
    Request {
        exchange: Exchange,
        request: Message,
    },
    /// A response to a request of ours, matched by token: piggybacked, separate, or a
    /// notification of an observation.
    Response { peer: SocketAddr, response: Message },
    /// A message of ours was acknowledged by an Empty ACK (for a request: a separate
    /// response follows).
    Acknowledged {
        peer: SocketAddr,
        message_id: u16,
        token: Vec<u8>,
    },
    /// A message of ours (a CON, or a NON still within NON_LIFETIME) was rejected.
    Reset {
        peer: SocketAddr,
        message_id: u16,
        token: Vec<u8>,
    },
    /// A Confirmable message of ours went unacknowledged through MAX_RETRANSMIT
    /// retransmissions.
    TimedOut {
        peer: SocketAddr,
        message_id: u16,
        token: Vec<u8>,
    },
    /// A CON or NON seen before, within its lifetime; the first answer was sent again.
    Duplicate {
        peer: SocketAddr,
        message_id: u16,
        /// How many times this Message ID has now been received.
        copies: u32,
    },
    /// A datagram that breaks a format rule.
    Malformed {
        peer: SocketAddr,
        violation: Violation,
        datagram: Vec<u8>,
    },
    /// A response (or an ACK) that matches nothing of ours; a CON one was reset.
    Unexpected { peer: SocketAddr, message: Message },
}

/// A Confirmable message awaiting its ACK.
#[derive(Debug, Clone)]
struct Outstanding {
    peer: SocketAddr,
    message_id: u16,
    token: Vec<u8>,
    bytes: Vec<u8>,
    retransmissions: u32,
    timeout: Duration,
    due: Instant,
}

/// A Message ID received from a peer, remembered for deduplication.
#[derive(Debug, Clone)]
struct Seen {
    expires: Instant,
    copies: u32,
    /// What was sent in answer (ACK, RST or NON response), to send again on a duplicate.
    answer: Option<Vec<u8>>,
}

/// A NON of ours, remembered so that a RST to it can be matched.
#[derive(Debug, Clone)]
struct SentNon {
    token: Vec<u8>,
    expires: Instant,
}

/// The endpoint state machine.
#[derive(Debug)]
pub struct Endpoint {
    params: TransmissionParams,
    rng: u64,
    next_mid: u16,
    outstanding: Vec<Outstanding>,
    /// Confirmable messages held back by NSTART, in order.
    waiting: VecDeque<(SocketAddr, Message)>,
    seen: BTreeMap<(SocketAddr, u16), Seen>,
    sent_non: BTreeMap<(SocketAddr, u16), SentNon>,
    /// Our requests whose response is still expected: (peer, token). Observations stay
    /// here until [`Endpoint::forget`].
    pending: Vec<(SocketAddr, Vec<u8>)>,
    /// Requests received and not yet answered (their ACK not yet sent).
    unanswered: Vec<(SocketAddr, u16)>,
    transmit: VecDeque<Transmit>,
    events: VecDeque<EndpointEvent>,
}

/// splitmix64: small, seedable, and good enough to spread timeouts.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Endpoint {
    /// An endpoint with `params`; `seed` drives the random factor of first timeouts,
    /// the first Message ID and the tokens.
    pub fn new(params: TransmissionParams, seed: u64) -> Self {
        let mut rng = seed;
        let next_mid = next_random(&mut rng) as u16;
        Endpoint {
            params,
            rng,
            next_mid,
            outstanding: Vec::new(),
            waiting: VecDeque::new(),
            seen: BTreeMap::new(),
            sent_non: BTreeMap::new(),
            pending: Vec::new(),
            unanswered: Vec::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn params(&self) -> &TransmissionParams {
        &self.params
    }

    /// Confirmable messages sent and not yet acknowledged.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Sends `request` (its type CON or NON; Message ID set here, and a fresh 4-byte
    /// token unless it carries one) and expects a response. Returns the Message ID and
    /// the token.
    pub fn request(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        mut request: Message,
    ) -> (u16, Vec<u8>) {
        if request.token.is_empty() {
            request.token = next_random(&mut self.rng).to_be_bytes()[..4].to_vec();
        }
        let token = request.token.clone();
        self.pending.retain(|(p, t)| !(*p == peer && *t == token));
        self.pending.push((peer, token.clone()));
        (self.send(now, peer, request), token)
    }

    /// Stops expecting responses with `token` from `peer` (an observation given up):
    /// later notifications with it are unexpected, and a CON one is reset.
    pub fn forget(&mut self, peer: SocketAddr, token: &[u8]) {
        self.pending.retain(|(p, t)| !(*p == peer && t == token));
    }

    /// Sends a new CON or NON message (a separate response, a notification, a request
    /// whose response the caller tracks itself) with a fresh Message ID, which is
    /// returned. ACK and RST go out as given: they answer a Message ID the caller chose.
    pub fn send(&mut self, now: Instant, peer: SocketAddr, mut message: Message) -> u16 {
        match message.mtype {
            MessageType::Ack | MessageType::Rst => {
                let mid = message.message_id;
                self.answer(peer, mid, message.to_bytes());
                mid
            }
            MessageType::Non => {
                message.message_id = self.fresh_mid();
                self.sent_non.insert(
                    (peer, message.message_id),
                    SentNon {
                        token: message.token.clone(),
                        expires: now + self.params.non_lifetime(),
                    },
                );
                self.transmit.push_back(Transmit {
                    peer,
                    bytes: message.to_bytes(),
                });
                message.message_id
            }
            MessageType::Con => {
                message.message_id = self.fresh_mid();
                let mid = message.message_id;
                if self.outstanding_to(peer) < self.params.nstart.max(1) {
                    self.start_con(now, peer, &message);
                } else {
                    self.waiting.push_back((peer, message));
                }
                mid
            }
        }
    }

    /// Answers `exchange` with `response`: piggybacked in the ACK of a Confirmable
    /// request not yet acknowledged, else as a message of its own (CON or NON as
    /// `response.mtype` says; an ACK or RST type there becomes NON). Returns the
    /// Message ID used.
    pub fn respond(&mut self, now: Instant, exchange: &Exchange, mut response: Message) -> u16 {
        response.token = exchange.token.clone();
        if exchange.confirmable && self.take_unanswered(exchange) {
            response.mtype = MessageType::Ack;
            response.message_id = exchange.message_id;
            self.answer(exchange.peer, exchange.message_id, response.to_bytes());
            return exchange.message_id;
        }
        if !exchange.confirmable {
            self.take_unanswered(exchange);
        }
        if matches!(response.mtype, MessageType::Ack | MessageType::Rst) {
            response.mtype = MessageType::Non;
        }
        let non = response.mtype == MessageType::Non;
        let mid = self.send(now, exchange.peer, response);
        if non && !exchange.confirmable {
            // A duplicate of the NON request gets this NON response again (§4.5).
            if let (Some(seen), Some(sent)) = (
                self.seen.get_mut(&(exchange.peer, exchange.message_id)),
                self.transmit.back(),
            ) {
                seen.answer = Some(sent.bytes.clone());
            }
        }
        mid
    }

    /// Acknowledges a Confirmable request with an Empty ACK: the response will be
    /// separate (§5.2.2). Does nothing for a NON request or one already answered.
    pub fn accept(&mut self, exchange: &Exchange) {
        if exchange.confirmable && self.take_unanswered(exchange) {
            let ack = Message::empty(MessageType::Ack, exchange.message_id);
            self.answer(exchange.peer, exchange.message_id, ack.to_bytes());
        }
    }

    /// Rejects a request with a RST.
    pub fn reject(&mut self, exchange: &Exchange) {
        self.take_unanswered(exchange);
        let rst = Message::empty(MessageType::Rst, exchange.message_id);
        self.answer(exchange.peer, exchange.message_id, rst.to_bytes());
    }

    /// A datagram from `peer`.
    pub fn handle_input(&mut self, now: Instant, peer: SocketAddr, datagram: &[u8]) {
        self.expire(now);
        let message = match Message::parse(datagram) {
            Ok(m) => m,
            Err(violation) => {
                let p = Packet::new_unchecked(datagram);
                if datagram.len() >= 4 && p.version() == 1 && p.msg_type() == MessageType::Con {
                    let rst = Message::empty(MessageType::Rst, p.message_id());
                    self.transmit.push_back(Transmit {
                        peer,
                        bytes: rst.to_bytes(),
                    });
                }
                self.events.push_back(EndpointEvent::Malformed {
                    peer,
                    violation,
                    datagram: datagram.to_vec(),
                });
                return;
            }
        };
        match message.mtype {
            MessageType::Ack | MessageType::Rst => self.on_ack_or_reset(now, peer, message),
            MessageType::Con | MessageType::Non => self.on_new(now, peer, message),
        }
    }

    /// Retransmits what is due and gives up on what has used its retransmissions.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.outstanding.len() {
            let o = &mut self.outstanding[i];
            if o.due > now {
                i += 1;
                continue;
            }
            if o.retransmissions < self.params.max_retransmit {
                o.retransmissions += 1;
                o.timeout = o.timeout.saturating_mul(2);
                o.due = now + o.timeout;
                let t = Transmit {
                    peer: o.peer,
                    bytes: o.bytes.clone(),
                };
                self.transmit.push_back(t);
                i += 1;
            } else {
                let o = self.outstanding.remove(i);
                self.pending
                    .retain(|(p, t)| !(*p == o.peer && *t == o.token));
                self.events.push_back(EndpointEvent::TimedOut {
                    peer: o.peer,
                    message_id: o.message_id,
                    token: o.token,
                });
                self.start_waiting(now, o.peer);
            }
        }
        self.expire(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmit.pop_front()
    }

    /// The next retransmission due. Lifetimes expire lazily and wake nobody.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.outstanding.iter().map(|o| o.due).min()
    }

    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    fn fresh_mid(&mut self) -> u16 {
        // Skip Message IDs still awaiting an ACK to the same peer; with 65 536 ids
        // and NSTART-bounded outstanding messages one step nearly always suffices.
        for _ in 0..=u16::MAX {
            let mid = self.next_mid;
            self.next_mid = self.next_mid.wrapping_add(1);
            if !self.outstanding.iter().any(|o| o.message_id == mid) {
                return mid;
            }
        }
        self.next_mid
    }

    fn outstanding_to(&self, peer: SocketAddr) -> usize {
        self.outstanding.iter().filter(|o| o.peer == peer).count()
    }

    fn start_con(&mut self, now: Instant, peer: SocketAddr, message: &Message) {
        let unit = next_random(&mut self.rng) as f64 / u64::MAX as f64;
        let timeout = self.params.initial_timeout(unit);
        let bytes = message.to_bytes();
        self.transmit.push_back(Transmit {
            peer,
            bytes: bytes.clone(),
        });
        self.outstanding.push(Outstanding {
            peer,
            message_id: message.message_id,
            token: message.token.clone(),
            bytes,
            retransmissions: 0,
            timeout,
            due: now + timeout,
        });
    }

    /// Sends what NSTART held back for `peer`, as far as it now allows.
    fn start_waiting(&mut self, now: Instant, peer: SocketAddr) {
        while self.outstanding_to(peer) < self.params.nstart.max(1) {
            let Some(at) = self.waiting.iter().position(|(p, _)| *p == peer) else {
                return;
            };
            if let Some((_, m)) = self.waiting.remove(at) {
                self.start_con(now, peer, &m);
            }
        }
    }

    /// Sends an ACK or RST for a received Message ID and keeps it for duplicates.
    fn answer(&mut self, peer: SocketAddr, mid: u16, bytes: Vec<u8>) {
        if let Some(seen) = self.seen.get_mut(&(peer, mid)) {
            seen.answer = Some(bytes.clone());
        }
        self.unanswered.retain(|u| *u != (peer, mid));
        self.transmit.push_back(Transmit { peer, bytes });
    }

    fn take_unanswered(&mut self, exchange: &Exchange) -> bool {
        let key = (exchange.peer, exchange.message_id);
        let before = self.unanswered.len();
        self.unanswered.retain(|u| *u != key);
        self.unanswered.len() != before
    }

    fn expire(&mut self, now: Instant) {
        self.seen.retain(|_, s| s.expires > now);
        self.sent_non.retain(|_, s| s.expires > now);
    }

    fn on_new(&mut self, now: Instant, peer: SocketAddr, message: Message) {
        let key = (peer, message.message_id);
        if let Some(seen) = self.seen.get_mut(&key) {
            seen.copies = seen.copies.saturating_add(1);
            let copies = seen.copies;
            if let Some(bytes) = seen.answer.clone() {
                self.transmit.push_back(Transmit { peer, bytes });
            }
            self.events.push_back(EndpointEvent::Duplicate {
                peer,
                message_id: message.message_id,
                copies,
            });
            return;
        }
        let confirmable = message.mtype == MessageType::Con;
        let lifetime = if confirmable {
            self.params.exchange_lifetime()
        } else {
            self.params.non_lifetime()
        };
        self.seen.insert(
            key,
            Seen {
                expires: now + lifetime,
                copies: 1,
                answer: None,
            },
        );
        if message.code.is_request() {
            self.unanswered.push(key);
            let exchange = Exchange {
                peer,
                message_id: message.message_id,
                token: message.token.clone(),
                confirmable,
            };
            self.events.push_back(EndpointEvent::Request {
                exchange,
                request: message,
            });
        } else if message.code.is_response() && self.is_pending(peer, &message.token) {
            if confirmable {
                let ack = Message::empty(MessageType::Ack, message.message_id);
                self.answer(peer, message.message_id, ack.to_bytes());
            }
            self.complete(peer, &message);
            self.events.push_back(EndpointEvent::Response {
                peer,
                response: message,
            });
        } else {
            // A response nobody awaits, or a CoAP ping (an Empty CON): either way a
            // Confirmable one is rejected (§4.2, §4.3).
            if confirmable {
                let rst = Message::empty(MessageType::Rst, message.message_id);
                self.answer(peer, message.message_id, rst.to_bytes());
            }
            if !message.code.is_empty() {
                self.events
                    .push_back(EndpointEvent::Unexpected { peer, message });
            }
        }
    }

    fn on_ack_or_reset(&mut self, now: Instant, peer: SocketAddr, message: Message) {
        let mid = message.message_id;
        let found = self
            .outstanding
            .iter()
            .position(|o| o.peer == peer && o.message_id == mid);
        let token = match found {
            Some(i) => {
                let o = self.outstanding.remove(i);
                self.start_waiting(now, peer);
                Some(o.token)
            }
            None if message.mtype == MessageType::Rst => {
                self.sent_non.remove(&(peer, mid)).map(|s| s.token)
            }
            None => None,
        };
        let Some(token) = token else {
            if !message.code.is_empty() {
                self.events
                    .push_back(EndpointEvent::Unexpected { peer, message });
            }
            return;
        };
        if message.mtype == MessageType::Rst {
            self.pending.retain(|(p, t)| !(*p == peer && *t == token));
            self.events.push_back(EndpointEvent::Reset {
                peer,
                message_id: mid,
                token,
            });
        } else if message.code.is_response() && self.is_pending(peer, &message.token) {
            self.complete(peer, &message);
            self.events.push_back(EndpointEvent::Response {
                peer,
                response: message,
            });
        } else {
            self.events.push_back(EndpointEvent::Acknowledged {
                peer,
                message_id: mid,
                token,
            });
        }
    }

    fn is_pending(&self, peer: SocketAddr, token: &[u8]) -> bool {
        self.pending.iter().any(|(p, t)| *p == peer && t == token)
    }

    /// A response ends its request, unless it is a notification (Observe option):
    /// then the observation goes on until [`Endpoint::forget`].
    fn complete(&mut self, peer: SocketAddr, response: &Message) {
        if response.option(OptionNumber::Observe).is_none() {
            self.forget(peer, &response.token);
        }
    }
}

#[cfg(test)]
mod test {
    use super::super::code::Code;
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    const SERVER: u16 = 5683;

    fn sent(e: &mut Endpoint) -> Vec<(SocketAddr, Message)> {
        std::iter::from_fn(|| e.poll_transmit())
            .map(|tx| {
                (
                    tx.peer,
                    Message::parse(&tx.bytes).expect("we send valid CoAP"),
                )
            })
            .collect()
    }

    fn events(e: &mut Endpoint) -> Vec<EndpointEvent> {
        std::iter::from_fn(|| e.poll_event()).collect()
    }

    fn get(path: &str) -> Message {
        Message::new(MessageType::Con, Code::GET, 0).with_path(path)
    }

    /// Drives `e` through every timeout until it gives up; returns the instants of
    /// each transmission (first included) and of the give-up.
    fn run_out(e: &mut Endpoint, start: Instant) -> (Vec<Instant>, Instant) {
        let mut at = vec![start];
        assert_eq!(sent(e).len(), 1);
        loop {
            let due = e.poll_timeout().expect("a CON is outstanding");
            e.handle_timeout(due);
            let out = sent(e);
            if out.is_empty() {
                return (at, due);
            }
            assert_eq!(out.len(), 1);
            at.push(due);
        }
    }

    #[test]
    fn retransmission_instants_follow_section_4_8() {
        for seed in 0..50 {
            let mut e = Endpoint::new(TransmissionParams::default(), seed);
            let (mid, token) = e.request(t(1000), addr(SERVER), get("/a"));
            let (at, gave_up) = run_out(&mut e, t(1000));
            assert_eq!(at.len(), 5, "1 transmission + MAX_RETRANSMIT 4");
            let first = at[1] - at[0];
            assert!(
                (Duration::from_secs(2)..=Duration::from_secs(3)).contains(&first),
                "seed {seed}: first timeout {first:?}"
            );
            for (k, w) in at.windows(2).enumerate() {
                let gap = w[1] - w[0];
                assert_eq!(
                    gap,
                    first * (1 << k),
                    "seed {seed}: gap {k} doubles exactly"
                );
                let (lo, hi) = e.params().retransmission_window(k as u32 + 1);
                assert!(lo <= gap && gap <= hi);
            }
            // Gives up one more doubled timeout after the last retransmission.
            assert_eq!(gave_up - at[4], first * 16);
            assert!(gave_up - at[0] <= e.params().max_transmit_wait());
            assert_eq!(
                events(&mut e),
                [EndpointEvent::TimedOut {
                    peer: addr(SERVER),
                    message_id: mid,
                    token
                }]
            );
            assert_eq!(e.poll_timeout(), None);
        }
    }

    #[test]
    fn retransmissions_repeat_the_same_bytes() {
        let mut e = Endpoint::new(TransmissionParams::default(), 7);
        e.request(t(0), addr(SERVER), get("/a"));
        let first = e.poll_transmit().unwrap();
        for _ in 0..4 {
            e.handle_timeout(e.poll_timeout().unwrap());
            assert_eq!(e.poll_transmit().unwrap(), first);
        }
    }

    #[test]
    fn the_random_factor_comes_from_the_seed() {
        let first = |seed| {
            let mut e = Endpoint::new(TransmissionParams::default(), seed);
            e.request(t(0), addr(SERVER), get("/a"));
            e.poll_timeout().unwrap()
        };
        assert_eq!(first(3), first(3), "same seed, same schedule");
        let spread: std::collections::BTreeSet<Instant> = (0..20).map(first).collect();
        assert!(
            spread.len() > 15,
            "seeds spread the first timeout: {spread:?}"
        );
    }

    #[test]
    fn transmission_parameters_are_configurable() {
        let params = TransmissionParams {
            ack_timeout: Duration::from_millis(500),
            ack_random_factor: 1.0,
            max_retransmit: 2,
            ..TransmissionParams::default()
        };
        let mut e = Endpoint::new(params, 1);
        e.request(t(0), addr(SERVER), get("/a"));
        let (at, gave_up) = run_out(&mut e, t(0));
        assert_eq!(at, [t(0), t(500), t(1500)]);
        assert_eq!(gave_up, t(3500));
    }

    #[test]
    fn an_ack_stops_retransmission_and_a_piggybacked_response_completes() {
        let mut c = Endpoint::new(TransmissionParams::default(), 1);
        let (mid, token) = c.request(t(0), addr(SERVER), get("/a"));
        sent(&mut c);
        let ack = Message::new(MessageType::Ack, Code::CONTENT, mid)
            .with_token(&token)
            .with_payload(*b"hi");
        c.handle_input(t(10), addr(SERVER), &ack.to_bytes());
        assert_eq!(
            events(&mut c),
            [EndpointEvent::Response {
                peer: addr(SERVER),
                response: ack.clone()
            }]
        );
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.outstanding(), 0);
        // A second copy of that ACK matches nothing any more.
        c.handle_input(t(20), addr(SERVER), &ack.to_bytes());
        assert!(matches!(
            events(&mut c)[..],
            [EndpointEvent::Unexpected { .. }]
        ));
        assert!(sent(&mut c).is_empty(), "an ACK is never answered");
    }

    #[test]
    fn separate_response_is_acknowledged() {
        let mut c = Endpoint::new(TransmissionParams::default(), 1);
        let (mid, token) = c.request(t(0), addr(SERVER), get("/slow"));
        sent(&mut c);
        c.handle_input(
            t(5),
            addr(SERVER),
            &Message::empty(MessageType::Ack, mid).to_bytes(),
        );
        assert_eq!(
            events(&mut c),
            [EndpointEvent::Acknowledged {
                peer: addr(SERVER),
                message_id: mid,
                token: token.clone()
            }]
        );
        assert_eq!(
            c.poll_timeout(),
            None,
            "acknowledged: no more retransmissions"
        );
        let resp = Message::new(MessageType::Con, Code::CONTENT, 0x9000).with_token(&token);
        c.handle_input(t(900), addr(SERVER), &resp.to_bytes());
        assert_eq!(
            sent(&mut c),
            [(addr(SERVER), Message::empty(MessageType::Ack, 0x9000))]
        );
        assert!(matches!(
            events(&mut c)[..],
            [EndpointEvent::Response { .. }]
        ));
        // The server did not get our ACK and sends the response again: ACKed again,
        // not delivered again.
        c.handle_input(t(3000), addr(SERVER), &resp.to_bytes());
        assert_eq!(
            sent(&mut c),
            [(addr(SERVER), Message::empty(MessageType::Ack, 0x9000))]
        );
        assert!(matches!(
            events(&mut c)[..],
            [EndpointEvent::Duplicate { copies: 2, .. }]
        ));
    }

    #[test]
    fn nstart_holds_later_confirmables_back() {
        let mut c = Endpoint::new(TransmissionParams::default(), 1);
        let (m1, _) = c.request(t(0), addr(SERVER), get("/1"));
        let (m2, _) = c.request(t(0), addr(SERVER), get("/2"));
        let (m3, _) = c.request(t(0), addr(SERVER + 1), get("/3"));
        let out = sent(&mut c);
        assert_eq!(
            out.iter()
                .map(|(p, m)| (p.port(), m.message_id))
                .collect::<Vec<_>>(),
            [(SERVER, m1), (SERVER + 1, m3)],
            "one outstanding per peer; another peer is not held back"
        );
        assert_ne!(m1, m2, "a fresh Message ID per message");
        // NONs are not held back.
        let non = Message::new(MessageType::Non, Code::GET, 0).with_path("/n");
        c.request(t(1), addr(SERVER), non);
        assert_eq!(sent(&mut c).len(), 1);
        // The ACK of the first releases the second, whose timer starts then.
        c.handle_input(
            t(700),
            addr(SERVER),
            &Message::empty(MessageType::Ack, m1).to_bytes(),
        );
        let out = sent(&mut c);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1.message_id, m2);
        assert_eq!(out[0].1.uri_path(), "/2");
        let due = c.poll_timeout().unwrap();
        assert!(
            due >= t(700 + 2000),
            "second CON's timer starts when it is sent"
        );
    }

    #[test]
    fn nstart_is_released_by_giving_up_and_configurable() {
        let mut c = Endpoint::new(TransmissionParams::default(), 1);
        c.request(t(0), addr(SERVER), get("/1"));
        let (m2, _) = c.request(t(0), addr(SERVER), get("/2"));
        assert_eq!(sent(&mut c).len(), 1);
        for _ in 0..4 {
            c.handle_timeout(c.poll_timeout().unwrap());
            assert_eq!(sent(&mut c).len(), 1, "a retransmission of the first");
        }
        let gave_up = c.poll_timeout().unwrap();
        c.handle_timeout(gave_up);
        let out = sent(&mut c);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].1.message_id, m2,
            "the second goes out when the first gives up"
        );
        assert!(matches!(
            events(&mut c)[..],
            [EndpointEvent::TimedOut { .. }]
        ));
        let mut c2 = Endpoint::new(
            TransmissionParams {
                nstart: 2,
                ..TransmissionParams::default()
            },
            1,
        );
        c2.request(t(0), addr(SERVER), get("/1"));
        c2.request(t(0), addr(SERVER), get("/2"));
        c2.request(t(0), addr(SERVER), get("/3"));
        assert_eq!(sent(&mut c2).len(), 2, "NSTART 2: two outstanding");
    }

    fn server_with_request(con: bool) -> (Endpoint, Exchange, Vec<u8>) {
        let mut s = Endpoint::new(TransmissionParams::default(), 9);
        let mtype = if con {
            MessageType::Con
        } else {
            MessageType::Non
        };
        let req = Message::new(mtype, Code::GET, 0x4242)
            .with_token(&[1, 2])
            .with_path("/r");
        let bytes = req.to_bytes();
        s.handle_input(t(0), addr(40000), &bytes);
        let ev = events(&mut s);
        let [EndpointEvent::Request { exchange, request }] = &ev[..] else {
            panic!("{ev:?}")
        };
        assert_eq!(request, &req);
        assert_eq!(exchange.confirmable, con);
        (s, exchange.clone(), bytes)
    }

    #[test]
    fn server_piggybacks_and_answers_duplicates_with_the_same_ack() {
        let (mut s, ex, req) = server_with_request(true);
        // A duplicate before the answer: nothing to repeat yet, not delivered again.
        s.handle_input(t(100), addr(40000), &req);
        assert!(sent(&mut s).is_empty());
        assert!(matches!(
            events(&mut s)[..],
            [EndpointEvent::Duplicate { copies: 2, .. }]
        ));
        let mid = s.respond(
            t(200),
            &ex,
            Message::new(MessageType::Con, Code::CONTENT, 0).with_payload(*b"x"),
        );
        assert_eq!(mid, 0x4242);
        let out = sent(&mut s);
        let ack = &out[0].1;
        assert_eq!(
            (ack.mtype, ack.code, ack.message_id, &ack.token[..]),
            (MessageType::Ack, Code::CONTENT, 0x4242, &[1u8, 2][..])
        );
        assert_eq!(s.poll_timeout(), None, "an ACK is not retransmitted");
        // Duplicates within EXCHANGE_LIFETIME get the same ACK again.
        let lifetime = TransmissionParams::default().exchange_lifetime();
        s.handle_input(
            t(0) + (lifetime - Duration::from_millis(1)),
            addr(40000),
            &req,
        );
        assert_eq!(sent(&mut s), out);
        assert!(matches!(
            events(&mut s)[..],
            [EndpointEvent::Duplicate { copies: 3, .. }]
        ));
        // After it, the Message ID may be reused: a new request.
        s.handle_input(t(0) + lifetime, addr(40000), &req);
        assert!(matches!(
            events(&mut s)[..],
            [EndpointEvent::Request { .. }]
        ));
        // The same Message ID from another peer is another message.
        s.handle_input(t(1), addr(40001), &req);
        assert!(matches!(
            events(&mut s)[..],
            [EndpointEvent::Request { .. }]
        ));
    }

    #[test]
    fn non_requests_are_deduplicated_within_non_lifetime() {
        let (mut s, ex, req) = server_with_request(false);
        s.respond(
            t(10),
            &ex,
            Message::new(MessageType::Non, Code::CONTENT, 0).with_payload(*b"y"),
        );
        let out = sent(&mut s);
        assert_eq!(out[0].1.mtype, MessageType::Non);
        assert_ne!(
            out[0].1.message_id, 0x4242,
            "a NON response has its own Message ID"
        );
        let lifetime = TransmissionParams::default().non_lifetime();
        s.handle_input(
            t(0) + (lifetime - Duration::from_millis(1)),
            addr(40000),
            &req,
        );
        assert_eq!(sent(&mut s), out, "the same response again");
        assert!(matches!(
            events(&mut s)[..],
            [EndpointEvent::Duplicate { .. }]
        ));
        s.handle_input(t(0) + lifetime, addr(40000), &req);
        assert!(matches!(
            events(&mut s)[..],
            [EndpointEvent::Request { .. }]
        ));
    }

    #[test]
    fn separate_response_from_the_server_is_retransmitted_until_acked() {
        let (mut s, ex, req) = server_with_request(true);
        s.accept(&ex);
        assert_eq!(
            sent(&mut s),
            [(addr(40000), Message::empty(MessageType::Ack, 0x4242))]
        );
        s.handle_input(t(50), addr(40000), &req);
        assert_eq!(
            sent(&mut s),
            [(addr(40000), Message::empty(MessageType::Ack, 0x4242))],
            "a duplicate gets the Empty ACK again"
        );
        events(&mut s);
        let mid = s.respond(
            t(1000),
            &ex,
            Message::new(MessageType::Con, Code::CONTENT, 0).with_payload(*b"late"),
        );
        let out = sent(&mut s);
        assert_eq!(out[0].1.mtype, MessageType::Con);
        assert_eq!(out[0].1.token, [1, 2]);
        let due = s.poll_timeout().unwrap();
        s.handle_timeout(due);
        assert_eq!(sent(&mut s), out, "retransmitted");
        s.handle_input(
            due + Duration::from_millis(3),
            addr(40000),
            &Message::empty(MessageType::Ack, mid).to_bytes(),
        );
        assert_eq!(
            events(&mut s),
            [EndpointEvent::Acknowledged {
                peer: addr(40000),
                message_id: mid,
                token: vec![1, 2]
            }]
        );
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn resets() {
        // A RST to our CON ends it.
        let mut c = Endpoint::new(TransmissionParams::default(), 1);
        let (mid, token) = c.request(t(0), addr(SERVER), get("/a"));
        sent(&mut c);
        c.handle_input(
            t(1),
            addr(SERVER),
            &Message::empty(MessageType::Rst, mid).to_bytes(),
        );
        assert_eq!(
            events(&mut c),
            [EndpointEvent::Reset {
                peer: addr(SERVER),
                message_id: mid,
                token
            }]
        );
        assert_eq!(c.poll_timeout(), None);
        // A RST to a NON notification names its token (an observer leaving).
        let mut s = Endpoint::new(TransmissionParams::default(), 2);
        let note = Message::new(MessageType::Non, Code::CONTENT, 0)
            .with_token(&[7])
            .with_uint(OptionNumber::Observe, 3);
        let mid = s.send(t(0), addr(40000), note);
        sent(&mut s);
        s.handle_input(
            t(10),
            addr(40000),
            &Message::empty(MessageType::Rst, mid).to_bytes(),
        );
        assert_eq!(
            events(&mut s),
            [EndpointEvent::Reset {
                peer: addr(40000),
                message_id: mid,
                token: vec![7]
            }]
        );
        // An unexpected CON response and a CoAP ping are reset.
        let stray = Message::new(MessageType::Con, Code::CONTENT, 0x77).with_token(&[9]);
        s.handle_input(t(20), addr(40000), &stray.to_bytes());
        assert_eq!(
            sent(&mut s),
            [(addr(40000), Message::empty(MessageType::Rst, 0x77))]
        );
        assert!(matches!(
            events(&mut s)[..],
            [EndpointEvent::Unexpected { .. }]
        ));
        s.handle_input(
            t(30),
            addr(40000),
            &Message::empty(MessageType::Con, 0x78).to_bytes(),
        );
        assert_eq!(
            sent(&mut s),
            [(addr(40000), Message::empty(MessageType::Rst, 0x78))]
        );
        assert!(events(&mut s).is_empty());
    }

    #[test]
    fn observations_continue_until_forgotten() {
        let mut c = Endpoint::new(TransmissionParams::default(), 1);
        let req = get("/obs").with_uint(OptionNumber::Observe, 0);
        let (mid, token) = c.request(t(0), addr(SERVER), req);
        sent(&mut c);
        let first = Message::new(MessageType::Ack, Code::CONTENT, mid)
            .with_token(&token)
            .with_uint(OptionNumber::Observe, 1);
        c.handle_input(t(1), addr(SERVER), &first.to_bytes());
        let note = |mid, seq| {
            Message::new(MessageType::Con, Code::CONTENT, mid)
                .with_token(&token)
                .with_uint(OptionNumber::Observe, seq)
                .to_bytes()
        };
        c.handle_input(t(2), addr(SERVER), &note(0x100, 2));
        assert_eq!(events(&mut c).len(), 2, "first response and a notification");
        assert_eq!(sent(&mut c)[0].1.mtype, MessageType::Ack);
        c.forget(addr(SERVER), &token);
        c.handle_input(t(3), addr(SERVER), &note(0x101, 3));
        assert_eq!(
            sent(&mut c),
            [(addr(SERVER), Message::empty(MessageType::Rst, 0x101))],
            "a notification after forgetting is rejected (RFC 7641 §3.6)"
        );
    }

    #[test]
    fn malformed_datagrams_are_named_and_a_readable_con_is_reset() {
        let mut s = Endpoint::new(TransmissionParams::default(), 1);
        // CON with token length 9.
        s.handle_input(t(0), addr(40000), &[0x49, 0x01, 0x12, 0x34]);
        assert_eq!(
            sent(&mut s),
            [(addr(40000), Message::empty(MessageType::Rst, 0x1234))]
        );
        let ev = events(&mut s);
        let [EndpointEvent::Malformed { violation, .. }] = &ev[..] else {
            panic!("{ev:?}")
        };
        assert_eq!(violation.rule.id, "RFC7252-3-tkl");
        // Too short to name a Message ID, or a NON: nothing is sent.
        s.handle_input(t(0), addr(40000), &[0x40, 0x01]);
        s.handle_input(t(0), addr(40000), &[0x59, 0x01, 0, 1]);
        assert!(sent(&mut s).is_empty());
        assert_eq!(events(&mut s).len(), 2);
    }

    #[test]
    fn two_endpoints_over_a_lossy_link() {
        // The client's first two transmissions are lost; the server answers the third.
        let mut c = Endpoint::new(TransmissionParams::default(), 11);
        let mut s = Endpoint::new(TransmissionParams::default(), 12);
        let (ca, sa) = (addr(40000), addr(SERVER));
        let (_, token) = c.request(t(0), sa, get("/x"));
        let mut now = t(0);
        let mut lost = 0;
        let mut delivered = None;
        for _ in 0..20 {
            while let Some(tx) = c.poll_transmit() {
                if lost < 2 {
                    lost += 1;
                    continue;
                }
                s.handle_input(now, ca, &tx.bytes);
            }
            while let Some(ev) = s.poll_event() {
                if let EndpointEvent::Request { exchange, .. } = ev {
                    s.respond(
                        now,
                        &exchange,
                        Message::new(MessageType::Con, Code::CONTENT, 0),
                    );
                }
            }
            while let Some(tx) = s.poll_transmit() {
                c.handle_input(now, sa, &tx.bytes);
            }
            if let Some(EndpointEvent::Response { response, .. }) = c.poll_event() {
                delivered = Some((now, response));
                break;
            }
            now = c.poll_timeout().expect("still retransmitting");
            c.handle_timeout(now);
        }
        let (at, response) = delivered.expect("delivered after two losses");
        assert_eq!(response.token, token);
        assert_eq!(response.mtype, MessageType::Ack);
        assert!(
            at >= t(6000) && at <= t(9000),
            "third transmission at 3× the first timeout: {at:?}"
        );
    }
}
