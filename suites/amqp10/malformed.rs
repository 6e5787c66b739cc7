//! Malformed frames sent on an open connection with a session: each breaks one rule of
//! hilt's codec (checked when the suite's unit tests run), and the broker must end the
//! connection — with a close naming a framing or decode error, or by closing the socket.

use hilt_runner::TestCase;
use hilt_wire::amqp10::{Composite, Frame, RawFrame, Rule as CodecRule, Value, code, frame_type};

use super::cases::case;
use super::controls;
use super::rule;
use super::session::{Amqp, condition};

/// A malformed frame: a name, what it breaks, its octets.
pub struct Vector {
    pub name: &'static str,
    pub breaks: CodecRule,
    pub bytes: Vec<u8>,
}

fn begin() -> Composite {
    Composite::named("begin")
        .with("next-outgoing-id", 0u32)
        .with("incoming-window", 10u32)
        .with("outgoing-window", 10u32)
}

fn raw(body: Vec<u8>) -> Vec<u8> {
    RawFrame::new(frame_type::AMQP, 1, body).to_bytes()
}

/// A begin on channel 1 with its list's octets replaced by `list`.
fn begin_with_list(list: Vec<u8>) -> Vec<u8> {
    let mut body = vec![0x00, code::SMALLULONG, 0x11];
    body.extend(list);
    raw(body)
}

pub fn vectors() -> Vec<Vector> {
    let mut short_size = RawFrame::of(&Frame::amqp(1, begin()));
    short_size.size = Some(6);
    let mut doff_1 = RawFrame::of(&Frame::amqp(1, begin()));
    doff_1.doff = Some(1);
    let mut doff_past = RawFrame::of(&Frame::amqp(1, begin()));
    doff_past.doff = Some(200);
    let mut type_2 = RawFrame::of(&Frame::amqp(1, begin()));
    type_2.frame_type = 2;
    let mut sasl_type = RawFrame::of(&Frame::amqp(1, begin()));
    sasl_type.frame_type = frame_type::SASL;
    let unknown = Value::described(Value::Ulong(0x99), Value::List(vec![]));
    vec![
        Vector {
            name: "frame-size-below-header",
            breaks: CodecRule::FrameHeader,
            bytes: short_size.to_bytes(),
        },
        Vector {
            name: "data-offset-1",
            breaks: CodecRule::FrameHeader,
            bytes: doff_1.to_bytes(),
        },
        Vector {
            name: "data-offset-past-frame",
            breaks: CodecRule::FrameHeader,
            bytes: doff_past.to_bytes(),
        },
        Vector {
            name: "frame-type-2",
            breaks: CodecRule::FrameType,
            bytes: type_2.to_bytes(),
        },
        Vector {
            name: "sasl-frame-after-open",
            breaks: CodecRule::Performative,
            bytes: sasl_type.to_bytes(),
        },
        Vector {
            name: "body-not-described",
            breaks: CodecRule::FrameBody,
            bytes: raw(Value::Uint(1).to_bytes()),
        },
        Vector {
            name: "unknown-performative",
            breaks: CodecRule::Performative,
            bytes: raw(unknown.to_bytes()),
        },
        Vector {
            name: "undefined-format-code",
            breaks: CodecRule::FormatCode,
            bytes: raw(vec![0x00, code::SMALLULONG, 0x11, 0x57]),
        },
        Vector {
            name: "list-count-beyond-size",
            breaks: CodecRule::List,
            bytes: begin_with_list(vec![code::LIST8, 2, 4, code::UINT0]),
        },
        Vector {
            name: "list-size-beyond-frame",
            breaks: CodecRule::Size,
            bytes: begin_with_list(vec![
                code::LIST8,
                50,
                3,
                code::UINT0,
                code::UINT0,
                code::UINT0,
            ]),
        },
        Vector {
            name: "begin-mandatory-null",
            breaks: CodecRule::Mandatory,
            bytes: begin_with_list(vec![code::LIST8, 4, 3, code::NULL, code::NULL, code::NULL]),
        },
        Vector {
            name: "begin-field-wrong-type",
            breaks: CodecRule::FieldType,
            bytes: begin_with_list(vec![
                code::LIST8,
                6,
                4,
                code::NULL,
                code::STR8,
                0,
                code::UINT0,
                code::UINT0,
            ]),
        },
        Vector {
            name: "boolean-0x56-octet-2",
            breaks: CodecRule::Boolean,
            bytes: begin_with_list(vec![
                code::LIST8,
                6,
                4,
                code::NULL,
                code::UINT0,
                code::UINT0,
                code::BOOLEAN,
                2,
            ]),
        },
        Vector {
            name: "string-not-utf8",
            breaks: CodecRule::String,
            bytes: raw([vec![
                0x00,
                code::SMALLULONG,
                0x10,
                code::LIST8,
                4,
                1,
                code::STR8,
                1,
                0xff,
            ]]
            .concat()),
        },
        Vector {
            name: "descriptor-not-ulong-or-symbol",
            breaks: CodecRule::Descriptor,
            bytes: raw(vec![0x00, code::TRUE, code::LIST0]),
        },
        Vector {
            name: "payload-after-begin",
            breaks: CodecRule::FrameBody,
            bytes: raw([begin().to_bytes(), vec![0x40]].concat()),
        },
    ]
}

pub fn tests() -> Vec<TestCase> {
    vectors()
        .into_iter()
        .map(|v| {
            let Vector {
                name,
                breaks,
                bytes,
            } = v;
            case(
                &format!("frames.{name}"),
                &format!(
                    "A frame breaking [{}] ends the connection with an error",
                    breaks.id()
                ),
                &["AMQP10-2.8.16-framing-error", breaks.id()],
                // A frame the interposer cannot delimit passes as opaque octets: its
                // control stops the connection one frame earlier, at the begin.
                controls::black_hole_after(
                    if name == "frame-size-below-header" {
                        4
                    } else {
                        5
                    },
                    "the malformed frame never arrives and no one closes",
                ),
                move |ctx| {
                    let bytes = bytes.clone();
                    async move {
                        let r = rule("AMQP10-2.8.16-framing-error");
                        let mut s = Amqp::with_session(&ctx).await?;
                        s.send_raw(&bytes).await;
                        let e = s
                            .expect_close(
                                s.response,
                                r,
                                &format!("a frame breaking [{}] was sent", breaks.id()),
                            )
                            .await?;
                        ctx.note(format!("closed with {}", condition(&e)));
                        Ok(())
                    }
                },
            )
        })
        .collect()
}

/// Each vector breaks the rule it names, first.
#[cfg(test)]
fn check(v: &Vector) -> Result<(), String> {
    use hilt_wire::Decoded;
    match hilt_wire::amqp10::decode(&v.bytes, 0) {
        Err(e) if e.rule == v.breaks => Ok(()),
        Err(e) => Err(format!(
            "{}: breaks {} first, not {}",
            v.name,
            e,
            v.breaks.id()
        )),
        Ok(Decoded::Done(f, _)) => Err(format!("{}: decodes as {f}", v.name)),
        Ok(Decoded::NeedMore(_)) => Err(format!("{}: is cut short", v.name)),
    }
}

#[cfg(test)]
mod test {
    #[test]
    fn every_vector_breaks_the_rule_it_names() {
        let bad: Vec<String> = super::vectors()
            .iter()
            .filter_map(|v| super::check(v).err())
            .collect();
        assert!(bad.is_empty(), "{bad:#?}");
    }
}
