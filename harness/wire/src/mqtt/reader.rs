//! A bounds-checked cursor over one frame, shared by every packet's decoder.
//!
//! It runs in one of two modes. Strict: the first rule broken ends decoding with that
//! [`Violation`]. Lenient (the dissector's): rules that leave the frame still readable are
//! collected and decoding goes on, so a trace can show every problem of a frame; only
//! breaks that make the rest unreadable (a field overrunning the frame, an unknown
//! property whose length cannot be known) stop it.

use std::borrow::Cow;

use super::error::{Version, Violation};
use super::rules::Rule;
use super::strings::{self, StrProblem};
use super::varint::{self, VarintRead};

#[derive(Debug)]
pub(crate) struct Reader<'a> {
    frame: &'a [u8],
    pos: usize,
    end: usize,
    version: Version,
    lenient: bool,
    in_properties: bool,
    found: Vec<Violation>,
}

impl<'a> Reader<'a> {
    /// A reader over `frame` (the whole frame, fixed header included) starting at `pos`.
    pub(crate) fn new(frame: &'a [u8], pos: usize, version: Version, lenient: bool) -> Self {
        Reader {
            frame,
            pos,
            end: frame.len(),
            version,
            lenient,
            in_properties: false,
            found: Vec::new(),
        }
    }

    pub(crate) fn version(&self) -> Version {
        self.version
    }

    /// CONNECT names its own version; everything after the level byte follows it.
    pub(crate) fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    pub(crate) fn into_found(self) -> Vec<Violation> {
        self.found
    }

    pub(crate) fn violation(
        &self,
        rule: Rule,
        offset: usize,
        detail: impl Into<String>,
    ) -> Violation {
        Violation {
            rule: rule.spec_ref(self.version),
            offset,
            detail: detail.into(),
        }
    }

    /// A rule is broken but the frame stays readable: strict mode stops, lenient records.
    pub(crate) fn report(
        &mut self,
        rule: Rule,
        offset: usize,
        detail: impl Into<String>,
    ) -> Result<(), Violation> {
        let v = self.violation(rule, offset, detail);
        if self.lenient {
            self.found.push(v);
            Ok(())
        } else {
            Err(v)
        }
    }

    /// Records a problem only the lenient reader judges (reason codes: the strict decoder
    /// preserves unknown values for the caller to judge).
    pub(crate) fn note(&mut self, rule: Rule, offset: usize, detail: impl Into<String>) {
        if self.lenient {
            let v = self.violation(rule, offset, detail);
            self.found.push(v);
        }
    }

    fn report_str(&mut self, base: usize, p: StrProblem) -> Result<(), Violation> {
        self.report(p.rule, base + p.at, p.detail)
    }

    fn overrun(&self, what: &str, need: usize) -> Violation {
        let rule = if self.in_properties {
            Rule::PropertyLength
        } else {
            Rule::RemainingLength
        };
        let limit = if self.in_properties {
            "the property section"
        } else {
            "the packet"
        };
        self.violation(
            rule,
            self.pos,
            format!(
                "{what} needs {need} bytes but {limit} has {} left",
                self.remaining()
            ),
        )
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Violation> {
        if n > self.remaining() {
            return Err(self.overrun(what, n));
        }
        let bytes = self
            .frame
            .get(self.pos..self.pos + n)
            .ok_or_else(|| self.overrun(what, n))?;
        self.pos += n;
        Ok(bytes)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let bytes = self.frame.get(self.pos..self.end).unwrap_or_default();
        self.pos = self.end.max(self.pos);
        bytes
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, Violation> {
        let b = self.take(1, what)?;
        Ok(b.first().copied().unwrap_or_default())
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, Violation> {
        match *self.take(2, what)? {
            [a, b] => Ok(u16::from_be_bytes([a, b])),
            _ => Err(self.overrun(what, 2)),
        }
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, Violation> {
        match *self.take(4, what)? {
            [a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
            _ => Err(self.overrun(what, 4)),
        }
    }

    pub(crate) fn varint(&mut self, what: &str) -> Result<u32, Violation> {
        let start = self.pos;
        let window = self.frame.get(self.pos..self.end).unwrap_or_default();
        match varint::read(window) {
            VarintRead::Value {
                value,
                len,
                minimal,
            } => {
                self.pos += len;
                if !minimal {
                    self.report(
                        Rule::VarintNotMinimal,
                        start,
                        format!("{what} {value} is encoded in {len} bytes, more than needed"),
                    )?;
                }
                Ok(value)
            }
            VarintRead::NeedMore => Err(self.overrun(what, window.len() + 1)),
            VarintRead::TooLong => Err(self.violation(
                Rule::VarintTooLong,
                start,
                format!("{what} is longer than 4 bytes"),
            )),
        }
    }

    /// Binary Data: a two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self, what: &str) -> Result<&'a [u8], Violation> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    /// A UTF-8 Encoded String, checked; in lenient mode a broken one comes back with
    /// replacement characters so decoding can go on.
    pub(crate) fn utf8(&mut self, what: &str) -> Result<Cow<'a, str>, Violation> {
        let len = self.u16(what)?;
        let base = self.pos;
        let bytes = self.take(usize::from(len), what)?;
        match strings::check_utf8(bytes) {
            Ok(text) => Ok(Cow::Borrowed(text)),
            Err(mut p) => {
                p.detail = format!("{what}: {}", p.detail);
                self.report_str(base, p)?;
                Ok(String::from_utf8_lossy(bytes))
            }
        }
    }

    /// Runs `f` over the next `len` bytes only (a property section), then resumes after
    /// them; bytes `f` leaves unread there are a property-length disagreement.
    pub(crate) fn properties_window<T>(
        &mut self,
        len: usize,
        len_at: usize,
        f: impl FnOnce(&mut Self) -> Result<T, Violation>,
    ) -> Result<T, Violation> {
        if len > self.remaining() {
            return Err(self.violation(
                Rule::PropertyLength,
                len_at,
                format!(
                    "property length {len} overruns the packet ({} bytes left)",
                    self.remaining()
                ),
            ));
        }
        let outer_end = self.end;
        let was_in = self.in_properties;
        self.end = self.pos + len;
        self.in_properties = true;
        let result = f(self);
        self.in_properties = was_in;
        let window_end = self.end;
        self.end = outer_end;
        let value = result?;
        self.pos = window_end;
        Ok(value)
    }

    /// The declared content is over: anything left is a Remaining Length disagreement.
    pub(crate) fn finish(&mut self, what: &str) -> Result<(), Violation> {
        let left = self.remaining();
        if left > 0 {
            let at = self.pos;
            self.pos = self.end;
            self.report(
                Rule::RemainingLength,
                at,
                format!("{left} bytes left over after the {what}"),
            )?;
        }
        Ok(())
    }
}
