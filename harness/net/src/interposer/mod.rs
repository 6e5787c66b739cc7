//! The interposer: a protocol-aware man-in-the-middle for TCP, and for UDP
//! ([`UdpInterposer`]: one datagram is one frame, same rules).
//!
//! It listens on a loopback port, connects each client to the upstream server, splits
//! both directions into frames with the protocol's [`hilt_wire::Framer`], records both
//! legs, and applies faults from [`Rule`]s. Conformance suites put it in front of a real
//! broker as a *negative control*: the broker then appears to break exactly one rule,
//! and the suite's test must fail. `hilt proxy` runs it by hand ([`run_proxy`]).
//!
//! # Directions and recording
//!
//! [`Direction::Sent`](hilt_core::Direction) is client → server (towards the system
//! under test), `Received` is server → client. Each relayed connection is two
//! [`Recorder`](crate::Recorder) connections (see [`ConnLegs`]): the client leg (what
//! the client wrote, and what it was given after faults) and the upstream leg (what the
//! server was given, and what it really wrote). A report thus shows both the mutation
//! and the original.
//!
//! # Rules
//!
//! For every frame, rules run in order. Each rule whose direction and [`Match`] accept
//! the frame counts a match (numbered from 1 per connection, per direction, reset when
//! [`Handle::set_rules`] replaces the rules); it acts when the match number is above
//! `after`, equals `nth` if given, and it has acted fewer than `count` times if given.
//! Actions compose in rule order (a patch then a split splits the patched frame);
//! `Drop`, `Stall` and `Close` end the acting for that frame.
//!
//! Bytes the framer cannot delimit (it returns `Err`, or a frame over [`MAX_FRAME`])
//! make that direction opaque for the rest of the connection: chunks are forwarded as
//! read, untouched by rules, and noted in the log and the stats.
//!
//! Closes are propagated: a FIN from one side becomes a FIN to the other (after the
//! frames queued before it), a reset becomes a reset. A stalled or black-holed
//! direction passes nothing, its close included.
//!
//! # Fault scripts
//!
//! [`parse_fault_script`] reads one rule per line; `#` starts a comment:
//!
//! ```text
//! rule    = dir match action [arg...] [option...]
//! dir     = to-server | to-client | both
//! match   = *  |  alt ( "|" alt )*            alt = [!]KIND   (KIND: frame kind, any case)
//! action  = drop
//!         | delay DURATION                    DURATION = N(us|ms|s|m), e.g. 500ms, 1.5s
//!         | duplicate | dup
//!         | corrupt OFFSET [XOR]              XOR defaults to 0xff
//!         | patch OFFSET BYTES
//!         | replace BYTES                     the whole frame becomes BYTES
//!         | split OFFSET,OFFSET,...
//!         | reorder | stall
//!         | inject-before BYTES | inject-after BYTES
//!         | close fin|rst|blackhole  |  blackhole
//! option  = nth=N | count=N | after=N
//! numbers = decimal or 0x hex;  BYTES = one or more of 0xHEXPAIRS or a decimal byte
//! ```
//!
//! For example:
//!
//! ```text
//! to-client CONNACK patch 3 0x05        # CONNACK return code 5: not authorised
//! to-server PUBLISH drop nth=2          # the second PUBLISH never arrives
//! to-client PUBACK delay 500ms
//! both * split 1,3
//! to-client * close rst after=3         # three frames reach the client, then a reset
//! ```
//!
//! Errors name the line: `line 3: unknown action `frob``.

mod engine;
mod event;
mod proxy;
mod relay;
mod rule;
mod script;
mod stats;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

pub use engine::Taken;
pub use event::{ConnLegs, LogEvent};
pub use proxy::{ProxyLogLine, run_proxy, run_proxy_until};
pub use relay::Handle;
pub use rule::{Action, CloseKind, Dir, FramePred, FrameRewrite, Match, Rule};
pub use script::{SCRIPT_HELP, ScriptError, ScriptErrorKind, parse_fault_script};
pub use stats::{DirStats, Stats};
pub use tcp::{FramerFactory, Interposer, MAX_FRAME, SPLIT_GAP};
pub use udp::UdpInterposer;

/// The UDP interposer's handle: the same as the TCP one.
pub type UdpHandle = Handle;
