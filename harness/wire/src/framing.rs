//! What every stream protocol's codec offers the protocol-agnostic layers above it.
//!
//! The interposer, the recorders and the dissectors in reports split byte streams into
//! frames and name them without knowing the protocol; each protocol implements
//! [`Framer`] once.

/// The outcome of looking at the front of a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A complete item, and how many bytes of the input it used.
    Done(T, usize),
    /// The input ends before the item does; at least this many more bytes are needed.
    NeedMore(usize),
}

/// What a framer can say about one frame without fully decoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameMeta {
    /// The frame's kind as the specification names it: `PUBLISH`, `CONNACK`, `SEND`.
    pub kind: &'static str,
    /// A one-line human description (fields that matter when reading a trace).
    pub summary: String,
    /// Every rule the frame breaks, as `[RULE-ID] what, at offset N`.
    pub problems: Vec<String>,
}

/// Splits one direction of a stream protocol into frames.
///
/// A framer may keep state learnt from earlier frames (MQTT's protocol level is set by
/// CONNECT and changes how later frames parse), so each direction of each connection
/// gets its own instance — but a framer also sees the other direction's frames through
/// [`Framer::observe_peer`] when that matters.
pub trait Framer: Send {
    /// The length of the frame at the start of `buf`.
    ///
    /// `Err` means the bytes cannot be split into frames any more (the stream is
    /// beyond repair, e.g. a malformed length); callers then treat the rest as opaque.
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String>;

    /// Describes one complete frame (as delimited by `frame_len`).
    fn describe(&mut self, frame: &[u8]) -> FrameMeta;

    /// Sees a complete frame that went the other way on the same connection.
    fn observe_peer(&mut self, _frame: &[u8]) {}
}

/// Makes a fresh framer for each direction of each connection.
pub type FramerFactory = std::sync::Arc<dyn Fn() -> Box<dyn Framer> + Send + Sync>;
