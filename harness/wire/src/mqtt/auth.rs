//! AUTH (§3.15): extended authentication exchanges, 5.0 only.

use super::disconnect;
use super::error::{Version, Violation};
use super::header::PacketType;
use super::properties::Properties;
use super::reader::Reader;
use super::reason::ReasonCode;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Auth {
    pub code: ReasonCode,
    pub properties: Properties,
}

impl Auth {
    pub(crate) fn body_len(&self, _version: Version) -> usize {
        disconnect::body_len(self.code, &self.properties)
    }

    pub(crate) fn emit_body(&self, _version: Version, out: &mut Vec<u8>) {
        disconnect::emit_body(self.code, &self.properties, out);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Auth, Violation> {
        let (code, properties) = disconnect::read_body(r, PacketType::Auth)?;
        Ok(Auth { code, properties })
    }
}

#[cfg(test)]
mod test {
    use super::super::properties::Property;
    use super::super::{Packet, decode, dissect};
    use super::*;
    use crate::framing::Decoded;

    static AUTH_CONTINUE: [u8; 11] = [0xf0, 9, 0x18, 7, 0x15, 0, 4, b'S', b'C', b'R', b'M'];

    #[test]
    fn test_parse() {
        let Ok(Decoded::Done(Packet::Auth(a), 11)) = decode(&AUTH_CONTINUE, Version::V5) else {
            panic!()
        };
        assert_eq!(a.code, ReasonCode::CONTINUE_AUTHENTICATION);
        assert_eq!(
            a.properties.0,
            [Property::AuthenticationMethod("SCRM".into())]
        );
        assert_eq!(
            decode(&[0xf0, 0], Version::V5),
            Ok(Decoded::Done(Packet::Auth(Auth::default()), 2))
        );
    }

    #[test]
    fn test_emit() {
        let a = Auth {
            code: ReasonCode::CONTINUE_AUTHENTICATION,
            properties: Properties::new().with(Property::AuthenticationMethod("SCRM".into())),
        };
        let mut out = vec![0xa5; 0];
        Packet::Auth(a).emit(Version::V5, &mut out);
        assert_eq!(out, AUTH_CONTINUE);
    }

    #[test]
    fn test_impossible_len() {
        let e = decode(&[0xf0, 2, 0x18], Version::V5);
        assert_eq!(e, Ok(Decoded::NeedMore(1)));
        let e = decode(&[0xf0, 2, 0x18, 9], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.2.1", 3));
    }

    #[test]
    fn violations() {
        let e = decode(&[0xf1, 0], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.15.1-1", 0));
        let e = decode(&[0xf0, 0], Version::V311).unwrap_err();
        assert_eq!(
            (e.rule.doc, e.rule.id, e.offset),
            ("mqtt-v3.1.1", "§2.2.1", 0)
        );
        let d = dissect(&[0xf0, 1, 0x87], Version::V5);
        assert_eq!(d.problems[0].rule.id, "MQTT-3.15.2-1");
    }
}
