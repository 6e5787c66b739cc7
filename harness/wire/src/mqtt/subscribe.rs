//! SUBSCRIBE (§3.8): topic filters with their subscription options.

use super::error::{Version, Violation};
use super::header::{PacketType, QoS};
use super::properties::{self, Properties, PropertyContext};
use super::reader::Reader;
use super::rules::Rule;
use super::strings;

/// When the server sends retained messages for a new subscription (5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    #[default]
    SendAtSubscribe = 0,
    SendAtSubscribeIfNew = 1,
    DoNotSend = 2,
}

/// The Subscription Options byte; in 3.1.1 only `qos` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    pub fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..Self::default()
        }
    }

    pub fn to_byte(self, version: Version) -> u8 {
        match version {
            Version::V311 => self.qos.as_u8(),
            Version::V5 => {
                self.qos.as_u8()
                    | u8::from(self.no_local) << 2
                    | u8::from(self.retain_as_published) << 3
                    | (self.retain_handling as u8) << 4
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Subscription {
    pub filter: String,
    pub options: SubscriptionOptions,
}

impl Subscription {
    pub fn new(filter: impl Into<String>, qos: QoS) -> Self {
        Subscription {
            filter: filter.into(),
            options: SubscriptionOptions::qos(qos),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Subscribe {
    pub packet_id: u16,
    /// 5.0 only.
    pub properties: Properties,
    pub filters: Vec<Subscription>,
}

/// Checks a topic filter's text, reporting each rule it breaks at its offset.
pub(crate) fn check_filter(r: &mut Reader<'_>, filter: &str, at: usize) -> Result<(), Violation> {
    for p in strings::topic_filter_problems(filter) {
        r.report(p.rule, at + p.at, p.detail)?;
    }
    Ok(())
}

impl Subscribe {
    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + properties::len_if_v5(&self.properties, version)
            + self
                .filters
                .iter()
                .map(|s| 2 + s.filter.len() + 1)
                .sum::<usize>()
    }

    pub(crate) fn emit_body(&self, version: Version, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.packet_id.to_be_bytes());
        properties::emit_if_v5(&self.properties, version, out);
        for s in &self.filters {
            properties::write_binary(s.filter.as_bytes(), out);
            out.push(s.options.to_byte(version));
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Subscribe, Violation> {
        let id_at = r.pos();
        let packet_id = r.u16("packet identifier")?;
        if packet_id == 0 {
            r.report(
                Rule::PacketIdZero,
                id_at,
                "SUBSCRIBE packet identifier is 0",
            )?;
        }
        let properties = properties::read_if_v5(r, PropertyContext::Packet(PacketType::Subscribe))?;
        let mut filters = Vec::new();
        while r.remaining() > 0 {
            let filter_at = r.pos() + 2;
            let filter = r.utf8("topic filter")?.into_owned();
            check_filter(r, &filter, filter_at)?;
            let options_at = r.pos();
            let byte = r.u8("subscription options")?;
            let options = read_options(r, byte, options_at, &filter)?;
            filters.push(Subscription { filter, options });
        }
        if filters.is_empty() {
            let at = r.pos();
            r.report(
                Rule::SubscribeNoFilters,
                at,
                "SUBSCRIBE has no topic filters",
            )?;
        }
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }
}

fn read_options(
    r: &mut Reader<'_>,
    byte: u8,
    at: usize,
    filter: &str,
) -> Result<SubscriptionOptions, Violation> {
    let reserved = match r.version() {
        Version::V311 => 0b1111_1100,
        Version::V5 => 0b1100_0000,
    };
    if byte & reserved != 0 {
        r.report(
            Rule::SubscriptionOptionsReserved,
            at,
            format!("subscription options 0x{byte:02x} set reserved bits"),
        )?;
    }
    let qos_bits = byte & 0b11;
    if qos_bits == 3 {
        r.report(Rule::SubscriptionQos3, at, "subscription maximum QoS is 3")?;
    }
    let mut options = SubscriptionOptions::qos(QoS::from_u8(qos_bits).unwrap_or(QoS::ExactlyOnce));
    if r.version() == Version::V5 {
        options.no_local = byte & 0b0100 != 0;
        options.retain_as_published = byte & 0b1000 != 0;
        options.retain_handling = match (byte >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => {
                r.report(Rule::RetainHandling3, at, "retain handling is 3")?;
                RetainHandling::DoNotSend
            }
        };
        if options.no_local && strings::is_shared_subscription(filter) {
            r.report(
                Rule::SharedSubscriptionNoLocal,
                at,
                format!("no local is set on the shared subscription {filter:?}"),
            )?;
        }
    }
    Ok(options)
}

#[cfg(test)]
mod test {
    use super::super::{Packet, decode};
    use super::*;
    use crate::framing::Decoded;

    static SUBSCRIBE_V311: [u8; 16] = [
        0x82, 14, 0, 10, // packet id 10
        0, 3, b'a', b'/', b'#', 1, // a/# QoS 1
        0, 3, b'b', b'/', b'+', 2, // b/+ QoS 2
    ];

    static SUBSCRIBE_V5: [u8; 13] = [
        0x82,
        11,
        0,
        10, // packet id 10
        2,
        0x0b,
        7, // subscription identifier 7
        0,
        3,
        b'a',
        b'/',
        b'b',        // a/b
        0b0010_1110, // retain handling 2, RAP, no local, QoS 2
    ];

    #[test]
    fn test_parse() {
        let Ok(Decoded::Done(Packet::Subscribe(s), 16)) = decode(&SUBSCRIBE_V311, Version::V311)
        else {
            panic!()
        };
        assert_eq!(s.packet_id, 10);
        assert_eq!(
            s.filters,
            [
                Subscription::new("a/#", QoS::AtLeastOnce),
                Subscription::new("b/+", QoS::ExactlyOnce)
            ]
        );
        let Ok(Decoded::Done(Packet::Subscribe(s), 13)) = decode(&SUBSCRIBE_V5, Version::V5) else {
            panic!()
        };
        assert_eq!(
            s.properties.subscription_identifiers().collect::<Vec<_>>(),
            [7]
        );
        let o = s.filters[0].options;
        assert_eq!(o.qos, QoS::ExactlyOnce);
        assert!(o.no_local && o.retain_as_published);
        assert_eq!(o.retain_handling, RetainHandling::DoNotSend);
    }

    #[test]
    fn test_emit() {
        for (frame, v) in [
            (&SUBSCRIBE_V311[..], Version::V311),
            (&SUBSCRIBE_V5[..], Version::V5),
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
        // the options byte is missing
        let e = decode(&[0x82, 5, 0, 1, 0, 1, b'a'], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 7));
    }

    fn rule(bytes: &[u8], v: Version) -> (&'static str, usize) {
        let e = decode(bytes, v).unwrap_err();
        (e.rule.id, e.offset)
    }

    #[test]
    fn violations() {
        assert_eq!(
            rule(&[0x80, 6, 0, 1, 0, 1, b'a', 0], Version::V311),
            ("MQTT-3.8.1-1", 0)
        );
        assert_eq!(
            rule(&[0x82, 6, 0, 0, 0, 1, b'a', 0], Version::V311),
            ("MQTT-2.3.1-1", 2)
        );
        assert_eq!(rule(&[0x82, 2, 0, 1], Version::V311), ("MQTT-3.8.3-3", 4));
        assert_eq!(rule(&[0x82, 3, 0, 1, 0], Version::V5), ("MQTT-3.8.3-2", 5));
        assert_eq!(
            rule(&[0x82, 6, 0, 1, 0, 1, b'a', 4], Version::V311),
            ("MQTT-3-8.3-4", 7)
        );
        assert_eq!(
            rule(&[0x82, 6, 0, 1, 0, 1, b'a', 3], Version::V311),
            ("MQTT-3-8.3-4", 7)
        );
        assert_eq!(
            rule(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x40], Version::V5),
            ("MQTT-3.8.3-5", 8)
        );
        assert_eq!(
            rule(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x30], Version::V5),
            ("§3.8.3.1", 8)
        );
        assert_eq!(
            rule(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x03], Version::V5),
            ("§3.8.3.1", 8)
        );
        assert_eq!(
            rule(&[0x82, 6, 0, 1, 0, 0, 0, 0], Version::V5),
            ("MQTT-4.7.3-1", 7)
        );
        assert_eq!(
            rule(&[0x82, 7, 0, 1, 0, 2, b'a', b'#', 0], Version::V311),
            ("MQTT-4.7.1-2", 6)
        );
        assert_eq!(
            rule(&[0x82, 8, 0, 1, 0, 0, 2, b'a', b'+', 0], Version::V5),
            ("MQTT-4.7.1-2", 7)
        );
        let shared = b"$share/g/a";
        let mut f = vec![0x82, 16, 0, 1, 0, 0, 10];
        f.extend_from_slice(shared);
        f.push(0b0100);
        assert_eq!(rule(&f, Version::V5), ("MQTT-3.8.3-4", 17));
        // Subscription Identifier may appear once in SUBSCRIBE
        let dup = [0x82, 11, 0, 1, 4, 0x0b, 1, 0x0b, 2, 0, 1, b'a', 0];
        assert_eq!(rule(&dup, Version::V5), ("§2.2.2.2", 7));
        let zero = [0x82, 9, 0, 1, 2, 0x0b, 0, 0, 1, b'a', 0];
        assert_eq!(rule(&zero, Version::V5), ("§3.8.2.1.2", 5));
    }
}
