//! STOMP 1.2: codec, heart-beat negotiation, dissector and raw builder.
//!
//! STOMP is text: a command line, header lines, a blank line, a body and a NUL. [`Frame`]
//! is the owned representation with [`decode`] and [`Frame::emit`]; headers are kept in
//! wire order with repeats ([`Frame::get`] returns the first, as receivers must use), and
//! escaped on the wire except in CONNECT and CONNECTED. EOLs between frames decode as
//! [`Item::HeartBeat`]. Decoding is strict and names the first rule a frame breaks
//! ([`Violation`], ids listed in `suites/spec/stomp-1.2.yaml`); [`dissect`] is lenient
//! and names them all. Unknown commands decode to [`Command::Unknown`]. Streams split
//! with [`frame_len`], which returns "need more" as a value and never fails.
//! [`RawFrame`] writes anything, for negative tests.

mod dissector;
mod error;
mod frame;
mod heartbeat;
mod raw;
mod rules;

pub use dissector::{Dissection, HEARTBEAT, StompFramer, dissect, summarize};
pub use error::Violation;
pub use frame::{Command, Frame, Item, NUL, decode, decode_lenient, escape, frame_len, unescape};
pub use heartbeat::{HeartBeat, Negotiated, negotiate};
pub use raw::RawFrame;
pub use rules::{Rule, STOMP12, spec};

/// IANA's port for STOMP (assigned to the STOMP protocol, 61613).
pub const STOMP_PORT: u16 = 61613;
