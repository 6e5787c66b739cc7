//! A scripted STOMP client over a recorded TCP connection: frames in and out, strict
//! decoding of everything the broker sends (a malformed frame is itself a failure naming
//! its rule), frames that arrive while waiting for another kept for later, and waits
//! bounded by protocol deadlines.

use std::collections::VecDeque;
use std::time::Duration;

use hilt_core::SpecRef;
use hilt_net::RecordedTcp;
use hilt_runner::{Ctx, Failure};
use hilt_wire::Decoded;
use hilt_wire::stomp::{Command, Frame, HeartBeat, Item, decode, summarize};
use tokio::time::{Instant, timeout_at};

use super::st;

/// The user the suite logs in as; target files configure their brokers with it.
pub const LOGIN: &str = "guest";
pub const PASSCODE: &str = "guest";
/// The virtual host: RabbitMQ's default, ignored by brokers without virtual hosts.
pub const HOST: &str = "/";

/// What came next on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Frame(Frame),
    /// An EOL between frames.
    HeartBeat,
    /// The broker closed the connection (end of stream or reset).
    Closed,
    /// Nothing within the deadline.
    Silent,
}

#[derive(Debug)]
pub struct Session {
    tcp: RecordedTcp,
    buf: Vec<u8>,
    /// Frames read while waiting for something else, oldest first.
    stash: VecDeque<Frame>,
    closed: bool,
    /// When each heart-beat (EOL) arrived.
    pub heart_beats: Vec<Instant>,
    /// When each read brought data.
    pub arrivals: Vec<Instant>,
    /// Whether the last item decoded was a frame and no read happened since: an EOL
    /// then is padding after that frame's NUL, not a heart-beat.
    after_frame: bool,
    response: Duration,
}

/// The CONNECT the suite sends: 1.2 only, its host and user, no heart-beats.
pub fn connect_frame() -> Frame {
    Frame::new(Command::Connect)
        .header("accept-version", "1.2")
        .header("host", HOST)
        .header("login", LOGIN)
        .header("passcode", PASSCODE)
}

impl Session {
    /// A TCP connection to the target's STOMP service; nothing sent yet.
    pub async fn open(ctx: &Ctx) -> Result<Self, Failure> {
        Ok(Session {
            tcp: ctx.connect("stomp").await?,
            buf: Vec::new(),
            stash: VecDeque::new(),
            closed: false,
            heart_beats: Vec::new(),
            arrivals: Vec::new(),
            after_frame: false,
            response: ctx.response_timeout(),
        })
    }

    /// Opens a connection and logs in with [`connect_frame`]; a refusal is an error of
    /// the test's premise, not a verdict.
    pub async fn connect(ctx: &Ctx) -> Result<Self, Failure> {
        Self::connect_with(ctx, connect_frame())
            .await
            .map(|(s, _)| s)
    }

    /// Opens a connection, sends `connect` and returns the CONNECTED frame.
    pub async fn connect_with(ctx: &Ctx, connect: Frame) -> Result<(Self, Frame), Failure> {
        let mut s = Self::open(ctx).await?;
        s.send(&connect).await?;
        let within = s.response;
        match s.next_frame(within).await? {
            Next::Frame(f) if f.command == Command::Connected => Ok((s, f)),
            other => Err(Failure::error(format!(
                "precondition: the broker did not accept {}: {}",
                summarize(&connect),
                describe(&other)
            ))),
        }
    }

    pub fn response_timeout(&self) -> Duration {
        self.response
    }

    pub async fn send(&mut self, f: &Frame) -> Result<(), Failure> {
        self.send_raw(&f.to_bytes()).await
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.tcp
            .send(bytes)
            .await
            .map_err(|e| Failure::error(format!("cannot send to the broker: {e}")))
    }

    /// The next item on the wire before `within` elapses, decoded strictly.
    pub async fn next(&mut self, within: Duration) -> Result<Next, Failure> {
        let deadline = Instant::now() + within;
        loop {
            if !self.buf.is_empty() {
                match decode(&self.buf) {
                    Ok(Decoded::Done(item, n)) => {
                        self.buf.drain(..n);
                        match item {
                            Item::Frame(f) => {
                                self.after_frame = true;
                                return Ok(Next::Frame(f));
                            }
                            // Padding after the NUL, written with the frame.
                            Item::HeartBeat if self.after_frame => continue,
                            Item::HeartBeat => {
                                self.heart_beats.push(Instant::now());
                                return Ok(Next::HeartBeat);
                            }
                        }
                    }
                    Ok(Decoded::NeedMore(_)) => {}
                    Err(v) => {
                        return Err(Failure::fail(
                            v.rule,
                            format!("the broker sent a malformed frame: {v}"),
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
                        // A frame cut short by the close: judged as what it is.
                        continue;
                    }
                    return Ok(Next::Closed);
                }
                Ok(Ok(_)) => {
                    self.arrivals.push(Instant::now());
                    self.after_frame = false;
                }
            }
        }
    }

    /// The next frame (heart-beats skipped), stashed ones first.
    pub async fn next_frame(&mut self, within: Duration) -> Result<Next, Failure> {
        if let Some(f) = self.stash.pop_front() {
            return Ok(Next::Frame(f));
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::HeartBeat => continue,
                other => return Ok(other),
            }
        }
    }

    /// Waits for the first frame `pick` accepts, keeping others for later. An ERROR
    /// ends the wait as a failure of `rule` (unless picked).
    pub async fn wait_for(
        &mut self,
        within: Duration,
        rule: SpecRef,
        what: &str,
        pick: impl Fn(&Frame) -> bool,
    ) -> Result<Frame, Failure> {
        if let Some(i) = self.stash.iter().position(&pick) {
            return Ok(self
                .stash
                .remove(i)
                .unwrap_or_else(|| Frame::new(Command::Error)));
        }
        let deadline = Instant::now() + within;
        let mut skipped = Vec::new();
        let outcome = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Err(e) => break Err(e),
                Ok(Next::HeartBeat) => continue,
                Ok(Next::Frame(f)) if pick(&f) => break Ok(f),
                Ok(Next::Frame(f)) if f.command == Command::Error => {
                    break Err(Failure::fail(
                        rule,
                        format!("waiting for {what}, the broker sent {}", summarize(&f)),
                    ));
                }
                Ok(Next::Frame(f)) => skipped.push(f),
                Ok(other) => {
                    break Err(Failure::fail(
                        rule,
                        format!("waiting for {what}: {}", describe(&other)),
                    ));
                }
            }
        };
        self.stash.extend(skipped);
        outcome
    }

    /// Sends `f` with `receipt:<id>` and waits for the RECEIPT carrying that id.
    pub async fn with_receipt(&mut self, f: Frame, id: &str) -> Result<(), Failure> {
        self.send(&f.header("receipt", id)).await?;
        self.receipt(id).await
    }

    /// Waits for the RECEIPT whose receipt-id is `id`.
    pub async fn receipt(&mut self, id: &str) -> Result<(), Failure> {
        let within = self.response;
        let what = format!("the RECEIPT with receipt-id {id:?}");
        self.wait_for(within, st!("receipt-1"), &what, |f| {
            f.command == Command::Receipt && f.get("receipt-id") == Some(id)
        })
        .await
        .map(|_| ())
    }

    /// The next MESSAGE, within the response deadline; `rule` names what its absence breaks.
    pub async fn message(&mut self, rule: SpecRef, what: &str) -> Result<Frame, Failure> {
        let within = self.response;
        self.wait_for(within, rule, what, |f| f.command == Command::Message)
            .await
    }

    /// No MESSAGE arrives within the response deadline.
    pub async fn no_message(&mut self, rule: SpecRef, what: &str) -> Result<(), Failure> {
        if let Some(f) = self.stash.iter().find(|f| f.command == Command::Message) {
            return Err(Failure::fail(
                rule,
                format!("{what}, yet the broker sent {}", summarize(f)),
            ));
        }
        let deadline = Instant::now() + self.response;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::Frame(f) if f.command == Command::Message => {
                    return Err(Failure::fail(
                        rule,
                        format!("{what}, yet the broker sent {}", summarize(&f)),
                    ));
                }
                Next::Frame(f) => self.stash.push_back(f),
                Next::HeartBeat => {}
                Next::Closed | Next::Silent => return Ok(()),
            }
        }
    }

    /// The broker answers with an ERROR (else `error_rule` fails), then closes the
    /// connection (else STOMP-1.2-error-1 fails). Returns the ERROR.
    pub async fn error_then_close(
        &mut self,
        error_rule: SpecRef,
        what: &str,
    ) -> Result<Frame, Failure> {
        match self.refusal(error_rule, what).await? {
            Some(e) => Ok(e),
            None => Err(Failure::fail(
                error_rule,
                format!("{what}: the broker closed the connection without an ERROR frame"),
            )),
        }
    }

    /// The broker refuses what it was sent: an ERROR then the close (the ERROR is
    /// returned), or the close alone (`None`), as for a fatal protocol error. RECEIPTs
    /// owed for earlier frames may come first; anything else, or silence, fails
    /// `error_rule`.
    pub async fn refusal(
        &mut self,
        error_rule: SpecRef,
        what: &str,
    ) -> Result<Option<Frame>, Failure> {
        let within = self.response;
        let mut answered = Vec::new();
        let error = loop {
            match self.next_frame(within).await? {
                Next::Frame(f) if f.command == Command::Error => break f,
                // Frames the broker owed before it saw the offence.
                Next::Frame(f) if f.command == Command::Receipt => {
                    answered.push(summarize(&f));
                    continue;
                }
                Next::Closed => return Ok(None),
                Next::Frame(f) => {
                    return Err(Failure::fail(
                        error_rule,
                        format!(
                            "{what}: the broker answered {} instead of an ERROR",
                            summarize(&f)
                        ),
                    ));
                }
                other => {
                    let answered = if answered.is_empty() {
                        String::new()
                    } else {
                        format!(" after answering {}", answered.join(", "))
                    };
                    return Err(Failure::fail(
                        error_rule,
                        format!(
                            "{what}: neither an ERROR nor the close{answered}: {}",
                            describe(&other)
                        ),
                    ));
                }
            }
        };
        self.closes(st!("error-1"), &format!("{what}: after its ERROR"))
            .await?;
        Ok(Some(error))
    }

    /// The broker closes the connection within the response deadline, sending nothing
    /// but heart-beats before.
    pub async fn closes(&mut self, rule: SpecRef, what: &str) -> Result<(), Failure> {
        let within = self.response;
        match self.next_frame(within).await? {
            Next::Closed => Ok(()),
            Next::Frame(f) => Err(Failure::fail(
                rule,
                format!(
                    "{what} the broker sent {} instead of closing",
                    summarize(&f)
                ),
            )),
            _ => Err(Failure::fail(
                rule,
                format!("{what} the broker kept the connection open for {within:?}"),
            )),
        }
    }

    /// Ends the session as a client should: DISCONNECT with a receipt, then close. A
    /// missing RECEIPT is not judged here.
    pub async fn disconnect(mut self) {
        let _ = self
            .send(&Frame::new(Command::Disconnect).header("receipt", "bye"))
            .await;
        let within = self.response;
        let _ = self.next_frame(within).await;
    }

    /// Closes the socket without a DISCONNECT, as a failed connection would.
    pub fn drop_connection(self) {}

    /// The heart-beat header of a CONNECTED frame (absent means 0,0); a malformed one
    /// fails STOMP-1.2-heart-beating-1.
    pub fn heart_beat_of(connected: &Frame) -> Result<HeartBeat, Failure> {
        match connected.get("heart-beat") {
            None => Ok(HeartBeat::NONE),
            Some(v) => HeartBeat::parse(v).ok_or_else(|| {
                Failure::fail(
                    st!("heart-beating-1"),
                    format!("CONNECTED heart-beat {v:?} is not two integers separated by a comma"),
                )
            }),
        }
    }
}

/// What a [`Next`] that is not the expected frame was, for messages.
pub fn describe(n: &Next) -> String {
    match n {
        Next::Frame(f) => format!("the broker sent {}", summarize(f)),
        Next::HeartBeat => "the broker sent a heart-beat".into(),
        Next::Closed => "the broker closed the connection".into(),
        Next::Silent => "the broker sent nothing".into(),
    }
}
