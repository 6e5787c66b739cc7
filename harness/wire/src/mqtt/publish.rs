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
        let id_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        2 + self.topic.len()
            + id_len
            + properties::len_if_v5(self.properties, version)
            + self.payload.len()
    }

    /// The whole frame's length.
    pub fn encoded_len(&self, version: Version) -> usize {
        let body = self.body_len(version);
        1 + varint::encoded_len(body as u32) + body
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        properties::write_binary(self.topic.as_bytes(), out);
        if self.qos != QoS::AtMostOnce {
            out.extend_from_slice(&self.packet_id.unwrap_or(0).to_be_bytes());
        }
        properties::emit_if_v5(self.properties, version, out);
        out.extend_from_slice(self.payload);
    }

    /// Appends the whole frame to `out`.
    pub fn emit(&self, version: Version, out: &mut Vec<u8>) {
        let body = self.body_len(version);
        out.reserve(1 + varint::encoded_len(body as u32) + body);
        out.push(self.first_byte());
        varint::write(body as u32, out);
        self.emit_body(version, out);
    }
}

/// A checked, zero-copy view of one PUBLISH frame.
#[derive(Debug, Clone, Copy)]
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
    pub fn parse(
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
        let mut properties: &'a [u8] = &[];
        let mut has_alias = false;
        if version == Version::V5 {
            let start = r.pos();
            properties::read_each(
                &mut r,
                PropertyContext::Packet(PacketType::Publish),
                |id, _| {
                    has_alias |= id == PropertyId::TopicAlias;
                },
            )?;
            // Skip the Property Length itself: the view keeps only the items.
            let items = frame.get(start..r.pos()).unwrap_or_default();
            properties = match varint::read(items) {
                varint::VarintRead::Value { len, .. } => items.get(len..).unwrap_or_default(),
                _ => &[],
            };
        }
        check_topic_present(&mut r, &fields, has_alias)?;
        let payload = r.rest();
        let topic = match fields.topic {
            Cow::Borrowed(t) => t,
            // Strict readers stop at the first bad string, so an owned (repaired) topic
            // cannot reach here; refuse rather than hand out text the frame lacks.
            Cow::Owned(_) => {
                return Err(r.violation(Rule::Utf8IllFormed, fields.topic_at, "topic name"));
            }
        };
        Ok(Decoded::Done(
            Some(PublishView {
                first_byte: header.first_byte,
                topic,
                packet_id: fields.packet_id,
                properties,
                payload,
            }),
            total,
        ))
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
