//! Cross-check of hilt's AMQP 0-9-1 codec against an independent one: the amq-protocol
//! crate (generated from the same XML by other hands). Every method with non-trivial
//! arguments, a content header with all 14 properties, field tables with every value type
//! RabbitMQ uses, a body and a heartbeat: each frame hilt writes must parse with
//! amq-protocol, consuming every octet, and amq-protocol must write it back octet for
//! octet; and each frame amq-protocol writes must decode with hilt to the same frame.

use amq_protocol::frame::{AMQPFrame, WriteContext, gen_frame, parse_frame};
use hilt_wire::Decoded;
use hilt_wire::amqp091::spec::{METHODS, MethodSpec};
use hilt_wire::amqp091::{
    ArgType, FieldTable, FieldValue, Frame, Method, MethodId, Properties, Value, content_frames,
    decode,
};

fn theirs_write(f: &AMQPFrame) -> Vec<u8> {
    match gen_frame(f)(WriteContext::from(Vec::new())) {
        Ok(ctx) => ctx.write,
        Err(e) => panic!("amq-protocol cannot write {f:?}: {e:?}"),
    }
}

fn theirs_parse(bytes: &[u8]) -> AMQPFrame {
    match parse_frame(bytes) {
        Ok((rest, f)) => {
            assert!(
                rest.is_empty(),
                "amq-protocol left {} octets of {bytes:02x?}",
                rest.len()
            );
            f
        }
        Err(e) => panic!("amq-protocol cannot parse {bytes:02x?}: {e:?}"),
    }
}

/// Field names in sorted order: amq-protocol keeps tables in a sorted map, so only sorted
/// tables come back in the same order.
fn every_field_type() -> FieldTable {
    FieldTable::new()
        .with(
            "A-array",
            FieldValue::Array(vec![FieldValue::I32(-1), "two".into(), FieldValue::Void]),
        )
        .with("B-u8", FieldValue::U8(250))
        .with(
            "D-decimal",
            FieldValue::Decimal {
                scale: 2,
                value: 12345,
            },
        )
        .with(
            "F-table",
            FieldValue::Table(FieldTable::new().with("inner", FieldValue::Bool(true))),
        )
        .with("I-i32", FieldValue::I32(-70_000))
        .with("S-longstr", "text")
        .with("T-timestamp", FieldValue::Timestamp(1_700_000_000))
        .with("V-void", FieldValue::Void)
        .with("b-i8", FieldValue::I8(-2))
        .with("d-f64", FieldValue::F64(-2.25))
        .with("f-f32", FieldValue::F32(1.5))
        .with("i-u32", FieldValue::U32(4_000_000_000))
        .with("l-i64", FieldValue::I64(-5_000_000_000))
        .with("s-i16", FieldValue::I16(-300))
        .with("t-bool", FieldValue::Bool(true))
        .with("u-u16", FieldValue::U16(60_000))
        .with("x-bytes", FieldValue::Bytes(vec![0, 0xff]))
}

/// Method `spec` with every argument set: alternating bits, distinct numbers and
/// strings, the full table.
fn busy(spec: &MethodSpec) -> Method {
    let mut m = Method::new(spec.id());
    for (i, (name, ty)) in spec.args.iter().enumerate() {
        // Reserved arguments stay at zero, as the specification asks; amq-protocol does
        // not keep them (it writes zero whatever it read).
        // amq-protocol models basic.qos without prefetch-size (see the test below).
        if name.starts_with("reserved") || *name == "prefetch-size" {
            continue;
        }
        match ty {
            ArgType::Bit => m.set(name, i % 2 == 0),
            ArgType::ShortStr => m.set(name, format!("s{i}")),
            // connection.start's mechanisms and locales are space-separated words.
            ArgType::LongStr => m.set(name, Value::LongStr(format!("PLAIN L{i}").into_bytes())),
            ArgType::Table => m.set(name, every_field_type()),
            ArgType::Octet => m.set(name, i as u8 + 1),
            _ => m.set(name, 1000 + i as u64),
        }
    }
    m
}

fn frames() -> Vec<Frame> {
    let mut v: Vec<Frame> = METHODS
        .iter()
        .map(|s| Frame::method(if s.class_id == 10 { 0 } else { 3 }, busy(s)))
        .collect();
    let props = Properties::new()
        .with("content-type", "text/plain")
        .with("content-encoding", "utf-8")
        .with("headers", every_field_type())
        .with("delivery-mode", 2u8)
        .with("priority", 9u8)
        .with("correlation-id", "c")
        .with("reply-to", "r")
        .with("expiration", "60000")
        .with("message-id", "m")
        .with("timestamp", Value::Timestamp(1_700_000_000))
        .with("type", "t")
        .with("user-id", "guest")
        .with("app-id", "hilt")
        .with("cluster-id", "x");
    let publish = Method::new(MethodId::BASIC_PUBLISH).with("routing-key", "k");
    v.extend(content_frames(5, publish, props, b"hello", 0));
    v.extend(content_frames(
        5,
        Method::new(MethodId::BASIC_PUBLISH),
        Properties::new(),
        b"",
        0,
    ));
    v.push(Frame::heartbeat());
    v
}

#[test]
fn amq_protocol_reads_and_rewrites_every_frame_hilt_writes() {
    let mut disagreements = Vec::new();
    for f in frames() {
        let ours = f.to_bytes();
        let theirs = theirs_write(&theirs_parse(&ours));
        if theirs != ours {
            disagreements.push(format!(
                "{f}\n  hilt: {ours:02x?}\n  amq-protocol: {theirs:02x?}"
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn hilt_reads_every_frame_amq_protocol_writes_as_the_same_frame() {
    for f in frames() {
        let theirs = theirs_write(&theirs_parse(&f.to_bytes()));
        match decode(&theirs, 0) {
            Ok(Decoded::Done(back, n)) => {
                assert_eq!(n, theirs.len());
                assert_eq!(back, f);
            }
            other => panic!("hilt cannot read amq-protocol's {theirs:02x?}: {other:?}"),
        }
    }
}

/// The one disagreement found: amq-protocol's basic.qos has no prefetch-size (RabbitMQ
/// does not implement it either), so a non-zero prefetch-size hilt writes comes back as
/// zero. hilt keeps it: a test must be able to send what a client may send.
#[test]
fn amq_protocol_drops_basic_qos_prefetch_size() {
    let qos = Frame::method(
        1,
        Method::new(MethodId::BASIC_QOS)
            .with("prefetch-size", 1000u32)
            .with("prefetch-count", 5u16),
    );
    let theirs = theirs_write(&theirs_parse(&qos.to_bytes()));
    let Ok(Decoded::Done(back, _)) = decode(&theirs, 0) else {
        panic!("hilt cannot read {theirs:02x?}")
    };
    let m = back.as_method().expect("a method");
    assert_eq!((m.int("prefetch-size"), m.int("prefetch-count")), (0, 5));
}
