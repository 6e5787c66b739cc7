//! Composite types (part 1, 1.4): described lists whose fields have names and types.
//! The performatives, the SASL frames, errors, delivery states, termini and the message
//! header and properties are all composites; [`COMPOSITES`] lists them as data, and one
//! [`Composite`] type carries any of them with its fields by the specification's names.

use std::fmt;

use super::rules::{Rule, Violation};
use super::value::Value;

/// What a field may hold. `Any` takes any type (the specification's `*`, where a
/// `requires` archetype is checked by the receiving logic, not the codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Any,
    Boolean,
    Ubyte,
    Ushort,
    Uint,
    Ulong,
    Timestamp,
    Binary,
    String,
    Symbol,
    /// A map (`fields`, `annotations`, `filter-set`, `node-properties`).
    Map,
    /// The composite of this descriptor code.
    Composite(u64),
}

impl FieldType {
    fn name(self) -> &'static str {
        match self {
            FieldType::Any => "*",
            FieldType::Boolean => "boolean",
            FieldType::Ubyte => "ubyte",
            FieldType::Ushort => "ushort",
            FieldType::Uint => "uint",
            FieldType::Ulong => "ulong",
            FieldType::Timestamp => "timestamp",
            FieldType::Binary => "binary",
            FieldType::String => "string",
            FieldType::Symbol => "symbol",
            FieldType::Map => "map",
            FieldType::Composite(c) => by_code(c).map_or("composite", |s| s.name),
        }
    }

    /// Whether `v` (not null) has this type.
    fn admits(self, v: &Value) -> bool {
        match self {
            FieldType::Any => true,
            FieldType::Boolean => matches!(v, Value::Bool(_)),
            FieldType::Ubyte => matches!(v, Value::Ubyte(_)),
            FieldType::Ushort => matches!(v, Value::Ushort(_)),
            FieldType::Uint => matches!(v, Value::Uint(_)),
            FieldType::Ulong => matches!(v, Value::Ulong(_)),
            FieldType::Timestamp => matches!(v, Value::Timestamp(_)),
            FieldType::Binary => matches!(v, Value::Binary(_)),
            FieldType::String => matches!(v, Value::String(_)),
            FieldType::Symbol => matches!(v, Value::Symbol(_)),
            FieldType::Map => matches!(v, Value::Map(_)),
            FieldType::Composite(c) => v
                .as_described()
                .and_then(|(d, _)| lookup(d))
                .is_some_and(|s| s.code == c),
        }
    }
}

/// One field of a composite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    pub mandatory: bool,
    /// `multiple="true"`: one value or an array of them.
    pub multiple: bool,
}

/// Which part of the specification a composite belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The body of an AMQP frame (2.7).
    Performative,
    /// The body of a SASL frame (5.3.3).
    Sasl,
    /// A delivery state or outcome (3.4), or a transaction's state.
    DeliveryState,
    /// A message section that is a list (3.2).
    Section,
    /// Anything else: error, source, target, lifetime policies.
    Other,
}

/// A composite type's definition.
#[derive(Debug, PartialEq, Eq)]
pub struct CompositeSpec {
    pub name: &'static str,
    /// The numeric descriptor's low word (the domain, 0x00000000, is AMQP's own).
    pub code: u64,
    /// The symbolic descriptor, `amqp:open:list`.
    pub symbol: &'static str,
    pub class: Class,
    /// The specification's section, for traces and verdicts.
    pub section: &'static str,
    pub fields: &'static [FieldSpec],
}

impl CompositeSpec {
    pub fn field(&self, name: &str) -> Option<(usize, &FieldSpec)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }
}

const fn f(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        mandatory: false,
        multiple: false,
    }
}

const fn m(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        mandatory: true,
        multiple: false,
    }
}

const fn many(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        mandatory: false,
        multiple: true,
    }
}

/// Descriptor codes.
pub mod descriptor {
    pub const OPEN: u64 = 0x10;
    pub const BEGIN: u64 = 0x11;
    pub const ATTACH: u64 = 0x12;
    pub const FLOW: u64 = 0x13;
    pub const TRANSFER: u64 = 0x14;
    pub const DISPOSITION: u64 = 0x15;
    pub const DETACH: u64 = 0x16;
    pub const END: u64 = 0x17;
    pub const CLOSE: u64 = 0x18;
    pub const ERROR: u64 = 0x1d;
    pub const RECEIVED: u64 = 0x23;
    pub const ACCEPTED: u64 = 0x24;
    pub const REJECTED: u64 = 0x25;
    pub const RELEASED: u64 = 0x26;
    pub const MODIFIED: u64 = 0x27;
    pub const SOURCE: u64 = 0x28;
    pub const TARGET: u64 = 0x29;
    pub const DELETE_ON_CLOSE: u64 = 0x2b;
    pub const DELETE_ON_NO_LINKS: u64 = 0x2c;
    pub const DELETE_ON_NO_MESSAGES: u64 = 0x2d;
    pub const DELETE_ON_NO_LINKS_OR_MESSAGES: u64 = 0x2e;
    pub const COORDINATOR: u64 = 0x30;
    pub const DECLARE: u64 = 0x31;
    pub const DISCHARGE: u64 = 0x32;
    pub const DECLARED: u64 = 0x33;
    pub const TRANSACTIONAL_STATE: u64 = 0x34;
    pub const SASL_MECHANISMS: u64 = 0x40;
    pub const SASL_INIT: u64 = 0x41;
    pub const SASL_CHALLENGE: u64 = 0x42;
    pub const SASL_RESPONSE: u64 = 0x43;
    pub const SASL_OUTCOME: u64 = 0x44;
    pub const HEADER: u64 = 0x70;
    pub const DELIVERY_ANNOTATIONS: u64 = 0x71;
    pub const MESSAGE_ANNOTATIONS: u64 = 0x72;
    pub const PROPERTIES: u64 = 0x73;
    pub const APPLICATION_PROPERTIES: u64 = 0x74;
    pub const DATA: u64 = 0x75;
    pub const AMQP_SEQUENCE: u64 = 0x76;
    pub const AMQP_VALUE: u64 = 0x77;
    pub const FOOTER: u64 = 0x78;
}

use FieldType::*;
use descriptor as d;

const ERR: FieldType = Composite(d::ERROR);
const CAPS: [FieldSpec; 2] = [
    many("offered-capabilities", Symbol),
    many("desired-capabilities", Symbol),
];

/// Every composite hilt knows, performatives first.
pub static COMPOSITES: &[CompositeSpec] = &[
    CompositeSpec {
        name: "open",
        code: d::OPEN,
        symbol: "amqp:open:list",
        class: Class::Performative,
        section: "2.7.1",
        fields: &[
            m("container-id", String),
            f("hostname", String),
            f("max-frame-size", Uint),
            f("channel-max", Ushort),
            f("idle-time-out", Uint),
            many("outgoing-locales", Symbol),
            many("incoming-locales", Symbol),
            CAPS[0],
            CAPS[1],
            f("properties", Map),
        ],
    },
    CompositeSpec {
        name: "begin",
        code: d::BEGIN,
        symbol: "amqp:begin:list",
        class: Class::Performative,
        section: "2.7.2",
        fields: &[
            f("remote-channel", Ushort),
            m("next-outgoing-id", Uint),
            m("incoming-window", Uint),
            m("outgoing-window", Uint),
            f("handle-max", Uint),
            CAPS[0],
            CAPS[1],
            f("properties", Map),
        ],
    },
    CompositeSpec {
        name: "attach",
        code: d::ATTACH,
        symbol: "amqp:attach:list",
        class: Class::Performative,
        section: "2.7.3",
        fields: &[
            m("name", String),
            m("handle", Uint),
            m("role", Boolean),
            f("snd-settle-mode", Ubyte),
            f("rcv-settle-mode", Ubyte),
            f("source", Any),
            f("target", Any),
            f("unsettled", Map),
            f("incomplete-unsettled", Boolean),
            f("initial-delivery-count", Uint),
            f("max-message-size", Ulong),
            CAPS[0],
            CAPS[1],
            f("properties", Map),
        ],
    },
    CompositeSpec {
        name: "flow",
        code: d::FLOW,
        symbol: "amqp:flow:list",
        class: Class::Performative,
        section: "2.7.4",
        fields: &[
            f("next-incoming-id", Uint),
            m("incoming-window", Uint),
            m("next-outgoing-id", Uint),
            m("outgoing-window", Uint),
            f("handle", Uint),
            f("delivery-count", Uint),
            f("link-credit", Uint),
            f("available", Uint),
            f("drain", Boolean),
            f("echo", Boolean),
            f("properties", Map),
        ],
    },
    CompositeSpec {
        name: "transfer",
        code: d::TRANSFER,
        symbol: "amqp:transfer:list",
        class: Class::Performative,
        section: "2.7.5",
        fields: &[
            m("handle", Uint),
            f("delivery-id", Uint),
            f("delivery-tag", Binary),
            f("message-format", Uint),
            f("settled", Boolean),
            f("more", Boolean),
            f("rcv-settle-mode", Ubyte),
            f("state", Any),
            f("resume", Boolean),
            f("aborted", Boolean),
            f("batchable", Boolean),
        ],
    },
    CompositeSpec {
        name: "disposition",
        code: d::DISPOSITION,
        symbol: "amqp:disposition:list",
        class: Class::Performative,
        section: "2.7.6",
        fields: &[
            m("role", Boolean),
            m("first", Uint),
            f("last", Uint),
            f("settled", Boolean),
            f("state", Any),
            f("batchable", Boolean),
        ],
    },
    CompositeSpec {
        name: "detach",
        code: d::DETACH,
        symbol: "amqp:detach:list",
        class: Class::Performative,
        section: "2.7.7",
        fields: &[m("handle", Uint), f("closed", Boolean), f("error", ERR)],
    },
    CompositeSpec {
        name: "end",
        code: d::END,
        symbol: "amqp:end:list",
        class: Class::Performative,
        section: "2.7.8",
        fields: &[f("error", ERR)],
    },
    CompositeSpec {
        name: "close",
        code: d::CLOSE,
        symbol: "amqp:close:list",
        class: Class::Performative,
        section: "2.7.9",
        fields: &[f("error", ERR)],
    },
    CompositeSpec {
        name: "sasl-mechanisms",
        code: d::SASL_MECHANISMS,
        symbol: "amqp:sasl-mechanisms:list",
        class: Class::Sasl,
        section: "5.3.3.1",
        fields: &[FieldSpec {
            name: "sasl-server-mechanisms",
            ty: Symbol,
            mandatory: true,
            multiple: true,
        }],
    },
    CompositeSpec {
        name: "sasl-init",
        code: d::SASL_INIT,
        symbol: "amqp:sasl-init:list",
        class: Class::Sasl,
        section: "5.3.3.2",
        fields: &[
            m("mechanism", Symbol),
            f("initial-response", Binary),
            f("hostname", String),
        ],
    },
    CompositeSpec {
        name: "sasl-challenge",
        code: d::SASL_CHALLENGE,
        symbol: "amqp:sasl-challenge:list",
        class: Class::Sasl,
        section: "5.3.3.3",
        fields: &[m("challenge", Binary)],
    },
    CompositeSpec {
        name: "sasl-response",
        code: d::SASL_RESPONSE,
        symbol: "amqp:sasl-response:list",
        class: Class::Sasl,
        section: "5.3.3.4",
        fields: &[m("response", Binary)],
    },
    CompositeSpec {
        name: "sasl-outcome",
        code: d::SASL_OUTCOME,
        symbol: "amqp:sasl-outcome:list",
        class: Class::Sasl,
        section: "5.3.3.5",
        fields: &[m("code", Ubyte), f("additional-data", Binary)],
    },
    CompositeSpec {
        name: "error",
        code: d::ERROR,
        symbol: "amqp:error:list",
        class: Class::Other,
        section: "2.8.14",
        fields: &[
            m("condition", Symbol),
            f("description", String),
            f("info", Map),
        ],
    },
    CompositeSpec {
        name: "received",
        code: d::RECEIVED,
        symbol: "amqp:received:list",
        class: Class::DeliveryState,
        section: "3.4.1",
        fields: &[m("section-number", Uint), m("section-offset", Ulong)],
    },
    CompositeSpec {
        name: "accepted",
        code: d::ACCEPTED,
        symbol: "amqp:accepted:list",
        class: Class::DeliveryState,
        section: "3.4.2",
        fields: &[],
    },
    CompositeSpec {
        name: "rejected",
        code: d::REJECTED,
        symbol: "amqp:rejected:list",
        class: Class::DeliveryState,
        section: "3.4.3",
        fields: &[f("error", ERR)],
    },
    CompositeSpec {
        name: "released",
        code: d::RELEASED,
        symbol: "amqp:released:list",
        class: Class::DeliveryState,
        section: "3.4.4",
        fields: &[],
    },
    CompositeSpec {
        name: "modified",
        code: d::MODIFIED,
        symbol: "amqp:modified:list",
        class: Class::DeliveryState,
        section: "3.4.5",
        fields: &[
            f("delivery-failed", Boolean),
            f("undeliverable-here", Boolean),
            f("message-annotations", Map),
        ],
    },
    CompositeSpec {
        name: "source",
        code: d::SOURCE,
        symbol: "amqp:source:list",
        class: Class::Other,
        section: "3.5.3",
        fields: &[
            f("address", Any),
            f("durable", Uint),
            f("expiry-policy", Symbol),
            f("timeout", Uint),
            f("dynamic", Boolean),
            f("dynamic-node-properties", Map),
            f("distribution-mode", Symbol),
            f("filter", Map),
            f("default-outcome", Any),
            many("outcomes", Symbol),
            many("capabilities", Symbol),
        ],
    },
    CompositeSpec {
        name: "target",
        code: d::TARGET,
        symbol: "amqp:target:list",
        class: Class::Other,
        section: "3.5.4",
        fields: &[
            f("address", Any),
            f("durable", Uint),
            f("expiry-policy", Symbol),
            f("timeout", Uint),
            f("dynamic", Boolean),
            f("dynamic-node-properties", Map),
            many("capabilities", Symbol),
        ],
    },
    CompositeSpec {
        name: "delete-on-close",
        code: d::DELETE_ON_CLOSE,
        symbol: "amqp:delete-on-close:list",
        class: Class::Other,
        section: "3.5.10",
        fields: &[],
    },
    CompositeSpec {
        name: "delete-on-no-links",
        code: d::DELETE_ON_NO_LINKS,
        symbol: "amqp:delete-on-no-links:list",
        class: Class::Other,
        section: "3.5.11",
        fields: &[],
    },
    CompositeSpec {
        name: "delete-on-no-messages",
        code: d::DELETE_ON_NO_MESSAGES,
        symbol: "amqp:delete-on-no-messages:list",
        class: Class::Other,
        section: "3.5.12",
        fields: &[],
    },
    CompositeSpec {
        name: "delete-on-no-links-or-messages",
        code: d::DELETE_ON_NO_LINKS_OR_MESSAGES,
        symbol: "amqp:delete-on-no-links-or-messages:list",
        class: Class::Other,
        section: "3.5.13",
        fields: &[],
    },
    CompositeSpec {
        name: "coordinator",
        code: d::COORDINATOR,
        symbol: "amqp:coordinator:list",
        class: Class::Other,
        section: "4.5.1",
        fields: &[many("capabilities", Symbol)],
    },
    CompositeSpec {
        name: "declare",
        code: d::DECLARE,
        symbol: "amqp:declare:list",
        class: Class::Other,
        section: "4.5.2",
        fields: &[f("global-id", Any)],
    },
    CompositeSpec {
        name: "discharge",
        code: d::DISCHARGE,
        symbol: "amqp:discharge:list",
        class: Class::Other,
        section: "4.5.3",
        fields: &[m("txn-id", Binary), f("fail", Boolean)],
    },
    CompositeSpec {
        name: "declared",
        code: d::DECLARED,
        symbol: "amqp:declared:list",
        class: Class::DeliveryState,
        section: "4.5.4",
        fields: &[m("txn-id", Binary)],
    },
    CompositeSpec {
        name: "transactional-state",
        code: d::TRANSACTIONAL_STATE,
        symbol: "amqp:transactional-state:list",
        class: Class::DeliveryState,
        section: "4.5.5",
        fields: &[m("txn-id", Binary), f("outcome", Any)],
    },
    CompositeSpec {
        name: "header",
        code: d::HEADER,
        symbol: "amqp:header:list",
        class: Class::Section,
        section: "3.2.1",
        fields: &[
            f("durable", Boolean),
            f("priority", Ubyte),
            f("ttl", Uint),
            f("first-acquirer", Boolean),
            f("delivery-count", Uint),
        ],
    },
    CompositeSpec {
        name: "properties",
        code: d::PROPERTIES,
        symbol: "amqp:properties:list",
        class: Class::Section,
        section: "3.2.4",
        fields: &[
            f("message-id", Any),
            f("user-id", Binary),
            f("to", Any),
            f("subject", String),
            f("reply-to", Any),
            f("correlation-id", Any),
            f("content-type", Symbol),
            f("content-encoding", Symbol),
            f("absolute-expiry-time", Timestamp),
            f("creation-time", Timestamp),
            f("group-id", String),
            f("group-sequence", Uint),
            f("reply-to-group-id", String),
        ],
    },
];

/// The composite a descriptor (numeric or symbolic) names.
pub fn lookup(descriptor: &Value) -> Option<&'static CompositeSpec> {
    match descriptor {
        Value::Ulong(c) => by_code(*c),
        Value::Symbol(s) => COMPOSITES.iter().find(|c| c.symbol == s),
        _ => None,
    }
}

pub fn by_code(code: u64) -> Option<&'static CompositeSpec> {
    COMPOSITES.iter().find(|c| c.code == code)
}

/// The composite named `name`; hilt's own tables only ask for names that exist.
pub fn by_name(name: &str) -> &'static CompositeSpec {
    COMPOSITES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no AMQP 1.0 composite is named {name}"))
}

/// One composite value: its definition and its fields in order (trailing nulls left
/// off, as senders do).
#[derive(Debug, Clone, PartialEq)]
pub struct Composite {
    pub spec: &'static CompositeSpec,
    pub fields: Vec<Value>,
}

impl Composite {
    pub fn new(spec: &'static CompositeSpec) -> Self {
        Composite {
            spec,
            fields: Vec::new(),
        }
    }

    /// A composite by name, all fields null: `Composite::named("open")`.
    pub fn named(name: &str) -> Self {
        Composite::new(by_name(name))
    }

    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    pub fn is(&self, code: u64) -> bool {
        self.spec.code == code
    }

    /// A field by name; null when absent.
    pub fn get(&self, name: &str) -> &Value {
        const NULL: Value = Value::Null;
        self.spec
            .field(name)
            .and_then(|(i, _)| self.fields.get(i))
            .unwrap_or(&NULL)
    }

    pub fn u64(&self, name: &str) -> Option<u64> {
        self.get(name).as_u64()
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).as_bool()
    }

    /// A field holding a composite (an error, a source, a delivery state).
    pub fn composite(&self, name: &str) -> Option<Composite> {
        Composite::from_value(self.get(name)).ok()
    }

    /// Sets a field by name. A name the definition lacks is a bug in the calling test.
    pub fn set(&mut self, name: &str, v: impl Into<Value>) {
        let (i, _) = self
            .spec
            .field(name)
            .unwrap_or_else(|| panic!("{} has no field {name}", self.spec.name));
        if self.fields.len() <= i {
            self.fields.resize(i + 1, Value::Null);
        }
        self.fields[i] = v.into();
        while self.fields.last().is_some_and(Value::is_null) {
            self.fields.pop();
        }
    }

    pub fn with(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set(name, v);
        self
    }

    /// The composite as a described value, with its numeric descriptor.
    pub fn to_value(&self) -> Value {
        Value::described(
            Value::Ulong(self.spec.code),
            Value::List(self.fields.clone()),
        )
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        self.to_value().encode(out);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_bytes()
    }

    /// Reads a composite from a described list without judging its fields.
    pub fn from_value(v: &Value) -> Result<Composite, Violation> {
        let (d, body) = v
            .as_described()
            .ok_or_else(|| Violation::new(Rule::Descriptor, 0, "not a described type"))?;
        let spec = lookup(d).ok_or_else(|| {
            Violation::new(Rule::Descriptor, 0, format!("unknown descriptor {d}"))
        })?;
        let fields = match body {
            Value::List(l) => l.clone(),
            other => {
                return Err(Violation::new(
                    Rule::FieldType,
                    0,
                    format!("{} is a {}, not a list", spec.name, other.type_name()),
                ));
            }
        };
        Ok(Composite { spec, fields })
    }

    /// Reads and judges a composite: fields no more than defined, mandatory ones set,
    /// each of its type (nested composites judged too). `at` is the value's offset, for
    /// the violation.
    pub fn checked(v: &Value, at: usize) -> Result<Composite, Violation> {
        let c = Composite::from_value(v).map_err(|e| e.shifted(at))?;
        c.check(at)?;
        Ok(c)
    }

    /// Judges the fields against the definition.
    pub fn check(&self, at: usize) -> Result<(), Violation> {
        let spec = self.spec;
        if self.fields.len() > spec.fields.len() {
            return Err(Violation::new(
                Rule::FieldCount,
                at,
                format!(
                    "{} has {} fields, its definition {}",
                    spec.name,
                    self.fields.len(),
                    spec.fields.len()
                ),
            ));
        }
        for (i, fs) in spec.fields.iter().enumerate() {
            let v = self.fields.get(i).unwrap_or(&Value::Null);
            if v.is_null() {
                if fs.mandatory {
                    return Err(Violation::new(
                        Rule::Mandatory,
                        at,
                        format!("{}'s mandatory field {} is null", spec.name, fs.name),
                    ));
                }
                continue;
            }
            let fits = fs.ty.admits(v)
                || (fs.multiple
                    && matches!(v, Value::Array(a) if a.descriptor.is_none()
                        && a.items.iter().all(|i| fs.ty.admits(i))));
            if !fits {
                return Err(Violation::new(
                    Rule::FieldType,
                    at,
                    format!(
                        "{}.{} is a {} ({v}), not a {}{}",
                        spec.name,
                        fs.name,
                        v.type_name(),
                        fs.ty.name(),
                        if fs.multiple {
                            " or an array of them"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            if let FieldType::Composite(_) = fs.ty {
                Composite::checked(v, at)?;
            }
        }
        Ok(())
    }

    /// The values of a `multiple` field: none, one, or an array's.
    pub fn multiple(&self, name: &str) -> Vec<Value> {
        match self.get(name) {
            Value::Null => Vec::new(),
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        }
    }
}

impl fmt::Display for Composite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec.name)?;
        for (i, v) in self.fields.iter().enumerate() {
            if v.is_null() {
                continue;
            }
            let name = self.spec.fields.get(i).map_or("?", |s| s.name);
            match Composite::from_value(v) {
                Ok(c) => write!(f, " {name}={{{c}}}")?,
                Err(_) => write!(f, " {name}={v}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_and_codes_are_unique() {
        for (i, a) in COMPOSITES.iter().enumerate() {
            for b in &COMPOSITES[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.code, b.code);
            }
            assert_eq!(a.symbol, format!("amqp:{}:list", a.name));
        }
    }

    #[test]
    fn fields_are_set_by_name_and_checked() {
        let open = Composite::named("open")
            .with("container-id", "c")
            .with("max-frame-size", 512u32);
        assert_eq!(open.fields.len(), 3);
        assert_eq!(open.u64("max-frame-size"), Some(512));
        assert!(open.check(0).is_ok());
        let back = Composite::checked(&Value::decode_exact(&open.to_bytes()).unwrap(), 0);
        assert_eq!(back, Ok(open.clone()));
        let no_id = Composite::named("open").with("hostname", "h");
        assert_eq!(no_id.check(0).unwrap_err().rule, Rule::Mandatory);
        let mut wrong = open.clone();
        wrong.fields[2] = Value::Ulong(512);
        assert_eq!(wrong.check(0).unwrap_err().rule, Rule::FieldType);
        let mut long = Composite::named("end");
        long.fields = vec![Value::Null, Value::Null];
        assert_eq!(long.check(0).unwrap_err().rule, Rule::FieldCount);
    }

    #[test]
    fn nested_composites_are_checked() {
        let bad_error = Composite::named("error");
        let close = Composite::named("close").with("error", bad_error.to_value());
        assert_eq!(close.check(0).unwrap_err().rule, Rule::Mandatory);
    }
}
