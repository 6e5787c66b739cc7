//! Methods: a class id, a method id and the arguments the method table gives them.
//!
//! One representation serves every method: [`Method`] pairs the method's table entry
//! with its argument values, in wire order. Arguments are set and read by the names the
//! specification gives them (`queue`, `reply-code`).

use std::fmt;

use super::rules::{Rule, Violation};
use super::spec::{self, ArgType, MethodId, MethodSpec};
use super::value::{FieldTable, Reader, Value, write_value};

/// A method with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    pub spec: &'static MethodSpec,
    /// One value per argument of `spec`, in the same order.
    pub args: Vec<Value>,
}

impl Method {
    /// Method `id` with every argument at its zero value.
    ///
    /// # Panics
    ///
    /// If `id` is not in the method table: callers pass the [`MethodId`] constants.
    pub fn new(id: MethodId) -> Method {
        let spec = spec::method(id).unwrap_or_else(|| panic!("{id:?} is not a method of 0-9-1"));
        Method {
            spec,
            args: spec.args.iter().map(|(_, ty)| Value::zero(*ty)).collect(),
        }
    }

    pub fn id(&self) -> MethodId {
        self.spec.id()
    }

    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    pub fn is(&self, id: MethodId) -> bool {
        self.id() == id
    }

    /// Sets argument `arg`, converting `value` to its type.
    ///
    /// # Panics
    ///
    /// If the method has no such argument or the value cannot take its type: both are
    /// mistakes in the calling code, not in anything received.
    pub fn with(mut self, arg: &str, value: impl Into<Value>) -> Method {
        self.set(arg, value);
        self
    }

    /// Like [`Method::with`], in place.
    pub fn set(&mut self, arg: &str, value: impl Into<Value>) {
        let name = self.spec.name;
        let i = self
            .spec
            .position(arg)
            .unwrap_or_else(|| panic!("{name} has no argument {arg}"));
        let ty = self.spec.args[i].1;
        self.args[i] = value
            .into()
            .coerce(ty)
            .unwrap_or_else(|| panic!("{name}.{arg} cannot take that value as {ty:?}"));
    }

    pub fn get(&self, arg: &str) -> Option<&Value> {
        self.spec.position(arg).and_then(|i| self.args.get(i))
    }

    /// An integer or bit argument, widened; 0 when absent.
    pub fn int(&self, arg: &str) -> u64 {
        self.get(arg).and_then(Value::as_u64).unwrap_or(0)
    }

    pub fn flag(&self, arg: &str) -> bool {
        self.int(arg) != 0
    }

    /// A string argument, decoded as UTF-8 where it is (lossily where not).
    pub fn text(&self, arg: &str) -> String {
        self.get(arg)
            .and_then(Value::as_bytes)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    pub fn table(&self, arg: &str) -> Option<&FieldTable> {
        self.get(arg).and_then(Value::as_table)
    }

    /// Reads a method frame's payload (class id, method id, arguments). `base` is the
    /// payload's offset in its frame, for error offsets.
    pub fn decode(payload: &[u8], base: usize) -> Result<Method, Violation> {
        let mut r = Reader::new(payload, base);
        let class = r.u16("the class id")?;
        let method = r.u16("the method id")?;
        let id = MethodId(class, method);
        let spec = spec::method(id).ok_or_else(|| {
            Violation::new(
                Rule::MethodUnknown,
                base,
                format!("class {class} method {method} is not defined"),
            )
        })?;
        let mut args = Vec::with_capacity(spec.args.len());
        let mut bits: Option<(u8, u8)> = None; // (octet, next bit)
        for (name, ty) in spec.args {
            if *ty == ArgType::Bit {
                let (octet, bit) = match bits {
                    Some((o, b)) if b < 8 => (o, b),
                    _ => (r.u8(name)?, 0),
                };
                args.push(Value::Bit(octet >> bit & 1 != 0));
                bits = Some((octet, bit + 1));
            } else {
                bits = None;
                args.push(r.value(*ty, name)?);
            }
        }
        if r.remaining() > 0 {
            return Err(Violation::new(
                Rule::MethodLength,
                r.offset(),
                format!(
                    "{} octets follow the arguments of {}",
                    r.remaining(),
                    spec.name
                ),
            ));
        }
        Ok(Method { spec, args })
    }

    /// Writes the payload of this method's frame: ids, then arguments with consecutive
    /// bits packed into octets (least significant bit first).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.spec.class_id.to_be_bytes());
        out.extend_from_slice(&self.spec.method_id.to_be_bytes());
        let mut bit_at: Option<(usize, u8)> = None;
        for v in &self.args {
            if let Value::Bit(b) = v {
                let (at, n) = match bit_at {
                    Some((at, n)) if n < 8 => (at, n),
                    _ => {
                        out.push(0);
                        (out.len() - 1, 0)
                    }
                };
                out[at] |= u8::from(*b) << n;
                bit_at = Some((at, n + 1));
            } else {
                bit_at = None;
                write_value(v, out);
            }
        }
    }

    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        self.encode(&mut out);
        out
    }
}

impl fmt::Display for Method {
    /// `queue.declare queue="q" durable=1 arguments={}`; zero bits and empty strings
    /// are left out, as are reserved arguments.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec.name)?;
        for ((name, _), v) in self.spec.args.iter().zip(&self.args) {
            if name.starts_with("reserved") {
                continue;
            }
            match v {
                Value::Bit(false) => {}
                Value::Bit(true) => write!(f, " {name}")?,
                Value::ShortStr(b) | Value::LongStr(b) => {
                    if !b.is_empty() {
                        let s = String::from_utf8_lossy(b);
                        if s.len() > 60 {
                            write!(f, " {name}=<{} octets>", b.len())?;
                        } else {
                            write!(f, " {name}={s:?}")?;
                        }
                    }
                }
                Value::Table(t) => {
                    if !t.is_empty() {
                        write!(f, " {name}={t}")?;
                    }
                }
                other => write!(f, " {name}={}", other.as_u64().unwrap_or_default())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn bits_pack_into_one_octet_least_significant_first() {
        let m = Method::new(MethodId::QUEUE_DECLARE)
            .with("queue", "q")
            .with("durable", true)
            .with("auto-delete", true);
        let p = m.to_payload();
        // class 50, method 10, reserved short, "q", bits (durable=1<<1, auto-delete=1<<3),
        // empty table.
        assert_eq!(p, [0, 50, 0, 10, 0, 0, 1, b'q', 0b1010, 0, 0, 0, 0]);
        assert_eq!(Method::decode(&p, 7).unwrap(), m);
    }

    #[test]
    fn every_method_round_trips_with_all_bits_set() {
        for s in spec::METHODS {
            let mut m = Method::new(s.id());
            for (name, ty) in s.args {
                match ty {
                    ArgType::Bit => m.set(name, true),
                    ArgType::ShortStr | ArgType::LongStr => m.set(name, "x"),
                    ArgType::Table => {
                        m.set(name, FieldTable::new().with("k", "v"));
                    }
                    _ => m.set(name, 7u8),
                }
            }
            let p = m.to_payload();
            assert_eq!(Method::decode(&p, 0).unwrap(), m, "{}", s.name);
        }
    }

    #[test]
    fn unknown_method_and_leftover_octets_name_their_rules() {
        let e = Method::decode(&[0, 60, 0, 99], 7).unwrap_err();
        assert_eq!((e.rule, e.offset), (Rule::MethodUnknown, 7));
        let e = Method::decode(&[0, 20, 0, 41, 0], 7).unwrap_err();
        assert_eq!((e.rule, e.offset), (Rule::MethodLength, 11));
        let e = Method::decode(&[0, 10, 0, 50, 1], 7).unwrap_err();
        assert_eq!(e.rule, Rule::MethodLength);
    }

    #[test]
    fn display_names_what_is_set() {
        let m = Method::new(MethodId::CHANNEL_CLOSE)
            .with("reply-code", 404u16)
            .with("reply-text", "NOT_FOUND");
        assert_eq!(
            m.to_string(),
            "channel.close reply-code=404 reply-text=\"NOT_FOUND\" class-id=0 method-id=0"
        );
    }
}
