//! The type-encoding matrix: every type of part 1 at its boundary values, each written in
//! a named encoding (uint as uint0, smalluint or uint; strings as str8 or str32 …), sent
//! through the broker as an application property and as the amqp-value body (compound
//! and described values, which application-properties cannot hold, as the body only),
//! and required back unchanged.

use hilt_runner::{Failure, TestCase};
use hilt_wire::amqp10::{Array, MessageBody, SettleMode, Value, code, descriptor as d};

use super::cases::{case, pair};
use super::controls;
use super::rule;

/// One matrix entry: a name, the value, and the encoding it is written in.
struct Entry {
    name: &'static str,
    value: Value,
    code: u8,
}

fn e(name: &'static str, value: Value, code: u8) -> Entry {
    Entry { name, value, code }
}

fn entries() -> Vec<Entry> {
    use code::*;
    let dec128 = [0x22, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7b];
    vec![
        e("null", Value::Null, NULL),
        e("boolean-true", Value::Bool(true), TRUE),
        e("boolean-false", Value::Bool(false), FALSE),
        e("boolean-0x56-true", Value::Bool(true), BOOLEAN),
        e("boolean-0x56-false", Value::Bool(false), BOOLEAN),
        e("ubyte-0", Value::Ubyte(0), UBYTE),
        e("ubyte-max", Value::Ubyte(u8::MAX), UBYTE),
        e("ushort-0", Value::Ushort(0), USHORT),
        e("ushort-max", Value::Ushort(u16::MAX), USHORT),
        e("uint-uint0", Value::Uint(0), UINT0),
        e("uint-smalluint-max", Value::Uint(255), SMALLUINT),
        e("uint-0-as-uint", Value::Uint(0), UINT),
        e("uint-max", Value::Uint(u32::MAX), UINT),
        e("ulong-ulong0", Value::Ulong(0), ULONG0),
        e("ulong-smallulong-max", Value::Ulong(255), SMALLULONG),
        e("ulong-256", Value::Ulong(256), ULONG),
        e("ulong-max", Value::Ulong(u64::MAX), ULONG),
        e("byte-min", Value::Byte(i8::MIN), BYTE),
        e("byte-max", Value::Byte(i8::MAX), BYTE),
        e("short-min", Value::Short(i16::MIN), SHORT),
        e("short-max", Value::Short(i16::MAX), SHORT),
        e("int-smallint-min", Value::Int(-128), SMALLINT),
        e("int-min", Value::Int(i32::MIN), INT),
        e("int-max", Value::Int(i32::MAX), INT),
        e("long-smalllong-max", Value::Long(127), SMALLLONG),
        e("long-min", Value::Long(i64::MIN), LONG),
        e("long-max", Value::Long(i64::MAX), LONG),
        e("float-negative-zero", Value::Float(-0.0), FLOAT),
        e("float-max", Value::Float(f32::MAX), FLOAT),
        e(
            "float-smallest-subnormal",
            Value::Float(f32::from_bits(1)),
            FLOAT,
        ),
        e("float-infinity", Value::Float(f32::INFINITY), FLOAT),
        e("float-nan", Value::Float(f32::NAN), FLOAT),
        e("double-min", Value::Double(f64::MIN), DOUBLE),
        e("double-epsilon", Value::Double(f64::EPSILON), DOUBLE),
        e(
            "double-negative-infinity",
            Value::Double(f64::NEG_INFINITY),
            DOUBLE,
        ),
        e("double-nan", Value::Double(f64::NAN), DOUBLE),
        e(
            "decimal32",
            Value::Decimal32([0x22, 0x50, 0x00, 0x01]),
            DECIMAL32,
        ),
        e(
            "decimal64",
            Value::Decimal64([0x22, 0x38, 0, 0, 0, 0, 0, 0x0a]),
            DECIMAL64,
        ),
        e("decimal128", Value::Decimal128(dec128), DECIMAL128),
        e("char-nul", Value::Char('\0'), CHAR),
        e("char-max", Value::Char('\u{10ffff}'), CHAR),
        e("char-emoji", Value::Char('😀'), CHAR),
        e("timestamp-epoch", Value::Timestamp(0), TIMESTAMP),
        e("timestamp-min", Value::Timestamp(i64::MIN), TIMESTAMP),
        e("timestamp-max", Value::Timestamp(i64::MAX), TIMESTAMP),
        e(
            "uuid",
            Value::Uuid(*b"\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10"),
            UUID,
        ),
        e("binary-empty", Value::Binary(vec![]), VBIN8),
        e("binary-vbin8-255", Value::Binary(vec![0xa5; 255]), VBIN8),
        e("binary-vbin32-small", Value::Binary(vec![0, 1, 2]), VBIN32),
        e(
            "binary-vbin32-70000",
            Value::Binary((0..70_000u32).map(|i| i as u8).collect()),
            VBIN32,
        ),
        e("string-empty", Value::String(String::new()), STR8),
        e(
            "string-unicode",
            Value::String("ünïcödé 😀 \u{10ffff}".into()),
            STR8,
        ),
        e("string-str8-255", Value::String("s".repeat(255)), STR8),
        e("string-str32-small", Value::String("str32".into()), STR32),
        e("symbol-sym8", Value::symbol("hilt:sym"), SYM8),
        e("symbol-sym32", Value::symbol("hilt:sym32"), SYM32),
        e("list-list0", Value::List(vec![]), LIST0),
        e(
            "list-list8-mixed",
            Value::List(vec![
                Value::Null,
                Value::from("a"),
                Value::Ulong(1),
                Value::Bool(true),
            ]),
            LIST8,
        ),
        e(
            "list-list32",
            Value::List((0..300u32).map(Value::Uint).collect()),
            LIST32,
        ),
        e(
            "map-map8",
            Value::Map(vec![
                (Value::symbol("k"), Value::Int(-1)),
                (Value::from("s"), Value::Null),
            ]),
            MAP8,
        ),
        e(
            "map-map32-nested",
            Value::Map(vec![(
                Value::Ulong(1),
                Value::Map(vec![(Value::from("in"), Value::List(vec![]))]),
            )]),
            MAP32,
        ),
        e(
            "array-array8-int",
            Value::Array(Array::of(INT, vec![Value::Int(1), Value::Int(i32::MIN)])),
            ARRAY8,
        ),
        e(
            "array-array32-ulong",
            Value::Array(Array::of(ULONG, (0..100u64).map(Value::Ulong).collect())),
            ARRAY32,
        ),
        e(
            "array-of-described",
            Value::Array(Array::described(
                Value::symbol("hilt:d"),
                STR8,
                vec![Value::from("a"), Value::from("b")],
            )),
            ARRAY8,
        ),
        e("array-empty", Value::Array(Array::of(SYM8, vec![])), ARRAY8),
        e(
            "described-ulong-descriptor",
            Value::described(Value::Ulong(0x0000_1234_0000_0001), Value::from("v")),
            code::DESCRIBED,
        ),
        e(
            "described-symbol-descriptor",
            Value::described(Value::symbol("hilt:type"), Value::Long(5)),
            code::DESCRIBED,
        ),
    ]
}

/// Whether application-properties may carry the value: simple types only (3.2.5).
fn simple(v: &Value) -> bool {
    !matches!(
        v,
        Value::List(_) | Value::Map(_) | Value::Array(_) | Value::Described(..)
    )
}

/// The statement of the value's type.
fn statement(v: &Value) -> &'static str {
    match v {
        Value::Null => "AMQP10-1.6.1-null",
        Value::Bool(_) => "AMQP10-1.6.2-boolean",
        Value::Ubyte(_) => "AMQP10-1.6.3-ubyte",
        Value::Ushort(_) => "AMQP10-1.6.4-ushort",
        Value::Uint(_) => "AMQP10-1.6.5-uint",
        Value::Ulong(_) => "AMQP10-1.6.6-ulong",
        Value::Byte(_) => "AMQP10-1.6.7-byte",
        Value::Short(_) => "AMQP10-1.6.8-short",
        Value::Int(_) => "AMQP10-1.6.9-int",
        Value::Long(_) => "AMQP10-1.6.10-long",
        Value::Float(_) => "AMQP10-1.6.11-float",
        Value::Double(_) => "AMQP10-1.6.12-double",
        Value::Decimal32(_) => "AMQP10-1.6.13-decimal32",
        Value::Decimal64(_) => "AMQP10-1.6.14-decimal64",
        Value::Decimal128(_) => "AMQP10-1.6.15-decimal128",
        Value::Char(_) => "AMQP10-1.6.16-char",
        Value::Timestamp(_) => "AMQP10-1.6.17-timestamp",
        Value::Uuid(_) => "AMQP10-1.6.18-uuid",
        Value::Binary(_) => "AMQP10-1.6.19-binary",
        Value::String(_) => "AMQP10-1.6.20-string-utf8",
        Value::Symbol(_) => "AMQP10-1.6.21-symbol-ascii",
        Value::List(_) => "AMQP10-1.6.22-list",
        Value::Map(_) => "AMQP10-1.6.23-map",
        Value::Array(_) => "AMQP10-1.6.24-array",
        Value::Described(..) => "AMQP10-1.3-described",
    }
}

/// The message payload: application-properties {"v": value} (for simple values) and an
/// amqp-value body, the value written with format code `c` in both.
fn payload(v: &Value, c: u8) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    v.encode_as(c, &mut raw).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    if simple(v) {
        let mut body = Value::from("v").to_bytes();
        body.extend_from_slice(&raw);
        out.extend_from_slice(&[
            0x00,
            code::SMALLULONG,
            d::APPLICATION_PROPERTIES as u8,
            code::MAP32,
        ]);
        out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(&[0x00, code::SMALLULONG, d::AMQP_VALUE as u8]);
    out.extend_from_slice(&raw);
    Ok(out)
}

pub fn tests() -> Vec<TestCase> {
    entries()
        .into_iter()
        .map(|en| {
            let Entry { name, value, code } = en;
            let id = statement(&value);
            let where_ = if simple(&value) {
                "as an application property and as the amqp-value body"
            } else {
                "as the amqp-value body"
            };
            let title = format!(
                "{value} written as {} goes through the broker {where_} and comes back unchanged",
                code::name(code).unwrap_or("?")
            );
            let title = title.chars().take(160).collect::<String>();
            case(
                &format!("types.{name}"),
                &title,
                &[id, "AMQP10-3.2-bare-message-immutable"],
                controls::tamper_deliveries(),
                move |ctx| {
                    let value = value.clone();
                    async move {
                        let r = rule(id);
                        let bytes = payload(&value, code).map_err(Failure::error)?;
                        let (mut s, _) = pair(&ctx, SettleMode::Settled).await?;
                        let now = s.now();
                        s.conn.transfer_payload(now, 0, 0, &bytes, false, None);
                        s.send_raw(&[]).await;
                        let (_, disp) = s
                            .expect(d::DISPOSITION, rule("AMQP10-3.4-outcome"), "the message")
                            .await?;
                        if !disp.composite("state").is_some_and(|st| st.is(d::ACCEPTED)) {
                            return Err(Failure::fail(
                                r,
                                format!("the message was not accepted: {disp}"),
                            ));
                        }
                        s.flow(1, 1, false).await;
                        let dl = s.delivery(r, "the message back").await?;
                        let m = dl.message.map_err(|v| {
                            Failure::fail(
                                v.spec_ref(),
                                format!("the message came back unreadable: {v}"),
                            )
                        })?;
                        if simple(&value) {
                            let got = m.application_property("v");
                            ctx.ensure(got == Some(&value), r, || {
                                format!("application property v: sent {value}, received {got:?}")
                            })?;
                        }
                        let body_ok = matches!(&m.body, MessageBody::Value(v) if *v == value);
                        ctx.ensure(body_ok, r, || {
                            format!("amqp-value: sent {value}, received {m}")
                        })
                    }
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn every_entry_encodes_as_named_and_reads_back() {
        for en in entries() {
            let bytes = payload(&en.value, en.code).unwrap_or_else(|e| panic!("{}: {e}", en.name));
            let m = hilt_wire::amqp10::Message::decode(&bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", en.name));
            assert!(
                matches!(&m.body, MessageBody::Value(v) if *v == en.value),
                "{}",
                en.name
            );
            if simple(&en.value) {
                assert_eq!(m.application_property("v"), Some(&en.value), "{}", en.name);
            }
        }
    }

    #[test]
    fn every_primitive_type_is_in_the_matrix() {
        let mut ids: Vec<&str> = entries().iter().map(|e| statement(&e.value)).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 25, "{ids:?}");
    }
}
