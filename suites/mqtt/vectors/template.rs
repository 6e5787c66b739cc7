//! The byte language of vector files: hex first, with just enough structure that a
//! vector states its defect and nothing else.
//!
//! ```text
//! 82 < 0001 {p} [ {topic} '/#' ] 00 >
//! ```
//!
//! | token          | bytes                                                              |
//! |----------------|--------------------------------------------------------------------|
//! | `82`, `0001`   | hex, any even number of digits                                     |
//! | `'a/b'`        | the text's UTF-8 bytes (no escapes; write other bytes as hex)     |
//! | `X*N`          | a hex run or text repeated N times (`'a'*23`)                      |
//! | `[ … ]`        | two-byte big-endian length of what is inside, then it (a string)   |
//! | `< … >`        | Variable Byte Integer length, then it (Remaining / Property Length)|
//! | `[+2 …]`, `<-1 …>` | the same with the written length off by that much (overruns)  |
//! | `v5( … )`, `v311( … )` | only when the vector runs as that version                  |
//! | `{cid}`        | this attempt's unique client id (raw, put it in `[ ]`)             |
//! | `{topic}`      | this attempt's unique topic (raw)                                  |
//! | `{level}`      | the protocol level: `05` or `04`                                   |
//! | `{p}`          | an empty property list: `00` in 5.0, nothing in 3.1.1              |
//!
//! Lengths are computed, so a vector breaks only the length it means to break; a
//! deliberately wrong Remaining Length is written as hex (`30 05 …`) or as `<+3 …>`.

use hilt_wire::mqtt::{Version, varint};

/// What a rendering substitutes.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    pub cid: &'a str,
    pub topic: &'a str,
    pub version: Version,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Bytes(Vec<u8>),
    Cid,
    Topic,
    Level,
    Props,
    /// A length prefix (two bytes, or a Variable Byte Integer) written off by `adj`.
    Len {
        varint: bool,
        adj: i64,
        body: Vec<Node>,
    },
    Only(Version, Vec<Node>),
}

/// A parsed `send` string.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Node>);

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            at: 0,
        };
        let nodes = p.nodes(None)?;
        Ok(Template(nodes))
    }

    pub fn render(&self, vars: &Vars<'_>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        render(&self.0, vars, &mut out)?;
        Ok(out)
    }
}

fn render(nodes: &[Node], vars: &Vars<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Bytes(b) => out.extend_from_slice(b),
            Node::Cid => out.extend_from_slice(vars.cid.as_bytes()),
            Node::Topic => out.extend_from_slice(vars.topic.as_bytes()),
            Node::Level => out.push(match vars.version {
                Version::V5 => 5,
                Version::V311 => 4,
            }),
            Node::Props => {
                if vars.version == Version::V5 {
                    out.push(0);
                }
            }
            Node::Only(v, body) => {
                if *v == vars.version {
                    render(body, vars, out)?;
                }
            }
            Node::Len {
                varint: is_varint,
                adj,
                body,
            } => {
                let mut inner = Vec::new();
                render(body, vars, &mut inner)?;
                let len =
                    i64::try_from(inner.len()).map_err(|_| "body too long".to_string())? + adj;
                if *is_varint {
                    let len = u32::try_from(len)
                        .map_err(|_| format!("length {len} is not a Variable Byte Integer"))?;
                    varint::write(len, out);
                } else {
                    let len = u16::try_from(len)
                        .map_err(|_| format!("length {len} does not fit two bytes"))?;
                    out.extend_from_slice(&len.to_be_bytes());
                }
                out.extend_from_slice(&inner);
            }
        }
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn err(&self, what: impl std::fmt::Display) -> String {
        format!("at character {}: {what}", self.at + 1)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// Nodes up to `close` (or the end, when `close` is `None`).
    fn nodes(&mut self, close: Option<u8>) -> Result<Vec<Node>, String> {
        let mut out = Vec::new();
        loop {
            self.skip_space();
            let Some(c) = self.peek() else {
                return match close {
                    None => Ok(out),
                    Some(c) => Err(self.err(format!("missing `{}`", c as char))),
                };
            };
            if Some(c) == close {
                self.at += 1;
                return Ok(out);
            }
            match c {
                b'[' | b'<' => {
                    self.at += 1;
                    let adj = self.adjustment()?;
                    let body = self.nodes(Some(if c == b'[' { b']' } else { b'>' }))?;
                    out.push(Node::Len {
                        varint: c == b'<',
                        adj,
                        body,
                    });
                }
                b'\'' => {
                    self.at += 1;
                    let start = self.at;
                    while self.peek().is_some_and(|c| c != b'\'') {
                        self.at += 1;
                    }
                    if self.peek().is_none() {
                        return Err(self.err("unterminated text"));
                    }
                    let text = self.s[start..self.at].to_vec();
                    self.at += 1;
                    let n = self.repeat()?;
                    out.push(Node::Bytes(text.repeat(n)));
                }
                b'{' => {
                    self.at += 1;
                    let start = self.at;
                    while self.peek().is_some_and(|c| c != b'}') {
                        self.at += 1;
                    }
                    let name = std::str::from_utf8(&self.s[start..self.at]).unwrap_or("");
                    if self.peek().is_none() {
                        return Err(self.err("unterminated `{`"));
                    }
                    self.at += 1;
                    out.push(match name {
                        "cid" => Node::Cid,
                        "topic" => Node::Topic,
                        "level" => Node::Level,
                        "p" => Node::Props,
                        other => return Err(self.err(format!("unknown variable `{{{other}}}`"))),
                    });
                }
                b'v' => {
                    let rest = &self.s[self.at..];
                    let (version, skip) = if rest.starts_with(b"v5(") {
                        (Version::V5, 3)
                    } else if rest.starts_with(b"v311(") {
                        (Version::V311, 5)
                    } else {
                        return Err(self.err("expected `v5(` or `v311(`"));
                    };
                    self.at += skip;
                    let body = self.nodes(Some(b')'))?;
                    out.push(Node::Only(version, body));
                }
                c if c.is_ascii_hexdigit() => {
                    let start = self.at;
                    while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                        self.at += 1;
                    }
                    let digits = &self.s[start..self.at];
                    if !digits.len().is_multiple_of(2) {
                        return Err(self.err(format!(
                            "odd number of hex digits in `{}`",
                            String::from_utf8_lossy(digits)
                        )));
                    }
                    let bytes: Vec<u8> = digits
                        .chunks(2)
                        .map(|p| (hex(p[0]) << 4) | hex(p[1]))
                        .collect();
                    let n = self.repeat()?;
                    out.push(Node::Bytes(bytes.repeat(n)));
                }
                other => return Err(self.err(format!("unexpected `{}`", other as char))),
            }
        }
    }

    /// An optional `+N` / `-N` right after an opening bracket.
    fn adjustment(&mut self) -> Result<i64, String> {
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Ok(0),
        };
        self.at += 1;
        Ok(sign * i64::from(self.number()?))
    }

    /// An optional `*N` after an atom.
    fn repeat(&mut self) -> Result<usize, String> {
        if self.peek() != Some(b'*') {
            return Ok(1);
        }
        self.at += 1;
        let n = self.number()?;
        if n == 0 || n > 1 << 20 {
            return Err(self.err(format!("repeat count {n} is out of range 1..=1048576")));
        }
        Ok(n as usize)
    }

    fn number(&mut self) -> Result<u32, String> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        std::str::from_utf8(&self.s[start..self.at])
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| self.err("expected a decimal number"))
    }
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn r(t: &str, version: Version) -> Result<Vec<u8>, String> {
        Template::parse(t)?.render(&Vars {
            cid: "cid",
            topic: "t/1",
            version,
        })
    }

    #[test]
    fn lengths_are_computed_and_adjustable() {
        assert_eq!(
            r("30 < [ {topic} ] {p} 'hi' >", Version::V5).unwrap(),
            b"\x30\x08\x00\x03t/1\x00hi"
        );
        assert_eq!(
            r("30 < [ {topic} ] {p} 'hi' >", Version::V311).unwrap(),
            b"\x30\x07\x00\x03t/1hi"
        );
        assert_eq!(
            r("82 <+2 0001 [-1 'ab'] 00>", Version::V311).unwrap(),
            [0x82, 9, 0, 1, 0, 1, b'a', b'b', 0]
        );
        assert_eq!(
            r("10 < [ 'MQTT' ] {level} >", Version::V5).unwrap(),
            b"\x10\x07\x00\x04MQTT\x05"
        );
        assert_eq!(
            r("v5(aa) v311(bb) cc", Version::V311).unwrap(),
            [0xbb, 0xcc]
        );
        assert_eq!(
            r("'a'*3 00ff*2", Version::V5).unwrap(),
            b"aaa\x00\xff\x00\xff"
        );
        assert_eq!(
            r("30 < 'x'*200 >", Version::V5).unwrap()[..3],
            [0x30, 0xc8, 0x01]
        );
        assert_eq!(r("[ {cid} ]", Version::V5).unwrap(), b"\x00\x03cid");
    }

    #[test]
    fn errors_say_where() {
        assert!(r("3", Version::V5).unwrap_err().contains("odd number"));
        assert!(r("[ 00", Version::V5).unwrap_err().contains("missing `]`"));
        assert!(
            r("{nope}", Version::V5)
                .unwrap_err()
                .contains("unknown variable")
        );
        assert!(r("zz", Version::V5).unwrap_err().contains("unexpected `z`"));
        assert!(r("'abc", Version::V5).unwrap_err().contains("unterminated"));
        assert!(
            r("[-3 00]", Version::V5)
                .unwrap_err()
                .contains("does not fit")
        );
    }
}
