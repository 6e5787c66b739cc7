//! What every client test sets up: hilt's scripted broker, the interposer in front of
//! it (recording both legs, applying the control's faults), the device's command aimed
//! at the interposer, and the broker's ordinary answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hilt_net::interposer::{Handle, Interposer, Rule};
use hilt_runner::{CommandOutcome, CommandRun, Ctx, Failure};
use hilt_wire::mqtt::{
    Ack, ConnAck, Connect, MqttFramer, Packet, Properties, Property, Publish, QoS, ReasonCode,
    SubAck, UnsubAck, Version,
};
use tokio::time::Instant;

use super::server::{Conn, Got, Listener};
pub(crate) use crate::coap_client::{ended, secs};
use crate::mqtt::MQTT_PORT;

/// How long a device may take to start and connect: an interpreter loading its MQTT
/// library on a busy machine takes seconds. Every deadline of the suite includes it.
pub const DEVICE_START: Duration = Duration::from_secs(20);
/// A test's deadline for what the protocol bounds only by the device's own pace (it
/// connects, subscribes, publishes); judgements of reactions use the response time.
pub const DEADLINE: Duration = Duration::from_secs(10 + DEVICE_START.as_secs());
/// The runner's bound of such a test.
pub const BOUND: Duration = Duration::from_secs(15 + DEVICE_START.as_secs());

/// How often a test waiting for a reconnection looks whether the client has exited.
const EXIT_CHECK: Duration = Duration::from_millis(100);

/// What a stimulus asks of the device; every field fills the placeholder of its name.
#[derive(Debug, Clone)]
pub struct Stimulus {
    pub topic: String,
    pub qos: u8,
    pub count: u32,
    pub payload: String,
    pub client_id: String,
    pub keepalive: u16,
}

impl Stimulus {
    /// One QoS 1 message on a topic of the test's own, keep alive 60 s.
    pub fn new(ctx: &Ctx) -> Self {
        Stimulus {
            topic: ctx.topic("t"),
            qos: 1,
            count: 1,
            payload: format!("hilt-{}", ctx.unique("")),
            client_id: ctx.unique("c"),
            keepalive: 60,
        }
    }

    pub fn qos(mut self, qos: u8) -> Self {
        self.qos = qos;
        self
    }

    pub fn count(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    pub fn keepalive(mut self, seconds: u16) -> Self {
        self.keepalive = seconds;
        self
    }

    pub fn payload(mut self, payload: impl Into<String>) -> Self {
        self.payload = payload.into();
        self
    }
}

/// The version placeholders: `{version}` as mosquitto's clients spell it (`311`, `5`)
/// and `{level}`, the CONNECT protocol level (4, 5).
fn version_words(v: Version) -> (&'static str, &'static str) {
    match v {
        Version::V311 => ("311", "4"),
        Version::V5 => ("5", "5"),
    }
}

#[derive(Debug)]
pub struct Bench {
    pub listener: Listener,
    /// Held so the interposer runs as long as the test.
    pub proxy: Handle,
    pub version: Version,
    /// The target's response time: slack for the client's own reactions.
    pub response: Duration,
}

impl Bench {
    /// hilt's broker and the interposer in front of it with `faults`, then the control's
    /// rules in a control run.
    pub async fn start(ctx: &Ctx, version: Version, faults: Vec<Rule>) -> Result<Self, Failure> {
        let listener = Listener::bind(version).await?;
        let mut rules = faults;
        rules.extend(ctx.control_rules());
        let proxy = Interposer::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            listener.addr()?,
            Arc::new(|| Box::new(MqttFramer::new())),
            rules,
            Some(ctx.recorder().clone()),
            Some(MQTT_PORT),
        )
        .await
        .map_err(|e| Failure::error(format!("cannot start the interposer: {e}")))?;
        Ok(Bench {
            listener,
            proxy,
            version,
            response: ctx.response_timeout(),
        })
    }

    /// Starts the first of `stimuli` the device has a command for, against the
    /// interposer.
    pub async fn device(
        &self,
        ctx: &Ctx,
        stimuli: &[&str],
        s: &Stimulus,
        deadline: Instant,
    ) -> Result<CommandRun, Failure> {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        let (version, level) = version_words(self.version);
        let params = [
            ("topic", s.topic.clone()),
            ("qos", s.qos.to_string()),
            ("count", s.count.to_string()),
            ("payload", s.payload.clone()),
            ("client_id", s.client_id.clone()),
            ("keepalive", s.keepalive.to_string()),
            ("version", version.to_owned()),
            ("level", level.to_owned()),
            ("wait_s", wait.to_string()),
        ];
        let mut last = None;
        for stimulus in stimuli {
            match ctx
                .start_device(stimulus, self.proxy.local_addr(), &params)
                .await
            {
                Err(Failure::Skip { reason }) => last = Some(reason),
                other => return other,
            }
        }
        Err(Failure::skip(last.unwrap_or_else(|| "no stimulus".into())))
    }

    /// The client's next connection, or an error naming how the command ended.
    pub async fn accept(&self, run: &mut CommandRun, deadline: Instant) -> Result<Conn, Failure> {
        match self.listener.accept(deadline).await? {
            Some(c) => Ok(c),
            None => {
                let state = if run.is_running() {
                    "still running"
                } else {
                    "exited"
                };
                Err(Failure::error(format!(
                    "the device never connected (`{}`, {state})",
                    run.command()
                )))
            }
        }
    }
}

/// A test's connection, opened: the device started with `stimuli`, its first
/// connection accepted and its first packet read (expected to be CONNECT).
#[derive(Debug)]
pub struct Session {
    pub bench: Bench,
    /// The device's command, until [`Session::end_device`] or [`Session::outcome`].
    pub run: Option<CommandRun>,
    pub conn: Conn,
    /// The first thing the client did.
    pub first: Got,
}

impl Session {
    pub async fn open(
        ctx: &Ctx,
        version: Version,
        stimuli: &[&str],
        s: &Stimulus,
        faults: Vec<Rule>,
        deadline: Instant,
    ) -> Result<Session, Failure> {
        let bench = Bench::start(ctx, version, faults).await?;
        let mut run = bench.device(ctx, stimuli, s, deadline).await?;
        let mut conn = bench.accept(&mut run, deadline).await?;
        let first = conn.next(deadline).await?.ok_or_else(|| {
            Failure::error(format!(
                "the device connected but sent nothing (`{}`)",
                run.command()
            ))
        })?;
        Ok(Session {
            bench,
            run: Some(run),
            conn,
            first,
        })
    }

    /// The CONNECT the client opened with; anything else is a failure of
    /// [MQTT-3.1.0-1] (a malformed CONNECT names its own rule).
    pub fn connect(&self) -> Result<Connect, Failure> {
        first_connect(&self.first, self.bench.version)
    }

    /// Opens and accepts the client with `connack` (a success when `None`): the usual
    /// start of a test that judges what comes after.
    pub async fn open_accepted(
        ctx: &Ctx,
        version: Version,
        stimuli: &[&str],
        s: &Stimulus,
        connack: ConnAck,
        deadline: Instant,
    ) -> Result<(Session, Connect), Failure> {
        let mut session = Session::open(ctx, version, stimuli, s, Vec::new(), deadline).await?;
        let connect = session.connect()?;
        session.conn.send(&Packet::ConnAck(connack)).await?;
        Ok((session, connect))
    }

    /// Waits for the device's command until `deadline` (then kills it) and returns how
    /// it ended; `None` when that was already asked.
    pub async fn outcome(&mut self, deadline: Instant) -> Option<CommandOutcome> {
        Some(self.run.take()?.finish(deadline).await)
    }

    /// The client's next connection (a reconnection), until `deadline` or until its
    /// command has exited and a response time more has passed.
    pub async fn reconnection(&mut self, deadline: Instant) -> Result<Option<Conn>, Failure> {
        let mut until = deadline;
        loop {
            let slice = until.min(Instant::now() + EXIT_CHECK);
            if let Some(conn) = self.bench.listener.accept(slice).await? {
                return Ok(Some(conn));
            }
            if Instant::now() >= until {
                return Ok(None);
            }
            if let Some(run) = self.run.as_mut()
                && !run.is_running()
            {
                until = until.min(Instant::now() + self.bench.response);
            }
        }
    }

    /// Ends the device's command now; how it ended, for a failure message.
    pub async fn end_device(&mut self) -> String {
        match self.outcome(Instant::now()).await {
            Some(o) => ended(&o),
            None => "the device's command had already ended".into(),
        }
    }
}

/// The CONNECT in `first`, or the failure that it is not one.
pub fn first_connect(first: &Got, version: Version) -> Result<Connect, Failure> {
    match first {
        Got::Packet {
            packet: Packet::Connect(c),
            ..
        } => Ok(c.clone()),
        Got::Malformed { violation, .. } => Err(Failure::fail(
            violation.rule,
            format!("the client's first packet is malformed: {violation}"),
        )),
        other => Err(Failure::fail(
            crate::mqtt::spec(version, "MQTT-3.1.0-1", "MQTT-3.1.0-1"),
            format!(
                "the first thing the client sent on its connection was {}, not CONNECT",
                other.describe()
            ),
        )),
    }
}

/// A successful CONNACK, with `properties` in 5.0.
pub fn connack(properties: Properties) -> ConnAck {
    ConnAck {
        session_present: false,
        code: ReasonCode::SUCCESS,
        properties,
    }
}

/// A successful CONNACK carrying one property.
pub fn connack_with(p: Property) -> ConnAck {
    connack(Properties::new().with(p))
}

/// What a broker that behaves answers to `packet`, if anything.
pub fn answer(packet: &Packet) -> Option<Packet> {
    Some(match packet {
        Packet::Subscribe(s) => Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            properties: Properties::new(),
            codes: s
                .filters
                .iter()
                .map(|f| ReasonCode(f.options.qos.as_u8()))
                .collect(),
        }),
        Packet::Unsubscribe(u) => Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            properties: Properties::new(),
            codes: u.filters.iter().map(|_| ReasonCode::SUCCESS).collect(),
        }),
        Packet::Publish(p) => match p.qos {
            QoS::AtMostOnce => return None,
            QoS::AtLeastOnce => Packet::PubAck(Ack::new(p.packet_id?)),
            QoS::ExactlyOnce => Packet::PubRec(Ack::new(p.packet_id?)),
        },
        Packet::PubRel(a) => Packet::PubComp(Ack::new(a.packet_id)),
        Packet::PubRec(a) => Packet::PubRel(Ack::new(a.packet_id)),
        Packet::PingReq => Packet::PingResp,
        _ => return None,
    })
}

/// Serves the client as a broker that behaves (except for packets `withhold` picks,
/// which get no answer) until `stop` says so, the connection ends or `deadline`
/// passes. Returns whether `stop` ended it.
pub async fn serve(
    conn: &mut Conn,
    deadline: Instant,
    mut withhold: impl FnMut(&Packet) -> bool,
    mut stop: impl FnMut(&Got) -> bool,
) -> Result<bool, Failure> {
    while let Some(got) = conn.next(deadline).await? {
        if let Got::Packet { packet, .. } = &got
            && !withhold(packet)
            && let Some(reply) = answer(packet)
        {
            conn.send(&reply).await?;
        }
        if stop(&got) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The first SUBSCRIBE of the client, answered; or the failure of a malformed one.
pub async fn await_subscribe(
    conn: &mut Conn,
    deadline: Instant,
) -> Result<hilt_wire::mqtt::Subscribe, Failure> {
    let mut found = None;
    serve(
        conn,
        deadline,
        |_| false,
        |g| match g {
            Got::Packet {
                packet: Packet::Subscribe(s),
                ..
            } => {
                found = Some(s.clone());
                true
            }
            Got::Malformed { .. } | Got::Closed { .. } => true,
            _ => false,
        },
    )
    .await?;
    if let Some(s) = found {
        return Ok(s);
    }
    Err(malformed_or(conn, || {
        Failure::skip("the device did not subscribe (its command may not subscribe)")
    }))
}

/// The violation the client's last frame broke, or `otherwise`.
pub fn malformed_or(conn: &Conn, otherwise: impl FnOnce() -> Failure) -> Failure {
    match conn
        .log
        .iter()
        .rev()
        .find(|g| matches!(g, Got::Malformed { .. }))
    {
        Some(Got::Malformed {
            violation, bytes, ..
        }) => Failure::fail(
            violation.rule,
            format!(
                "the client sent a malformed packet: {violation}; bytes: {}",
                crate::hex_excerpt(bytes)
            ),
        ),
        _ => otherwise(),
    }
}

/// A PUBLISH from hilt to the client.
pub fn publish(topic: &str, qos: QoS, packet_id: u16, payload: &[u8]) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.to_owned(),
        packet_id: (qos != QoS::AtMostOnce).then_some(packet_id),
        properties: Properties::new(),
        payload: payload.to_vec(),
    })
}

/// A topic name the filter `filter` matches: wildcards replaced by a level of hilt's.
pub fn topic_for(filter: &str) -> String {
    filter
        .split('/')
        .map(|level| match level {
            "+" | "#" => "hilt",
            l => l,
        })
        .collect::<Vec<_>>()
        .join("/")
}
