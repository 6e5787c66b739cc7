//! SUBSCRIBE/SUBACK and UNSUBSCRIBE/UNSUBACK: identifiers echoed, one code per filter in
//! order, granted QoS capping delivery, replacement of an identical subscription,
//! malformed options refused; unsubscribing stops delivery, matches filters exactly,
//! is acknowledged even when nothing was subscribed, and lets QoS 2 flows finish.

use hilt_runner::{Failure, TestCase};
use hilt_wire::mqtt::{
    Ack, Packet, Properties, QoS, ReasonCode, Subscription, UnsubAck, Unsubscribe, Version,
};

use super::SUITE;
use super::controls;
use super::pubsub::{
    VERSIONS, cap, client, collect_until, gather_until, granted, message, publish, qos_min,
    raw_subscribe, send_sentinel, show, spec, subscribe, subscribe_all, subscriber, tag, wait_ack,
    wait_publish,
};
use super::session::Session;

/// Sends UNSUBSCRIBE for `filters` and returns the UNSUBACK, which must carry the same
/// packet identifier (`echo`) and, in 5.0, one defined code per filter.
async fn unsubscribe(
    s: &mut Session,
    packet_id: u16,
    filters: &[&str],
) -> Result<UnsubAck, Failure> {
    let v = s.version;
    s.send(&Packet::Unsubscribe(Unsubscribe {
        packet_id,
        properties: Properties::default(),
        filters: filters.iter().map(|f| (*f).to_owned()).collect(),
    }))
    .await?;
    let within = s.response_timeout();
    let ack = s
        .wait_for(
            spec(v, "MQTT-3.10.4-4", "MQTT-3.10.4-4"),
            "UNSUBACK",
            within,
            |p| match p {
                Packet::UnsubAck(a) => Some(a.clone()),
                _ => None,
            },
        )
        .await?;
    if ack.packet_id != packet_id {
        return Err(Failure::fail(
            spec(v, "MQTT-3.10.4-4", "MQTT-3.10.4-4"),
            format!(
                "UNSUBACK carries packet identifier {:#06x} for an UNSUBSCRIBE with {packet_id:#06x}",
                ack.packet_id
            ),
        ));
    }
    if v == Version::V5 {
        let codes = super::v5("MQTT-3.11.3-2");
        if ack.codes.len() != filters.len() {
            return Err(Failure::fail(
                codes,
                format!(
                    "UNSUBACK has {} codes for {} topic filters",
                    ack.codes.len(),
                    filters.len()
                ),
            ));
        }
        if let Some(c) = ack
            .codes
            .iter()
            .find(|c| !c.allowed_in(hilt_wire::mqtt::PacketType::UnsubAck, v))
        {
            return Err(Failure::fail(
                codes,
                format!("UNSUBACK carries {:#04x}, not an UNSUBACK code", c.0),
            ));
        }
    }
    Ok(ack)
}

/// In 5.0, the UNSUBACK code for a filter that was not subscribed: 0x11 says so; 0x00
/// is what a server that does not track it answers. 3.1.1 has no codes.
fn nothing_to_remove(c: ReasonCode) -> bool {
    c == ReasonCode::NO_SUBSCRIPTION_EXISTED || c == ReasonCode::SUCCESS
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for version in VERSIONS {
        let tag = tag(version);

        // SUBACK answers each SUBSCRIBE with its packet identifier.
        let answer = spec(version, "MQTT-3.8.4-1", "MQTT-3.8.4-1");
        let same_id = spec(version, "MQTT-3.8.4-2", "MQTT-3.8.4-2");
        let echo = spec(version, "MQTT-2.2.1-6", "MQTT-2.3.1-7");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.subscribe.suback-echoes-packet-id"),
                "The broker answers each SUBSCRIBE with a SUBACK carrying its packet identifier",
                move |ctx| async move {
                    let mut s = client(&ctx, version, "s").await?;
                    for (id, f) in [(0x1234, "a"), (0xfedc, "b"), (1, "c")] {
                        subscribe(
                            &mut s,
                            id,
                            vec![Subscription::new(ctx.topic(f), QoS::AtMostOnce)],
                        )
                        .await?;
                    }
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[answer, same_id, echo])
            .tags(&["subscribe"])
            .needs(&[cap(version)])
            .control(controls::mutate_to_client(
                version,
                "SUBACK",
                "the broker acknowledges the wrong packet identifier",
                |p| {
                    if let Packet::SubAck(a) = p {
                        a.packet_id ^= 0x0001;
                    }
                },
            )),
        );

        // Three filters asking for QoS 2, 0, 1: three codes, in that order (any
        // permutation would grant some filter more than it asked), each subscription
        // effective on its own.
        let separate = spec(version, "MQTT-3.8.4-5", "MQTT-3.8.4-4");
        let one_each = spec(version, "MQTT-3.8.4-6", "MQTT-3.8.4-5");
        let granted_max = spec(version, "MQTT-3.8.4-7", "MQTT-3.8.4-5");
        let order = spec(version, "MQTT-3.9.3-1", "MQTT-3.9.3-1");
        let defined = spec(version, "MQTT-3.9.3-2", "MQTT-3.9.3-2");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.subscribe.one-code-per-filter-in-order"),
                "A SUBSCRIBE with several filters gets one SUBACK code per filter, in order, none above the QoS asked",
                move |ctx| async move {
                    let asked = [QoS::ExactlyOnce, QoS::AtMostOnce, QoS::AtLeastOnce];
                    let topics: Vec<String> = (0..3).map(|i| ctx.topic(&format!("f{i}"))).collect();
                    let sentinel = ctx.topic("end");
                    let mut s = client(&ctx, version, "s").await?;
                    let mut subs: Vec<Subscription> = topics.iter().zip(asked).map(|(t, q)| Subscription::new(t.clone(), q)).collect();
                    subs.push(Subscription::new(sentinel.clone(), QoS::AtLeastOnce));
                    let ack = subscribe(&mut s, 77, subs).await?;
                    ctx.ensure(ack.codes.len() == 4, one_each, || format!("SUBACK has {} codes for 4 topic filters", ack.codes.len()))?;
                    for (i, (c, q)) in ack.codes.iter().zip(asked).enumerate() {
                        let g = granted(*c).ok_or_else(|| Failure::error(format!("the broker refused filter {i} with {:#04x}", c.0)))?;
                        ctx.ensure(g.as_u8() <= q.as_u8(), order, || {
                            format!(
                                "SUBACK codes {:?} for filters asking QoS 2, 0, 1 (and 1): code {i} grants more than asked; out of order",
                                ack.codes.iter().map(|c| c.0).collect::<Vec<_>>()
                            )
                        })?;
                    }
                    let mut p = client(&ctx, version, "p").await?;
                    for t in &topics {
                        publish(&mut p, message(t, t.as_bytes(), QoS::AtLeastOnce, 1)).await?;
                    }
                    send_sentinel(&mut p, &sentinel).await?;
                    let got = collect_until(&mut s, separate, &sentinel).await?;
                    for t in &topics {
                        ctx.ensure(got.iter().filter(|m| &m.topic == t).count() == 1, separate, || {
                            format!("the subscription to {t}, one of four in one SUBSCRIBE, got {} messages", got.iter().filter(|m| &m.topic == t).count())
                        })?;
                    }
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[separate, one_each, granted_max, order, defined])
            .tags(&["subscribe"])
            .needs(&[cap(version), "mqtt.qos1", "mqtt.qos2"])
            .control(controls::mutate_to_client(version, "SUBACK", "the broker lists its codes in reverse", |p| {
                if let Packet::SubAck(a) = p {
                    a.codes.reverse();
                }
            })),
        );

        // Every pair of subscribed and published QoS: delivered at the lower of the two,
        // as a first transmission (DUP 0).
        let min_qos = spec(version, "MQTT-3.8.4-8", "MQTT-3.8.4-6");
        let q0 = spec(version, "MQTT-4.3.1-1", "MQTT-4.3.1-1");
        let q1 = spec(version, "MQTT-4.3.2-2", "MQTT-4.3.2-1");
        let q2 = spec(version, "MQTT-4.3.3-2", "MQTT-4.3.3-1");
        let dup0 = spec(version, "MQTT-3.3.1-2", "MQTT-3.3.1-2");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.subscribe.delivered-at-lower-qos"),
                "A message is delivered at the lower of its published QoS and the subscription's granted QoS, with DUP 0",
                move |ctx| async move {
                    let all = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
                    let topics: Vec<String> = all.iter().map(|q| ctx.topic(&format!("s{}", q.as_u8()))).collect();
                    let sentinel = ctx.topic("end");
                    let mut filters: Vec<(&str, QoS)> = topics.iter().map(String::as_str).zip(all).collect();
                    filters.push((&sentinel, QoS::AtLeastOnce));
                    let mut s = client(&ctx, version, "s").await?;
                    let g = subscribe_all(&mut s, &filters).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    for t in &topics {
                        for (i, q) in all.iter().enumerate() {
                            publish(&mut p, message(t, format!("{}", q.as_u8()).as_bytes(), *q, 1 + i as u16)).await?;
                        }
                    }
                    send_sentinel(&mut p, &sentinel).await?;
                    let got = gather_until(&mut s, spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1"), &sentinel).await?;
                    for (t, sub) in topics.iter().zip(&g) {
                        for q in all {
                            let payload = format!("{}", q.as_u8());
                            let Some(m) = got.iter().find(|m| &m.topic == t && m.payload == payload.as_bytes()) else {
                                return Err(Failure::fail(
                                    spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1"),
                                    format!("the QoS {} message to {t} (granted QoS {}) was not delivered", q.as_u8(), sub.as_u8()),
                                ));
                            };
                            let want = qos_min(q, *sub);
                            ctx.ensure(m.qos == want, min_qos, || {
                                format!("published at QoS {}, granted {}, delivered as {}", q.as_u8(), sub.as_u8(), show(m, version))
                            })?;
                            let rule = [q0, q1, q2][usize::from(want.as_u8())];
                            ctx.ensure(!m.dup, if want == QoS::AtMostOnce { dup0 } else { rule }, || {
                                format!("a first delivery has DUP 1: {}", show(m, version))
                            })?;
                        }
                    }
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[min_qos, q0, q1, q2, dup0])
            .tags(&["subscribe", "qos"])
            .needs(&[cap(version), "mqtt.qos1", "mqtt.qos2"])
            .control(controls::mutate_to_client(version, "PUBLISH", "the broker upgrades QoS 1 deliveries to QoS 2", |p| {
                if let Packet::Publish(m) = p
                    && m.qos == QoS::AtLeastOnce && m.payload != b"sentinel" {
                        m.qos = QoS::ExactlyOnce;
                    }
            })),
        );

        // The same filter subscribed again at QoS 0 replaces the QoS 1 subscription:
        // one copy, at QoS 0.
        let replace = spec(version, "MQTT-3.8.4-3", "MQTT-3.8.4-3");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.subscribe.identical-filter-replaces"),
                "Subscribing again to an identical filter replaces the subscription instead of adding one",
                move |ctx| async move {
                    let (topic, sentinel) = (ctx.topic("x"), ctx.topic("end"));
                    let mut s = client(&ctx, version, "s").await?;
                    subscribe_all(&mut s, &[(&topic, QoS::AtLeastOnce), (&sentinel, QoS::AtLeastOnce)]).await?;
                    let g = subscribe_all(&mut s, &[(&topic, QoS::AtMostOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&topic, b"m", QoS::AtLeastOnce, 1)).await?;
                    send_sentinel(&mut p, &sentinel).await?;
                    let got = gather_until(&mut s, replace, &sentinel).await?;
                    let copies: Vec<String> = got.iter().filter(|m| m.topic == topic).map(|m| show(m, version)).collect();
                    ctx.ensure(copies.len() == 1 && got.iter().all(|m| m.qos == g[0]), replace, || {
                        format!("after re-subscribing at QoS 0 (granted {}), a QoS 1 message came as {copies:?}", g[0].as_u8())
                    })?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[replace])
            .tags(&["subscribe"])
            .needs(&[cap(version), "mqtt.qos1", "mqtt.wildcards"])
            .control(controls::mutate_to_server(version, "SUBSCRIBE", "the broker keeps the old subscription beside the new one", |p| {
                // The second SUBSCRIBE (the only one at QoS 0) names an overlapping,
                // different filter, so the broker must keep both.
                if let Packet::Subscribe(s) = p {
                    for f in &mut s.filters {
                        if f.options.qos == QoS::AtMostOnce
                            && let Some((head, _)) = f.filter.rsplit_once('/') {
                                f.filter = format!("{head}/+");
                            }
                    }
                }
            })),
        );

        // Malformed subscription options close the connection.
        let (opts_rule, bad_options): (_, &[u8]) = match version {
            Version::V5 => (super::v5("MQTT-3.8.3-5"), &[0x41, 0x81, 0xc0]),
            Version::V311 => (super::v311("MQTT-3.8.3-4"), &[0x03, 0x04, 0x80]),
        };
        let filter = b"hilt/options";
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.subscribe.malformed-options-close"),
                match version {
                    Version::V5 => "A SUBSCRIBE with reserved Subscription Options bits set is malformed and closes the connection",
                    Version::V311 => "A SUBSCRIBE asking QoS 3 or setting reserved bits is malformed and closes the connection",
                },
                move |ctx| async move {
                    for &o in bad_options {
                        let mut s = client(&ctx, version, &format!("o{o}")).await?;
                        s.send_raw(&raw_subscribe(version, 1, filter, o)).await?;
                        s.await_close(opts_rule, &format!("a SUBSCRIBE had options byte {o:#04x}")).await?;
                    }
                    Ok(())
                },
            )
            .covers(&[opts_rule])
            .tags(&["subscribe", "malformed"])
            .needs(&[cap(version)])
            .control(controls::replace_frame(
                raw_subscribe(version, 1, filter, bad_options[0]),
                raw_subscribe(version, 1, filter, 0x01),
                "the broker takes malformed options for QoS 1",
            )),
        );

        // UNSUBACK carries the UNSUBSCRIBE's identifier, and comes even when there was
        // nothing to remove.
        let unsuback = spec(version, "MQTT-3.10.4-4", "MQTT-3.10.4-4");
        let even_none = spec(version, "MQTT-3.10.4-5", "MQTT-3.10.4-5");
        let un_echo = spec(version, "MQTT-2.2.1-6", "MQTT-2.3.1-7");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.unsubscribe.unsuback-echoes-packet-id"),
                "The broker answers each UNSUBSCRIBE with an UNSUBACK carrying its packet identifier, even when nothing was subscribed",
                move |ctx| async move {
                    let (topic, never) = (ctx.topic("u"), ctx.topic("never"));
                    let mut s = subscriber(&ctx, version, "s", &[(&topic, QoS::AtMostOnce)]).await?;
                    let a = unsubscribe(&mut s, 0x4321, &[&topic]).await?;
                    if version == Version::V5 {
                        ctx.ensure(a.codes[0] == ReasonCode::SUCCESS, super::v5("MQTT-3.11.3-2"), || {
                            format!("UNSUBACK for an existing subscription has code {:#04x}", a.codes[0].0)
                        })?;
                    }
                    let b = unsubscribe(&mut s, 0x8765, &[&never]).await?;
                    if version == Version::V5 {
                        ctx.ensure(nothing_to_remove(b.codes[0]), even_none, || {
                            format!("UNSUBACK for a filter never subscribed has code {:#04x}", b.codes[0].0)
                        })?;
                    }
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[unsuback, even_none, un_echo])
            .tags(&["unsubscribe"])
            .needs(&[cap(version)])
            .control(controls::mutate_to_client(version, "UNSUBACK", "the broker acknowledges the wrong packet identifier", |p| {
                if let Packet::UnsubAck(a) = p {
                    a.packet_id ^= 0x0100;
                }
            })),
        );

        // After UNSUBSCRIBE, new messages for that filter are no longer delivered.
        let deletes = spec(version, "MQTT-3.10.4-1", "MQTT-3.10.4-1");
        let stops = spec(version, "MQTT-3.10.4-2", "MQTT-3.10.4-2");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.unsubscribe.stops-delivery"),
                "After UNSUBSCRIBE the broker delivers no new messages for the removed subscription",
                move |ctx| async move {
                    let (topic, sentinel) = (ctx.topic("u"), ctx.topic("end"));
                    let mut s = subscriber(&ctx, version, "s", &[(&topic, QoS::AtLeastOnce), (&sentinel, QoS::AtLeastOnce)]).await?;
                    unsubscribe(&mut s, 2, &[&topic]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&topic, b"late", QoS::AtLeastOnce, 1)).await?;
                    send_sentinel(&mut p, &sentinel).await?;
                    let got = collect_until(&mut s, stops, &sentinel).await?;
                    ctx.ensure(got.is_empty(), stops, || {
                        format!("after UNSUBSCRIBE the broker delivered {:?}", got.iter().map(|m| show(m, version)).collect::<Vec<_>>())
                    })?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[deletes, stops])
            .tags(&["unsubscribe"])
            .needs(&[cap(version), "mqtt.qos1"])
            .control(controls::mutate_to_server(version, "UNSUBSCRIBE", "the broker ignores the UNSUBSCRIBE's filter", |p| {
                if let Packet::Unsubscribe(u) = p {
                    for f in &mut u.filters {
                        f.push('x');
                    }
                }
            })),
        );

        // One UNSUBSCRIBE with three filters (one never subscribed) acts as three.
        let several = spec(version, "MQTT-3.10.4-6", "MQTT-3.10.4-6");
        let mut covers = vec![several];
        if version == Version::V5 {
            covers.push(super::v5("MQTT-3.11.3-1"));
        }
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.unsubscribe.multiple-filters"),
                "An UNSUBSCRIBE with several filters removes each of them, answered by one UNSUBACK",
                move |ctx| async move {
                    let (a, b, c, never) = (ctx.topic("a"), ctx.topic("b"), ctx.topic("c"), ctx.topic("never"));
                    let sentinel = ctx.topic("end");
                    let mut s = subscriber(
                        &ctx,
                        version,
                        "s",
                        &[(&a, QoS::AtLeastOnce), (&b, QoS::AtLeastOnce), (&c, QoS::AtLeastOnce), (&sentinel, QoS::AtLeastOnce)],
                    )
                    .await?;
                    let u = unsubscribe(&mut s, 3, &[&a, &b, &never]).await?;
                    if version == Version::V5 {
                        let in_order = u.codes[0] == ReasonCode::SUCCESS && u.codes[1] == ReasonCode::SUCCESS && nothing_to_remove(u.codes[2]);
                        ctx.ensure(in_order, super::v5("MQTT-3.11.3-1"), || {
                            format!(
                                "UNSUBACK codes {:?} for two subscribed filters and one never subscribed",
                                u.codes.iter().map(|c| c.0).collect::<Vec<_>>()
                            )
                        })?;
                    }
                    let mut p = client(&ctx, version, "p").await?;
                    for t in [&a, &b, &c] {
                        publish(&mut p, message(t, t.as_bytes(), QoS::AtLeastOnce, 1)).await?;
                    }
                    send_sentinel(&mut p, &sentinel).await?;
                    let got: Vec<String> = collect_until(&mut s, several, &sentinel).await?.into_iter().map(|m| m.topic).collect();
                    ctx.ensure(got == [c.clone()], several, || {
                        format!("after unsubscribing {a} and {b} in one packet, messages came on {got:?} (only {c} expected)")
                    })?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&covers)
            .tags(&["unsubscribe"])
            .needs(&[cap(version), "mqtt.qos1"])
            .control(controls::mutate_to_server(version, "UNSUBSCRIBE", "the broker handles only the last filters of an UNSUBSCRIBE", |p| {
                if let Packet::Unsubscribe(u) = p
                    && u.filters.len() > 1 {
                        u.filters.remove(0);
                    }
            })),
        );

        // UNSUBSCRIBE removes only a subscription whose filter is the same string: not
        // one the filter would match, not one differing in case.
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.unsubscribe.exact-filter-only"),
                "UNSUBSCRIBE removes only a subscription with the same filter, compared character by character",
                move |ctx| async move {
                    let (wild, topic, sentinel) = (ctx.topic("+"), ctx.topic("b"), ctx.topic("end"));
                    let mut s = subscriber(&ctx, version, "s", &[(&wild, QoS::AtLeastOnce), (&sentinel, QoS::AtLeastOnce)]).await?;
                    let upper = wild.to_uppercase();
                    unsubscribe(&mut s, 4, &[&topic, &upper]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&topic, b"still", QoS::AtLeastOnce, 1)).await?;
                    send_sentinel(&mut p, &sentinel).await?;
                    let got = collect_until(&mut s, deletes, &sentinel).await?;
                    ctx.ensure(got.iter().any(|m| m.payload == b"still"), deletes, || {
                        format!("unsubscribing {topic} and {upper} removed the subscription to {wild}")
                    })?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[deletes])
            .tags(&["unsubscribe"])
            .needs(&[cap(version), "mqtt.qos1", "mqtt.wildcards"])
            .control(controls::mutate_to_server(version, "UNSUBSCRIBE", "the broker removes subscriptions the filter matches", |p| {
                if let Packet::Unsubscribe(u) = p {
                    for f in &mut u.filters {
                        if let Some(head) = f.strip_suffix("/b") {
                            *f = format!("{head}/+");
                        }
                    }
                }
            })),
        );

        // A QoS 2 delivery begun before UNSUBSCRIBE is still completed after it.
        let completes = spec(version, "MQTT-3.10.4-3", "MQTT-3.10.4-3");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.unsubscribe.completes-inflight-qos2"),
                "After UNSUBSCRIBE the broker still completes a QoS 2 delivery it had started",
                move |ctx| async move {
                    let topic = ctx.topic("u");
                    let mut s =
                        subscriber(&ctx, version, "s", &[(&topic, QoS::ExactlyOnce)]).await?;
                    let mut p = client(&ctx, version, "p").await?;
                    publish(&mut p, message(&topic, b"x", QoS::ExactlyOnce, 1)).await?;
                    let m = wait_publish(
                        &mut s,
                        spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1"),
                        "the QoS 2 message",
                        |_| true,
                    )
                    .await?;
                    let id = m.packet_id.unwrap_or(0);
                    unsubscribe(&mut s, id.wrapping_add(1).max(1), &[&topic]).await?;
                    s.send(&Packet::PubRec(Ack::new(id))).await?;
                    wait_ack(&mut s, completes, "PUBREL", id).await?;
                    s.send(&Packet::PubComp(Ack::new(id))).await?;
                    p.disconnect().await;
                    s.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[completes])
            .tags(&["unsubscribe", "qos"])
            .needs(&[cap(version), "mqtt.qos2"])
            .control(controls::drop_to_client(
                "PUBREL",
                "the broker abandons the delivery once unsubscribed",
            )),
        );
    }
    t
}
