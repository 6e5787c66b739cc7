//! The scripted MQTT client conformance tests drive: send packets (valid or not), and
//! judge what the broker answers against protocol deadlines.
//!
//! Every byte goes through a recorded connection, so each verdict keeps its packets.
//! Anything the broker sends is decoded strictly: a malformed packet from the broker is
//! itself a failure naming the rule it breaks.

use std::collections::VecDeque;
use std::time::Duration;

use hilt_core::SpecRef;
use hilt_net::RecordedTcp;
use hilt_runner::{Ctx, Failure};
use hilt_wire::Decoded;
use hilt_wire::mqtt::{ConnAck, Connect, Packet, ReasonCode, Version, decode};
use tokio::time::{Instant, timeout_at};

/// What came next from the broker.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Packet(Packet),
    /// The broker closed the connection (end of stream or reset).
    Closed,
    /// Nothing arrived before the deadline.
    Silent,
}

/// What came next from the broker, as bytes ([`Session::next_frame`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawNext {
    /// One whole frame, fixed header included.
    Frame(Vec<u8>),
    Closed,
    Silent,
}

#[derive(Debug)]
pub struct Session {
    tcp: RecordedTcp,
    pub version: Version,
    buf: Vec<u8>,
    queued: VecDeque<Packet>,
    closed: bool,
    response: Duration,
}

/// The manifest name of `version`'s specification.
pub fn doc(version: Version) -> &'static str {
    match version {
        Version::V5 => "mqtt-v5",
        Version::V311 => "mqtt-v3.1.1",
    }
}

pub fn name(p: &Packet) -> &'static str {
    p.packet_type().name()
}

impl Session {
    /// Opens a connection without sending anything.
    pub async fn open(ctx: &Ctx, version: Version) -> Result<Self, Failure> {
        Ok(Session {
            tcp: ctx.connect("mqtt").await?,
            version,
            buf: Vec::with_capacity(4096),
            queued: VecDeque::new(),
            closed: false,
            response: ctx.response_timeout(),
        })
    }

    /// Opens a connection, sends `connect` and returns the broker's CONNACK, whatever
    /// its reason code. `rule` is the statement that requires a CONNACK in reply.
    pub async fn connect_with(
        ctx: &Ctx,
        version: Version,
        connect: Connect,
        rule: SpecRef,
    ) -> Result<(Self, ConnAck), Failure> {
        let mut s = Session::open(ctx, version).await?;
        s.send(&Packet::Connect(connect)).await?;
        let ack = s
            .expect(rule, "CONNACK", |p| match p {
                Packet::ConnAck(a) => Some(a.clone()),
                _ => None,
            })
            .await?;
        Ok((s, ack))
    }

    /// Connects and requires the broker to accept (reason code 0); a refusal here is an
    /// error of the test's premise, not the behaviour under test.
    pub async fn connected(
        ctx: &Ctx,
        version: Version,
        connect: Connect,
    ) -> Result<(Self, ConnAck), Failure> {
        let mut s = Session::open(ctx, version).await?;
        s.send(&Packet::Connect(connect)).await?;
        match s.next(s.response).await? {
            Next::Packet(Packet::ConnAck(a)) if a.code == ReasonCode::SUCCESS => Ok((s, a)),
            Next::Packet(Packet::ConnAck(a)) => Err(Failure::error(format!(
                "the broker refused a plain CONNECT with reason code {:#04x} ({})",
                a.code.0,
                a.code.name().unwrap_or("unknown")
            ))),
            other => Err(Failure::error(format!(
                "no CONNACK to a plain CONNECT: {}",
                describe(&other)
            ))),
        }
    }

    pub fn response_timeout(&self) -> Duration {
        self.response
    }

    pub async fn send(&mut self, p: &Packet) -> Result<(), Failure> {
        let mut bytes = Vec::with_capacity(64);
        p.emit(self.version, &mut bytes);
        self.send_raw(&bytes).await
    }

    /// Sends bytes as they are. A broker that already closed the connection makes the
    /// write fail; that is recorded as the close it is, not as an error.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        if self.closed {
            return Ok(());
        }
        if self.tcp.send(bytes).await.is_err() {
            self.closed = true;
        }
        Ok(())
    }

    /// Ends our sending side (TCP FIN) without a DISCONNECT packet.
    pub async fn half_close(&mut self) {
        let _ = self.tcp.shutdown_write().await;
    }

    /// The next packet, the close, or silence within `within`.
    pub async fn next(&mut self, within: Duration) -> Result<Next, Failure> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(p) = self.queued.pop_front() {
                return Ok(Next::Packet(p));
            }
            if !self.buf.is_empty() {
                match decode(&self.buf, self.version) {
                    Ok(Decoded::Done(p, n)) => {
                        self.buf.drain(..n);
                        return Ok(Next::Packet(p));
                    }
                    Ok(Decoded::NeedMore(_)) => {}
                    Err(v) => {
                        return Err(Failure::fail(
                            v.rule,
                            format!("the broker sent a malformed packet: {v}"),
                        ));
                    }
                }
            }
            if self.closed {
                return Ok(Next::Closed);
            }
            match timeout_at(deadline, self.tcp.recv(&mut self.buf)).await {
                Err(_) => return Ok(Next::Silent),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.closed = true;
                    if !self.buf.is_empty() {
                        // The stream ended inside a packet.
                        let partial = self.buf.len();
                        self.buf.clear();
                        return Err(Failure::fail(
                            SpecRef::new(doc(self.version), "§2.1.4"),
                            format!(
                                "the broker closed the connection in the middle of a packet ({partial} bytes of it sent)"
                            ),
                        ));
                    }
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The next frame as the broker wrote it, undecoded: for a reply whose layout the test
    /// cannot know in advance (a CONNACK answering a protocol level the broker does not
    /// speak may come in 3.1.1's layout or in 5.0's). Only the fixed header is checked.
    pub async fn next_frame(&mut self, within: Duration) -> Result<RawNext, Failure> {
        if !self.queued.is_empty() {
            return Err(Failure::error(
                "next_frame called with decoded packets still queued",
            ));
        }
        let deadline = Instant::now() + within;
        loop {
            if !self.buf.is_empty() {
                match hilt_wire::mqtt::frame_len_for(&self.buf, self.version) {
                    Ok(Decoded::Done(n, _)) => {
                        return Ok(RawNext::Frame(self.buf.drain(..n).collect()));
                    }
                    Ok(Decoded::NeedMore(_)) => {}
                    Err(v) => {
                        return Err(Failure::fail(
                            v.rule,
                            format!("the broker sent a malformed fixed header: {v}"),
                        ));
                    }
                }
            }
            if self.closed {
                if !self.buf.is_empty() {
                    let partial = std::mem::take(&mut self.buf).len();
                    return Err(Failure::fail(
                        SpecRef::new(doc(self.version), "§2.1.4"),
                        format!(
                            "the broker closed the connection in the middle of a packet ({partial} bytes of it sent)"
                        ),
                    ));
                }
                return Ok(RawNext::Closed);
            }
            match timeout_at(deadline, self.tcp.recv(&mut self.buf)).await {
                Err(_) => return Ok(RawNext::Silent),
                Ok(Ok(0)) | Ok(Err(_)) => self.closed = true,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Waits for the next packet and requires `pick` to accept it; anything else (another
    /// packet, a close, silence beyond the response deadline) fails `rule`.
    pub async fn expect<T>(
        &mut self,
        rule: SpecRef,
        what: &str,
        mut pick: impl FnMut(&Packet) -> Option<T>,
    ) -> Result<T, Failure> {
        match self.next(self.response).await? {
            Next::Packet(p) => match pick(&p) {
                Some(t) => Ok(t),
                None => Err(Failure::fail(
                    rule,
                    format!(
                        "expected {what}, the broker sent {}",
                        summarize(&p, self.version)
                    ),
                )),
            },
            other => Err(Failure::fail(
                rule,
                format!("expected {what}: {}", describe(&other)),
            )),
        }
    }

    /// Like [`Session::expect`], but passes over packets `pick` does not accept (they are
    /// kept for later reads) until one matches or the deadline passes.
    pub async fn wait_for<T>(
        &mut self,
        rule: SpecRef,
        what: &str,
        within: Duration,
        mut pick: impl FnMut(&Packet) -> Option<T>,
    ) -> Result<T, Failure> {
        let deadline = Instant::now() + within;
        let mut passed = VecDeque::new();
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::Packet(p) => match pick(&p) {
                    Some(t) => break Ok(t),
                    None => passed.push_back(p),
                },
                other => {
                    break Err(Failure::fail(
                        rule,
                        format!("expected {what}: {}", describe(&other)),
                    ));
                }
            }
        };
        passed.extend(self.queued.drain(..));
        self.queued = passed;
        result
    }

    /// Sends PINGREQ and returns every packet that arrived before the PINGRESP: the
    /// broker handles a connection's packets in order, so whatever it was going to send
    /// in response to earlier packets has been sent by then.
    pub async fn barrier(&mut self, rule: SpecRef) -> Result<Vec<Packet>, Failure> {
        self.send(&Packet::PingReq).await?;
        let mut before = Vec::new();
        loop {
            match self.next(self.response).await? {
                Next::Packet(Packet::PingResp) => return Ok(before),
                Next::Packet(p) => before.push(p),
                other => {
                    return Err(Failure::fail(
                        rule,
                        format!("expected PINGRESP to a PINGREQ: {}", describe(&other)),
                    ));
                }
            }
        }
    }

    /// Requires the broker to close the connection because of what was just sent. A
    /// PINGREQ probes it: a PINGRESP proves the broker read past the offending packet
    /// and kept the connection, so the test need not wait for a timer. In 5.0 a
    /// DISCONNECT with a reason code of 0x80 or above may precede the close.
    pub async fn expect_close(&mut self, rule: SpecRef, what: &str) -> Result<(), Failure> {
        self.send(&Packet::PingReq).await?;
        self.await_close(rule, what).await
    }

    /// Like [`Session::expect_close`] without the probe: for bytes after which a PINGREQ
    /// would be read as part of the offending packet.
    pub async fn await_close(&mut self, rule: SpecRef, what: &str) -> Result<(), Failure> {
        loop {
            match self.next(self.response).await? {
                Next::Closed => return Ok(()),
                Next::Packet(Packet::Disconnect(d)) if self.version == Version::V5 => {
                    if d.code.0 < 0x80 {
                        return Err(Failure::fail(
                            rule,
                            format!(
                                "{what}: the broker sent DISCONNECT with a success code {:#04x}",
                                d.code.0
                            ),
                        ));
                    }
                }
                Next::Packet(Packet::ConnAck(a)) if a.code.0 >= 0x80 => {}
                Next::Packet(Packet::PingResp) => {
                    return Err(Failure::fail(
                        rule,
                        format!(
                            "{what}, yet the broker answered the next PINGREQ and kept the connection open"
                        ),
                    ));
                }
                Next::Packet(p) => {
                    return Err(Failure::fail(
                        rule,
                        format!(
                            "{what}, yet the broker sent {} instead of closing",
                            summarize(&p, self.version)
                        ),
                    ));
                }
                Next::Silent => {
                    return Err(Failure::fail(
                        rule,
                        format!(
                            "{what}, yet the broker neither closed the connection nor answered within {:?}",
                            self.response
                        ),
                    ));
                }
            }
        }
    }

    /// Requires the connection to stay open and the broker to send nothing but what
    /// `allowed` accepts before answering a PINGREQ.
    pub async fn expect_quiet(&mut self, rule: SpecRef, what: &str) -> Result<(), Failure> {
        let before = self.barrier(rule).await?;
        match before.first() {
            None => Ok(()),
            Some(p) => Err(Failure::fail(
                rule,
                format!("{what}, yet the broker sent {}", summarize(p, self.version)),
            )),
        }
    }

    /// Sends DISCONNECT and closes.
    pub async fn disconnect(mut self) {
        let _ = self.send(&super::packets::disconnect()).await;
        self.half_close().await;
    }
}

pub fn summarize(p: &Packet, version: Version) -> String {
    hilt_wire::mqtt::summarize(p, version)
}

fn describe(n: &Next) -> String {
    match n {
        Next::Packet(p) => format!("got {}", name(p)),
        Next::Closed => "the broker closed the connection".into(),
        Next::Silent => "nothing arrived within the response deadline".into(),
    }
}
