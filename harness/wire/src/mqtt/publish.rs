//! PUBLISH (§3.3), the benchmark hot path: an owned [`Publish`], a zero-copy
//! [`PublishView`] and a borrowing encoder [`PublishRef`].
//!
//! Once [`PublishView::parse`] has returned a view, none of its accessors can panic or
//! fail: every field was checked, and the view only hands out slices of the frame.

use std::borrow::Cow;

use super::error::{Version, Violation};
use super::header::{FixedHeader, PacketType, QoS};
use super::properties::{self, Properties, PropertyContext, PropertyId, PropertyValue};
use super::reader::Reader;
use super::rules::Rule;
use super::strings;
use super::varint;
use crate::framing::Decoded;

mod flag {
    pub const DUP: u8 = 0x08;
    pub const QOS_SHIFT: u8 = 1;
    pub const RETAIN: u8 = 0x01;
}

/// PUBLISH, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: String,
    /// Present exactly when `qos` is 1 or 2.
    pub packet_id: Option<u16>,
    /// 5.0 only.
    pub properties: Properties,
    pub payload: Vec<u8>,
}

impl Publish {
    /// Borrows this PUBLISH as an encoder.
    pub fn as_ref(&self) -> PublishRef<'_> {
        PublishRef {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: &self.topic,
            packet_id: self.packet_id,
            properties: &self.properties,
            payload: &self.payload,
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>, flags: u8) -> Result<Publish, Violation> {
        let fields = read_fields(r, flags)?;
        Publish::read_rest(r, fields)
    }

    /// Everything after the packet identifier: properties (5.0), the empty-topic rule
    /// (which needs them), the payload. The fast path shares it for frames with properties.
    fn read_rest(r: &mut Reader<'_>, fields: Fields<'_>) -> Result<Publish, Violation> {
        let mut props = Vec::new();
        let properties = if r.version() == Version::V5 {
            properties::read_each(r, PropertyContext::Packet(PacketType::Publish), |id, v| {
                if let Some(p) = properties::Property::from_value(id, v) {
                    props.push(p);
                }
            })?;
            Properties(props)
        } else {
            Properties::new()
        };
        check_topic_present(r, &fields, properties.topic_alias().is_some())?;
        let payload = r.rest().to_vec();
        Ok(Publish {
            dup: fields.dup,
            qos: fields.qos,
            retain: fields.retain,
            topic: fields.topic.into_owned(),
            packet_id: fields.packet_id,
            properties,
            payload,
        })
    }

    /// [`super::decode`]'s fast path for a PUBLISH: `None` hands the frame to the general
    /// decoder, which then judges it (and names any rule it breaks) exactly as before.
    #[inline]
    pub(crate) fn decode_quick(
        buf: &[u8],
        version: Version,
    ) -> Option<Result<(Publish, usize), Violation>> {
        let head = Head::read(buf)?;
        let total = head.frame.len();
        let Some(payload) = head.payload_if_no_properties(version) else {
            // Properties present: the shared tail reads them, from where the head ended.
            let mut r = Reader::new(head.frame, head.rest_at, version, false);
            return Some(Publish::read_rest(&mut r, head.fields()).map(|p| (p, total)));
        };
        Some(Ok((
            Publish {
                dup: head.first_byte & flag::DUP != 0,
                qos: head.qos(),
                retain: head.first_byte & flag::RETAIN != 0,
                topic: head.topic.to_owned(),
                packet_id: head.packet_id,
                properties: Properties::new(),
                payload: payload.to_vec(),
            },
            total,
        )))
    }
}

/// The fast path's reading of a PUBLISH up to its properties: fixed header, Topic Name
/// and Packet Identifier, with every rule the strict reader applies to them already
/// passed. Anything unusual (an error, `NeedMore`, an empty topic that a Topic Alias
/// might excuse) makes [`Head::read`] give up, and the general reader — the one place
/// that words violations — takes the frame from the start. So the fast path can only
/// accept what the general reader accepts, and never has to agree with it on an error.
struct Head<'a> {
    /// The whole frame, fixed header included.
    frame: &'a [u8],
    first_byte: u8,
    header_len: usize,
    topic: &'a str,
    packet_id: Option<u16>,
    /// Where the Property Length (5.0) or the payload (3.1.1) starts.
    rest_at: usize,
}

impl<'a> Head<'a> {
    #[inline]
    fn read(buf: &'a [u8]) -> Option<Head<'a>> {
        let (&first_byte, after_type) = buf.split_first()?;
        if first_byte >> 4 != PacketType::Publish as u8 {
            return None;
        }
        let (remaining, len_len) = minimal_varint(after_type)?;
        let header_len = 1 + len_len;
        let frame = buf.get(..header_len + remaining)?;
        let qos_bits = (first_byte >> flag::QOS_SHIFT) & 0b11;
        if qos_bits == 3 || (qos_bits == 0 && first_byte & flag::DUP != 0) {
            return None;
        }
        let (topic_len, after_len) = frame.get(header_len..)?.split_first_chunk::<2>()?;
        let topic_len = usize::from(u16::from_be_bytes(*topic_len));
        let topic = after_len.get(..topic_len)?;
        // Bytes below 0x80 are only ever ASCII in UTF-8, so a byte search for NUL and the
        // wildcards is the strict reader's character check, without a branch per byte.
        if topic.is_empty() || strings::has_nul_or_wildcard(topic) {
            return None;
        }
        let topic = std::str::from_utf8(topic).ok()?;
        let mut rest_at = header_len + 2 + topic_len;
        let packet_id = if qos_bits == 0 {
            None
        } else {
            let id = u16::from_be_bytes(*frame.get(rest_at..)?.first_chunk::<2>()?);
            if id == 0 {
                return None;
            }
            rest_at += 2;
            Some(id)
        };
        Some(Head {
            frame,
            first_byte,
            header_len,
            topic,
            packet_id,
            rest_at,
        })
    }

    fn qos(&self) -> QoS {
        QoS::from_u8((self.first_byte >> flag::QOS_SHIFT) & 0b11).unwrap_or(QoS::ExactlyOnce)
    }

    /// The payload, when no property section stands between it and the head: always in
    /// 3.1.1, and in 5.0 when the Property Length is a single zero byte (the common case).
    #[inline]
    fn payload_if_no_properties(&self, version: Version) -> Option<&'a [u8]> {
        let rest = self.frame.get(self.rest_at..)?;
        match version {
            Version::V311 => Some(rest),
            Version::V5 => match rest.split_first() {
                Some((0, payload)) => Some(payload),
                _ => None,
            },
        }
    }

    /// The head as the general reader's fields, for the shared tail.
    fn fields(&self) -> Fields<'a> {
        Fields {
            dup: self.first_byte & flag::DUP != 0,
            qos: self.qos(),
            retain: self.first_byte & flag::RETAIN != 0,
            topic_at: self.header_len,
            topic: Cow::Borrowed(self.topic),
            packet_id: self.packet_id,
        }
    }
}

/// A Variable Byte Integer in its shortest encoding, as `(value, bytes taken)`; `None`
/// for a non-minimal, over-long or unfinished one, which the general reader judges.
#[inline]
fn minimal_varint(buf: &[u8]) -> Option<(usize, usize)> {
    match *buf {
        [a, ..] if a < 0x80 => Some((usize::from(a), 1)),
        [a, b, ..] if b < 0x80 && b != 0 => Some((usize::from(a & 0x7f) | usize::from(b) << 7, 2)),
        _ => match varint::read(buf) {
            varint::VarintRead::Value {
                value,
                len,
                minimal: true,
            } => Some((value as usize, len)),
            _ => None,
        },
    }
}

struct Fields<'a> {
    dup: bool,
    qos: QoS,
    retain: bool,
    topic_at: usize,
    topic: Cow<'a, str>,
    packet_id: Option<u16>,
}

fn read_fields<'a>(r: &mut Reader<'a>, flags: u8) -> Result<Fields<'a>, Violation> {
    let qos_bits = (flags >> flag::QOS_SHIFT) & 0b11;
    let dup = flags & flag::DUP != 0;
    if qos_bits == 3 {
        r.report(Rule::PublishQos3, 0, "PUBLISH QoS is 3")?;
    }
    // QoS 3 reads on as if it were 2 so the lenient path can show the rest.
    let qos = QoS::from_u8(qos_bits).unwrap_or(QoS::ExactlyOnce);
    if dup && qos == QoS::AtMostOnce {
        r.report(Rule::PublishDupQos0, 0, "DUP is 1 on a QoS 0 PUBLISH")?;
    }
    let topic_at = r.pos();
    let topic = r.utf8("topic name")?;
    if let Some(p) = strings::topic_name_wildcard(&topic) {
        r.report(p.rule, topic_at + 2 + p.at, p.detail)?;
    }
    let packet_id = if qos == QoS::AtMostOnce {
        None
    } else {
        let id_at = r.pos();
        let id = r.u16("packet identifier")?;
        if id == 0 {
            r.report(Rule::PacketIdZero, id_at, "PUBLISH packet identifier is 0")?;
        }
        Some(id)
    };
    Ok(Fields {
        dup,
        qos,
        retain: flags & flag::RETAIN != 0,
        topic_at,
        topic,
        packet_id,
    })
}

fn check_topic_present(
    r: &mut Reader<'_>,
    f: &Fields<'_>,
    has_alias: bool,
) -> Result<(), Violation> {
    // 5.0 lets a Topic Alias stand in for an empty Topic Name; 3.1.1 has no aliases.
    if f.topic.is_empty() && !(r.version() == Version::V5 && has_alias) {
        r.report(Rule::TopicNameEmpty, f.topic_at, "topic name is empty")?;
    }
    Ok(())
}

/// A PUBLISH to encode, borrowing its topic, properties and payload: no allocation
/// beyond the output buffer's own growth.
#[derive(Debug, Clone, Copy)]
pub struct PublishRef<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: &'a str,
    /// Written when `qos` is 1 or 2 (as 0 if absent: a deliberately invalid frame).
    pub packet_id: Option<u16>,
    pub properties: &'a Properties,
    pub payload: &'a [u8],
}

impl PublishRef<'_> {
    pub(crate) fn first_byte(&self) -> u8 {
        let mut b = (PacketType::Publish as u8) << 4 | self.qos.as_u8() << flag::QOS_SHIFT;
        if self.dup {
            b |= flag::DUP;
        }
        if self.retain {
            b |= flag::RETAIN;
        }
        b
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        self.lengths(version).0
    }

    /// The body's length, and the property items' length when `version` has a property
    /// section: computed once, since the encoder needs both and walking the properties
    /// is the only part that costs.
    #[inline]
    fn lengths(&self, version: Version) -> (usize, Option<usize>) {
        let id_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let items = match version {
            Version::V5 => Some(self.properties.body_len()),
            Version::V311 => None,
        };
        let section = items.map_or(0, |n| varint::encoded_len(n as u32) + n);
        let body = 2 + self.topic.len() + id_len + section + self.payload.len();
        (body, items)
    }

    /// The whole frame's length.
    pub fn encoded_len(&self, version: Version) -> usize {
        let body = self.body_len(version);
        1 + varint::encoded_len(body as u32) + body
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        let (_, items) = self.lengths(version);
        self.emit_body_with(items, out);
    }

    #[inline]
    fn emit_body_with(&self, items: Option<usize>, out: &mut Vec<u8>) {
        properties::write_binary(self.topic.as_bytes(), out);
        if self.qos != QoS::AtMostOnce {
            out.extend_from_slice(&self.packet_id.unwrap_or(0).to_be_bytes());
        }
        match items {
            None => {}
            // The usual PUBLISH has no properties: its section is one zero byte.
            Some(0) => out.push(0),
            Some(n) => {
                varint::write(n as u32, out);
                self.properties.emit_items(out);
            }
        }
        out.extend_from_slice(self.payload);
    }

    /// Appends the whole frame to `out`, reserving its exact length first.
    #[inline]
    pub fn emit(&self, version: Version, out: &mut Vec<u8>) {
        let (body, items) = self.lengths(version);
        out.reserve(1 + varint::encoded_len(body as u32) + body);
        out.push(self.first_byte());
        varint::write(body as u32, out);
        self.emit_body_with(items, out);
    }
}

/// A checked, zero-copy view of one PUBLISH frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishView<'a> {
    first_byte: u8,
    topic: &'a str,
    packet_id: Option<u16>,
    properties: &'a [u8],
    payload: &'a [u8],
}

impl<'a> PublishView<'a> {
    /// Checks the PUBLISH at the front of `buf` with the strict rules and returns a view
    /// of it and the frame's length. `Ok(None)` when the frame is not a PUBLISH;
    /// `NeedMore` when `buf` ends before the frame does.
    #[inline]
    pub fn parse(
        buf: &'a [u8],
        version: Version,
    ) -> Result<Decoded<Option<PublishView<'a>>>, Violation> {
        match PublishView::parse_quick(buf, version) {
            Some(result) => result,
            None => PublishView::parse_general(buf, version),
        }
    }

    /// The fast path: a well-formed PUBLISH read without the general [`Reader`]; `None`
    /// whenever [`Head::read`] gives up, and then [`PublishView::parse_general`] decides.
    #[inline]
    fn parse_quick(
        buf: &'a [u8],
        version: Version,
    ) -> Option<Result<Decoded<Option<PublishView<'a>>>, Violation>> {
        let head = Head::read(buf)?;
        let total = head.frame.len();
        let Some(payload) = head.payload_if_no_properties(version) else {
            let mut r = Reader::new(head.frame, head.rest_at, version, false);
            let view = PublishView::read_rest(&mut r, head.frame, head.first_byte, head.fields());
            return Some(view.map(|v| Decoded::Done(Some(v), total)));
        };
        Some(Ok(Decoded::Done(
            Some(PublishView {
                first_byte: head.first_byte,
                topic: head.topic,
                packet_id: head.packet_id,
                properties: &[],
                payload,
            }),
            total,
        )))
    }

    /// The general path, which judges every frame the fast path declines and words every
    /// violation; the fast path must agree with it on whatever it accepts.
    pub(crate) fn parse_general(
        buf: &'a [u8],
        version: Version,
    ) -> Result<Decoded<Option<PublishView<'a>>>, Violation> {
        let header = match FixedHeader::parse(buf, version)? {
            Decoded::Done(h, _) => h,
            Decoded::NeedMore(n) => return Ok(Decoded::NeedMore(n)),
        };
        let total = header.frame_len();
        let Some(frame) = buf.get(..total) else {
            return Ok(Decoded::NeedMore(total - buf.len()));
        };
        if header.packet_type() != Some(PacketType::Publish) {
            return Ok(Decoded::Done(None, total));
        }
        let mut r = Reader::new(frame, header.header_len, version, false);
        if !header.minimal_length {
            r.report(
                Rule::VarintNotMinimal,
                1,
                "remaining length is not minimally encoded",
            )?;
        }
        let fields = read_fields(&mut r, header.flags())?;
        let view = PublishView::read_rest(&mut r, frame, header.first_byte, fields)?;
        Ok(Decoded::Done(Some(view), total))
    }

    /// Everything after the packet identifier, shared by both paths: properties (5.0),
    /// the empty-topic rule (which needs them), the payload.
    fn read_rest(
        r: &mut Reader<'a>,
        frame: &'a [u8],
        first_byte: u8,
        fields: Fields<'a>,
    ) -> Result<PublishView<'a>, Violation> {
        let mut properties: &'a [u8] = &[];
        let mut has_alias = false;
        if r.version() == Version::V5 {
            let start = r.pos();
            properties::read_each(r, PropertyContext::Packet(PacketType::Publish), |id, _| {
                has_alias |= id == PropertyId::TopicAlias;
            })?;
            // Skip the Property Length itself: the view keeps only the items.
            let items = frame.get(start..r.pos()).unwrap_or_default();
            properties = match varint::read(items) {
                varint::VarintRead::Value { len, .. } => items.get(len..).unwrap_or_default(),
                _ => &[],
            };
        }
        check_topic_present(r, &fields, has_alias)?;
        let payload = r.rest();
        let topic = match fields.topic {
            Cow::Borrowed(t) => t,
            // Strict readers stop at the first bad string, so an owned (repaired) topic
            // cannot reach here; refuse rather than hand out text the frame lacks.
            Cow::Owned(_) => {
                return Err(r.violation(Rule::Utf8IllFormed, fields.topic_at, "topic name"));
            }
        };
        Ok(PublishView {
            first_byte,
            topic,
            packet_id: fields.packet_id,
            properties,
            payload,
        })
    }

    pub fn dup(&self) -> bool {
        self.first_byte & flag::DUP != 0
    }

    pub fn qos(&self) -> QoS {
        QoS::from_u8((self.first_byte >> flag::QOS_SHIFT) & 0b11).unwrap_or(QoS::ExactlyOnce)
    }

    pub fn retain(&self) -> bool {
        self.first_byte & flag::RETAIN != 0
    }

    pub fn topic(&self) -> &'a str {
        self.topic
    }

    pub fn packet_id(&self) -> Option<u16> {
        self.packet_id
    }

    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The property items (5.0), in wire order.
    pub fn properties(&self) -> PropertyIter<'a> {
        PropertyIter {
            items: self.properties,
            pos: 0,
        }
    }

    pub fn topic_alias(&self) -> Option<u16> {
        self.properties().find_map(|(id, v)| match (id, v) {
            (PropertyId::TopicAlias, PropertyValue::TwoByteInteger(n)) => Some(n),
            _ => None,
        })
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Publish {
        Publish {
            dup: self.dup(),
            qos: self.qos(),
            retain: self.retain(),
            topic: self.topic.to_owned(),
            packet_id: self.packet_id,
            properties: self
                .properties()
                .filter_map(|(id, v)| properties::Property::from_value(id, v))
                .collect(),
            payload: self.payload.to_vec(),
        }
    }
}

/// Walks property items that were checked when the view was made.
#[derive(Debug, Clone)]
pub struct PropertyIter<'a> {
    items: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PropertyIter<'a> {
    type Item = (PropertyId, PropertyValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut r = Reader::new(self.items, self.pos, Version::V5, false);
        if r.remaining() == 0 {
            return None;
        }
        let id = u8::try_from(r.varint("property identifier").ok()?).ok()?;
        let id = PropertyId::from_u8(id)?;
        let value = properties::read_value(&mut r, id).ok()?;
        self.pos = r.pos();
        Some((id, value))
    }
}

#[cfg(test)]
mod test {
    use super::super::properties::Property;
    use super::super::{Packet, decode, dissect};
    use super::*;

    static QOS0_V311: [u8; 12] = [
        0x30, 10, 0, 3, b'a', b'/', b'b', b'h', b'e', b'l', b'l', b'o',
    ];
    static QOS1_V5: [u8; 18] = [
        0x33, 16, // QoS 1, retain
        0, 3, b'a', b'/', b'b', // topic
        0, 7, // packet id
        3, 0x23, 0, 9, // properties: topic alias 9
        0x01, 0x00, b'x', b'y', b'z', // payload
    ];

    #[test]
    fn test_parse() {
        let Ok(Decoded::Done(Packet::Publish(p), 12)) = decode(&QOS0_V311, Version::V311) else {
            panic!()
        };
        assert_eq!(p.topic, "a/b");
        assert_eq!(p.payload, b"hello");
        assert_eq!(p.packet_id, None);

        let Ok(Decoded::Done(Packet::Publish(p), 18)) = decode(&QOS1_V5, Version::V5) else {
            panic!("{:?}", decode(&QOS1_V5, Version::V5))
        };
        assert_eq!(p.qos, QoS::AtLeastOnce);
        assert!(p.retain);
        assert_eq!(p.packet_id, Some(7));
        assert_eq!(p.properties.topic_alias(), Some(9));
        assert_eq!(p.payload, [0x01, 0x00, b'x', b'y', b'z']);
    }

    #[test]
    fn test_view() {
        let Ok(Decoded::Done(Some(v), 18)) = PublishView::parse(&QOS1_V5, Version::V5) else {
            panic!()
        };
        assert_eq!(v.topic(), "a/b");
        assert_eq!(v.packet_id(), Some(7));
        assert_eq!(v.topic_alias(), Some(9));
        assert!(v.retain() && !v.dup());
        assert_eq!(v.payload(), [0x01, 0x00, b'x', b'y', b'z']);
        let Ok(Decoded::Done(Packet::Publish(owned), _)) = decode(&QOS1_V5, Version::V5) else {
            panic!()
        };
        assert_eq!(v.to_owned(), owned);
        assert!(matches!(
            PublishView::parse(&[0xc0, 0], Version::V5),
            Ok(Decoded::Done(None, 2))
        ));
        assert!(matches!(
            PublishView::parse(&QOS1_V5[..5], Version::V5),
            Ok(Decoded::NeedMore(13))
        ));
    }

    #[test]
    fn test_emit() {
        let p = Publish {
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "a/b".into(),
            packet_id: Some(7),
            properties: Properties::new().with(Property::TopicAlias(9)),
            payload: vec![0x01, 0x00, b'x', b'y', b'z'],
            ..Publish::default()
        };
        let mut out = vec![0xa5; 0];
        Packet::Publish(p.clone()).emit(Version::V5, &mut out);
        assert_eq!(out, QOS1_V5);
        assert_eq!(p.as_ref().encoded_len(Version::V5), 18);
        out.clear();
        let p = Publish {
            topic: "a/b".into(),
            payload: b"hello".to_vec(),
            ..Publish::default()
        };
        p.as_ref().emit(Version::V311, &mut out);
        assert_eq!(out, QOS0_V311);
    }

    #[test]
    fn test_impossible_len() {
        // the topic length runs past the end of the packet
        let e = decode(&[0x30, 3, 0, 9, b'a'], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 4));
        // QoS 1 with no room for the packet identifier
        let e = decode(&[0x32, 4, 0, 2, b'a', b'b'], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.1.4", 6));
    }

    fn rule(bytes: &[u8], v: Version) -> (&'static str, usize) {
        let e = decode(bytes, v).unwrap_err();
        (e.rule.id, e.offset)
    }

    #[test]
    fn violations() {
        assert_eq!(
            rule(&[0x36, 5, 0, 1, b'a', 0, 1], Version::V311),
            ("MQTT-3.3.1-4", 0)
        );
        assert_eq!(
            rule(&[0x38, 3, 0, 1, b'a'], Version::V311),
            ("MQTT-3.3.1-2", 0)
        );
        assert_eq!(
            rule(&[0x30, 5, 0, 3, b'a', b'/', b'+'], Version::V311),
            ("MQTT-3.3.2-2", 6)
        );
        assert_eq!(
            rule(&[0x30, 4, 0, 2, b'#', b'x'], Version::V5),
            ("MQTT-3.3.2-2", 4)
        );
        assert_eq!(
            rule(&[0x32, 5, 0, 1, b'a', 0, 0], Version::V311),
            ("MQTT-2.3.1-1", 5)
        );
        assert_eq!(
            rule(&[0x32, 6, 0, 1, b'a', 0, 0, 0], Version::V5),
            ("MQTT-2.2.1-3", 5)
        );
        assert_eq!(rule(&[0x30, 2, 0, 0], Version::V311), ("MQTT-4.7.3-1", 2));
        assert_eq!(rule(&[0x30, 3, 0, 0, 0], Version::V5), ("§3.3.2.3.4", 2));
        assert_eq!(
            rule(&[0x30, 4, 0, 2, 0xc0, 0xaf], Version::V311),
            ("MQTT-1.5.3-1", 4)
        );
        assert_eq!(
            rule(&[0x30, 5, 0, 2, 0xc0, 0xaf, 0], Version::V5),
            ("MQTT-1.5.4-1", 4)
        );
        assert_eq!(
            rule(&[0x30, 4, 0, 2, b'a', 0], Version::V5),
            ("MQTT-1.5.4-2", 5)
        );
        assert_eq!(
            rule(&[0x30, 0x83, 0, 3, 0, 1, b'a'], Version::V311),
            ("§2.2.3", 1)
        );
        assert_eq!(
            rule(&[0x30, 7, 0, 1, b'a', 3, 0x23, 0, 0], Version::V5),
            ("MQTT-3.3.2-8", 6)
        );
        // topic alias 1 with an empty topic is fine in 5.0
        assert!(decode(&[0x30, 6, 0, 0, 3, 0x23, 0, 1], Version::V5).is_ok());
        let dup_alias = [0x30, 10, 0, 1, b'a', 6, 0x23, 0, 1, 0x23, 0, 2];
        assert_eq!(rule(&dup_alias, Version::V5), ("§2.2.2.2", 9));
    }

    /// xorshift64*: deterministic mutations without a crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A PUBLISH-shaped frame from its parts, right or wrong: `pid` is written whenever
    /// the flags' QoS bits are not 0, `props` (a whole section, length included) always,
    /// and `len_width` pads the Remaining Length (0 for the shortest encoding).
    fn frame(
        flags: u8,
        topic: &[u8],
        pid: u16,
        props: &[u8],
        payload: &[u8],
        len_width: usize,
    ) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        body.extend_from_slice(topic);
        if (flags >> 1) & 0b11 != 0 {
            body.extend_from_slice(&pid.to_be_bytes());
        }
        body.extend_from_slice(props);
        body.extend_from_slice(payload);
        let mut out = vec![0x30 | flags];
        varint::write_padded(body.len() as u32, len_width, &mut out);
        out.extend_from_slice(&body);
        out
    }

    /// Frames around every edge of the fast path: all sixteen flag combinations, topics
    /// breaking each string rule (a forbidden byte in each word of the scan), packet ids
    /// 0 and not, property sections empty, padded, valid, invalid and overrunning,
    /// Remaining Lengths either side of the one/two/three-byte boundaries and padded.
    fn edge_frames() -> Vec<Vec<u8>> {
        let long: Vec<u8> = (0..300).map(|i| b'a' + (i % 26) as u8).collect();
        let mut late_hash = long.clone();
        late_hash[299] = b'#';
        let topics: Vec<Vec<u8>> = vec![
            b"a/b".to_vec(),
            b"bench/device/42/telemetry".to_vec(),
            Vec::new(),
            b"a/+".to_vec(),
            b"#".to_vec(),
            b"a\0b".to_vec(),
            b"12345678abcdefg+".to_vec(),
            "\u{e9}/\u{fc}/\u{feff}".as_bytes().to_vec(),
            vec![b'a', 0xc0, 0xaf],
            vec![b'a', b'b', 0xed, 0xa0, 0x80],
            vec![0xe2, 0x82],
            long,
            late_hash,
        ];
        let props: [&[u8]; 10] = [
            &[],
            &[0],
            &[0x80, 0x00],
            &[3, 0x23, 0, 9],
            &[3, 0x23, 0, 0],
            &[2, 0x01, 1],
            &[5, 0x11, 0, 0, 0, 1],
            &[2, 0x7f, 0],
            &[9, 0x23, 0, 1],
            &[6, 0x23, 0, 1, 0x23, 0, 2],
        ];
        let mut out = Vec::new();
        for topic in &topics {
            for flags in 0..16 {
                for pid in [0, 7, 0xffff] {
                    for section in props {
                        for size in [0, 5, 130] {
                            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
                            for width in [0, 4] {
                                out.push(frame(flags, topic, pid, section, &payload, width));
                            }
                        }
                    }
                }
            }
        }
        // Remaining Lengths at 127/128 and 16 383/16 384.
        for size in [120, 121, 122, 123, 16_375, 16_376, 16_377, 16_378, 16_400] {
            let payload = vec![0x5a; size];
            for flags in [0, 2] {
                out.push(frame(flags, b"a/b", 1, &[0], &payload, 0));
                out.push(frame(flags, b"a/b", 1, &[], &payload, 0));
            }
        }
        out
    }

    fn assert_paths_agree(bytes: &[u8]) {
        for version in [Version::V311, Version::V5] {
            assert_eq!(
                PublishView::parse(bytes, version),
                PublishView::parse_general(bytes, version),
                "view, {version:?}, {bytes:02x?}"
            );
            assert_eq!(
                decode(bytes, version),
                super::super::packet::decode_general(bytes, version),
                "decode, {version:?}, {bytes:02x?}"
            );
        }
    }

    #[test]
    fn fast_path_agrees_with_general_path() {
        let frames = edge_frames();
        let (mut quick, mut declined) = (0, 0);
        for f in &frames {
            assert_paths_agree(f);
            for version in [Version::V311, Version::V5] {
                match PublishView::parse_quick(f, version) {
                    Some(_) => quick += 1,
                    None => declined += 1,
                }
            }
        }
        // Both sides of the fast path were exercised, many times.
        assert!(quick > 5_000 && declined > 10_000, "{quick} {declined}");

        // Every cut of the short frames (NeedMore, or a shorter frame inside).
        for f in frames.iter().filter(|f| f.len() < 40) {
            for cut in 0..f.len() {
                assert_paths_agree(&f[..cut]);
            }
        }

        // Random damage: one to four bytes overwritten, anywhere.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let mut f = frames[rng.below(frames.len())].clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(f.len());
                f[at] = rng.next() as u8;
            }
            assert_paths_agree(&f);
        }
    }

    #[test]
    fn fast_path_takes_the_common_frames() {
        for version in [Version::V311, Version::V5] {
            for p in [
                Publish {
                    topic: "a/b".into(),
                    payload: b"hello".to_vec(),
                    ..Publish::default()
                },
                Publish {
                    qos: QoS::ExactlyOnce,
                    dup: true,
                    retain: true,
                    topic: "bench/device/42/telemetry".into(),
                    packet_id: Some(9),
                    payload: vec![7; 1024],
                    ..Publish::default()
                },
            ] {
                let bytes = Packet::Publish(p.clone()).to_bytes(version);
                let Some(Ok(Decoded::Done(Some(view), n))) =
                    PublishView::parse_quick(&bytes, version)
                else {
                    panic!("{version:?} {p:?}")
                };
                assert_eq!((view.to_owned(), n), (p.clone(), bytes.len()));
                assert_eq!(
                    Publish::decode_quick(&bytes, version),
                    Some(Ok((p, bytes.len())))
                );
            }
        }
    }

    #[test]
    fn emit_agrees_with_field_by_field_assembly() {
        let alias = Properties::new().with(Property::TopicAlias(3));
        let many = Properties::new()
            .with(Property::UserProperty("k".into(), "v".repeat(200)))
            .with(Property::SubscriptionIdentifier(300));
        let empty = Properties::new();
        let payloads = [vec![], vec![1; 16], vec![2; 100], vec![3; 20_000]];
        for version in [Version::V311, Version::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                for props in [&empty, &alias, &many] {
                    for payload in &payloads {
                        for topic in ["", "a/b", &"t".repeat(130)] {
                            let p = PublishRef {
                                dup: qos != QoS::AtMostOnce,
                                qos,
                                retain: true,
                                topic,
                                packet_id: (qos != QoS::AtMostOnce).then_some(42),
                                properties: props,
                                payload,
                            };
                            let mut body = Vec::new();
                            properties::write_binary(topic.as_bytes(), &mut body);
                            if qos != QoS::AtMostOnce {
                                body.extend_from_slice(&42u16.to_be_bytes());
                            }
                            if version == Version::V5 {
                                props.emit(&mut body);
                            }
                            body.extend_from_slice(payload);
                            let mut want = vec![p.first_byte()];
                            varint::write(body.len() as u32, &mut want);
                            want.extend_from_slice(&body);

                            let mut out = vec![0xa5; 3];
                            p.emit(version, &mut out);
                            assert_eq!(out[..3], [0xa5; 3]);
                            assert_eq!(out[3..], want[..], "{version:?} {qos:?} {props:?}");
                            assert_eq!(p.encoded_len(version), want.len());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn lenient_reports_everything() {
        // QoS 3, a wildcard, and a zero topic alias, all in one frame
        let frame = [0x36, 9, 0, 1, b'#', 0, 5, 3, 0x23, 0, 0];
        let d = dissect(&frame, Version::V5);
        let ids: Vec<_> = d.problems.iter().map(|v| (v.rule.id, v.offset)).collect();
        assert_eq!(
            ids,
            [
                ("MQTT-3.3.1-4", 0),
                ("MQTT-3.3.2-2", 4),
                ("MQTT-3.3.2-8", 8)
            ]
        );
        assert!(d.summary.starts_with("PUBLISH qos=3"), "{}", d.summary);
    }
}
