//! Negative controls for AMQP 1.0 tests: interposer rules that make RabbitMQ break the
//! rule a test checks.

use hilt_net::interposer::{Action, CloseKind, Dir, Match, Rule};
pub use hilt_runner::Control;
use hilt_wire::Decoded;
use hilt_wire::amqp10::{Body, Composite, Frame, Message, MessageBody, Value, decode};

/// Frames of `kind` going `dir` are changed by `mutate`; frames that do not decode pass
/// unchanged.
fn rewriting(
    dir: Dir,
    kind: &'static str,
    mutate: impl Fn(&mut Frame) + Send + Sync + Clone + 'static,
) -> Rule {
    Rule::new(
        dir,
        Match::kind(kind),
        Action::rewrite(move |bytes| match decode(bytes, 0) {
            Ok(Decoded::Done(mut f, _)) => {
                mutate(&mut f);
                f.to_bytes()
            }
            _ => bytes.to_vec(),
        }),
    )
}

/// Sets field `field` of every `kind` performative the broker sends.
pub fn set_field(kind: &'static str, field: &'static str, v: Value, what: &str) -> Control {
    Control::new(what, move || {
        let v = v.clone();
        vec![rewriting(Dir::ToClient, kind, move |f| {
            if let Body::Amqp { performative, .. } | Body::Sasl(performative) = &mut f.body {
                performative.set(field, v.clone());
            }
        })]
    })
}

/// The broker's frames of `kind` are changed by `mutate`.
pub fn rewrite(
    kind: &'static str,
    what: &str,
    mutate: impl Fn(&mut Composite) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        let mutate = mutate.clone();
        vec![rewriting(Dir::ToClient, kind, move |f| {
            if let Body::Amqp { performative, .. } | Body::Sasl(performative) = &mut f.body {
                mutate(performative);
            }
        })]
    })
}

/// None of the broker's frames of `kind` reach the client.
pub fn drop_to_client(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Drop)]
    })
}

/// None of the client's frames of `kind` reach the broker.
pub fn drop_to_server(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToServer, Match::kind(kind), Action::Drop)]
    })
}

/// From the client's `n`-th frame on, nothing passes either way and both sockets stay
/// open: a broker that neither answers nor closes.
pub fn black_hole_after(n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![
            Rule::new(
                Dir::ToServer,
                Match::Any,
                Action::Close(CloseKind::BlackHole),
            )
            .after(n),
        ]
    })
}

/// The broker's protocol header names version `version` instead.
pub fn header_version(version: [u8; 3]) -> Control {
    Control::new(
        format!("the broker's protocol header says {version:?}"),
        move || {
            vec![Rule::new(
                Dir::ToClient,
                Match::kind("protocol-header"),
                Action::Patch {
                    offset: 5,
                    bytes: version.to_vec(),
                },
            )]
        },
    )
}

/// The broker's protocol header names the protocol `name` instead of AMQP.
pub fn header_name(name: [u8; 4]) -> Control {
    Control::new(
        format!(
            "the broker's protocol header names {:?}",
            String::from_utf8_lossy(&name)
        ),
        move || {
            vec![Rule::new(
                Dir::ToClient,
                Match::kind("protocol-header"),
                Action::Patch {
                    offset: 0,
                    bytes: name.to_vec(),
                },
            )]
        },
    )
}

/// Every value a delivered message carries changes: in a single-frame delivery the
/// application properties' values and the amqp-value body are replaced by a value of
/// another type; the last frame of a multi-frame delivery has its last octet flipped.
pub fn tamper_deliveries() -> Control {
    Control::new(
        "the broker changes every value of the messages it delivers",
        || {
            vec![rewriting(Dir::ToClient, "transfer", |f| {
                let Body::Amqp {
                    performative,
                    payload,
                } = &mut f.body
                else {
                    return;
                };
                if performative.bool("more") == Some(true) {
                    return;
                }
                let whole = performative.u64("delivery-id").is_some();
                match Message::decode(payload) {
                    Ok(mut m) if whole => {
                        if let Some(p) = &mut m.application_properties {
                            for (_, v) in p.iter_mut() {
                                *v = other_value(v);
                            }
                        }
                        if let MessageBody::Value(v) = &mut m.body {
                            *v = other_value(v);
                        }
                        if let MessageBody::Data(parts) = &mut m.body {
                            for p in parts.iter_mut() {
                                p.push(b'!');
                            }
                        }
                        *payload = m.to_bytes();
                    }
                    _ => {
                        if let Some(last) = payload.last_mut() {
                            *last ^= 0x01;
                        }
                    }
                }
            })]
        },
    )
}

/// The broker's single-frame deliveries arrive with their header replaced by `header`.
pub fn replace_header(header: Composite, what: &str) -> Control {
    Control::new(what, move || {
        let header = header.clone();
        vec![rewriting(Dir::ToClient, "transfer", move |f| {
            if let Body::Amqp { payload, .. } = &mut f.body
                && let Ok(mut m) = Message::decode(payload)
            {
                m.header = Some(header.clone());
                *payload = m.to_bytes();
            }
        })]
    })
}

fn other_value(v: &Value) -> Value {
    match v {
        Value::Null => Value::Bool(false),
        _ => Value::Null,
    }
}

/// The client's transfers reach the broker with their payload's last octet flipped.
pub fn corrupt_sent_payloads() -> Control {
    Control::new(
        "the client's message payloads arrive with their last octet flipped",
        || {
            vec![rewriting(Dir::ToServer, "transfer", |f| {
                if let Body::Amqp { payload, .. } = &mut f.body
                    && let Some(last) = payload.last_mut()
                {
                    *last ^= 0x01;
                }
            })]
        },
    )
}

/// The broker's sasl-outcome carries code `code`.
pub fn sasl_outcome(code: u8) -> Control {
    set_field(
        "sasl-outcome",
        "code",
        Value::Ubyte(code),
        &format!("the broker's sasl-outcome carries code {code}"),
    )
}

/// The broker's close frames carry no error.
pub fn close_without_error() -> Control {
    rewrite("close", "the broker closes without saying why", |c| {
        c.fields.clear();
    })
}

/// The broker's transfers arrive with `settled` as given.
pub fn transfers_settled(settled: bool) -> Control {
    set_field(
        "transfer",
        "settled",
        Value::Bool(settled),
        &format!("the broker's transfers say settled={settled}"),
    )
}

/// The broker's deliveries each arrive twice.
pub fn duplicate_deliveries() -> Control {
    Control::new("the broker's transfers arrive twice", || {
        vec![Rule::new(
            Dir::ToClient,
            Match::kind("transfer"),
            Action::Duplicate,
        )]
    })
}

/// The broker's dispositions carry `state` instead of theirs.
pub fn disposition_state(state: Composite, what: &str) -> Control {
    let v = state.to_value();
    set_field("disposition", "state", v, what)
}

/// The broker's flows carry delivery-count raised by `by`.
pub fn skew_delivery_count(by: u32) -> Control {
    rewrite(
        "flow",
        &format!("the broker's flows carry a delivery-count {by} higher"),
        move |p| {
            if let Some(dc) = p.u64("delivery-count") {
                p.set("delivery-count", (dc as u32).wrapping_add(by));
            }
        },
    )
}
