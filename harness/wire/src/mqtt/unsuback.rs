//! UNSUBACK (§3.11). 3.1.1's carries only the packet identifier.

use super::error::{Version, Violation};
use super::header::PacketType;
use super::properties::{self, Properties, PropertyContext};
use super::reader::Reader;
use super::reason::ReasonCode;
use super::rules::Rule;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnsubAck {
    pub packet_id: u16,
    /// 5.0 only.
    pub properties: Properties,
    /// 5.0 only: one per filter, in order.
    pub codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(crate) fn body_len(&self, version: Version) -> usize {
        match version {
            Version::V311 => 2,
            Version::V5 => 2 + self.properties.encoded_len() + self.codes.len(),
        }
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.packet_id.to_be_bytes());
        if version == Version::V5 {
            self.properties.emit(out);
            out.extend(self.codes.iter().map(|c| c.0));
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<UnsubAck, Violation> {
        let id_at = r.pos();
        let packet_id = r.u16("packet identifier")?;
        if packet_id == 0 {
            r.report(
                Rule::AckPacketIdZero,
                id_at,
                "UNSUBACK packet identifier is 0",
            )?;
        }
        let mut ack = UnsubAck {
            packet_id,
            ..UnsubAck::default()
        };
        if r.version() == Version::V5 {
            ack.properties = properties::read(r, PropertyContext::Packet(PacketType::UnsubAck))?;
            let codes_at = r.pos();
            ack.codes = r.rest().iter().copied().map(ReasonCode).collect();
            for (i, code) in ack.codes.iter().enumerate() {
                if !code.allowed_in(PacketType::UnsubAck, Version::V5) {
                    r.note(
                        Rule::UnsubackReasonCode,
                        codes_at + i,
                        format!("{code} is not an UNSUBACK code"),
                    );
                }
            }
        }
        r.finish("UNSUBACK")?;
        Ok(ack)
    }
}

#[cfg(test)]
mod test {
    use super::super::{Packet, decode};
    use super::*;
    use crate::framing::Decoded;

    static UNSUBACK_V311: [u8; 4] = [0xb0, 2, 0, 3];
    static UNSUBACK_V5: [u8; 7] = [0xb0, 5, 0, 3, 0, 0x00, 0x11];

    #[test]
    fn test_parse() {
        let Ok(Decoded::Done(Packet::UnsubAck(u), 4)) = decode(&UNSUBACK_V311, Version::V311)
        else {
            panic!()
        };
        assert_eq!(u.packet_id, 3);
        let Ok(Decoded::Done(Packet::UnsubAck(u), 7)) = decode(&UNSUBACK_V5, Version::V5) else {
            panic!()
        };
        assert_eq!(
            u.codes,
            [ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
        );
    }

    #[test]
    fn test_emit() {
        for (frame, v) in [
            (&UNSUBACK_V311[..], Version::V311),
            (&UNSUBACK_V5[..], Version::V5),
        ] {
            let Ok(Decoded::Done(p, _)) = decode(frame, v) else {
                panic!()
            };
            let mut out = vec![0xa5; 0];
            p.emit(v, &mut out);
            assert_eq!(out, frame);
        }
    }

    #[test]
    fn test_impossible_len() {
        let e = decode(&[0xb0, 3, 0, 3, 0], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 4));
        // 5.0 requires the property length
        let e = decode(&[0xb0, 2, 0, 3], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.1.4", 4));
    }
}
