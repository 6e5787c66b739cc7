//! DISCONNECT (§3.14). 3.1.1's is empty; 5.0's may carry a reason and properties.

use super::error::{Version, Violation};
use super::header::PacketType;
use super::properties::{self, Properties, PropertyContext};
use super::reader::Reader;
use super::reason::ReasonCode;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Disconnect {
    /// 5.0 only.
    pub code: ReasonCode,
    /// 5.0 only.
    pub properties: Properties,
}

/// The shared layout of DISCONNECT and AUTH in 5.0: nothing (meaning code 0), a code, or a
/// code and properties.
pub(crate) fn body_len(code: ReasonCode, props: &Properties) -> usize {
    match (code.0, props.is_empty()) {
        (0, true) => 0,
        (_, true) => 1,
        (_, false) => 1 + props.encoded_len(),
    }
}

pub(crate) fn emit_body(code: ReasonCode, props: &Properties, out: &mut Vec<u8>) {
    let len = body_len(code, props);
    if len >= 1 {
        out.push(code.0);
    }
    if len > 1 {
        props.emit(out);
    }
}

pub(crate) fn read_body(
    r: &mut Reader<'_>,
    kind: PacketType,
) -> Result<(ReasonCode, Properties), Violation> {
    let mut code = ReasonCode::SUCCESS;
    let mut props = Properties::new();
    if r.remaining() > 0 {
        let at = r.pos();
        code = ReasonCode(r.u8("reason code")?);
        if !code.allowed_in(kind, Version::V5)
            && let Some(rule) = ReasonCode::rule_for(kind)
        {
            r.note(rule, at, format!("{code} is not a {} code", kind.name()));
        }
        if r.remaining() > 0 {
            props = properties::read(r, PropertyContext::Packet(kind))?;
        }
    }
    r.finish(kind.name())?;
    Ok((code, props))
}

impl Disconnect {
    pub(crate) fn body_len(&self, version: Version) -> usize {
        match version {
            Version::V311 => 0,
            Version::V5 => body_len(self.code, &self.properties),
        }
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        if version == Version::V5 {
            emit_body(self.code, &self.properties, out);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Disconnect, Violation> {
        if r.version() == Version::V311 {
            r.finish("DISCONNECT")?;
            return Ok(Disconnect::default());
        }
        let (code, properties) = read_body(r, PacketType::Disconnect)?;
        Ok(Disconnect { code, properties })
    }
}

#[cfg(test)]
mod test {
    use super::super::properties::Property;
    use super::super::{Packet, decode};
    use super::*;
    use crate::framing::Decoded;

    static DISCONNECT_EMPTY: [u8; 2] = [0xe0, 0];
    static DISCONNECT_CODE: [u8; 3] = [0xe0, 1, 0x8e];
    static DISCONNECT_PROPS: [u8; 9] = [0xe0, 7, 0x04, 5, 0x11, 0, 0, 0, 9];

    #[test]
    fn test_parse() {
        for v in [Version::V311, Version::V5] {
            assert_eq!(
                decode(&DISCONNECT_EMPTY, v),
                Ok(Decoded::Done(Packet::Disconnect(Disconnect::default()), 2))
            );
        }
        let Ok(Decoded::Done(Packet::Disconnect(d), 3)) = decode(&DISCONNECT_CODE, Version::V5)
        else {
            panic!()
        };
        assert_eq!(d.code, ReasonCode::SESSION_TAKEN_OVER);
        let Ok(Decoded::Done(Packet::Disconnect(d), 9)) = decode(&DISCONNECT_PROPS, Version::V5)
        else {
            panic!()
        };
        assert_eq!(d.properties.session_expiry_interval(), Some(9));
    }

    #[test]
    fn test_emit() {
        let d = Disconnect {
            code: ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
            properties: Properties::new().with(Property::SessionExpiryInterval(9)),
        };
        let mut out = vec![0xa5; 0];
        Packet::Disconnect(d.clone()).emit(Version::V5, &mut out);
        assert_eq!(out, DISCONNECT_PROPS);
        out.clear();
        Packet::Disconnect(d).emit(Version::V311, &mut out);
        assert_eq!(out, DISCONNECT_EMPTY);
    }

    #[test]
    fn test_impossible_len() {
        let e = decode(&[0xe0, 1, 0], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 2));
        let e = decode(&[0xe0, 3, 0, 5, 0], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.2.1", 3));
    }

    #[test]
    fn violations() {
        let e = decode(&[0xe2, 0], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.14.1-1", 0));
        let e = decode(&[0xe0, 4, 0, 2, 0x11, 0], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.2.1", 5));
    }
}
