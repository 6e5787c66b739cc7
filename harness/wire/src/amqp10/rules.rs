//! The rules the codec checks, by their id in hilt's AMQP 1.0 manifest
//! (`suites/spec/amqp-1.0.yaml`).
//!
//! AMQP 1.0 numbers its sections but not its statements; hilt's ids are
//! `AMQP10-<section>-<what>`, the section being where the OASIS specification states the
//! rule (part 1 types, part 2 transport, part 3 messaging, part 5 security).

use std::fmt;

use hilt_core::SpecRef;

/// The manifest every AMQP 1.0 statement id belongs to.
pub const DOC: &str = "amqp-1.0";

/// A grammar rule a frame, a value or a message can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A format code is one the type system defines (1.2, 1.6).
    FormatCode,
    /// A variable-width or compound value fits in what contains it, and its size agrees
    /// with its contents (1.2).
    Size,
    /// Values nest no deeper than hilt reads (a bound of hilt's own, so that hostile input
    /// cannot exhaust the stack).
    Depth,
    /// The 0x56 boolean is 0x00 or 0x01 (1.6.2).
    Boolean,
    /// A char is one UTF-32BE Unicode scalar value (1.6.16).
    Char,
    /// A string is valid UTF-8 (1.6.20).
    String,
    /// A symbol is ASCII (1.6.21).
    Symbol,
    /// A list's count matches the items its size holds (1.6.22).
    List,
    /// A map holds an even number of elements, keys unique (1.6.23).
    Map,
    /// An array's elements all share one constructor, and the count matches (1.6.24).
    Array,
    /// A descriptor is a symbol or an unsigned long (1.5).
    Descriptor,
    /// A composite's mandatory fields are present (1.4).
    Mandatory,
    /// A composite's fields have the types its definition gives (1.4).
    FieldType,
    /// A composite has no more fields than its definition (1.4).
    FieldCount,
    /// The 8-octet protocol header: `AMQP`, a protocol id (0 AMQP, 3 SASL), 1, 0, 0 (2.2).
    ProtocolHeader,
    /// A frame's size is at least 8 and its data offset at least 2 and inside the frame
    /// (2.3.1).
    FrameHeader,
    /// Frame types are 0x00 (AMQP) and 0x01 (SASL) (2.3.1).
    FrameType,
    /// No frame is larger than the max-frame-size announced by its receiver (2.7.1).
    MaxFrameSize,
    /// An AMQP frame's body is empty or one performative then the payload; a SASL frame's
    /// body is one SASL frame (2.3.2, 5.3.1).
    FrameBody,
    /// A performative is one of the nine (2.7), a SASL frame one of the five (5.3.3).
    Performative,
    /// A message is its sections in order: header, delivery-annotations,
    /// message-annotations, properties, application-properties, body, footer (3.2).
    SectionOrder,
    /// A body is one or more data sections, one or more amqp-sequence sections, or one
    /// amqp-value section (3.2).
    Body,
}

impl Rule {
    pub const ALL: [Rule; 22] = [
        Rule::FormatCode,
        Rule::Size,
        Rule::Depth,
        Rule::Boolean,
        Rule::Char,
        Rule::String,
        Rule::Symbol,
        Rule::List,
        Rule::Map,
        Rule::Array,
        Rule::Descriptor,
        Rule::Mandatory,
        Rule::FieldType,
        Rule::FieldCount,
        Rule::ProtocolHeader,
        Rule::FrameHeader,
        Rule::FrameType,
        Rule::MaxFrameSize,
        Rule::FrameBody,
        Rule::Performative,
        Rule::SectionOrder,
        Rule::Body,
    ];

    pub const fn id(self) -> &'static str {
        match self {
            Rule::FormatCode => "AMQP10-1.2-format-code",
            Rule::Size => "AMQP10-1.2-size",
            Rule::Depth => "AMQP10-1.2-depth",
            Rule::Boolean => "AMQP10-1.6.2-boolean",
            Rule::Char => "AMQP10-1.6.16-char",
            Rule::String => "AMQP10-1.6.20-string-utf8",
            Rule::Symbol => "AMQP10-1.6.21-symbol-ascii",
            Rule::List => "AMQP10-1.6.22-list",
            Rule::Map => "AMQP10-1.6.23-map",
            Rule::Array => "AMQP10-1.6.24-array",
            Rule::Descriptor => "AMQP10-1.5-descriptor",
            Rule::Mandatory => "AMQP10-1.4-mandatory",
            Rule::FieldType => "AMQP10-1.4-field-type",
            Rule::FieldCount => "AMQP10-1.4-field-count",
            Rule::ProtocolHeader => "AMQP10-2.2-protocol-header",
            Rule::FrameHeader => "AMQP10-2.3.1-frame-header",
            Rule::FrameType => "AMQP10-2.3.1-frame-type",
            Rule::MaxFrameSize => "AMQP10-2.7.1-max-frame-size",
            Rule::FrameBody => "AMQP10-2.3.2-frame-body",
            Rule::Performative => "AMQP10-2.7-performative",
            Rule::SectionOrder => "AMQP10-3.2-section-order",
            Rule::Body => "AMQP10-3.2-body",
        }
    }

    pub const fn spec_ref(self) -> SpecRef {
        SpecRef::new(DOC, self.id())
    }
}

/// Something breaks a rule: which, where (octets from the start of the frame, or of the
/// value when no frame is around it), and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub offset: usize,
    pub detail: String,
}

impl Violation {
    pub fn new(rule: Rule, offset: usize, detail: impl Into<String>) -> Self {
        Violation {
            rule,
            offset,
            detail: detail.into(),
        }
    }

    pub fn spec_ref(&self) -> SpecRef {
        self.rule.spec_ref()
    }

    /// The same violation, `by` octets further into an enclosing buffer.
    pub fn shifted(mut self, by: usize) -> Self {
        self.offset += by;
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} at offset {}",
            self.rule.id(),
            self.detail,
            self.offset
        )
    }
}

impl std::error::Error for Violation {}
