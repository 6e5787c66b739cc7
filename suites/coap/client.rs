//! The scripted CoAP client tests drive: requests over a recorded UDP socket, CON
//! retransmission per RFC 7252 §4.8, and replies matched by Message ID and token.
//!
//! Every datagram goes through the recorder, so each verdict keeps its evidence. A
//! datagram from the server that breaks a format rule is itself a failure naming the
//! rule.
//!
//! Beyond single exchanges, the client drives the two multi-message patterns of the
//! suite: block-wise transfers ([`Client::get_blocks`], [`Client::put_blocks`], RFC 7959)
//! and observations ([`Client::observe`], [`Client::notification`], RFC 7641). A
//! notification that arrives while the client waits for something else is acknowledged
//! and kept for the next [`Client::notification`] call, never answered with a RST.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use hilt_core::SpecRef;
use hilt_net::RecordedUdp;
use hilt_runner::{Ctx, Failure};
use hilt_wire::coap::{
    Block, CoapOption, Code, Message, MessageType, OptionNumber, observe, summarize,
};
use tokio::time::{Instant, timeout_at};

/// ACK_TIMEOUT (RFC 7252 §4.8).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// ACK_RANDOM_FACTOR, as thousandths.
pub const ACK_RANDOM_FACTOR_MILLI: u32 = 1500;
/// MAX_RETRANSMIT.
pub const MAX_RETRANSMIT: u32 = 4;

/// MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2): the longest a sender keeps a CON message alive,
/// from its first transmission to giving up after the last retransmission's timeout:
/// ACK_TIMEOUT × (2^(MAX_RETRANSMIT + 1) − 1) × ACK_RANDOM_FACTOR.
pub const MAX_TRANSMIT_WAIT: Duration = Duration::from_millis(
    2_000 * ((1 << (MAX_RETRANSMIT + 1)) - 1) * ACK_RANDOM_FACTOR_MILLI as u64 / 1000,
);

/// The most blocks a block-wise transfer may take before the drivers stop following the
/// server: bounds a server whose M flag never says the transfer is done.
pub const MAX_BLOCKS: usize = 1024;

/// A datagram from the server, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub msg: Message,
    pub at: Instant,
}

/// What came back for one request.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// The ACK or RST carrying the request's Message ID (CON requests only).
    pub ack: Option<Reply>,
    /// The response carrying the request's token: piggybacked in the ACK, or separate.
    pub response: Option<Reply>,
    /// Datagrams that matched neither, in arrival order (evidence for a failure).
    pub stray: Vec<Message>,
    /// Replies the client treated as lost in transit (see [`Client::exchange_losing`]):
    /// they reached the socket and are recorded, but the client acted as if they had not.
    pub lost: Vec<Reply>,
    /// How many times the request was sent.
    pub transmissions: u32,
}

impl Exchange {
    /// The strays in one line each, for failure messages.
    pub fn strays(&self) -> String {
        if self.stray.is_empty() {
            "nothing else arrived".into()
        } else {
            let s: Vec<String> = self.stray.iter().map(summarize).collect();
            format!("instead: {}", s.join("; "))
        }
    }
}

/// One request of a block-wise transfer and what came back for it.
#[derive(Debug, Clone)]
pub struct Step {
    pub req: Message,
    pub ex: Exchange,
}

impl Step {
    /// The response (the drivers only record steps that got one).
    pub fn resp(&self) -> &Message {
        &self
            .ex
            .response
            .as_ref()
            .expect("a recorded step has a response")
            .msg
    }
}

/// A block-wise transfer as it went on the wire: every request with its response, and
/// the body the blocks assemble to (Block2: each payload placed at its block's offset).
#[derive(Debug, Clone, Default)]
pub struct Transfer {
    pub steps: Vec<Step>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub struct Client {
    udp: RecordedUdp,
    mid: u16,
    tok: u64,
    response: Duration,
    /// Draws the initial retransmission timeout's random factor.
    seed: u64,
    /// Tokens of the observations this client holds.
    observing: Vec<Vec<u8>>,
    /// Notifications that arrived while the client waited for something else.
    held: VecDeque<Reply>,
    /// Message IDs of CON notifications already delivered: a retransmission of one is
    /// acknowledged again but not delivered twice.
    delivered: HashSet<u16>,
    /// Datagrams nothing was waiting for, in arrival order (evidence for failures).
    pub unexpected: Vec<Message>,
}

/// The Block2 a client asks for after receiving block `b` (RFC 7959 §2.4): the one
/// holding the next byte, in the server's block size or in `szx` when that is smaller.
pub fn next_block2(b: Block, szx: Option<u8>) -> Block {
    let szx = szx.map_or(b.szx, |s| s.min(b.szx));
    let size = 1usize << (usize::from(szx) + 4);
    Block {
        num: ((b.offset() + b.size()) / size) as u32,
        more: false,
        szx,
    }
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

impl Client {
    /// A client on its own UDP socket. A test may open several: each is a separate
    /// endpoint to the server (an observer and the client that updates its resource).
    pub async fn open(ctx: &Ctx) -> Result<Self, Failure> {
        // The socket's place among the test's flows keeps two clients of one test apart.
        let nth = ctx.recorder().conns().len() as u64;
        let seed = ctx
            .unique("")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
            ^ mix(nth.wrapping_add(0x9e37_79b9));
        Ok(Client {
            udp: ctx.udp("coap").await?,
            // Message IDs and tokens start at values unique to the test attempt, so
            // parallel tests never look like duplicates to the server.
            mid: (mix(seed) & 0xffff) as u16,
            tok: mix(seed ^ 0x5555),
            response: ctx.response_timeout(),
            seed,
            observing: Vec::new(),
            held: VecDeque::new(),
            delivered: HashSet::new(),
            unexpected: Vec::new(),
        })
    }

    /// The target's response time (from its target file).
    pub fn response_time(&self) -> Duration {
        self.response
    }

    pub fn next_mid(&mut self) -> u16 {
        self.mid = self.mid.wrapping_add(1);
        self.mid
    }

    /// A fresh token of `len` bytes (0–8).
    pub fn token(&mut self, len: usize) -> Vec<u8> {
        self.tok = mix(self.tok.wrapping_add(1));
        self.tok.to_be_bytes()[..len.min(8)].to_vec()
    }

    /// A request of `mtype` and `code` for `path`, with a new Message ID and a 4-byte token.
    pub fn request(&mut self, mtype: MessageType, code: Code, path: &str) -> Message {
        let mid = self.next_mid();
        let tok = self.token(4);
        Message::new(mtype, code, mid)
            .with_token(&tok)
            .with_path(path)
    }

    pub async fn send(&self, m: &Message) -> Result<(), Failure> {
        self.send_raw(&m.to_bytes()).await
    }

    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), Failure> {
        self.udp
            .send(bytes)
            .await
            .map_err(|e| Failure::error(format!("cannot send to the server: {e}")))
    }

    /// The next datagram before `deadline`, decoded strictly; `None` when silent.
    pub async fn recv_until(&mut self, deadline: Instant) -> Result<Option<Reply>, Failure> {
        match timeout_at(deadline, self.udp.recv()).await {
            Err(_) => Ok(None),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(Failure::error(
                format!("the server's port is closed (ICMP port unreachable): {e}"),
            )),
            Ok(Err(e)) => Err(Failure::error(format!("cannot receive: {e}"))),
            Ok(Ok(bytes)) => match Message::parse(&bytes) {
                Ok(msg) => Ok(Some(Reply {
                    msg,
                    at: Instant::now(),
                })),
                Err(v) => Err(Failure::fail(
                    v.rule,
                    format!("the server sent a malformed datagram: {v}"),
                )),
            },
        }
    }

    /// The first retransmission timeout: ACK_TIMEOUT times a factor drawn from
    /// [1, ACK_RANDOM_FACTOR].
    fn initial_timeout(&mut self) -> Duration {
        self.seed = mix(self.seed.wrapping_add(1));
        let spread = u64::from(ACK_RANDOM_FACTOR_MILLI - 1000);
        let factor = 1000 + self.seed % (spread + 1);
        ACK_TIMEOUT * factor as u32 / 1000
    }

    /// How long a request waits for its reply before the test judges silence: past the
    /// largest first retransmission timeout plus the target's response time, so a
    /// silent server has seen the request at least twice.
    pub fn patience(&self) -> Duration {
        ACK_TIMEOUT * ACK_RANDOM_FACTOR_MILLI / 1000 + self.response
    }

    /// Sends `req` and collects its replies: for a CON, the ACK or RST with its Message
    /// ID (retransmitting per §4.8 until one arrives); the response with its token,
    /// piggybacked or separate (a separate CON response is acknowledged). Waits up to
    /// [`Client::patience`] for the first reply and `separate_wait` more for a
    /// separate response after an Empty ACK.
    pub async fn exchange(
        &mut self,
        req: &Message,
        separate_wait: Duration,
    ) -> Result<Exchange, Failure> {
        self.exchange_losing(req, separate_wait, |_| false).await
    }

    /// As [`Client::exchange`], on a lossy path emulated in user space: each reply for
    /// which `lose` holds is kept in [`Exchange::lost`] and otherwise ignored, as if it
    /// had never arrived: a lost ACK leaves the request to be retransmitted, a lost CON
    /// response goes unacknowledged so the server must retransmit it. Each loss extends
    /// the wait by [`Client::patience`], the time a retransmission takes to come.
    pub async fn exchange_losing(
        &mut self,
        req: &Message,
        separate_wait: Duration,
        mut lose: impl FnMut(&Message) -> bool,
    ) -> Result<Exchange, Failure> {
        let mut ex = Exchange::default();
        let start = Instant::now();
        let mut give_up = start + self.patience();
        let con = req.mtype == MessageType::Con;
        let mut timeout = self.initial_timeout();
        let mut next_send = start;
        loop {
            if con && ex.ack.is_none() && ex.response.is_none() && Instant::now() >= next_send {
                if ex.transmissions > MAX_RETRANSMIT {
                    // MAX_RETRANSMIT reached: §4.2 says give up.
                    return Ok(ex);
                }
                self.send(req).await?;
                ex.transmissions += 1;
                if ex.transmissions > 1 {
                    timeout *= 2;
                }
                next_send = Instant::now() + timeout;
            } else if !con && ex.transmissions == 0 {
                self.send(req).await?;
                ex.transmissions = 1;
            }
            let waiting_ack = con && ex.ack.is_none() && ex.response.is_none();
            let until = if waiting_ack {
                next_send.min(give_up)
            } else {
                give_up
            };
            let Some(r) = self.recv_until(until).await? else {
                if Instant::now() >= give_up {
                    return Ok(ex);
                }
                continue;
            };
            if lose(&r.msg) {
                give_up = give_up.max(Instant::now() + self.patience());
                ex.lost.push(r);
                continue;
            }
            let m = &r.msg;
            let acks_it = con
                && matches!(m.mtype, MessageType::Ack | MessageType::Rst)
                && m.message_id == req.message_id;
            if acks_it && ex.ack.is_none() {
                let piggybacked = m.mtype == MessageType::Ack && m.code.is_response();
                let reset = m.mtype == MessageType::Rst;
                ex.ack = Some(r.clone());
                if piggybacked || reset {
                    if piggybacked {
                        ex.response = Some(r);
                    }
                    return Ok(ex);
                }
                // An Empty ACK: a separate response follows.
                give_up = Instant::now() + separate_wait + self.response;
                if ex.response.is_some() {
                    return Ok(ex);
                }
                continue;
            }
            // Until its ACK arrives, a CON request reusing an observation's token cannot
            // tell a separate response from a notification: it is taken as a notification.
            let notification_first = con && ex.ack.is_none() && self.observing.contains(&req.token);
            let responds = m.code.is_response()
                && m.token == req.token
                && matches!(m.mtype, MessageType::Con | MessageType::Non)
                && !notification_first;
            if responds && ex.response.is_none() {
                if m.mtype == MessageType::Con {
                    self.send(&Message::empty(MessageType::Ack, m.message_id))
                        .await?;
                }
                ex.response = Some(r);
                if !con || ex.ack.is_some() {
                    return Ok(ex);
                }
                // The ACK may still come (or have been lost): wait briefly for it.
                give_up = give_up.min(Instant::now() + self.response);
                continue;
            }
            if self.keep_notification(&r).await? {
                continue;
            }
            if m.mtype == MessageType::Con {
                // Whatever it is, a CON expects an answer; a stray one gets a RST.
                self.send(&Message::empty(MessageType::Rst, m.message_id))
                    .await?;
            }
            ex.stray.push(r.msg);
        }
    }

    /// Whether `m` is a notification (a CON or NON response) for `token`.
    fn is_notification_for(m: &Message, token: &[u8]) -> bool {
        m.code.is_response()
            && m.token == token
            && matches!(m.mtype, MessageType::Con | MessageType::Non)
    }

    /// Takes `r` if it is a notification of one of this client's observations: a CON
    /// one is acknowledged, and it is held for [`Client::notification`] unless it
    /// repeats one already delivered.
    async fn keep_notification(&mut self, r: &Reply) -> Result<bool, Failure> {
        let observed = self
            .observing
            .iter()
            .any(|t| Self::is_notification_for(&r.msg, t));
        if !observed {
            return Ok(false);
        }
        if self.acknowledge(&r.msg).await? {
            self.held.push_back(r.clone());
        }
        Ok(true)
    }

    /// Acknowledges `m` if it is CON; whether it is new (not a repeat of a CON
    /// notification already delivered).
    async fn acknowledge(&mut self, m: &Message) -> Result<bool, Failure> {
        if m.mtype != MessageType::Con {
            return Ok(true);
        }
        self.send(&Message::empty(MessageType::Ack, m.message_id))
            .await?;
        Ok(self.delivered.insert(m.message_id))
    }

    /// A CoAP ping (an Empty CON, answered by a RST, RFC 7252 §4.3). Datagrams from one
    /// endpoint are handled in order, so once the RST is back the server has handled
    /// everything this client sent before (an ACK, say) and another client's request
    /// cannot overtake it.
    pub async fn ping(&mut self) -> Result<(), Failure> {
        let mid = self.next_mid();
        let ex = self
            .exchange(&Message::empty(MessageType::Con, mid), Duration::ZERO)
            .await?;
        match ex.ack {
            Some(r) if r.msg.mtype == MessageType::Rst => Ok(()),
            _ => Err(Failure::error(format!(
                "a CoAP ping (mid=0x{mid:04x}) got no RST; {}",
                ex.strays()
            ))),
        }
    }

    /// Registers interest in `path` (RFC 7641 §3.1): sends a GET of `mtype` with
    /// Observe 0 and returns it with its exchange. Once a response arrives, the token
    /// counts as an observation of this client.
    pub async fn observe(
        &mut self,
        mtype: MessageType,
        path: &str,
    ) -> Result<(Message, Exchange), Failure> {
        let req = self
            .request(mtype, Code::GET, path)
            .with_uint(OptionNumber::Observe, observe::REGISTER);
        let ex = self.exchange(&req, Duration::ZERO).await?;
        if ex.response.is_some() {
            self.watch(&req.token);
        }
        Ok((req, ex))
    }

    /// Counts `token` as an observation: its notifications are acknowledged and held
    /// when they arrive during other exchanges.
    pub fn watch(&mut self, token: &[u8]) {
        if !self.observing.iter().any(|t| t == token) {
            self.observing.push(token.to_vec());
        }
    }

    /// Stops counting `token` as an observation: its notifications become strays again
    /// (a CON one is answered with a RST, as RFC 7641 §3.6 lets a client that lost
    /// interest do).
    pub fn unwatch(&mut self, token: &[u8]) {
        self.observing.retain(|t| t != token);
        self.held.retain(|r| r.msg.token != token);
    }

    /// The next notification with `token` before `deadline`, acknowledged if CON; a
    /// retransmission of one already delivered is acknowledged and skipped. Other
    /// datagrams are handled as in [`Client::exchange`] and kept in `unexpected`.
    pub async fn notification(
        &mut self,
        token: &[u8],
        deadline: Instant,
    ) -> Result<Option<Reply>, Failure> {
        loop {
            let Some(r) = self.next_for(token, deadline).await? else {
                return Ok(None);
            };
            if self.acknowledge(&r.msg).await? {
                return Ok(Some(r));
            }
        }
    }

    /// The next datagram that is a notification with `token` before `deadline`, not
    /// acknowledged and not marked delivered: for a client that plays lost (it discards
    /// the datagram, or is switched off) or answers it itself, e.g. with a RST.
    pub async fn next_for(
        &mut self,
        token: &[u8],
        deadline: Instant,
    ) -> Result<Option<Reply>, Failure> {
        if let Some(i) = self.held.iter().position(|r| r.msg.token == token) {
            return Ok(self.held.remove(i));
        }
        loop {
            let Some(r) = self.recv_until(deadline).await? else {
                return Ok(None);
            };
            if Self::is_notification_for(&r.msg, token) {
                return Ok(Some(r));
            }
            if self.keep_notification(&r).await? {
                continue;
            }
            if r.msg.mtype == MessageType::Con {
                self.send(&Message::empty(MessageType::Rst, r.msg.message_id))
                    .await?;
            }
            self.unexpected.push(r.msg);
        }
    }

    /// A copy of `template` as a new request: a fresh Message ID and token, without
    /// Block1, Block2, Size1, Size2 or payload.
    pub fn follow_up(&mut self, template: &Message) -> Message {
        let mut m = template.clone();
        m.message_id = self.next_mid();
        m.token = self.token(4);
        m.options.retain(|o| {
            !matches!(
                o.number,
                OptionNumber::Block1
                    | OptionNumber::Block2
                    | OptionNumber::Size1
                    | OptionNumber::Size2
            )
        });
        m.payload.clear();
        m
    }

    /// Retrieves a representation block by block (RFC 7959 §2.4): sends `first` (with a
    /// Block2 option for early negotiation, or without for late), then, while the
    /// server's Block2 says more blocks follow, asks for the next one with a copy of
    /// `first` ([`Client::follow_up`]). Later requests use the block size the server
    /// used, or `szx` when that is smaller; NUM then counts in the smaller size. Stops
    /// at a response that is not a success, has no Block2, or has M=0, and after
    /// [`MAX_BLOCKS`]; the caller judges the steps. No response at all fails with `rule`.
    pub async fn get_blocks(
        &mut self,
        first: Message,
        szx: Option<u8>,
        rule: SpecRef,
    ) -> Result<Transfer, Failure> {
        self.get_blocks_after(Transfer::default(), first, szx, rule)
            .await
    }

    /// As [`Client::get_blocks`], continuing `t`: a transfer whose first block came
    /// some other way (a notification, the response to a Block1 transfer). `first`
    /// asks for the next block and is the template of the requests after it.
    pub async fn get_blocks_after(
        &mut self,
        mut t: Transfer,
        first: Message,
        szx: Option<u8>,
        rule: SpecRef,
    ) -> Result<Transfer, Failure> {
        let mut req = first.clone();
        loop {
            let (ex, resp) = self.response(&req, rule).await?;
            t.steps.push(Step {
                req: req.clone(),
                ex,
            });
            let Some(b) = resp.block2() else {
                t.body = resp.payload;
                return Ok(t);
            };
            if b.offset() <= t.body.len() {
                t.body.truncate(b.offset());
                t.body.extend_from_slice(&resp.payload);
            }
            if resp.code.class() != 2 || !b.more || t.steps.len() >= MAX_BLOCKS {
                return Ok(t);
            }
            req = self.follow_up(&first);
            req.push(CoapOption::new(
                OptionNumber::Block2,
                next_block2(b, szx).to_value(),
            ));
        }
    }

    /// Sends `body` block by block with Block1 (RFC 7959 §2.5), each request a
    /// [`Client::follow_up`] of `template` carrying Block1, Size1 (the body's length)
    /// and one block, starting with blocks of 2^(`szx`+4) bytes. When a response's Block1
    /// asks for a smaller size, the rest goes in that size (resuming at the block number
    /// the smaller size gives the next byte). Stops after the final block, at a
    /// response that is neither 2.31 (Continue) nor another success, and after
    /// [`MAX_BLOCKS`]; the caller judges the steps. No response fails with `rule`.
    pub async fn put_blocks(
        &mut self,
        template: &Message,
        body: &[u8],
        mut szx: u8,
        rule: SpecRef,
    ) -> Result<Transfer, Failure> {
        let mut t = Transfer::default();
        let mut offset = 0usize;
        loop {
            let size = Block {
                num: 0,
                more: false,
                szx,
            }
            .size();
            let end = (offset + size).min(body.len());
            let more = end < body.len();
            let block = Block {
                num: (offset / size) as u32,
                more,
                szx,
            };
            let mut req = self.follow_up(template);
            req.push(CoapOption::new(OptionNumber::Block1, block.to_value()));
            req.push(CoapOption::uint(OptionNumber::Size1, body.len() as u32));
            req.payload = body[offset..end].to_vec();
            let (ex, resp) = self.response(&req, rule).await?;
            t.steps.push(Step { req, ex });
            if !more || resp.code.class() != 2 || t.steps.len() >= MAX_BLOCKS {
                t.body = body.to_vec();
                return Ok(t);
            }
            if let Some(b) = resp.block1()
                && b.szx < szx
            {
                szx = b.szx;
            }
            offset = end;
        }
    }

    /// Sends `req` and returns its response, failing with `rule` when none arrives.
    pub async fn response(
        &mut self,
        req: &Message,
        rule: SpecRef,
    ) -> Result<(Exchange, Message), Failure> {
        let ex = self.exchange(req, Duration::ZERO).await?;
        match &ex.response {
            Some(r) => {
                let m = r.msg.clone();
                Ok((ex, m))
            }
            None => Err(Failure::fail(
                rule,
                format!(
                    "no response with token {:02x?} to {} (sent {} times); {}",
                    req.token,
                    summarize(req),
                    ex.transmissions,
                    ex.strays()
                ),
            )),
        }
    }
}
