//! Workload files (`suites/bench/*.yaml`): what load to put on a target.

use std::path::Path;
use std::time::Duration;

use hilt_core::bench::{PauseInfo, WorkloadInfo};
use hilt_core::datafile::{self, DataFileError};
use serde::Deserialize;

/// A benchmark workload as its YAML file states it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `mqtt`, `stomp`, `amqp091` or `coap`; the engine's recording and scheduling do not
    /// depend on it ([`crate::protocol`]).
    pub protocol: String,
    /// MQTT's `3.1.1` (the default) or `5.0`; STOMP speaks 1.2, AMQP 0-9-1.
    #[serde(default)]
    pub version: String,
    pub topology: Topology,
    /// MQTT's QoS.
    #[serde(default)]
    pub qos: u8,
    /// How subscribers acknowledge (STOMP's ack modes; AMQP: `auto` is no-ack, the
    /// others basic.ack per message or cumulatively).
    #[serde(default)]
    pub ack: AckMode,
    /// Publishers ask the target to confirm each message (STOMP receipts, AMQP
    /// publisher confirms): publish→ack latency is recorded.
    #[serde(default)]
    pub confirm: bool,
    /// Messages a subscriber may hold unacknowledged (STOMP prefetch headers, AMQP
    /// basic.qos); the target's default when absent.
    #[serde(default)]
    pub prefetch: Option<u32>,
    /// STOMP: whether point-to-point destinations are topics or queues.
    #[serde(default)]
    pub destination: DestinationKind,
    /// Bytes of each payload, the benchmark header included (at least its size).
    pub payload_bytes: u32,
    /// Messages per second per publisher.
    pub rate: Rate,
    #[serde(default = "default_warmup")]
    pub warmup: Dur,
    pub duration: Dur,
    /// Connections opened per second while the workload sets up (a ramp, as load tools
    /// connecting a fleet of devices do); as fast as the target accepts them when absent.
    #[serde(default)]
    pub connect_rate: Option<u32>,
    /// A fault: freeze the target while the load runs.
    #[serde(default)]
    pub pause: Option<Pause>,
    /// How `rate: max` searches.
    #[serde(default)]
    pub search: Search,
    /// CoAP's request: type, method, resource and retransmission parameters.
    #[serde(default)]
    pub coap: CoapRequest,
}

/// A CoAP workload's request and its RFC 7252 transmission parameters (section 4.8),
/// with the RFC's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoapRequest {
    /// Confirmable requests (retransmitted until acknowledged) or non-confirmable ones.
    pub confirmable: bool,
    /// `get`, `put` or `post`; a PUT or POST carries the workload's payload.
    pub method: String,
    /// The resource, e.g. `/time`.
    pub path: String,
    pub ack_timeout: Dur,
    pub ack_random_factor: f64,
    pub max_retransmit: u32,
}

impl Default for CoapRequest {
    fn default() -> CoapRequest {
        CoapRequest {
            confirmable: true,
            method: "get".into(),
            path: "/".into(),
            ack_timeout: Dur(Duration::from_secs(2)),
            ack_random_factor: 1.5,
            max_retransmit: 4,
        }
    }
}

/// Who publishes to whom (`{kind: p2p, pairs: 4}`, `{kind: fan-out, subscribers: 8}`).
/// Each publisher has a topic of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Topology {
    /// `pairs` publishers, each with one subscriber on its own topic: 2 × pairs connections.
    P2p { pairs: u32 },
    /// `publishers` (default 1) publishers, `subscribers` subscribers each subscribed to
    /// every publisher's topic: each message reaches every subscriber.
    FanOut {
        subscribers: u32,
        #[serde(default = "one")]
        publishers: u32,
    },
    /// `publishers` publishers, `subscribers` (default 1) subscribers each on one wildcard
    /// filter that matches every publisher's topic: many streams into few readers.
    FanIn {
        publishers: u32,
        #[serde(default = "one")]
        subscribers: u32,
    },
    /// Competing consumers: `publishers` publishers, `subscribers` subscribers sharing
    /// one MQTT 5.0 shared subscription (`$share/GROUP/…` on the wildcard of every
    /// publisher's topic): each message reaches one of them.
    Shared { publishers: u32, subscribers: u32 },
    /// `pairs` requesters, each with a responder that answers every request on a reply
    /// topic; latency is the round trip, from the request's intended time to the reply's
    /// arrival. A requester reads its replies on a second connection.
    RequestResponse { pairs: u32 },
}

/// How subscribers acknowledge what they receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AckMode {
    /// Nothing is acknowledged: the target forgets a message once it is sent.
    #[default]
    Auto,
    /// One cumulative acknowledgement for everything read at once.
    Client,
    /// One acknowledgement per message.
    ClientIndividual,
}

impl AckMode {
    /// The value of STOMP's `ack` header.
    pub fn stomp(self) -> &'static str {
        match self {
            AckMode::Auto => "auto",
            AckMode::Client => "client",
            AckMode::ClientIndividual => "client-individual",
        }
    }
}

/// A STOMP destination's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestinationKind {
    #[default]
    Topic,
    Queue,
}

/// Which publishers a subscriber hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hears {
    One(u32),
    All,
}

impl Hears {
    /// Index of publisher `p`'s stream among what the subscriber hears, if it hears `p`.
    pub fn slot(self, p: u32) -> Option<usize> {
        match self {
            Hears::One(q) => (p == q).then_some(0),
            Hears::All => Some(p as usize),
        }
    }
}

fn one() -> u32 {
    1
}

impl Topology {
    pub fn publishers(self) -> u32 {
        match self {
            Topology::P2p { pairs } | Topology::RequestResponse { pairs } => pairs,
            Topology::FanOut { publishers, .. }
            | Topology::FanIn { publishers, .. }
            | Topology::Shared { publishers, .. } => publishers,
        }
    }

    /// Subscribers that measure (for request-response, the requesters' reply readers).
    pub fn subscribers(self) -> u32 {
        match self {
            Topology::P2p { pairs } | Topology::RequestResponse { pairs } => pairs,
            Topology::FanOut { subscribers, .. }
            | Topology::FanIn { subscribers, .. }
            | Topology::Shared { subscribers, .. } => subscribers,
        }
    }

    /// Connections that answer requests (request-response only).
    pub fn responders(self) -> u32 {
        match self {
            Topology::RequestResponse { pairs } => pairs,
            _ => 0,
        }
    }

    /// Every connection the workload opens.
    pub fn connections(self) -> u32 {
        self.publishers() + self.subscribers() + self.responders()
    }

    /// The publishers subscriber `s` hears.
    pub fn hears(self, s: u32) -> Hears {
        match self {
            Topology::P2p { .. } | Topology::RequestResponse { .. } => Hears::One(s),
            Topology::FanOut { .. } | Topology::FanIn { .. } | Topology::Shared { .. } => {
                Hears::All
            }
        }
    }

    /// The delivery group of subscriber `s`: each message is due once to every group
    /// that hears its publisher. Competing consumers form one group; every other
    /// subscriber is a group of its own.
    pub fn group(self, s: u32) -> u32 {
        match self {
            Topology::Shared { .. } => 0,
            _ => s,
        }
    }

    /// How many deliveries each of publisher `p`'s messages is due.
    pub fn fan(self, _p: u32) -> u32 {
        match self {
            Topology::P2p { .. } | Topology::RequestResponse { .. } | Topology::Shared { .. } => 1,
            Topology::FanOut { subscribers, .. } | Topology::FanIn { subscribers, .. } => {
                subscribers
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Topology::P2p { .. } => "p2p",
            Topology::FanOut { .. } => "fan-out",
            Topology::FanIn { .. } => "fan-in",
            Topology::Shared { .. } => "shared",
            Topology::RequestResponse { .. } => "request-response",
        }
    }
}

/// One step of a sweep: a rate per publisher, or `max`, the highest rate the target
/// sustains, found by a search ([`crate::search`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateStep {
    PerPublisher(u64),
    Max,
}

impl RateStep {
    /// Parses `2500` or `max`.
    pub fn parse(s: &str) -> Result<RateStep, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("max") {
            return Ok(RateStep::Max);
        }
        s.parse()
            .map(RateStep::PerPublisher)
            .map_err(|_| format!("`{s}`: a rate is a number of messages per second, or `max`"))
    }
}

impl std::fmt::Display for RateStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateStep::PerPublisher(r) => write!(f, "{r}"),
            RateStep::Max => f.write_str("max"),
        }
    }
}

/// One rate, `max`, or a list of them to sweep (`[5000, 10000, max]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RateSpec")]
pub struct Rate(pub Vec<RateStep>);

#[derive(Deserialize)]
#[serde(untagged)]
enum RateItem {
    Number(u64),
    Word(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RateSpec {
    One(RateItem),
    Many(Vec<RateItem>),
}

impl TryFrom<RateSpec> for Rate {
    type Error = String;
    fn try_from(spec: RateSpec) -> Result<Rate, String> {
        let items = match spec {
            RateSpec::One(i) => vec![i],
            RateSpec::Many(v) => v,
        };
        items
            .into_iter()
            .map(|i| match i {
                RateItem::Number(n) => Ok(RateStep::PerPublisher(n)),
                RateItem::Word(w) => RateStep::parse(&w),
            })
            .collect::<Result<_, _>>()
            .map(Rate)
    }
}

impl Rate {
    pub fn steps(&self) -> &[RateStep] {
        &self.0
    }

    /// The fixed rates of the sweep, `max` left out.
    pub fn fixed(&self) -> Vec<u64> {
        self.0
            .iter()
            .filter_map(|s| match s {
                RateStep::PerPublisher(r) => Some(*r),
                RateStep::Max => None,
            })
            .collect()
    }
}

/// How `rate: max` searches: short steps, each judged by [`crate::search::holds`].
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Search {
    /// The first rate per publisher tried; doubled until a step fails.
    pub start: u64,
    /// Measured length of each step.
    pub step: Dur,
    /// Warm-up of each step.
    pub warmup: Dur,
    /// A step holds only while its corrected p99 stays at or below this.
    pub p99_limit: Dur,
    /// Bisection stops once the gap between held and failed is at most this share.
    pub precision: f64,
    /// At most this many steps in all.
    pub max_steps: u32,
}

impl Default for Search {
    fn default() -> Search {
        Search {
            start: 1000,
            step: Dur(Duration::from_secs(2)),
            warmup: Dur(Duration::from_millis(500)),
            p99_limit: Dur(Duration::from_millis(50)),
            precision: 0.1,
            max_steps: 16,
        }
    }
}

/// Freeze the target (SIGSTOP) `at` after the warm-up ends, for `for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub at: Dur,
    #[serde(rename = "for")]
    pub length: Dur,
}

/// A duration written as `500ms`, `5s`, `1.5s` or `2m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Dur(pub Duration);

impl TryFrom<String> for Dur {
    type Error = String;
    fn try_from(s: String) -> Result<Dur, String> {
        parse_duration(&s).map(Dur)
    }
}

/// Parses `500ms`, `5s`, `1.5s`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as 500ms, 5s or 2m"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("`{s}`: the unit must be ms, s or m")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("`{s}` is not a duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a pause given on the command line as `FOR@AT`, e.g. `1s@2s`: freeze for 1 s,
/// 2 s after the warm-up.
pub fn parse_pause(s: &str) -> Result<Pause, String> {
    let (length, at) = s
        .split_once('@')
        .ok_or_else(|| format!("`{s}`: expected FOR@AT, e.g. 1s@2s"))?;
    Ok(Pause {
        at: Dur(parse_duration(at)?),
        length: Dur(parse_duration(length)?),
    })
}

fn default_warmup() -> Dur {
    Dur(Duration::from_secs(1))
}

impl Workload {
    /// Reads and checks a workload file; errors name the file and line.
    pub fn load(path: &Path) -> Result<Workload, DataFileError> {
        let w: Workload = datafile::read_yaml(path)?;
        w.check().map_err(|message| DataFileError {
            path: path.to_owned(),
            line: None,
            message,
        })?;
        Ok(w)
    }

    /// The protocols workloads speak.
    pub const PROTOCOLS: [&'static str; 4] = ["mqtt", "stomp", "amqp091", "coap"];

    /// The key of the target file's `serves` this workload connects to.
    pub fn endpoint(&self) -> &'static str {
        match self.protocol.as_str() {
            "stomp" => "stomp",
            "amqp091" => "amqp",
            "coap" => "coap",
            _ => "mqtt",
        }
    }

    /// The protocol version spoken: the file's, or the protocol's only one.
    pub fn version(&self) -> &str {
        match (self.protocol.as_str(), self.version.as_str()) {
            ("mqtt", "") => "3.1.1",
            ("stomp", _) => "1.2",
            ("amqp091", _) => "0-9-1",
            ("coap", _) => "RFC 7252",
            (_, v) => v,
        }
    }

    /// Capabilities a target must declare to run this workload; a target lacking one is
    /// skipped, with the reason.
    pub fn needs(&self) -> Vec<(&'static str, &'static str)> {
        let mut needs = Vec::new();
        match self.protocol.as_str() {
            "mqtt" => {
                if self.mqtt_version() == hilt_wire::mqtt::Version::V5 {
                    needs.push(("mqtt.v5", "MQTT 5.0"));
                }
                if self.qos == 2 {
                    needs.push(("mqtt.qos2", "QoS 2"));
                }
                if matches!(self.topology, Topology::Shared { .. }) {
                    needs.push((
                        "mqtt.shared-subscriptions",
                        "the shared topology (competing consumers)",
                    ));
                }
            }
            "stomp" => {
                needs.push(("stomp.v1.2", "STOMP 1.2"));
                let queue = matches!(self.topology, Topology::Shared { .. })
                    || (self.destination == DestinationKind::Queue
                        && !matches!(self.topology, Topology::FanOut { .. }));
                if queue {
                    needs.push(("stomp.dest.queue", "queue destinations"));
                } else {
                    needs.push(("stomp.dest.topic", "topic destinations"));
                }
            }
            "amqp091" => needs.push(("amqp.0-9-1", "AMQP 0-9-1")),
            _ => {}
        }
        needs
    }

    /// Checks what the schema cannot: ranges and combinations.
    pub fn check(&self) -> Result<(), String> {
        if !Self::PROTOCOLS.contains(&self.protocol.as_str()) {
            return Err(format!(
                "protocol `{}`: workloads speak {}",
                self.protocol,
                Self::PROTOCOLS.join(", ")
            ));
        }
        let mqtt = self.protocol == "mqtt";
        if mqtt && !matches!(self.version(), "3.1.1" | "5.0" | "5") {
            return Err(format!("version `{}`: use 3.1.1 or 5.0", self.version));
        }
        if !mqtt && !self.version.is_empty() && self.version != self.version() {
            return Err(format!(
                "version `{}`: {} workloads speak {}",
                self.version,
                self.protocol,
                self.version()
            ));
        }
        if self.qos > 2 {
            return Err(format!("qos {}: QoS is 0, 1 or 2", self.qos));
        }
        if !mqtt && self.qos != 0 {
            return Err("qos is MQTT's; say `ack:` and `confirm:` instead".into());
        }
        if mqtt && (self.ack != AckMode::Auto || self.confirm || self.prefetch.is_some()) {
            return Err(
                "ack, confirm and prefetch are STOMP's and AMQP's; MQTT says `qos:`".into(),
            );
        }
        if self.prefetch == Some(0) {
            return Err("prefetch must be above 0".into());
        }
        if self.protocol == "stomp"
            && self.destination == DestinationKind::Queue
            && let Topology::FanIn { subscribers, .. } = self.topology
            && subscribers > 1
        {
            return Err(
                "a fan-in to a queue has one subscriber (several would compete: that is `shared`)"
                    .into(),
            );
        }
        let coap = self.protocol == "coap";
        if coap {
            let c = &self.coap;
            if !matches!(self.topology, Topology::RequestResponse { .. }) {
                return Err("coap workloads are request-response: the server answers".into());
            }
            if !matches!(c.method.as_str(), "get" | "put" | "post") {
                return Err(format!("coap.method `{}`: use get, put or post", c.method));
            }
            if !c.path.starts_with('/') {
                return Err(format!("coap.path `{}`: begins with /", c.path));
            }
            if c.ack_timeout.0.is_zero()
                || c.ack_random_factor.is_nan()
                || c.ack_random_factor < 1.0
                || c.max_retransmit > 20
            {
                return Err(
                    "coap: ack_timeout above 0, ack_random_factor at least 1, max_retransmit at most 20"
                        .into(),
                );
            }
        }
        let header = crate::header::HEADER_LEN as u32;
        if !coap && self.payload_bytes < header {
            return Err(format!(
                "payload_bytes {}: at least {header}, the size of the benchmark header",
                self.payload_bytes
            ));
        }
        if self.topology.publishers() == 0 || self.topology.subscribers() == 0 {
            return Err("the topology needs at least one publisher and one subscriber".into());
        }
        if self.topology.connections() > 2000 {
            return Err("more than 2000 connections: not supported yet".into());
        }
        if self.topology.publishers() > u32::from(u16::MAX) {
            return Err(
                "more than 65535 publishers: the payload header names them in 16 bits".into(),
            );
        }
        if mqtt
            && matches!(self.topology, Topology::Shared { .. })
            && self.mqtt_version() != hilt_wire::mqtt::Version::V5
        {
            return Err(
                "topology shared: shared subscriptions are MQTT 5.0 (version: \"5.0\")".into(),
            );
        }
        if self.connect_rate == Some(0) {
            return Err("connect_rate must be above 0".into());
        }
        let steps = self.rate.fixed();
        if self.rate.steps().is_empty() || steps.contains(&0) {
            return Err("rate: give one rate, `max`, or a list, each above 0".into());
        }
        let s = &self.search;
        if s.start == 0
            || s.step.0.is_zero()
            || s.max_steps == 0
            || s.precision.is_nan()
            || s.precision <= 0.0
        {
            return Err("search: start, step, max_steps and precision must be above 0".into());
        }
        if self.duration.0.is_zero() {
            return Err("duration must be above 0".into());
        }
        // Sequence numbers in the payload header are 32 bits.
        let secs = (self.warmup.0 + self.duration.0).as_secs_f64();
        if let Some(too_fast) = steps
            .iter()
            .find(|r| **r as f64 * secs > f64::from(u32::MAX))
        {
            return Err(format!(
                "rate {too_fast} for {secs} s: more than 2^32 messages per publisher"
            ));
        }
        if let Some(p) = &self.pause
            && p.at.0 + p.length.0 > self.duration.0
        {
            return Err("pause: at + for must end within the duration".into());
        }
        Ok(())
    }

    pub fn mqtt_qos(&self) -> hilt_wire::mqtt::QoS {
        match self.qos {
            0 => hilt_wire::mqtt::QoS::AtMostOnce,
            1 => hilt_wire::mqtt::QoS::AtLeastOnce,
            _ => hilt_wire::mqtt::QoS::ExactlyOnce,
        }
    }

    pub fn mqtt_version(&self) -> hilt_wire::mqtt::Version {
        if matches!(self.version.as_str(), "5.0" | "5") {
            hilt_wire::mqtt::Version::V5
        } else {
            hilt_wire::mqtt::Version::V311
        }
    }

    /// What the results file records about the workload.
    pub fn info(&self, file: &Path, text: String) -> WorkloadInfo {
        WorkloadInfo {
            name: self.name.clone(),
            file: file.display().to_string(),
            protocol: self.protocol.clone(),
            version: self.version().into(),
            topology: self.topology.name().into(),
            publishers: self.topology.publishers(),
            subscribers: self.topology.subscribers(),
            responders: if self.protocol == "coap" {
                0
            } else {
                self.topology.responders()
            },
            connect_rate: self.connect_rate,
            qos: self.qos,
            ack: (self.protocol != "mqtt").then(|| self.ack.stomp().into()),
            confirm: self.confirm,
            prefetch: self.prefetch,
            destination: (self.protocol == "stomp").then(|| {
                match self.destination {
                    DestinationKind::Topic => "topic",
                    DestinationKind::Queue => "queue",
                }
                .into()
            }),
            payload_bytes: self.payload_bytes,
            rates: self.rate.fixed(),
            search_max: self.rate.steps().contains(&RateStep::Max),
            warmup_ms: self.warmup.0.as_millis() as u64,
            duration_ms: self.duration.0.as_millis() as u64,
            pause: self.pause.map(|p| PauseInfo {
                at_ms: p.at.0.as_millis() as u64,
                for_ms: p.length.0.as_millis() as u64,
            }),
            text,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn parse(text: &str) -> Result<Workload, DataFileError> {
        datafile::parse_yaml(Path::new("w.yaml"), text)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("fast").is_err());
        let p = parse_pause("1s@2s").unwrap();
        assert_eq!(p.length.0, Duration::from_secs(1));
        assert_eq!(p.at.0, Duration::from_secs(2));
    }

    #[test]
    fn a_sweep_and_a_fan_out() {
        let w = parse(
            "name: f\nprotocol: mqtt\ntopology: {kind: fan-out, subscribers: 4}\n\
             payload_bytes: 64\nrate: [100, 200]\nduration: 2s\n",
        )
        .unwrap();
        w.check().unwrap();
        assert_eq!(
            w.rate.steps(),
            [RateStep::PerPublisher(100), RateStep::PerPublisher(200)]
        );
        assert_eq!(w.topology.publishers(), 1);
        assert_eq!(w.topology.fan(0), 4);
        assert_eq!(w.warmup.0, Duration::from_secs(1));
    }

    #[test]
    fn rates_max_and_mixed_sweeps() {
        let rate = |r: &str| {
            parse(&format!(
                "name: f\nprotocol: mqtt\ntopology: {{kind: p2p, pairs: 1}}\n\
                 payload_bytes: 64\nrate: {r}\nduration: 2s\n"
            ))
            .map(|w| w.rate)
        };
        assert_eq!(rate("max").unwrap().steps(), [RateStep::Max]);
        assert_eq!(
            rate("[5000, max]").unwrap().steps(),
            [RateStep::PerPublisher(5000), RateStep::Max]
        );
        assert_eq!(rate("[5000, max]").unwrap().fixed(), [5000]);
        assert!(rate("fast").is_err());
        assert_eq!(RateStep::parse(" MAX "), Ok(RateStep::Max));
        assert_eq!(RateStep::parse("12"), Ok(RateStep::PerPublisher(12)));
        assert!(RateStep::parse("-1").is_err());
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        let e = parse(
            "name: f\nprotocol: mqtt\ntopology: {kind: p2p, pairs: 1}\n\
             payload_bytes: 64\nrate: 100\nduration: 2s\nrat: 5\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.to_string().contains("rat"), "{e}");
    }

    #[test]
    fn checks_ranges() {
        let mut w = parse(
            "name: f\nprotocol: mqtt\ntopology: {kind: p2p, pairs: 1}\n\
             payload_bytes: 8\nrate: 100\nduration: 2s\n",
        )
        .unwrap();
        assert!(w.check().unwrap_err().contains("payload_bytes"));
        w.payload_bytes = 64;
        w.pause = Some(parse_pause("2s@1s").unwrap());
        assert!(w.check().unwrap_err().contains("pause"));
    }

    #[test]
    fn stomp_workloads_say_what_they_need() {
        let w = parse(
            "name: s\nprotocol: stomp\ntopology: {kind: shared, publishers: 2, subscribers: 2}\n\
             ack: client-individual\nconfirm: true\nprefetch: 10\npayload_bytes: 32\n\
             rate: 100\nduration: 1s\n",
        )
        .unwrap();
        w.check().unwrap();
        assert_eq!((w.endpoint(), w.version()), ("stomp", "1.2"));
        assert_eq!(w.ack, AckMode::ClientIndividual);
        let caps: Vec<_> = w.needs().into_iter().map(|(c, _)| c).collect();
        assert_eq!(caps, ["stomp.v1.2", "stomp.dest.queue"]);
        let mut bad = w.clone();
        bad.qos = 1;
        assert!(bad.check().unwrap_err().contains("qos"));
        let mut mqtt = w.clone();
        mqtt.protocol = "mqtt".into();
        mqtt.version = "5.0".into();
        assert!(mqtt.check().unwrap_err().contains("ack"));
        let mut coap = w;
        coap.protocol = "xmpp".into();
        assert!(coap.check().unwrap_err().contains("workloads speak"));
    }

    #[test]
    fn every_workload_in_suites_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../suites/bench");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                Workload::load(&p).unwrap();
                n += 1;
            }
        }
        assert!(n >= 2);
    }
}
