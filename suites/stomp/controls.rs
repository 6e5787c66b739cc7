//! Negative controls for STOMP tests: interposer rules that make a well-behaved broker
//! break one rule, so the test that checks it can be seen to fail.

use hilt_net::interposer::{Action, CloseKind, Dir, Match, Rule};
pub use hilt_runner::Control;
use hilt_wire::stomp::{Frame, HEARTBEAT, decode_lenient};

/// Frames of `kind` going `dir` for which `pick` holds are re-encoded after `mutate`
/// changed them; frames that do not read pass unchanged.
fn mutating(
    dir: Dir,
    kind: &'static str,
    pick: impl Fn(&Frame) -> bool + Send + Sync + Clone + 'static,
    mutate: impl Fn(&mut Frame) + Send + Sync + Clone + 'static,
) -> Rule {
    Rule::new(
        dir,
        Match::kind(kind).and(Match::pred(move |b| {
            decode_lenient(b).0.is_some_and(|f| pick(&f))
        })),
        Action::rewrite(move |b| match decode_lenient(b).0 {
            Some(mut f) => {
                mutate(&mut f);
                f.to_bytes()
            }
            None => b.to_vec(),
        }),
    )
}

/// The broker's frames of `kind` reach the client changed by `mutate`.
pub fn mutate_to_client(
    kind: &'static str,
    what: &str,
    mutate: impl Fn(&mut Frame) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![mutating(Dir::ToClient, kind, |_| true, mutate.clone())]
    })
}

/// The client's frames of `kind` reach the broker changed by `mutate`.
pub fn mutate_to_server(
    kind: &'static str,
    what: &str,
    mutate: impl Fn(&mut Frame) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![mutating(Dir::ToServer, kind, |_| true, mutate.clone())]
    })
}

/// The client's frames of `kind` for which `pick` holds reach the broker changed.
pub fn mutate_some_to_server(
    kind: &'static str,
    what: &str,
    pick: impl Fn(&Frame) -> bool + Send + Sync + Clone + 'static,
    mutate: impl Fn(&mut Frame) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![mutating(Dir::ToServer, kind, pick.clone(), mutate.clone())]
    })
}

/// None of the broker's frames of `kind` reach the client.
pub fn drop_to_client(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Drop)]
    })
}

/// None of the client's frames of `kind` reach the broker.
pub fn drop_to_server(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToServer, Match::kind(kind), Action::Drop)]
    })
}

/// The client's frames containing `needle` reach the broker with it replaced by
/// `instead` (byte level, so invalid frames can be mended or valid ones broken).
pub fn patch_to_server(needle: &'static [u8], instead: &'static [u8], what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(
            Dir::ToServer,
            Match::pred(move |b| contains(b, needle)),
            Action::rewrite(move |b| replace(b, needle, instead)),
        )]
    })
}

/// The broker's heart-beats never reach the client.
pub fn no_heart_beats_to_client(what: &str) -> Control {
    drop_to_client(HEARTBEAT, what)
}

/// From the client's first heart-beat on, nothing passes either way and no close is
/// propagated: a broker that never notices the client went quiet.
pub fn black_hole_from_client_heart_beat(what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(
            Dir::ToServer,
            Match::kind(HEARTBEAT),
            Action::Close(CloseKind::BlackHole),
        )]
    })
}

/// From the client's `n+1`-th frame on, nothing passes either way and no close is
/// propagated: a broker that hangs instead of answering or closing.
pub fn black_hole_after(n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![
            Rule::new(
                Dir::ToServer,
                Match::Any,
                Action::Close(CloseKind::BlackHole),
            )
            .after(n),
        ]
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// `hay` with every `needle` replaced by `instead`.
pub fn replace(hay: &[u8], needle: &[u8], instead: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) && !needle.is_empty() {
            out.extend_from_slice(instead);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// The client's frames of `kind` reach the broker as a BEGIN of a transaction nobody
/// uses, their receipt header kept: a broker that acknowledges the frame but ignores it.
pub fn neutralize_to_server(kind: &'static str, what: &str) -> Control {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    mutate_to_server(kind, what, move |f| {
        let receipt = f.get("receipt").map(str::to_owned);
        let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *f = Frame::new(hilt_wire::stomp::Command::Begin)
            .header("transaction", format!("hilt-neutralized-{n}"));
        if let Some(r) = receipt {
            f.set("receipt", r);
        }
    })
}

/// The broker's `n`-th frame of `kind` (1-based) never reaches the client.
pub fn drop_nth_to_client(kind: &'static str, n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Drop).nth(n)]
    })
}

/// The client's `n`-th frame of `kind` (1-based) never reaches the broker.
pub fn drop_nth_to_server(kind: &'static str, n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToServer, Match::kind(kind), Action::Drop).nth(n)]
    })
}
