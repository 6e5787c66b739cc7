//! The OBS test descriptions of the ETSI CoAP#4 plugtest (repository cabo/td-coap4,
//! block.yml) and RFC 7641 requirements beyond them with hilt's own ids.
//!
//! The TDs observe `/obs`, "a resource that changes periodically". Here each test
//! creates its own observable JSON resource under a path unique to the attempt and
//! changes it itself, from a second client (the TDs allow "another CoAP client"): the
//! test then knows when a notification is due, and waits for it on a deadline from the
//! moment of the change instead of on the resource's period. Only the freshness test
//! observes the server's own periodic resource (`/time`, one notification a second).
//!
//! The lossy TD (OBS_11) emulates loss in the client: it receives the first
//! notification (the trace shows it) and does not acknowledge it, as if it had been
//! lost on the way, so the server has to retransmit.

use std::time::Duration;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::coap::{
    Block, CoapOption, Code, Message, MessageType, OptionNumber, observe, summarize,
};
use tokio::time::Instant;

use super::block::{JSON, LARGE, create_large, judge_block2, numbered};
use super::client::{Client, MAX_TRANSMIT_WAIT, Reply, Transfer, next_block2};
use super::controls::{self, Control};
use super::core::{create_as, judge, own_path};
use super::{SUITE, obs, rfc, td};

/// The server's periodic observable resource and its period: libcoap's `/time`
/// notifies once a second.
pub const TICKING_PATH: &str = "/time";
pub const TICK: Duration = Duration::from_secs(1);

/// The largest block (SZX 6): a representation bigger than this is sent block-wise.
const LARGEST_BLOCK: usize = 1024;

/// An observable resource of the server's own that a PUT changes and that exists again
/// after a restart: libcoap's `/example_data`.
pub const LASTING_PATH: &str = "/example_data";

fn tc<F, Fut>(id: &str, title: &str, body: F) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hilt_runner::Outcome> + Send + 'static,
{
    TestCase::new(SUITE, format!("coap.observe.{id}"), title, body)
}

/// A small JSON representation, different for each `n`.
fn state(n: u32) -> Vec<u8> {
    format!("{{\"n\":{n}}}").into_bytes()
}

/// One observation in progress: the observer, the client that changes the resource,
/// and what the last notification (or the registration's response) said.
struct Observed {
    id: &'static str,
    c: Client,
    updater: Client,
    path: String,
    token: Vec<u8>,
    /// The Content-Format of the registration's response (the TDs' `f`).
    format: Option<u32>,
    last_observe: u32,
    last_at: Instant,
    /// Updates made so far: each gets a new representation.
    changes: u32,
    /// The registration's response.
    registered: Message,
}

impl Observed {
    /// The TDs' steps 1–3: the resource exists (created by the updater as JSON,
    /// `initial`), the observer registers with a GET of `mtype` with Observe 0, and the
    /// response is a 2.05 (piggybacked for CON, NON for NON) with the token, an Observe
    /// option and a Content-Format.
    async fn register(
        ctx: &Ctx,
        id: &'static str,
        mtype: MessageType,
        initial: &[u8],
    ) -> Result<Observed, Failure> {
        let c = Client::open(ctx).await?;
        let mut updater = Client::open(ctx).await?;
        let path = own_path(ctx, "/obs");
        if initial.len() > LARGEST_BLOCK {
            create_large(&mut updater, &path, initial).await?;
        } else {
            create_as(&mut updater, &path, JSON, initial).await?;
        }
        Observed::start(id, c, updater, path, mtype).await
    }

    /// Registers `c` as an observer of `path`, which exists.
    async fn start(
        id: &'static str,
        mut c: Client,
        updater: Client,
        path: String,
        mtype: MessageType,
    ) -> Result<Observed, Failure> {
        let token = c.token(4);
        let mut o = Observed {
            id,
            c,
            updater,
            path,
            token,
            format: None,
            last_observe: 0,
            last_at: Instant::now(),
            changes: 0,
            registered: Message::empty(mtype, 0),
        };
        o.format = o.reregister(mtype).await?.content_format();
        Ok(o)
    }

    /// A GET of `mtype` with Observe 0 and the observation's token, judged as the
    /// registration is; freshness counts from its response. Returns the response.
    async fn reregister(&mut self, mtype: MessageType) -> Result<Message, Failure> {
        let req = self
            .c
            .request(mtype, Code::GET, &self.path)
            .with_token(&self.token)
            .with_uint(OptionNumber::Observe, observe::REGISTER);
        let ex = self.c.exchange(&req, Duration::ZERO).await?;
        let resp = judge(&req, &ex, &[Code::CONTENT], obs("RFC7641-3.1-register"))?;
        let Some(v) = resp.observe() else {
            return Err(Failure::fail(
                obs("RFC7641-3.1-register"),
                format!(
                    "the response to the registration has no Observe option: {}",
                    summarize(&resp)
                ),
            ));
        };
        if resp.content_format().is_none() {
            return Err(Failure::fail(
                td(self.id),
                format!(
                    "the registration's response carries no Content-Format: {}",
                    summarize(&resp)
                ),
            ));
        }
        self.c.watch(&self.token);
        self.last_observe = v;
        self.last_at = ex.response.as_ref().map_or_else(Instant::now, |r| r.at);
        self.registered = resp.clone();
        Ok(resp)
    }

    /// Changes the resource to a new small JSON representation.
    async fn change(&mut self) -> Result<(), Failure> {
        self.changes += 1;
        let body = state(self.changes);
        self.change_to(JSON, &body).await
    }

    /// Replaces the representation with `body` in `format` (block-wise when large). A
    /// refusal is an error: the TDs' update is a precondition of what they judge.
    async fn change_to(&mut self, format: u32, body: &[u8]) -> Result<(), Failure> {
        if body.len() > LARGEST_BLOCK {
            return create_large(&mut self.updater, &self.path, body).await;
        }
        create_as(&mut self.updater, &self.path, format, body).await
    }

    /// The TDs' loop of steps 4–6 once: a change, its notification (acknowledged if
    /// CON) judged as `mtype`.
    async fn notified(&mut self, mtype: MessageType) -> Result<Reply, Failure> {
        self.change().await?;
        let n = self.next("a change").await?;
        self.judge(&n, mtype)?;
        Ok(n)
    }

    /// How long a notification may take after a change: the server notifies when the
    /// change is made, so a retransmission window and its response time bound it.
    fn due(&self) -> Instant {
        Instant::now() + self.c.patience()
    }

    /// The next notification (acknowledged if CON), or a failure of the TD.
    async fn next(&mut self, after: &str) -> Result<Reply, Failure> {
        let due = self.due();
        self.c
            .notification(&self.token, due)
            .await?
            .ok_or_else(|| self.missing(after))
    }

    fn missing(&self, after: &str) -> Failure {
        Failure::fail(
            td(self.id),
            format!(
                "no notification with token {:02x?} within {:?} after {after}",
                self.token,
                self.c.patience()
            ),
        )
    }

    /// The TDs' notification checks (step 4 of OBS_01): `mtype`, 2.05, the
    /// registration's Content-Format and token, an Observe value fresher than the last.
    fn judge(&mut self, n: &Reply, mtype: MessageType) -> Result<(), Failure> {
        let m = &n.msg;
        if m.code != Code::CONTENT {
            return Err(Failure::fail(
                td(self.id),
                format!("expected a 2.05 notification, got {}", summarize(m)),
            ));
        }
        if m.mtype != mtype {
            return Err(Failure::fail(
                td(self.id),
                format!(
                    "expected a {} notification, got {}",
                    mtype.name(),
                    summarize(m)
                ),
            ));
        }
        if m.content_format() != self.format {
            return Err(Failure::fail(
                obs("RFC7641-4.2-content-format"),
                format!(
                    "the registration's Content-Format was {:?}, the notification's is {:?}: {}",
                    self.format,
                    m.content_format(),
                    summarize(m)
                ),
            ));
        }
        self.fresh(n)
    }

    /// The notification carries Observe, fresher than the last one seen (RFC 7641 §4.4).
    fn fresh(&mut self, n: &Reply) -> Result<(), Failure> {
        let Some(v) = n.msg.observe() else {
            return Err(Failure::fail(
                obs("RFC7641-4.2-observe"),
                format!("a 2.05 notification without Observe: {}", summarize(&n.msg)),
            ));
        };
        let elapsed = n.at.saturating_duration_since(self.last_at);
        if !observe::is_fresher(self.last_observe, v, elapsed) {
            return Err(Failure::fail(
                obs("RFC7641-4.4-fresh"),
                format!(
                    "Observe {v} arrived {elapsed:?} after Observe {}: not fresher: {}",
                    self.last_observe,
                    summarize(&n.msg)
                ),
            ));
        }
        self.last_observe = v;
        self.last_at = n.at;
        Ok(())
    }

    /// Nothing with the observation's token arrives within a retransmission window
    /// and the server's response time: the server has forgotten the client.
    async fn silent(&mut self, rule: SpecRef, why: &str) -> Result<(), Failure> {
        let until = self.due();
        match self.c.next_for(&self.token, until).await? {
            None => Ok(()),
            Some(r) => Err(Failure::fail(
                rule,
                format!(
                    "{why}, yet the server still notified: {}",
                    summarize(&r.msg)
                ),
            )),
        }
    }
}

/// Notifications (CON or NON responses carrying Observe) are changed by `f`.
fn notifications_mutated(
    what: &str,
    f: impl Fn(&mut Message) + Send + Sync + Clone + 'static,
) -> Control {
    controls::mutate_to_client(
        what,
        |m: &Message| {
            m.code.is_response()
                && matches!(m.mtype, MessageType::Con | MessageType::Non)
                && m.observe().is_some()
        },
        f,
    )
}

fn without_observe(m: &mut Message) {
    m.options.retain(|o| o.number != OptionNumber::Observe);
}

/// The server's retransmissions of a CON notification come with a new Message ID but
/// the old Observe value: to the client, a second notification no fresher than the
/// first.
fn retransmissions_renumbered() -> Control {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<HashSet<u16>>> = Arc::default();
    controls::mutate_to_client(
        "the server's notification retransmissions carry new Message IDs and the old Observe value",
        |m: &Message| m.mtype == MessageType::Con && m.observe().is_some(),
        move |m| {
            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            if !seen.insert(m.message_id) {
                m.message_id = m.message_id.wrapping_add(0x4000);
                seen.insert(m.message_id);
            }
        },
    )
}

const BASIC: [SpecRef; 3] = [
    obs("RFC7641-3.1-register"),
    obs("RFC7641-4.2-observe"),
    obs("RFC7641-4.4-fresh"),
];

/// OBS_01 and OBS_02: register with a GET of `mtype`, then three changes, each
/// notified in `mtype`.
fn basic_td(id: &'static str, slug: &str, title: &str, mtype: MessageType) -> TestCase {
    tc(slug, title, move |ctx: Ctx| async move {
        let mut o = Observed::register(&ctx, id, mtype, &state(0)).await?;
        for _ in 0..3 {
            o.notified(mtype).await?;
        }
        Ok(())
    })
    .covers(&[td(id), obs("RFC7641-4.2-content-format")])
    .covers(&BASIC)
    .control(notifications_mutated(
        "the server's notifications carry no Observe option",
        without_observe,
    ))
}

pub fn tests() -> Vec<TestCase> {
    use MessageType::{Con, Non};
    let mut t = Vec::new();
    t.push(
        basic_td(
            "TD_COAP_OBS_01",
            "td-coap-obs-01",
            "TD_COAP_OBS_01: a CON GET with Observe registers: 2.05 with Observe and Content-Format, then a CON 2.05 notification per change, same format and token, Observe increasing",
            Con,
        )
        .needs(&["coap.observe", "coap.dynamic-resources"]),
    );
    // libcoap's example server sends every notification as CON unless started with -N,
    // which makes all of them NON (four in five), OBS_01's included: no one instance
    // offers both, so it declares no `coap.observe.non-notifications`.
    t.push(
        basic_td(
            "TD_COAP_OBS_02",
            "td-coap-obs-02",
            "TD_COAP_OBS_02: a NON GET with Observe registers; notifications come as NON 2.05, same format and token, Observe increasing (needs a resource with NON notifications)",
            Non,
        )
        .needs(&["coap.observe", "coap.dynamic-resources", "coap.observe.non-notifications"]),
    );
    // The TD's verdicts are the client's (it notices the lost registration after
    // Max-Age and re-registers); its checks on the server are judged here: a server
    // that lost its state (crashed and restarted) sends no more notifications, then answers the
    // re-registration with the same token and notifies again. The resource must
    // outlive the restart, so it is the server's own PUT-able observable one.
    t.push(
        tc(
            "td-coap-obs-04",
            "TD_COAP_OBS_04 (server's part): after a crash and restart the server sends no notifications for the lost registration, answers a re-registration with the same token with 2.05 and Observe, and notifies again",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_04";
                let c = Client::open(&ctx).await?;
                let mut u = Client::open(&ctx).await?;
                create_as(&mut u, LASTING_PATH, JSON, &state(0)).await?;
                let mut o = Observed::start(id, c, u, LASTING_PATH.into(), Con).await?;
                o.notified(Con).await?;
                // A crash, not a shutdown: a server stopping in order may tell its
                // observers (libcoap sends each a 4.04), a rebooted one cannot.
                ctx.crash_and_restart_target().await?;
                o.change().await?;
                o.silent(td(id), "the server restarted and lost the registration")
                    .await?;
                // "Not necessarily increasing": freshness counts from the new response.
                let again = o.reregister(Con).await?;
                ctx.ensure(again.content_format() == o.format, td(id), || {
                    format!(
                        "Content-Format {:?} after the re-registration, {:?} before",
                        again.content_format(),
                        o.format
                    )
                })?;
                o.change().await?;
                let n = o.next("a change after the re-registration").await?;
                o.judge(&n, Con)
            },
        )
        .covers(&[td("TD_COAP_OBS_04"), obs("RFC7641-4.2-content-format")])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.restart"])
        .exclusive()
        .timeout(Duration::from_secs(30))
        .control(notifications_mutated("the server's notifications carry no Observe option", without_observe)),
    );
    t.push(
        tc(
            "td-coap-obs-05",
            "TD_COAP_OBS_05: a client that stops acknowledging: the server retransmits the CON notification (or replaces it with a fresher one), then stops notifying after its final timeout (MAX_TRANSMIT_WAIT)",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_05";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                o.notified(Con).await?;
                // The client is switched off: what comes next is never acknowledged.
                o.change().await?;
                let due = o.due();
                let Some(unanswered) = o.c.next_for(&o.token, due).await? else {
                    return Err(o.missing("a change"));
                };
                o.judge(&unanswered, Con)?;
                // The resource keeps changing while the server retransmits (the TD's
                // periodic resource): a server may replace the retransmission with a
                // fresher notification (RFC 7641 §4.5.2).
                o.change().await?;
                let final_timeout = unanswered.at + MAX_TRANSMIT_WAIT;
                let mut current = unanswered.msg.message_id;
                while let Some(r) = o.c.next_for(&o.token, final_timeout).await? {
                    if r.msg.message_id != current {
                        o.fresh(&r).map_err(|_| {
                            Failure::fail(
                                obs("RFC7641-4.5.2-replace"),
                                format!(
                                    "while mid=0x{current:04x} was unacknowledged, a notification with another Message ID and no fresher Observe came: {}",
                                    summarize(&r.msg)
                                ),
                            )
                        })?;
                        current = r.msg.message_id;
                    }
                }
                o.change().await?;
                o.silent(
                    obs("RFC7641-4.5-timeout-removes"),
                    "the client left a CON notification unacknowledged past MAX_TRANSMIT_WAIT",
                )
                .await
            },
        )
        .covers(&[
            td("TD_COAP_OBS_05"),
            obs("RFC7641-4.5-timeout-removes"),
            obs("RFC7641-4.5.2-replace"),
        ])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.dynamic-resources"])
        // The final timeout is the protocol's own: MAX_TRANSMIT_WAIT (93 s), plus the
        // exchanges around it.
        .timeout(MAX_TRANSMIT_WAIT + Duration::from_secs(30))
        .control(retransmissions_renumbered()),
    );
    t.push(
        tc(
            "td-coap-obs-06",
            "TD_COAP_OBS_06: a client that answers a notification with a RST (it rebooted) gets no further notifications",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_06";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                o.notified(Con).await?;
                // The client rebooted: it no longer knows the token and rejects it.
                o.change().await?;
                let due = o.due();
                let Some(r) = o.c.next_for(&o.token, due).await? else {
                    return Err(o.missing("a change"));
                };
                o.c.send(&Message::empty(MessageType::Rst, r.msg.message_id))
                    .await?;
                // The server has handled the RST before the next change is made.
                o.c.ping().await?;
                o.change().await?;
                o.silent(obs("RFC7641-4.5-rst-removes"), "the client answered a notification with a RST")
                    .await
            },
        )
        .covers(&[td("TD_COAP_OBS_06"), obs("RFC7641-4.5-rst-removes")])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.dynamic-resources"])
        .control(controls::mutate_to_server(
            "the server sees an ACK where the client sent a RST",
            controls::is_type(MessageType::Rst),
            |m| m.mtype = MessageType::Ack,
        )),
    );
    t.push(
        tc(
            "td-coap-obs-07",
            "TD_COAP_OBS_07: deleting the observed resource ends the observation with a CON 4.04 notification without Observe, and no more",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_07";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                o.notified(Con).await?;
                // The ACK must reach the server before the DELETE from the other
                // client: a server with a CON notification outstanding may hold the 4.04.
                o.c.ping().await?;
                let del = o.updater.request(Con, Code::DELETE, &o.path);
                let (_, resp) = o.updater.response(&del, rfc("RFC7252-5.8.4-delete")).await?;
                if resp.code != Code::DELETED {
                    return Err(Failure::error(format!(
                        "the DELETE of the observed resource was answered {}",
                        summarize(&resp)
                    )));
                }
                let n = o.next("the DELETE").await?;
                ended(id, &n, Code::NOT_FOUND)?;
                o.silent(obs("RFC7641-4.2-error-ends"), "the observation ended with a 4.04")
                    .await
            },
        )
        .covers(&[td("TD_COAP_OBS_07"), obs("RFC7641-4.2-error-ends")])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.dynamic-resources"])
        .control(controls::mutate_to_client(
            "the server's 4.04 notification keeps an Observe option",
            |m: &Message| m.code == Code::NOT_FOUND && matches!(m.mtype, MessageType::Con | MessageType::Non),
            |m| m.push(CoapOption::uint(OptionNumber::Observe, 0x00ff_fff0)),
        )),
    );
    t.push(
        tc(
            "td-coap-obs-08",
            "TD_COAP_OBS_08: updating the observed resource in another Content-Format ends the observation with a CON 4.06 notification without Observe, and no more",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_08";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                o.notified(Con).await?;
                // The observation is of application/json; the update is text/plain.
                o.change_to(0, b"now plain text").await?;
                let n = o.next("the change of Content-Format").await?;
                ended(id, &n, Code::NOT_ACCEPTABLE)?;
                o.silent(obs("RFC7641-4.2-content-format"), "the observation ended with a 4.06")
                    .await
            },
        )
        .covers(&[td("TD_COAP_OBS_08"), obs("RFC7641-4.2-content-format"), obs("RFC7641-4.2-error-ends")])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.dynamic-resources"])
        .control(controls::mutate_to_client(
            "the server's 4.06 notification keeps an Observe option",
            |m: &Message| m.code == Code::NOT_ACCEPTABLE && matches!(m.mtype, MessageType::Con | MessageType::Non),
            |m| m.push(CoapOption::uint(OptionNumber::Observe, 0x00ff_fff0)),
        )),
    );
    t.push(
        tc(
            "td-coap-obs-09",
            "TD_COAP_OBS_09: an update in the same Content-Format is notified with a CON 2.05 carrying the new value, same format and token, Observe increasing",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_09";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                for _ in 0..2 {
                    let n = o.notified(Con).await?;
                    let want = state(o.changes);
                    ctx.ensure(n.msg.payload == want, td(id), || {
                        format!(
                            "the notification's payload is not the new value {:?}: {}",
                            String::from_utf8_lossy(&want),
                            summarize(&n.msg)
                        )
                    })?;
                }
                Ok(())
            },
        )
        .covers(&[td("TD_COAP_OBS_09"), obs("RFC7641-4.2-content-format")])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.dynamic-resources"])
        .control(notifications_mutated("the server's notifications carry a stale value", |m| {
            m.payload = state(0);
        })),
    );
    t.push(
        tc(
            "td-coap-obs-10",
            "TD_COAP_OBS_10: a GET without Observe from the observing client is answered 2.05 without Observe, and the observation goes on",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_10";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                o.notified(Con).await?;
                let plain = o.c.request(Con, Code::GET, &o.path);
                let ex = o.c.exchange(&plain, Duration::ZERO).await?;
                let resp = judge(&plain, &ex, &[Code::CONTENT], rfc("RFC7252-5.8.1-get"))?;
                ctx.ensure(resp.observe().is_none(), obs("RFC7641-4.1-plain-get"), || {
                    format!("the response to a GET without Observe carries one: {}", summarize(&resp))
                })?;
                ctx.ensure(resp.content_format() == o.format, td(id), || {
                    format!("the plain GET's response has Content-Format {:?}, the observation {:?}", resp.content_format(), o.format)
                })?;
                o.change().await?;
                let n = o.next("a change following the plain GET").await.map_err(|_| {
                    Failure::fail(obs("RFC7641-4.1-plain-get"), format!("after a GET without Observe, a change brought no notification with token {:02x?}", o.token))
                })?;
                o.judge(&n, Con)
            },
        )
        .covers(&[td("TD_COAP_OBS_10"), obs("RFC7641-4.1-plain-get")])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.dynamic-resources"])
        .control(controls::mutate_to_server(
            "the server sees the plain GET as a new registration (Observe 0), replacing the first",
            |m: &Message| m.code == Code::GET && m.observe().is_none(),
            |m| m.push(CoapOption::uint(OptionNumber::Observe, observe::REGISTER)),
        )),
    );
    t.push(
        tc(
            "td-coap-obs-11",
            "TD_COAP_OBS_11: a lost CON notification (the client receives the first and does not acknowledge it) is retransmitted; never two notifications in flight, Observe increasing",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_11";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                o.change().await?;
                let due = o.due();
                // Emulated loss: received (and recorded), never acknowledged.
                let Some(lost) = o.c.next_for(&o.token, due).await? else {
                    return Err(o.missing("a change"));
                };
                o.judge(&lost, Con)?;
                let due = o.due();
                let Some(again) = o.c.notification(&o.token, due).await? else {
                    return Err(Failure::fail(
                        td(id),
                        format!(
                            "the unacknowledged notification mid=0x{:04x} was not retransmitted within {:?}",
                            lost.msg.message_id,
                            o.c.patience()
                        ),
                    ));
                };
                if again.msg.message_id != lost.msg.message_id {
                    // Not a retransmission: only a fresher replacement may take its place.
                    o.fresh(&again).map_err(|_| {
                        Failure::fail(
                            obs("RFC7641-4.5.2-replace"),
                            format!(
                                "while mid=0x{:04x} was unacknowledged, a second notification no fresher came: {}",
                                lost.msg.message_id,
                                summarize(&again.msg)
                            ),
                        )
                    })?;
                }
                o.change().await?;
                let n = o.next("a change after the retransmission was acknowledged").await?;
                o.judge(&n, Con)
            },
        )
        .covers(&[td("TD_COAP_OBS_11"), obs("RFC7641-4.5.2-replace")])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.dynamic-resources"])
        .control(retransmissions_renumbered()),
    );
    t.push(
        tc(
            "td-coap-obs-12",
            "TD_COAP_OBS_12: a GET with Observe 1 and the observation's token is answered 2.05 without Observe and ends the observation",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_12";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                o.notified(Con).await?;
                let cancel = o
                    .c
                    .request(Con, Code::GET, &o.path)
                    .with_token(&o.token)
                    .with_uint(OptionNumber::Observe, observe::DEREGISTER);
                let ex = o.c.exchange(&cancel, Duration::ZERO).await?;
                let resp = judge(&cancel, &ex, &[Code::CONTENT], rfc("RFC7252-5.8.1-get"))?;
                ctx.ensure(resp.observe().is_none(), obs("RFC7641-3.6-deregister"), || {
                    format!("the response to the deregistration carries Observe: {}", summarize(&resp))
                })?;
                ctx.ensure(resp.content_format() == o.format, td(id), || {
                    format!("the deregistration's response has Content-Format {:?}, the observation {:?}", resp.content_format(), o.format)
                })?;
                let token = o.token.clone();
                o.c.unwatch(&token);
                o.change().await?;
                o.silent(obs("RFC7641-3.6-deregister"), "the client deregistered with Observe 1")
                    .await
            },
        )
        .covers(&[td("TD_COAP_OBS_12"), obs("RFC7641-3.6-deregister")])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.dynamic-resources"])
        .control(controls::mutate_to_server(
            "the server sees the deregistration as a registration (Observe 0)",
            |m: &Message| m.code == Code::GET && m.observe() == Some(observe::DEREGISTER),
            |m| {
                without_observe(m);
                m.push(CoapOption::uint(OptionNumber::Observe, observe::REGISTER));
            },
        )),
    );
    t.push(
        tc(
            "td-coap-obs-13",
            "TD_COAP_OBS_13: observing a large resource: the response and each CON notification carry Block2 block 0 (M=1, full), the rest retrieved with GETs; Observe increasing",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_13";
                let first = numbered('x', LARGE);
                let mut o = Observed::register(&ctx, id, Con, &first).await?;
                let start = o.registered.clone();
                rest_of(&mut o, &start, &first).await?;
                for tag in ['y', 'z'] {
                    let body = numbered(tag, LARGE);
                    o.change_to(JSON, &body).await?;
                    let n = o.next("a change").await?;
                    o.judge(&n, Con)?;
                    rest_of(&mut o, &n.msg, &body).await?;
                }
                Ok(())
            },
        )
        .covers(&[td("TD_COAP_OBS_13"), rfc_block2()])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.block", "coap.dynamic-resources"])
        .control(notifications_mutated("the server's notifications carry Block2 block 1 instead of 0", |m| {
            if let Some(mut b) = m.block2() {
                b.num += 1;
                m.options.retain(|o| o.number != OptionNumber::Block2);
                m.push(CoapOption::new(OptionNumber::Block2, b.to_value()));
            }
        })),
    );
    t.push(
        tc(
            "td-coap-obs-14",
            "TD_COAP_OBS_14: observing a resource whose size varies: large states come with Block2 block 0 and the rest by GET, small ones whole; both for the registration's response and for notifications",
            |ctx: Ctx| async move {
                let id = "TD_COAP_OBS_14";
                let mut o = Observed::register(&ctx, id, Con, &state(0)).await?;
                let start = o.registered.clone();
                rest_of(&mut o, &start, &state(0)).await?;
                let large = numbered('v', LARGE);
                for body in [large.clone(), state(7), numbered('w', LARGE)] {
                    o.change_to(JSON, &body).await?;
                    let n = o.next("a change").await?;
                    o.judge(&n, Con)?;
                    rest_of(&mut o, &n.msg, &body).await?;
                }
                // The TD's last note: the registration's response in Block2 form too.
                let mut second = Observed::register(&ctx, id, Con, &large).await?;
                let start = second.registered.clone();
                rest_of(&mut second, &start, &large).await
            },
        )
        .covers(&[td("TD_COAP_OBS_14"), rfc_block2()])
        .covers(&BASIC)
        .needs(&["coap.observe", "coap.block", "coap.dynamic-resources"])
        .control(notifications_mutated("the server's notifications of a large state lose their Block2 option", |m| {
            m.options.retain(|o| o.number != OptionNumber::Block2);
        })),
    );
    t.push(
        tc(
            "observe-values-fresh",
            "Notifications of the server's periodic resource carry Observe values that increase in 24-bit serial arithmetic, each fresher than the last",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let (req, ex) = c.observe(Con, TICKING_PATH).await?;
                let resp = judge(&req, &ex, &[Code::CONTENT], obs("RFC7641-3.1-register"))?;
                let mut last = resp.observe().ok_or_else(|| {
                    Failure::fail(obs("RFC7641-3.1-register"), format!("the registration's response has no Observe option: {}", summarize(&resp)))
                })?;
                let mut last_at = ex.response.map_or_else(Instant::now, |r| r.at);
                for _ in 0..3 {
                    // A tick may fall just before the previous notification: two ticks
                    // and the server's response time bound the wait.
                    let due = Instant::now() + 2 * TICK + c.response_time();
                    let Some(n) = c.notification(&req.token, due).await? else {
                        return Err(Failure::fail(
                            obs("RFC7641-4.2-observe"),
                            format!("no notification of {TICKING_PATH} within {:?}", 2 * TICK + c.response_time()),
                        ));
                    };
                    let Some(v) = n.msg.observe() else {
                        return Err(Failure::fail(obs("RFC7641-4.2-observe"), format!("a notification without Observe: {}", summarize(&n.msg))));
                    };
                    let elapsed = n.at.saturating_duration_since(last_at);
                    if !observe::is_fresher(last, v, elapsed) {
                        return Err(Failure::fail(
                            obs("RFC7641-4.4-fresh"),
                            format!("Observe {v} arrived {elapsed:?} after Observe {last}: not fresher: {}", summarize(&n.msg)),
                        ));
                    }
                    (last, last_at) = (v, n.at);
                }
                Ok(())
            },
        )
        .covers(&[obs("RFC7641-4.4-fresh"), obs("RFC7641-3.4-fresh"), obs("RFC7641-2-value")])
        .needs(&["coap.observe"])
        .control(notifications_mutated("the server's Observe values run backwards", |m| {
            if let Some(v) = m.observe() {
                without_observe(m);
                m.push(CoapOption::uint(OptionNumber::Observe, observe::MAX - v));
            }
        })),
    );
    t
}

fn rfc_block2() -> SpecRef {
    super::blk("RFC7959-2.4-block2")
}

/// The checks on a notification that ends an observation (OBS_07, OBS_08): `code`, no
/// Observe option, CON.
fn ended(id: &'static str, n: &Reply, code: Code) -> Result<(), Failure> {
    let m = &n.msg;
    if m.code != code {
        return Err(Failure::fail(
            td(id),
            format!(
                "expected a {} notification, got {}",
                code.name(),
                summarize(m)
            ),
        ));
    }
    if m.observe().is_some() {
        return Err(Failure::fail(
            obs("RFC7641-4.2-error-ends"),
            format!(
                "the {} notification keeps an Observe option: {}",
                code.name(),
                summarize(m)
            ),
        ));
    }
    if m.mtype != MessageType::Con {
        return Err(Failure::fail(
            td(id),
            format!(
                "the {} notification is not CON: {}",
                code.name(),
                summarize(m)
            ),
        ));
    }
    Ok(())
}

/// Completes the representation `start` began (the registration's response or a
/// notification) with GETs without Observe, as TD_COAP_BLOCK_02 does, and judges the
/// whole: Block2 block 0 (M=1, full) then the blocks asked for when it is larger than
/// a block can be, the whole state without Block2 when it is not.
async fn rest_of(o: &mut Observed, start: &Message, want: &[u8]) -> Result<(), Failure> {
    let id = o.id;
    let Some(b) = start.block2() else {
        return if want.len() > LARGEST_BLOCK {
            // RFC 7252 §4.6: a message should fit 1152 bytes, a payload 1024; a larger
            // state is the TDs' "large resource", sent block-wise.
            Err(Failure::fail(
                td(id),
                format!(
                    "a state of {} bytes, more than the largest block, came without Block2: {}",
                    want.len(),
                    summarize(start)
                ),
            ))
        } else if start.payload == want {
            Ok(())
        } else {
            Err(Failure::fail(
                td(id),
                format!(
                    "a state of {} bytes came as {} bytes without Block2: {}",
                    want.len(),
                    start.payload.len(),
                    summarize(start)
                ),
            ))
        };
    };
    check_first_block(id, start, b)?;
    let get_rule = rfc("RFC7252-5.8.1-get");
    let begun = Transfer {
        steps: Vec::new(),
        body: start.payload.clone(),
    };
    // Further blocks are asked for without Observe (RFC 7959 §2.6).
    let template = Message::new(MessageType::Con, Code::GET, 0).with_path(&o.path);
    let mut first = o.c.follow_up(&template);
    first.push(CoapOption::new(
        OptionNumber::Block2,
        next_block2(b, None).to_value(),
    ));
    let t = o.c.get_blocks_after(begun, first, None, get_rule).await?;
    judge_block2(td(id), &t, Some(want), Code::CONTENT, get_rule)
}

/// Block 0 of an observed large state: NUM 0, M=1, a full block.
fn check_first_block(id: &'static str, m: &Message, b: Block) -> Result<(), Failure> {
    if b.num != 0 || !b.more || m.payload.len() != b.size() {
        return Err(Failure::fail(
            td(id),
            format!(
                "an observed large state should start with Block2 0/1/size and a full block, got {b} with {} bytes: {}",
                m.payload.len(),
                summarize(m)
            ),
        ));
    }
    Ok(())
}
