//! UNSUBSCRIBE (§3.10).

use super::error::{Version, Violation};
use super::header::PacketType;
use super::properties::{self, Properties, PropertyContext};
use super::reader::Reader;
use super::rules::Rule;
use super::subscribe::check_filter;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Unsubscribe {
    pub packet_id: u16,
    /// 5.0 only.
    pub properties: Properties,
    pub filters: Vec<String>,
}

impl Unsubscribe {
    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + properties::len_if_v5(&self.properties, version)
            + self.filters.iter().map(|f| 2 + f.len()).sum::<usize>()
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.packet_id.to_be_bytes());
        properties::emit_if_v5(&self.properties, version, out);
        for f in &self.filters {
            properties::write_binary(f.as_bytes(), out);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Unsubscribe, Violation> {
        let id_at = r.pos();
        let packet_id = r.u16("packet identifier")?;
        if packet_id == 0 {
            r.report(
                Rule::PacketIdZero,
                id_at,
                "UNSUBSCRIBE packet identifier is 0",
            )?;
        }
        let properties =
            properties::read_if_v5(r, PropertyContext::Packet(PacketType::Unsubscribe))?;
        let mut filters = Vec::new();
        while r.remaining() > 0 {
            let at = r.pos() + 2;
            let filter = r.utf8("topic filter")?.into_owned();
            check_filter(r, &filter, at)?;
            filters.push(filter);
        }
        if filters.is_empty() {
            let at = r.pos();
            r.report(
                Rule::UnsubscribeNoFilters,
                at,
                "UNSUBSCRIBE has no topic filters",
            )?;
        }
        Ok(Unsubscribe {
            packet_id,
            properties,
            filters,
        })
    }
}

#[cfg(test)]
mod test {
    use super::super::{Packet, decode};
    use super::*;
    use crate::framing::Decoded;

    static UNSUBSCRIBE_V311: [u8; 12] = [0xa2, 10, 0, 3, 0, 1, b'a', 0, 3, b'b', b'/', b'#'];
    static UNSUBSCRIBE_V5: [u8; 8] = [0xa2, 6, 0, 3, 0, 0, 1, b'a'];

    #[test]
    fn test_parse() {
        let Ok(Decoded::Done(Packet::Unsubscribe(u), 12)) =
            decode(&UNSUBSCRIBE_V311, Version::V311)
        else {
            panic!()
        };
        assert_eq!(u.packet_id, 3);
        assert_eq!(u.filters, ["a", "b/#"]);
        let Ok(Decoded::Done(Packet::Unsubscribe(u), 8)) = decode(&UNSUBSCRIBE_V5, Version::V5)
        else {
            panic!()
        };
        assert_eq!(u.filters, ["a"]);
    }

    #[test]
    fn test_emit() {
        for (frame, v) in [
            (&UNSUBSCRIBE_V311[..], Version::V311),
            (&UNSUBSCRIBE_V5[..], Version::V5),
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
        let e = decode(&[0xa2, 4, 0, 3, 0, 5], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 6));
    }

    #[test]
    fn violations() {
        let e = decode(&[0xa0, 5, 0, 3, 0, 1, b'a'], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.10.1-1", 0));
        let e = decode(&[0xa2, 2, 0, 3], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-3.10.3-2", 4));
        let e = decode(&[0xa2, 5, 0, 0, 0, 1, b'a'], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-2.3.1-1", 2));
        let e = decode(&[0xa2, 5, 0, 1, 0, 0, 0], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-4.7.3-1", 7));
    }
}
