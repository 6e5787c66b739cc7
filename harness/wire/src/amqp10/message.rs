//! The message format (part 3, 3.2): a bare message between an optional header and
//! annotations and an optional footer, each section a described value, in a fixed order.

use std::fmt;

use super::composite::{Composite, descriptor as d};
use super::rules::{Rule, Violation};
use super::value::Value;

/// The body of a message.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum MessageBody {
    /// No body section (the specification requires one; hilt can still write and read it).
    #[default]
    None,
    /// One or more data sections, each opaque octets.
    Data(Vec<Vec<u8>>),
    /// One or more amqp-sequence sections, each a list of values.
    Sequence(Vec<Vec<Value>>),
    /// One amqp-value section.
    Value(Value),
}

/// A message with every section of 3.2.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub header: Option<Composite>,
    pub delivery_annotations: Option<Vec<(Value, Value)>>,
    pub message_annotations: Option<Vec<(Value, Value)>>,
    pub properties: Option<Composite>,
    pub application_properties: Option<Vec<(Value, Value)>>,
    pub body: MessageBody,
    pub footer: Option<Vec<(Value, Value)>>,
}

fn section(code: u64, v: Value) -> Value {
    Value::described(Value::Ulong(code), v)
}

impl Message {
    /// A message whose body is one data section.
    pub fn data(bytes: impl Into<Vec<u8>>) -> Message {
        Message {
            body: MessageBody::Data(vec![bytes.into()]),
            ..Message::default()
        }
    }

    /// A message whose body is one amqp-value section.
    pub fn value(v: Value) -> Message {
        Message {
            body: MessageBody::Value(v),
            ..Message::default()
        }
    }

    pub fn with_application_properties(mut self, p: Vec<(Value, Value)>) -> Message {
        self.application_properties = Some(p);
        self
    }

    pub fn with_properties(mut self, p: Composite) -> Message {
        self.properties = Some(p);
        self
    }

    pub fn with_header(mut self, h: Composite) -> Message {
        self.header = Some(h);
        self
    }

    /// An application property by string key.
    pub fn application_property(&self, key: &str) -> Option<&Value> {
        self.application_properties
            .as_ref()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The sections as described values, in order.
    pub fn sections(&self) -> Vec<Value> {
        let mut s = Vec::new();
        if let Some(h) = &self.header {
            s.push(h.to_value());
        }
        if let Some(a) = &self.delivery_annotations {
            s.push(section(d::DELIVERY_ANNOTATIONS, Value::Map(a.clone())));
        }
        if let Some(a) = &self.message_annotations {
            s.push(section(d::MESSAGE_ANNOTATIONS, Value::Map(a.clone())));
        }
        if let Some(p) = &self.properties {
            s.push(p.to_value());
        }
        if let Some(a) = &self.application_properties {
            s.push(section(d::APPLICATION_PROPERTIES, Value::Map(a.clone())));
        }
        match &self.body {
            MessageBody::None => {}
            MessageBody::Data(parts) => s.extend(
                parts
                    .iter()
                    .map(|b| section(d::DATA, Value::Binary(b.clone()))),
            ),
            MessageBody::Sequence(parts) => s.extend(
                parts
                    .iter()
                    .map(|l| section(d::AMQP_SEQUENCE, Value::List(l.clone()))),
            ),
            MessageBody::Value(v) => s.push(section(d::AMQP_VALUE, v.clone())),
        }
        if let Some(f) = &self.footer {
            s.push(section(d::FOOTER, Value::Map(f.clone())));
        }
        s
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        for s in self.sections() {
            s.encode(out);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Reads the sections of a whole message (a delivery's payloads put together),
    /// strictly: known sections, in order, one body kind.
    pub fn decode(buf: &[u8]) -> Result<Message, Violation> {
        let mut m = Message::default();
        let mut pos = 0;
        // The rank of the last section read: each must come after it.
        let mut last_rank = 0;
        while pos < buf.len() {
            let at = pos;
            let (v, n) = Value::decode(&buf[pos..]).map_err(|e| e.shifted(at))?;
            pos += n;
            let code = match v.as_described() {
                Some((Value::Ulong(c), _)) => *c,
                Some((Value::Symbol(s), _)) => super::composite::lookup(&Value::symbol(s))
                    .map(|c| c.code)
                    .or_else(|| section_code_of_symbol(s))
                    .unwrap_or(0),
                _ => 0,
            };
            let rank = match code {
                d::HEADER => 1,
                d::DELIVERY_ANNOTATIONS => 2,
                d::MESSAGE_ANNOTATIONS => 3,
                d::PROPERTIES => 4,
                d::APPLICATION_PROPERTIES => 5,
                d::DATA | d::AMQP_SEQUENCE | d::AMQP_VALUE => 6,
                d::FOOTER => 7,
                _ => {
                    return Err(Violation::new(
                        Rule::SectionOrder,
                        at,
                        format!("{v} is not a message section"),
                    ));
                }
            };
            // Body sections after body sections are judged by the body rule.
            if rank < last_rank || (rank == last_rank && rank != 6) {
                return Err(Violation::new(
                    Rule::SectionOrder,
                    at,
                    format!("a {} section out of order", section_name(code)),
                ));
            }
            last_rank = rank;
            let inner = v.as_described().map(|(_, i)| i.clone()).unwrap_or_default();
            let map = |what: &str| match &inner {
                Value::Map(m) => Ok(m.clone()),
                other => Err(Violation::new(
                    Rule::FieldType,
                    at,
                    format!("{what} is a {}, not a map", other.type_name()),
                )),
            };
            match code {
                d::HEADER | d::PROPERTIES => {
                    let c = Composite::checked(&v, at)?;
                    if code == d::HEADER {
                        m.header = Some(c);
                    } else {
                        m.properties = Some(c);
                    }
                }
                d::DELIVERY_ANNOTATIONS => {
                    m.delivery_annotations = Some(map("delivery-annotations")?)
                }
                d::MESSAGE_ANNOTATIONS => m.message_annotations = Some(map("message-annotations")?),
                d::APPLICATION_PROPERTIES => {
                    let p = map("application-properties")?;
                    if let Some((k, _)) = p.iter().find(|(k, _)| !matches!(k, Value::String(_))) {
                        return Err(Violation::new(
                            Rule::FieldType,
                            at,
                            format!("an application-properties key of type {}", k.type_name()),
                        ));
                    }
                    m.application_properties = Some(p);
                }
                d::FOOTER => m.footer = Some(map("footer")?),
                _ => m.add_body(code, inner, at)?,
            }
        }
        Ok(m)
    }

    fn add_body(&mut self, code: u64, inner: Value, at: usize) -> Result<(), Violation> {
        let mixed = || {
            Violation::new(
                Rule::Body,
                at,
                format!(
                    "a {} section after another kind of body",
                    section_name(code)
                ),
            )
        };
        match (code, &mut self.body, inner) {
            (d::DATA, MessageBody::None, Value::Binary(b)) => {
                self.body = MessageBody::Data(vec![b])
            }
            (d::DATA, MessageBody::Data(parts), Value::Binary(b)) => parts.push(b),
            (d::AMQP_SEQUENCE, MessageBody::None, Value::List(l)) => {
                self.body = MessageBody::Sequence(vec![l])
            }
            (d::AMQP_SEQUENCE, MessageBody::Sequence(parts), Value::List(l)) => parts.push(l),
            (d::AMQP_VALUE, MessageBody::None, v) => self.body = MessageBody::Value(v),
            (d::DATA | d::AMQP_SEQUENCE, MessageBody::None, other) => {
                return Err(Violation::new(
                    Rule::FieldType,
                    at,
                    format!(
                        "a {} section holding a {}",
                        section_name(code),
                        other.type_name()
                    ),
                ));
            }
            _ => return Err(mixed()),
        }
        Ok(())
    }
}

fn section_code_of_symbol(s: &str) -> Option<u64> {
    Some(match s {
        "amqp:delivery-annotations:map" => d::DELIVERY_ANNOTATIONS,
        "amqp:message-annotations:map" => d::MESSAGE_ANNOTATIONS,
        "amqp:application-properties:map" => d::APPLICATION_PROPERTIES,
        "amqp:data:binary" => d::DATA,
        "amqp:amqp-sequence:list" => d::AMQP_SEQUENCE,
        "amqp:amqp-value:*" => d::AMQP_VALUE,
        "amqp:footer:map" => d::FOOTER,
        _ => return None,
    })
}

/// The specification's name of a section descriptor code.
pub fn section_name(code: u64) -> &'static str {
    match code {
        d::HEADER => "header",
        d::DELIVERY_ANNOTATIONS => "delivery-annotations",
        d::MESSAGE_ANNOTATIONS => "message-annotations",
        d::PROPERTIES => "properties",
        d::APPLICATION_PROPERTIES => "application-properties",
        d::DATA => "data",
        d::AMQP_SEQUENCE => "amqp-sequence",
        d::AMQP_VALUE => "amqp-value",
        d::FOOTER => "footer",
        _ => "unknown",
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(h) = &self.header {
            parts.push(format!("{{{h}}}"));
        }
        if let Some(p) = &self.properties {
            parts.push(format!("{{{p}}}"));
        }
        if let Some(a) = &self.application_properties {
            parts.push(format!("application-properties={}", Value::Map(a.clone())));
        }
        match &self.body {
            MessageBody::None => parts.push("no body".into()),
            MessageBody::Data(d) => {
                let n: usize = d.iter().map(Vec::len).sum();
                parts.push(format!("data {n}B in {} section(s)", d.len()));
            }
            MessageBody::Sequence(s) => parts.push(format!("amqp-sequence ×{}", s.len())),
            MessageBody::Value(v) => parts.push(format!("amqp-value {v}")),
        }
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn every_section_round_trips() {
        let m = Message {
            header: Some(Composite::named("header").with("durable", true)),
            delivery_annotations: Some(vec![(Value::symbol("x-d"), Value::Uint(1))]),
            message_annotations: Some(vec![(Value::symbol("x-m"), Value::Null)]),
            properties: Some(Composite::named("properties").with("message-id", "id1")),
            application_properties: Some(vec![("k".into(), Value::Long(-5))]),
            body: MessageBody::Sequence(vec![vec![Value::Null], vec![]]),
            footer: Some(vec![(Value::symbol("f"), Value::Bool(true))]),
        };
        assert_eq!(Message::decode(&m.to_bytes()), Ok(m));
        let d = Message::data(b"ab".to_vec());
        assert_eq!(Message::decode(&d.to_bytes()), Ok(d));
    }

    #[test]
    fn order_and_body_rules() {
        let props = Message::default()
            .with_properties(Composite::named("properties"))
            .to_bytes();
        let header = Message::default()
            .with_header(Composite::named("header"))
            .to_bytes();
        let e = Message::decode(&[props.clone(), header].concat()).unwrap_err();
        assert_eq!(e.rule, Rule::SectionOrder);
        assert_eq!(e.offset, props.len());
        let v = Message::value(Value::Null).to_bytes();
        let data = Message::data(vec![1]).to_bytes();
        assert_eq!(
            Message::decode(&[data.clone(), v.clone()].concat())
                .unwrap_err()
                .rule,
            Rule::Body
        );
        assert_eq!(
            Message::decode(&[v.clone(), v].concat()).unwrap_err().rule,
            Rule::Body
        );
        assert!(Message::decode(&[data.clone(), data].concat()).is_ok());
        let app = section(
            d::APPLICATION_PROPERTIES,
            Value::Map(vec![(Value::Uint(1), Value::Null)]),
        );
        assert_eq!(
            Message::decode(&app.to_bytes()).unwrap_err().rule,
            Rule::FieldType
        );
    }
}
