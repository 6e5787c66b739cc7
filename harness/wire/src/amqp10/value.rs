//! The AMQP 1.0 type system (part 1): every primitive type in every encoding, described
//! types, lists, maps and arrays (of described types too), read strictly and written
//! either in the smallest encoding or in one a test names.
//!
//! [`Value::decode`] never panics: each read is bounds-checked and the first rule broken
//! is returned with its offset from the start of the buffer it was given.

use std::fmt;

use super::rules::{Rule, Violation};

/// The format codes of part 1, section 1.6, by the specification's encoding names.
pub mod code {
    pub const DESCRIBED: u8 = 0x00;
    pub const NULL: u8 = 0x40;
    pub const TRUE: u8 = 0x41;
    pub const FALSE: u8 = 0x42;
    pub const BOOLEAN: u8 = 0x56;
    pub const UBYTE: u8 = 0x50;
    pub const USHORT: u8 = 0x60;
    pub const UINT: u8 = 0x70;
    pub const SMALLUINT: u8 = 0x52;
    pub const UINT0: u8 = 0x43;
    pub const ULONG: u8 = 0x80;
    pub const SMALLULONG: u8 = 0x53;
    pub const ULONG0: u8 = 0x44;
    pub const BYTE: u8 = 0x51;
    pub const SHORT: u8 = 0x61;
    pub const INT: u8 = 0x71;
    pub const SMALLINT: u8 = 0x54;
    pub const LONG: u8 = 0x81;
    pub const SMALLLONG: u8 = 0x55;
    pub const FLOAT: u8 = 0x72;
    pub const DOUBLE: u8 = 0x82;
    pub const DECIMAL32: u8 = 0x74;
    pub const DECIMAL64: u8 = 0x84;
    pub const DECIMAL128: u8 = 0x94;
    pub const CHAR: u8 = 0x73;
    pub const TIMESTAMP: u8 = 0x83;
    pub const UUID: u8 = 0x98;
    pub const VBIN8: u8 = 0xa0;
    pub const VBIN32: u8 = 0xb0;
    pub const STR8: u8 = 0xa1;
    pub const STR32: u8 = 0xb1;
    pub const SYM8: u8 = 0xa3;
    pub const SYM32: u8 = 0xb3;
    pub const LIST0: u8 = 0x45;
    pub const LIST8: u8 = 0xc0;
    pub const LIST32: u8 = 0xd0;
    pub const MAP8: u8 = 0xc1;
    pub const MAP32: u8 = 0xd1;
    pub const ARRAY8: u8 = 0xe0;
    pub const ARRAY32: u8 = 0xf0;

    /// The type a format code encodes (`uint` for uint, smalluint and uint0), `None` for
    /// undefined codes.
    pub fn type_of(c: u8) -> Option<&'static str> {
        Some(match c {
            TRUE | FALSE | BOOLEAN => "boolean",
            UINT | SMALLUINT | UINT0 => "uint",
            ULONG | SMALLULONG | ULONG0 => "ulong",
            INT | SMALLINT => "int",
            LONG | SMALLLONG => "long",
            VBIN8 | VBIN32 => "binary",
            STR8 | STR32 => "string",
            SYM8 | SYM32 => "symbol",
            LIST0 | LIST8 | LIST32 => "list",
            MAP8 | MAP32 => "map",
            ARRAY8 | ARRAY32 => "array",
            other => return name(other),
        })
    }

    /// The specification's name of a format code, `None` for undefined ones.
    pub fn name(c: u8) -> Option<&'static str> {
        Some(match c {
            DESCRIBED => "described",
            NULL => "null",
            TRUE => "true",
            FALSE => "false",
            BOOLEAN => "boolean",
            UBYTE => "ubyte",
            USHORT => "ushort",
            UINT => "uint",
            SMALLUINT => "smalluint",
            UINT0 => "uint0",
            ULONG => "ulong",
            SMALLULONG => "smallulong",
            ULONG0 => "ulong0",
            BYTE => "byte",
            SHORT => "short",
            INT => "int",
            SMALLINT => "smallint",
            LONG => "long",
            SMALLLONG => "smalllong",
            FLOAT => "float",
            DOUBLE => "double",
            DECIMAL32 => "decimal32",
            DECIMAL64 => "decimal64",
            DECIMAL128 => "decimal128",
            CHAR => "char",
            TIMESTAMP => "timestamp",
            UUID => "uuid",
            VBIN8 => "vbin8",
            VBIN32 => "vbin32",
            STR8 => "str8-utf8",
            STR32 => "str32-utf8",
            SYM8 => "sym8",
            SYM32 => "sym32",
            LIST0 => "list0",
            LIST8 => "list8",
            LIST32 => "list32",
            MAP8 => "map8",
            MAP32 => "map32",
            ARRAY8 => "array8",
            ARRAY32 => "array32",
            _ => return None,
        })
    }
}

/// How deep values may nest before hilt stops reading ([`Rule::Depth`]).
pub const MAX_DEPTH: usize = 64;

/// How many zero-width array elements (nulls, uint0s …) hilt reads in one array.
pub const MAX_ZERO_WIDTH_ELEMENTS: usize = 1 << 16;

/// One AMQP 1.0 value. Floats compare by their bits, so a NaN sent is a NaN received.
#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Ubyte(u8),
    Ushort(u16),
    Uint(u32),
    Ulong(u64),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    /// IEEE 754-2008 decimal32, decimal64 and decimal128, as their octets.
    Decimal32([u8; 4]),
    Decimal64([u8; 8]),
    Decimal128([u8; 16]),
    Char(char),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
    Binary(Vec<u8>),
    String(String),
    Symbol(String),
    List(Vec<Value>),
    /// Key–value pairs in the order they were read or are to be written.
    Map(Vec<(Value, Value)>),
    Array(Array),
    /// A descriptor and the value it describes.
    Described(Box<Value>, Box<Value>),
}

/// An array: one element constructor (a format code, described or not) and the
/// elements, each the value the constructor's format carries (without the descriptor).
/// Two arrays are equal when their descriptors, element types and elements are: `sym8`
/// and `sym32` elements make the same array of symbols.
#[derive(Debug, Clone)]
pub struct Array {
    pub descriptor: Option<Box<Value>>,
    pub code: u8,
    pub items: Vec<Value>,
}

impl Array {
    /// An array of `code` elements, not described.
    pub fn of(code: u8, items: Vec<Value>) -> Self {
        Array {
            descriptor: None,
            code,
            items,
        }
    }

    /// An array whose elements are all described by `descriptor`.
    pub fn described(descriptor: Value, code: u8, items: Vec<Value>) -> Self {
        Array {
            descriptor: Some(Box::new(descriptor)),
            code,
            items,
        }
    }
}

impl PartialEq for Array {
    fn eq(&self, other: &Array) -> bool {
        self.descriptor == other.descriptor
            && code::type_of(self.code) == code::type_of(other.code)
            && self.items == other.items
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Ubyte(a), Ubyte(b)) => a == b,
            (Ushort(a), Ushort(b)) => a == b,
            (Uint(a), Uint(b)) => a == b,
            (Ulong(a), Ulong(b)) => a == b,
            (Byte(a), Byte(b)) => a == b,
            (Short(a), Short(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Long(a), Long(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Double(a), Double(b)) => a.to_bits() == b.to_bits(),
            (Decimal32(a), Decimal32(b)) => a == b,
            (Decimal64(a), Decimal64(b)) => a == b,
            (Decimal128(a), Decimal128(b)) => a == b,
            (Char(a), Char(b)) => a == b,
            (Timestamp(a), Timestamp(b)) => a == b,
            (Uuid(a), Uuid(b)) => a == b,
            (Binary(a), Binary(b)) => a == b,
            (String(a), String(b)) | (Symbol(a), Symbol(b)) => a == b,
            (List(a), List(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Described(d1, v1), Described(d2, v2)) => d1 == d2 && v1 == v2,
            _ => false,
        }
    }
}

impl From<super::composite::Composite> for Value {
    fn from(c: super::composite::Composite) -> Self {
        c.to_value()
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Value::Ubyte(v)
    }
}
impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Ushort(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Uint(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Ulong(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Long(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Binary(v)
    }
}

impl Value {
    pub fn symbol(s: &str) -> Value {
        Value::Symbol(s.to_owned())
    }

    pub fn described(descriptor: impl Into<Value>, value: Value) -> Value {
        Value::Described(Box::new(descriptor.into()), Box::new(value))
    }

    /// The type's name in the specification (`ulong`, `string`, `described`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Ubyte(_) => "ubyte",
            Value::Ushort(_) => "ushort",
            Value::Uint(_) => "uint",
            Value::Ulong(_) => "ulong",
            Value::Byte(_) => "byte",
            Value::Short(_) => "short",
            Value::Int(_) => "int",
            Value::Long(_) => "long",
            Value::Float(_) => "float",
            Value::Double(_) => "double",
            Value::Decimal32(_) => "decimal32",
            Value::Decimal64(_) => "decimal64",
            Value::Decimal128(_) => "decimal128",
            Value::Char(_) => "char",
            Value::Timestamp(_) => "timestamp",
            Value::Uuid(_) => "uuid",
            Value::Binary(_) => "binary",
            Value::String(_) => "string",
            Value::Symbol(_) => "symbol",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Array(_) => "array",
            Value::Described(..) => "described",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Any unsigned integer widened to u64.
    pub fn as_u64(&self) -> Option<u64> {
        Some(match *self {
            Value::Ubyte(v) => u64::from(v),
            Value::Ushort(v) => u64::from(v),
            Value::Uint(v) => u64::from(v),
            Value::Ulong(v) => v,
            _ => return None,
        })
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The text of a string or a symbol.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The descriptor and described value, if this is a described type.
    pub fn as_described(&self) -> Option<(&Value, &Value)> {
        match self {
            Value::Described(d, v) => Some((d, v)),
            _ => None,
        }
    }

    /// The format code [`Value::encode`] uses: the smallest encoding of the value.
    pub fn smallest_code(&self) -> u8 {
        use code::*;
        match self {
            Value::Null => NULL,
            Value::Bool(true) => TRUE,
            Value::Bool(false) => FALSE,
            Value::Ubyte(_) => UBYTE,
            Value::Ushort(_) => USHORT,
            Value::Uint(0) => UINT0,
            Value::Uint(v) if *v < 256 => SMALLUINT,
            Value::Uint(_) => UINT,
            Value::Ulong(0) => ULONG0,
            Value::Ulong(v) if *v < 256 => SMALLULONG,
            Value::Ulong(_) => ULONG,
            Value::Byte(_) => BYTE,
            Value::Short(_) => SHORT,
            Value::Int(v) if i8::try_from(*v).is_ok() => SMALLINT,
            Value::Int(_) => INT,
            Value::Long(v) if i8::try_from(*v).is_ok() => SMALLLONG,
            Value::Long(_) => LONG,
            Value::Float(_) => FLOAT,
            Value::Double(_) => DOUBLE,
            Value::Decimal32(_) => DECIMAL32,
            Value::Decimal64(_) => DECIMAL64,
            Value::Decimal128(_) => DECIMAL128,
            Value::Char(_) => CHAR,
            Value::Timestamp(_) => TIMESTAMP,
            Value::Uuid(_) => UUID,
            Value::Binary(b) if b.len() < 256 => VBIN8,
            Value::Binary(_) => VBIN32,
            Value::String(s) if s.len() < 256 => STR8,
            Value::String(_) => STR32,
            Value::Symbol(s) if s.len() < 256 => SYM8,
            Value::Symbol(_) => SYM32,
            Value::List(l) if l.is_empty() => LIST0,
            // The 8- or 32-bit form of a compound value depends on its encoded size.
            Value::List(_) | Value::Map(_) | Value::Array(_) => self.to_bytes()[0],
            Value::Described(..) => DESCRIBED,
        }
    }

    /// Writes the value in its smallest encoding (compound values choose their 8- or
    /// 32-bit form by size).
    pub fn encode(&self, out: &mut Vec<u8>) {
        use code::*;
        // Compound bodies are written once, then given the smaller form they fit.
        match self {
            Value::List(l) if !l.is_empty() => {
                let mut body = Vec::new();
                for i in l {
                    i.encode(&mut body);
                }
                write_compound(&body, l.len(), (LIST8, LIST32), out);
            }
            Value::Map(m) => {
                let mut body = Vec::new();
                for (k, v) in m {
                    k.encode(&mut body);
                    v.encode(&mut body);
                }
                write_compound(&body, m.len() * 2, (MAP8, MAP32), out);
            }
            Value::Array(a) => {
                let mut body = Vec::new();
                encode_array_constructor(a, &mut body);
                for i in &a.items {
                    // An element that does not fit the constructor is left out: a
                    // raw encoding of such an array is what `encode_as` refuses.
                    let _ = i.encode_body(a.code, &mut body);
                }
                write_compound(&body, a.items.len(), (ARRAY8, ARRAY32), out);
            }
            Value::Described(d, v) => {
                out.push(DESCRIBED);
                d.encode(out);
                v.encode(out);
            }
            _ => {
                // The smallest code always fits its own value.
                let _ = self.encode_as(self.smallest_code(), out);
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Writes the value with format code `c` (the constructor, then the body): a test's way
    /// to send `uint` 5 as `uint`, `smalluint` or, with a 0, `uint0`. Fails, writing
    /// nothing, when the value's type has no such encoding or does not fit it.
    pub fn encode_as(&self, c: u8, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if let Value::Described(d, v) = self {
            if c != code::DESCRIBED {
                return Err(EncodeError::new(self, c));
            }
            out.push(code::DESCRIBED);
            d.encode(out);
            v.encode(out);
            return Ok(());
        }
        let at = out.len();
        out.push(c);
        self.encode_body(c, out).inspect_err(|_| out.truncate(at))
    }

    /// Writes the value's body for format code `c`, without the constructor: how
    /// array elements are written.
    pub fn encode_body(&self, c: u8, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        use code::*;
        let err = || EncodeError::new(self, c);
        match (self, c) {
            (Value::Null, NULL) => {}
            (Value::Bool(true), TRUE) | (Value::Bool(false), FALSE) => {}
            (Value::Bool(b), BOOLEAN) => out.push(u8::from(*b)),
            (Value::Ubyte(v), UBYTE) => out.push(*v),
            (Value::Ushort(v), USHORT) => out.extend_from_slice(&v.to_be_bytes()),
            (Value::Uint(v), UINT) => out.extend_from_slice(&v.to_be_bytes()),
            (Value::Uint(v), SMALLUINT) => out.push(u8::try_from(*v).map_err(|_| err())?),
            (Value::Uint(0), UINT0) => {}
            (Value::Ulong(v), ULONG) => out.extend_from_slice(&v.to_be_bytes()),
            (Value::Ulong(v), SMALLULONG) => out.push(u8::try_from(*v).map_err(|_| err())?),
            (Value::Ulong(0), ULONG0) => {}
            (Value::Byte(v), BYTE) => out.extend_from_slice(&v.to_be_bytes()),
            (Value::Short(v), SHORT) => out.extend_from_slice(&v.to_be_bytes()),
            (Value::Int(v), INT) => out.extend_from_slice(&v.to_be_bytes()),
            (Value::Int(v), SMALLINT) => {
                out.extend_from_slice(&i8::try_from(*v).map_err(|_| err())?.to_be_bytes())
            }
            (Value::Long(v), LONG) => out.extend_from_slice(&v.to_be_bytes()),
            (Value::Long(v), SMALLLONG) => {
                out.extend_from_slice(&i8::try_from(*v).map_err(|_| err())?.to_be_bytes())
            }
            (Value::Float(v), FLOAT) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
            (Value::Double(v), DOUBLE) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
            (Value::Decimal32(v), DECIMAL32) => out.extend_from_slice(v),
            (Value::Decimal64(v), DECIMAL64) => out.extend_from_slice(v),
            (Value::Decimal128(v), DECIMAL128) => out.extend_from_slice(v),
            (Value::Char(v), CHAR) => out.extend_from_slice(&u32::from(*v).to_be_bytes()),
            (Value::Timestamp(v), TIMESTAMP) => out.extend_from_slice(&v.to_be_bytes()),
            (Value::Uuid(v), UUID) => out.extend_from_slice(v),
            (Value::Binary(b), VBIN8 | VBIN32) => variable(b, c == VBIN8, out).ok_or_else(err)?,
            (Value::String(s), STR8 | STR32) => {
                variable(s.as_bytes(), c == STR8, out).ok_or_else(err)?
            }
            (Value::Symbol(s), SYM8 | SYM32) => {
                variable(s.as_bytes(), c == SYM8, out).ok_or_else(err)?
            }
            (Value::List(l), LIST0) if l.is_empty() => {}
            (Value::List(l), LIST8 | LIST32) => {
                compound(l.iter(), l.len(), c == LIST8, out).ok_or_else(err)?
            }
            (Value::Map(m), MAP8 | MAP32) => compound(
                m.iter().flat_map(|(k, v)| [k, v]),
                m.len() * 2,
                c == MAP8,
                out,
            )
            .ok_or_else(err)?,
            (Value::Array(a), ARRAY8 | ARRAY32) => {
                let small = c == ARRAY8;
                let at = out.len();
                out.extend_from_slice(if small { &[0; 2] } else { &[0; 8] });
                encode_array_constructor(a, out);
                for i in &a.items {
                    i.encode_body(a.code, out)?;
                }
                let n = a.items.len();
                patch_size_count(out, at, small, n).ok_or_else(err)?;
            }
            _ => return Err(err()),
        }
        Ok(())
    }

    /// Reads one value at the start of `buf`; returns it and the octets it used.
    pub fn decode(buf: &[u8]) -> Result<(Value, usize), Violation> {
        let mut r = Reader { buf, pos: 0 };
        let v = r.value(0)?;
        Ok((v, r.pos))
    }

    /// Reads a buffer that must hold exactly one value.
    pub fn decode_exact(buf: &[u8]) -> Result<Value, Violation> {
        let (v, n) = Value::decode(buf)?;
        if n != buf.len() {
            return Err(Violation::new(
                Rule::Size,
                n,
                format!("{} octets after the value", buf.len() - n),
            ));
        }
        Ok(v)
    }
}

fn encode_array_constructor(a: &Array, out: &mut Vec<u8>) {
    if let Some(d) = &a.descriptor {
        out.push(code::DESCRIBED);
        d.encode(out);
    }
    out.push(a.code);
}

/// Writes a compound value whose body (items, or an array's constructor and elements)
/// is `body`, in the 8-bit form of `codes` where size and count fit, else the 32-bit.
fn write_compound(body: &[u8], count: usize, codes: (u8, u8), out: &mut Vec<u8>) {
    match (u8::try_from(body.len() + 1), u8::try_from(count)) {
        (Ok(size), Ok(count)) => out.extend_from_slice(&[codes.0, size, count]),
        _ => {
            out.push(codes.1);
            out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
            out.extend_from_slice(&(count as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(body);
}

fn variable(b: &[u8], small: bool, out: &mut Vec<u8>) -> Option<()> {
    if small {
        out.push(u8::try_from(b.len()).ok()?);
    } else {
        out.extend_from_slice(&u32::try_from(b.len()).ok()?.to_be_bytes());
    }
    out.extend_from_slice(b);
    Some(())
}

fn compound<'a>(
    items: impl Iterator<Item = &'a Value>,
    count: usize,
    small: bool,
    out: &mut Vec<u8>,
) -> Option<()> {
    let at = out.len();
    out.extend_from_slice(if small { &[0; 2] } else { &[0; 8] });
    for i in items {
        i.encode(out);
    }
    patch_size_count(out, at, small, count)
}

/// Fills in the size and count fields reserved at `at`; the size counts every octet after
/// the size field.
fn patch_size_count(out: &mut [u8], at: usize, small: bool, count: usize) -> Option<()> {
    if small {
        let size = u8::try_from(out.len() - at - 1).ok()?;
        out[at] = size;
        out[at + 1] = u8::try_from(count).ok()?;
    } else {
        let size = u32::try_from(out.len() - at - 4).ok()?;
        out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        let count = u32::try_from(count).ok()?;
        out[at + 4..at + 8].copy_from_slice(&count.to_be_bytes());
    }
    Some(())
}

/// A value cannot be written with the format code asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    pub type_name: &'static str,
    pub code: u8,
}

impl EncodeError {
    fn new(v: &Value, code: u8) -> Self {
        EncodeError {
            type_name: v.type_name(),
            code,
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {} cannot be written as format code 0x{:02x} ({})",
            self.type_name,
            self.code,
            code::name(self.code).unwrap_or("undefined")
        )
    }
}

impl std::error::Error for EncodeError {}

/// A bounds-checked cursor over one buffer.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Violation> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Violation::new(
                Rule::Size,
                self.pos,
                format!(
                    "{what} needs {n} octets, {} remain",
                    self.buf.len() - self.pos
                ),
            )),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Violation> {
        let s = self.take(N, what)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8, Violation> {
        Ok(self.take(1, what)?[0])
    }

    /// A size (or count) field of one or four octets.
    fn len(&mut self, small: bool, what: &str) -> Result<usize, Violation> {
        Ok(if small {
            usize::from(self.u8(what)?)
        } else {
            u32::from_be_bytes(self.array(what)?) as usize
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value, Violation> {
        let at = self.pos;
        let c = self.u8("a constructor")?;
        if c == code::DESCRIBED {
            return self.described(at, depth);
        }
        self.body(c, at, depth)
    }

    fn described(&mut self, at: usize, depth: usize) -> Result<Value, Violation> {
        if depth >= MAX_DEPTH {
            return Err(Violation::new(
                Rule::Depth,
                at,
                format!("values nested more than {MAX_DEPTH} deep"),
            ));
        }
        let d_at = self.pos;
        let d = self.value(depth + 1)?;
        check_descriptor(&d, d_at)?;
        let v = self.value(depth + 1)?;
        Ok(Value::Described(Box::new(d), Box::new(v)))
    }

    /// The body of a value whose constructor `c` was read at `at`.
    fn body(&mut self, c: u8, at: usize, depth: usize) -> Result<Value, Violation> {
        use code::*;
        Ok(match c {
            NULL => Value::Null,
            TRUE => Value::Bool(true),
            FALSE => Value::Bool(false),
            BOOLEAN => match self.u8("a boolean")? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => {
                    return Err(Violation::new(
                        Rule::Boolean,
                        self.pos - 1,
                        format!("boolean octet 0x{b:02x}, neither 0x00 nor 0x01"),
                    ));
                }
            },
            UBYTE => Value::Ubyte(self.u8("a ubyte")?),
            USHORT => Value::Ushort(u16::from_be_bytes(self.array("a ushort")?)),
            UINT => Value::Uint(u32::from_be_bytes(self.array("a uint")?)),
            SMALLUINT => Value::Uint(u32::from(self.u8("a smalluint")?)),
            UINT0 => Value::Uint(0),
            ULONG => Value::Ulong(u64::from_be_bytes(self.array("a ulong")?)),
            SMALLULONG => Value::Ulong(u64::from(self.u8("a smallulong")?)),
            ULONG0 => Value::Ulong(0),
            BYTE => Value::Byte(i8::from_be_bytes(self.array("a byte")?)),
            SHORT => Value::Short(i16::from_be_bytes(self.array("a short")?)),
            INT => Value::Int(i32::from_be_bytes(self.array("an int")?)),
            SMALLINT => Value::Int(i32::from(i8::from_be_bytes(self.array("a smallint")?))),
            LONG => Value::Long(i64::from_be_bytes(self.array("a long")?)),
            SMALLLONG => Value::Long(i64::from(i8::from_be_bytes(self.array("a smalllong")?))),
            FLOAT => Value::Float(f32::from_bits(u32::from_be_bytes(self.array("a float")?))),
            DOUBLE => Value::Double(f64::from_bits(u64::from_be_bytes(self.array("a double")?))),
            DECIMAL32 => Value::Decimal32(self.array("a decimal32")?),
            DECIMAL64 => Value::Decimal64(self.array("a decimal64")?),
            DECIMAL128 => Value::Decimal128(self.array("a decimal128")?),
            CHAR => {
                let p = self.pos;
                let u = u32::from_be_bytes(self.array("a char")?);
                Value::Char(char::from_u32(u).ok_or_else(|| {
                    Violation::new(
                        Rule::Char,
                        p,
                        format!("0x{u:08x} is not a Unicode scalar value"),
                    )
                })?)
            }
            TIMESTAMP => Value::Timestamp(i64::from_be_bytes(self.array("a timestamp")?)),
            UUID => Value::Uuid(self.array("a uuid")?),
            VBIN8 | VBIN32 => {
                let n = self.len(c == VBIN8, "a binary's size")?;
                Value::Binary(self.take(n, "a binary")?.to_vec())
            }
            STR8 | STR32 => {
                let n = self.len(c == STR8, "a string's size")?;
                let p = self.pos;
                let b = self.take(n, "a string")?;
                Value::String(
                    std::str::from_utf8(b)
                        .map_err(|e| {
                            Violation::new(
                                Rule::String,
                                p + e.valid_up_to(),
                                "a string that is not UTF-8",
                            )
                        })?
                        .to_owned(),
                )
            }
            SYM8 | SYM32 => {
                let n = self.len(c == SYM8, "a symbol's size")?;
                let p = self.pos;
                let b = self.take(n, "a symbol")?;
                if let Some(i) = b.iter().position(|o| !o.is_ascii()) {
                    return Err(Violation::new(
                        Rule::Symbol,
                        p + i,
                        format!("symbol octet 0x{:02x} is not ASCII", b[i]),
                    ));
                }
                Value::Symbol(b.iter().map(|&o| char::from(o)).collect())
            }
            LIST0 => Value::List(Vec::new()),
            LIST8 | LIST32 | MAP8 | MAP32 => {
                let small = c == LIST8 || c == MAP8;
                let is_map = c == MAP8 || c == MAP32;
                let rule = if is_map { Rule::Map } else { Rule::List };
                let items = self.compound(small, rule, depth)?;
                if is_map {
                    Value::Map(pairs(items, at)?)
                } else {
                    Value::List(items)
                }
            }
            ARRAY8 | ARRAY32 => Value::Array(self.array_body(c == ARRAY8, at, depth)?),
            other => {
                return Err(Violation::new(
                    Rule::FormatCode,
                    at,
                    format!("format code 0x{other:02x} is not defined"),
                ));
            }
        })
    }

    /// The size, count and items of a list or map; the items must fill the size exactly.
    fn compound(&mut self, small: bool, rule: Rule, depth: usize) -> Result<Vec<Value>, Violation> {
        if depth >= MAX_DEPTH {
            return Err(Violation::new(
                Rule::Depth,
                self.pos,
                format!("values nested more than {MAX_DEPTH} deep"),
            ));
        }
        let size_at = self.pos;
        let size = self.len(small, "a compound size")?;
        let body = self.take(size, "a compound value")?;
        let base = size_at + if small { 1 } else { 4 };
        let mut inner = Reader { buf: body, pos: 0 };
        let count = inner
            .len(small, "a compound count")
            .map_err(|v| v.shifted(base))?;
        // Each item takes at least one octet: a count beyond that cannot be honest, and
        // must not size an allocation.
        if count > body.len() {
            return Err(Violation::new(
                rule,
                base,
                format!("a count of {count} items in {size} octets"),
            ));
        }
        let mut items = Vec::with_capacity(count);
        for i in 0..count {
            if inner.pos >= body.len() {
                return Err(Violation::new(
                    rule,
                    base + inner.pos,
                    format!("the count says {count} items, the size holds {i}"),
                ));
            }
            items.push(inner.value(depth + 1).map_err(|v| v.shifted(base))?);
        }
        if inner.pos != body.len() {
            return Err(Violation::new(
                rule,
                base + inner.pos,
                format!(
                    "{} octets after the {count} items the count announces",
                    body.len() - inner.pos
                ),
            ));
        }
        Ok(items)
    }

    fn array_body(&mut self, small: bool, at: usize, depth: usize) -> Result<Array, Violation> {
        if depth >= MAX_DEPTH {
            return Err(Violation::new(
                Rule::Depth,
                at,
                format!("values nested more than {MAX_DEPTH} deep"),
            ));
        }
        let size = self.len(small, "an array's size")?;
        let base = self.pos;
        let body = self.take(size, "an array")?;
        let mut inner = Reader { buf: body, pos: 0 };
        let shift = |v: Violation| v.shifted(base);
        let count = inner.len(small, "an array's count").map_err(shift)?;
        let mut descriptor = None;
        let mut c = inner.u8("an array's constructor").map_err(shift)?;
        if c == code::DESCRIBED {
            let d_at = inner.pos;
            let d = inner.value(depth + 1).map_err(shift)?;
            check_descriptor(&d, base + d_at)?;
            descriptor = Some(Box::new(d));
            c = inner.u8("an array's constructor").map_err(shift)?;
        }
        if c == code::DESCRIBED || code::name(c).is_none() {
            return Err(Violation::new(
                Rule::Array,
                base + inner.pos - 1,
                format!("array element constructor 0x{c:02x}"),
            ));
        }
        // Elements of zero width (null, true, uint0, list0 …) make any count
        // representable in a few octets: bound what a count may make hilt read.
        if count > body.len() && count > MAX_ZERO_WIDTH_ELEMENTS {
            return Err(Violation::new(
                Rule::Size,
                base,
                format!("{count} elements of no width: more than hilt reads"),
            ));
        }
        let mut items = Vec::with_capacity(count.min(body.len()));
        for _ in 0..count {
            let p = inner.pos;
            items.push(inner.body(c, p, depth + 1).map_err(|v| {
                if v.rule == Rule::Size {
                    Violation::new(
                        Rule::Array,
                        base + p,
                        format!("the count says {count} elements, the size holds fewer"),
                    )
                } else {
                    shift(v)
                }
            })?);
        }
        if inner.pos != body.len() {
            return Err(Violation::new(
                Rule::Array,
                base + inner.pos,
                format!(
                    "{} octets after the {count} elements the count announces",
                    body.len() - inner.pos
                ),
            ));
        }
        Ok(Array {
            descriptor,
            code: c,
            items,
        })
    }
}

fn check_descriptor(d: &Value, at: usize) -> Result<(), Violation> {
    match d {
        Value::Ulong(_) | Value::Symbol(_) => Ok(()),
        other => Err(Violation::new(
            Rule::Descriptor,
            at,
            format!("a descriptor of type {}", other.type_name()),
        )),
    }
}

/// Pairs a map's elements, refusing an odd count or a repeated key.
fn pairs(items: Vec<Value>, at: usize) -> Result<Vec<(Value, Value)>, Violation> {
    if !items.len().is_multiple_of(2) {
        return Err(Violation::new(
            Rule::Map,
            at,
            format!("a map of {} elements, not an even number", items.len()),
        ));
    }
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(Violation::new(
                Rule::Map,
                at,
                format!("the key {k} appears twice"),
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Ubyte(v) => write!(f, "{v}ub"),
            Value::Ushort(v) => write!(f, "{v}us"),
            Value::Uint(v) => write!(f, "{v}u"),
            Value::Ulong(v) => write!(f, "{v}ul"),
            Value::Byte(v) => write!(f, "{v}b"),
            Value::Short(v) => write!(f, "{v}s"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Long(v) => write!(f, "{v}L"),
            Value::Float(v) => write!(f, "{v:?}f"),
            Value::Double(v) => write!(f, "{v:?}d"),
            Value::Decimal32(b) => write!(f, "decimal32:{}", hex(b)),
            Value::Decimal64(b) => write!(f, "decimal64:{}", hex(b)),
            Value::Decimal128(b) => write!(f, "decimal128:{}", hex(b)),
            Value::Char(c) => write!(f, "{c:?}"),
            Value::Timestamp(t) => write!(f, "timestamp:{t}"),
            Value::Uuid(u) => write!(f, "uuid:{}", hex(u)),
            Value::Binary(b) if b.len() <= 32 => write!(f, "b\"{}\"", b.escape_ascii()),
            Value::Binary(b) => write!(f, "binary({}B)", b.len()),
            Value::String(s) if s.chars().count() <= 64 => write!(f, "{s:?}"),
            Value::String(s) => write!(f, "string({}B)", s.len()),
            Value::Symbol(s) => write!(f, ":{s}"),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Array(a) => {
                f.write_str("array[")?;
                if let Some(d) = &a.descriptor {
                    write!(f, "{d} ")?;
                }
                write!(f, "{}; ", code::name(a.code).unwrap_or("?"))?;
                for (i, v) in a.items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Described(d, v) => write!(f, "{d}({v})"),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|o| format!("{o:02x}")).collect()
}

#[cfg(test)]
mod test {
    use super::code::*;
    use super::*;

    fn round_trip(v: &Value, bytes: &[u8]) {
        assert_eq!(v.to_bytes(), bytes, "{v}");
        assert_eq!(Value::decode_exact(bytes), Ok(v.clone()), "{bytes:02x?}");
    }

    #[test]
    fn smallest_encodings() {
        round_trip(&Value::Null, &[NULL]);
        round_trip(&Value::Bool(true), &[TRUE]);
        round_trip(&Value::Uint(0), &[UINT0]);
        round_trip(&Value::Uint(7), &[SMALLUINT, 7]);
        round_trip(&Value::Uint(256), &[UINT, 0, 0, 1, 0]);
        round_trip(&Value::Ulong(0), &[ULONG0]);
        round_trip(&Value::Ulong(255), &[SMALLULONG, 255]);
        round_trip(&Value::Int(-1), &[SMALLINT, 0xff]);
        round_trip(
            &Value::Long(-129),
            &[LONG, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        );
        round_trip(&Value::symbol("ab"), &[SYM8, 2, b'a', b'b']);
        round_trip(&Value::List(vec![]), &[LIST0]);
        round_trip(
            &Value::List(vec![Value::Null, Value::Uint(1)]),
            &[LIST8, 4, 2, NULL, SMALLUINT, 1],
        );
        round_trip(
            &Value::Map(vec![(Value::symbol("k"), Value::Bool(false))]),
            &[MAP8, 5, 2, SYM8, 1, b'k', FALSE],
        );
        round_trip(
            &Value::described(Value::Ulong(0x10), Value::List(vec![])),
            &[DESCRIBED, SMALLULONG, 0x10, LIST0],
        );
    }

    #[test]
    fn every_encoding_decodes_to_the_same_value() {
        for (v, c) in [
            (Value::Bool(true), BOOLEAN),
            (Value::Uint(0), UINT),
            (Value::Uint(0), SMALLUINT),
            (Value::Ulong(0), ULONG),
            (Value::Ulong(9), SMALLULONG),
            (Value::Int(5), INT),
            (Value::Long(-5), LONG),
            (Value::Binary(vec![1, 2]), VBIN32),
            (Value::String("é".into()), STR32),
            (Value::symbol("s"), SYM32),
            (Value::List(vec![Value::Null]), LIST32),
            (Value::List(vec![]), LIST8),
            (Value::Map(vec![]), MAP32),
            (Value::Array(Array::of(UINT, vec![Value::Uint(1)])), ARRAY32),
        ] {
            let mut b = Vec::new();
            v.encode_as(c, &mut b).unwrap();
            assert_eq!(b[0], c);
            assert_eq!(Value::decode_exact(&b), Ok(v.clone()), "{v} as {c:02x}");
        }
        assert!(
            Value::Uint(256)
                .encode_as(SMALLUINT, &mut Vec::new())
                .is_err()
        );
        assert!(Value::Uint(1).encode_as(UINT0, &mut Vec::new()).is_err());
    }

    #[test]
    fn arrays_of_described_types() {
        let a = Value::Array(Array::described(
            Value::symbol("d"),
            LIST0,
            vec![Value::List(vec![]), Value::List(vec![])],
        ));
        let b = a.to_bytes();
        assert_eq!(b, [ARRAY8, 6, 2, DESCRIBED, SYM8, 1, b'd', LIST0]);
        assert_eq!(Value::decode_exact(&b), Ok(a));
    }

    #[test]
    fn nan_equals_itself() {
        let nan = Value::Float(f32::NAN);
        assert_eq!(Value::decode_exact(&nan.to_bytes()), Ok(nan));
    }

    #[test]
    fn broken_values_name_rule_and_offset() {
        let e = |b: &[u8]| Value::decode_exact(b).unwrap_err();
        assert_eq!(e(&[0x57]).rule, Rule::FormatCode);
        assert_eq!(
            (e(&[BOOLEAN, 2]).rule, e(&[BOOLEAN, 2]).offset),
            (Rule::Boolean, 1)
        );
        assert_eq!(e(&[CHAR, 0, 0, 0xd8, 0]).rule, Rule::Char);
        assert_eq!(e(&[STR8, 1, 0xff]).rule, Rule::String);
        assert_eq!(e(&[SYM8, 1, 0x80]).rule, Rule::Symbol);
        assert_eq!(e(&[STR8, 5, b'a']).rule, Rule::Size);
        assert_eq!(e(&[LIST8, 2, 2, NULL]).rule, Rule::List);
        assert_eq!(e(&[LIST8, 3, 1, NULL, NULL]).rule, Rule::List);
        assert_eq!(e(&[MAP8, 2, 1, NULL]).rule, Rule::Map);
        assert_eq!(e(&[MAP8, 5, 4, TRUE, NULL, TRUE, NULL]).rule, Rule::Map);
        assert_eq!(e(&[ARRAY8, 3, 2, UINT0]).rule, Rule::Size);
        assert_eq!(e(&[ARRAY8, 2, 1, SMALLUINT]).rule, Rule::Array);
        assert_eq!(e(&[DESCRIBED, TRUE, NULL]).rule, Rule::Descriptor);
        assert_eq!(e(&[NULL, NULL]).rule, Rule::Size);
        let mut deep = Value::Null;
        for _ in 0..100 {
            deep = Value::List(vec![deep]);
        }
        assert_eq!(e(&deep.to_bytes()).rule, Rule::Depth);
    }
}
