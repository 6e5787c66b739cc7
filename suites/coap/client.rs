//! The scripted CoAP client tests drive: requests over a recorded UDP socket, CON
//! retransmission per RFC 7252 §4.8, and replies matched by Message ID and token.
//!
//! Every datagram goes through the recorder, so each verdict keeps its evidence. A
//! datagram from the server that breaks a format rule is itself a failure naming the
//! rule.

use std::time::Duration;

use hilt_core::SpecRef;
use hilt_net::RecordedUdp;
use hilt_runner::{Ctx, Failure};
use hilt_wire::coap::{Code, Message, MessageType, summarize};
use tokio::time::{Instant, timeout_at};

/// ACK_TIMEOUT (RFC 7252 §4.8).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// ACK_RANDOM_FACTOR, as thousandths.
pub const ACK_RANDOM_FACTOR_MILLI: u32 = 1500;
/// MAX_RETRANSMIT.
pub const MAX_RETRANSMIT: u32 = 4;

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

#[derive(Debug)]
pub struct Client {
    udp: RecordedUdp,
    mid: u16,
    tok: u64,
    response: Duration,
    /// Draws the initial retransmission timeout's random factor.
    seed: u64,
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

impl Client {
    pub async fn open(ctx: &Ctx) -> Result<Self, Failure> {
        let seed = ctx
            .unique("")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        Ok(Client {
            udp: ctx.udp("coap").await?,
            // Message IDs and tokens start at values unique to the test attempt, so
            // parallel tests never look like duplicates to the server.
            mid: (mix(seed) & 0xffff) as u16,
            tok: mix(seed ^ 0x5555),
            response: ctx.response_timeout(),
            seed,
        })
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
            let responds = m.code.is_response()
                && m.token == req.token
                && matches!(m.mtype, MessageType::Con | MessageType::Non);
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
            if m.mtype == MessageType::Con {
                // Whatever it is, a CON expects an answer; a stray one gets a RST.
                self.send(&Message::empty(MessageType::Rst, m.message_id))
                    .await?;
            }
            ex.stray.push(r.msg);
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
