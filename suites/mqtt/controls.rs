//! Negative controls for MQTT tests: interposer rules that make a well-behaved broker
//! break one rule, so the test that checks that rule can be seen to fail.

use hilt_net::interposer::{Action, CloseKind, Dir, Match, Rule};
pub use hilt_runner::Control;
use hilt_wire::Decoded;
use hilt_wire::mqtt::{Packet, Version, decode};

/// Re-encodes frames of `kind` going `dir` after `mutate` changed them. Frames that do
/// not decode are passed on unchanged.
fn mutating(
    version: Version,
    dir: Dir,
    kind: &'static str,
    mutate: impl Fn(&mut Packet) + Send + Sync + Clone + 'static,
) -> Rule {
    Rule::new(
        dir,
        Match::kind(kind),
        Action::rewrite(move |frame| match decode(frame, version) {
            Ok(Decoded::Done(mut p, _)) => {
                mutate(&mut p);
                let mut out = Vec::with_capacity(frame.len());
                p.emit(version, &mut out);
                out
            }
            _ => frame.to_vec(),
        }),
    )
}

/// The broker's packets of `kind` are changed by `mutate` on their way to the client.
pub fn mutate_to_client(
    version: Version,
    kind: &'static str,
    what: &str,
    mutate: impl Fn(&mut Packet) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![mutating(version, Dir::ToClient, kind, mutate.clone())]
    })
}

/// The client's packets of `kind` are changed by `mutate` before the broker sees them.
pub fn mutate_to_server(
    version: Version,
    kind: &'static str,
    what: &str,
    mutate: impl Fn(&mut Packet) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![mutating(version, Dir::ToServer, kind, mutate.clone())]
    })
}

/// The broker's `n`-th packet of `kind` (1-based) never reaches the client.
pub fn drop_nth_to_client(kind: &'static str, n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Drop).nth(n)]
    })
}

/// None of the broker's packets of `kind` reach the client.
pub fn drop_to_client(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Drop)]
    })
}

/// None of the client's packets of `kind` reach the broker.
pub fn drop_to_server(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToServer, Match::kind(kind), Action::Drop)]
    })
}

/// The client's frames equal to `frame` never reach the broker, which therefore cannot
/// react to them.
pub fn swallow_frame(frame: Vec<u8>, what: &str) -> Control {
    Control::new(what, move || {
        let f = frame.clone();
        vec![Rule::new(
            Dir::ToServer,
            Match::pred(move |b| b == f.as_slice()),
            Action::Drop,
        )]
    })
}

/// The client's frames equal to `frame` reach the broker as `instead`.
pub fn replace_frame(frame: Vec<u8>, instead: Vec<u8>, what: &str) -> Control {
    Control::new(what, move || {
        let (f, i) = (frame.clone(), instead.clone());
        vec![Rule::new(
            Dir::ToServer,
            Match::pred(move |b| b == f.as_slice()),
            Action::rewrite(move |_| i.clone()),
        )]
    })
}

/// From the client's `n`-th frame on, nothing is forwarded either way but both
/// connections stay open: a broker that hangs instead of closing.
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

/// The broker never closes a connection on its own: its FIN or reset is withheld.
/// (The interposer black-holes the connection when the broker's side ends.)
pub fn stall_to_client(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Stall)]
    })
}
