//! The malformed-input corpus: send/expect vectors as data (`suites/vectors/mqtt/*.yaml`),
//! each one a test case `mqtt.<v5|v311>.vector.<file>.<name>`.
//!
//! # The file format
//!
//! ```yaml
//! defaults: { connect: true, versions: [v5, v311], expect: close }   # all optional
//! vectors:
//!   - name: reserved-flags-0000          # [a-z0-9-]+, unique in the file
//!     title: SUBSCRIBE with fixed-header flags 0000 is malformed and closes the connection
//!     covers: { v5: [MQTT-3.8.1-1], v311: [MQTT-3.8.1-1] }   # statements it judges
//!     send: "80 < 0001 {p} [ {topic} ] 00 >"                 # see `template`
//!     # send_v5 / send_v311 and expect_v5 / expect_v311 override per version
//!     expect: close                      # see `expect`
//!     # connect: false  the vector is the first thing on the connection (no CONNECT first)
//!     # fin: true       half-close after the vector (a truncated packet); no probe
//!     # deliver: false  a second connection subscribed to {topic} must get nothing
//!     # deliver: true   … must get a PUBLISH on {topic}
//!     # needs: [mqtt.qos2]  capabilities beyond the version's
//! ```
//!
//! With `connect` (the default) a valid CONNECT goes first and must be accepted with
//! CONNACK 0; a refusal there is an error of the premise, not a verdict.
//!
//! Besides its own `covers`, a vector whose every outcome is a close judges the general
//! rule: 5.0's [MQTT-4.13.1-1] (a Malformed Packet or Protocol Error closes the
//! connection) and, for a vector that is itself the first packet, [MQTT-3.14.0-1] (no
//! DISCONNECT before a CONNACK); 3.1.1's [MQTT-4.8.0-1] (a protocol violation closes).
//! A failure names the vector's first own statement, else that general one.
//!
//! # Negative controls
//!
//! Each vector gets one, chosen by what it expects, so that a well-behaved broker behind
//! the interposer appears to break the vector's rule:
//! - `close` after CONNECT: every client frame but the CONNECT and the PINGREQ probe is
//!   dropped, so the broker never sees the vector and answers the probe;
//! - `close` where the framer loses the stream (a five-byte length): a PINGREQ is sent
//!   just before the vector and the interposer black-holes the connection from it, so
//!   the broker seems to hang;
//! - `close` for a vector that is the first packet: the interposer turns it into a valid
//!   CONNECT, which the broker accepts;
//! - `close` after a truncated packet and FIN: a PINGRESP is injected after CONNACK, as
//!   if the broker had answered something;
//! - `deliver: false`: a PUBLISH is injected before the subscriber's PINGRESP, as if the
//!   broker had delivered the bad one;
//! - `deliver: true`: no PUBLISH reaches the subscriber (a Will the broker discards as if
//!   a malformed DISCONNECT were a normal one, a valid message it drops);
//! - `alive`: the connection is closed (FIN) at the probe.
//!
//! Loading and reporting are the shared corpus runner's (`corpus.rs`).

mod expect;
mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_net::interposer::{Action, CloseKind, Dir, Match, Rule};
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::Decoded;
use hilt_wire::mqtt::{Packet, QoS, Version, frame_len};
use serde::Deserialize;

use self::expect::{Ending, Expect, JudgeCtx};
use self::template::{Template, Vars};
use super::SUITE;
use super::controls::Control;
use super::packets::{connect, publish, subscribe};
use super::session::{Next, Session, doc};
use crate::corpus::{self, Corpus, fresh_name};

const PINGREQ: [u8; 2] = [0xc0, 0x00];

/// Capabilities a vector may add to its version's.
const CAPABILITIES: &[&str] = &[
    "mqtt.qos1",
    "mqtt.qos2",
    "mqtt.retain",
    "mqtt.will",
    "mqtt.wildcards",
    "mqtt.shared-subscriptions",
    "mqtt.topic-alias",
    "mqtt.persistence",
    "mqtt.dollar-topics",
];

pub fn tests() -> Vec<TestCase> {
    corpus::tests::<Mqtt>()
}

struct Mqtt;

impl Corpus for Mqtt {
    const PROTOCOL: &'static str = "MQTT";
    const FOLDER: &'static str = "mqtt";
    const FILES: &'static [(&'static str, &'static str)] = &[
        ("auth", include_str!("../vectors/mqtt/auth.yaml")),
        ("connect", include_str!("../vectors/mqtt/connect.yaml")),
        (
            "connect-props",
            include_str!("../vectors/mqtt/connect-props.yaml"),
        ),
        (
            "disconnect",
            include_str!("../vectors/mqtt/disconnect.yaml"),
        ),
        ("flags", include_str!("../vectors/mqtt/flags.yaml")),
        ("length", include_str!("../vectors/mqtt/length.yaml")),
        ("ping", include_str!("../vectors/mqtt/ping.yaml")),
        (
            "properties",
            include_str!("../vectors/mqtt/properties.yaml"),
        ),
        ("pubacks", include_str!("../vectors/mqtt/pubacks.yaml")),
        ("publish", include_str!("../vectors/mqtt/publish.yaml")),
        ("sequence", include_str!("../vectors/mqtt/sequence.yaml")),
        (
            "server-packets",
            include_str!("../vectors/mqtt/server-packets.yaml"),
        ),
        ("subscribe", include_str!("../vectors/mqtt/subscribe.yaml")),
        ("trailing", include_str!("../vectors/mqtt/trailing.yaml")),
        ("truncated", include_str!("../vectors/mqtt/truncated.yaml")),
        (
            "unsubscribe",
            include_str!("../vectors/mqtt/unsubscribe.yaml"),
        ),
        ("utf8", include_str!("../vectors/mqtt/utf8.yaml")),
        ("valid", include_str!("../vectors/mqtt/valid.yaml")),
    ];
    type File = FileData;
    type Context = Known;
    type Vector = Vector;

    fn context() -> Known {
        known_statements()
    }

    fn compile_file(
        file: &'static str,
        path: &str,
        data: FileData,
        known: &Known,
        out: &mut Vec<Vector>,
        problems: &mut Vec<String>,
    ) {
        compile_file(file, path, data, known, out, problems);
    }

    fn register(v: Vector) -> Option<TestCase> {
        Some(register(Arc::new(v)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Ver {
    V5,
    V311,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    #[serde(default)]
    defaults: Defaults,
    vectors: Vec<RawVector>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    connect: Option<bool>,
    versions: Option<Vec<Ver>>,
    expect: Option<String>,
    fin: Option<bool>,
    deliver: Option<bool>,
    needs: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVector {
    name: String,
    title: String,
    #[serde(default)]
    covers: Covers,
    versions: Option<Vec<Ver>>,
    send: Option<String>,
    send_v5: Option<String>,
    send_v311: Option<String>,
    expect: Option<String>,
    expect_v5: Option<String>,
    expect_v311: Option<String>,
    connect: Option<bool>,
    fin: Option<bool>,
    deliver: Option<bool>,
    needs: Option<Vec<String>>,
    /// `false` for a valid packet after which the broker closes anyway (a DISCONNECT):
    /// the general malformed-packet statements are then not judged.
    malformed: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Covers {
    #[serde(default)]
    v5: Vec<String>,
    #[serde(default)]
    v311: Vec<String>,
}

/// How the framer splits a vector's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Every byte is in a complete frame.
    Whole,
    /// The last frame is incomplete.
    Incomplete,
    /// The framer gives up (a Remaining Length over four bytes): the interposer goes
    /// opaque and no rule applies to what follows.
    Lost,
}

/// One vector, ready to run as one version.
#[derive(Debug)]
pub struct Vector {
    file: &'static str,
    name: String,
    title: String,
    version: Version,
    covers: Vec<SpecRef>,
    /// The statement a failure names.
    rule: SpecRef,
    needs: Vec<&'static str>,
    send: Template,
    expect: Expect,
    connect: bool,
    fin: bool,
    deliver: Option<bool>,
    /// Complete frames that are exactly a PINGREQ, in the vector itself.
    pings: u32,
    tail: Tail,
}

impl Vector {
    pub fn id(&self) -> String {
        let tag = match self.version {
            Version::V5 => "v5",
            Version::V311 => "v311",
        };
        format!("mqtt.{tag}.vector.{}.{}", self.file, self.name)
    }

    /// Whether only a broker that hangs can fail this vector: the framer loses the
    /// stream, or the broker may either close or carry on (as if nothing were wrong, or
    /// accepting a CONNECT), so neither hiding the vector nor replacing it would do.
    fn hang_control(&self) -> bool {
        let mixed = !self.expect.closes() && !self.expect.alive();
        !self.fin
            && (self.tail == Tail::Lost || (mixed && (self.expect.bare_alive() || !self.connect)))
    }

    /// A PINGREQ goes just before the vector, for the black-hole control to act on.
    fn pre_ping(&self) -> bool {
        self.connect && self.hang_control()
    }
}

fn compile_file(
    file: &'static str,
    path: &str,
    data: FileData,
    known: &Known,
    out: &mut Vec<Vector>,
    problems: &mut Vec<String>,
) {
    let mut names = BTreeSet::new();
    for raw in data.vectors {
        if !fresh_name(&mut names, path, &raw.name, problems) {
            continue;
        }
        let versions = raw
            .versions
            .clone()
            .or_else(|| data.defaults.versions.clone())
            .unwrap_or_else(|| vec![Ver::V5, Ver::V311]);
        for ver in versions {
            match compile(file, &data.defaults, &raw, ver, known) {
                Ok(v) => out.push(v),
                Err(e) => problems.push(format!("{path}: vector `{}` ({ver:?}): {e}", raw.name)),
            }
        }
    }
}

fn compile(
    file: &'static str,
    d: &Defaults,
    raw: &RawVector,
    ver: Ver,
    known: &Known,
) -> Result<Vector, String> {
    let (version, send, expect, ids) = match ver {
        Ver::V5 => (
            Version::V5,
            raw.send_v5.as_ref(),
            raw.expect_v5.as_ref(),
            &raw.covers.v5,
        ),
        Ver::V311 => (
            Version::V311,
            raw.send_v311.as_ref(),
            raw.expect_v311.as_ref(),
            &raw.covers.v311,
        ),
    };
    let send = send
        .or(raw.send.as_ref())
        .ok_or("no `send` for this version")?;
    let send = Template::parse(send).map_err(|e| format!("send: {e}"))?;
    let expect = expect
        .or(raw.expect.as_ref())
        .or(d.expect.as_ref())
        .ok_or("no `expect`")?;
    let expect = Expect::parse(expect).map_err(|e| format!("expect: {e}"))?;
    let connect = raw.connect.or(d.connect).unwrap_or(true);
    let fin = raw.fin.or(d.fin).unwrap_or(false);
    let deliver = raw.deliver.or(d.deliver);
    if fin && expect.probes() {
        return Err("after `fin` no probe can be sent: expect close-no-probe".into());
    }
    let doc = doc(version);
    let mut covers = Vec::new();
    // A failure names a statement the broker itself is bound by; a statement binding
    // only the sender (the client here) says what makes the vector malformed.
    let mut rule = None;
    for id in ids {
        let binds = known
            .get(&(doc.to_owned(), id.clone()))
            .ok_or_else(|| format!("covers {id}, which {doc} does not list"))?;
        let r = SpecRef::new(doc, crate::intern(id));
        if rule.is_none() && matches!(binds.as_str(), "server" | "both" | "receiver") {
            rule = Some(r);
        }
        covers.push(r);
    }
    if ids.is_empty() && !(expect.may_close() && raw.malformed.unwrap_or(true)) {
        return Err(format!("covers nothing for {doc}"));
    }
    let general = expect.may_close() && raw.malformed.unwrap_or(true);
    if general {
        match (version, connect) {
            // A DISCONNECT or CONNACK the broker sends on the way out is decoded
            // strictly, so its reason code is judged too.
            (Version::V5, true) => {
                covers.extend([super::v5("MQTT-4.13.1-1"), super::v5("MQTT-3.14.2-1")])
            }
            (Version::V5, false) => covers.extend([
                super::v5("MQTT-4.13.1-1"),
                super::v5("MQTT-3.14.0-1"),
                super::v5("MQTT-3.2.2-8"),
            ]),
            (Version::V311, _) => covers.push(super::v311("MQTT-4.8.0-1")),
        }
    }
    let mut seen = BTreeSet::new();
    covers.retain(|r| seen.insert(*r));
    let rule = rule
        .or_else(|| general.then(|| covers[ids.len()]))
        .unwrap_or(covers[0]);
    let mut needs = vec![match version {
        Version::V5 => "mqtt.v5",
        Version::V311 => "mqtt.v3.1.1",
    }];
    for n in raw
        .needs
        .as_ref()
        .or(d.needs.as_ref())
        .into_iter()
        .flatten()
    {
        let cap = CAPABILITIES
            .iter()
            .find(|c| **c == n)
            .ok_or_else(|| format!("needs `{n}`, not a capability tests may name"))?;
        needs.push(cap);
    }
    // Framed with stand-ins as long as the real ones, to choose the control.
    let bytes = send
        .render(&Vars {
            cid: "hAAAA000000v",
            topic: "hilt/hAAAA0000000/v",
            version,
        })
        .map_err(|e| format!("send: {e}"))?;
    if bytes.is_empty() {
        return Err("send: no bytes".into());
    }
    let (frames, _) = split(&bytes);
    let pings = frames.iter().filter(|f| **f == PINGREQ).count() as u32;
    // The interposer sees the probe too, which a vector's declared length may take in.
    let mut seen = bytes.clone();
    if expect.probes() {
        seen.extend_from_slice(&PINGREQ);
    }
    let (frames, tail) = split(&seen);
    if !connect && frames.is_empty() {
        return Err(
            "a first packet the framer cannot delimit leaves no control: send it after CONNECT"
                .into(),
        );
    }
    Ok(Vector {
        file,
        name: raw.name.clone(),
        title: raw.title.clone(),
        version,
        covers,
        rule,
        needs,
        send,
        expect,
        connect,
        fin,
        deliver,
        pings,
        tail,
    })
}

/// The complete frames of `bytes`, as the interposer's framer cuts them, and the rest.
fn split(bytes: &[u8]) -> (Vec<&[u8]>, Tail) {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match frame_len(&bytes[at..]) {
            Ok(Decoded::Done(n, _)) if at + n <= bytes.len() => {
                frames.push(&bytes[at..at + n]);
                at += n;
            }
            Ok(_) => return (frames, Tail::Incomplete),
            Err(_) => return (frames, Tail::Lost),
        }
    }
    (frames, Tail::Whole)
}

/// (document, id) → whom the statement binds.
type Known = BTreeMap<(String, String), String>;

fn known_statements() -> Known {
    crate::manifest::all()
        .into_iter()
        .flat_map(|m| {
            let doc = m.doc;
            m.statements
                .into_iter()
                .map(move |s| ((doc.clone(), s.id), s.binds))
        })
        .collect()
}

fn register(v: Arc<Vector>) -> TestCase {
    let control = control(&v);
    let body = v.clone();
    let kind = if v.expect.closes() {
        "malformed"
    } else {
        "accepted"
    };
    TestCase::new(SUITE, v.id(), v.title.clone(), move |ctx| {
        run(ctx, body.clone())
    })
    .covers(&v.covers)
    .needs(&v.needs)
    .tags(&["vector", kind])
    .control(control)
}

async fn run(ctx: Ctx, v: Arc<Vector>) -> Result<(), Failure> {
    let version = v.version;
    let response = ctx.response_timeout();
    let topic = ctx.topic("v");
    let cid = ctx.unique("v");
    let subscriber = match v.deliver {
        Some(_) => Some(subscriber(&ctx, version, &topic).await?),
        None => None,
    };
    let mut s = if v.connect {
        Session::connected(&ctx, version, connect(&cid)).await?.0
    } else {
        Session::open(&ctx, version).await?
    };
    let bytes = v
        .send
        .render(&Vars {
            cid: &cid,
            topic: &topic,
            version,
        })
        .map_err(|e| Failure::error(format!("vector does not render: {e}")))?;
    let mut out = Vec::with_capacity(bytes.len() + 4);
    if v.pre_ping() {
        out.extend_from_slice(&PINGREQ);
    }
    out.extend_from_slice(&bytes);
    s.send_raw(&out).await?;
    let mut probe_later = v.expect.probes() && v.expect.probe_after_first_packet();
    if v.expect.probes() && !probe_later {
        s.send_raw(&PINGREQ).await?;
    }
    if v.fin {
        s.half_close().await;
    }

    // Everything the broker does until it closes, answers the probe, or goes quiet.
    // The vector's own PINGREQs are answered before the probe; in a vector that must
    // close, an answer to any of them is already the broker carrying on.
    let own = if v.expect.closes() { 0 } else { v.pings };
    let mut answers_owed = u32::from(v.pre_ping()) + own;
    let mut seen = Vec::new();
    let ending = loop {
        match s.next(response).await? {
            Next::Packet(Packet::PingResp) if answers_owed > 0 => answers_owed -= 1,
            Next::Packet(Packet::PingResp) if v.expect.probes() => break Ending::Answered,
            Next::Packet(p) => {
                seen.push(p);
                if std::mem::take(&mut probe_later) {
                    s.send_raw(&PINGREQ).await?;
                }
            }
            Next::Closed => break Ending::Closed,
            Next::Silent => break Ending::Silent,
        }
    };
    let evidence = || format!("vector {} ({})", v.name, crate::hex_excerpt(&bytes));
    if version == Version::V5 && !v.connect && v.expect.may_close() {
        let disconnect = seen.iter().position(|p| matches!(p, Packet::Disconnect(_)));
        let connack = seen.iter().position(|p| matches!(p, Packet::ConnAck(_)));
        if disconnect.is_some_and(|d| connack.is_none_or(|c| d < c)) {
            return Err(Failure::fail(
                super::v5("MQTT-3.14.0-1"),
                format!(
                    "{}: the broker sent DISCONNECT before any CONNACK",
                    evidence()
                ),
            ));
        }
    }
    let judge = JudgeCtx {
        version,
        connected: v.connect,
        response,
    };
    v.expect
        .judge(&seen, ending, &judge)
        .map_err(|m| Failure::fail(v.rule, format!("{}: {m}", evidence())))?;

    if let (Some(mut sub), Some(want)) = (subscriber, v.deliver) {
        if want {
            sub.wait_for(
                v.rule,
                &format!("the PUBLISH of vector {} delivered on {topic}", v.name),
                response,
                |p| match p {
                    Packet::Publish(m) if m.topic == topic => Some(()),
                    _ => None,
                },
            )
            .await?;
        } else {
            let before = sub.barrier(v.rule).await?;
            if let Some(p) = before.iter().find(|p| matches!(p, Packet::Publish(_))) {
                return Err(Failure::fail(
                    v.rule,
                    format!(
                        "{}: the broker delivered it to a subscriber: {}",
                        evidence(),
                        hilt_wire::mqtt::summarize(p, version)
                    ),
                ));
            }
        }
        sub.disconnect().await;
    }
    if ending == Ending::Answered {
        s.disconnect().await;
    }
    Ok(())
}

/// A second connection subscribed to `topic`, to see whether the vector was delivered.
async fn subscriber(ctx: &Ctx, version: Version, topic: &str) -> Result<Session, Failure> {
    let (mut s, _) = Session::connected(ctx, version, connect(&ctx.unique("sub"))).await?;
    s.send(&subscribe(1, topic, QoS::ExactlyOnce)).await?;
    match s.next(ctx.response_timeout()).await? {
        Next::Packet(Packet::SubAck(a)) if a.codes.first().is_some_and(|c| c.0 < 0x80) => Ok(s),
        other => Err(Failure::error(format!(
            "the subscriber's SUBSCRIBE to {topic} was not granted: {other:?}"
        ))),
    }
}

fn emitted(p: &Packet, version: Version) -> Vec<u8> {
    let mut out = Vec::new();
    p.emit(version, &mut out);
    out
}

/// A client id no other connection uses, for the CONNECT a control substitutes.
fn control_client_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    format!(
        "hctl{nanos:08x}{:06x}",
        NEXT.fetch_add(1, Ordering::Relaxed) & 0xff_ffff
    )
}

fn is_ping(f: &[u8]) -> bool {
    f == PINGREQ
}

fn control(v: &Vector) -> Control {
    let version = v.version;
    if v.deliver == Some(false) {
        let fake = emitted(
            &publish("hilt/control/fake", b"delivered", QoS::AtMostOnce, None),
            version,
        );
        return Control::new(
            "the broker delivers the vector's PUBLISH to the subscriber",
            move || {
                vec![
                    Rule::new(
                        Dir::ToClient,
                        Match::kind("PINGRESP"),
                        Action::InjectBefore(fake.clone()),
                    )
                    .nth(1),
                ]
            },
        );
    }
    if v.deliver == Some(true) {
        return Control::new("the broker delivers nothing to the subscriber", || {
            vec![Rule::new(
                Dir::ToClient,
                Match::kind("PUBLISH"),
                Action::Drop,
            )]
        });
    }
    if v.hang_control() && !v.connect {
        return Control::new("the broker hangs after the vector", || {
            vec![
                Rule::new(
                    Dir::ToServer,
                    Match::Any,
                    Action::Close(CloseKind::BlackHole),
                )
                .nth(1),
            ]
        });
    }
    if v.expect.alive() {
        let n = v.pings + 1;
        return Control::new(
            "the broker closes the connection after the vector",
            move || {
                vec![
                    Rule::new(
                        Dir::ToServer,
                        Match::pred(is_ping),
                        Action::Close(CloseKind::Fin),
                    )
                    .nth(n),
                ]
            },
        );
    }
    if !v.connect {
        // The rest of the vector (a second packet, trailing junk) is hidden too.
        return Control::new(
            "the broker receives a valid CONNECT instead of the vector",
            move || {
                vec![
                    Rule::new(
                        Dir::ToServer,
                        Match::Any,
                        Action::rewrite(move |_| {
                            emitted(&Packet::Connect(connect(&control_client_id())), version)
                        }),
                    )
                    .nth(1),
                    Rule::new(Dir::ToServer, Match::pred(|f| !is_ping(f)), Action::Drop).after(1),
                ]
            },
        );
    }
    if v.fin {
        let pingresp = vec![0xd0, 0x00];
        return Control::new(
            "the broker answers on a connection whose last packet was cut short",
            move || {
                vec![
                    Rule::new(
                        Dir::ToClient,
                        Match::kind("CONNACK"),
                        Action::InjectAfter(pingresp.clone()),
                    )
                    .nth(1),
                ]
            },
        );
    }
    if v.pre_ping() {
        return Control::new("the broker hangs after the vector", || {
            vec![
                Rule::new(
                    Dir::ToServer,
                    Match::pred(is_ping),
                    Action::Close(CloseKind::BlackHole),
                )
                .nth(1),
            ]
        });
    }
    Control::new(
        "the broker never sees the vector and answers the probe",
        || vec![Rule::new(Dir::ToServer, Match::pred(|f| !is_ping(f)), Action::Drop).after(1)],
    )
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn every_file_is_compiled_in_and_every_vector_compiles() {
        corpus::assert_lists_every_file::<Mqtt>();
        let (vectors, problems) = corpus::load::<Mqtt>();
        assert!(
            problems.is_empty(),
            "vector problems:\n{}",
            problems.join("\n")
        );
        let ids: BTreeSet<String> = vectors.iter().map(Vector::id).collect();
        assert_eq!(ids.len(), vectors.len(), "test ids are unique");
        let names: BTreeSet<(&str, &str)> =
            vectors.iter().map(|v| (v.file, v.name.as_str())).collect();
        assert!(
            names.len() >= 300,
            "at least 300 vectors, found {}",
            names.len()
        );
        for (doc, min) in [("mqtt-v5", 40), ("mqtt-v3.1.1", 25)] {
            let covered: BTreeSet<&str> = vectors
                .iter()
                .flat_map(|v| v.covers.iter())
                .filter(|r| r.doc == doc)
                .map(|r| r.id)
                .collect();
            assert!(
                covered.len() >= min,
                "{doc}: {} statements covered, want {min}",
                covered.len()
            );
        }
    }

    #[test]
    fn a_bad_file_or_vector_is_reported_not_panicked_on() {
        let known = known_statements();
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let text = "vectors:\n  - name: x\n    title: t\n    send: \"zz\"\n    expect: close\n    covers: { v5: [MQTT-9.9.9-9] }\n";
        let data: FileData =
            hilt_core::datafile::parse_yaml(std::path::Path::new("t.yaml"), text).unwrap();
        compile_file("t", "t.yaml", data, &known, &mut out, &mut problems);
        assert!(out.is_empty());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("send: at character 1"), "{problems:?}");
        let err = hilt_core::datafile::parse_yaml::<FileData>(
            std::path::Path::new("t.yaml"),
            "vectors:\n  - nme: x\n",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
    }

    #[test]
    fn controls_follow_the_expectation() {
        let (vectors, _) = corpus::load::<Mqtt>();
        let lost = vectors.iter().filter(|v| v.pre_ping()).count();
        assert!(
            lost <= 24,
            "{lost} vectors need the slow black-hole control"
        );
    }
}
