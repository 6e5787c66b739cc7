//! The malformed-frame corpus: vectors as data (`suites/vectors/stomp/*.yaml`), each one
//! a test case `stomp.vector.<file>.<name>`. See the file's header for its format.
//!
//! A vector is sent after a valid CONNECT, followed by a probe (a BEGIN with a receipt,
//! in the same write). The broker must refuse the vector: an ERROR then the close, or the
//! close alone (a fatal protocol error); answering the probe instead is a failure of the
//! vector's first statement.
//!
//! The negative control of every vector drops all the client's frames but the CONNECT
//! and the probe: the broker never sees the vector, answers the probe, and sends no ERROR.
//!
//! Loading and reporting are the shared corpus runner's (`corpus.rs`).

use std::collections::BTreeSet;
use std::sync::Arc;

use hilt_core::SpecRef;
use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Ctx, TestCase};
use hilt_wire::stomp::{Command, Frame, STOMP12};
use serde::Deserialize;

use super::controls::Control;
use super::session::Session;
use super::{queue, tc};
use crate::corpus::{self, Corpus, fresh_name, statements_of};
use crate::intern;

/// The receipt of the probe that follows every vector.
const PROBE: &str = "hilt-probe";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    vectors: Vec<RawVector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVector {
    name: String,
    title: String,
    covers: Vec<String>,
    send: String,
}

#[derive(Debug)]
struct Vector {
    id: String,
    title: String,
    covers: Vec<SpecRef>,
    send: String,
}

pub fn tests() -> Vec<TestCase> {
    corpus::tests::<Stomp>()
}

struct Stomp;

impl Corpus for Stomp {
    const PROTOCOL: &'static str = "STOMP";
    const FOLDER: &'static str = "stomp";
    const FILES: &'static [(&'static str, &'static str)] =
        &[("malformed", include_str!("../vectors/stomp/malformed.yaml"))];
    type File = FileData;
    type Context = BTreeSet<String>;
    type Vector = Vector;

    fn context() -> BTreeSet<String> {
        statements_of(STOMP12)
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
        'vectors: for v in data.vectors {
            if !fresh_name(&mut names, path, &v.name, problems) {
                continue;
            }
            let mut covers = Vec::new();
            for c in &v.covers {
                let id = format!("STOMP-1.2-{c}");
                if !known.contains(&id) {
                    problems.push(format!(
                        "{path}: vector `{}`: unknown statement {id}",
                        v.name
                    ));
                    continue 'vectors;
                }
                covers.push(SpecRef::new(STOMP12, intern(&id)));
            }
            if covers.is_empty() {
                problems.push(format!("{path}: vector `{}`: covers nothing", v.name));
                continue;
            }
            out.push(Vector {
                id: format!("{file}.{}", v.name),
                title: v.title,
                covers,
                send: v.send,
            });
        }
    }

    fn register(v: Vector) -> Option<TestCase> {
        Some(register(Arc::new(v)))
    }
}

/// The vector's bytes with its placeholders filled.
fn bytes(v: &Vector, q: &str) -> Vec<u8> {
    let text = v.send.replace("{queue}", q);
    let mut out = Vec::with_capacity(text.len());
    for (i, part) in text.split("{ff}").enumerate() {
        if i > 0 {
            out.push(0xff);
        }
        out.extend_from_slice(part.as_bytes());
    }
    out
}

fn probe() -> Frame {
    Frame::new(Command::Begin)
        .header("transaction", "hilt-probe-tx")
        .header("receipt", PROBE)
}

fn register(v: Arc<Vector>) -> TestCase {
    let body = v.clone();
    tc("vector", &v.id, &v.title, move |ctx: Ctx| {
        let v = body.clone();
        async move {
            let mut s = Session::connect(&ctx).await?;
            let mut out = bytes(&v, &queue(&ctx, "v"));
            out.extend(probe().to_bytes());
            s.send_raw(&out).await?;
            let rule = v.covers[0];
            s.refusal(rule, "a malformed frame").await.map(|_| ())
        }
    })
    .covers(&v.covers)
    .control(Control::new(
        "the broker never sees the malformed frame and answers the probe",
        || {
            let probe = PROBE.as_bytes();
            vec![Rule::new(
                Dir::ToServer,
                Match::kind("CONNECT")
                    .or(Match::pred(move |b| {
                        b.windows(probe.len()).any(|w| w == probe)
                    }))
                    .not(),
                Action::Drop,
            )]
        },
    ))
}

#[cfg(test)]
mod test {
    use crate::corpus;

    #[test]
    fn every_vector_compiles() {
        let (vectors, problems) = corpus::load::<super::Stomp>();
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(vectors.len() >= 20);
    }

    #[test]
    fn every_file_in_the_folder_is_compiled_in() {
        corpus::assert_lists_every_file::<super::Stomp>();
    }
}
