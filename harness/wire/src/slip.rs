//! SLIP (RFC 1055) framing, and the console text that shares the line with it.
//!
//! A device's UART carries two things: lines of console text, and IPv6 packets framed
//! as `END, escaped bytes, END` (0xC0 … 0xC0). Bytes outside a frame are text. The
//! receiver ([`SlipDemux`]) is a small state machine fed whatever bytes the line gave
//! (any split, one byte or a megabyte): idle; 0xC0 opens a frame; inside a frame a 0xC0
//! with nothing collected is ignored (back-to-back END END between frames, or a sender
//! that flushes noise with a leading END), any other 0xC0 ends the frame. ESC (0xDB)
//! must be followed by 0xDC (for 0xC0) or 0xDD (for 0xDB): anything else is a framing
//! error, and the frame is dropped and counted, not guessed at.
//!
//! Sans-IO: [`SlipDemux::handle_input`] takes bytes, [`SlipDemux::poll_event`] hands
//! out text, frames and drops; nothing here reads a clock or a port. No input panics.

/// Frame delimiter.
pub const END: u8 = 0xC0;
/// Escape: the next byte says which special byte was meant.
pub const ESC: u8 = 0xDB;
/// After [`ESC`]: a data 0xC0.
pub const ESC_END: u8 = 0xDC;
/// After [`ESC`]: a data 0xDB.
pub const ESC_ESC: u8 = 0xDD;

/// The largest frame collected by default: far above the IPv6 minimum MTU (1280) a
/// SLIP link carries, small enough that a line stuck inside a frame (a lost END) cannot
/// grow without bound.
pub const DEFAULT_MAX_FRAME: usize = 4096;

/// Appends `payload` framed for the line: END, the bytes with END and ESC escaped, END.
///
/// The leading END flushes whatever noise the receiver collected (RFC 1055 suggests
/// it); an empty payload still writes END END, which a receiver ignores.
pub fn encode_into(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(payload));
    out.push(END);
    for &b in payload {
        match b {
            END => out.extend_from_slice(&[ESC, ESC_END]),
            ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
            _ => out.push(b),
        }
    }
    out.push(END);
}

/// `payload` framed for the line, as a new buffer.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(payload, &mut out);
    out
}

/// The length of `payload` once framed.
pub fn encoded_len(payload: &[u8]) -> usize {
    2 + payload.len() + payload.iter().filter(|&&b| b == END || b == ESC).count()
}

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlipDrop {
    /// ESC followed by `byte`, which is neither ESC_END nor ESC_ESC (RFC 1055: "a
    /// protocol violation"). `offset` counts bytes into the frame's escaped form.
    BadEscape { byte: u8, offset: usize },
    /// The frame grew past the receiver's limit before its END.
    TooLong { limit: usize },
}

impl std::fmt::Display for SlipDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlipDrop::BadEscape { byte, offset } => write!(
                f,
                "RFC 1055: ESC followed by 0x{byte:02x} (only 0xdc or 0xdd may follow) at byte {offset} of the frame"
            ),
            SlipDrop::TooLong { limit } => write!(f, "frame longer than {limit} bytes"),
        }
    }
}

/// What the line carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlipEvent {
    /// Console bytes outside any frame, in the order they came (not split into lines).
    Text(Vec<u8>),
    /// One frame's payload, unescaped.
    Frame(Vec<u8>),
    /// A frame dropped whole.
    Dropped(SlipDrop),
}

/// Counters, as the firmware's `stats` command keeps them on the other side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlipStats {
    pub frames: u64,
    pub text_bytes: u64,
    pub bad_escapes: u64,
    pub too_long: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    InFrame,
    /// Inside a frame, the previous byte was ESC.
    Escaped,
    /// The frame was dropped; bytes are discarded until its END.
    Discard,
}

/// Splits a line's bytes into console text and SLIP frames (see the module docs).
#[derive(Debug, Clone)]
pub struct SlipDemux {
    state: State,
    frame: Vec<u8>,
    /// Escaped bytes seen in the current frame (for error offsets).
    raw_len: usize,
    text: Vec<u8>,
    max_frame: usize,
    events: std::collections::VecDeque<SlipEvent>,
    stats: SlipStats,
}

impl Default for SlipDemux {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl SlipDemux {
    /// A receiver that drops frames longer than `max_frame` bytes (unescaped).
    pub fn new(max_frame: usize) -> Self {
        SlipDemux {
            state: State::Idle,
            frame: Vec::new(),
            raw_len: 0,
            text: Vec::new(),
            max_frame,
            events: Default::default(),
            stats: SlipStats::default(),
        }
    }

    /// Feeds bytes read from the line. Text is handed out at the end of each call (and
    /// before each frame), so a console line split across reads comes out in pieces.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match self.state {
                State::Idle => {
                    if b == END {
                        self.flush_text();
                        self.start_frame();
                    } else {
                        self.text.push(b);
                    }
                }
                State::InFrame => {
                    self.raw_len += 1;
                    match b {
                        END if self.frame.is_empty() => self.raw_len = 0,
                        END => {
                            self.stats.frames += 1;
                            let frame = std::mem::take(&mut self.frame);
                            self.events.push_back(SlipEvent::Frame(frame));
                            self.state = State::Idle;
                        }
                        ESC => self.state = State::Escaped,
                        _ => self.push(b),
                    }
                }
                State::Escaped => {
                    self.raw_len += 1;
                    match b {
                        ESC_END => {
                            self.state = State::InFrame;
                            self.push(END);
                        }
                        ESC_ESC => {
                            self.state = State::InFrame;
                            self.push(ESC);
                        }
                        _ => {
                            self.stats.bad_escapes += 1;
                            self.drop_frame(SlipDrop::BadEscape {
                                byte: b,
                                offset: self.raw_len - 1,
                            });
                            // The END that was escaped-over still closes the frame.
                            if b == END {
                                self.state = State::Idle;
                            }
                        }
                    }
                }
                State::Discard => {
                    if b == END {
                        self.state = State::Idle;
                    }
                }
            }
        }
        self.flush_text();
    }

    /// The next thing the line carried, oldest first.
    pub fn poll_event(&mut self) -> Option<SlipEvent> {
        self.events.pop_front()
    }

    pub fn stats(&self) -> SlipStats {
        self.stats
    }

    /// True while a frame is open: bytes fed now belong to it, not to the console.
    pub fn in_frame(&self) -> bool {
        self.state != State::Idle
    }

    fn start_frame(&mut self) {
        self.frame.clear();
        self.raw_len = 0;
        self.state = State::InFrame;
    }

    fn push(&mut self, b: u8) {
        if self.frame.len() >= self.max_frame {
            self.stats.too_long += 1;
            self.drop_frame(SlipDrop::TooLong {
                limit: self.max_frame,
            });
        } else {
            self.frame.push(b);
        }
    }

    fn drop_frame(&mut self, why: SlipDrop) {
        self.frame.clear();
        self.state = State::Discard;
        self.events.push_back(SlipEvent::Dropped(why));
    }

    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            self.stats.text_bytes += self.text.len() as u64;
            let text = std::mem::take(&mut self.text);
            self.events.push_back(SlipEvent::Text(text));
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn events(d: &mut SlipDemux) -> Vec<SlipEvent> {
        std::iter::from_fn(|| d.poll_event()).collect()
    }

    /// Joins adjacent text events, as a reader of the console sees them.
    fn merged(evs: Vec<SlipEvent>) -> Vec<SlipEvent> {
        let mut out: Vec<SlipEvent> = Vec::new();
        for e in evs {
            match (out.last_mut(), e) {
                (Some(SlipEvent::Text(a)), SlipEvent::Text(b)) => a.extend(b),
                (_, e) => out.push(e),
            }
        }
        out
    }

    static PACKET: [u8; 8] = [0x60, 0xC0, 0x00, 0xDB, 0xDB, 0xDC, 0xC0, 0x01];

    #[test]
    fn encode_escapes_both_specials() {
        let e = encode(&PACKET);
        assert_eq!(
            e,
            [
                END, 0x60, ESC, ESC_END, 0x00, ESC, ESC_ESC, ESC, ESC_ESC, 0xDC, ESC, ESC_END,
                0x01, END
            ]
        );
        assert_eq!(encoded_len(&PACKET), e.len());
        assert_eq!(encode(&[]), [END, END]);
    }

    #[test]
    fn round_trip_with_text_around() {
        let mut line = b"hilt-fw 0.1 board=lm3s6965evb id=1\r\n".to_vec();
        line.extend(encode(&PACKET));
        line.extend(b"ready\r\n");
        line.extend(encode(&[0x60, 1, 2]));
        let mut d = SlipDemux::default();
        d.handle_input(&line);
        assert_eq!(
            events(&mut d),
            [
                SlipEvent::Text(b"hilt-fw 0.1 board=lm3s6965evb id=1\r\n".to_vec()),
                SlipEvent::Frame(PACKET.to_vec()),
                SlipEvent::Text(b"ready\r\n".to_vec()),
                SlipEvent::Frame(vec![0x60, 1, 2]),
            ]
        );
        assert_eq!(d.stats().frames, 2);
    }

    #[test]
    fn any_split_gives_the_same_result() {
        let mut line = b"abc".to_vec();
        line.extend(encode(&PACKET));
        line.extend(b"de\r\n");
        let mut whole = SlipDemux::default();
        whole.handle_input(&line);
        let want = merged(events(&mut whole));
        for cut in 0..line.len() {
            let mut d = SlipDemux::default();
            d.handle_input(&line[..cut]);
            d.handle_input(&line[cut..]);
            assert_eq!(merged(events(&mut d)), want, "cut at {cut}");
        }
    }

    #[test]
    fn empty_frames_are_ignored_and_stay_open() {
        let mut d = SlipDemux::default();
        d.handle_input(&[END, END, END, 0x60, END]);
        assert_eq!(events(&mut d), [SlipEvent::Frame(vec![0x60])]);
        assert!(!d.in_frame());
    }

    #[test]
    fn bad_escape_drops_the_frame_and_names_the_byte() {
        let mut d = SlipDemux::default();
        d.handle_input(&[END, 0x60, ESC, 0x41, 0x42, END, END, 0x60, END, b'x']);
        assert_eq!(
            events(&mut d),
            [
                SlipEvent::Dropped(SlipDrop::BadEscape {
                    byte: 0x41,
                    offset: 2
                }),
                SlipEvent::Frame(vec![0x60]),
                SlipEvent::Text(b"x".to_vec()),
            ]
        );
        assert_eq!(d.stats().bad_escapes, 1);
        let msg = SlipDrop::BadEscape {
            byte: 0x41,
            offset: 2,
        }
        .to_string();
        assert!(msg.starts_with("RFC 1055"), "{msg}");
    }

    #[test]
    fn escaped_end_still_closes_the_frame() {
        let mut d = SlipDemux::default();
        d.handle_input(&[END, 0x60, ESC, END, b'o', b'k']);
        let evs = events(&mut d);
        assert!(matches!(evs[0], SlipEvent::Dropped(_)), "{evs:?}");
        assert_eq!(evs[1], SlipEvent::Text(b"ok".to_vec()));
    }

    #[test]
    fn too_long_frames_are_dropped_without_growing() {
        let mut d = SlipDemux::new(4);
        d.handle_input(&[END, 1, 2, 3, 4, 5, 6, END, END, 7, END]);
        assert_eq!(
            events(&mut d),
            [
                SlipEvent::Dropped(SlipDrop::TooLong { limit: 4 }),
                SlipEvent::Frame(vec![7]),
            ]
        );
        assert_eq!(d.stats().too_long, 1);
    }

    #[test]
    fn no_input_panics() {
        // Every pair of bytes over a frame boundary, including the specials.
        let specials = [END, ESC, ESC_END, ESC_ESC, 0x00, b'\n'];
        let mut d = SlipDemux::new(8);
        for &a in &specials {
            for &b in &specials {
                for &c in &specials {
                    d.handle_input(&[a, b, c]);
                    while d.poll_event().is_some() {}
                }
            }
        }
    }
}
