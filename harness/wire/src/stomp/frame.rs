//! Frames: commands, headers (escaped or not), bodies delimited by content-length or by
//! the NUL, and the EOLs between frames (heart-beats) as items of their own.
//!
//! One parser serves three callers: [`decode`] stops at the first rule a frame breaks,
//! [`decode_lenient`] reads on and lists them all, and [`frame_len`] only delimits.
//! None of them panics, whatever the input.

use std::fmt;

use crate::framing::Decoded;

use super::error::Violation;
use super::rules::Rule;

/// The octet that ends every frame.
pub const NUL: u8 = 0;

/// A frame's command. Commands are case sensitive: `send` is [`Command::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    Connect,
    Stomp,
    Send,
    Subscribe,
    Unsubscribe,
    Ack,
    Nack,
    Begin,
    Commit,
    Abort,
    Disconnect,
    Connected,
    Message,
    Receipt,
    Error,
    /// Neither a client nor a server command, kept as written so a test can judge it.
    Unknown(String),
}

impl Command {
    /// Every command the specification defines.
    pub const KNOWN: [Command; 15] = [
        Command::Connect,
        Command::Stomp,
        Command::Send,
        Command::Subscribe,
        Command::Unsubscribe,
        Command::Ack,
        Command::Nack,
        Command::Begin,
        Command::Commit,
        Command::Abort,
        Command::Disconnect,
        Command::Connected,
        Command::Message,
        Command::Receipt,
        Command::Error,
    ];

    pub fn parse(s: &str) -> Command {
        Command::KNOWN
            .iter()
            .find(|c| c.kind() == s)
            .cloned()
            .unwrap_or_else(|| Command::Unknown(s.to_owned()))
    }

    /// The command as the specification spells it; `UNKNOWN` for others.
    pub const fn kind(&self) -> &'static str {
        use Command::*;
        match self {
            Connect => "CONNECT",
            Stomp => "STOMP",
            Send => "SEND",
            Subscribe => "SUBSCRIBE",
            Unsubscribe => "UNSUBSCRIBE",
            Ack => "ACK",
            Nack => "NACK",
            Begin => "BEGIN",
            Commit => "COMMIT",
            Abort => "ABORT",
            Disconnect => "DISCONNECT",
            Connected => "CONNECTED",
            Message => "MESSAGE",
            Receipt => "RECEIPT",
            Error => "ERROR",
            Unknown(_) => "UNKNOWN",
        }
    }

    /// The command as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Command::Unknown(s) => s,
            known => known.kind(),
        }
    }

    /// Whether header names and values of this frame are escaped. CONNECT and CONNECTED
    /// are not, for STOMP 1.0's sake; STOMP is "handled in the same manner as a CONNECT
    /// frame", so it is not either.
    pub fn escapes_headers(&self) -> bool {
        !matches!(self, Command::Connect | Command::Stomp | Command::Connected)
    }

    /// Whether the frame may carry a body (SEND, MESSAGE, ERROR; unknown commands are
    /// not judged).
    pub fn may_have_body(&self) -> bool {
        matches!(
            self,
            Command::Send | Command::Message | Command::Error | Command::Unknown(_)
        )
    }

    /// Headers the frame must carry, each with the rule its absence breaks.
    pub fn required_headers(&self) -> &'static [(&'static str, Rule)] {
        use Command::*;
        match self {
            Send => &[("destination", Rule::SendDestination)],
            Subscribe => &[
                ("destination", Rule::SubscribeDestination),
                ("id", Rule::SubscribeId),
            ],
            Unsubscribe => &[("id", Rule::UnsubscribeId)],
            Ack => &[("id", Rule::AckId)],
            Nack => &[("id", Rule::NackId)],
            Begin => &[("transaction", Rule::BeginTransaction)],
            Commit => &[("transaction", Rule::CommitTransaction)],
            Abort => &[("transaction", Rule::AbortTransaction)],
            Connected => &[("version", Rule::ConnectedVersion)],
            Message => &[
                ("destination", Rule::MessageDestination),
                ("message-id", Rule::MessageId),
                ("subscription", Rule::MessageSubscription),
            ],
            Receipt => &[("receipt-id", Rule::ReceiptId)],
            _ => &[],
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One frame, headers decoded (unescaped) and kept in wire order, repeats included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub command: Command,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the front of a stream holds: a frame, or an EOL between frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Frame(Frame),
    /// An EOL (LF or CR LF) outside a frame: a heart-beat, or padding after a NUL.
    HeartBeat,
}

impl Frame {
    pub fn new(command: Command) -> Self {
        Frame {
            command,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Appends a header (builder style); a repeated name adds an entry.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets content-length to the body's length.
    pub fn with_content_length(mut self) -> Self {
        let n = self.body.len().to_string();
        self.set("content-length", n);
        self
    }

    /// The value of `name`: the first entry, as the specification says receivers use.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in wire order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Replaces the first entry of `name`, or appends one.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.headers.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_owned(), value)),
        }
    }

    /// Removes every entry of `name`.
    pub fn remove(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }

    /// Writes the frame with LF line ends, escaping headers where the command requires.
    /// Nothing is checked: a frame missing required headers is written as it is.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let escaped = self.command.escapes_headers();
        out.extend_from_slice(self.command.as_str().as_bytes());
        out.push(b'\n');
        for (name, value) in &self.headers {
            write_header_part(name, escaped, out);
            out.push(b':');
            write_header_part(value, escaped, out);
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out.push(NUL);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.emit(&mut out);
        out
    }

    pub fn encoded_len(&self) -> usize {
        let escaped = self.command.escapes_headers();
        let part = |s: &str| {
            s.len()
                + if escaped {
                    s.bytes().filter(|b| ESCAPED.contains(b)).count()
                } else {
                    0
                }
        };
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| part(n) + 1 + part(v) + 1)
            .sum();
        self.command.as_str().len() + 1 + headers + 1 + self.body.len() + 1
    }
}

/// Octets that escaped headers spell with a backslash.
const ESCAPED: [u8; 4] = [b'\r', b'\n', b':', b'\\'];

fn write_header_part(s: &str, escaped: bool, out: &mut Vec<u8>) {
    if !escaped {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for &b in s.as_bytes() {
        match b {
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
}

/// The escaped form of a header name or value, as written in frames other than CONNECT
/// and CONNECTED.
pub fn escape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    write_header_part(s, true, &mut out);
    // Only ASCII was inserted around whole UTF-8 sequences.
    String::from_utf8(out).unwrap_or_default()
}

/// Decodes an escaped header part; `Err(i)` gives the index of a backslash that starts
/// an undefined escape (or ends the part).
pub fn unescape(raw: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let decoded = match raw.get(i + 1) {
            Some(b'r') => b'\r',
            Some(b'n') => b'\n',
            Some(b'c') => b':',
            Some(b'\\') => b'\\',
            _ => return Err(i),
        };
        out.push(decoded);
        i += 2;
    }
    Ok(out)
}

/// Decodes the item at the front of `buf`, stopping at the first rule it breaks.
///
/// Unknown commands decode to [`Command::Unknown`] without error: the receiver judges
/// them ([`decode_lenient`] lists them as problems).
pub fn decode(buf: &[u8]) -> Result<Decoded<Item>, Violation> {
    if let Some(d) = heart_beat(buf) {
        return Ok(match d {
            Decoded::Done(_, n) => Decoded::Done(Item::HeartBeat, n),
            Decoded::NeedMore(n) => Decoded::NeedMore(n),
        });
    }
    let mut sink = Sink::strict();
    match parse(buf, &mut sink)? {
        Decoded::Done(f, n) => Ok(Decoded::Done(Item::Frame(f), n)),
        Decoded::NeedMore(n) => Ok(Decoded::NeedMore(n)),
    }
}

/// Reads one complete frame (as delimited by [`frame_len`]) whatever rules it breaks:
/// the frame as far as it could be read, and every rule it breaks in frame order.
pub fn decode_lenient(frame: &[u8]) -> (Option<Frame>, Vec<Violation>) {
    let mut sink = Sink::lenient();
    match parse(frame, &mut sink) {
        Ok(Decoded::Done(f, _)) => {
            let mut problems = sink.problems;
            if let Command::Unknown(name) = &f.command {
                problems.push(violation(
                    Rule::UnknownCommand,
                    0,
                    format!("{name:?} is neither a client nor a server command"),
                ));
            }
            (Some(f), problems)
        }
        Ok(Decoded::NeedMore(_)) => {
            let mut problems = sink.problems;
            problems.push(violation(
                Rule::HeadersNotEnded,
                frame.len(),
                "the frame ends before its NUL".into(),
            ));
            (None, problems)
        }
        // The lenient sink never stops the parser.
        Err(v) => (None, vec![v]),
    }
}

/// The length of the item at the front of `buf`: an EOL (1 or 2 octets) or a frame up to
/// and including its NUL. Frames that break rules are still delimited: by content-length
/// where it is a number and a NUL follows the body, else by the first NUL.
pub fn frame_len(buf: &[u8]) -> Decoded<usize> {
    if let Some(d) = heart_beat(buf) {
        return d;
    }
    match parse(buf, &mut Sink::lenient()) {
        Ok(Decoded::Done(_, n)) => Decoded::Done(n, n),
        Ok(Decoded::NeedMore(n)) => Decoded::NeedMore(n),
        Err(_) => Decoded::NeedMore(1),
    }
}

/// An EOL at the front of `buf`: `Done(len, len)`; `None` when a frame starts there.
fn heart_beat(buf: &[u8]) -> Option<Decoded<usize>> {
    match buf {
        [] => Some(Decoded::NeedMore(1)),
        [b'\n', ..] => Some(Decoded::Done(1, 1)),
        [b'\r'] => Some(Decoded::NeedMore(1)),
        [b'\r', b'\n', ..] => Some(Decoded::Done(2, 2)),
        _ => None,
    }
}

fn violation(rule: Rule, offset: usize, detail: String) -> Violation {
    Violation {
        rule: rule.spec_ref(),
        offset,
        detail,
    }
}

/// Where the parser's findings go: the first one ends a strict parse, a lenient one
/// collects them and reads on.
struct Sink {
    strict: bool,
    problems: Vec<Violation>,
}

impl Sink {
    fn strict() -> Self {
        Sink {
            strict: true,
            problems: Vec::new(),
        }
    }

    fn lenient() -> Self {
        Sink {
            strict: false,
            problems: Vec::new(),
        }
    }

    fn report(&mut self, rule: Rule, offset: usize, detail: String) -> Result<(), Violation> {
        let v = violation(rule, offset, detail);
        if self.strict {
            Err(v)
        } else {
            self.problems.push(v);
            Ok(())
        }
    }
}

/// A line of the header section: its content (EOL removed) and where the next starts.
enum Line<'a> {
    /// Ended by LF; `start` is its offset.
    Ended {
        text: &'a [u8],
        start: usize,
        next: usize,
    },
    /// A NUL came first: the frame ends inside its header section, at `nul`.
    Nul { start: usize, nul: usize },
    /// Neither LF nor NUL yet.
    Open,
}

fn line_at(buf: &[u8], start: usize) -> Line<'_> {
    let rest = buf.get(start..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\n' || b == NUL) {
        None => Line::Open,
        Some(i) if rest[i] == NUL => Line::Nul {
            start,
            nul: start + i,
        },
        Some(i) => {
            let text = &rest[..i];
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            Line::Ended {
                text,
                start,
                next: start + i + 1,
            }
        }
    }
}

fn utf8(bytes: &[u8], offset: usize, what: &str, sink: &mut Sink) -> Result<String, Violation> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => {
            sink.report(
                Rule::Utf8,
                offset + e.valid_up_to(),
                format!("{what} is not UTF-8"),
            )?;
            Ok(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

/// The frame at the front of `buf` (which does not start with an EOL).
fn parse(buf: &[u8], sink: &mut Sink) -> Result<Decoded<Frame>, Violation> {
    let (command, mut pos) = match line_at(buf, 0) {
        Line::Open => return Ok(Decoded::NeedMore(1)),
        Line::Nul { nul, .. } => {
            sink.report(
                Rule::HeadersNotEnded,
                nul,
                "the command line is not ended by an EOL".into(),
            )?;
            let name = utf8(&buf[..nul], 0, "the command", sink)?;
            let frame = Frame::new(Command::parse(name.trim_end_matches('\r')));
            return Ok(Decoded::Done(frame, nul + 1));
        }
        Line::Ended { text, next, .. } => {
            let name = utf8(text, 0, "the command", sink)?;
            (Command::parse(&name), next)
        }
    };
    let escaped = command.escapes_headers();
    let mut frame = Frame::new(command);
    // Header lines up to the blank one.
    let body_start = loop {
        match line_at(buf, pos) {
            Line::Open => return Ok(Decoded::NeedMore(1)),
            Line::Nul { start, nul } => {
                sink.report(
                    Rule::HeadersNotEnded,
                    nul,
                    "the NUL comes before the blank line that ends the headers".into(),
                )?;
                if nul > start {
                    header(&buf[start..nul], start, escaped, &mut frame, sink)?;
                }
                check_headers(&frame, buf, sink)?;
                return Ok(Decoded::Done(frame, nul + 1));
            }
            Line::Ended { text, start, next } => {
                pos = next;
                if text.is_empty() {
                    break next;
                }
                header(text, start, escaped, &mut frame, sink)?;
            }
        }
    };
    // The body: content-length octets then the NUL, or up to the first NUL.
    let declared = match frame.get("content-length") {
        None => None,
        Some(v) => match parse_content_length(v) {
            Some(n) => Some(n),
            None => {
                let at = header_offset(buf, "content-length").unwrap_or(0);
                sink.report(
                    Rule::ContentLengthValue,
                    at,
                    format!("content-length {v:?} is not a decimal octet count"),
                )?;
                None
            }
        },
    };
    let (body_end, end) = match declared {
        Some(n) => {
            let Some(nul_at) = body_start.checked_add(n) else {
                return Ok(Decoded::NeedMore(usize::MAX));
            };
            match buf.get(nul_at) {
                None => return Ok(Decoded::NeedMore(nul_at + 1 - buf.len())),
                Some(&NUL) => (nul_at, nul_at + 1),
                Some(_) => {
                    sink.report(
                        Rule::ContentLengthNotNul,
                        nul_at,
                        format!("the {n} octets of body content-length declares are not followed by the NUL"),
                    )?;
                    match buf[nul_at..].iter().position(|&b| b == NUL) {
                        Some(i) => (nul_at + i, nul_at + i + 1),
                        None => return Ok(Decoded::NeedMore(1)),
                    }
                }
            }
        }
        None => match buf[body_start..].iter().position(|&b| b == NUL) {
            Some(i) => (body_start + i, body_start + i + 1),
            None => return Ok(Decoded::NeedMore(1)),
        },
    };
    frame.body = buf[body_start..body_end].to_vec();
    if !frame.body.is_empty() && !frame.command.may_have_body() {
        sink.report(
            Rule::BodyNotAllowed,
            body_start,
            format!(
                "a {} frame has a body of {} octets",
                frame.command,
                frame.body.len()
            ),
        )?;
    }
    check_headers(&frame, buf, sink)?;
    Ok(Decoded::Done(frame, end))
}

/// One header line (EOL removed) at `start`.
fn header(
    text: &[u8],
    start: usize,
    escaped: bool,
    frame: &mut Frame,
    sink: &mut Sink,
) -> Result<(), Violation> {
    let Some(colon) = text.iter().position(|&b| b == b':') else {
        sink.report(
            Rule::HeaderSyntax,
            start,
            "a header line has no colon".into(),
        )?;
        return Ok(());
    };
    if colon == 0 {
        sink.report(Rule::HeaderSyntax, start, "a header name is empty".into())?;
    }
    let (name_raw, value_raw) = (&text[..colon], &text[colon + 1..]);
    let value_at = start + colon + 1;
    if let Some(i) = name_raw.iter().position(|&b| b == b'\r') {
        sink.report(
            Rule::HeaderSyntax,
            start + i,
            "a header name holds a carriage return".into(),
        )?;
    }
    // CONNECT and CONNECTED are not escaped, so their values may hold colons.
    let bad_octet = |b: &u8| *b == b'\r' || (escaped && *b == b':');
    if let Some(i) = value_raw.iter().position(bad_octet) {
        let what = if value_raw[i] == b':' {
            "an unescaped colon"
        } else {
            "a carriage return"
        };
        sink.report(
            Rule::HeaderValueOctet,
            value_at + i,
            format!("a header value holds {what}"),
        )?;
    }
    let (name, value) = if escaped {
        let mut part = |raw: &[u8], at: usize| -> Result<Vec<u8>, Violation> {
            match unescape(raw) {
                Ok(v) => Ok(v),
                Err(i) => {
                    let seq = String::from_utf8_lossy(&raw[i..raw.len().min(i + 2)]).into_owned();
                    sink.report(
                        Rule::UndefinedEscape,
                        at + i,
                        format!("undefined escape sequence {seq:?}"),
                    )?;
                    Ok(raw.to_vec())
                }
            }
        };
        (part(name_raw, start)?, part(value_raw, value_at)?)
    } else {
        (name_raw.to_vec(), value_raw.to_vec())
    };
    let name = utf8(&name, start, "a header name", sink)?;
    let value = utf8(&value, value_at, "a header value", sink)?;
    frame.headers.push((name, value));
    Ok(())
}

/// A content-length value: decimal digits only (no sign, no spaces), fitting in usize.
fn parse_content_length(v: &str) -> Option<usize> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Where the header line `name:` starts in `buf`, for offsets of header-level findings.
fn header_offset(buf: &[u8], name: &str) -> Option<usize> {
    let needle = format!("\n{name}:");
    buf.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .map(|i| i + 1)
}

/// Rules about the headers as a whole: required ones, and the heart-beat format.
fn check_headers(frame: &Frame, buf: &[u8], sink: &mut Sink) -> Result<(), Violation> {
    for &(name, rule) in frame.command.required_headers() {
        if frame.get(name).is_none() {
            sink.report(
                rule,
                0,
                format!("{} without the required {name} header", frame.command),
            )?;
        }
    }
    if matches!(
        frame.command,
        Command::Connect | Command::Stomp | Command::Connected
    ) && let Some(hb) = frame.get("heart-beat")
        && super::heartbeat::HeartBeat::parse(hb).is_none()
    {
        let at = header_offset(buf, "heart-beat").unwrap_or(0);
        sink.report(
            Rule::HeartBeatFormat,
            at,
            format!("heart-beat {hb:?} is not two integers separated by a comma"),
        )?;
    }
    // 1.0 clients send no accept-version and may omit host; 1.1 and 1.2 clients may not.
    if matches!(frame.command, Command::Connect | Command::Stomp)
        && frame.get("accept-version").is_some()
        && frame.get("host").is_none()
    {
        sink.report(
            Rule::ConnectHost,
            0,
            format!("{} with accept-version but no host", frame.command),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;

    fn done(buf: &[u8]) -> (Frame, usize) {
        match decode(buf) {
            Ok(Decoded::Done(Item::Frame(f), n)) => (f, n),
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    fn rule_of(buf: &[u8]) -> (&'static str, usize) {
        let v = decode(buf).expect_err("a violation");
        (v.rule.id, v.offset)
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    static SEND: &[u8] = b"SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\0";

    #[test]
    fn test_parse() {
        let (f, n) = done(SEND);
        assert_eq!(n, SEND.len());
        assert_eq!(f.command, Command::Send);
        assert_eq!(f.get("destination"), Some("/queue/a"));
        assert_eq!(f.body, b"hello queue a");
    }

    #[test]
    fn test_emit() {
        let f = Frame::new(Command::Send)
            .header("destination", "/queue/a")
            .header("content-type", "text/plain")
            .body(&b"hello queue a"[..]);
        assert_eq!(f.to_bytes(), SEND);
        assert_eq!(f.encoded_len(), SEND.len());
    }

    #[test]
    fn crlf_lines_and_heart_beats() {
        let buf = b"\r\n\nMESSAGE\r\nsubscription:0\r\nmessage-id:007\r\ndestination:/queue/a\r\n\r\nhi\0\n";
        assert_eq!(decode(buf), Ok(Decoded::Done(Item::HeartBeat, 2)));
        assert_eq!(decode(&buf[2..]), Ok(Decoded::Done(Item::HeartBeat, 1)));
        let (f, n) = done(&buf[3..]);
        assert_eq!(f.get("message-id"), Some("007"));
        assert_eq!(f.body, b"hi");
        assert_eq!(decode(&buf[3 + n..]), Ok(Decoded::Done(Item::HeartBeat, 1)));
        assert_eq!(decode(b"\r"), Ok(Decoded::NeedMore(1)));
    }

    #[test]
    fn content_length_carries_nuls() {
        let buf = b"SEND\ndestination:/q\ncontent-length:5\n\na\0b\0c\0";
        let (f, n) = done(buf);
        assert_eq!(f.body, b"a\0b\0c");
        assert_eq!(n, buf.len());
        // Cut anywhere before the end: need more.
        for cut in 1..buf.len() {
            assert!(
                matches!(decode(&buf[..cut]), Ok(Decoded::NeedMore(_))),
                "cut at {cut}"
            );
        }
        assert_eq!(
            frame_len(b"SEND\ncontent-length:5\n\nab"),
            Decoded::NeedMore(4)
        );
    }

    #[test]
    fn escapes_round_trip_except_in_connect() {
        let f = Frame::new(Command::Send)
            .header("destination", "/q")
            .header("k:ey", "a\r\nb:c\\d");
        let bytes = f.to_bytes();
        assert!(contains(&bytes, b"k\\cey:a\\r\\nb\\cc\\\\d"));
        assert_eq!(done(&bytes).0, f);
        let c = Frame::new(Command::Connect)
            .header("accept-version", "1.2")
            .header("host", "h")
            .header("passcode", "a\\tb:c");
        let bytes = c.to_bytes();
        assert!(contains(&bytes, b"passcode:a\\tb:c"));
        assert_eq!(done(&bytes).0, c);
    }

    #[test]
    fn repeated_headers_first_wins_all_kept() {
        let (f, _) = done(
            b"MESSAGE\nfoo:World\nfoo:Hello\ndestination:/q\nmessage-id:1\nsubscription:0\n\n\0",
        );
        assert_eq!(f.get("foo"), Some("World"));
        assert_eq!(f.get_all("foo").collect::<Vec<_>>(), ["World", "Hello"]);
    }

    #[test]
    fn strict_parsing_names_the_rule_and_offset() {
        let cases: &[(&[u8], &str, usize)] = &[
            (
                b"SEND\ndestination:/q\nx:a\\tb\n\n\0",
                "STOMP-1.2-value-encoding-3",
                23,
            ),
            (
                b"SEND\ndestination:/q\nx:ab\\\n\n\0",
                "STOMP-1.2-value-encoding-3",
                24,
            ),
            (
                b"SEND\ndestination:/q\nnocolon\n\n\0",
                "STOMP-1.2-bnf-2",
                20,
            ),
            (b"SEND\ndestination:/q\n:v\n\n\0", "STOMP-1.2-bnf-2", 20),
            (b"SEND\ndestination:/q\nx:a:b\n\n\0", "STOMP-1.2-bnf-3", 23),
            (b"SEND\ndestination:/q\nx:a\rb\n\n\0", "STOMP-1.2-bnf-3", 23),
            (b"SEND\ndestination:/q\n\0", "STOMP-1.2-bnf-5", 20),
            (b"DISCONNECT\0", "STOMP-1.2-bnf-5", 10),
            (
                b"SEND\ndestination:/q\ncontent-length:x\n\n\0",
                "STOMP-1.2-content-length-1",
                20,
            ),
            (
                b"SEND\ndestination:/q\ncontent-length:-1\n\n\0",
                "STOMP-1.2-content-length-1",
                20,
            ),
            (
                b"SEND\ndestination:/q\ncontent-length:1\n\nab\0",
                "STOMP-1.2-content-length-1",
                39,
            ),
            (b"BEGIN\ntransaction:t\n\nbody\0", "STOMP-1.2-body-1", 21),
            (b"SEND\n\n\0", "STOMP-1.2-send-1", 0),
            (
                b"SUBSCRIBE\ndestination:/q\n\n\0",
                "STOMP-1.2-subscribe-id-1",
                0,
            ),
            (b"ACK\n\n\0", "STOMP-1.2-ack-1", 0),
            (b"CONNECTED\n\n\0", "STOMP-1.2-connected-1", 0),
            (
                b"CONNECTED\nversion:1.2\nheart-beat:1,x\n\n\0",
                "STOMP-1.2-heart-beating-1",
                22,
            ),
            (
                b"CONNECT\naccept-version:1.2\n\n\0",
                "STOMP-1.2-connect-3",
                0,
            ),
            (
                b"SEND\ndestination:/q\nx:\xff\n\n\0",
                "STOMP-1.2-value-encoding-1",
                22,
            ),
        ];
        for (buf, id, offset) in cases {
            assert_eq!(
                rule_of(buf),
                (*id, *offset),
                "{:?}",
                String::from_utf8_lossy(buf)
            );
            // Whatever the violation, the framer still delimits the whole frame.
            assert_eq!(frame_len(buf), Decoded::Done(buf.len(), buf.len()));
        }
    }

    #[test]
    fn unknown_commands_decode_and_are_listed_leniently() {
        let (f, _) = done(b"send\ndestination:/q\n\n\0");
        assert_eq!(f.command, Command::Unknown("send".into()));
        let (_, problems) = decode_lenient(b"send\ndestination:/q\n\n\0");
        assert_eq!(problems[0].rule.id, "STOMP-1.2-bnf-4");
    }

    #[test]
    fn lenient_lists_every_problem() {
        let (f, problems) = decode_lenient(b"SEND\nx:a\\tb\nnocolon\n\nbody\0");
        assert!(f.is_some());
        let ids: Vec<&str> = problems.iter().map(|v| v.rule.id).collect();
        assert_eq!(
            ids,
            [
                "STOMP-1.2-value-encoding-3",
                "STOMP-1.2-bnf-2",
                "STOMP-1.2-send-1"
            ]
        );
    }

    #[test]
    fn test_impossible_len() {
        // A content-length that overflows must not panic.
        let buf = b"SEND\ncontent-length:18446744073709551615\n\n\0";
        assert!(matches!(frame_len(buf), Decoded::NeedMore(_)));
        assert!(matches!(decode(buf), Ok(Decoded::NeedMore(_))));
        let buf = b"SEND\ncontent-length:99999999999999999999999\n\n\0";
        assert!(decode(buf).is_err());
        assert_eq!(frame_len(buf), Decoded::Done(buf.len(), buf.len()));
    }

    #[test]
    fn no_input_panics() {
        // Every prefix and every single-byte mutation of a few frames.
        let seeds: [&[u8]; 3] = [
            SEND,
            b"CONNECT\naccept-version:1.2\nhost:h\nheart-beat:0,0\n\n\0\n",
            b"MESSAGE\ndestination:/q\nmessage-id:1\nsubscription:0\ncontent-length:3\n\na\0b\0",
        ];
        for seed in seeds {
            for cut in 0..=seed.len() {
                let _ = decode(&seed[..cut]);
                let _ = decode_lenient(&seed[..cut]);
                let _ = frame_len(&seed[..cut]);
            }
            for i in 0..seed.len() {
                for b in [0u8, b'\n', b'\r', b':', b'\\', 0xff, b'9'] {
                    let mut m = seed.to_vec();
                    m[i] = b;
                    let _ = decode(&m);
                    let _ = decode_lenient(&m);
                    let _ = frame_len(&m);
                }
            }
        }
    }
}
