//! Byte fixtures for whole messages and datagrams, raw builders for malformed ones, and
//! a deterministic sweep that no input panics and whatever parses re-emits to itself.

use std::net::Ipv6Addr;

use super::*;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// A DIO from root fd00::1: Instance 30, Version 240, Rank 256, grounded, Non-Storing,
/// DTSN 240; a DODAG Configuration (OF0, MinHopRankIncrease 256) and a Prefix
/// Information for fd00::/64. Checksum zero (emit writes it so).
static DIO: [u8; 84] = [
    0x9b, 0x01, 0x00, 0x00, //
    0x1e, 0xf0, 0x01, 0x00, 0x88, 0xf0, 0x00, 0x00, //
    0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, //
    0x04, 0x0e, 0x00, 0x14, 0x03, 0x0a, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
    0xff, //
    0x08, 0x1e, 0x40, 0x60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, //
    0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, //
    0x02, 0x06, 0x07, 0x00, 0x00, 0x02, 0x00, 0x80,
];

fn dio() -> Dio {
    Dio {
        instance_id: 30,
        version: 240,
        rank: 256,
        grounded: true,
        zero_bit: false,
        mop: Mop::NonStoring,
        preference: 0,
        dtsn: 240,
        flags: 0,
        reserved: 0,
        dodag_id: a("fd00::1"),
        options: vec![
            RplOption::DodagConfiguration(DodagConfiguration {
                dio_interval_doublings: 20,
                dio_interval_min: 3,
                dio_redundancy_constant: 10,
                max_rank_increase: 1792,
                min_hop_rank_increase: 256,
                objective_code_point: 0,
                default_lifetime: 0xff,
                lifetime_unit: 0xffff,
                ..DodagConfiguration::default()
            }),
            RplOption::PrefixInformation(PrefixInformation {
                prefix_len: 64,
                on_link: false,
                autonomous: true,
                router_address: true,
                reserved1: 0,
                valid_lifetime: u32::MAX,
                preferred_lifetime: u32::MAX,
                reserved2: 0,
                prefix: a("fd00::1"),
            }),
            RplOption::DagMetricContainer(vec![0x07, 0x00, 0x00, 0x02, 0x00, 0x80]),
        ],
    }
}

/// A Non-Storing DAO from fd00::2 to the root: K set, sequence 0xf1, no DODAGID;
/// Target fd00::2/128 and Transit Information with parent fd00::1.
static DAO: [u8; 50] = [
    0x9b, 0x02, 0x00, 0x00, //
    0x1e, 0x80, 0x00, 0xf1, //
    0x05, 0x12, 0x00, 0x80, 0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, //
    0x06, 0x14, 0x00, 0x00, 0x00, 0x1e, 0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
];

fn dao() -> Dao {
    Dao {
        instance_id: 30,
        expect_ack: true,
        flags: 0,
        reserved: 0,
        sequence: 0xf1,
        dodag_id: None,
        options: vec![
            RplOption::target(a("fd00::2")),
            RplOption::TransitInformation(TransitInformation {
                external: false,
                flags: 0,
                path_control: 0,
                path_sequence: 0,
                path_lifetime: 30,
                parent: Some(a("fd00::1")),
            }),
        ],
    }
}

#[test]
fn test_parse_dio() {
    let m = RplMessage::parse(&DIO).unwrap();
    assert_eq!(m, RplMessage::Dio(dio()));
    let view = RplView::new_checked(&DIO[..]).unwrap();
    assert_eq!(
        (
            view.code(),
            view.instance_id(),
            view.dio_rank(),
            view.dio_version()
        ),
        (Code::Dio, 30, 256, 240)
    );
    assert_eq!((view.dio_dtsn(), view.dio_dodag_id()), (240, a("fd00::1")));
    let kinds: Vec<u8> = view.options().map(|o| o.unwrap().kind).collect();
    assert_eq!(kinds, vec![4, 8, 2]);
    let RplOption::DagMetricContainer(mc) = &dio().options[2] else {
        unreachable!()
    };
    let etx: Vec<_> = metric_objects(mc, 0).map(|o| o.unwrap().etx()).collect();
    assert_eq!(etx, vec![Some(128)]);
}

#[test]
fn test_emit_dio() {
    let m = RplMessage::Dio(dio());
    assert_eq!(m.buffer_len(), DIO.len());
    let mut buf = [0xa5u8; 84];
    m.emit(&mut buf);
    assert_eq!(buf, DIO);
}

#[test]
fn test_parse_and_emit_dao() {
    assert_eq!(RplMessage::parse(&DAO).unwrap(), RplMessage::Dao(dao()));
    let mut buf = [0xa5u8; 50];
    RplMessage::Dao(dao()).emit(&mut buf);
    assert_eq!(buf, DAO);
}

#[test]
fn dis_dao_ack_and_d_flag_round_trip() {
    let si = SolicitedInformation {
        instance_id: 30,
        version_predicate: false,
        instance_predicate: true,
        dodag_id_predicate: true,
        flags: 0,
        dodag_id: a("fd00::1"),
        version: 0,
    };
    let msgs = [
        RplMessage::Dis(Dis::default()),
        RplMessage::Dis(Dis {
            flags: 0,
            reserved: 0,
            options: vec![RplOption::SolicitedInformation(si), RplOption::Pad1],
        }),
        RplMessage::Dao(Dao {
            dodag_id: Some(a("fd00::1")),
            options: vec![RplOption::TargetDescriptor(7)],
            ..dao()
        }),
        RplMessage::DaoAck(DaoAck {
            instance_id: 30,
            reserved: 0,
            sequence: 0xf1,
            status: 0,
            dodag_id: None,
            options: vec![],
        }),
        RplMessage::DaoAck(DaoAck {
            instance_id: 1,
            reserved: 0,
            sequence: 3,
            status: 130,
            dodag_id: Some(a("fd00::1")),
            options: vec![RplOption::PadN(vec![0, 0])],
        }),
        RplMessage::Unknown {
            code: 0x04,
            body: vec![1, 2, 3],
        },
    ];
    for m in msgs {
        let mut buf = vec![0xa5u8; m.buffer_len()];
        m.emit(&mut buf);
        assert_eq!(RplMessage::parse(&buf).unwrap(), m, "{buf:02x?}");
        RplView::new_checked(&buf[..]).unwrap();
    }
    // The empty DIS is four octets of header and two of base.
    assert_eq!(
        RplMessage::Dis(Dis::default())
            .to_bytes(&a("fe80::1"), &ALL_RPL_NODES)
            .len(),
        6
    );
}

#[test]
fn secure_variants_and_consistency_check() {
    // Secure DIO, KIM 2 (Key Source + Index, 9 octets), LVL 1: identified, kept raw.
    let sec = RawMessage::new(0x81)
        .raw(&[0x00, 0x00, 0x81, 0x00, 0, 0, 0, 5])
        .raw(&[1, 2, 3, 4, 5, 6, 7, 8, 9])
        .raw(&[0xee; 12])
        .build();
    let RplMessage::Secure(s) = RplMessage::parse(&sec).unwrap() else {
        panic!()
    };
    assert_eq!(
        (s.code, s.security.kim, s.security.lvl, s.security.counter),
        (Code::SecureDio, 2, 1, 5)
    );
    assert_eq!(
        s.security.key_identifier.as_deref(),
        Some(&[1u8, 2, 3, 4, 5, 6, 7, 8, 9][..])
    );
    assert_eq!(s.payload.len(), 12);
    assert!(s.cleartext().is_none(), "LVL 1 is encrypted");
    let again = RplMessage::Secure(s.clone());
    let mut buf = vec![0xa5; again.buffer_len()];
    again.emit(&mut buf);
    assert_eq!(buf, sec);
    // A Consistency Check, KIM 0, LVL 0 (32-bit MAC, no encryption): base readable.
    let cc = ConsistencyCheck {
        instance_id: 30,
        response: true,
        flags: 0,
        nonce: 0xbeef,
        dodag_id: a("fd00::1"),
        destination_counter: 9,
        options: vec![],
    };
    let mut base = vec![0u8; cc.buffer_len()];
    cc.emit_base(&mut base);
    let msg = RawMessage::new(0x8a)
        .raw(&[0, 0, 0x00, 0, 0, 0, 0, 1, 0x07])
        .raw(&base)
        .raw(&[0xaa; 4])
        .build();
    let RplMessage::Secure(s) = RplMessage::parse(&msg).unwrap() else {
        panic!()
    };
    assert_eq!(s.code, Code::ConsistencyCheck);
    assert_eq!(s.consistency_check(), Some(Ok(cc)));
    // A Security section cut short names its rule.
    let e = RplMessage::parse(&RawMessage::new(0x80).raw(&[0, 0, 0x80, 0]).build()).unwrap_err();
    assert_eq!(e.rule.id, "RFC6550-6.1-1");
    let e = RplMessage::parse(
        &RawMessage::new(0x80)
            .raw(&[0, 0, 0x80, 0, 0, 0, 0, 0, 1])
            .build(),
    )
    .unwrap_err();
    assert_eq!(e.rule.id, "RFC6550-6.1-1");
}

#[test]
fn test_impossible_len_messages() {
    let cases: [(&[u8], &str, usize); 7] = [
        (&DIO[..27], "RFC6550-6.3.1-1", 27),
        (&[0x9b, 0x00, 0, 0, 0], "RFC6550-6.2.1-1", 5),
        (&DAO[..7], "RFC6550-6.4.1-1", 7),
        (
            &[0x9b, 0x02, 0, 0, 0x1e, 0x40, 0, 1, 0xfd],
            "RFC6550-6.4.1-1",
            9,
        ),
        (&[0x9b, 0x03, 0, 0, 0x1e, 0x80, 0, 1], "RFC6550-6.5.1-1", 8),
        (&[0x9b, 0x01, 0], "RFC4443-2.1-1", 3),
        (&[0x80, 0x00, 0, 0, 0, 0], "RFC6550-6-1", 0),
    ];
    for (bytes, id, offset) in cases {
        let e = RplMessage::parse(bytes).unwrap_err();
        assert_eq!((e.rule.id, e.offset), (id, offset), "{bytes:02x?}");
        assert!(RplView::new_checked(bytes).is_err());
    }
    // An option overrunning the message, offset at its Length octet.
    let mut over = DAO.to_vec();
    over[9] = 0xff;
    let e = RplMessage::parse(&over).unwrap_err();
    assert_eq!((e.rule.id, e.offset), ("RFC6550-6.7.1-1", 9));
}

#[test]
fn raw_builders_for_malformed_messages() {
    let dio_base = |m: RawMessage| m.raw(&DIO[4..28]);
    // MinHopRankIncrease 0.
    let conf = [
        0x00, 20, 3, 10, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    ];
    let e = RplMessage::parse(&dio_base(RawMessage::new(1)).option(4, &conf).build()).unwrap_err();
    assert_eq!((e.rule.id, e.offset), ("RFC6550-6.7.6-2", 28 + 8));
    // A DODAG Configuration with a lying Length.
    let e = RplMessage::parse(
        &dio_base(RawMessage::new(1))
            .option_with_len(4, 12, &conf[..12])
            .build(),
    )
    .unwrap_err();
    assert_eq!(e.rule.id, "RFC6550-6.7.6-1");
    // A zero-length target, and a target whose prefix is longer than its option.
    let dao_base = |m: RawMessage| m.u8(30).u8(0).u8(0).u8(1);
    let e =
        RplMessage::parse(&dao_base(RawMessage::new(2)).option(5, &[0, 0]).build()).unwrap_err();
    assert_eq!(e.rule.id, "RFC6550-6.7.7-2");
    let e = RplMessage::parse(
        &dao_base(RawMessage::new(2))
            .option(5, &[0, 128, 0xfd])
            .build(),
    )
    .unwrap_err();
    assert_eq!(e.rule.id, "RFC6550-6.7.7-1");
    // An unknown option is kept, not rejected.
    let m = RplMessage::parse(&dao_base(RawMessage::new(2)).option(0x2a, &[9]).build()).unwrap();
    assert_eq!(
        m.options(),
        &[RplOption::Unknown {
            kind: 0x2a,
            data: vec![9]
        }]
    );
    // An unknown code too.
    let m = RplMessage::parse(&RawMessage::new(0x7f).u8(1).build()).unwrap();
    assert_eq!(m.code(), Code::Unknown(0x7f));
    // And a wrong checksum is named once the addresses are known.
    let (src, dst) = (a("fe80::2"), ALL_RPL_NODES);
    let good = dao_base(RawMessage::new(2)).build_checksummed(&src, &dst);
    assert!(RplMessage::parse_checked(&good, &src, &dst).is_ok());
    let mut bad = good.clone();
    bad[3] ^= 1;
    let e = RplMessage::parse_checked(&bad, &src, &dst).unwrap_err();
    assert_eq!((e.rule.id, e.offset), ("RFC4443-2.3-1", 2));
    let d = raw_icmpv6_datagram(src, dst, &dao_base(RawMessage::new(2)));
    assert!(Datagram::parse(&d).is_ok());
}

#[test]
fn datagram_with_rpl_option_and_source_route() {
    let root = a("fd00::1");
    let mut d = Datagram::control(root, a("fd00::2"), RplMessage::Dio(dio()));
    assert_eq!(
        Datagram::parse(&d.to_bytes()).unwrap(),
        Datagram {
            ipv6: Ipv6Repr {
                payload_len: 84,
                ..d.ipv6
            },
            ..d.clone()
        }
    );
    d.hop_by_hop = Some(HopByHop::with_rpl(0, RplHopOption::new(30, 256, true)));
    d.routing = Some(SourceRoute::compress(
        0,
        &a("fd00::2"),
        vec![a("fd00::3"), a("fd00::4")],
    ));
    let bytes = d.to_bytes();
    let back = Datagram::parse(&bytes).unwrap();
    assert_eq!(
        back.hop_by_hop.as_ref().unwrap().rpl(),
        Some(&RplHopOption::new(30, 256, true))
    );
    assert_eq!(
        back.routing.as_ref().unwrap().addresses,
        vec![a("fd00::3"), a("fd00::4")]
    );
    assert_eq!(back.payload, Payload::Rpl(RplMessage::Dio(dio())));
    assert_eq!(back.ipv6.next_header, next_header::HOP_BY_HOP);
    // Corrupt one octet of the DIO: the checksum catches it, at its offset in the datagram.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let e = Datagram::parse(&bad).unwrap_err();
    assert_eq!((e.rule.id, e.offset), ("RFC4443-2.3-1", 40 + 8 + 16 + 2));
    // A Hop-by-Hop header after the routing header.
    let mut w2 = raw_ipv6(root, a("fd00::2"), next_header::ROUTING, &{
        let mut p = bytes[48..64].to_vec();
        p[0] = next_header::HOP_BY_HOP;
        p.extend_from_slice(&bytes[40..48]);
        p.extend_from_slice(&bytes[64..]);
        p
    });
    let e = Datagram::parse(&w2).unwrap_err();
    assert_eq!((e.rule.id, e.offset), ("RFC8200-4.1-1", 56));
    w2.truncate(50);
    assert!(Datagram::parse(&w2).is_err());
    // Something other than ICMPv6 is carried, not judged.
    let udp = raw_ipv6(root, a("fd00::2"), 17, &[0, 1, 2, 3]);
    assert_eq!(
        Datagram::parse(&udp).unwrap().payload,
        Payload::Other {
            next_header: 17,
            bytes: vec![0, 1, 2, 3]
        }
    );
}

#[test]
fn every_rule_has_a_distinct_id_in_the_manifest_doc() {
    let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert!(Rule::ALL.iter().all(|r| r.spec_ref().doc == "rpl-rfc6550"));
}

/// Feeds every parser and view `bytes`; whatever parses must re-emit to an equal repr.
pub(crate) fn exercise(bytes: &[u8]) {
    if let Ok(m) = RplMessage::parse(bytes) {
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        assert_eq!(RplMessage::parse(&buf).as_ref(), Ok(&m), "{bytes:02x?}");
        if let RplMessage::Secure(s) = &m {
            let _ = s.consistency_check();
        }
        for o in m.options() {
            if let RplOption::DagMetricContainer(mc) = o {
                for obj in metric_objects(mc, 0).flatten() {
                    let _ = (obj.etx(), obj.hop_count(), obj.is_constraint());
                }
            }
        }
    }
    if let Ok(v) = RplView::new_checked(bytes) {
        let _ = (
            v.instance_id(),
            v.dio_rank(),
            v.dio_dodag_id(),
            v.options().count(),
        );
    }
    let _ = RplView::new_checked(bytes).map(|v| v.options().count());
    let unchecked = Ipv6Packet::new_unchecked(bytes);
    let _ = (
        unchecked.payload().len(),
        unchecked.flow_label(),
        unchecked.src_addr(),
    );
    if let Ok(d) = Datagram::parse(bytes) {
        let again = d.to_bytes();
        assert_eq!(Datagram::parse(&again).as_ref(), Ok(&d), "{bytes:02x?}");
    }
    let _ = HopByHop::parse(bytes);
    let _ = SourceRoute::parse(bytes, &Ipv6Addr::UNSPECIFIED);
    let _ = RplOption::parse_all(bytes, 0);
}

#[test]
fn sweep_never_panics_and_round_trips() {
    let (root, node) = (a("fd00::1"), a("fd00::2"));
    let mut dg = Datagram::control(root, node, RplMessage::Dao(dao()));
    dg.hop_by_hop = Some(HopByHop::with_rpl(0, RplHopOption::new(30, 512, false)));
    dg.routing = Some(SourceRoute::compress(
        0,
        &node,
        vec![a("fd00::3"), a("fd00::9")],
    ));
    let seeds: Vec<Vec<u8>> = vec![
        DIO.to_vec(),
        DAO.to_vec(),
        RplMessage::Dis(Dis::default()).to_bytes(&root, &node),
        Datagram::control(root, ALL_RPL_NODES, RplMessage::Dio(dio())).to_bytes(),
        dg.to_bytes(),
        RawMessage::new(0x8a)
            .raw(&[0, 0, 0, 0, 0, 0, 0, 1, 7])
            .raw(&[0; 28])
            .build(),
    ];
    let mut rng = SplitMix64::new(2024);
    let mut runs = 0u32;
    for seed in &seeds {
        for cut in 0..=seed.len() {
            exercise(&seed[..cut]);
            runs += 1;
        }
        for at in 0..seed.len() {
            for v in [0x00, 0x01, 0x05, 0x7f, 0x80, 0xff, seed[at] ^ 0x40] {
                let mut m = seed.clone();
                m[at] = v;
                exercise(&m);
                runs += 1;
            }
        }
        for _ in 0..2000 {
            let mut m = seed.clone();
            for _ in 0..1 + rng.next_u64() % 4 {
                let i = (rng.next_u64() as usize) % m.len();
                m[i] = rng.next_u64() as u8;
            }
            let keep = (rng.next_u64() as usize) % (m.len() + 1);
            exercise(&m[..keep.max(m.len() / 2)]);
            runs += 1;
        }
    }
    for _ in 0..5000 {
        let n = (rng.next_u64() % 120) as usize;
        let mut m: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
        if let Some(first) = m.get_mut(0) {
            *first = 0x9b;
        }
        exercise(&m);
        runs += 1;
    }
    assert!(runs > 20_000);
}
