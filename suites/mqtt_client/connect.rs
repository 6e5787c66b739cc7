//! Opening the connection: CONNECT first and well-formed (§3.1), and Keep Alive kept
//! with PINGREQ (§3.1.2.10).

use std::time::Duration;

use hilt_net::interposer::{Action, Dir, Match, Rule};
use hilt_runner::{Control, Ctx, Failure, TestCase};
use hilt_wire::mqtt::{Packet, Properties, Version};
use tokio::time::Instant;

use super::bench::{BOUND, DEADLINE, DEVICE_START, Session, Stimulus, connack, secs, serve};
use super::server::Got;
use super::{specs, tc};

/// The keep alive the tests ask for: the shortest mosquitto's clients accept.
pub const KEEP_ALIVE_S: u16 = 5;
/// Keep alives longer than this are not waited out.
const KEEP_ALIVE_LIMIT_S: u16 = 20;

/// Offset of CONNECT's Connect Flags byte: after the fixed header, the protocol name
/// ("MQTT", 6 bytes) and the level.
pub fn connect_flags_offset(frame: &[u8]) -> usize {
    let varint = frame[1..].iter().take_while(|b| **b & 0x80 != 0).count() + 1;
    1 + varint + 7
}

/// The client's CONNECT reaches hilt with `bits` set in its Connect Flags.
pub fn connect_flags_control(what: &str, bits: u8) -> Control {
    Control::new(what, move || {
        vec![Rule::new(
            Dir::ToServer,
            Match::kind("CONNECT"),
            Action::rewrite(move |f| {
                let mut f = f.to_vec();
                let at = connect_flags_offset(&f);
                if let Some(b) = f.get_mut(at) {
                    *b |= bits;
                }
                f
            }),
        )]
    })
}

pub fn tests(version: Version) -> Vec<TestCase> {
    vec![
        tc(
            version,
            "connect.first-packet",
            "The first packet the client sends on its connection is CONNECT",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx);
                let mut session =
                    Session::open(&ctx, version, &["connect", "subscribe"], &s, Vec::new(), deadline)
                        .await?;
                let c = session.connect()?;
                session.conn.send(&Packet::ConnAck(connack(Properties::new()))).await?;
                ctx.note(format!("CONNECT client id {:?}, keep alive {} s", c.client_id, c.keep_alive));
                Ok(())
            },
        )
        .covers(&specs(version, &["MQTT-3.1.0-1"], &["MQTT-3.1.0-1"]))
        .timeout(BOUND)
        .control(Control::new(
            "a PINGREQ reaches hilt before the client's CONNECT",
            || {
                vec![Rule::new(Dir::ToServer, Match::kind("CONNECT"), Action::InjectBefore(vec![0xc0, 0x00]))]
            },
        )),
        tc(
            version,
            "connect.well-formed",
            "CONNECT is well-formed: protocol name and level, consistent flags, Will and credential fields present exactly as the flags say, the client id first",
            |ctx: Ctx, version| async move {
                let deadline = Instant::now() + DEADLINE;
                let s = Stimulus::new(&ctx);
                let mut session =
                    Session::open(&ctx, version, &["connect", "subscribe"], &s, Vec::new(), deadline)
                        .await?;
                let c = session.connect()?;
                if session.conn.version() != version {
                    return Err(Failure::error(format!(
                        "the device connected with MQTT {}, not {version}: its command does not use the `{{version}}` or `{{level}}` placeholder",
                        session.conn.version()
                    )));
                }
                session.conn.send(&Packet::ConnAck(connack(Properties::new()))).await?;
                ctx.note(format!(
                    "client id {:?}, clean {}, keep alive {} s, will {}, user name {}",
                    c.client_id,
                    c.clean_start,
                    c.keep_alive,
                    c.will.is_some(),
                    c.username.is_some()
                ));
                Ok(())
            },
        )
        .covers(&specs(
            version,
            &["MQTT-3.1.2-11", "MQTT-3.1.2-13", "MQTT-3.1.2-16", "MQTT-3.1.2-18", "MQTT-3.1.3-1", "MQTT-3.1.3-3", "MQTT-3.1.3-4", "MQTT-2.2.2-1"],
            &["MQTT-3.1.2-11", "MQTT-3.1.2-13", "MQTT-3.1.2-15", "MQTT-3.1.2-18", "MQTT-3.1.2-20", "MQTT-3.1.2-22", "MQTT-3.1.3-1", "MQTT-3.1.3-3", "MQTT-3.1.3-4"],
        ))
        .timeout(BOUND)
        .control(connect_flags_control(
            "the client's CONNECT reaches hilt with Will QoS 1 but no Will Flag",
            0x08,
        )),
        tc(
            version,
            "connect.keep-alive",
            "With nothing else to send, the client sends PINGREQ so that no gap between its packets exceeds the Keep Alive",
            |ctx: Ctx, version| async move {
                let s = Stimulus::new(&ctx).keepalive(KEEP_ALIVE_S);
                let deadline = Instant::now() + DEVICE_START + Duration::from_secs(45);
                let mut session =
                    Session::open(&ctx, version, &["connect", "subscribe"], &s, Vec::new(), deadline)
                        .await?;
                let c = session.connect()?;
                session.conn.send(&Packet::ConnAck(connack(Properties::new()))).await?;
                let rule = super::spec(version, "MQTT-3.1.2-20", "MQTT-3.1.2-23");
                judge_keep_alive(&ctx, &mut session, c.keep_alive, rule, "its Keep Alive").await
            },
        )
        .covers(&specs(version, &["MQTT-3.1.2-20"], &["MQTT-3.1.2-23"]))
        .timeout(DEVICE_START + Duration::from_secs(50))
        .control(Control::new(
            "the client's PINGREQs never reach hilt",
            || vec![Rule::new(Dir::ToServer, Match::kind("PINGREQ"), Action::Drop)],
        )),
    ]
}

/// Watches the client for two keep-alive periods of `keep_alive` seconds (answering
/// PINGREQs) and fails with `rule` when a gap between its packets is longer than a
/// period (plus the target's reaction slack, at most a second).
pub async fn judge_keep_alive(
    ctx: &Ctx,
    session: &mut Session,
    keep_alive: u16,
    rule: hilt_core::SpecRef,
    whose: &str,
) -> Result<(), Failure> {
    if keep_alive == 0 {
        return Err(Failure::skip("the client turned Keep Alive off (0)"));
    }
    if keep_alive > KEEP_ALIVE_LIMIT_S {
        return Err(Failure::skip(format!(
            "the client's Keep Alive is {keep_alive} s, longer than this test waits ({KEEP_ALIVE_LIMIT_S} s): give the device's command the `{{keepalive}}` placeholder"
        )));
    }
    let period = Duration::from_secs(u64::from(keep_alive));
    let allowed = period + session.bench.response.min(Duration::from_secs(1));
    let mut last = session.first.at();
    let mut gaps = Vec::new();
    while gaps.len() < 2 {
        let until = last + allowed;
        let mut seen = None;
        serve(
            &mut session.conn,
            until,
            |_| false,
            |g| {
                seen = Some(g.clone());
                true
            },
        )
        .await?;
        match seen {
            Some(Got::Packet { at, .. }) => {
                gaps.push(at - last);
                last = at;
            }
            Some(other) => {
                return Err(Failure::inconclusive(format!(
                    "the client ended the connection ({}) before two keep-alive periods passed",
                    other.describe()
                )));
            }
            None => {
                let ended = session.end_device().await;
                return Err(Failure::fail(
                    rule,
                    format!(
                        "with {whose} at {keep_alive} s, the client sent nothing for {} after its last packet; {ended}",
                        secs(allowed),
                    ),
                ));
            }
        }
    }
    ctx.note(format!(
        "gaps between the client's packets: {} (keep alive {keep_alive} s)",
        gaps.iter().map(|g| secs(*g)).collect::<Vec<_>>().join(", ")
    ));
    Ok(())
}
