//! Negative controls for AMQP 0-9-1 tests: interposer rules that make RabbitMQ break the
//! rule a test checks.

use hilt_net::interposer::{Action, CloseKind, Dir, Match, Rule};
pub use hilt_runner::Control;
use hilt_wire::Decoded;
use hilt_wire::amqp091::{Method, Payload, decode};

/// Method frames of `kind` going `dir` are changed by `mutate`; frames that do not
/// decode pass unchanged.
fn rewriting(
    dir: Dir,
    kind: &'static str,
    mutate: impl Fn(&mut Method) + Send + Sync + Clone + 'static,
) -> Rule {
    Rule::new(
        dir,
        Match::kind(kind),
        Action::rewrite(move |frame| match decode(frame, 0) {
            Ok(Decoded::Done(mut f, _)) => {
                if let Payload::Method(m) = &mut f.payload {
                    mutate(m);
                }
                f.to_bytes()
            }
            _ => frame.to_vec(),
        }),
    )
}

/// The broker's `kind` method frames reach the client changed by `mutate`.
pub fn rewrite(
    kind: &'static str,
    what: &str,
    mutate: impl Fn(&mut Method) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![rewriting(Dir::ToClient, kind, mutate.clone())]
    })
}

/// The client's `kind` method frames reach the broker changed by `mutate`.
pub fn rewrite_to_server(
    kind: &'static str,
    what: &str,
    mutate: impl Fn(&mut Method) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![rewriting(Dir::ToServer, kind, mutate.clone())]
    })
}

/// The broker's Channel.Close and Connection.Close carry reply code `code` instead.
pub fn reply_code(code: u16) -> Control {
    let what = format!("the broker's exceptions carry reply code {code}");
    Control::new(what, move || {
        ["channel.close", "connection.close"]
            .into_iter()
            .flat_map(|k| (rewrite(k, "", move |m| m.set("reply-code", code)).rules)())
            .collect()
    })
}

/// None of the broker's frames of `kind` reach the client.
pub fn drop_to_client(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Drop)]
    })
}

/// The broker's `n`-th frame of `kind` never reaches the client.
pub fn drop_nth_to_client(kind: &'static str, n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToClient, Match::kind(kind), Action::Drop).nth(n)]
    })
}

/// The client's `n`-th frame of `kind` never reaches the broker.
pub fn drop_nth_to_server(kind: &'static str, n: u32, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(Dir::ToServer, Match::kind(kind), Action::Drop).nth(n)]
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

/// The broker's exceptions never reach the client: it keeps going as if accepted.
pub fn hide_exceptions() -> Control {
    Control::new(
        "the broker's channel and connection exceptions never arrive",
        || {
            vec![
                Rule::new(Dir::ToClient, Match::kind("channel.close"), Action::Drop),
                Rule::new(Dir::ToClient, Match::kind("connection.close"), Action::Drop),
            ]
        },
    )
}

/// Every content body the broker sends arrives with each octet replaced by `x`.
pub fn corrupt_bodies() -> Control {
    Control::new("every message body arrives as x's", || {
        vec![Rule::new(
            Dir::ToClient,
            Match::kind("content-body"),
            Action::rewrite(|frame| {
                let mut out = frame.to_vec();
                let end = out.len().saturating_sub(1);
                for b in out.iter_mut().take(end).skip(7) {
                    *b = b'x';
                }
                out
            }),
        )]
    })
}

/// The broker's frames of `kind` arrive twice.
pub fn duplicate_to_client(kind: &'static str, what: &str) -> Control {
    Control::new(what, move || {
        vec![Rule::new(
            Dir::ToClient,
            Match::kind(kind),
            Action::Duplicate,
        )]
    })
}
