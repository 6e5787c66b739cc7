//! PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4–§3.7): one layout, four packet types.

use super::error::{Version, Violation};
use super::header::PacketType;
use super::properties::{self, Properties, PropertyContext};
use super::reader::Reader;
use super::reason::ReasonCode;
use super::rules::Rule;

/// The body of PUBACK, PUBREC, PUBREL and PUBCOMP. In 3.1.1 only `packet_id` is sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Ack {
    pub packet_id: u16,
    pub code: ReasonCode,
    pub properties: Properties,
}

impl Ack {
    pub fn new(packet_id: u16) -> Ack {
        Ack {
            packet_id,
            ..Ack::default()
        }
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        match version {
            Version::V311 => 2,
            // The shortest form is the one to send: Success without properties is just
            // the packet identifier.
            Version::V5 if self.properties.is_empty() && self.code == ReasonCode::SUCCESS => 2,
            Version::V5 if self.properties.is_empty() => 3,
            Version::V5 => 3 + self.properties.encoded_len(),
        }
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.packet_id.to_be_bytes());
        let len = self.body_len(version);
        if len >= 3 {
            out.push(self.code.0);
        }
        if len > 3 {
            self.properties.emit(out);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>, kind: PacketType) -> Result<Ack, Violation> {
        let id_at = r.pos();
        let packet_id = r.u16("packet identifier")?;
        if packet_id == 0 {
            r.report(
                Rule::AckPacketIdZero,
                id_at,
                format!("{} packet identifier is 0", kind.name()),
            )?;
        }
        let mut ack = Ack::new(packet_id);
        if r.version() == Version::V5 && r.remaining() > 0 {
            let code_at = r.pos();
            ack.code = ReasonCode(r.u8("reason code")?);
            if !ack.code.allowed_in(kind, Version::V5)
                && let Some(rule) = ReasonCode::rule_for(kind)
            {
                r.note(
                    rule,
                    code_at,
                    format!("{} is not a {} code", ack.code, kind.name()),
                );
            }
            if r.remaining() > 0 {
                ack.properties = properties::read(r, PropertyContext::Packet(kind))?;
            }
        }
        r.finish(kind.name())?;
        Ok(ack)
    }
}

#[cfg(test)]
mod test {
    use super::super::properties::Property;
    use super::super::{Packet, decode};
    use super::*;
    use crate::framing::Decoded;

    static PUBACK: [u8; 4] = [0x40, 0x02, 0x00, 0x07];
    static PUBREC_CODE: [u8; 5] = [0x50, 0x03, 0x00, 0x07, 0x10];
    static PUBREL: [u8; 4] = [0x62, 0x02, 0x12, 0x34];
    static PUBCOMP_PROPS: [u8; 10] = [0x70, 0x08, 0x00, 0x01, 0x92, 0x04, 0x1f, 0x00, 0x01, b'x'];

    fn parse(bytes: &[u8], v: Version) -> Packet {
        match decode(bytes, v) {
            Ok(Decoded::Done(p, n)) if n == bytes.len() => p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn test_parse() {
        assert_eq!(parse(&PUBACK, Version::V311), Packet::PubAck(Ack::new(7)));
        assert_eq!(parse(&PUBACK, Version::V5), Packet::PubAck(Ack::new(7)));
        let Packet::PubRec(a) = parse(&PUBREC_CODE, Version::V5) else {
            panic!()
        };
        assert_eq!(a.code, ReasonCode::NO_MATCHING_SUBSCRIBERS);
        assert_eq!(
            parse(&PUBREL, Version::V311),
            Packet::PubRel(Ack::new(0x1234))
        );
        let Packet::PubComp(a) = parse(&PUBCOMP_PROPS, Version::V5) else {
            panic!()
        };
        assert_eq!(a.code, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND);
        assert_eq!(a.properties.reason_string(), Some("x"));
    }

    #[test]
    fn test_emit() {
        let mut out = vec![0xa5; 0];
        Packet::PubAck(Ack::new(7)).emit(Version::V5, &mut out);
        assert_eq!(out, PUBACK);
        out.clear();
        let a = Ack {
            packet_id: 7,
            code: ReasonCode::NO_MATCHING_SUBSCRIBERS,
            properties: Properties::new(),
        };
        Packet::PubRec(a).emit(Version::V5, &mut out);
        assert_eq!(out, PUBREC_CODE);
        out.clear();
        let a = Ack {
            packet_id: 1,
            code: ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
            properties: Properties::new().with(Property::ReasonString("x".into())),
        };
        Packet::PubComp(a).emit(Version::V5, &mut out);
        assert_eq!(out, PUBCOMP_PROPS);
    }

    #[test]
    fn test_impossible_len() {
        let e = decode(&[0x40, 0x01, 0x00], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.1.4", 2));
        let e = decode(&[0x40, 0x03, 0x00, 0x01, 0x00], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 4));
    }

    #[test]
    fn violations() {
        let e = decode(&[0x40, 0x02, 0x00, 0x00], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.1", 2));
        let e = decode(&[0x60, 0x02, 0x00, 0x01], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.6.1-1", 0));
        let e = decode(&[0x41, 0x02, 0x00, 0x01], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-2.2.2-1", 0));
        // a property PUBACK may not carry
        let e = decode(&[0x40, 0x06, 0, 1, 0, 2, 0x23, 0], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.2.1", 7));
        let e = decode(&[0x40, 0x07, 0, 1, 0, 3, 0x23, 0, 1], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.2.2", 6));
    }
}
