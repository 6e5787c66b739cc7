//! MQTT 5.0 properties (§2.2.2): the 27 identifiers, their types, where each may appear.
//!
//! Properties keep their wire order and duplicates in [`Properties`], so that decoding
//! and re-encoding a frame gives the same bytes and a test can see exactly what a peer
//! sent. Parsing goes through [`PropertyValue`], borrowed from the frame, so the
//! zero-copy PUBLISH view and the owned representation share one parser.

use std::borrow::Cow;

use super::error::{Version, Violation};
use super::header::PacketType;
use super::reader::Reader;
use super::rules::Rule;
use super::strings;
use super::varint;

/// How a property's value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Byte,
    TwoByteInteger,
    FourByteInteger,
    VariableByteInteger,
    Utf8String,
    BinaryData,
    Utf8StringPair,
}

/// Where a property section sits: in a packet's variable header, or in CONNECT's Will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyContext {
    Packet(PacketType),
    Will,
}

impl PropertyContext {
    fn bit(self) -> u16 {
        match self {
            PropertyContext::Will => 1,
            PropertyContext::Packet(p) => 1 << (p as u8),
        }
    }

    fn name(self) -> &'static str {
        match self {
            PropertyContext::Will => "Will Properties",
            PropertyContext::Packet(p) => p.name(),
        }
    }
}

const fn mask(types: &[PacketType], will: bool) -> u16 {
    let mut m = if will { 1 } else { 0 };
    let mut i = 0;
    while i < types.len() {
        m |= 1 << (types[i] as u8);
        i += 1;
    }
    m
}

macro_rules! property_ids {
    ($($variant:ident = $id:literal, $name:literal, $ty:ident, [$($pt:ident),*], $will:literal;)*) => {
        /// A property identifier.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum PropertyId {
            $($variant = $id,)*
        }

        impl PropertyId {
            pub const ALL: [PropertyId; 27] = [$(PropertyId::$variant,)*];

            pub const fn from_u8(id: u8) -> Option<PropertyId> {
                match id {
                    $($id => Some(PropertyId::$variant),)*
                    _ => None,
                }
            }

            /// The name the specification uses.
            pub const fn name(self) -> &'static str {
                match self {
                    $(PropertyId::$variant => $name,)*
                }
            }

            pub const fn value_type(self) -> ValueType {
                match self {
                    $(PropertyId::$variant => ValueType::$ty,)*
                }
            }

            const fn allowed_mask(self) -> u16 {
                match self {
                    $(PropertyId::$variant => mask(&[$(PacketType::$pt),*], $will),)*
                }
            }
        }
    };
}

property_ids! {
    PayloadFormatIndicator = 0x01, "Payload Format Indicator", Byte, [Publish], true;
    MessageExpiryInterval = 0x02, "Message Expiry Interval", FourByteInteger, [Publish], true;
    ContentType = 0x03, "Content Type", Utf8String, [Publish], true;
    ResponseTopic = 0x08, "Response Topic", Utf8String, [Publish], true;
    CorrelationData = 0x09, "Correlation Data", BinaryData, [Publish], true;
    SubscriptionIdentifier = 0x0b, "Subscription Identifier", VariableByteInteger, [Publish, Subscribe], false;
    SessionExpiryInterval = 0x11, "Session Expiry Interval", FourByteInteger, [Connect, ConnAck, Disconnect], false;
    AssignedClientIdentifier = 0x12, "Assigned Client Identifier", Utf8String, [ConnAck], false;
    ServerKeepAlive = 0x13, "Server Keep Alive", TwoByteInteger, [ConnAck], false;
    AuthenticationMethod = 0x15, "Authentication Method", Utf8String, [Connect, ConnAck, Auth], false;
    AuthenticationData = 0x16, "Authentication Data", BinaryData, [Connect, ConnAck, Auth], false;
    RequestProblemInformation = 0x17, "Request Problem Information", Byte, [Connect], false;
    WillDelayInterval = 0x18, "Will Delay Interval", FourByteInteger, [], true;
    RequestResponseInformation = 0x19, "Request Response Information", Byte, [Connect], false;
    ResponseInformation = 0x1a, "Response Information", Utf8String, [ConnAck], false;
    ServerReference = 0x1c, "Server Reference", Utf8String, [ConnAck, Disconnect], false;
    ReasonString = 0x1f, "Reason String", Utf8String, [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth], false;
    ReceiveMaximum = 0x21, "Receive Maximum", TwoByteInteger, [Connect, ConnAck], false;
    TopicAliasMaximum = 0x22, "Topic Alias Maximum", TwoByteInteger, [Connect, ConnAck], false;
    TopicAlias = 0x23, "Topic Alias", TwoByteInteger, [Publish], false;
    MaximumQos = 0x24, "Maximum QoS", Byte, [ConnAck], false;
    RetainAvailable = 0x25, "Retain Available", Byte, [ConnAck], false;
    UserProperty = 0x26, "User Property", Utf8StringPair, [Connect, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe, SubAck, Unsubscribe, UnsubAck, Disconnect, Auth], true;
    MaximumPacketSize = 0x27, "Maximum Packet Size", FourByteInteger, [Connect, ConnAck], false;
    WildcardSubscriptionAvailable = 0x28, "Wildcard Subscription Available", Byte, [ConnAck], false;
    SubscriptionIdentifierAvailable = 0x29, "Subscription Identifier Available", Byte, [ConnAck], false;
    SharedSubscriptionAvailable = 0x2a, "Shared Subscription Available", Byte, [ConnAck], false;
}

impl PropertyId {
    /// Whether the property may appear in `context`.
    pub fn allowed_in(self, context: PropertyContext) -> bool {
        self.allowed_mask() & context.bit() != 0
    }

    /// Whether it may appear more than once in `context`: User Property anywhere, and
    /// Subscription Identifier in a PUBLISH (one per matching subscription).
    pub fn may_repeat(self, context: PropertyContext) -> bool {
        match self {
            PropertyId::UserProperty => true,
            PropertyId::SubscriptionIdentifier => {
                context == PropertyContext::Packet(PacketType::Publish)
            }
            _ => false,
        }
    }
}

/// A property's value as it sits in a frame (strings borrowed when they were valid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue<'a> {
    Byte(u8),
    TwoByteInteger(u16),
    FourByteInteger(u32),
    VariableByteInteger(u32),
    Utf8String(Cow<'a, str>),
    BinaryData(&'a [u8]),
    Utf8StringPair(Cow<'a, str>, Cow<'a, str>),
}

/// One property, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Property {
    PayloadFormatIndicator(u8),
    MessageExpiryInterval(u32),
    ContentType(String),
    ResponseTopic(String),
    CorrelationData(Vec<u8>),
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(String),
    ServerKeepAlive(u16),
    AuthenticationMethod(String),
    AuthenticationData(Vec<u8>),
    RequestProblemInformation(u8),
    WillDelayInterval(u32),
    RequestResponseInformation(u8),
    ResponseInformation(String),
    ServerReference(String),
    ReasonString(String),
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    TopicAlias(u16),
    MaximumQos(u8),
    RetainAvailable(u8),
    UserProperty(String, String),
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(u8),
    SubscriptionIdentifierAvailable(u8),
    SharedSubscriptionAvailable(u8),
}

impl Property {
    pub fn id(&self) -> PropertyId {
        use Property as P;
        use PropertyId as I;
        match self {
            P::PayloadFormatIndicator(_) => I::PayloadFormatIndicator,
            P::MessageExpiryInterval(_) => I::MessageExpiryInterval,
            P::ContentType(_) => I::ContentType,
            P::ResponseTopic(_) => I::ResponseTopic,
            P::CorrelationData(_) => I::CorrelationData,
            P::SubscriptionIdentifier(_) => I::SubscriptionIdentifier,
            P::SessionExpiryInterval(_) => I::SessionExpiryInterval,
            P::AssignedClientIdentifier(_) => I::AssignedClientIdentifier,
            P::ServerKeepAlive(_) => I::ServerKeepAlive,
            P::AuthenticationMethod(_) => I::AuthenticationMethod,
            P::AuthenticationData(_) => I::AuthenticationData,
            P::RequestProblemInformation(_) => I::RequestProblemInformation,
            P::WillDelayInterval(_) => I::WillDelayInterval,
            P::RequestResponseInformation(_) => I::RequestResponseInformation,
            P::ResponseInformation(_) => I::ResponseInformation,
            P::ServerReference(_) => I::ServerReference,
            P::ReasonString(_) => I::ReasonString,
            P::ReceiveMaximum(_) => I::ReceiveMaximum,
            P::TopicAliasMaximum(_) => I::TopicAliasMaximum,
            P::TopicAlias(_) => I::TopicAlias,
            P::MaximumQos(_) => I::MaximumQos,
            P::RetainAvailable(_) => I::RetainAvailable,
            P::UserProperty(_, _) => I::UserProperty,
            P::MaximumPacketSize(_) => I::MaximumPacketSize,
            P::WildcardSubscriptionAvailable(_) => I::WildcardSubscriptionAvailable,
            P::SubscriptionIdentifierAvailable(_) => I::SubscriptionIdentifierAvailable,
            P::SharedSubscriptionAvailable(_) => I::SharedSubscriptionAvailable,
        }
    }

    /// The value, borrowed.
    pub fn value(&self) -> PropertyValue<'_> {
        use Property as P;
        use PropertyValue as V;
        match self {
            P::PayloadFormatIndicator(b)
            | P::RequestProblemInformation(b)
            | P::RequestResponseInformation(b)
            | P::MaximumQos(b)
            | P::RetainAvailable(b)
            | P::WildcardSubscriptionAvailable(b)
            | P::SubscriptionIdentifierAvailable(b)
            | P::SharedSubscriptionAvailable(b) => V::Byte(*b),
            P::ServerKeepAlive(n)
            | P::ReceiveMaximum(n)
            | P::TopicAliasMaximum(n)
            | P::TopicAlias(n) => V::TwoByteInteger(*n),
            P::MessageExpiryInterval(n)
            | P::SessionExpiryInterval(n)
            | P::WillDelayInterval(n)
            | P::MaximumPacketSize(n) => V::FourByteInteger(*n),
            P::SubscriptionIdentifier(n) => V::VariableByteInteger(*n),
            P::ContentType(s)
            | P::ResponseTopic(s)
            | P::AssignedClientIdentifier(s)
            | P::AuthenticationMethod(s)
            | P::ResponseInformation(s)
            | P::ServerReference(s)
            | P::ReasonString(s) => V::Utf8String(Cow::Borrowed(s)),
            P::CorrelationData(b) | P::AuthenticationData(b) => V::BinaryData(b),
            P::UserProperty(k, v) => V::Utf8StringPair(Cow::Borrowed(k), Cow::Borrowed(v)),
        }
    }

    /// Builds a property from an id and a value of the id's type; `None` if the value's
    /// type is not the id's.
    pub fn from_value(id: PropertyId, value: PropertyValue<'_>) -> Option<Property> {
        use Property as P;
        use PropertyId as I;
        use PropertyValue as V;
        Some(match (id, value) {
            (I::PayloadFormatIndicator, V::Byte(b)) => P::PayloadFormatIndicator(b),
            (I::RequestProblemInformation, V::Byte(b)) => P::RequestProblemInformation(b),
            (I::RequestResponseInformation, V::Byte(b)) => P::RequestResponseInformation(b),
            (I::MaximumQos, V::Byte(b)) => P::MaximumQos(b),
            (I::RetainAvailable, V::Byte(b)) => P::RetainAvailable(b),
            (I::WildcardSubscriptionAvailable, V::Byte(b)) => P::WildcardSubscriptionAvailable(b),
            (I::SubscriptionIdentifierAvailable, V::Byte(b)) => {
                P::SubscriptionIdentifierAvailable(b)
            }
            (I::SharedSubscriptionAvailable, V::Byte(b)) => P::SharedSubscriptionAvailable(b),
            (I::ServerKeepAlive, V::TwoByteInteger(n)) => P::ServerKeepAlive(n),
            (I::ReceiveMaximum, V::TwoByteInteger(n)) => P::ReceiveMaximum(n),
            (I::TopicAliasMaximum, V::TwoByteInteger(n)) => P::TopicAliasMaximum(n),
            (I::TopicAlias, V::TwoByteInteger(n)) => P::TopicAlias(n),
            (I::MessageExpiryInterval, V::FourByteInteger(n)) => P::MessageExpiryInterval(n),
            (I::SessionExpiryInterval, V::FourByteInteger(n)) => P::SessionExpiryInterval(n),
            (I::WillDelayInterval, V::FourByteInteger(n)) => P::WillDelayInterval(n),
            (I::MaximumPacketSize, V::FourByteInteger(n)) => P::MaximumPacketSize(n),
            (I::SubscriptionIdentifier, V::VariableByteInteger(n)) => P::SubscriptionIdentifier(n),
            (I::ContentType, V::Utf8String(s)) => P::ContentType(s.into_owned()),
            (I::ResponseTopic, V::Utf8String(s)) => P::ResponseTopic(s.into_owned()),
            (I::AssignedClientIdentifier, V::Utf8String(s)) => {
                P::AssignedClientIdentifier(s.into_owned())
            }
            (I::AuthenticationMethod, V::Utf8String(s)) => P::AuthenticationMethod(s.into_owned()),
            (I::ResponseInformation, V::Utf8String(s)) => P::ResponseInformation(s.into_owned()),
            (I::ServerReference, V::Utf8String(s)) => P::ServerReference(s.into_owned()),
            (I::ReasonString, V::Utf8String(s)) => P::ReasonString(s.into_owned()),
            (I::CorrelationData, V::BinaryData(b)) => P::CorrelationData(b.to_vec()),
            (I::AuthenticationData, V::BinaryData(b)) => P::AuthenticationData(b.to_vec()),
            (I::UserProperty, V::Utf8StringPair(k, v)) => {
                P::UserProperty(k.into_owned(), v.into_owned())
            }
            _ => return None,
        })
    }
}

impl PropertyValue<'_> {
    fn encoded_len(&self) -> usize {
        match self {
            PropertyValue::Byte(_) => 1,
            PropertyValue::TwoByteInteger(_) => 2,
            PropertyValue::FourByteInteger(_) => 4,
            PropertyValue::VariableByteInteger(n) => varint::encoded_len(*n),
            PropertyValue::Utf8String(s) => 2 + s.len(),
            PropertyValue::BinaryData(b) => 2 + b.len(),
            PropertyValue::Utf8StringPair(k, v) => 4 + k.len() + v.len(),
        }
    }

    fn emit(&self, out: &mut Vec<u8>) {
        match self {
            PropertyValue::Byte(b) => out.push(*b),
            PropertyValue::TwoByteInteger(n) => out.extend_from_slice(&n.to_be_bytes()),
            PropertyValue::FourByteInteger(n) => out.extend_from_slice(&n.to_be_bytes()),
            PropertyValue::VariableByteInteger(n) => varint::write(*n, out),
            PropertyValue::Utf8String(s) => write_binary(s.as_bytes(), out),
            PropertyValue::BinaryData(b) => write_binary(b, out),
            PropertyValue::Utf8StringPair(k, v) => {
                write_binary(k.as_bytes(), out);
                write_binary(v.as_bytes(), out);
            }
        }
    }
}

/// Appends a two-byte length and the bytes. Longer than 65 535 bytes is not encodable:
/// the length is truncated to its low 16 bits and the frame is malformed, as asked.
#[inline]
pub(crate) fn write_binary(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A property section, in wire order, duplicates kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Properties(pub Vec<Property>);

impl Properties {
    pub fn new() -> Self {
        Properties(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, p: Property) -> &mut Self {
        self.0.push(p);
        self
    }

    /// Builder style: `Properties::new().with(Property::TopicAlias(3))`.
    pub fn with(mut self, p: Property) -> Self {
        self.0.push(p);
        self
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Property> {
        self.0.iter()
    }

    /// The first property with this id.
    pub fn get(&self, id: PropertyId) -> Option<&Property> {
        self.0.iter().find(|p| p.id() == id)
    }

    fn integer(&self, id: PropertyId) -> Option<u32> {
        match self.get(id)?.value() {
            PropertyValue::Byte(b) => Some(u32::from(b)),
            PropertyValue::TwoByteInteger(n) => Some(u32::from(n)),
            PropertyValue::FourByteInteger(n) | PropertyValue::VariableByteInteger(n) => Some(n),
            _ => None,
        }
    }

    fn text(&self, id: PropertyId) -> Option<&str> {
        self.0.iter().find_map(|p| match p {
            Property::ContentType(s)
            | Property::ResponseTopic(s)
            | Property::AssignedClientIdentifier(s)
            | Property::AuthenticationMethod(s)
            | Property::ResponseInformation(s)
            | Property::ServerReference(s)
            | Property::ReasonString(s)
                if p.id() == id =>
            {
                Some(s.as_str())
            }
            _ => None,
        })
    }

    pub fn session_expiry_interval(&self) -> Option<u32> {
        self.integer(PropertyId::SessionExpiryInterval)
    }
    pub fn receive_maximum(&self) -> Option<u16> {
        self.integer(PropertyId::ReceiveMaximum).map(|n| n as u16)
    }
    pub fn maximum_packet_size(&self) -> Option<u32> {
        self.integer(PropertyId::MaximumPacketSize)
    }
    pub fn topic_alias_maximum(&self) -> Option<u16> {
        self.integer(PropertyId::TopicAliasMaximum)
            .map(|n| n as u16)
    }
    pub fn topic_alias(&self) -> Option<u16> {
        self.integer(PropertyId::TopicAlias).map(|n| n as u16)
    }
    pub fn server_keep_alive(&self) -> Option<u16> {
        self.integer(PropertyId::ServerKeepAlive).map(|n| n as u16)
    }
    pub fn maximum_qos(&self) -> Option<u8> {
        self.integer(PropertyId::MaximumQos).map(|n| n as u8)
    }
    pub fn assigned_client_identifier(&self) -> Option<&str> {
        self.text(PropertyId::AssignedClientIdentifier)
    }
    pub fn reason_string(&self) -> Option<&str> {
        self.text(PropertyId::ReasonString)
    }
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
    }
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(n) => Some(*n),
            _ => None,
        })
    }

    /// Bytes of the property items, without the Property Length in front.
    #[inline]
    pub fn body_len(&self) -> usize {
        self.0.iter().map(|p| 1 + p.value().encoded_len()).sum()
    }

    /// Bytes of the whole section: Property Length and items.
    pub fn encoded_len(&self) -> usize {
        let body = self.body_len();
        varint::encoded_len(body as u32) + body
    }

    /// Writes Property Length and items.
    pub fn emit(&self, out: &mut Vec<u8>) {
        varint::write(self.body_len() as u32, out);
        self.emit_items(out);
    }

    /// Writes the items alone, for a caller that wrote the Property Length already.
    pub(crate) fn emit_items(&self, out: &mut Vec<u8>) {
        for p in &self.0 {
            out.push(p.id() as u8);
            p.value().emit(out);
        }
    }
}

impl FromIterator<Property> for Properties {
    fn from_iter<I: IntoIterator<Item = Property>>(iter: I) -> Self {
        Properties(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = &'a Property;
    type IntoIter = std::slice::Iter<'a, Property>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Reads a property section (length and items) and checks each item against the
/// context's rules, handing each to `sink` with its offset.
pub(crate) fn read_each<'a>(
    r: &mut Reader<'a>,
    context: PropertyContext,
    mut sink: impl FnMut(PropertyId, PropertyValue<'a>),
) -> Result<(), Violation> {
    let len_at = r.pos();
    let len = r.varint("property length")? as usize;
    r.properties_window(len, len_at, |r| {
        let mut seen: u64 = 0;
        while r.remaining() > 0 {
            let at = r.pos();
            let raw_id = r.varint("property identifier")?;
            let Some(id) = u8::try_from(raw_id).ok().and_then(PropertyId::from_u8) else {
                // Its length is unknowable, so nothing after it can be read.
                return Err(r.violation(
                    Rule::PropertyUnknown,
                    at,
                    format!("unknown property identifier 0x{raw_id:02x}"),
                ));
            };
            let value = read_value(r, id)?;
            if !id.allowed_in(context) {
                r.report(
                    Rule::PropertyNotAllowed,
                    at,
                    format!("{} is not allowed in {}", id.name(), context.name()),
                )?;
            }
            let bit = 1u64 << (id as u8);
            if seen & bit != 0 && !id.may_repeat(context) {
                r.report(
                    Rule::PropertyDuplicate,
                    at,
                    format!("{} appears more than once in {}", id.name(), context.name()),
                )?;
            }
            seen |= bit;
            check_value(r, context, id, &value, at)?;
            sink(id, value);
        }
        Ok(())
    })
}

/// Reads a property section into owned form.
pub(crate) fn read(r: &mut Reader<'_>, context: PropertyContext) -> Result<Properties, Violation> {
    let mut out = Vec::new();
    read_each(r, context, |id, value| {
        if let Some(p) = Property::from_value(id, value) {
            out.push(p);
        }
    })?;
    Ok(Properties(out))
}

pub(crate) fn read_value<'a>(
    r: &mut Reader<'a>,
    id: PropertyId,
) -> Result<PropertyValue<'a>, Violation> {
    let what = id.name();
    Ok(match id.value_type() {
        ValueType::Byte => PropertyValue::Byte(r.u8(what)?),
        ValueType::TwoByteInteger => PropertyValue::TwoByteInteger(r.u16(what)?),
        ValueType::FourByteInteger => PropertyValue::FourByteInteger(r.u32(what)?),
        ValueType::VariableByteInteger => PropertyValue::VariableByteInteger(r.varint(what)?),
        ValueType::Utf8String => PropertyValue::Utf8String(r.utf8(what)?),
        ValueType::BinaryData => PropertyValue::BinaryData(r.binary(what)?),
        ValueType::Utf8StringPair => {
            let key = r.utf8(what)?;
            let value = r.utf8(what)?;
            PropertyValue::Utf8StringPair(key, value)
        }
    })
}

fn check_value(
    r: &mut Reader<'_>,
    context: PropertyContext,
    id: PropertyId,
    value: &PropertyValue<'_>,
    at: usize,
) -> Result<(), Violation> {
    use PacketType as T;
    use PropertyContext::Packet;
    use PropertyId as I;
    use PropertyValue as V;
    let rule = match (id, value, context) {
        (I::PayloadFormatIndicator, V::Byte(b), _) if *b > 1 => Rule::PayloadFormatIndicatorValue,
        (I::RequestProblemInformation, V::Byte(b), _) if *b > 1 => {
            Rule::RequestProblemInformationValue
        }
        (I::RequestResponseInformation, V::Byte(b), _) if *b > 1 => {
            Rule::RequestResponseInformationValue
        }
        (I::MaximumQos, V::Byte(b), _) if *b > 1 => Rule::MaximumQosValue,
        (I::RetainAvailable, V::Byte(b), _) if *b > 1 => Rule::RetainAvailableValue,
        (I::WildcardSubscriptionAvailable, V::Byte(b), _) if *b > 1 => {
            Rule::WildcardSubscriptionAvailableValue
        }
        (I::SubscriptionIdentifierAvailable, V::Byte(b), _) if *b > 1 => {
            Rule::SubscriptionIdentifierAvailableValue
        }
        (I::SharedSubscriptionAvailable, V::Byte(b), _) if *b > 1 => {
            Rule::SharedSubscriptionAvailableValue
        }
        (I::ReceiveMaximum, V::TwoByteInteger(0), Packet(T::ConnAck)) => {
            Rule::ConnackReceiveMaximumZero
        }
        (I::ReceiveMaximum, V::TwoByteInteger(0), _) => Rule::ConnectReceiveMaximumZero,
        (I::MaximumPacketSize, V::FourByteInteger(0), Packet(T::ConnAck)) => {
            Rule::ConnackMaximumPacketSizeZero
        }
        (I::MaximumPacketSize, V::FourByteInteger(0), _) => Rule::ConnectMaximumPacketSizeZero,
        (I::TopicAlias, V::TwoByteInteger(0), _) => Rule::TopicAliasZero,
        (I::SubscriptionIdentifier, V::VariableByteInteger(0), Packet(T::Subscribe)) => {
            Rule::SubscribeSubscriptionIdentifierZero
        }
        (I::SubscriptionIdentifier, V::VariableByteInteger(0), _) => {
            Rule::PublishSubscriptionIdentifierZero
        }
        (I::ResponseTopic, V::Utf8String(topic), _) => {
            if let Some(p) = strings::topic_name_wildcard(topic) {
                return r.report(
                    Rule::ResponseTopicWildcard,
                    at,
                    format!("Response Topic: {}", p.detail),
                );
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    r.report(
        rule,
        at,
        format!("{} has the invalid value {value:?}", id.name()),
    )
}

/// Bytes a property section takes in `version` (none in 3.1.1).
pub(crate) fn len_if_v5(p: &Properties, version: Version) -> usize {
    match version {
        Version::V5 => p.encoded_len(),
        Version::V311 => 0,
    }
}

/// Writes a property section in 5.0; 3.1.1 has no place for one.
pub(crate) fn emit_if_v5(p: &Properties, version: Version, out: &mut Vec<u8>) {
    if version == Version::V5 {
        p.emit(out);
    }
}

/// Properties only exist in MQTT 5.0; 3.1.1 frames carry none.
pub(crate) fn read_if_v5(
    r: &mut Reader<'_>,
    context: PropertyContext,
) -> Result<Properties, Violation> {
    match r.version() {
        Version::V5 => read(r, context),
        Version::V311 => Ok(Properties::new()),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn parse(ctx: PropertyContext, bytes: &[u8]) -> Result<Properties, Violation> {
        let mut r = Reader::new(bytes, 0, Version::V5, false);
        let p = read(&mut r, ctx)?;
        r.finish("properties")?;
        Ok(p)
    }

    const PUBLISH: PropertyContext = PropertyContext::Packet(PacketType::Publish);
    const CONNECT: PropertyContext = PropertyContext::Packet(PacketType::Connect);

    static PUBLISH_PROPS: [u8; 17] = [
        16, // property length
        0x01, 0x01, // payload format indicator = 1
        0x23, 0x00, 0x07, // topic alias 7
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
        0x0b, 0x05, // subscription identifier 5
        0x0b, 0x06, // and 6: repeatable in PUBLISH
    ];

    #[test]
    fn test_parse() {
        let p = parse(PUBLISH, &PUBLISH_PROPS).unwrap();
        assert_eq!(
            p.0,
            vec![
                Property::PayloadFormatIndicator(1),
                Property::TopicAlias(7),
                Property::UserProperty("k".into(), "v".into()),
                Property::SubscriptionIdentifier(5),
                Property::SubscriptionIdentifier(6),
            ]
        );
        assert_eq!(p.topic_alias(), Some(7));
        assert_eq!(p.subscription_identifiers().collect::<Vec<_>>(), [5, 6]);
    }

    #[test]
    fn test_emit() {
        let p = parse(PUBLISH, &PUBLISH_PROPS).unwrap();
        let mut out = vec![0xa5; 0];
        p.emit(&mut out);
        assert_eq!(out, PUBLISH_PROPS);
        assert_eq!(p.encoded_len(), PUBLISH_PROPS.len());
    }

    #[test]
    fn every_id_round_trips() {
        for id in PropertyId::ALL {
            assert_eq!(PropertyId::from_u8(id as u8), Some(id));
            let value = match id.value_type() {
                ValueType::Byte => PropertyValue::Byte(1),
                ValueType::TwoByteInteger => PropertyValue::TwoByteInteger(300),
                ValueType::FourByteInteger => PropertyValue::FourByteInteger(70_000),
                ValueType::VariableByteInteger => PropertyValue::VariableByteInteger(200),
                ValueType::Utf8String => PropertyValue::Utf8String("s".into()),
                ValueType::BinaryData => PropertyValue::BinaryData(b"\x00\x01"),
                ValueType::Utf8StringPair => PropertyValue::Utf8StringPair("a".into(), "b".into()),
            };
            let prop = Property::from_value(id, value).unwrap();
            assert_eq!(prop.id(), id);
            let props = Properties(vec![prop]);
            let mut out = Vec::new();
            props.emit(&mut out);
            let ctx = if id.allowed_in(CONNECT) {
                CONNECT
            } else {
                PropertyContext::Packet(
                    PacketType::ALL
                        .into_iter()
                        .find(|t| id.allowed_in(PropertyContext::Packet(*t)))
                        .unwrap_or(PacketType::Publish),
                )
            };
            let ctx = if id == PropertyId::WillDelayInterval {
                PropertyContext::Will
            } else {
                ctx
            };
            assert_eq!(parse(ctx, &out).unwrap(), props, "{id:?}");
        }
        // 27 identifiers, no gaps in the table above
        assert_eq!(PropertyId::ALL.len(), 27);
    }

    #[test]
    fn violations() {
        let cases: &[(PropertyContext, &[u8], &str, usize)] = &[
            (CONNECT, &[3, 0x21, 0x00, 0x00], "§3.1.2.11.3", 1),
            (CONNECT, &[5, 0x27, 0, 0, 0, 0], "§3.1.2.11.4", 1),
            (PUBLISH, &[3, 0x23, 0x00, 0x00], "MQTT-3.3.2-8", 1),
            (PUBLISH, &[2, 0x01, 0x02], "§3.3.2.3.2", 1),
            (PUBLISH, &[2, 0x7f, 0x00], "§2.2.2.2", 1),
            (PUBLISH, &[2, 0x11, 0x00], "§2.2.2.1", 2),
            (PUBLISH, &[5, 0x11, 0, 0, 0, 1], "§2.2.2.2", 1),
            (CONNECT, &[6, 0x21, 0, 1, 0x21, 0, 2], "§2.2.2.2", 4),
            (PUBLISH, &[9, 0x01, 0x00], "§2.2.2.1", 0),
            (PUBLISH, &[4, 0x08, 0x00, 0x01, b'#'], "MQTT-3.3.2-14", 1),
            (PUBLISH, &[4, 0x03, 0x00, 0x01, 0x00], "MQTT-1.5.4-2", 4),
            (PUBLISH, &[0x80, 0x00], "MQTT-1.5.5-1", 0),
        ];
        for &(ctx, bytes, rule, offset) in cases {
            let e = parse(ctx, bytes).unwrap_err();
            assert_eq!((e.rule.id, e.offset), (rule, offset), "{bytes:02x?}: {e}");
            assert_eq!(e.rule.doc, "mqtt-v5");
        }
    }

    #[test]
    fn lenient_collects_all() {
        let bytes = [8, 0x21, 0, 0, 0x21, 0, 0, 0x01, 0x05];
        let mut r = Reader::new(&bytes, 0, Version::V5, true);
        let p = read(&mut r, CONNECT).unwrap();
        assert_eq!(p.0.len(), 3);
        let found: Vec<_> = r
            .into_found()
            .into_iter()
            .map(|v| (v.rule.id, v.offset))
            .collect();
        assert_eq!(
            found,
            [
                ("§3.1.2.11.3", 1),
                ("§2.2.2.2", 4),
                ("§3.1.2.11.3", 4),
                ("§2.2.2.2", 7),
                ("§3.3.2.3.2", 7),
            ]
        );
    }
}
