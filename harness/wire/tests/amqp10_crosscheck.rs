//! hilt's AMQP 1.0 codec against an independent one (fe2o3-amqp's serde_amqp), both
//! ways, for every type and its boundary values: what hilt writes serde_amqp reads as the
//! same value, and what serde_amqp writes hilt reads as the same value. Where the two
//! choose different encodings of one value (both legal), each side still reads the
//! other's, and the differences are pinned here.

use hilt_wire::amqp10::{Array, Composite, Message, MessageBody, Value, code};
use serde_amqp::Value as Theirs;
use serde_amqp::described::Described;
use serde_amqp::descriptor::Descriptor;
use serde_amqp::primitives::{
    Array as TheirArray, Binary, Dec32, Dec64, Dec128, OrderedMap, Symbol, Timestamp, Uuid,
};

/// The same value in serde_amqp's model; `None` where it has no equivalent.
fn theirs(v: &Value) -> Option<Theirs> {
    Some(match v {
        Value::Null => Theirs::Null,
        Value::Bool(b) => Theirs::Bool(*b),
        Value::Ubyte(n) => Theirs::Ubyte(*n),
        Value::Ushort(n) => Theirs::Ushort(*n),
        Value::Uint(n) => Theirs::Uint(*n),
        Value::Ulong(n) => Theirs::Ulong(*n),
        Value::Byte(n) => Theirs::Byte(*n),
        Value::Short(n) => Theirs::Short(*n),
        Value::Int(n) => Theirs::Int(*n),
        Value::Long(n) => Theirs::Long(*n),
        Value::Float(x) => Theirs::Float((*x).into()),
        Value::Double(x) => Theirs::Double((*x).into()),
        Value::Decimal32(b) => Theirs::Decimal32(Dec32::from(*b)),
        Value::Decimal64(b) => Theirs::Decimal64(Dec64::from(*b)),
        Value::Decimal128(b) => Theirs::Decimal128(Dec128::from(*b)),
        Value::Char(c) => Theirs::Char(*c),
        Value::Timestamp(t) => Theirs::Timestamp(Timestamp::from_milliseconds(*t)),
        Value::Uuid(u) => Theirs::Uuid(Uuid::from(*u)),
        Value::Binary(b) => Theirs::Binary(Binary::from(b.clone())),
        Value::String(s) => Theirs::String(s.clone()),
        Value::Symbol(s) => Theirs::Symbol(Symbol::from(s.as_str())),
        Value::List(l) => Theirs::List(l.iter().map(theirs).collect::<Option<_>>()?),
        Value::Map(m) => Theirs::Map(
            m.iter()
                .map(|(k, v)| Some((theirs(k)?, theirs(v)?)))
                .collect::<Option<OrderedMap<_, _>>>()?,
        ),
        Value::Array(a) if a.descriptor.is_none() => Theirs::Array(TheirArray(
            a.items.iter().map(theirs).collect::<Option<_>>()?,
        )),
        Value::Array(_) => return None,
        Value::Described(d, v) => {
            let descriptor = match &**d {
                Value::Ulong(c) => Descriptor::Code(*c),
                Value::Symbol(s) => Descriptor::Name(Symbol::from(s.as_str())),
                _ => return None,
            };
            Theirs::Described(Box::new(Described {
                descriptor,
                value: theirs(v)?,
            }))
        }
    })
}

fn uuid() -> [u8; 16] {
    *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
}

/// Every type, with its boundary values and the values at each encoding's edge.
fn values() -> Vec<Value> {
    let mut v = vec![
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
        Value::Char('\0'),
        Value::Char('a'),
        Value::Char('é'),
        Value::Char('\u{10ffff}'),
        Value::Char('😀'),
        Value::Timestamp(0),
        Value::Timestamp(i64::MIN),
        Value::Timestamp(i64::MAX),
        Value::Timestamp(1_700_000_000_123),
        Value::Uuid([0; 16]),
        Value::Uuid(uuid()),
        Value::Decimal32([0x22, 0x50, 0x00, 0x01]),
        Value::Decimal64([0x22, 0x38, 0, 0, 0, 0, 0, 0x0a]),
        Value::Decimal128([0x22, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7b]),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(f32::MIN_POSITIVE),
        Value::Float(f32::MAX),
        Value::Float(f32::INFINITY),
        Value::Float(f32::NEG_INFINITY),
        Value::Float(f32::NAN),
        Value::Double(1.5),
        Value::Double(f64::MIN),
        Value::Double(f64::EPSILON),
        Value::Double(f64::NEG_INFINITY),
        Value::Double(f64::NAN),
    ];
    for n in [0u64, 1, 255, 256, u64::from(u32::MAX), u64::MAX] {
        v.push(Value::Ulong(n));
        if let Ok(n) = u32::try_from(n) {
            v.push(Value::Uint(n));
        }
        if let Ok(n) = u16::try_from(n) {
            v.push(Value::Ushort(n));
        }
        if let Ok(n) = u8::try_from(n) {
            v.push(Value::Ubyte(n));
        }
    }
    for n in [
        0i64,
        -1,
        127,
        128,
        -128,
        -129,
        i64::from(i32::MIN),
        i64::MAX,
        i64::MIN,
    ] {
        v.push(Value::Long(n));
        if let Ok(n) = i32::try_from(n) {
            v.push(Value::Int(n));
        }
        if let Ok(n) = i16::try_from(n) {
            v.push(Value::Short(n));
        }
        if let Ok(n) = i8::try_from(n) {
            v.push(Value::Byte(n));
        }
    }
    v.push(Value::Short(i16::MIN));
    v.push(Value::Short(i16::MAX));
    v.push(Value::Int(i32::MAX));
    for len in [0usize, 1, 255, 256, 70_000] {
        v.push(Value::Binary(vec![0xa5; len]));
        v.push(Value::String("é".repeat(len / 2) + &"x".repeat(len % 2)));
        v.push(Value::Symbol("s".repeat(len)));
    }
    v.push(Value::String("ünïcödé 😀".into()));
    let item = |i: u32| Value::Uint(i * 1000);
    v.push(Value::List(vec![]));
    v.push(Value::List(vec![
        Value::Null,
        Value::from("x"),
        Value::Bool(true),
    ]));
    v.push(Value::List((0..300).map(item).collect()));
    v.push(Value::List(vec![Value::Binary(vec![1; 300])]));
    v.push(Value::Map(vec![]));
    v.push(Value::Map(vec![
        (Value::symbol("k"), Value::Long(-1)),
        (Value::from("s"), Value::List(vec![])),
        (Value::Ulong(7), Value::Map(vec![])),
    ]));
    v.push(Value::Map(
        (0..200).map(|i| (item(i), Value::Null)).collect(),
    ));
    v.push(Value::Array(Array::of(
        code::INT,
        vec![Value::Int(1), Value::Int(-1)],
    )));
    v.push(Value::Array(Array::of(
        code::SYM8,
        vec![Value::symbol("a"), Value::symbol("b")],
    )));
    v.push(Value::Array(Array::of(
        code::UINT,
        (0..300).map(item).collect(),
    )));
    v.push(Value::Array(Array::of(
        code::BOOLEAN,
        vec![Value::Bool(true), Value::Bool(false)],
    )));
    v.push(Value::Array(Array::of(
        code::DOUBLE,
        vec![Value::Double(2.0)],
    )));
    v.push(Value::described(Value::Ulong(0x77), Value::from("v")));
    v.push(Value::described(Value::symbol("x:y"), Value::List(vec![])));
    v.push(Value::described(
        Value::Ulong(0x10),
        Value::List(vec![Value::described(Value::Ulong(1), Value::Null)]),
    ));
    v
}

/// Theirs encode arrays' elements with their own constructor choice; the values are
/// compared by the model, not the octets.
#[test]
fn what_hilt_writes_serde_amqp_reads_as_the_same_value() {
    let mut checked = 0;
    for v in values() {
        let Some(want) = theirs(&v) else { continue };
        let bytes = v.to_bytes();
        let got: Theirs = serde_amqp::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "serde_amqp cannot read hilt's {v}: {e} ({:02x?})",
                &bytes[..bytes.len().min(32)]
            )
        });
        assert_eq!(got, want, "hilt's {v}");
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn what_serde_amqp_writes_hilt_reads_as_the_same_value() {
    for v in values() {
        let Some(t) = theirs(&v) else { continue };
        let bytes = serde_amqp::to_vec(&t).expect("serde_amqp encodes");
        let got = Value::decode_exact(&bytes)
            .unwrap_or_else(|e| panic!("hilt cannot read serde_amqp's {v}: {e}"));
        assert_eq!(got, v, "serde_amqp's {v}");
    }
}

/// Where both pick the smallest encoding, the octets agree exactly — but for one edge,
/// pinned: serde_amqp writes 255-octet binaries, strings and symbols in their 32-bit
/// form, where the 8-bit one (size 0..=255) fits; both are legal encodings.
#[test]
fn both_choose_the_same_encoding_of_scalars() {
    let mut differ = Vec::new();
    for v in values() {
        if matches!(
            v,
            Value::List(_) | Value::Map(_) | Value::Array(_) | Value::Described(..)
        ) {
            continue;
        }
        let Some(t) = theirs(&v) else { continue };
        let ours = v.to_bytes();
        let other = serde_amqp::to_vec(&t).expect("serde_amqp encodes");
        if ours != other {
            let edge = matches!(&v, Value::Binary(b) if b.len() == 255)
                || matches!(&v, Value::String(s) | Value::Symbol(s) if s.len() == 255);
            if edge && other[0] == ours[0] + 0x10 {
                continue;
            }
            differ.push(format!(
                "{v}: hilt {:02x?} serde_amqp {:02x?}",
                &ours[..ours.len().min(6)],
                &other[..other.len().min(6)]
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "encodings differ:\n{}",
        differ.join("\n")
    );
}

/// Each explicit encoding hilt can write (uint as uint, smalluint, uint0; str32 for a
/// short string …) is read by serde_amqp as the same value.
#[test]
fn every_explicit_encoding_reads_the_same_in_serde_amqp() {
    let cases: Vec<(Value, u8)> = vec![
        (Value::Bool(true), code::BOOLEAN),
        (Value::Bool(false), code::BOOLEAN),
        (Value::Uint(0), code::UINT0),
        (Value::Uint(0), code::SMALLUINT),
        (Value::Uint(0), code::UINT),
        (Value::Ulong(0), code::ULONG0),
        (Value::Ulong(200), code::SMALLULONG),
        (Value::Ulong(200), code::ULONG),
        (Value::Int(-5), code::SMALLINT),
        (Value::Int(-5), code::INT),
        (Value::Long(-5), code::SMALLLONG),
        (Value::Long(-5), code::LONG),
        (Value::Binary(vec![1]), code::VBIN32),
        (Value::String("s".into()), code::STR32),
        (Value::symbol("s"), code::SYM32),
        (Value::List(vec![]), code::LIST8),
        (Value::List(vec![]), code::LIST32),
        (Value::List(vec![Value::Null]), code::LIST32),
        (Value::Map(vec![]), code::MAP32),
        (
            Value::Array(Array::of(code::SMALLINT, vec![Value::Int(1)])),
            code::ARRAY32,
        ),
    ];
    for (v, c) in cases {
        let mut bytes = Vec::new();
        v.encode_as(c, &mut bytes).expect("hilt writes it");
        let got: Theirs = serde_amqp::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("serde_amqp cannot read {v} as 0x{c:02x}: {e}"));
        assert_eq!(Some(got), theirs(&v), "{v} as 0x{c:02x}");
    }
}

/// Performatives and a message with every section, read by serde_amqp as the described
/// lists hilt meant.
#[test]
fn performatives_and_messages_agree() {
    let attach = Composite::named("attach")
        .with("name", "l")
        .with("handle", 0u32)
        .with("role", true)
        .with(
            "source",
            Composite::named("source").with("address", "/queue/q"),
        )
        .with("initial-delivery-count", 0u32);
    let open = Composite::named("open")
        .with("container-id", "c")
        .with("max-frame-size", 4096u32)
        .with(
            "offered-capabilities",
            Value::Array(Array::of(code::SYM8, vec![Value::symbol("x")])),
        );
    for c in [attach, open] {
        let got: Theirs = serde_amqp::from_slice(&c.to_bytes()).expect("reads");
        assert_eq!(Some(got), theirs(&c.to_value()), "{c}");
    }
    let m = Message {
        header: Some(
            Composite::named("header")
                .with("durable", true)
                .with("priority", 9u8),
        ),
        properties: Some(Composite::named("properties").with("message-id", Value::Ulong(9))),
        application_properties: Some(vec![("k".into(), Value::Timestamp(-1))]),
        body: MessageBody::Data(vec![b"one".to_vec(), b"two".to_vec()]),
        ..Message::default()
    };
    // The message is its sections back to back; each section reads in serde_amqp.
    let mut joined = Vec::new();
    for section in m.sections() {
        let bytes = section.to_bytes();
        let got: Theirs = serde_amqp::from_slice(&bytes).expect("a section reads");
        assert_eq!(Some(got), theirs(&section), "{section}");
        joined.extend(bytes);
    }
    assert_eq!(joined, m.to_bytes());
    assert_eq!(Message::decode(&joined), Ok(m));
}
