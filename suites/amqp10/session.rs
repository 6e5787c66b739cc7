//! The connection AMQP 1.0 tests drive: hilt's sans-IO connection core over a recorded
//! TCP connection, with helpers that send a performative and judge the broker's answer
//! against the response deadline (or the protocol's own, for idle time-outs).

use std::time::Duration;

use hilt_core::SpecRef;
use hilt_net::RecordedTcp;
use hilt_runner::{Ctx, Failure};
use hilt_wire::amqp10::{
    Composite, Config, Connection, Delivery, Event, LinkRole, Message, Sasl, SettleMode,
    descriptor as d,
};
use tokio::time::{Instant, timeout_at};

/// What came next from the broker.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Event(Event),
    /// The broker closed the socket.
    Closed,
    /// Nothing before the deadline.
    Silent,
}

/// `what` the broker answered, for failure messages.
pub fn describe(n: &Next) -> String {
    match n {
        Next::Event(Event::Performative {
            channel,
            performative,
        }) => format!("ch{channel} {performative}"),
        Next::Event(Event::Sasl(p)) => format!("sasl {p}"),
        Next::Event(Event::Delivery(dl)) => format!(
            "a delivery (id {}, {} frame(s), settled {})",
            dl.delivery_id, dl.frames, dl.settled
        ),
        Next::Event(e) => format!("{e:?}"),
        Next::Closed => "the broker closed the socket".into(),
        Next::Silent => "nothing within the deadline".into(),
    }
}

/// The guest account RabbitMQ's default configuration has.
pub fn guest() -> Sasl {
    Sasl::Plain {
        user: "guest".into(),
        password: "guest".into(),
    }
}

#[derive(Debug)]
pub struct Amqp {
    tcp: RecordedTcp,
    pub conn: Connection,
    epoch: Instant,
    closed: bool,
    pub response: Duration,
}

impl Amqp {
    /// A TCP connection with nothing sent yet.
    pub async fn tcp(ctx: &Ctx, config: Config) -> Result<Amqp, Failure> {
        Ok(Amqp {
            tcp: ctx.connect("amqp").await?,
            conn: Connection::new(config),
            epoch: Instant::now(),
            closed: false,
            response: ctx.response_timeout(),
        })
    }

    /// A connection opened with `config`, up to the broker's open. A broker that does not
    /// get there is an error of the test's premise.
    pub async fn open_with(ctx: &Ctx, config: Config) -> Result<Amqp, Failure> {
        let mut s = Amqp::tcp(ctx, config).await?;
        let now = s.now();
        s.conn.start(now);
        loop {
            match s.next(s.response).await? {
                Next::Event(Event::Performative { performative, .. })
                    if performative.is(d::OPEN) =>
                {
                    return Ok(s);
                }
                Next::Event(Event::Header(_) | Event::Sasl(_) | Event::Empty) => {}
                other => {
                    return Err(Failure::error(format!(
                        "the connection did not open: {}",
                        describe(&other)
                    )));
                }
            }
        }
    }

    /// A connection authenticated as guest with PLAIN and opened.
    pub async fn open(ctx: &Ctx) -> Result<Amqp, Failure> {
        Amqp::open_with(ctx, config(ctx)).await
    }

    /// An open connection with a session on channel 0.
    pub async fn with_session(ctx: &Ctx) -> Result<Amqp, Failure> {
        let mut s = Amqp::open(ctx).await?;
        s.begin(0, crate::amqp10::rule("AMQP10-2.5.1-begin"))
            .await?;
        Ok(s)
    }

    pub fn now(&self) -> hilt_core::Instant {
        hilt_core::Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    async fn flush(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            if self.closed {
                continue;
            }
            if self.tcp.send(&bytes).await.is_err() {
                self.closed = true;
            }
        }
    }

    pub async fn send(&mut self, channel: u16, p: Composite) {
        let now = self.now();
        self.conn.send(now, channel, p);
        self.flush().await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let now = self.now();
        self.conn.send_raw(now, bytes.to_vec());
        self.flush().await;
    }

    /// Ends our sending side (TCP FIN).
    pub async fn half_close(&mut self) {
        let _ = self.tcp.shutdown_write().await;
    }

    /// The next event, the close, or silence within `within`. Empty frames are passed
    /// over; empty frames of our own go out when the broker's idle time-out needs them.
    pub async fn next(&mut self, within: Duration) -> Result<Next, Failure> {
        self.next_with(within, true).await
    }

    /// Like [`Amqp::next`], showing empty frames when `skip_empty` is false.
    pub async fn next_with(&mut self, within: Duration, skip_empty: bool) -> Result<Next, Failure> {
        let deadline = Instant::now() + within;
        loop {
            let now = self.now();
            self.conn.handle_timeout(now);
            self.flush().await;
            if let Some(e) = self.conn.poll_event() {
                match e {
                    Event::Empty if skip_empty => continue,
                    Event::Violation(v) => {
                        return Err(Failure::fail(
                            v.spec_ref(),
                            format!("the broker sent a malformed frame: {v}"),
                        ));
                    }
                    e => return Ok(Next::Event(e)),
                }
            }
            if self.closed {
                return Ok(Next::Closed);
            }
            // Wake for our own empty frames too.
            let wake = match self.conn.poll_timeout() {
                Some(due) => {
                    let left = due.saturating_since(self.now());
                    deadline.min(Instant::now() + left)
                }
                None => deadline,
            };
            let mut buf = Vec::with_capacity(65536);
            match timeout_at(wake, self.tcp.recv(&mut buf)).await {
                Err(_) if wake >= deadline => return Ok(Next::Silent),
                Err(_) => {}
                Ok(Ok(0)) | Ok(Err(_)) => self.closed = true,
                Ok(Ok(_)) => {
                    let now = self.now();
                    self.conn.handle_input(now, &buf);
                }
            }
        }
    }

    /// The next performative of `code`, passing over flows (unless a flow is wanted) and
    /// empty frames; anything else fails `rule`.
    pub async fn expect(
        &mut self,
        code: u64,
        rule: SpecRef,
        after: &str,
    ) -> Result<(u16, Composite), Failure> {
        let deadline = Instant::now() + self.response;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::Event(Event::Performative {
                    channel,
                    performative,
                }) if performative.is(code) => return Ok((channel, performative)),
                Next::Event(Event::Performative { performative, .. })
                    if performative.is(d::FLOW) => {}
                other => {
                    let want = hilt_wire::amqp10::by_code(code).map_or("?", |s| s.name);
                    return Err(Failure::fail(
                        rule,
                        format!("{after}: expected {want}, got {}", describe(&other)),
                    ));
                }
            }
        }
    }

    /// Begins a session on `channel` and waits for the broker's begin.
    pub async fn begin(&mut self, channel: u16, rule: SpecRef) -> Result<Composite, Failure> {
        let now = self.now();
        self.conn.begin(now, channel);
        self.flush().await;
        Ok(self.expect(d::BEGIN, rule, "begin").await?.1)
    }

    /// Attaches a link and waits for the broker's attach.
    pub async fn attach(
        &mut self,
        channel: u16,
        a: Composite,
        rule: SpecRef,
    ) -> Result<Composite, Failure> {
        self.send(channel, a).await;
        Ok(self.expect(d::ATTACH, rule, "attach").await?.1)
    }

    /// A sending link to `address` on session 0, handle `handle`; waits for the broker's
    /// attach and its first flow (the credit to send).
    pub async fn sender(
        &mut self,
        handle: u32,
        address: &str,
        mode: SettleMode,
        rule: SpecRef,
    ) -> Result<Composite, Failure> {
        let name = format!("snd-{handle}-{address}");
        let a = Connection::attach_for(&name, handle, LinkRole::Sender, address, mode, 0);
        let answer = self.attach(0, a, rule).await?;
        self.await_credit(handle, rule).await?;
        Ok(answer)
    }

    /// Waits until the broker has granted credit on our sending link `handle`.
    pub async fn await_credit(&mut self, handle: u32, rule: SpecRef) -> Result<(), Failure> {
        let deadline = Instant::now() + self.response;
        while self
            .conn
            .link(0, handle)
            .is_some_and(|l| l.link_credit == 0)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::Event(Event::Performative { performative, .. })
                    if performative.is(d::FLOW) => {}
                other => {
                    return Err(Failure::fail(
                        rule,
                        format!("no credit on the sending link: {}", describe(&other)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A receiving link from `address` on session 0 (rcv-settle-mode first).
    pub async fn receiver(
        &mut self,
        handle: u32,
        address: &str,
        mode: SettleMode,
        rule: SpecRef,
    ) -> Result<Composite, Failure> {
        let name = format!("rcv-{handle}-{address}");
        let a = Connection::attach_for(&name, handle, LinkRole::Receiver, address, mode, 0);
        self.attach(0, a, rule).await
    }

    pub async fn flow(&mut self, handle: u32, credit: u32, drain: bool) {
        let now = self.now();
        self.conn.flow(now, 0, handle, credit, drain);
        self.flush().await;
    }

    /// Sends `m` on session 0's link `handle`; returns its delivery-id.
    pub async fn transfer(&mut self, handle: u32, m: &Message, settled: bool) -> u32 {
        let now = self.now();
        let id = self.conn.transfer(now, 0, handle, m, settled);
        self.flush().await;
        id
    }

    /// Sends `m` unsettled and waits for the broker's disposition of it: its state.
    pub async fn publish(
        &mut self,
        handle: u32,
        m: &Message,
        rule: SpecRef,
    ) -> Result<Option<Composite>, Failure> {
        let id = self.transfer(handle, m, false).await;
        let (_, disp) = self
            .expect(d::DISPOSITION, rule, "an unsettled transfer")
            .await?;
        let first = disp.u64("first");
        let last = disp.u64("last").or(first);
        let covers = first
            .zip(last)
            .is_some_and(|(f, l)| (f..=l).contains(&u64::from(id)));
        if !covers {
            return Err(Failure::fail(
                rule,
                format!("a disposition for delivery {id} expected, got {disp}"),
            ));
        }
        Ok(disp.composite("state"))
    }

    /// The next delivery, within the response deadline; anything else fails `rule`.
    pub async fn delivery(&mut self, rule: SpecRef, what: &str) -> Result<Delivery, Failure> {
        self.delivery_within(self.response, rule, what).await
    }

    pub async fn delivery_within(
        &mut self,
        within: Duration,
        rule: SpecRef,
        what: &str,
    ) -> Result<Delivery, Failure> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::Event(Event::Delivery(dl)) => return Ok(*dl),
                Next::Event(Event::Performative { performative, .. })
                    if performative.is(d::FLOW) || performative.is(d::DISPOSITION) => {}
                other => {
                    return Err(Failure::fail(
                        rule,
                        format!("expected {what}: {}", describe(&other)),
                    ));
                }
            }
        }
    }

    /// Requires no delivery within `within` (flows and dispositions pass).
    pub async fn no_delivery(
        &mut self,
        within: Duration,
        rule: SpecRef,
        what: &str,
    ) -> Result<(), Failure> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::Silent => return Ok(()),
                Next::Event(Event::Performative { performative, .. })
                    if performative.is(d::FLOW) || performative.is(d::DISPOSITION) => {}
                Next::Event(Event::Delivery(dl)) => {
                    return Err(Failure::fail(
                        rule,
                        format!(
                            "{what}, yet delivery {} arrived: {:?}",
                            dl.delivery_id, dl.message
                        ),
                    ));
                }
                other => {
                    return Err(Failure::fail(rule, format!("{what}: {}", describe(&other))));
                }
            }
        }
    }

    /// Settles a received delivery with `state`.
    pub async fn settle(&mut self, dl: &Delivery, state: Composite) {
        let now = self.now();
        let p =
            Connection::disposition(LinkRole::Receiver, dl.delivery_id, None, true, Some(state));
        self.conn.send(now, dl.channel, p);
        self.flush().await;
    }

    /// Requires the broker to close the connection (close then the socket, or the socket
    /// alone) within `within`; returns the error of its close, if it sent one.
    pub async fn expect_close(
        &mut self,
        within: Duration,
        rule: SpecRef,
        what: &str,
    ) -> Result<Option<Composite>, Failure> {
        let deadline = Instant::now() + within;
        let mut error = None;
        let mut closed = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::Closed => return Ok(error),
                Next::Silent if closed => return Ok(error),
                Next::Silent => {
                    return Err(Failure::fail(
                        rule,
                        format!("{what}, yet the broker kept the connection open for {within:?}"),
                    ));
                }
                Next::Event(Event::Performative { performative, .. })
                    if performative.is(d::CLOSE) =>
                {
                    error = performative.composite("error");
                    closed = true;
                    self.close_reply().await;
                }
                Next::Event(_) => {}
            }
        }
    }

    /// Answers the broker's close with ours.
    async fn close_reply(&mut self) {
        let now = self.now();
        self.conn.close(now, None);
        self.flush().await;
    }

    /// Closes the connection with the handshake (best effort).
    pub async fn close(mut self) {
        self.close_reply().await;
        let _ = self
            .expect(d::CLOSE, crate::amqp10::rule("AMQP10-2.4.3-close"), "close")
            .await;
    }
}

/// The configuration tests use unless they test the configuration itself: PLAIN as
/// guest, a container id unique to the test.
pub fn config(ctx: &Ctx) -> Config {
    Config {
        container_id: ctx.unique("c"),
        hostname: Some("localhost".into()),
        sasl: guest(),
        ..Config::default()
    }
}

/// The error condition of a close, end or detach, as text.
pub fn condition(error: &Option<Composite>) -> String {
    error
        .as_ref()
        .and_then(|e| e.get("condition").as_str().map(str::to_owned))
        .unwrap_or_else(|| "no error".into())
}
