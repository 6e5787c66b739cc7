//! Content header frames: class, weight, body size and the Basic properties behind their
//! property flags.

use std::fmt;

use super::rules::{Rule, Violation};
use super::spec::{ArgType, BASIC_CLASS, BASIC_PROPERTIES};
use super::value::{FieldTable, Reader, Value, write_value};

/// The 14 Basic properties; each present or absent, as its property flag says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties(pub Box<[Option<Value>; 14]>);

impl Properties {
    pub fn new() -> Self {
        Properties::default()
    }

    /// Sets property `name` (`delivery-mode`, `headers`…).
    ///
    /// # Panics
    ///
    /// On a name that is not a Basic property or a value that cannot take its type:
    /// mistakes of the calling code.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        let i = index(name).unwrap_or_else(|| panic!("{name} is not a Basic property"));
        let ty = BASIC_PROPERTIES[i].1;
        self.0[i] = Some(
            value
                .into()
                .coerce(ty)
                .unwrap_or_else(|| panic!("property {name} cannot take that value as {ty:?}")),
        );
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        index(name).and_then(|i| self.0[i].as_ref())
    }

    pub fn int(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(Value::as_u64)
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .and_then(Value::as_bytes)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    pub fn headers(&self) -> Option<&FieldTable> {
        self.get("headers").and_then(Value::as_table)
    }

    /// The property flags word: bit 15 for the first property, down to bit 2.
    pub fn flags(&self) -> u16 {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .fold(0, |f, (i, _)| f | 1 << (15 - i))
    }
}

fn index(name: &str) -> Option<usize> {
    BASIC_PROPERTIES.iter().position(|(n, _)| *n == name)
}

/// A content header frame's payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentHeader {
    pub class_id: u16,
    /// Unused; always zero.
    pub weight: u16,
    /// The total size of the body frames that follow.
    pub body_size: u64,
    pub properties: Properties,
}

impl ContentHeader {
    /// A Basic content header.
    pub fn basic(body_size: u64, properties: Properties) -> Self {
        ContentHeader {
            class_id: BASIC_CLASS,
            weight: 0,
            body_size,
            properties,
        }
    }

    /// Reads a header frame's payload; `base` is its offset in the frame.
    pub fn decode(payload: &[u8], base: usize) -> Result<ContentHeader, Violation> {
        let mut r = Reader::new(payload, base);
        let class_id = r.u16("the class id")?;
        if class_id != BASIC_CLASS {
            return Err(Violation::new(
                Rule::ContentClass,
                base,
                format!("class {class_id} carries no content (only basic, 60, does)"),
            ));
        }
        let weight_at = r.offset();
        let weight = r.u16("the weight")?;
        if weight != 0 {
            return Err(Violation::new(
                Rule::ContentWeight,
                weight_at,
                format!("weight {weight}, not 0"),
            ));
        }
        let body_size = r.u64("the body size")?;
        let flags_at = r.offset();
        let flags = r.u16("the property flags")?;
        if flags & 0b11 != 0 {
            return Err(Violation::new(
                Rule::PropertyFlags,
                flags_at,
                format!(
                    "property flags 0x{flags:04x} set bit 1 or 0 (no such property, no continuation)"
                ),
            ));
        }
        let mut properties = Properties::new();
        for (i, (name, ty)) in BASIC_PROPERTIES.iter().enumerate() {
            if flags & 1 << (15 - i) != 0 {
                properties.0[i] = Some(r.value(*ty, name)?);
            }
        }
        if r.remaining() > 0 {
            return Err(Violation::new(
                Rule::MethodLength,
                r.offset(),
                format!("{} octets follow the properties", r.remaining()),
            ));
        }
        Ok(ContentHeader {
            class_id,
            weight,
            body_size,
            properties,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.class_id.to_be_bytes());
        out.extend_from_slice(&self.weight.to_be_bytes());
        out.extend_from_slice(&self.body_size.to_be_bytes());
        out.extend_from_slice(&self.properties.flags().to_be_bytes());
        for v in self.properties.0.iter().flatten() {
            write_value(v, out);
        }
    }
}

impl fmt::Display for ContentHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "content-header body-size={}", self.body_size)?;
        for ((name, ty), v) in BASIC_PROPERTIES.iter().zip(self.properties.0.iter()) {
            match (ty, v) {
                (_, None) => {}
                (ArgType::Table, Some(Value::Table(t))) => write!(f, " {name}={t}")?,
                (_, Some(v)) => match v.as_bytes() {
                    Some(b) => write!(f, " {name}={:?}", String::from_utf8_lossy(b))?,
                    None => write!(f, " {name}={}", v.as_u64().unwrap_or_default())?,
                },
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::amqp091::value::FieldValue;

    fn all_properties() -> Properties {
        Properties::new()
            .with("content-type", "text/plain")
            .with("content-encoding", "utf-8")
            .with("headers", FieldTable::new().with("x-n", FieldValue::I32(3)))
            .with("delivery-mode", 2u8)
            .with("priority", 9u8)
            .with("correlation-id", "c")
            .with("reply-to", "r")
            .with("expiration", "60000")
            .with("message-id", "m")
            .with("timestamp", Value::Timestamp(1_700_000_000))
            .with("type", "t")
            .with("user-id", "guest")
            .with("app-id", "hilt")
            .with("cluster-id", "x")
    }

    #[test]
    fn all_fourteen_properties_round_trip() {
        let h = ContentHeader::basic(5, all_properties());
        assert_eq!(h.properties.flags(), 0xfffc);
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(ContentHeader::decode(&out, 7).unwrap(), h);
    }

    #[test]
    fn one_property_sets_one_flag() {
        let h = ContentHeader::basic(0, Properties::new().with("delivery-mode", 2u8));
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 2]);
    }

    #[test]
    fn bad_weight_class_and_flags_name_their_rules() {
        let mut out = Vec::new();
        ContentHeader::basic(0, Properties::new()).encode(&mut out);
        let mut w = out.clone();
        w[3] = 1;
        assert_eq!(
            ContentHeader::decode(&w, 7).unwrap_err().rule,
            Rule::ContentWeight
        );
        let mut c = out.clone();
        c[1] = 50;
        assert_eq!(
            ContentHeader::decode(&c, 7).unwrap_err().rule,
            Rule::ContentClass
        );
        let mut f = out;
        f[13] = 1;
        let e = ContentHeader::decode(&f, 7).unwrap_err();
        assert_eq!((e.rule, e.offset), (Rule::PropertyFlags, 19));
    }
}
