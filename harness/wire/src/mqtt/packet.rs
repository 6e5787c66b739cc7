//! The owned representation of every packet, and the decoder that dispatches to each.

use super::acks::Ack;
use super::auth::Auth;
use super::connack::ConnAck;
use super::connect::{Connect, connect_version};
use super::disconnect::Disconnect;
use super::error::{Version, Violation};
use super::header::{FixedHeader, PacketType};
use super::publish::Publish;
use super::reader::Reader;
use super::rules::Rule;
use super::suback::SubAck;
use super::subscribe::Subscribe;
use super::unsuback::UnsubAck;
use super::unsubscribe::Unsubscribe;
use super::varint;
use crate::framing::Decoded;

/// Any MQTT Control Packet, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    fn first_byte(&self) -> u8 {
        match self {
            Packet::Publish(p) => p.as_ref().first_byte(),
            other => {
                let t = other.packet_type();
                (t as u8) << 4 | t.required_flags()
            }
        }
    }

    fn body_len(&self, version: Version) -> usize {
        match self {
            Packet::Connect(p) => p.body_len(version),
            Packet::ConnAck(p) => p.body_len(version),
            Packet::Publish(p) => p.as_ref().body_len(version),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.body_len(version)
            }
            Packet::Subscribe(p) => p.body_len(version),
            Packet::SubAck(p) => p.body_len(version),
            Packet::Unsubscribe(p) => p.body_len(version),
            Packet::UnsubAck(p) => p.body_len(version),
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(p) => p.body_len(version),
            Packet::Auth(p) => p.body_len(version),
        }
    }

    /// Bytes [`Packet::emit`] writes.
    pub fn encoded_len(&self, version: Version) -> usize {
        let body = self.body_len(version);
        1 + varint::encoded_len(body as u32) + body
    }

    /// Appends the frame to `out`. Fields a version lacks (properties and reason codes
    /// in 3.1.1) are left out; a CONNECT gets `version`'s protocol level.
    pub fn emit(&self, version: Version, out: &mut Vec<u8>) {
        // The hot path has its own encoder, which walks the properties once.
        if let Packet::Publish(p) = self {
            return p.as_ref().emit(version, out);
        }
        let body = self.body_len(version);
        out.reserve(1 + varint::encoded_len(body as u32) + body);
        out.push(self.first_byte());
        varint::write(body as u32, out);
        match self {
            Packet::Connect(p) => p.emit_body(version, out),
            Packet::ConnAck(p) => p.emit_body(version, out),
            Packet::Publish(p) => p.as_ref().emit_body(version, out),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.emit_body(version, out)
            }
            Packet::Subscribe(p) => p.emit_body(version, out),
            Packet::SubAck(p) => p.emit_body(version, out),
            Packet::Unsubscribe(p) => p.emit_body(version, out),
            Packet::UnsubAck(p) => p.emit_body(version, out),
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(p) => p.emit_body(version, out),
            Packet::Auth(p) => p.emit_body(version, out),
        }
    }

    /// The frame as a new vector.
    pub fn to_bytes(&self, version: Version) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len(version));
        self.emit(version, &mut out);
        out
    }
}

/// Decodes the packet at the front of `buf` with the strict rules.
///
/// `Ok(NeedMore(n))` when `buf` ends before the frame does; `Ok(Done(packet, len))` with
/// the frame's length otherwise; `Err` names the first rule the frame breaks. A CONNECT
/// is decoded by the protocol level it declares, whatever `version` says.
pub fn decode(buf: &[u8], version: Version) -> Result<Decoded<Packet>, Violation> {
    if let Some(done) = Publish::decode_quick(buf, version) {
        return done.map(|(p, n)| Decoded::Done(Packet::Publish(p), n));
    }
    decode_general(buf, version)
}

/// [`decode`] without the PUBLISH fast path: judges every frame the fast path declines,
/// and is what the fast path is tested against.
pub(crate) fn decode_general(buf: &[u8], version: Version) -> Result<Decoded<Packet>, Violation> {
    let header = match FixedHeader::parse(buf, version)? {
        Decoded::Done(h, _) => h,
        Decoded::NeedMore(n) => return Ok(Decoded::NeedMore(n)),
    };
    let total = header.frame_len();
    let Some(frame) = buf.get(..total) else {
        return Ok(Decoded::NeedMore(total - buf.len()));
    };
    let mut r = Reader::new(frame, header.header_len, version, false);
    let packet = read_packet(&mut r, &header, frame)?;
    Ok(Decoded::Done(packet, total))
}

/// Decodes one complete frame leniently: every rule broken, and the packet if the frame
/// could be read to its end.
pub(crate) fn decode_lenient(frame: &[u8], version: Version) -> (Option<Packet>, Vec<Violation>) {
    let header = match FixedHeader::parse(frame, version) {
        Ok(Decoded::Done(h, _)) => h,
        Ok(Decoded::NeedMore(n)) => {
            let v = Violation {
                rule: Rule::RemainingLength.spec_ref(version),
                offset: frame.len(),
                detail: format!("frame ends inside the fixed header ({n} more bytes needed)"),
            };
            return (None, vec![v]);
        }
        Err(v) => return (None, vec![v]),
    };
    let total = header.frame_len();
    let mut extra = Vec::new();
    let frame = match frame.get(..total) {
        Some(f) => f,
        None => {
            extra.push(Violation {
                rule: Rule::RemainingLength.spec_ref(version),
                offset: frame.len(),
                detail: format!(
                    "remaining length {} runs {} bytes past the end of the frame",
                    header.remaining_length,
                    total - frame.len()
                ),
            });
            frame
        }
    };
    let mut r = Reader::new(frame, header.header_len, version, true);
    let result = read_packet(&mut r, &header, frame);
    let mut found = r.into_found();
    found.append(&mut extra);
    match result {
        Ok(p) => (Some(p), found),
        Err(v) => {
            found.push(v);
            (None, found)
        }
    }
}

fn read_packet(
    r: &mut Reader<'_>,
    header: &FixedHeader,
    frame: &[u8],
) -> Result<Packet, Violation> {
    let Some(kind) = header.packet_type() else {
        return Err(r.violation(Rule::PacketTypeReserved, 0, "packet type 0 is reserved"));
    };
    if kind == PacketType::Connect
        && let Some(v) = connect_version(frame)
    {
        r.set_version(v);
    }
    if !header.minimal_length {
        r.report(
            Rule::VarintNotMinimal,
            1,
            format!(
                "remaining length {} is encoded in {} bytes, more than needed",
                header.remaining_length,
                header.header_len - 1
            ),
        )?;
    }
    if kind == PacketType::Auth && r.version() == Version::V311 {
        return Err(r.violation(
            Rule::PacketTypeReserved,
            0,
            "packet type 15 (AUTH) is reserved in MQTT 3.1.1",
        ));
    }
    check_flags(r, kind, header.flags())?;
    Ok(match kind {
        PacketType::Connect => Packet::Connect(Connect::read(r)?),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::read(r)?),
        PacketType::Publish => Packet::Publish(Publish::read(r, header.flags())?),
        PacketType::PubAck => Packet::PubAck(Ack::read(r, kind)?),
        PacketType::PubRec => Packet::PubRec(Ack::read(r, kind)?),
        PacketType::PubRel => Packet::PubRel(Ack::read(r, kind)?),
        PacketType::PubComp => Packet::PubComp(Ack::read(r, kind)?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::read(r)?),
        PacketType::SubAck => Packet::SubAck(SubAck::read(r)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::read(r)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::read(r)?),
        PacketType::PingReq => {
            r.finish("PINGREQ")?;
            Packet::PingReq
        }
        PacketType::PingResp => {
            r.finish("PINGRESP")?;
            Packet::PingResp
        }
        PacketType::Disconnect => Packet::Disconnect(Disconnect::read(r)?),
        PacketType::Auth => Packet::Auth(Auth::read(r)?),
    })
}

fn check_flags(r: &mut Reader<'_>, kind: PacketType, flags: u8) -> Result<(), Violation> {
    // PUBLISH's flags are DUP, QoS and RETAIN, judged with the rest of the packet.
    if kind == PacketType::Publish || flags == kind.required_flags() {
        return Ok(());
    }
    let rule = match kind {
        PacketType::PubRel => Rule::PubrelFlags,
        PacketType::Subscribe => Rule::SubscribeFlags,
        PacketType::Unsubscribe => Rule::UnsubscribeFlags,
        PacketType::Disconnect => Rule::DisconnectFlags,
        PacketType::Auth => Rule::AuthFlags,
        _ => Rule::ReservedFlags,
    };
    r.report(
        rule,
        0,
        format!(
            "{} fixed header flags are 0b{flags:04b}, not 0b{:04b}",
            kind.name(),
            kind.required_flags()
        ),
    )
}

#[cfg(test)]
mod test {
    use super::super::properties::{Properties, Property};
    use super::super::subscribe::{RetainHandling, Subscription, SubscriptionOptions};
    use super::super::{connect::Will, header::QoS, reason::ReasonCode};
    use super::*;

    /// One of each packet type, with every optional part filled in that `version` has.
    pub(crate) fn samples(version: Version) -> Vec<Packet> {
        let v5 = version == Version::V5;
        let props = |p: Vec<Property>| if v5 { Properties(p) } else { Properties::new() };
        let code = |c: ReasonCode| if v5 { c } else { ReasonCode::SUCCESS };
        let user = || Property::UserProperty("k".into(), "v".into());
        let reason = || Property::ReasonString("why".into());
        vec![
            Packet::Connect(Connect {
                clean_start: true,
                keep_alive: 30,
                properties: props(vec![
                    Property::SessionExpiryInterval(60),
                    Property::ReceiveMaximum(20),
                    Property::MaximumPacketSize(65_536),
                    Property::TopicAliasMaximum(5),
                    Property::RequestResponseInformation(1),
                    Property::RequestProblemInformation(0),
                    user(),
                    Property::AuthenticationMethod("m".into()),
                    Property::AuthenticationData(vec![1, 2]),
                ]),
                client_id: "client-1".into(),
                will: Some(Will {
                    qos: QoS::ExactlyOnce,
                    retain: true,
                    properties: props(vec![
                        Property::WillDelayInterval(3),
                        Property::PayloadFormatIndicator(1),
                        Property::MessageExpiryInterval(100),
                        Property::ContentType("text/plain".into()),
                        Property::ResponseTopic("r/t".into()),
                        Property::CorrelationData(vec![9]),
                        user(),
                    ]),
                    topic: "will/t".into(),
                    payload: b"bye".to_vec(),
                }),
                username: Some("user".into()),
                password: Some(b"secret".to_vec()),
            }),
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: ReasonCode::SUCCESS,
                properties: props(vec![
                    Property::SessionExpiryInterval(60),
                    Property::ReceiveMaximum(10),
                    Property::MaximumQos(1),
                    Property::RetainAvailable(1),
                    Property::MaximumPacketSize(1024),
                    Property::AssignedClientIdentifier("auto-1".into()),
                    Property::TopicAliasMaximum(8),
                    reason(),
                    user(),
                    Property::WildcardSubscriptionAvailable(1),
                    Property::SubscriptionIdentifierAvailable(1),
                    Property::SharedSubscriptionAvailable(0),
                    Property::ServerKeepAlive(45),
                    Property::ResponseInformation("ri".into()),
                    Property::ServerReference("other".into()),
                    Property::AuthenticationMethod("m".into()),
                    Property::AuthenticationData(vec![3]),
                ]),
            }),
            Packet::Publish(Publish {
                dup: true,
                qos: QoS::AtLeastOnce,
                retain: true,
                topic: "a/b".into(),
                packet_id: Some(7),
                properties: props(vec![
                    Property::PayloadFormatIndicator(0),
                    Property::MessageExpiryInterval(5),
                    Property::TopicAlias(2),
                    Property::ResponseTopic("resp".into()),
                    Property::CorrelationData(vec![1]),
                    user(),
                    Property::SubscriptionIdentifier(1),
                    Property::SubscriptionIdentifier(300),
                    Property::ContentType("ct".into()),
                ]),
                payload: vec![0, 1, 2, 255],
            }),
            Packet::Publish(Publish {
                topic: "q0".into(),
                payload: Vec::new(),
                ..Publish::default()
            }),
            Packet::PubAck(Ack {
                packet_id: 7,
                code: code(ReasonCode::NO_MATCHING_SUBSCRIBERS),
                properties: props(vec![reason(), user()]),
            }),
            Packet::PubRec(Ack {
                packet_id: 8,
                code: code(ReasonCode::QUOTA_EXCEEDED),
                properties: Properties::new(),
            }),
            Packet::PubRel(Ack::new(9)),
            Packet::PubComp(Ack {
                packet_id: 9,
                code: ReasonCode::SUCCESS,
                properties: props(vec![reason()]),
            }),
            Packet::Subscribe(Subscribe {
                packet_id: 10,
                properties: props(vec![Property::SubscriptionIdentifier(42), user()]),
                filters: vec![
                    Subscription::new("a/#", QoS::AtLeastOnce),
                    Subscription {
                        filter: "+/b".into(),
                        options: SubscriptionOptions {
                            qos: QoS::ExactlyOnce,
                            no_local: v5,
                            retain_as_published: v5,
                            retain_handling: if v5 {
                                RetainHandling::SendAtSubscribeIfNew
                            } else {
                                RetainHandling::SendAtSubscribe
                            },
                        },
                    },
                ],
            }),
            Packet::SubAck(SubAck {
                packet_id: 10,
                properties: props(vec![reason()]),
                codes: vec![ReasonCode::GRANTED_QOS_1, ReasonCode(0x80)],
            }),
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 11,
                properties: props(vec![user()]),
                filters: vec!["a/#".into(), "x".into()],
            }),
            Packet::UnsubAck(UnsubAck {
                packet_id: 11,
                properties: props(vec![reason()]),
                codes: if v5 {
                    vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
                } else {
                    Vec::new()
                },
            }),
            Packet::PingReq,
            Packet::PingResp,
            Packet::Disconnect(Disconnect {
                code: code(ReasonCode::SERVER_SHUTTING_DOWN),
                properties: props(vec![
                    Property::SessionExpiryInterval(0),
                    reason(),
                    Property::ServerReference("s2".into()),
                ]),
            }),
        ]
        .into_iter()
        .chain(v5.then(|| {
            Packet::Auth(Auth {
                code: ReasonCode::RE_AUTHENTICATE,
                properties: Properties(vec![
                    Property::AuthenticationMethod("m".into()),
                    Property::AuthenticationData(vec![7]),
                    reason(),
                ]),
            })
        }))
        .collect()
    }

    #[test]
    fn round_trip_every_packet_both_versions() {
        for version in [Version::V311, Version::V5] {
            let samples = samples(version);
            let kinds: std::collections::BTreeSet<_> =
                samples.iter().map(|p| p.packet_type()).collect();
            assert_eq!(kinds.len(), if version == Version::V5 { 15 } else { 14 });
            for p in samples {
                let mut out = vec![0xa5; 3];
                p.emit(version, &mut out);
                let frame = &out[3..];
                assert_eq!(frame.len(), p.encoded_len(version), "{p:?}");
                assert_eq!(
                    decode(frame, version),
                    Ok(Decoded::Done(p.clone(), frame.len())),
                    "{version:?} {p:?}"
                );
                // and every prefix asks for more instead of failing
                for cut in 0..frame.len() {
                    assert!(
                        matches!(decode(&frame[..cut], version), Ok(Decoded::NeedMore(_))),
                        "{p:?} cut at {cut}"
                    );
                }
                let (lenient, problems) = decode_lenient(frame, version);
                assert_eq!(lenient.as_ref(), Some(&p));
                assert!(problems.is_empty(), "{problems:?}");
            }
        }
    }

    #[test]
    fn reserved_type_and_flags() {
        let e = decode(&[0x00, 0x00], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.1.2", 0));
        let e = decode(&[0xc1, 0x00], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-2.1.3-1", 0));
        let e = decode(&[0xd0, 0x01, 0x00], Version::V311).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§2.2.3", 2));
        let e = decode(&[0xc0, 0x80, 0x00], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("MQTT-1.5.5-1", 1));
        let e = decode(&[0xc0, 0x80, 0x80, 0x80, 0x80, 0x00], Version::V5).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("§1.5.5", 1));
    }

    #[test]
    fn violation_display() {
        let e = decode(&[0x82, 3, 0, 1, 0], Version::V5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[MQTT-3.8.3-2] SUBSCRIBE has no topic filters at offset 5"
        );
    }
}
