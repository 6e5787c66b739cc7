//! The CoRE Link Format (RFC 6690): the `application/link-format` payload of
//! `/.well-known/core`, and the query filters of resource discovery (§4.1).
//!
//! [`parse_links`] is strict: it follows the grammar of §2 (a link-value list,
//! `<URI-Reference>` then `;`-separated parameters, values as a token or a quoted string)
//! and names the byte where a payload leaves it. It never panics and allocates only
//! what it returns, so it can run on anything a device sends (`fuzz/` has a target).
//! [`Filter`] is the client's model of a discovery query, to judge what a server
//! returned for it.

use std::fmt;

use hilt_core::SpecRef;

/// The manifest of RFC 6690.
pub const RFC6690: &str = "coap-rfc6690";

/// The rule a payload that does not parse breaks.
pub const SYNTAX_RULE: SpecRef = SpecRef::new(RFC6690, "RFC6690-2-syntax");

/// One link-value: the target between `<` and `>`, and its parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub params: Vec<LinkParam>,
}

/// A link parameter: `name` alone, or `name=value` with the value unquoted (and its
/// backslash escapes resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkParam {
    pub name: String,
    pub value: Option<String>,
}

impl Link {
    /// The value of the first parameter called `name` (compared case-insensitively, as
    /// parameter names are); `Some("")` for a parameter without a value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref().unwrap_or(""))
    }

    /// The words of every parameter called `name`: `rt="a b"` gives `a` and `b`
    /// (relation-types are space-separated lists, §3.1–§3.2); other values are one word.
    pub fn words<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |p| p.name.eq_ignore_ascii_case(name))
            .flat_map(|p| {
                let v = p.value.as_deref().unwrap_or("");
                let words: Box<dyn Iterator<Item = &str>> = if v.is_empty() {
                    Box::new(std::iter::once(""))
                } else {
                    Box::new(v.split(' ').filter(|w| !w.is_empty()))
                };
                words
            })
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.target)?;
        for p in &self.params {
            match &p.value {
                None => write!(f, ";{}", p.name)?,
                Some(v) => {
                    // A quoted-pair may carry any ASCII character, controls too.
                    let mut escaped = String::with_capacity(v.len());
                    for c in v.chars() {
                        if c == '\\' || c == '"' || c.is_ascii_control() {
                            escaped.push('\\');
                        }
                        escaped.push(c);
                    }
                    write!(f, ";{}=\"{escaped}\"", p.name)?
                }
            }
        }
        Ok(())
    }
}

/// Where and why a payload is not in the link format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFormatError {
    pub offset: usize,
    pub what: &'static str,
}

impl LinkFormatError {
    pub const fn rule(&self) -> SpecRef {
        SYNTAX_RULE
    }
}

impl fmt::Display for LinkFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} at byte {}",
            SYNTAX_RULE.id, self.what, self.offset
        )
    }
}

impl std::error::Error for LinkFormatError {}

/// Parses a link-format payload; an empty payload is an empty list.
pub fn parse_links(payload: &[u8]) -> Result<Vec<Link>, LinkFormatError> {
    let mut p = Parser { s: payload, at: 0 };
    let mut links = Vec::new();
    if payload.is_empty() {
        return Ok(links);
    }
    loop {
        links.push(p.link_value()?);
        match p.peek() {
            None => return Ok(links),
            Some(b',') => p.at += 1,
            Some(_) => return Err(p.err("expected ',' or ';' after a link-value")),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

/// RFC 5987's attr-char without `*`, as parameter names use it (`title*` ends in one).
fn is_parmname(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// RFC 6690's ptokenchar.
fn is_ptoken(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'()*+-./:<=>?@[]^_`{|}~".contains(&b)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn err(&self, what: &'static str) -> LinkFormatError {
        LinkFormatError {
            offset: self.at,
            what,
        }
    }

    fn text(&self, from: usize, what: &'static str) -> Result<String, LinkFormatError> {
        std::str::from_utf8(&self.s[from..self.at])
            .map(str::to_owned)
            .map_err(|_| LinkFormatError { offset: from, what })
    }

    fn link_value(&mut self) -> Result<Link, LinkFormatError> {
        if self.peek() != Some(b'<') {
            return Err(self.err("a link-value starts with '<'"));
        }
        self.at += 1;
        let from = self.at;
        while let Some(b) = self.peek() {
            if b == b'>' {
                break;
            }
            if b.is_ascii_whitespace() || b.is_ascii_control() || b == b'<' || b == b'"' {
                return Err(self.err("a URI-Reference has no spaces, controls, '<' or '\"'"));
            }
            self.at += 1;
        }
        if self.peek() != Some(b'>') {
            return Err(self.err("the URI-Reference is not closed by '>'"));
        }
        let target = self.text(from, "the URI-Reference is not UTF-8")?;
        self.at += 1;
        let mut params = Vec::new();
        while self.peek() == Some(b';') {
            self.at += 1;
            params.push(self.param()?);
        }
        Ok(Link { target, params })
    }

    fn param(&mut self) -> Result<LinkParam, LinkFormatError> {
        let from = self.at;
        while self.peek().is_some_and(is_parmname) {
            self.at += 1;
        }
        if self.peek() == Some(b'*') {
            self.at += 1;
        }
        if self.at == from {
            return Err(self.err("a link-param starts with its name"));
        }
        let name = self.text(from, "a parameter name is ASCII")?;
        if self.peek() != Some(b'=') {
            return Ok(LinkParam { name, value: None });
        }
        self.at += 1;
        let value = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            let from = self.at;
            while self.peek().is_some_and(is_ptoken) {
                self.at += 1;
            }
            if self.at == from {
                return Err(self.err("'=' is followed by a token or a quoted string"));
            }
            self.text(from, "a token is ASCII")?
        };
        Ok(LinkParam {
            name,
            value: Some(value),
        })
    }

    /// A quoted-string (RFC 2616 §2.2): `"`, text and `\`-escaped ASCII, `"`.
    fn quoted(&mut self) -> Result<String, LinkFormatError> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("a quoted string is not closed")),
                Some(b'"') => {
                    self.at += 1;
                    break;
                }
                Some(b'\\') => {
                    self.at += 1;
                    let Some(b) = self.peek() else {
                        return Err(self.err("a '\\' ends the payload"));
                    };
                    if !b.is_ascii() {
                        return Err(self.err("a '\\' escapes an ASCII character only"));
                    }
                    out.push(b);
                    self.at += 1;
                }
                Some(b) if b.is_ascii_control() && b != b'\t' => {
                    return Err(self.err("a quoted string holds a control character"));
                }
                Some(b) => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.err("a quoted string is not UTF-8"))
    }
}

/// A discovery query `name=value` (RFC 6690 §4.1): it selects the links with a
/// parameter `name` one of whose words equals `value`, or, when `value` ends in `*`,
/// starts with what precedes it. `href` matches the link's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub value: String,
}

impl Filter {
    pub fn new(name: &str, value: &str) -> Self {
        Filter {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    /// The Uri-Query option's value.
    pub fn query(&self) -> String {
        format!("{}={}", self.name, self.value)
    }

    fn matches_word(&self, word: &str) -> bool {
        match self.value.strip_suffix('*') {
            Some(prefix) => word.starts_with(prefix),
            None => word == self.value,
        }
    }

    pub fn matches(&self, link: &Link) -> bool {
        if self.name.eq_ignore_ascii_case("href") {
            return self.matches_word(&link.target);
        }
        link.words(&self.name).any(|w| self.matches_word(w))
    }

    /// The links of `all` this filter selects.
    pub fn select<'a>(&self, all: &'a [Link]) -> Vec<&'a Link> {
        all.iter().filter(|l| self.matches(l)).collect()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    static LIBCOAP: &[u8] = b"</>;title=\"General Info\";ct=0,</time>;if=\"clock\";rt=\"ticks\";title=\"Internal Clock\";ct=0;obs,</async>;ct=0";

    #[test]
    fn test_parse() {
        let links = parse_links(LIBCOAP).unwrap();
        assert_eq!(links.len(), 3);
        assert_eq!(links[1].target, "/time");
        assert_eq!(links[1].param("rt"), Some("ticks"));
        assert_eq!(links[1].param("OBS"), Some(""));
        assert_eq!(links[1].param("sz"), None);
        assert_eq!(links[0].param("title"), Some("General Info"));
        let l =
            &parse_links(b"</s>;rt=\"a b  c\";title=\"say \\\"hi\\\"\";sz=12;title*=UTF-8'en'x")
                .unwrap()[0];
        assert_eq!(l.words("rt").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(l.param("title"), Some("say \"hi\""));
        assert_eq!(l.param("title*"), Some("UTF-8'en'x"));
        assert_eq!(parse_links(b"").unwrap(), []);
    }

    #[test]
    fn test_display_round_trips() {
        for l in parse_links(LIBCOAP).unwrap() {
            assert_eq!(parse_links(l.to_string().as_bytes()).unwrap(), [l]);
        }
    }

    #[test]
    fn test_malformed() {
        for (bad, at) in [
            (&b"/time"[..], 0),
            (b"</time", 6),
            (b"</time>;", 8),
            (b"</time>;rt=", 11),
            (b"</time>;rt=\"x", 13),
            (b"</a>,", 5),
            (b"</a> ,</b>", 4),
            (b"</a b>", 3),
            (b"</a>;rt=\"\\", 10),
            (b"</a>;t=\"\x01\"", 8),
            (b"</\xff>", 1),
        ] {
            let e = parse_links(bad).unwrap_err();
            assert_eq!(e.offset, at, "{:?}: {e}", String::from_utf8_lossy(bad));
            assert_eq!(e.rule(), SYNTAX_RULE);
        }
    }

    #[test]
    fn test_filter() {
        let links = parse_links(
            b"</a>;rt=\"T1 T2\",</b>;rt=\"T2 T3\",</c>;rt=\"T1 T3\",</d>;rt=\"\",</e>,</link1>;if=If1",
        )
        .unwrap();
        let hrefs = |f: Filter| -> Vec<String> {
            f.select(&links).iter().map(|l| l.target.clone()).collect()
        };
        assert_eq!(hrefs(Filter::new("rt", "T2")), ["/a", "/b"]);
        assert_eq!(hrefs(Filter::new("rt", "*")), ["/a", "/b", "/c", "/d"]);
        assert_eq!(hrefs(Filter::new("if", "If*")), ["/link1"]);
        assert_eq!(hrefs(Filter::new("href", "/link*")), ["/link1"]);
        assert_eq!(hrefs(Filter::new("href", "/a")), ["/a"]);
        assert_eq!(Filter::new("rt", "T1").query(), "rt=T1");
    }

    #[test]
    fn test_never_panics_on_prefixes() {
        for n in 0..=LIBCOAP.len() {
            let _ = parse_links(&LIBCOAP[..n]);
        }
    }
}
