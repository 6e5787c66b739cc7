//! Negative controls of the client suite: the interposer changes what the client sent
//! before hilt's broker judges it (a client that breaks the rule), or keeps hilt's
//! stimulus from reaching the client (a client that ignores it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::Control;
use hilt_wire::mqtt::PacketType;

pub use crate::mqtt::controls::{drop_to_server, mutate_to_client, mutate_to_server};

/// The client's packets of `kind` reach hilt with their first byte (type and flags)
/// changed by `f`.
pub fn first_byte(kind: &'static str, what: &str, f: fn(u8) -> u8) -> Control {
    Control::new(what, move || {
        vec![Rule::new(
            Dir::ToServer,
            Match::kind(kind),
            Action::rewrite(move |frame| {
                let mut out = frame.to_vec();
                if let Some(b) = out.first_mut() {
                    *b = f(*b);
                }
                out
            }),
        )]
    })
}

/// `bytes` reach hilt just before the client's first packet after CONNECT, on every
/// connection: a client that sent them.
pub fn inject_after_connect(what: &str, bytes: Vec<u8>) -> Control {
    Control::new(what, move || {
        vec![
            Rule::new(
                Dir::ToServer,
                Match::kind(PacketType::Connect.name()).not(),
                Action::InjectBefore(bytes.clone()),
            )
            .nth(1),
        ]
    })
}

/// `bytes` reach hilt right after the client's packets of `kind`.
pub fn inject_after(kind: &'static str, what: &str, bytes: Vec<u8>) -> Control {
    Control::new(what, move || {
        vec![Rule::new(
            Dir::ToServer,
            Match::kind(kind),
            Action::InjectAfter(bytes.clone()),
        )]
    })
}

/// hilt's frames equal to `frame` never reach the client: the client behaves as one
/// that ignores them.
pub fn hide_from_client(what: &str, frame: Vec<u8>) -> Control {
    Control::new(what, move || {
        let frame = frame.clone();
        vec![Rule::new(
            Dir::ToClient,
            Match::pred(move |f| f == frame.as_slice()),
            Action::Drop,
        )]
    })
}

/// The client's packets of `kind` after the first `passed` (counted over every
/// connection of the attempt, unlike a rule's own per-connection count) never reach
/// hilt.
pub fn drop_to_server_after(kind: PacketType, passed: u32, what: &str) -> Control {
    Control::new(what, move || {
        let seen = Arc::new(AtomicU32::new(0));
        vec![Rule::new(
            Dir::ToServer,
            Match::pred(move |f| {
                f.first().is_some_and(|b| b >> 4 == kind as u8)
                    && seen.fetch_add(1, Ordering::Relaxed) >= passed
            }),
            Action::Drop,
        )]
    })
}
