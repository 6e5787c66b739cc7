//! The connection AMQP 0-9-1 tests drive: hilt's sans-IO client core over a recorded TCP
//! connection, with helpers that send a method and judge the broker's answer against the
//! response deadline.

use std::collections::VecDeque;
use std::time::Duration;

use hilt_core::SpecRef;
use hilt_net::RecordedTcp;
use hilt_runner::{Ctx, Failure};
use hilt_wire::amqp091::{
    Client, ClientConfig, ClientEvent, Message, Method, MethodId, Properties, reply,
};
use tokio::time::{Instant, timeout_at};

/// What came next from the broker.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Event(ClientEvent),
    /// The broker closed the socket.
    Closed,
    /// Nothing before the deadline.
    Silent,
}

#[derive(Debug)]
pub struct Session {
    tcp: RecordedTcp,
    pub client: Client,
    epoch: Instant,
    queued: VecDeque<ClientEvent>,
    closed: bool,
    pub response: Duration,
    next_channel: u16,
}

/// `what` the broker answered, for failure messages.
pub fn describe(n: &Next) -> String {
    match n {
        Next::Event(ClientEvent::Method { channel, method }) => format!("ch{channel} {method}"),
        Next::Event(ClientEvent::ChannelClosed { channel, method }) => {
            format!("ch{channel} {method}")
        }
        Next::Event(ClientEvent::ConnectionClosed(m)) => m.to_string(),
        Next::Event(ClientEvent::Message(m)) => {
            format!("ch{} {} with content", m.channel, m.method)
        }
        Next::Event(e) => format!("{e:?}"),
        Next::Closed => "the broker closed the socket".into(),
        Next::Silent => "nothing within the response deadline".into(),
    }
}

impl Session {
    /// A TCP connection with nothing sent yet.
    pub async fn tcp(ctx: &Ctx, config: ClientConfig) -> Result<Session, Failure> {
        Ok(Session {
            tcp: ctx.connect("amqp").await?,
            client: Client::new(config),
            epoch: Instant::now(),
            queued: VecDeque::new(),
            closed: false,
            response: ctx.response_timeout(),
            next_channel: 1,
        })
    }

    /// A connection negotiated with `config`, up to Open-Ok. A broker that does not get
    /// there is an error of the test's premise.
    pub async fn open_with(ctx: &Ctx, config: ClientConfig) -> Result<Session, Failure> {
        let mut s = Session::tcp(ctx, config).await?;
        let now = s.now();
        s.client.start(now);
        loop {
            match s.next(s.response).await? {
                Next::Event(ClientEvent::Connected(_)) => return Ok(s),
                Next::Event(ClientEvent::Started(_)) => {}
                other => {
                    return Err(Failure::error(format!(
                        "the connection did not open: {}",
                        describe(&other)
                    )));
                }
            }
        }
    }

    /// A connection where Connection.Start has arrived and nothing was answered: the
    /// test writes Start-Ok (and Tune-Ok, Open) itself.
    pub async fn manual(ctx: &Ctx) -> Result<Session, Failure> {
        Ok(Session::manual_start(ctx).await?.0)
    }

    /// Like [`Session::manual`], with the Connection.Start that arrived.
    pub async fn manual_start(ctx: &Ctx) -> Result<(Session, Method), Failure> {
        let config = ClientConfig {
            manual_handshake: true,
            ..ClientConfig::default()
        };
        let mut s = Session::tcp(ctx, config).await?;
        let now = s.now();
        s.client.start(now);
        match s.next(s.response).await? {
            Next::Event(ClientEvent::Started(m)) => Ok((s, m)),
            other => Err(Failure::error(format!(
                "no Connection.Start: {}",
                describe(&other)
            ))),
        }
    }

    /// Ends our sending side (TCP FIN).
    pub async fn half_close(&mut self) {
        let _ = self.tcp.shutdown_write().await;
    }

    pub async fn open(ctx: &Ctx) -> Result<Session, Failure> {
        Session::open_with(ctx, ClientConfig::default()).await
    }

    /// A connection with one channel open; returns the channel's number too.
    pub async fn with_channel(ctx: &Ctx) -> Result<(Session, u16), Failure> {
        let mut s = Session::open(ctx).await?;
        let ch = s.channel().await?;
        Ok((s, ch))
    }

    /// A connection with one channel open and an exclusive queue of a generated name
    /// declared on it; `rule` is failed if the declaration is refused.
    pub async fn with_queue(ctx: &Ctx, rule: SpecRef) -> Result<(Session, u16, String), Failure> {
        let (mut s, ch) = Session::with_channel(ctx).await?;
        let qn = s.declare_queue(ch, "", &["exclusive"], rule).await?;
        Ok((s, ch, qn))
    }

    pub fn now(&self) -> hilt_core::Instant {
        hilt_core::Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    /// Opens the next channel number.
    pub async fn channel(&mut self) -> Result<u16, Failure> {
        let ch = self.next_channel;
        self.next_channel += 1;
        match self.call(ch, Method::new(MethodId::CHANNEL_OPEN)).await? {
            Next::Event(ClientEvent::Method { method, .. })
                if method.is(MethodId::CHANNEL_OPEN_OK) =>
            {
                Ok(ch)
            }
            other => Err(Failure::error(format!(
                "channel {ch} did not open: {}",
                describe(&other)
            ))),
        }
    }

    async fn flush(&mut self) {
        while let Some(bytes) = self.client.poll_transmit() {
            if self.closed {
                continue;
            }
            if self.tcp.send(&bytes).await.is_err() {
                self.closed = true;
            }
        }
    }

    pub async fn send(&mut self, ch: u16, m: Method) {
        let now = self.now();
        self.client.send_method(now, ch, m);
        self.flush().await;
    }

    /// Sends `header` instead of the 0-9-1 protocol header, the client core then waiting
    /// for Connection.Start (or the server's own header) as after a normal start.
    pub async fn start_with_header(&mut self, header: &[u8]) {
        let now = self.now();
        self.client.start(now);
        let _ = self.client.poll_transmit();
        self.send_raw(header).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        if !self.closed && self.tcp.send(bytes).await.is_err() {
            self.closed = true;
        }
    }

    pub async fn publish(
        &mut self,
        ch: u16,
        exchange: &str,
        routing_key: &str,
        properties: Properties,
        body: &[u8],
    ) {
        let m = Method::new(MethodId::BASIC_PUBLISH)
            .with("exchange", exchange)
            .with("routing-key", routing_key);
        self.publish_method(ch, m, properties, body).await;
    }

    pub async fn publish_method(
        &mut self,
        ch: u16,
        m: Method,
        properties: Properties,
        body: &[u8],
    ) {
        let now = self.now();
        self.client.send_content(now, ch, m, properties, body);
        self.flush().await;
    }

    /// The next event, the close, or silence within `within`. Heartbeats are passed over.
    pub async fn next(&mut self, within: Duration) -> Result<Next, Failure> {
        let deadline = Instant::now() + within;
        loop {
            self.flush().await;
            if let Some(e) = self.queued.pop_front().or_else(|| self.client.poll_event()) {
                match e {
                    ClientEvent::Heartbeat => continue,
                    ClientEvent::Violation(v) => {
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
            let mut buf = Vec::with_capacity(4096);
            match timeout_at(deadline, self.tcp.recv(&mut buf)).await {
                Err(_) => return Ok(Next::Silent),
                Ok(Ok(0)) | Ok(Err(_)) => self.closed = true,
                Ok(Ok(_)) => {
                    let now = self.now();
                    self.client.handle_input(now, &buf);
                }
            }
        }
    }

    /// Sends `m` on `ch` and returns what came next.
    pub async fn call(&mut self, ch: u16, m: Method) -> Result<Next, Failure> {
        self.send(ch, m).await;
        self.next(self.response).await
    }

    /// Sends `m` and requires the reply `want` on the same channel.
    pub async fn ok(
        &mut self,
        ch: u16,
        m: Method,
        want: MethodId,
        rule: SpecRef,
    ) -> Result<Method, Failure> {
        let name = m.name();
        match self.call(ch, m).await? {
            Next::Event(ClientEvent::Method { channel, method })
                if channel == ch && method.is(want) =>
            {
                Ok(method)
            }
            other => Err(Failure::fail(
                rule,
                format!("{name} was not accepted: {}", describe(&other)),
            )),
        }
    }

    /// Sends `m` and requires the broker to refuse it with a channel or connection
    /// exception carrying `code` (any code where `None`).
    pub async fn refused(
        &mut self,
        ch: u16,
        m: Method,
        code: Option<u16>,
        rule: SpecRef,
    ) -> Result<(), Failure> {
        let name = m.name();
        self.send(ch, m).await;
        self.expect_exception(code, rule, name).await
    }

    /// Requires a channel or connection exception with `code` next.
    pub async fn expect_exception(
        &mut self,
        code: Option<u16>,
        rule: SpecRef,
        after: &str,
    ) -> Result<(), Failure> {
        let next = self.next(self.response).await?;
        let got = match &next {
            Next::Event(ClientEvent::ChannelClosed { method, .. })
            | Next::Event(ClientEvent::ConnectionClosed(method)) => method.int("reply-code") as u16,
            other => {
                return Err(Failure::fail(
                    rule,
                    format!("{after} must be refused, yet: {}", describe(other)),
                ));
            }
        };
        match code {
            Some(want) if want != got => Err(Failure::fail(
                rule,
                format!(
                    "{after} refused with {got} ({}), not {want} ({}): {}",
                    reply::name(got).unwrap_or("unknown"),
                    reply::name(want).unwrap_or("unknown"),
                    describe(&next)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Waits for a message (deliver, get-ok or return) on `ch`.
    pub async fn message(
        &mut self,
        ch: u16,
        rule: SpecRef,
        what: &str,
    ) -> Result<Message, Failure> {
        match self.next(self.response).await? {
            Next::Event(ClientEvent::Message(m)) if m.channel == ch => Ok(m),
            other => Err(Failure::fail(
                rule,
                format!("expected {what}: {}", describe(&other)),
            )),
        }
    }

    /// basic.get on `queue`: the message, or `None` for get-empty.
    pub async fn get(
        &mut self,
        ch: u16,
        queue: &str,
        no_ack: bool,
        rule: SpecRef,
    ) -> Result<Option<Message>, Failure> {
        let m = Method::new(MethodId::BASIC_GET)
            .with("queue", queue)
            .with("no-ack", no_ack);
        match self.call(ch, m).await? {
            Next::Event(ClientEvent::Message(m)) if m.method.is(MethodId::BASIC_GET_OK) => {
                Ok(Some(m))
            }
            Next::Event(ClientEvent::Method { method, .. })
                if method.is(MethodId::BASIC_GET_EMPTY) =>
            {
                Ok(None)
            }
            other => Err(Failure::fail(
                rule,
                format!("basic.get on {queue}: {}", describe(&other)),
            )),
        }
    }

    /// Declares a queue with `flags` (`durable`, `exclusive`, `auto-delete`) set.
    pub async fn declare_queue(
        &mut self,
        ch: u16,
        name: &str,
        flags: &[&str],
        rule: SpecRef,
    ) -> Result<String, Failure> {
        let mut m = Method::new(MethodId::QUEUE_DECLARE).with("queue", name);
        for f in flags {
            m.set(f, true);
        }
        Ok(self
            .ok(ch, m, MethodId::QUEUE_DECLARE_OK, rule)
            .await?
            .text("queue"))
    }

    pub async fn declare_exchange(
        &mut self,
        ch: u16,
        name: &str,
        kind: &str,
        flags: &[&str],
        rule: SpecRef,
    ) -> Result<(), Failure> {
        let mut m = Method::new(MethodId::EXCHANGE_DECLARE)
            .with("exchange", name)
            .with("type", kind);
        for f in flags {
            m.set(f, true);
        }
        self.ok(ch, m, MethodId::EXCHANGE_DECLARE_OK, rule).await?;
        Ok(())
    }

    pub async fn bind(
        &mut self,
        ch: u16,
        queue: &str,
        exchange: &str,
        key: &str,
        rule: SpecRef,
    ) -> Result<(), Failure> {
        let m = Method::new(MethodId::QUEUE_BIND)
            .with("queue", queue)
            .with("exchange", exchange)
            .with("routing-key", key);
        self.ok(ch, m, MethodId::QUEUE_BIND_OK, rule).await?;
        Ok(())
    }

    /// Starts a consumer; returns its tag.
    pub async fn consume(
        &mut self,
        ch: u16,
        queue: &str,
        no_ack: bool,
        rule: SpecRef,
    ) -> Result<String, Failure> {
        let m = Method::new(MethodId::BASIC_CONSUME)
            .with("queue", queue)
            .with("no-ack", no_ack);
        Ok(self
            .ok(ch, m, MethodId::BASIC_CONSUME_OK, rule)
            .await?
            .text("consumer-tag"))
    }

    /// Closes the connection with the handshake (best effort).
    pub async fn close(mut self) {
        let now = self.now();
        self.client.close(now, reply::SUCCESS, "bye");
        self.flush().await;
        let _ = self.next(self.response).await;
    }

    /// Requires the broker to close the socket (after a Connection.Close of its own or
    /// not) within `within`.
    pub async fn expect_socket_close(
        &mut self,
        within: Duration,
        rule: SpecRef,
        what: &str,
    ) -> Result<Vec<ClientEvent>, Failure> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Next::Closed => return Ok(seen),
                Next::Silent => {
                    return Err(Failure::fail(
                        rule,
                        format!("{what}, yet the broker kept the socket open for {within:?}"),
                    ));
                }
                Next::Event(e) => seen.push(e),
            }
        }
    }
}
