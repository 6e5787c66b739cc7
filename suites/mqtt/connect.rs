//! CONNECT and CONNACK: the first exchange of every connection.

use hilt_runner::TestCase;
use hilt_wire::mqtt::{Packet, ReasonCode, Version};

use super::controls;
use super::packets::connect;
use super::session::{doc, Session};
use super::{v311, v5, SUITE};

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for (version, tag, refs, rule) in [
        (Version::V5, "v5", [v5("MQTT-3.2.0-1"), v5("MQTT-3.2.2-2")], v5("MQTT-3.2.2-2")),
        (Version::V311, "v311", [v311("MQTT-3.2.0-1"), v311("MQTT-3.2.2-1")], v311("MQTT-3.2.2-1")),
    ] {
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.connect.clean-start-no-session-present"),
                "CONNACK is the first packet and, after a clean start, Session Present is 0",
                move |ctx| async move {
                    let (s, ack) = Session::connect_with(&ctx, version, connect(&ctx.unique("c")), refs[0]).await?;
                    ctx.ensure(!ack.session_present, rule, || "Session Present is 1 after a clean start".into())?;
                    ctx.ensure(ack.code == ReasonCode::SUCCESS, refs[0], || format!("CONNACK refused a plain CONNECT: {:#04x}", ack.code.0))?;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&refs)
            .tags(&["connect"])
            .needs(&[if version == Version::V5 { "mqtt.v5" } else { "mqtt.v3.1.1" }])
            .control(controls::mutate_to_client(version, "CONNACK", "the broker claims a session after a clean start", |p| {
                if let Packet::ConnAck(a) = p {
                    a.session_present = true;
                }
            })),
        );

        let second_connect_rule = match version {
            Version::V5 => v5("MQTT-3.1.0-2"),
            Version::V311 => v311("MQTT-3.1.0-2"),
        };
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.connect.second-connect-is-a-protocol-error"),
                "A second CONNECT on the same connection makes the broker close it",
                move |ctx| async move {
                    let id = ctx.unique("c");
                    let (mut s, _) = Session::connected(&ctx, version, connect(&id)).await?;
                    s.send(&Packet::Connect(connect(&id))).await?;
                    s.expect_close(second_connect_rule, "a second CONNECT was sent").await
                },
            )
            .covers(&[second_connect_rule])
            .tags(&["connect"])
            .needs(&[if version == Version::V5 { "mqtt.v5" } else { "mqtt.v3.1.1" }])
            .control(controls::Control::new("the broker never sees the second CONNECT", || {
                use hilt_net::interposer::{Action, Dir, Match, Rule};
                vec![Rule::new(Dir::ToServer, Match::kind("CONNECT"), Action::Drop).nth(2)]
            })),
        );
        let _ = doc(version);
    }
    t
}
