//! The malformed-datagram corpus: vectors as data (`suites/vectors/coap/*.yaml`), each one
//! a test case `coap.vector.<file>.<name>` judging how a server reacts to one datagram.
//!
//! # The file format
//!
//! ```yaml
//! defaults: { type: con, code: "0.01", expect: reject }   # any field below
//! vectors:
//!   - name: tkl-9                 # [a-z0-9-]+, unique in the file
//!     title: A CON GET with Token Length 9 is a format error, rejected or ignored
//!     breaks: RFC7252-3-tkl       # the RFC 7252 rule the datagram breaks
//!     judge: RFC7252-4.2-reject   # the rule the server's reaction is judged by
//!     version: 1                  # 0-3 (default 1)
//!     type: con                   # con, non, ack or rst
//!     tkl: 9                      # default: the token's length
//!     code: "0.01"                # class.detail
//!     token: "010203040506070809" # hex
//!     options: [[11, "time"], [14, "0x0000000001"]]  # number, text or 0x-hex value
//!     raw: "f0"                   # hex bytes after the options, as they are
//!     payload: ""                 # hex; present means a payload marker is written
//!     truncate: 3                 # cut the datagram to this many bytes
//!     expect: reject              # see below
//! ```
//!
//! The Message ID is drawn per attempt (a server deduplicates by it) and written after
//! the code; options are written in order with shortest-form deltas, so a repeated
//! number gets delta 0. Each vector must break its rule in hilt's own codec too: a
//! datagram expected to be rejected or ignored fails [`Message::parse`] with `breaks`,
//! one expected to be answered parses and shows `breaks` among its option problems (or
//! carries an unrecognised critical option for `RFC7252-5.4.1-critical`).
//!
//! # Expectations
//!
//! After the vector the client sends a CoAP ping; the server's RST to it closes the
//! window, so a reply to the vector, which the server sends first, is never missed and
//! no test waits on a timer. What came before the ping's RST is judged:
//! - `reject`: nothing, or a RST carrying the vector's Message ID (RFC 7252 §4.2–§4.3:
//!   a CON is rejected with a RST, a NON is rejected or ignored); never an ACK or a
//!   response. The judged rule defaults to `RFC7252-4.2-reject` (CON) or
//!   `RFC7252-4.3-reject` (NON);
//! - `ignore`: nothing at all;
//! - `bad-option`: a 4.02 (Bad Option) response, piggybacked for a CON (judged by
//!   `breaks` unless `judge` says otherwise);
//! - `served`: a 2.xx response, piggybacked for a CON.
//!
//! # Negative controls
//!
//! The interposer replaces the vector, before the server sees it, with a datagram that
//! makes a well-behaved server react as the vector's rule forbids: for `reject`,
//! `ignore` and `bad-option`, a valid GET of `/` with the vector's type (CON for an ACK
//! or RST) and Message ID, which is served. For `served`, the server's 2.xx answer is
//! turned into a 4.02, as if it had refused the option it should have ignored.
//!
//! Loading and reporting are the shared corpus runner's (`corpus.rs`); a vector
//! whose rule hilt's codec does not see does not compile either.

use std::collections::BTreeSet;
use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::coap::{
    Code, Message, MessageType, OptionNumber, RFC7252, RawMessage, decode_lenient, summarize,
};
use serde::Deserialize;

use super::SUITE;
use super::client::Client;
use super::controls::Control;
use crate::corpus::{self, Corpus, fresh_name, statements_of};

/// The placeholder Message ID vectors are checked with at load time.
const CHECK_MID: u16 = 0x1234;

pub fn tests() -> Vec<TestCase> {
    corpus::tests::<Coap>()
}

struct Coap;

impl Corpus for Coap {
    const PROTOCOL: &'static str = "CoAP";
    const FOLDER: &'static str = "coap";
    const FILES: &'static [(&'static str, &'static str)] = &[
        ("codes", include_str!("../vectors/coap/codes.yaml")),
        ("header", include_str!("../vectors/coap/header.yaml")),
        ("options", include_str!("../vectors/coap/options.yaml")),
        ("semantics", include_str!("../vectors/coap/semantics.yaml")),
    ];
    type File = FileData;
    type Context = BTreeSet<String>;
    type Vector = Vector;

    fn context() -> BTreeSet<String> {
        statements_of(RFC7252)
    }

    fn compile_file(
        file: &'static str,
        path: &str,
        data: FileData,
        known: &BTreeSet<String>,
        out: &mut Vec<Vector>,
        problems: &mut Vec<String>,
    ) {
        let mut names = BTreeSet::new();
        for raw in data.vectors {
            if !fresh_name(&mut names, path, &raw.name, problems) {
                continue;
            }
            match compile(file, &data.defaults, raw, known) {
                Ok(v) => out.push(v),
                Err((name, e)) => problems.push(format!("{path}: vector `{name}`: {e}")),
            }
        }
    }

    fn register(v: Vector) -> Option<TestCase> {
        Some(register(Arc::new(v)))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    #[serde(default)]
    defaults: Fields,
    vectors: Vec<RawVector>,
}

/// What a vector or the file's defaults may give.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    judge: Option<String>,
    version: Option<u8>,
    #[serde(rename = "type")]
    mtype: Option<String>,
    tkl: Option<u8>,
    code: Option<String>,
    token: Option<String>,
    options: Option<Vec<(u32, String)>>,
    raw: Option<String>,
    payload: Option<String>,
    truncate: Option<usize>,
    expect: Option<String>,
}

impl Fields {
    /// `self`, with what it leaves out taken from `d`.
    fn or(self, d: &Fields) -> Fields {
        let d = d.clone();
        Fields {
            judge: self.judge.or(d.judge),
            version: self.version.or(d.version),
            mtype: self.mtype.or(d.mtype),
            tkl: self.tkl.or(d.tkl),
            code: self.code.or(d.code),
            token: self.token.or(d.token),
            options: self.options.or(d.options),
            raw: self.raw.or(d.raw),
            payload: self.payload.or(d.payload),
            truncate: self.truncate.or(d.truncate),
            expect: self.expect.or(d.expect),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVector {
    name: String,
    title: String,
    breaks: String,
    #[serde(flatten)]
    fields: Fields,
}

/// How the server must react.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Reject,
    Ignore,
    BadOption,
    Served,
}

/// One vector, compiled.
#[derive(Debug)]
pub struct Vector {
    file: &'static str,
    name: String,
    title: String,
    covers: Vec<SpecRef>,
    /// The rule a failure names.
    rule: SpecRef,
    expect: Expect,
    mtype: MessageType,
    /// The datagram's bytes before the Message ID (first byte, code) and after it.
    head: [u8; 2],
    tail: Vec<u8>,
    truncate: Option<usize>,
}

impl Vector {
    pub fn id(&self) -> String {
        format!("coap.vector.{}.{}", self.file, self.name)
    }

    /// The datagram with Message ID `mid`.
    fn bytes(&self, mid: u16) -> Vec<u8> {
        let mut b = self.head.to_vec();
        b.extend_from_slice(&mid.to_be_bytes());
        b.extend_from_slice(&self.tail);
        if let Some(n) = self.truncate {
            b.truncate(n);
        }
        b
    }
}

fn hex(field: &str, s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("{field}: an odd number of hex digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("{field}: `{s}` is not hex"))
        })
        .collect()
}

fn statement(known: &BTreeSet<String>, id: &str) -> Result<SpecRef, String> {
    known
        .get(id)
        .map(|id| SpecRef::new(RFC7252, crate::intern(id)))
        .ok_or_else(|| format!("{id} is not listed in suites/spec/coap-rfc7252.yaml"))
}

fn compile(
    file: &'static str,
    defaults: &Fields,
    raw: RawVector,
    known: &BTreeSet<String>,
) -> Result<Vector, (String, String)> {
    let name = raw.name.clone();
    compile_fields(file, defaults, raw, known).map_err(|e| (name, e))
}

fn compile_fields(
    file: &'static str,
    defaults: &Fields,
    raw: RawVector,
    known: &BTreeSet<String>,
) -> Result<Vector, String> {
    let f = raw.fields.or(defaults);
    let mtype = match f.mtype.as_deref().unwrap_or("con") {
        "con" => MessageType::Con,
        "non" => MessageType::Non,
        "ack" => MessageType::Ack,
        "rst" => MessageType::Rst,
        other => return Err(format!("type `{other}` is not con, non, ack or rst")),
    };
    let code = f.code.as_deref().unwrap_or("0.01");
    let code = code
        .split_once('.')
        .and_then(|(c, d)| Some(Code::new(c.parse().ok()?, d.parse().ok()?)))
        .filter(|c| c.class() <= 7 && c.detail() <= 31)
        .ok_or_else(|| format!("code `{code}` is not class.detail"))?;
    let token = hex("token", f.token.as_deref().unwrap_or(""))?;
    let tkl = f.tkl.unwrap_or(token.len() as u8);
    let version = f.version.unwrap_or(1);
    if version > 3 || tkl > 15 {
        return Err("version is 0-3 and tkl 0-15".into());
    }
    let mut m = RawMessage::new()
        .header(version, mtype as u8, tkl)
        .code(code.0)
        .mid(CHECK_MID)
        .token(&token);
    for (n, v) in f.options.iter().flatten() {
        let value = match v.strip_prefix("0x") {
            Some(h) => hex("option value", h)?,
            None => v.as_bytes().to_vec(),
        };
        m = m.option(*n, &value);
    }
    m = m.raw(&hex("raw", f.raw.as_deref().unwrap_or(""))?);
    if let Some(p) = &f.payload {
        m = m.payload(&hex("payload", p)?);
    }
    let mut full = m.build();
    if let Some(n) = f.truncate {
        full.truncate(n);
    }
    let expect = match f.expect.as_deref() {
        Some("reject") => Expect::Reject,
        Some("ignore") => Expect::Ignore,
        Some("bad-option") => Expect::BadOption,
        Some("served") => Expect::Served,
        other => {
            return Err(format!(
                "expect {other:?} is not reject, ignore, bad-option or served"
            ));
        }
    };
    let breaks = statement(known, &raw.breaks)?;
    check_codec(&full, breaks.id, expect)?;
    let judged = match (&f.judge, expect, mtype) {
        (Some(j), ..) => statement(known, j)?,
        (None, Expect::Reject, MessageType::Non) => statement(known, "RFC7252-4.3-reject")?,
        (None, Expect::Reject, _) => statement(known, "RFC7252-4.2-reject")?,
        (None, Expect::BadOption, _) => breaks,
        (None, ..) => {
            return Err("`ignore` and `served` vectors name the rule they judge (`judge`)".into());
        }
    };
    let mut covers = vec![judged, breaks];
    covers.dedup();
    let (head, rest) = full.split_at(full.len().min(2));
    let mut head_bytes = [0u8; 2];
    head_bytes[..head.len()].copy_from_slice(head);
    Ok(Vector {
        file,
        name: raw.name,
        title: raw.title,
        covers,
        rule: judged,
        expect,
        mtype,
        head: head_bytes,
        tail: rest.get(2..).unwrap_or_default().to_vec(),
        truncate: f.truncate,
    })
}

/// The vector breaks `rule` in hilt's own codec as well: a format error is the first
/// thing strict parsing reports (and no server can answer it); an option a receiver
/// cannot honour shows among the problems of a datagram that parses.
fn check_codec(bytes: &[u8], rule: &str, expect: Expect) -> Result<(), String> {
    match Message::parse(bytes) {
        Err(v) if v.rule.id != rule => {
            Err(format!("hilt's codec sees {} first, not {rule}", v.rule.id))
        }
        Err(_) if matches!(expect, Expect::BadOption | Expect::Served) => Err(format!(
            "a datagram breaking {rule} cannot be answered: expect reject or ignore"
        )),
        Err(_) => Ok(()),
        Ok(m) => {
            let (_, problems) = decode_lenient(bytes);
            let unknown_critical = m
                .options
                .iter()
                .any(|o| matches!(o.number, OptionNumber::Unknown(_)) && o.number.is_critical());
            if problems.iter().any(|p| p.rule.id == rule)
                || (rule == "RFC7252-5.4.1-critical" && unknown_critical)
            {
                Ok(())
            } else {
                Err(format!("hilt's codec accepts it; it should break {rule}"))
            }
        }
    }
}

fn register(v: Arc<Vector>) -> TestCase {
    let control = control(&v);
    let body = v.clone();
    TestCase::new(SUITE, v.id(), v.title.clone(), move |ctx| {
        run(ctx, body.clone())
    })
    .covers(&v.covers)
    .tags(&["vector"])
    .control(control)
}

async fn run(ctx: Ctx, v: Arc<Vector>) -> Result<(), Failure> {
    let mut c = Client::open(&ctx).await?;
    let mid = c.next_mid();
    let bytes = v.bytes(mid);
    c.send_raw(&bytes).await?;
    // The probe: its RST closes the window in which the vector's reply would come.
    let ping = Message::empty(MessageType::Con, c.next_mid());
    c.send(&ping).await?;
    let deadline = tokio::time::Instant::now() + c.patience();
    let mut replies = Vec::new();
    loop {
        let Some(r) = c.recv_until(deadline).await? else {
            return Err(Failure::error(format!(
                "the server did not answer the ping sent after vector {} within {} ms",
                v.name,
                c.patience().as_millis()
            )));
        };
        if r.msg.mtype == MessageType::Rst && r.msg.message_id == ping.message_id {
            break;
        }
        replies.push(r.msg);
    }
    let shown = || {
        let s: Vec<String> = replies.iter().map(summarize).collect();
        format!(
            "vector {} ({}) was answered {}",
            v.name,
            crate::hex_excerpt(&bytes),
            s.join("; ")
        )
    };
    let echoes_mid = |m: &Message| bytes.len() >= 4 && m.message_id == mid;
    let ok = match v.expect {
        Expect::Ignore => replies.is_empty(),
        Expect::Reject => replies
            .iter()
            .all(|m| m.mtype == MessageType::Rst && echoes_mid(m)),
        Expect::BadOption | Expect::Served => {
            let want = |m: &Message| match v.expect {
                Expect::BadOption => m.code == Code::BAD_OPTION,
                _ => m.code.class() == 2,
            };
            let carried = |m: &Message| match v.mtype {
                MessageType::Con => m.mtype == MessageType::Ack && echoes_mid(m),
                _ => m.mtype != MessageType::Ack,
            };
            replies.len() == 1 && want(&replies[0]) && carried(&replies[0])
        }
    };
    if ok {
        Ok(())
    } else if replies.is_empty() {
        Err(Failure::fail(
            v.rule,
            format!(
                "vector {} ({}) got no answer before the ping's RST",
                v.name,
                crate::hex_excerpt(&bytes)
            ),
        ))
    } else {
        Err(Failure::fail(v.rule, shown()))
    }
}

/// The Message ID of a datagram the interposer saw, 0 when it is too short to have one.
fn mid_of(d: &[u8]) -> u16 {
    match d {
        [_, _, a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

fn control(v: &Vector) -> Control {
    // The vector is the first datagram towards the server; the ping comes second.
    let rule = |what: &'static str, rewrite: fn(&[u8]) -> Vec<u8>| {
        Control::new(what, move || {
            vec![Rule::new(Dir::ToServer, Match::Any, Action::rewrite(rewrite)).nth(1)]
        })
    };
    match (v.expect, v.mtype) {
        (Expect::Served, _) => super::controls::mutate_to_client(
            "the server refuses the request with 4.02 instead of ignoring the elective option",
            |m: &Message| m.code.class() == 2,
            |m| m.code = Code::BAD_OPTION,
        ),
        (_, MessageType::Non) => rule(
            "the server receives a valid NON GET / in place of the vector and serves it",
            |d| Message::new(MessageType::Non, Code::GET, mid_of(d)).to_bytes(),
        ),
        _ => rule(
            "the server receives a valid CON GET / in place of the vector and serves it",
            |d| Message::new(MessageType::Con, Code::GET, mid_of(d)).to_bytes(),
        ),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn every_file_is_compiled_in_and_every_vector_compiles() {
        corpus::assert_lists_every_file::<Coap>();
        let (vectors, problems) = corpus::load::<Coap>();
        assert!(
            problems.is_empty(),
            "vector problems:\n{}",
            problems.join("\n")
        );
        let ids: BTreeSet<String> = vectors.iter().map(Vector::id).collect();
        assert_eq!(ids.len(), vectors.len(), "test ids are unique");
        assert!(vectors.len() >= 30, "{} vectors", vectors.len());
        for v in &vectors {
            let b = v.bytes(CHECK_MID);
            assert!(!b.is_empty(), "{}", v.name);
        }
    }

    #[test]
    fn a_bad_vector_is_reported_not_panicked_on() {
        let known = statements_of(RFC7252);
        let data: FileData = hilt_core::datafile::parse_yaml(
            std::path::Path::new("t.yaml"),
            "vectors:\n  - { name: a, title: t, breaks: RFC7252-3-tkl, token: zz, expect: reject }\n  - { name: b, title: t, breaks: RFC7252-3-tkl, expect: reject }\n  - { name: c, title: t, breaks: RFC7252-9-none, expect: reject }\n",
        )
        .unwrap();
        let errs: Vec<String> = data
            .vectors
            .into_iter()
            .filter_map(|r| compile("t", &data.defaults, r, &known).err())
            .map(|(_, e)| e)
            .collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].contains("not hex"), "{errs:?}");
        assert!(errs[1].contains("accepts it"), "{errs:?}");
        assert!(errs[2].contains("not listed"), "{errs:?}");
    }

    #[test]
    fn controls_serve_a_valid_request_in_place_of_the_vector() {
        let (vectors, _) = corpus::load::<Coap>();
        for v in vectors.iter().filter(|v| v.expect != Expect::Served) {
            let rules = (control(v).rules)();
            let Action::Rewrite(f) = &rules[0].action else {
                panic!("{}: a rewrite", v.name)
            };
            let replaced = Message::parse(&f(&v.bytes(CHECK_MID)))
                .unwrap_or_else(|e| panic!("{}: {e}", v.name));
            assert_eq!(replaced.code, Code::GET, "{}", v.name);
            if v.bytes(CHECK_MID).len() >= 4 {
                assert_eq!(replaced.message_id, CHECK_MID, "{}", v.name);
            }
        }
    }
}
