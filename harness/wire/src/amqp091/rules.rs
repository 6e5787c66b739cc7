//! The rules the codec checks, by their id in hilt's AMQP 0-9-1 manifest
//! (`suites/spec/amqp-0-9-1.yaml`).
//!
//! The specification's `<rule>`s are about behaviour; the grammar rules a frame can break
//! come from its "general frame format" and "field types" sections and get ids of
//! hilt's own, by what they constrain.

use std::fmt;

use hilt_core::SpecRef;

/// The manifest every AMQP 0-9-1 statement id belongs to.
pub const DOC: &str = "amqp-0-9-1";

/// A grammar rule a frame can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The 8-octet protocol header: `AMQP`, 0, 0, 9, 1.
    ProtocolHeader,
    /// Every frame ends with the octet 0xCE.
    FrameEnd,
    /// Frame types are 1 (method), 2 (header), 3 (body) and 8 (heartbeat).
    FrameType,
    /// No frame is larger than the negotiated frame-max (4096 before negotiation).
    FrameMax,
    /// A method frame names a class and method the specification defines.
    MethodUnknown,
    /// A method's arguments fill its frame's payload exactly.
    MethodLength,
    /// A field value's type octet is one of the defined ones.
    FieldType,
    /// A string, table or array fits in what contains it.
    FieldLength,
    /// A content header's weight is zero.
    ContentWeight,
    /// A content header belongs to the class of the method it follows.
    ContentClass,
    /// Property flags name only defined properties.
    PropertyFlags,
    /// A content-bearing method is followed by its header, then body frames adding up to
    /// the body size, with nothing else on that channel between them.
    ContentOrder,
    /// Heartbeat frames travel on channel 0 with an empty payload.
    Heartbeat,
    /// Connection methods travel on channel 0, all others on channels above 0.
    ChannelZero,
}

impl Rule {
    pub const ALL: [Rule; 14] = [
        Rule::ProtocolHeader,
        Rule::FrameEnd,
        Rule::FrameType,
        Rule::FrameMax,
        Rule::MethodUnknown,
        Rule::MethodLength,
        Rule::FieldType,
        Rule::FieldLength,
        Rule::ContentWeight,
        Rule::ContentClass,
        Rule::PropertyFlags,
        Rule::ContentOrder,
        Rule::Heartbeat,
        Rule::ChannelZero,
    ];

    pub const fn id(self) -> &'static str {
        match self {
            Rule::ProtocolHeader => "AMQP091-frame-protocol-header",
            Rule::FrameEnd => "AMQP091-frame-end",
            Rule::FrameType => "AMQP091-frame-type",
            Rule::FrameMax => "AMQP091-frame-max",
            Rule::MethodUnknown => "AMQP091-frame-method-unknown",
            Rule::MethodLength => "AMQP091-frame-method-length",
            Rule::FieldType => "AMQP091-field-type",
            Rule::FieldLength => "AMQP091-field-length",
            Rule::ContentWeight => "AMQP091-content-weight",
            Rule::ContentClass => "AMQP091-content-class",
            Rule::PropertyFlags => "AMQP091-content-property-flags",
            Rule::ContentOrder => "AMQP091-content-order",
            Rule::Heartbeat => "AMQP091-frame-heartbeat",
            Rule::ChannelZero => "AMQP091-frame-channel-zero",
        }
    }

    pub const fn spec_ref(self) -> SpecRef {
        SpecRef::new(DOC, self.id())
    }
}

/// A frame breaks a rule: which, where (octets from the frame's first octet), and how.
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
