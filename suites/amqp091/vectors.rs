//! The malformed-frame corpus (`suites/vectors/amqp091/*.yaml`): each vector's frames are
//! sent after a channel is open, and the broker must answer with a connection exception
//! whose reply code the vector names. The frames are checked against hilt's codec when
//! the suite loads: the first rule they break must be the one the vector says. Loading
//! and reporting are the shared corpus runner's (`corpus.rs`).

use std::collections::BTreeSet;
use std::sync::Arc;

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Failure, TestCase};
use hilt_wire::Decoded;
use hilt_wire::amqp091::{ContentTracker, Rule as CodecRule, decode, reply};
use serde::Deserialize;

use super::controls::Control;
use super::session::{Next, Session, describe};
use super::{CAP, SUITE, rule};
use crate::corpus::{self, Corpus, fresh_name};
use hilt_wire::amqp091::ClientEvent;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    vectors: Vec<Vector>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    pub name: String,
    pub title: String,
    /// The statement id the first frame breaks.
    pub breaks: String,
    /// Hex, one string per frame.
    pub frames: Vec<String>,
    /// The reply codes a conforming broker may close the connection with.
    pub codes: Vec<u16>,
}

impl Vector {
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for f in &self.frames {
            for pair in f.split_whitespace() {
                out.push(
                    u8::from_str_radix(pair, 16)
                        .map_err(|e| format!("{}: {pair:?}: {e}", self.name))?,
                );
            }
        }
        Ok(out)
    }

    /// The first rule hilt's codec finds broken in the frames (content sequencing
    /// included), as its statement id.
    pub fn first_broken(&self) -> Result<Option<&'static str>, String> {
        let bytes = self.bytes()?;
        let mut rest = &bytes[..];
        let mut content = ContentTracker::default();
        while !rest.is_empty() {
            match decode(rest, 0) {
                Ok(Decoded::Done(f, n)) => {
                    if content.observe(&f).is_some() {
                        return Ok(Some(CodecRule::ContentOrder.id()));
                    }
                    rest = &rest[n..];
                }
                Ok(Decoded::NeedMore(_)) => return Ok(Some(CodecRule::FrameEnd.id())),
                Err(v) => return Ok(Some(v.rule.id())),
            }
        }
        Ok(None)
    }
}

pub fn tests() -> Vec<TestCase> {
    corpus::tests::<Amqp091>()
}

struct Amqp091;

impl Corpus for Amqp091 {
    const PROTOCOL: &'static str = "AMQP 0-9-1";
    const FOLDER: &'static str = "amqp091";
    const FILES: &'static [(&'static str, &'static str)] =
        &[("frames", include_str!("../vectors/amqp091/frames.yaml"))];
    type File = FileData;
    type Context = ();
    type Vector = Vector;

    fn context() {}

    fn compile_file(
        _: &'static str,
        path: &str,
        data: FileData,
        _: &(),
        out: &mut Vec<Vector>,
        problems: &mut Vec<String>,
    ) {
        let mut names = BTreeSet::new();
        out.extend(
            data.vectors
                .into_iter()
                .filter(|v| fresh_name(&mut names, path, &v.name, problems)),
        );
    }

    fn register(v: Vector) -> Option<TestCase> {
        register(Arc::new(v))
    }
}

fn register(v: Arc<Vector>) -> Option<TestCase> {
    let bytes = v.bytes().ok()?;
    let breaks: &'static str = hilt_wire::amqp091::Rule::ALL
        .iter()
        .map(|r| r.id())
        .find(|id| *id == v.breaks)?;
    let body_v = Arc::clone(&v);
    let swallowed = bytes.clone();
    Some(
        TestCase::new(
            SUITE,
            format!("amqp091.vector.{}", v.name),
            format!(
                "{}: the broker closes the connection with {:?}",
                v.title, v.codes
            ),
            move |ctx| {
                let v = Arc::clone(&body_v);
                let bytes = bytes.clone();
                async move {
                    let r = rule(breaks);
                    let (mut s, _ch) = Session::with_channel(&ctx).await?;
                    s.send_raw(&bytes).await;
                    match s.next(s.response).await? {
                        Next::Event(ClientEvent::ConnectionClosed(m)) => {
                            let code = m.int("reply-code") as u16;
                            if v.codes.contains(&code) {
                                Ok(())
                            } else {
                                Err(Failure::fail(
                                    r,
                                    format!(
                                        "closed with {code} ({}), not one of {:?}: {m}",
                                        reply::name(code).unwrap_or("unknown"),
                                        v.codes
                                    ),
                                ))
                            }
                        }
                        other => Err(Failure::fail(
                            r,
                            format!("expected a connection exception: {}", describe(&other)),
                        )),
                    }
                }
            },
        )
        .covers(&[rule(breaks)])
        .needs(&[CAP])
        .tags(&["vector"])
        .control(Control::new(
            "the broker never sees the malformed frames",
            move || {
                let f = swallowed.clone();
                // Any frame of the vector, wherever the framer cut it.
                vec![Rule::new(
                    Dir::ToServer,
                    Match::pred(move |b| b.len() > 7 && f.windows(b.len()).any(|w| w == b)),
                    Action::Drop,
                )]
            },
        )),
    )
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn every_vector_loads_and_breaks_the_rule_it_names() {
        corpus::assert_lists_every_file::<Amqp091>();
        let (vectors, problems) = corpus::load::<Amqp091>();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(vectors.len() >= 20);
        for v in &vectors {
            assert_eq!(
                v.first_broken().unwrap(),
                Some(v.breaks.as_str()),
                "{}",
                v.name
            );
            assert!(!v.codes.is_empty(), "{}", v.name);
        }
    }
}
