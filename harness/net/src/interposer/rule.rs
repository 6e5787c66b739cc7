//! The fault vocabulary: which frames a rule picks and what it does to them.
//!
//! Nothing here knows about sockets; the same rules drive the TCP relay and, later, the
//! datagram one.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hilt_core::Direction;
use hilt_wire::FrameMeta;

/// Which way a rule looks, named from the relay's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to server: what the tester sends to the system under test.
    ToServer,
    /// Server to client: what the system under test sends back.
    ToClient,
    /// Either way; match counts are still kept per direction.
    Both,
}

impl Dir {
    /// Whether frames going `way` are this rule's business.
    pub fn covers(self, way: Direction) -> bool {
        matches!(
            (self, way),
            (Dir::Both, _)
                | (Dir::ToServer, Direction::Sent)
                | (Dir::ToClient, Direction::Received)
        )
    }
}

/// A byte predicate; shared so rules stay cheap to clone and replace.
pub type FramePred = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;
/// A frame-to-frame mutation; it may change the frame's length.
pub type FrameRewrite = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// Which frames a rule picks.
#[derive(Clone)]
pub enum Match {
    /// Every frame.
    Any,
    /// Frames whose [`FrameMeta::kind`] is this (ASCII case ignored, so scripts may
    /// write `publish`).
    Kind(Cow<'static, str>),
    /// Frames for which the predicate holds. It sees the whole frame as read.
    Pred(FramePred),
    /// Frames every one of these picks.
    All(Vec<Match>),
    /// Frames at least one of these picks.
    AnyOf(Vec<Match>),
    /// Frames this does not pick.
    Not(Box<Match>),
}

impl Match {
    pub fn kind(kind: impl Into<Cow<'static, str>>) -> Self {
        Match::Kind(kind.into())
    }

    pub fn pred(f: impl Fn(&[u8]) -> bool + Send + Sync + 'static) -> Self {
        Match::Pred(Arc::new(f))
    }

    pub fn and(self, other: Match) -> Self {
        match self {
            Match::All(mut v) => {
                v.push(other);
                Match::All(v)
            }
            first => Match::All(vec![first, other]),
        }
    }

    pub fn or(self, other: Match) -> Self {
        match self {
            Match::AnyOf(mut v) => {
                v.push(other);
                Match::AnyOf(v)
            }
            first => Match::AnyOf(vec![first, other]),
        }
    }

    #[expect(
        clippy::should_implement_trait,
        reason = "a builder, not boolean negation"
    )]
    pub fn not(self) -> Self {
        Match::Not(Box::new(self))
    }

    /// Whether this picks `frame`. A predicate that panics is taken as "no": a bug in a
    /// test's closure must not take the relay down with it.
    pub fn matches(&self, frame: &[u8], meta: &FrameMeta) -> bool {
        match self {
            Match::Any => true,
            Match::Kind(k) => meta.kind.eq_ignore_ascii_case(k),
            Match::Pred(f) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(frame))).unwrap_or(false)
            }
            Match::All(v) => v.iter().all(|m| m.matches(frame, meta)),
            Match::AnyOf(v) => v.iter().any(|m| m.matches(frame, meta)),
            Match::Not(m) => !m.matches(frame, meta),
        }
    }
}

impl fmt::Debug for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Match::Any => f.write_str("Any"),
            Match::Kind(k) => f.debug_tuple("Kind").field(k).finish(),
            Match::Pred(_) => f.write_str("Pred(..)"),
            Match::All(v) => f.debug_tuple("All").field(v).finish(),
            Match::AnyOf(v) => f.debug_tuple("AnyOf").field(v).finish(),
            Match::Not(m) => f.debug_tuple("Not").field(m).finish(),
        }
    }
}

/// How a connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseKind {
    /// An orderly close towards both peers: FIN, as a server calling `close()` does.
    Fin,
    /// An abortive close towards both peers (`SO_LINGER` 0): they see a reset.
    Rst,
    /// Nothing passes any more, either way, but both sockets stay open: the peers see
    /// silence, as behind a dead link.
    BlackHole,
}

/// What a rule does to a frame it picked.
#[derive(Clone)]
pub enum Action {
    /// The frame never arrives.
    Drop,
    /// The frame leaves this much later; frames behind it wait too, so order is kept.
    Delay(Duration),
    /// The frame is sent twice, back to back.
    Duplicate,
    /// `frame[offset] ^= xor`; an offset past the end does nothing.
    Corrupt { offset: usize, xor: u8 },
    /// Overwrites from `offset`; bytes past the end extend the frame; an offset past the
    /// end does nothing.
    Patch { offset: usize, bytes: Vec<u8> },
    /// Replaces the frame with what the function returns (protocol-aware mutation).
    Rewrite(FrameRewrite),
    /// Writes the frame in several TCP segments, cut at these offsets.
    Split { at: Vec<usize> },
    /// Holds the frame back and sends it right after the next one in its direction.
    Reorder,
    /// Stops this direction from this frame on: it and everything after it vanish.
    Stall,
    /// Sends these bytes just before the frame.
    InjectBefore(Vec<u8>),
    /// Sends these bytes just after the frame.
    InjectAfter(Vec<u8>),
    /// Cuts the connection instead of forwarding the frame.
    Close(CloseKind),
}

impl Action {
    pub fn rewrite(f: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static) -> Self {
        Action::Rewrite(Arc::new(f))
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Drop => f.write_str("Drop"),
            Action::Delay(d) => f.debug_tuple("Delay").field(d).finish(),
            Action::Duplicate => f.write_str("Duplicate"),
            Action::Corrupt { offset, xor } => f
                .debug_struct("Corrupt")
                .field("offset", offset)
                .field("xor", xor)
                .finish(),
            Action::Patch { offset, bytes } => f
                .debug_struct("Patch")
                .field("offset", offset)
                .field("bytes", bytes)
                .finish(),
            Action::Rewrite(_) => f.write_str("Rewrite(..)"),
            Action::Split { at } => f.debug_struct("Split").field("at", at).finish(),
            Action::Reorder => f.write_str("Reorder"),
            Action::Stall => f.write_str("Stall"),
            Action::InjectBefore(b) => f.debug_tuple("InjectBefore").field(b).finish(),
            Action::InjectAfter(b) => f.debug_tuple("InjectAfter").field(b).finish(),
            Action::Close(k) => f.debug_tuple("Close").field(k).finish(),
        }
    }
}

/// One fault: the frames it picks (direction, matcher, which matches) and the action.
///
/// Matches are numbered from 1, per connection and per direction, counting every frame
/// the matcher picks whatever other rules do to it. A match is *selected* when its
/// number is above `after` and equals `nth` (if set); the action is applied to at most
/// `count` selected matches (if set).
#[derive(Debug, Clone)]
pub struct Rule {
    pub dir: Dir,
    pub matcher: Match,
    /// Only the n-th match (1-based).
    pub nth: Option<u32>,
    /// At most this many applications.
    pub count: Option<u32>,
    /// Leave the first this-many matches alone.
    pub after: u32,
    pub action: Action,
}

impl Rule {
    /// A rule applied to every frame `matcher` picks going `dir`.
    pub fn new(dir: Dir, matcher: Match, action: Action) -> Self {
        Rule {
            dir,
            matcher,
            nth: None,
            count: None,
            after: 0,
            action,
        }
    }

    pub fn nth(mut self, n: u32) -> Self {
        self.nth = Some(n);
        self
    }

    pub fn count(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }

    /// Whether the `m`-th match (1-based) is one this rule acts on, given how many times
    /// it has already acted.
    pub(crate) fn selects(&self, m: u32, applied: u32) -> bool {
        m > self.after && self.nth.is_none_or(|n| m == n) && self.count.is_none_or(|c| applied < c)
    }
}
