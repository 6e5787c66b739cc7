//! The field types: integers, strings, timestamps, bits and field tables, read strictly
//! and written as given.

use std::fmt;

use super::rules::{Rule, Violation};
use super::spec::ArgType;

/// A method argument or a content property.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bit(bool),
    Octet(u8),
    Short(u16),
    Long(u32),
    LongLong(u64),
    /// Octets as sent; the specification leaves their encoding open.
    ShortStr(Vec<u8>),
    LongStr(Vec<u8>),
    Timestamp(u64),
    Table(FieldTable),
}

impl Value {
    /// The zero value of `ty`: what an argument is before a test sets it.
    pub fn zero(ty: ArgType) -> Value {
        match ty {
            ArgType::Bit => Value::Bit(false),
            ArgType::Octet => Value::Octet(0),
            ArgType::Short => Value::Short(0),
            ArgType::Long => Value::Long(0),
            ArgType::LongLong => Value::LongLong(0),
            ArgType::ShortStr => Value::ShortStr(Vec::new()),
            ArgType::LongStr => Value::LongStr(Vec::new()),
            ArgType::Timestamp => Value::Timestamp(0),
            ArgType::Table => Value::Table(FieldTable::default()),
        }
    }

    pub fn arg_type(&self) -> ArgType {
        match self {
            Value::Bit(_) => ArgType::Bit,
            Value::Octet(_) => ArgType::Octet,
            Value::Short(_) => ArgType::Short,
            Value::Long(_) => ArgType::Long,
            Value::LongLong(_) => ArgType::LongLong,
            Value::ShortStr(_) => ArgType::ShortStr,
            Value::LongStr(_) => ArgType::LongStr,
            Value::Timestamp(_) => ArgType::Timestamp,
            Value::Table(_) => ArgType::Table,
        }
    }

    /// Any integer (or bit, or timestamp) widened to u64.
    pub fn as_u64(&self) -> Option<u64> {
        Some(match *self {
            Value::Bit(b) => u64::from(b),
            Value::Octet(v) => u64::from(v),
            Value::Short(v) => u64::from(v),
            Value::Long(v) => u64::from(v),
            Value::LongLong(v) | Value::Timestamp(v) => v,
            _ => return None,
        })
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::ShortStr(b) | Value::LongStr(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_table(&self) -> Option<&FieldTable> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Converts `self` to `ty` where the value fits (a test writes `"q".into()` or `5u64`
    /// and the argument's type decides the encoding); `None` where it does not.
    pub fn coerce(self, ty: ArgType) -> Option<Value> {
        if self.arg_type() == ty {
            return Some(self);
        }
        let n = self.as_u64();
        Some(match (ty, self) {
            (ArgType::ShortStr, Value::LongStr(b)) => Value::ShortStr(b),
            (ArgType::LongStr, Value::ShortStr(b)) => Value::LongStr(b),
            (ArgType::Bit, _) => Value::Bit(n? != 0),
            (ArgType::Octet, _) => Value::Octet(u8::try_from(n?).ok()?),
            (ArgType::Short, _) => Value::Short(u16::try_from(n?).ok()?),
            (ArgType::Long, _) => Value::Long(u32::try_from(n?).ok()?),
            (ArgType::LongLong, _) => Value::LongLong(n?),
            (ArgType::Timestamp, _) => Value::Timestamp(n?),
            _ => return None,
        })
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::ShortStr(s.as_bytes().to_vec())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::ShortStr(s.into_bytes())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bit(b)
    }
}

impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Value::Octet(v)
    }
}

impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Short(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Long(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::LongLong(v)
    }
}

impl From<FieldTable> for Value {
    fn from(t: FieldTable) -> Self {
        Value::Table(t)
    }
}

/// A value in a field table or array, with the type tags RabbitMQ uses (its errata: `s`
/// is a signed 16-bit integer, `l` a signed 64-bit one, `x` a byte array).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Bool(bool),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    F32(f32),
    F64(f64),
    /// `value` × 10^-`scale`.
    Decimal {
        scale: u8,
        value: i32,
    },
    LongStr(Vec<u8>),
    Array(Vec<FieldValue>),
    Timestamp(u64),
    Table(FieldTable),
    Void,
    Bytes(Vec<u8>),
}

impl FieldValue {
    pub fn tag(&self) -> u8 {
        match self {
            FieldValue::Bool(_) => b't',
            FieldValue::I8(_) => b'b',
            FieldValue::U8(_) => b'B',
            FieldValue::I16(_) => b's',
            FieldValue::U16(_) => b'u',
            FieldValue::I32(_) => b'I',
            FieldValue::U32(_) => b'i',
            FieldValue::I64(_) => b'l',
            FieldValue::F32(_) => b'f',
            FieldValue::F64(_) => b'd',
            FieldValue::Decimal { .. } => b'D',
            FieldValue::LongStr(_) => b'S',
            FieldValue::Array(_) => b'A',
            FieldValue::Timestamp(_) => b'T',
            FieldValue::Table(_) => b'F',
            FieldValue::Void => b'V',
            FieldValue::Bytes(_) => b'x',
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        Some(match *self {
            FieldValue::I8(v) => v.into(),
            FieldValue::U8(v) => v.into(),
            FieldValue::I16(v) => v.into(),
            FieldValue::U16(v) => v.into(),
            FieldValue::I32(v) => v.into(),
            FieldValue::U32(v) => v.into(),
            FieldValue::I64(v) => v,
            _ => return None,
        })
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            FieldValue::LongStr(b) | FieldValue::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::LongStr(s.as_bytes().to_vec())
    }
}

/// A field table: names and values in the order they were written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldTable(pub Vec<(Vec<u8>, FieldValue)>);

impl FieldTable {
    pub fn new() -> Self {
        FieldTable::default()
    }

    /// Adds a field (a later one with the same name is kept too: tables are written as
    /// given).
    pub fn with(mut self, name: &str, value: impl Into<FieldValue>) -> Self {
        self.0.push((name.as_bytes().to_vec(), value.into()));
        self
    }

    /// The first field called `name`.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: ", String::from_utf8_lossy(n))?;
            fmt_field(v, f)?;
        }
        f.write_str("}")
    }
}

fn fmt_field(v: &FieldValue, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        FieldValue::Bool(b) => write!(f, "{b}"),
        FieldValue::F32(x) => write!(f, "{x}"),
        FieldValue::F64(x) => write!(f, "{x}"),
        FieldValue::Decimal { scale, value } => write!(f, "{value}e-{scale}"),
        FieldValue::LongStr(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
        FieldValue::Bytes(b) => write!(f, "<{} bytes>", b.len()),
        FieldValue::Array(a) => {
            f.write_str("[")?;
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                fmt_field(x, f)?;
            }
            f.write_str("]")
        }
        FieldValue::Timestamp(t) => write!(f, "@{t}"),
        FieldValue::Table(t) => write!(f, "{t}"),
        FieldValue::Void => f.write_str("void"),
        other => write!(f, "{}", other.as_i64().unwrap_or_default()),
    }
}

/// How deep tables and arrays may nest before the reader gives up: a bound on the
/// recursion a hostile frame can cause.
const MAX_NESTING: usize = 64;

/// A strict reader over a frame's payload; offsets in its errors count from the frame's
/// first octet (`base` is where the payload starts in the frame).
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    /// What running out of octets breaks: the method's length at the top level, the
    /// container's inside a table or array.
    short: Rule,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Reader {
            buf,
            pos: 0,
            base,
            short: Rule::MethodLength,
        }
    }

    fn nested(buf: &'a [u8], base: usize) -> Self {
        Reader {
            short: Rule::FieldLength,
            ..Reader::new(buf, base)
        }
    }

    /// The offset, in the frame, of the next octet.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, rule: Rule, what: &str) -> Result<&'a [u8], Violation> {
        if self.remaining() < n {
            return Err(Violation::new(
                rule,
                self.offset(),
                format!("{what} needs {n} octets, {} remain", self.remaining()),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Violation> {
        let s = self.take(N, self.short, what)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, Violation> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, Violation> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, Violation> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, Violation> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    pub fn shortstr(&mut self, what: &str) -> Result<Vec<u8>, Violation> {
        let n = self.u8(what)?;
        Ok(self.take(n.into(), Rule::FieldLength, what)?.to_vec())
    }

    pub fn longstr(&mut self, what: &str) -> Result<Vec<u8>, Violation> {
        let n = self.u32(what)?;
        Ok(self.take(n as usize, Rule::FieldLength, what)?.to_vec())
    }

    /// Reads a value of `ty`. Bits are not read here: [`Reader::bits`] packs them.
    pub fn value(&mut self, ty: ArgType, what: &str) -> Result<Value, Violation> {
        Ok(match ty {
            ArgType::Bit => Value::Bit(self.u8(what)? & 1 != 0),
            ArgType::Octet => Value::Octet(self.u8(what)?),
            ArgType::Short => Value::Short(self.u16(what)?),
            ArgType::Long => Value::Long(self.u32(what)?),
            ArgType::LongLong => Value::LongLong(self.u64(what)?),
            ArgType::ShortStr => Value::ShortStr(self.shortstr(what)?),
            ArgType::LongStr => Value::LongStr(self.longstr(what)?),
            ArgType::Timestamp => Value::Timestamp(self.u64(what)?),
            ArgType::Table => Value::Table(self.table(what, 0)?),
        })
    }

    pub fn table(&mut self, what: &str, depth: usize) -> Result<FieldTable, Violation> {
        let n = self.u32(what)? as usize;
        let start = self.offset();
        let body = self.take(n, Rule::FieldLength, what)?;
        let mut inner = Reader::nested(body, start);
        let mut fields = Vec::new();
        while inner.remaining() > 0 {
            let name = inner.shortstr("a field name")?;
            let value = inner.field_value(depth + 1)?;
            fields.push((name, value));
        }
        Ok(FieldTable(fields))
    }

    fn field_value(&mut self, depth: usize) -> Result<FieldValue, Violation> {
        if depth > MAX_NESTING {
            return Err(Violation::new(
                Rule::FieldLength,
                self.offset(),
                format!("tables and arrays nested more than {MAX_NESTING} deep"),
            ));
        }
        let at = self.offset();
        let tag = self.take(1, Rule::FieldLength, "a field value's type")?[0];
        let l = Rule::FieldLength;
        let fixed = |r: &mut Self, n: usize| r.take(n, l, "a field value").map(<[u8]>::to_vec);
        Ok(match tag {
            b't' => FieldValue::Bool(fixed(self, 1)?[0] != 0),
            b'b' => FieldValue::I8(i8::from_be_bytes(be(&fixed(self, 1)?))),
            b'B' => FieldValue::U8(fixed(self, 1)?[0]),
            b's' => FieldValue::I16(i16::from_be_bytes(be(&fixed(self, 2)?))),
            b'u' => FieldValue::U16(u16::from_be_bytes(be(&fixed(self, 2)?))),
            b'I' => FieldValue::I32(i32::from_be_bytes(be(&fixed(self, 4)?))),
            b'i' => FieldValue::U32(u32::from_be_bytes(be(&fixed(self, 4)?))),
            b'l' => FieldValue::I64(i64::from_be_bytes(be(&fixed(self, 8)?))),
            b'f' => FieldValue::F32(f32::from_be_bytes(be(&fixed(self, 4)?))),
            b'd' => FieldValue::F64(f64::from_be_bytes(be(&fixed(self, 8)?))),
            b'D' => {
                let b = fixed(self, 5)?;
                FieldValue::Decimal {
                    scale: b[0],
                    value: i32::from_be_bytes(be(&b[1..])),
                }
            }
            b'S' => FieldValue::LongStr(self.longstr("a long string field")?),
            b'x' => FieldValue::Bytes(self.longstr("a byte array field")?),
            b'T' => FieldValue::Timestamp(u64::from_be_bytes(be(&fixed(self, 8)?))),
            b'V' => FieldValue::Void,
            b'F' => FieldValue::Table(self.table("a nested table", depth)?),
            b'A' => {
                let n = self.u32("an array's length")? as usize;
                let start = self.offset();
                let body = self.take(n, l, "an array")?;
                let mut inner = Reader::nested(body, start);
                let mut items = Vec::new();
                while inner.remaining() > 0 {
                    items.push(inner.field_value(depth + 1)?);
                }
                FieldValue::Array(items)
            }
            other => {
                return Err(Violation::new(
                    Rule::FieldType,
                    at,
                    format!(
                        "field value type {:?} (0x{other:02x}) is not defined",
                        other as char
                    ),
                ));
            }
        })
    }
}

/// The first N octets of `b` as an array; the callers pass slices of exactly N.
fn be<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// Writes values; never checks them (a test may write a 300-octet "short" string:
/// its length octet then wraps, as a broken peer's would).
pub fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Bit(b) => out.push(u8::from(*b)),
        Value::Octet(x) => out.push(*x),
        Value::Short(x) => out.extend_from_slice(&x.to_be_bytes()),
        Value::Long(x) => out.extend_from_slice(&x.to_be_bytes()),
        Value::LongLong(x) | Value::Timestamp(x) => out.extend_from_slice(&x.to_be_bytes()),
        Value::ShortStr(b) => write_shortstr(b, out),
        Value::LongStr(b) => write_longstr(b, out),
        Value::Table(t) => write_table(t, out),
    }
}

pub fn write_shortstr(b: &[u8], out: &mut Vec<u8>) {
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

pub fn write_longstr(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

pub fn write_table(t: &FieldTable, out: &mut Vec<u8>) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    for (name, v) in &t.0 {
        write_shortstr(name, out);
        write_field_value(v, out);
    }
    patch_len(out, at);
}

/// Writes the length of what follows the 4-octet slot at `at`.
fn patch_len(out: &mut [u8], at: usize) {
    let n = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&n.to_be_bytes());
}

fn write_field_value(v: &FieldValue, out: &mut Vec<u8>) {
    out.push(v.tag());
    match v {
        FieldValue::Bool(b) => out.push(u8::from(*b)),
        FieldValue::I8(x) => out.extend_from_slice(&x.to_be_bytes()),
        FieldValue::U8(x) => out.push(*x),
        FieldValue::I16(x) => out.extend_from_slice(&x.to_be_bytes()),
        FieldValue::U16(x) => out.extend_from_slice(&x.to_be_bytes()),
        FieldValue::I32(x) => out.extend_from_slice(&x.to_be_bytes()),
        FieldValue::U32(x) => out.extend_from_slice(&x.to_be_bytes()),
        FieldValue::I64(x) => out.extend_from_slice(&x.to_be_bytes()),
        FieldValue::F32(x) => out.extend_from_slice(&x.to_be_bytes()),
        FieldValue::F64(x) => out.extend_from_slice(&x.to_be_bytes()),
        FieldValue::Decimal { scale, value } => {
            out.push(*scale);
            out.extend_from_slice(&value.to_be_bytes());
        }
        FieldValue::LongStr(b) | FieldValue::Bytes(b) => write_longstr(b, out),
        FieldValue::Array(items) => {
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            for x in items {
                write_field_value(x, out);
            }
            patch_len(out, at);
        }
        FieldValue::Timestamp(t) => out.extend_from_slice(&t.to_be_bytes()),
        FieldValue::Table(t) => write_table(t, out),
        FieldValue::Void => {}
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn every_type() -> FieldTable {
        FieldTable::new()
            .with("t", FieldValue::Bool(true))
            .with("b", FieldValue::I8(-2))
            .with("B", FieldValue::U8(250))
            .with("s", FieldValue::I16(-300))
            .with("u", FieldValue::U16(60000))
            .with("I", FieldValue::I32(-70000))
            .with("i", FieldValue::U32(4_000_000_000))
            .with("l", FieldValue::I64(-5_000_000_000))
            .with("f", FieldValue::F32(1.5))
            .with("d", FieldValue::F64(-2.25))
            .with(
                "D",
                FieldValue::Decimal {
                    scale: 2,
                    value: -12345,
                },
            )
            .with("S", "text")
            .with(
                "A",
                FieldValue::Array(vec![FieldValue::I32(1), "two".into(), FieldValue::Void]),
            )
            .with("T", FieldValue::Timestamp(1_700_000_000))
            .with(
                "F",
                FieldValue::Table(FieldTable::new().with("inner", FieldValue::Bool(false))),
            )
            .with("V", FieldValue::Void)
            .with("x", FieldValue::Bytes(vec![0, 0xff]))
    }

    #[test]
    fn every_field_type_round_trips() {
        let t = every_type();
        let mut out = Vec::new();
        write_table(&t, &mut out);
        let mut r = Reader::new(&out, 0);
        assert_eq!(r.table("t", 0).unwrap(), t);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn known_encoding_of_a_small_table() {
        let t = FieldTable::new()
            .with("a", FieldValue::I32(1))
            .with("b", FieldValue::Bool(true));
        let mut out = Vec::new();
        write_table(&t, &mut out);
        static WANT: [u8; 15] = [0, 0, 0, 11, 1, b'a', b'I', 0, 0, 0, 1, 1, b'b', b't', 1];
        assert_eq!(out, WANT);
    }

    #[test]
    fn unknown_field_type_names_the_rule_and_offset() {
        let bytes = [0, 0, 0, 3, 1, b'a', b'Z'];
        let e = Reader::new(&bytes, 10).table("t", 0).unwrap_err();
        assert_eq!(e.rule, Rule::FieldType);
        assert_eq!(e.offset, 16);
    }

    #[test]
    fn table_longer_than_its_container_is_refused() {
        let bytes = [0, 0, 0, 9, 1, b'a', b'V'];
        let e = Reader::new(&bytes, 0).table("t", 0).unwrap_err();
        assert_eq!(e.rule, Rule::FieldLength);
        assert_eq!(e.offset, 4);
        // A string running past the table's end.
        let bytes = [0, 0, 0, 4, 1, b'a', b'S', 0];
        assert_eq!(
            Reader::new(&bytes, 0).table("t", 0).unwrap_err().rule,
            Rule::FieldLength
        );
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut t = FieldTable::new();
        for _ in 0..200 {
            t = FieldTable::new().with("n", FieldValue::Table(t));
        }
        let mut out = Vec::new();
        write_table(&t, &mut out);
        assert_eq!(
            Reader::new(&out, 0).table("t", 0).unwrap_err().rule,
            Rule::FieldLength
        );
    }
}
