//! Negative controls for CoAP tests: datagram rules that make a well-behaved server
//! break one rule, so the test that checks it can be seen to fail.

use hilt_net::interposer::{Action, Dir, Match, Rule};
pub use hilt_runner::Control;
use hilt_wire::coap::{Message, MessageType};

/// Datagrams going `dir` for which `pick` holds are re-encoded after `mutate` changed
/// them; datagrams that do not parse pass unchanged. A rule to narrow with `nth`,
/// `after` or `count`.
pub fn mutate_rule(
    dir: Dir,
    pick: impl Fn(&Message) -> bool + Send + Sync + Clone + 'static,
    mutate: impl Fn(&mut Message) + Send + Sync + Clone + 'static,
) -> Rule {
    let p = pick.clone();
    Rule::new(
        dir,
        Match::pred(move |d| Message::parse(d).is_ok_and(|m| p(&m))),
        Action::rewrite(move |d| match Message::parse(d) {
            Ok(mut m) => {
                mutate(&mut m);
                m.to_bytes()
            }
            Err(_) => d.to_vec(),
        }),
    )
}

/// The server's messages for which `pick` holds are changed by `mutate`.
pub fn mutate_to_client(
    what: &str,
    pick: impl Fn(&Message) -> bool + Send + Sync + Clone + 'static,
    mutate: impl Fn(&mut Message) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![mutate_rule(Dir::ToClient, pick.clone(), mutate.clone())]
    })
}

/// The client's messages for which `pick` holds are changed by `mutate` before the
/// server sees them.
pub fn mutate_to_server(
    what: &str,
    pick: impl Fn(&Message) -> bool + Send + Sync + Clone + 'static,
    mutate: impl Fn(&mut Message) + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || {
        vec![mutate_rule(Dir::ToServer, pick.clone(), mutate.clone())]
    })
}

/// The server's messages for which `pick` holds never reach the client.
pub fn drop_to_client(
    what: &str,
    pick: impl Fn(&Message) -> bool + Send + Sync + Clone + 'static,
) -> Control {
    Control::new(what, move || vec![drop_rule_to_client(pick.clone())])
}

/// The rule of [`drop_to_client`], to narrow with `nth`, `after` or `count`.
pub fn drop_rule_to_client(pick: impl Fn(&Message) -> bool + Send + Sync + 'static) -> Rule {
    Rule::new(
        Dir::ToClient,
        Match::pred(move |d| Message::parse(d).is_ok_and(|m| pick(&m))),
        Action::Drop,
    )
}

/// Responses (codes 2.xx–5.xx), in whatever message carries them.
pub fn is_response(m: &Message) -> bool {
    m.code.is_response()
}

pub fn is_type(t: MessageType) -> impl Fn(&Message) -> bool + Send + Sync + Clone + 'static {
    move |m| m.mtype == t
}
