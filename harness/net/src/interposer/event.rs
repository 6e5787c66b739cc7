//! The live log: what the interposer saw and did, as it happens.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hilt_core::Direction;
use hilt_wire::FrameMeta;

use super::engine::Taken;

/// One relayed connection and the ids its two legs have in the [`crate::Recorder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLegs {
    /// The interposer's own number for the connection (0, 1, …), used in the log.
    pub conn: u32,
    pub client: SocketAddr,
    /// The client ↔ interposer leg: `Sent` is what the client wrote, `Received` what it
    /// was given (after faults).
    pub client_leg: Option<u32>,
    /// The interposer ↔ server leg: `Sent` is what the server was given (after faults),
    /// `Received` what it wrote.
    pub upstream_leg: Option<u32>,
}

/// An entry of the live log.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LogEvent {
    Opened {
        at: Duration,
        legs: ConnLegs,
    },
    /// A frame read from one side, and what the rules did with it.
    Frame {
        at: Duration,
        conn: u32,
        dir: Direction,
        len: usize,
        meta: FrameMeta,
        /// Empty when the frame was forwarded untouched.
        taken: Vec<Taken>,
    },
    /// Bytes forwarded (or swallowed) without framing.
    Opaque {
        at: Duration,
        conn: u32,
        dir: Direction,
        len: usize,
        reason: String,
    },
    Closed {
        at: Duration,
        conn: u32,
        how: String,
    },
    /// The reader fell behind and missed this many entries.
    Lagged(u64),
}

fn arrow(dir: Direction) -> &'static str {
    match dir {
        Direction::Sent => "C->S",
        Direction::Received => "S->C",
    }
}

/// One line per entry, as `hilt proxy` prints it.
impl fmt::Display for LogEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogEvent::Opened { at, legs } => write!(
                f,
                "{:>10.3}s #{} open from {}",
                at.as_secs_f64(),
                legs.conn,
                legs.client
            ),
            LogEvent::Frame {
                at,
                conn,
                dir,
                len,
                meta,
                taken,
            } => {
                write!(f, "{:>10.3}s #{conn} {} ", at.as_secs_f64(), arrow(*dir))?;
                // Summaries that already open with the kind (`CON GET …`) say it once.
                if !meta.summary.starts_with(meta.kind) {
                    write!(f, "{} ", meta.kind)?;
                }
                write!(f, "{} ({len} B)", meta.summary)?;
                if !taken.is_empty() {
                    let t: Vec<String> = taken.iter().map(ToString::to_string).collect();
                    write!(f, " [{}]", t.join(", "))?;
                }
                for p in &meta.problems {
                    write!(f, " !{p}")?;
                }
                Ok(())
            }
            LogEvent::Opaque {
                at,
                conn,
                dir,
                len,
                reason,
            } => write!(
                f,
                "{:>10.3}s #{conn} {} opaque ({len} B): {reason}",
                at.as_secs_f64(),
                arrow(*dir)
            ),
            LogEvent::Closed { at, conn, how } => {
                write!(f, "{:>10.3}s #{conn} closed: {how}", at.as_secs_f64())
            }
            LogEvent::Lagged(n) => write!(f, "... {n} log entries missed"),
        }
    }
}
