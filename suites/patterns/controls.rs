//! Negative controls for pattern tests: interposer faults on the way to the receiving
//! clients. Frames are matched by the kind their protocol's framer names (`PUBLISH`,
//! `MESSAGE`, `basic.deliver`), or by bytes, so one control serves any protocol.

use hilt_net::interposer::{Action, Dir, Match, Rule};
pub use hilt_runner::Control;

use crate::stomp::controls::replace;

/// Frames to clients containing `needle` arrive with it replaced by `instead` (of the
/// same length, so lengths in the frame stay right): a corrupted payload or header.
pub fn patch_to_client(needle: &'static [u8], instead: &'static [u8], what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(
            Dir::ToClient,
            Match::pred(move |b| b.windows(needle.len()).any(|w| w == needle)),
            Action::rewrite(move |b| replace(b, needle, instead)),
        )]
    })
}

/// The `n`-th frame of `kind` (1-based) on each connection reaches its client twice.
pub fn duplicate_nth_to_client(kind: &'static str, n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Duplicate).nth(n)]
    })
}

/// The `n`-th frame of `kind` on each connection reaches its client after the next one.
pub fn reorder_nth_to_client(kind: &'static str, n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Reorder).nth(n)]
    })
}
