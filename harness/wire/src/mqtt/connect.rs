//! CONNECT (§3.1): the client's opening packet, which also names the protocol version.

use super::error::{Version, Violation};
use super::header::{PacketType, QoS};
use super::properties::{self, Properties, PropertyContext};
use super::reader::Reader;
use super::rules::Rule;
use super::strings;

mod flag {
    pub const RESERVED: u8 = 0x01;
    pub const CLEAN_START: u8 = 0x02;
    pub const WILL: u8 = 0x04;
    pub const WILL_QOS_SHIFT: u8 = 3;
    pub const WILL_RETAIN: u8 = 0x20;
    pub const PASSWORD: u8 = 0x40;
    pub const USERNAME: u8 = 0x80;
}

/// The Will Message a CONNECT asks the server to publish if the client vanishes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Will {
    pub qos: QoS,
    pub retain: bool,
    /// 5.0 only.
    pub properties: Properties,
    pub topic: String,
    pub payload: Vec<u8>,
}

/// CONNECT. Its protocol level is not a field: [`Packet::emit`](super::Packet::emit)
/// writes the level of the version it is given, and decoding follows the level in the
/// frame ([`connect_version`] reads it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Connect {
    /// Clean Session in 3.1.1.
    pub clean_start: bool,
    pub keep_alive: u16,
    /// 5.0 only.
    pub properties: Properties,
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

/// The version a CONNECT frame declares (its Protocol Level), if it is one hilt speaks.
pub fn connect_version(frame: &[u8]) -> Option<Version> {
    let (&first, rest) = frame.split_first()?;
    if first >> 4 != PacketType::Connect as u8 {
        return None;
    }
    let header_len = match super::varint::read(rest) {
        super::varint::VarintRead::Value { len, .. } => 1 + len,
        _ => return None,
    };
    let name_len = match frame.get(header_len..header_len + 2)? {
        [a, b] => usize::from(u16::from_be_bytes([*a, *b])),
        _ => return None,
    };
    Version::from_level(*frame.get(header_len + 2 + name_len)?)
}

impl Connect {
    fn flags(&self) -> u8 {
        let mut f = 0;
        if self.clean_start {
            f |= flag::CLEAN_START;
        }
        if let Some(will) = &self.will {
            f |= flag::WILL | (will.qos.as_u8() << flag::WILL_QOS_SHIFT);
            if will.retain {
                f |= flag::WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            f |= flag::USERNAME;
        }
        if self.password.is_some() {
            f |= flag::PASSWORD;
        }
        f
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        let mut n = 6 + 1 + 1 + 2; // "MQTT", level, flags, keep alive
        n += properties::len_if_v5(&self.properties, version);
        n += 2 + self.client_id.len();
        if let Some(will) = &self.will {
            n += properties::len_if_v5(&will.properties, version);
            n += 2 + will.topic.len() + 2 + will.payload.len();
        }
        n += self.username.as_ref().map_or(0, |u| 2 + u.len());
        n += self.password.as_ref().map_or(0, |p| 2 + p.len());
        n
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        properties::write_binary(b"MQTT", out);
        out.push(version.level());
        out.push(self.flags());
        out.extend_from_slice(&self.keep_alive.to_be_bytes());
        properties::emit_if_v5(&self.properties, version, out);
        properties::write_binary(self.client_id.as_bytes(), out);
        if let Some(will) = &self.will {
            properties::emit_if_v5(&will.properties, version, out);
            properties::write_binary(will.topic.as_bytes(), out);
            properties::write_binary(&will.payload, out);
        }
        if let Some(u) = &self.username {
            properties::write_binary(u.as_bytes(), out);
        }
        if let Some(p) = &self.password {
            properties::write_binary(p, out);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Connect, Violation> {
        let name_at = r.pos();
        let name = r.utf8("protocol name")?;
        let level_at = r.pos();
        let level = r.u8("protocol level")?;
        let declared = Version::from_level(level);
        // The rest of the frame is laid out, and judged, by the version it declares.
        // An unknown level reads as 3.1.1's layout (3.1 shares it) or 5.0's above it.
        r.set_version(declared.unwrap_or(if level < 5 {
            Version::V311
        } else {
            Version::V5
        }));
        if name != "MQTT" {
            r.report(
                Rule::ProtocolName,
                name_at,
                format!("protocol name is {name:?}, not \"MQTT\""),
            )?;
        }
        if declared.is_none() {
            r.report(
                Rule::ProtocolLevel,
                level_at,
                format!("protocol level {level} is neither 4 (3.1.1) nor 5 (5.0)"),
            )?;
        }
        let flags_at = r.pos();
        let flags = r.u8("connect flags")?;
        let will_flag = flags & flag::WILL != 0;
        let will_qos_bits = (flags >> flag::WILL_QOS_SHIFT) & 0b11;
        let will_retain = flags & flag::WILL_RETAIN != 0;
        let has_password = flags & flag::PASSWORD != 0;
        let has_username = flags & flag::USERNAME != 0;
        if flags & flag::RESERVED != 0 {
            r.report(
                Rule::ConnectReserved,
                flags_at,
                "connect flags reserved bit is 1",
            )?;
        }
        if !will_flag && will_qos_bits != 0 {
            r.report(
                Rule::WillQosWithoutWill,
                flags_at,
                format!("will QoS is {will_qos_bits} but the will flag is 0"),
            )?;
        }
        if will_qos_bits == 3 {
            r.report(Rule::WillQos3, flags_at, "will QoS is 3")?;
        }
        if !will_flag && will_retain {
            r.report(
                Rule::WillRetainWithoutWill,
                flags_at,
                "will retain is 1 but the will flag is 0",
            )?;
        }
        if r.version() == Version::V311 && has_password && !has_username {
            r.report(
                Rule::PasswordWithoutUsername,
                flags_at,
                "password flag is 1 but the user name flag is 0",
            )?;
        }
        let keep_alive = r.u16("keep alive")?;
        let properties = properties::read_if_v5(r, PropertyContext::Packet(PacketType::Connect))?;
        let client_id = r.utf8("client identifier")?.into_owned();
        let will = if will_flag {
            let properties = properties::read_if_v5(r, PropertyContext::Will)?;
            let topic_at = r.pos() + 2;
            let topic = r.utf8("will topic")?.into_owned();
            if let Some(p) = strings::topic_name_wildcard(&topic) {
                r.report(p.rule, topic_at + p.at, format!("will {}", p.detail))?;
            }
            let payload = r.binary("will payload")?.to_vec();
            Some(Will {
                qos: QoS::from_u8(will_qos_bits).unwrap_or(QoS::ExactlyOnce),
                retain: will_retain,
                properties,
                topic,
                payload,
            })
        } else {
            None
        };
        let username = if has_username {
            Some(r.utf8("user name")?.into_owned())
        } else {
            None
        };
        let password = if has_password {
            Some(r.binary("password")?.to_vec())
        } else {
            None
        };
        r.finish("CONNECT payload")?;
        Ok(Connect {
            clean_start: flags & flag::CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }
}

#[cfg(test)]
mod test {
    use super::super::properties::Property;
    use super::super::{Packet, decode};
    use super::*;
    use crate::framing::Decoded;

    static CONNECT_V311: [u8; 34] = [
        0x10,
        32, // fixed header
        0x00,
        0x04,
        b'M',
        b'Q',
        b'T',
        b'T',
        4,           // protocol
        0b1110_1110, // user, password, will retain, will qos 1, will, clean
        0x00,
        60, // keep alive
        0x00,
        0x02,
        b'c',
        b'1', // client id
        0x00,
        0x03,
        b'a',
        b'/',
        b'w', // will topic
        0x00,
        0x02,
        b'x',
        b'y', // will payload
        0x00,
        0x02,
        b'u',
        b'1', // user
        0x00,
        0x03,
        b'p',
        b'w',
        b'd', // password
    ];

    fn v311_frame() -> &'static [u8] {
        &CONNECT_V311
    }

    fn expected() -> Connect {
        Connect {
            clean_start: true,
            keep_alive: 60,
            properties: Properties::new(),
            client_id: "c1".into(),
            will: Some(Will {
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties::new(),
                topic: "a/w".into(),
                payload: b"xy".to_vec(),
            }),
            username: Some("u1".into()),
            password: Some(b"pwd".to_vec()),
        }
    }

    #[test]
    fn test_parse() {
        let frame = v311_frame();
        let Ok(Decoded::Done(Packet::Connect(c), 34)) = decode(frame, Version::V311) else {
            panic!("{:?}", decode(frame, Version::V311))
        };
        assert_eq!(c, expected());
        assert_eq!(connect_version(frame), Some(Version::V311));
    }

    #[test]
    fn test_emit() {
        let p = Packet::Connect(expected());
        let mut out = vec![0xa5; 0];
        p.emit(Version::V311, &mut out);
        assert_eq!(out, v311_frame());
        assert_eq!(p.encoded_len(Version::V311), 34);
    }

    #[test]
    fn v5_level_wins_over_the_callers_version() {
        let mut c = expected();
        c.properties.push(Property::SessionExpiryInterval(30));
        if let Some(w) = c.will.as_mut() {
            w.properties.push(Property::WillDelayInterval(5));
        }
        let bytes = Packet::Connect(c.clone()).to_bytes(Version::V5);
        assert_eq!(connect_version(&bytes), Some(Version::V5));
        let Ok(Decoded::Done(Packet::Connect(back), _)) = decode(&bytes, Version::V311) else {
            panic!()
        };
        assert_eq!(back, c);
    }

    #[test]
    fn test_impossible_len() {
        let mut frame = v311_frame().to_vec();
        frame[1] = 33; // claims one more byte than there is
        frame.push(0);
        let e = decode(&frame, Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 34));
        let mut frame = v311_frame().to_vec();
        frame[1] = 31; // the password overruns
        frame.truncate(33);
        let e = decode(&frame, Version::V311).unwrap_err();
        assert_eq!(e.rule.id, "§2.2.3");
    }

    fn violation(bytes: &[u8]) -> (&'static str, &'static str, usize) {
        let e = decode(bytes, Version::V311).unwrap_err();
        (e.rule.doc, e.rule.id, e.offset)
    }

    #[test]
    fn flag_rules() {
        let base = |level: u8, flags: u8| -> Vec<u8> {
            vec![
                0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', level, flags, 0, 0, 0, 0,
            ]
        };
        let mut v5 = base(5, 0x01);
        v5[1] = 13;
        v5.insert(12, 0);
        assert_eq!(violation(&v5), ("mqtt-v5", "MQTT-3.1.2-3", 9));
        assert_eq!(
            violation(&base(4, 0x01)),
            ("mqtt-v3.1.1", "MQTT-3.1.2-3", 9)
        );
        assert_eq!(
            violation(&base(4, 0x08)),
            ("mqtt-v3.1.1", "MQTT-3.1.2-13", 9)
        );
        assert_eq!(
            violation(&base(4, 0x20)),
            ("mqtt-v3.1.1", "MQTT-3.1.2-15", 9)
        );
        assert_eq!(
            violation(&base(4, 0x40)),
            ("mqtt-v3.1.1", "MQTT-3.1.2-22", 9)
        );
        let mut v5 = base(5, 0x08);
        v5[1] = 13;
        v5.insert(12, 0);
        assert_eq!(violation(&v5), ("mqtt-v5", "MQTT-3.1.2-11", 9));
        let mut v5 = base(5, 0x20);
        v5[1] = 13;
        v5.insert(12, 0);
        assert_eq!(violation(&v5), ("mqtt-v5", "MQTT-3.1.2-13", 9));
        assert_eq!(violation(&base(6, 0x00)), ("mqtt-v5", "MQTT-3.1.2-2", 8));
        let mqisdp = [
            0x10, 14, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 2, 0, 0, 0, 0,
        ];
        assert_eq!(violation(&mqisdp), ("mqtt-v3.1.1", "MQTT-3.1.2-1", 2));
        let mut will_qos3 = base(4, 0x1c);
        will_qos3.extend_from_slice(&[0, 1, b't', 0, 0]);
        will_qos3[1] = 17;
        assert_eq!(violation(&will_qos3), ("mqtt-v3.1.1", "MQTT-3.1.2-14", 9));
        let mut wildcard_will = base(4, 0x04);
        wildcard_will.extend_from_slice(&[0, 1, b'#', 0, 0]);
        wildcard_will[1] = 17;
        assert_eq!(
            violation(&wildcard_will),
            ("mqtt-v3.1.1", "MQTT-3.3.2-2", 16)
        );
    }
}
