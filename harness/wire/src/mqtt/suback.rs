//! SUBACK (§3.9): one code per requested filter.

use super::error::{Version, Violation};
use super::header::PacketType;
use super::properties::{self, Properties, PropertyContext};
use super::reader::Reader;
use super::reason::ReasonCode;
use super::rules::Rule;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SubAck {
    pub packet_id: u16,
    /// 5.0 only.
    pub properties: Properties,
    /// In filter order: a granted QoS (0–2) or a failure (0x80 and up).
    pub codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + properties::len_if_v5(&self.properties, version) + self.codes.len()
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.packet_id.to_be_bytes());
        properties::emit_if_v5(&self.properties, version, out);
        out.extend(self.codes.iter().map(|c| c.0));
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<SubAck, Violation> {
        let id_at = r.pos();
        let packet_id = r.u16("packet identifier")?;
        if packet_id == 0 {
            r.report(
                Rule::AckPacketIdZero,
                id_at,
                "SUBACK packet identifier is 0",
            )?;
        }
        let properties = properties::read_if_v5(r, PropertyContext::Packet(PacketType::SubAck))?;
        let codes_at = r.pos();
        let codes: Vec<ReasonCode> = r.rest().iter().copied().map(ReasonCode).collect();
        for (i, code) in codes.iter().enumerate() {
            if !code.allowed_in(PacketType::SubAck, r.version()) {
                r.note(
                    Rule::SubackReasonCode,
                    codes_at + i,
                    format!("{code} is not a SUBACK code"),
                );
            }
        }
        Ok(SubAck {
            packet_id,
            properties,
            codes,
        })
    }
}

#[cfg(test)]
mod test {
    use super::super::{Packet, decode, dissect};
    use super::*;
    use crate::framing::Decoded;

    static SUBACK_V311: [u8; 7] = [0x90, 5, 0, 10, 0x01, 0x80, 0x02];
    static SUBACK_V5: [u8; 7] = [0x90, 5, 0, 10, 0, 0x00, 0xa2];

    #[test]
    fn test_parse() {
        let Ok(Decoded::Done(Packet::SubAck(s), 7)) = decode(&SUBACK_V311, Version::V311) else {
            panic!()
        };
        assert_eq!(s.codes, [ReasonCode(1), ReasonCode(0x80), ReasonCode(2)]);
        let Ok(Decoded::Done(Packet::SubAck(s), 7)) = decode(&SUBACK_V5, Version::V5) else {
            panic!()
        };
        assert_eq!(
            s.codes,
            [
                ReasonCode(0),
                ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED
            ]
        );
    }

    #[test]
    fn test_emit() {
        for (frame, v) in [(&SUBACK_V311, Version::V311), (&SUBACK_V5, Version::V5)] {
            let Ok(Decoded::Done(p, _)) = decode(frame, v) else {
                panic!()
            };
            let mut out = vec![0xa5; 0];
            p.emit(v, &mut out);
            assert_eq!(&out, frame);
        }
    }

    #[test]
    fn test_impossible_len() {
        let e = decode(&[0x90, 1, 0], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 2));
    }

    #[test]
    fn reserved_codes_decode_and_are_judged_by_the_dissector() {
        let frame = [0x90, 3, 0, 1, 0x03];
        assert!(decode(&frame, Version::V311).is_ok());
        let d = dissect(&frame, Version::V311);
        assert_eq!(d.problems[0].rule.id, "MQTT-3.9.3-2");
        assert_eq!(d.problems[0].offset, 4);
    }
}
