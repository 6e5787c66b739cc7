//! CONNACK (§3.2): the server's answer to CONNECT.

use super::error::{Version, Violation};
use super::header::PacketType;
use super::properties::{self, Properties, PropertyContext};
use super::reader::Reader;
use super::reason::ReasonCode;
use super::rules::Rule;

/// CONNACK. In 3.1.1 `code` is the Connect Return Code (see
/// [`ReasonCode::name_in`] for its names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ConnAck {
    pub session_present: bool,
    pub code: ReasonCode,
    /// 5.0 only.
    pub properties: Properties,
}

impl ConnAck {
    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + properties::len_if_v5(&self.properties, version)
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        out.push(u8::from(self.session_present));
        out.push(self.code.0);
        properties::emit_if_v5(&self.properties, version, out);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<ConnAck, Violation> {
        let flags_at = r.pos();
        let flags = r.u8("connect acknowledge flags")?;
        if flags & 0xfe != 0 {
            r.report(
                Rule::ConnackReservedFlags,
                flags_at,
                format!("connect acknowledge flags 0x{flags:02x} set reserved bits"),
            )?;
        }
        let session_present = flags & 1 != 0;
        let code_at = r.pos();
        let code = ReasonCode(r.u8("reason code")?);
        if !code.allowed_in(PacketType::ConnAck, r.version()) {
            r.note(
                Rule::ConnackReasonCode,
                code_at,
                format!("{code} is not a CONNACK code"),
            );
        }
        if session_present && code.0 != 0 {
            r.report(
                Rule::ConnackSessionPresentOnError,
                flags_at,
                format!("session present is 1 with the refusal {code}"),
            )?;
        }
        let properties = properties::read_if_v5(r, PropertyContext::Packet(PacketType::ConnAck))?;
        r.finish("CONNACK")?;
        Ok(ConnAck {
            session_present,
            code,
            properties,
        })
    }
}

#[cfg(test)]
mod test {
    use super::super::properties::Property;
    use super::super::{Packet, decode, dissect};
    use super::*;
    use crate::framing::Decoded;

    static CONNACK_V311: [u8; 4] = [0x20, 0x02, 0x01, 0x00];
    static CONNACK_V5: [u8; 10] = [0x20, 0x08, 0x00, 0x00, 0x05, 0x21, 0x00, 0x0a, 0x24, 0x01];

    #[test]
    fn test_parse() {
        let Ok(Decoded::Done(Packet::ConnAck(c), 4)) = decode(&CONNACK_V311, Version::V311) else {
            panic!()
        };
        assert!(c.session_present);
        assert_eq!(c.code, ReasonCode::SUCCESS);
        let Ok(Decoded::Done(Packet::ConnAck(c), 10)) = decode(&CONNACK_V5, Version::V5) else {
            panic!()
        };
        assert_eq!(c.properties.receive_maximum(), Some(10));
        assert_eq!(c.properties.maximum_qos(), Some(1));
    }

    #[test]
    fn test_emit() {
        let c = ConnAck {
            session_present: false,
            code: ReasonCode::SUCCESS,
            properties: Properties::new()
                .with(Property::ReceiveMaximum(10))
                .with(Property::MaximumQos(1)),
        };
        let mut out = vec![0xa5; 0];
        Packet::ConnAck(c).emit(Version::V5, &mut out);
        assert_eq!(out, CONNACK_V5);
    }

    #[test]
    fn test_impossible_len() {
        let e = decode(&[0x20, 0x01, 0x00], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 3));
        let e = decode(&[0x20, 0x03, 0x00, 0x00, 0x00], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 4));
        // property length says 9, the packet has 5 left
        let e = decode(&[0x20, 0x08, 0, 0, 9, 0x21, 0, 10, 0x24, 1], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.2.1", 4));
    }

    #[test]
    fn violations() {
        let e = decode(&[0x20, 0x02, 0x02, 0x00], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§3.2.2.1", 2));
        let e = decode(&[0x20, 0x03, 0x02, 0x00, 0x00], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.2.2-1", 2));
        let e = decode(&[0x20, 0x02, 0x01, 0x05], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.2.2-4", 2));
        let e = decode(&[0x20, 0x03, 0x01, 0x87, 0x00], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.2.2-6", 2));
    }

    #[test]
    fn unknown_code_is_kept_and_judged_by_the_dissector() {
        let frame = [0x20, 0x03, 0x00, 0x10, 0x00];
        let Ok(Decoded::Done(Packet::ConnAck(c), _)) = decode(&frame, Version::V5) else {
            panic!()
        };
        assert_eq!(c.code, ReasonCode(0x10));
        let d = dissect(&frame, Version::V5);
        assert_eq!(d.problems.len(), 1);
        assert_eq!(
            (d.problems[0].rule.id, d.problems[0].offset),
            ("MQTT-3.2.2-8", 3)
        );
    }
}
