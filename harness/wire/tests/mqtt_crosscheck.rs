//! Cross-checks hilt's MQTT codec against an independent implementation (mqttbytes 0.6,
//! v4 and v5 modules): frames we encode must decode there to the same fields, and
//! frames it encodes must decode here to the same fields.

use bytes::{Bytes, BytesMut};
use hilt_wire::Decoded;
use hilt_wire::mqtt::{
    Ack, Connect, Packet, Properties, Property, Publish, QoS, ReasonCode, SubAck, Subscribe,
    Subscription, Unsubscribe, Version, Will, decode,
};
use mqttbytes::{v4, v5};

fn theirs_qos(q: QoS) -> mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttbytes::QoS::ExactlyOnce,
    }
}

fn ours(frame: &[u8], version: Version) -> Packet {
    match decode(frame, version) {
        Ok(Decoded::Done(p, n)) if n == frame.len() => p,
        other => panic!("{other:?} for {frame:02x?}"),
    }
}

fn v4_read(frame: &[u8]) -> v4::Packet {
    let mut buf = BytesMut::from(frame);
    v4::read(&mut buf, 1 << 20).expect("mqttbytes v4 decodes our frame")
}

fn v5_read(frame: &[u8]) -> v5::Packet {
    let mut buf = BytesMut::from(frame);
    v5::read(&mut buf, 1 << 20).expect("mqttbytes v5 decodes our frame")
}

fn sample_connect() -> Connect {
    Connect {
        clean_start: true,
        keep_alive: 42,
        client_id: "hilt-x".into(),
        will: Some(Will {
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "w/t".into(),
            payload: b"gone".to_vec(),
            properties: Properties::new(),
        }),
        username: Some("alice".into()),
        password: Some(b"pw".to_vec()),
        properties: Properties::new(),
    }
}

fn sample_publishes() -> Vec<Publish> {
    vec![
        Publish {
            topic: "a/b".into(),
            payload: b"hello".to_vec(),
            ..Publish::default()
        },
        Publish {
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "sensors/1/temp".into(),
            packet_id: Some(513),
            payload: vec![0xa5; 1024],
            ..Publish::default()
        },
        Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            topic: "x".into(),
            packet_id: Some(65_535),
            payload: Vec::new(),
            ..Publish::default()
        },
    ]
}

#[test]
fn v311_ours_to_theirs() {
    let c = sample_connect();
    match v4_read(&Packet::Connect(c.clone()).to_bytes(Version::V311)) {
        v4::Packet::Connect(t) => {
            assert_eq!(t.client_id, c.client_id);
            assert_eq!(t.keep_alive, c.keep_alive);
            assert_eq!(t.clean_session, c.clean_start);
            let will = t.last_will.expect("will");
            assert_eq!(will.topic, "w/t");
            assert_eq!(&will.message[..], b"gone");
            assert_eq!(will.qos, mqttbytes::QoS::AtLeastOnce);
            assert!(will.retain);
            let login = t.login.expect("login");
            assert_eq!(
                (login.username.as_str(), login.password.as_str()),
                ("alice", "pw")
            );
        }
        other => panic!("{other:?}"),
    }
    for p in sample_publishes() {
        match v4_read(&Packet::Publish(p.clone()).to_bytes(Version::V311)) {
            v4::Packet::Publish(t) => {
                assert_eq!(t.topic, p.topic);
                assert_eq!(t.qos, theirs_qos(p.qos));
                assert_eq!((t.dup, t.retain), (p.dup, p.retain));
                assert_eq!(t.pkid, p.packet_id.unwrap_or(0));
                assert_eq!(&t.payload[..], &p.payload[..]);
            }
            other => panic!("{other:?}"),
        }
    }
    let s = Subscribe {
        packet_id: 9,
        properties: Properties::new(),
        filters: vec![
            Subscription::new("a/#", QoS::AtLeastOnce),
            Subscription::new("+/b", QoS::ExactlyOnce),
        ],
    };
    match v4_read(&Packet::Subscribe(s).to_bytes(Version::V311)) {
        v4::Packet::Subscribe(t) => {
            assert_eq!(t.pkid, 9);
            let got: Vec<_> = t.filters.iter().map(|f| (f.path.as_str(), f.qos)).collect();
            assert_eq!(
                got,
                [
                    ("a/#", mqttbytes::QoS::AtLeastOnce),
                    ("+/b", mqttbytes::QoS::ExactlyOnce)
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    match v4_read(&Packet::PubAck(Ack::new(77)).to_bytes(Version::V311)) {
        v4::Packet::PubAck(t) => assert_eq!(t.pkid, 77),
        other => panic!("{other:?}"),
    }
    match v4_read(&Packet::PubRel(Ack::new(78)).to_bytes(Version::V311)) {
        v4::Packet::PubRel(t) => assert_eq!(t.pkid, 78),
        other => panic!("{other:?}"),
    }
    let u = Unsubscribe {
        packet_id: 4,
        properties: Properties::new(),
        filters: vec!["a".into(), "b/c".into()],
    };
    match v4_read(&Packet::Unsubscribe(u).to_bytes(Version::V311)) {
        v4::Packet::Unsubscribe(t) => {
            assert_eq!(t.pkid, 4);
            assert_eq!(t.topics, ["a", "b/c"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        v4_read(&Packet::PingReq.to_bytes(Version::V311)),
        v4::Packet::PingReq
    );
}

#[test]
fn v311_theirs_to_ours() {
    let mut buf = BytesMut::new();
    let mut c = v4::Connect::new("their-client");
    c.keep_alive = 17;
    c.set_login("bob", "secret");
    c.last_will = Some(v4::LastWill::new(
        "lw",
        "bye",
        mqttbytes::QoS::ExactlyOnce,
        false,
    ));
    c.write(&mut buf).expect("write");
    let Packet::Connect(ours_c) = ours(&buf, Version::V311) else {
        panic!()
    };
    assert_eq!(ours_c.client_id, "their-client");
    assert_eq!(ours_c.keep_alive, 17);
    assert_eq!(ours_c.username.as_deref(), Some("bob"));
    assert_eq!(ours_c.password.as_deref(), Some(&b"secret"[..]));
    let will = ours_c.will.expect("will");
    assert_eq!((will.topic.as_str(), will.qos), ("lw", QoS::ExactlyOnce));

    for (qos, pkid) in [
        (mqttbytes::QoS::AtMostOnce, 0),
        (mqttbytes::QoS::AtLeastOnce, 9),
    ] {
        let mut buf = BytesMut::new();
        let mut p = v4::Publish::from_bytes("t/1", qos, Bytes::from_static(b"payload"));
        p.pkid = pkid;
        p.retain = true;
        p.write(&mut buf).expect("write");
        let Packet::Publish(ours_p) = ours(&buf, Version::V311) else {
            panic!()
        };
        assert_eq!(ours_p.topic, "t/1");
        assert_eq!(ours_p.payload, b"payload");
        assert!(ours_p.retain);
        assert_eq!(ours_p.packet_id.unwrap_or(0), pkid);
    }

    let mut buf = BytesMut::new();
    v4::SubAck::new(
        5,
        vec![
            v4::SubscribeReasonCode::Success(mqttbytes::QoS::AtLeastOnce),
            v4::SubscribeReasonCode::Failure,
        ],
    )
    .write(&mut buf)
    .expect("write");
    assert_eq!(
        ours(&buf, Version::V311),
        Packet::SubAck(SubAck {
            packet_id: 5,
            properties: Properties::new(),
            codes: vec![ReasonCode(1), ReasonCode(0x80)],
        })
    );
    // mqttbytes leaves a new SUBSCRIBE's packet identifier at 0, which 3.1.1 forbids;
    // ours must say so, and accept it once an identifier is set.
    let mut sub = v4::Subscribe::new("s/#", mqttbytes::QoS::AtLeastOnce);
    let mut buf = BytesMut::new();
    sub.write(&mut buf).expect("write");
    let err = decode(&buf, Version::V311).unwrap_err();
    assert_eq!((err.rule.id, err.offset), ("MQTT-2.3.1-1", 2));
    sub.pkid = 5;
    let mut buf = BytesMut::new();
    sub.write(&mut buf).expect("write");
    let Packet::Subscribe(s) = ours(&buf, Version::V311) else {
        panic!()
    };
    assert_eq!(s.filters, [Subscription::new("s/#", QoS::AtLeastOnce)]);
}

#[test]
fn v5_ours_to_theirs() {
    let mut c = sample_connect();
    c.properties = Properties::new()
        .with(Property::SessionExpiryInterval(120))
        .with(Property::ReceiveMaximum(16))
        .with(Property::UserProperty("k".into(), "v".into()));
    match v5_read(&Packet::Connect(c.clone()).to_bytes(Version::V5)) {
        v5::Packet::Connect(t) => {
            assert_eq!(t.client_id, c.client_id);
            assert_eq!(t.keep_alive, 42);
            let props = t.properties.expect("properties");
            assert_eq!(props.session_expiry_interval, Some(120));
            assert_eq!(props.receive_maximum, Some(16));
            assert_eq!(props.user_properties, [("k".to_string(), "v".to_string())]);
            assert_eq!(t.login.expect("login").username, "alice");
        }
        other => panic!("{other:?}"),
    }
    for mut p in sample_publishes() {
        p.properties = Properties::new()
            .with(Property::MessageExpiryInterval(30))
            .with(Property::ContentType("text/plain".into()));
        match v5_read(&Packet::Publish(p.clone()).to_bytes(Version::V5)) {
            v5::Packet::Publish(t) => {
                assert_eq!(t.topic, p.topic);
                assert_eq!(t.qos, theirs_qos(p.qos));
                assert_eq!(t.pkid, p.packet_id.unwrap_or(0));
                assert_eq!(&t.payload[..], &p.payload[..]);
                let props = t.properties.expect("properties");
                assert_eq!(props.message_expiry_interval, Some(30));
                assert_eq!(props.content_type.as_deref(), Some("text/plain"));
            }
            other => panic!("{other:?}"),
        }
    }
    let ack = Ack {
        packet_id: 3,
        code: ReasonCode::NO_MATCHING_SUBSCRIBERS,
        properties: Properties::new().with(Property::ReasonString("none".into())),
    };
    match v5_read(&Packet::PubAck(ack).to_bytes(Version::V5)) {
        v5::Packet::PubAck(t) => {
            assert_eq!(t.pkid, 3);
            assert_eq!(t.reason, v5::PubAckReason::NoMatchingSubscribers);
            assert_eq!(
                t.properties.expect("properties").reason_string.as_deref(),
                Some("none")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn v5_theirs_to_ours() {
    let mut buf = BytesMut::new();
    let mut p = v5::Publish::from_bytes(
        "v5/t",
        mqttbytes::QoS::AtLeastOnce,
        Bytes::from(vec![7u8; 16]),
    );
    p.pkid = 11;
    p.properties = Some(v5::PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(9),
        topic_alias: Some(3),
        response_topic: Some("reply/here".into()),
        correlation_data: Some(Bytes::from_static(b"cd")),
        user_properties: vec![("a".into(), "b".into())],
        subscription_identifiers: vec![],
        content_type: Some("ct".into()),
    });
    p.write(&mut buf).expect("write");
    let Packet::Publish(o) = ours(&buf, Version::V5) else {
        panic!()
    };
    assert_eq!((o.topic.as_str(), o.packet_id), ("v5/t", Some(11)));
    assert_eq!(o.payload, vec![7u8; 16]);
    assert_eq!(o.properties.topic_alias(), Some(3));
    let have = |prop: Property| o.properties.iter().any(|p| *p == prop);
    assert!(have(Property::PayloadFormatIndicator(1)));
    assert!(have(Property::MessageExpiryInterval(9)));
    assert!(have(Property::ResponseTopic("reply/here".into())));
    assert!(have(Property::CorrelationData(b"cd".to_vec())));
    assert!(have(Property::UserProperty("a".into(), "b".into())));
    assert!(have(Property::ContentType("ct".into())));

    let mut buf = BytesMut::new();
    let mut c = v5::Connect::new("c5");
    c.properties = Some(v5::ConnectProperties {
        session_expiry_interval: Some(5),
        receive_maximum: Some(2),
        max_packet_size: Some(4096),
        topic_alias_max: Some(10),
        request_response_info: Some(1),
        request_problem_info: Some(0),
        user_properties: vec![],
        authentication_method: None,
        authentication_data: None,
    });
    c.write(&mut buf).expect("write");
    let Packet::Connect(o) = ours(&buf, Version::V5) else {
        panic!()
    };
    assert_eq!(o.client_id, "c5");
    assert_eq!(o.properties.receive_maximum(), Some(2));
    assert_eq!(o.properties.maximum_packet_size(), Some(4096));
    assert_eq!(o.properties.topic_alias_maximum(), Some(10));

    let mut buf = BytesMut::new();
    let mut s = v5::Subscribe::new("f/+", mqttbytes::QoS::ExactlyOnce);
    if let Some(f) = s.filters.first_mut() {
        f.set_nolocal(true).set_preserve_retain(true);
    }
    s.pkid = 21;
    s.write(&mut buf).expect("write");
    let Packet::Subscribe(o) = ours(&buf, Version::V5) else {
        panic!()
    };
    assert_eq!(o.packet_id, 21);
    let f = &o.filters[0];
    assert_eq!(
        (f.filter.as_str(), f.options.qos),
        ("f/+", QoS::ExactlyOnce)
    );
    assert!(f.options.no_local && f.options.retain_as_published);
}
