//! MQTT 5.0 features: what a 5.0 broker announces in CONNACK and whether it then does
//! what it announced, enhanced authentication's negative path, reason codes, and
//! Request Problem / Response Information. The other 5.0 features live beside this
//! file (`v5_subscriptions`, `v5_limits`, `v5_messages`); the helpers they share are
//! here.

use std::time::Duration;

use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::mqtt::{
    Ack, Auth, ConnAck, Connect, Packet, Properties, Property, PropertyId, Publish, QoS,
    ReasonCode, Subscribe, Subscription, SubscriptionOptions, Unsubscribe, Version, Will,
};

use super::controls::{self, Control};
use super::packets::{ack, connect, unsubscribe};
use super::session::{Next, Session, summarize};
use super::{SUITE, v5};

pub const V5: Version = Version::V5;

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.extend(super::v5_subscriptions::tests());
    t.extend(super::v5_limits::tests());
    t.extend(super::v5_messages::tests());
    t.extend(connack_tests());
    t.extend(auth_tests());
    t.extend(reason_code_tests());
    t
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the 5.0 feature tests.

/// A clean-start 5.0 CONNECT for `ctx.unique(label)` carrying `props`.
pub fn connect_with_props(
    ctx: &Ctx,
    label: &str,
    props: impl IntoIterator<Item = Property>,
) -> Connect {
    Connect {
        properties: props.into_iter().collect(),
        ..connect(&ctx.unique(label))
    }
}

/// A 5.0 connection the broker accepted, for a client `label` with CONNECT `props`.
pub async fn client(
    ctx: &Ctx,
    label: &str,
    props: impl IntoIterator<Item = Property>,
) -> Result<(Session, ConnAck), Failure> {
    Session::connected(ctx, V5, connect_with_props(ctx, label, props)).await
}

/// Subscription options with everything but `qos` at its default.
pub fn sub(filter: &str, qos: QoS) -> Subscription {
    Subscription::new(filter, qos)
}

/// A subscription whose options `set` adjusts.
pub fn sub_with(
    filter: &str,
    qos: QoS,
    set: impl FnOnce(&mut SubscriptionOptions),
) -> Subscription {
    let mut s = Subscription::new(filter, qos);
    set(&mut s.options);
    s
}

pub fn subscribe_packet(
    packet_id: u16,
    filters: Vec<Subscription>,
    properties: Properties,
) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id,
        properties,
        filters,
    })
}

/// Sends `subscribe` and returns the SUBACK's codes, whatever they are.
pub async fn suback(s: &mut Session, subscribe: Packet) -> Result<Vec<ReasonCode>, Failure> {
    let Packet::Subscribe(ref sub) = subscribe else {
        return Err(Failure::error(
            "suback() was given something other than SUBSCRIBE",
        ));
    };
    let id = sub.packet_id;
    s.send(&subscribe).await?;
    s.wait_for(
        v5("MQTT-3.8.4-1"),
        "SUBACK",
        s.response_timeout(),
        |p| match p {
            Packet::SubAck(a) if a.packet_id == id => Some(a.codes.clone()),
            _ => None,
        },
    )
    .await
}

/// Subscribes and requires every filter to be granted: a refusal here is an error of the
/// test's premise, not the behaviour under test.
pub async fn subscribed(s: &mut Session, subscribe: Packet) -> Result<Vec<ReasonCode>, Failure> {
    let codes = suback(s, subscribe).await?;
    if let Some(c) = codes.iter().find(|c| c.is_error()) {
        return Err(Failure::error(format!(
            "the broker refused a subscription the test relies on: {c} ({})",
            c.name().unwrap_or("unknown")
        )));
    }
    Ok(codes)
}

/// A 5.0 PUBLISH with properties.
pub fn message(
    topic: &str,
    payload: &[u8],
    qos: QoS,
    packet_id: Option<u16>,
    properties: Properties,
) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.to_owned(),
        packet_id,
        properties,
        payload: payload.to_vec(),
    }
}

/// Sends `p` and completes its QoS exchange as the publisher; returns the PUBACK or
/// PUBREC reason code (Success for QoS 0). An error code is returned, not judged.
pub async fn publish_acked(s: &mut Session, p: Publish) -> Result<ReasonCode, Failure> {
    let (qos, id) = (p.qos, p.packet_id.unwrap_or(0));
    s.send(&Packet::Publish(p)).await?;
    match qos {
        QoS::AtMostOnce => Ok(ReasonCode::SUCCESS),
        QoS::AtLeastOnce => {
            s.wait_for(
                v5("MQTT-4.3.2-4"),
                "PUBACK",
                s.response_timeout(),
                |p| match p {
                    Packet::PubAck(a) if a.packet_id == id => Some(a.code),
                    _ => None,
                },
            )
            .await
        }
        QoS::ExactlyOnce => {
            let code = s
                .wait_for(
                    v5("MQTT-4.3.3-8"),
                    "PUBREC",
                    s.response_timeout(),
                    |p| match p {
                        Packet::PubRec(a) if a.packet_id == id => Some(a.code),
                        _ => None,
                    },
                )
                .await?;
            if !code.is_error() {
                s.send(&Packet::PubRel(ack(id))).await?;
                s.wait_for(
                    v5("MQTT-4.3.3-11"),
                    "PUBCOMP",
                    s.response_timeout(),
                    |p| match p {
                        Packet::PubComp(a) if a.packet_id == id => Some(()),
                        _ => None,
                    },
                )
                .await?;
            }
            Ok(code)
        }
    }
}

/// Publishes and requires the broker to accept: a refusal is an error of the premise.
pub async fn published(s: &mut Session, p: Publish) -> Result<(), Failure> {
    let code = publish_acked(s, p).await?;
    if code.is_error() {
        return Err(Failure::error(format!(
            "the broker refused a PUBLISH the test relies on: {code} ({})",
            code.name().unwrap_or("unknown")
        )));
    }
    Ok(())
}

/// Waits for the PUBLISH carrying `payload` (other packets are kept for later reads);
/// its absence within the response deadline fails `rule`.
pub async fn delivery(
    s: &mut Session,
    rule: hilt_core::SpecRef,
    payload: &[u8],
) -> Result<Publish, Failure> {
    let what = format!(
        "the PUBLISH with payload {:?}",
        String::from_utf8_lossy(payload)
    );
    s.wait_for(rule, &what, s.response_timeout(), |p| match p {
        Packet::Publish(m) if m.payload == payload => Some(m.clone()),
        _ => None,
    })
    .await
}

/// Acknowledges a delivered PUBLISH as its QoS requires, completing QoS 2.
pub async fn ack_delivery(s: &mut Session, p: &Publish) -> Result<(), Failure> {
    let Some(id) = p.packet_id else { return Ok(()) };
    match p.qos {
        QoS::AtMostOnce => Ok(()),
        QoS::AtLeastOnce => s.send(&Packet::PubAck(ack(id))).await,
        QoS::ExactlyOnce => {
            s.send(&Packet::PubRec(ack(id))).await?;
            s.wait_for(
                v5("MQTT-4.3.3-4"),
                "PUBREL",
                s.response_timeout(),
                |p| match p {
                    Packet::PubRel(a) if a.packet_id == id => Some(()),
                    _ => None,
                },
            )
            .await?;
            s.send(&Packet::PubComp(ack(id))).await
        }
    }
}

/// Every PUBLISH the broker has sent by the time it answers a PINGREQ (other packets
/// are ignored).
pub async fn publishes_before_barrier(
    s: &mut Session,
    rule: hilt_core::SpecRef,
) -> Result<Vec<Publish>, Failure> {
    Ok(s.barrier(rule)
        .await?
        .into_iter()
        .filter_map(|p| match p {
            Packet::Publish(m) => Some(m),
            _ => None,
        })
        .collect())
}

/// Lets `d` pass on the clock while watching `s`: the broker must stay silent on it. Used
/// where the protocol itself is about elapsed time (message expiry), never as a settle.
pub async fn lapse(s: &mut Session, d: Duration, rule: hilt_core::SpecRef) -> Result<(), Failure> {
    match s.next(d).await? {
        Next::Silent => Ok(()),
        Next::Packet(p) => Err(Failure::fail(
            rule,
            format!(
                "an idle connection received {} while the test waited",
                summarize(&p, V5)
            ),
        )),
        Next::Closed => Err(Failure::error(
            "the broker closed an idle connection while the test waited",
        )),
    }
}

/// The CONNACK's value of a Byte property, or `default` when absent.
pub fn connack_byte(ack: &ConnAck, id: PropertyId, default: u8) -> u8 {
    match ack.properties.get(id) {
        Some(
            Property::MaximumQos(b)
            | Property::RetainAvailable(b)
            | Property::WildcardSubscriptionAvailable(b)
            | Property::SubscriptionIdentifierAvailable(b)
            | Property::SharedSubscriptionAvailable(b),
        ) => *b,
        _ => default,
    }
}

/// `props` with every property of `p`'s kind replaced by `p`.
pub fn set_property(props: &mut Properties, p: Property) {
    let id = p.id();
    props.0.retain(|q| q.id() != id);
    props.0.push(p);
}

pub fn remove_property(props: &mut Properties, id: PropertyId) {
    props.0.retain(|q| q.id() != id);
}

/// A control: the broker's CONNACK announces `p` (replacing its own value), yet the
/// broker behaves as before.
pub fn connack_announces(what: &str, p: Property) -> Control {
    controls::mutate_to_client(V5, "CONNACK", what, move |pkt| {
        if let Packet::ConnAck(a) = pkt {
            set_property(&mut a.properties, p.clone());
        }
    })
}

/// A control: the broker's PUBLISH packets reach the client changed by `f`.
pub fn deliveries_changed(
    what: &str,
    f: impl Fn(&mut Publish) + Send + Sync + Clone + 'static,
) -> Control {
    controls::mutate_to_client(V5, "PUBLISH", what, move |pkt| {
        if let Packet::Publish(m) = pkt {
            f(m);
        }
    })
}

/// A control: the client's PUBLISH packets reach the broker changed by `f`.
pub fn publishes_changed(
    what: &str,
    f: impl Fn(&mut Publish) + Send + Sync + Clone + 'static,
) -> Control {
    controls::mutate_to_server(V5, "PUBLISH", what, move |pkt| {
        if let Packet::Publish(m) = pkt {
            f(m);
        }
    })
}

/// A control: the client's SUBSCRIBE packets reach the broker changed by `f`.
pub fn subscribes_changed(
    what: &str,
    f: impl Fn(&mut Subscribe) + Send + Sync + Clone + 'static,
) -> Control {
    controls::mutate_to_server(V5, "SUBSCRIBE", what, move |pkt| {
        if let Packet::Subscribe(s) = pkt {
            f(s);
        }
    })
}

/// A control: the client's CONNECT packets reach the broker changed by `f`.
pub fn connects_changed(
    what: &str,
    f: impl Fn(&mut Connect) + Send + Sync + Clone + 'static,
) -> Control {
    controls::mutate_to_server(V5, "CONNECT", what, move |pkt| {
        if let Packet::Connect(c) = pkt {
            f(c);
        }
    })
}

/// A control for frames the strict decoder refuses (and `mutate_to_server` therefore
/// passes on unchanged): the client's frames of `kind` reach the broker with the first
/// occurrence of `from` replaced by `to`.
pub fn bytes_replaced_to_server(
    kind: &'static str,
    what: &str,
    from: &'static [u8],
    to: &'static [u8],
) -> Control {
    Control::new(what, move || {
        use hilt_net::interposer::{Action, Dir, Match, Rule};
        vec![Rule::new(
            Dir::ToServer,
            Match::kind(kind),
            Action::rewrite(
                move |frame| match frame.windows(from.len()).position(|w| w == from) {
                    Some(at) => [&frame[..at], to, &frame[at + from.len()..]].concat(),
                    None => frame.to_vec(),
                },
            ),
        )]
    })
}

/// Registers a 5.0 test: every one needs `mqtt.v5` on top of `needs`.
pub fn case<F, Fut>(
    id: &str,
    title: &str,
    covers: &[hilt_core::SpecRef],
    needs: &[&'static str],
    control: Control,
    body: F,
) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), Failure>> + Send + 'static,
{
    let mut all = vec!["mqtt.v5"];
    all.extend_from_slice(needs);
    TestCase::new(SUITE, format!("mqtt.v5.{id}"), title, body)
        .covers(covers)
        .needs(&all)
        .tags(&["v5-features"])
        .control(control)
}

// ---------------------------------------------------------------------------------------
// What CONNACK announces, and whether the broker then behaves accordingly.

fn connack_tests() -> Vec<TestCase> {
    vec![
        case(
            "connack.maximum-qos-honoured",
            "The broker accepts SUBSCRIBE at any QoS and PUBLISH up to the Maximum QoS it announced, delivering at the lower of published and granted QoS",
            &[v5("MQTT-3.2.2-9"), v5("MQTT-3.2.2-10"), v5("MQTT-3.8.4-8")],
            &[],
            Control::new(
                "the broker closes the connection instead of acknowledging a QoS 2 PUBLISH",
                || {
                    use hilt_net::interposer::{Action, CloseKind, Dir, Match, Rule};
                    vec![
                        Rule::new(
                            Dir::ToClient,
                            Match::kind("PUBREC"),
                            Action::Close(CloseKind::Fin),
                        ),
                        Rule::new(
                            Dir::ToClient,
                            Match::kind("PUBACK"),
                            Action::Close(CloseKind::Fin),
                        ),
                    ]
                },
            ),
            |ctx| async move {
                let (mut s, ack) = client(&ctx, "mq", []).await?;
                let max = connack_byte(&ack, PropertyId::MaximumQos, 2);
                let qos = QoS::from_u8(max).unwrap_or(QoS::ExactlyOnce);
                let topic = ctx.topic("maxqos");
                // A broker with a lower Maximum QoS must still accept a QoS 2 request.
                let codes = suback(
                    &mut s,
                    subscribe_packet(1, vec![sub(&topic, QoS::ExactlyOnce)], Properties::new()),
                )
                .await?;
                let granted = codes.first().copied().unwrap_or(ReasonCode(0x80));
                ctx.ensure(!granted.is_error(), v5("MQTT-3.2.2-10"), || {
                    format!("Maximum QoS is {max}, yet a SUBSCRIBE asking for QoS 2 was refused with {granted}")
                })?;
                // What the broker announced it supports, it must take.
                let code = match publish_acked(
                    &mut s,
                    message(
                        &topic,
                        b"max-qos",
                        qos,
                        (max > 0).then_some(7),
                        Properties::new(),
                    ),
                )
                .await
                {
                    Ok(c) => c,
                    Err(Failure::Fail { message, .. }) => {
                        return Err(Failure::fail(
                            v5("MQTT-3.2.2-9"),
                            format!(
                                "Maximum QoS {max} announced, yet a QoS {max} PUBLISH was not acknowledged: {message}"
                            ),
                        ));
                    }
                    Err(e) => return Err(e),
                };
                ctx.ensure(!code.is_error(), v5("MQTT-3.2.2-9"), || {
                    format!("Maximum QoS {max} announced, yet a QoS {max} PUBLISH was refused with {code}")
                })?;
                let got = delivery(&mut s, v5("MQTT-4.5.0-1"), b"max-qos").await?;
                let want = qos.min(QoS::from_u8(granted.0).unwrap_or(QoS::AtMostOnce));
                ctx.ensure(got.qos == want, v5("MQTT-3.8.4-8"), || {
                    format!(
                        "published at QoS {}, granted QoS {}, delivered at QoS {}",
                        qos.as_u8(),
                        granted.0,
                        got.qos.as_u8()
                    )
                })?;
                ack_delivery(&mut s, &got).await?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "connack.retain-available-honoured",
            "A broker announcing Retain Available keeps retained messages; one announcing 0 refuses a retained Will",
            &[v5("MQTT-3.3.1-5"), v5("MQTT-3.2.2-13")],
            &[],
            connack_announces(
                "the broker announces Retain Available 0 but keeps retaining",
                Property::RetainAvailable(0),
            ),
            |ctx| async move {
                let topic = ctx.topic("ra");
                let (mut s, ack) = client(&ctx, "ra", []).await?;
                if connack_byte(&ack, PropertyId::RetainAvailable, 1) == 0 {
                    // Retain unavailable: a CONNECT with a retained Will must be refused.
                    s.disconnect().await;
                    let will = Will {
                        qos: QoS::AtMostOnce,
                        retain: true,
                        properties: Properties::new(),
                        topic: topic.clone(),
                        payload: b"w".to_vec(),
                    };
                    let c = Connect {
                        will: Some(will),
                        ..connect(&ctx.unique("raw"))
                    };
                    let (mut w, ack) =
                        Session::connect_with(&ctx, V5, c, v5("MQTT-3.2.2-13")).await?;
                    ctx.ensure(ack.code.is_error(), v5("MQTT-3.2.2-13"), || {
                        "Retain Available is 0, yet a CONNECT with Will Retain 1 was accepted"
                            .into()
                    })?;
                    return w
                        .await_close(v5("MQTT-3.2.2-13"), "CONNACK refused a retained Will")
                        .await;
                }
                let mut m = message(
                    &topic,
                    b"kept",
                    QoS::AtLeastOnce,
                    Some(3),
                    Properties::new(),
                );
                m.retain = true;
                published(&mut s, m).await?;
                let (mut r, _) = client(&ctx, "rb", []).await?;
                subscribed(
                    &mut r,
                    subscribe_packet(1, vec![sub(&topic, QoS::AtLeastOnce)], Properties::new()),
                )
                .await?;
                let got = delivery(&mut r, v5("MQTT-3.3.1-5"), b"kept").await?;
                ctx.ensure(got.retain, v5("MQTT-3.3.1-5"), || {
                    "the retained message arrived without RETAIN on a new subscription".into()
                })?;
                ack_delivery(&mut r, &got).await?;
                // Clean up the retained message so the topic leaves no trace.
                let mut clear = message(&topic, b"", QoS::AtLeastOnce, Some(4), Properties::new());
                clear.retain = true;
                published(&mut s, clear).await?;
                r.disconnect().await;
                s.disconnect().await;
                Ok(())
            },
        ),
        availability_case(
            "connack.wildcard-subscription-available-honoured",
            "A broker announcing wildcard subscriptions grants and serves them; one announcing 0 refuses them",
            PropertyId::WildcardSubscriptionAvailable,
            ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
            &[v5("MQTT-4.5.0-1"), v5("MQTT-3.8.4-7")],
            &["mqtt.wildcards"],
        ),
        availability_case(
            "connack.shared-subscription-available-honoured",
            "A broker announcing shared subscriptions grants and serves them; one announcing 0 refuses them",
            PropertyId::SharedSubscriptionAvailable,
            ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
            &[v5("MQTT-4.8.2-1"), v5("MQTT-3.8.4-7")],
            &[],
        ),
        availability_case(
            "connack.subscription-identifiers-available-honoured",
            "A broker announcing Subscription Identifiers sends them with matching messages; one announcing 0 refuses them",
            PropertyId::SubscriptionIdentifierAvailable,
            ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
            &[v5("MQTT-3.3.4-3"), v5("MQTT-3.8.4-7")],
            &[],
        ),
        case(
            "connack.response-information-only-on-request",
            "With Request Response Information 0 the broker's CONNACK carries no Response Information",
            &[v5("MQTT-3.1.2-28")],
            &[],
            connack_announces(
                "the broker returns Response Information nobody asked for",
                Property::ResponseInformation("hilt/answers".into()),
            ),
            |ctx| async move {
                let (s, ack) =
                    client(&ctx, "rri", [Property::RequestResponseInformation(0)]).await?;
                ctx.ensure(ack.properties.get(PropertyId::ResponseInformation).is_none(), v5("MQTT-3.1.2-28"), || {
                    "Request Response Information was 0, yet CONNACK carried Response Information".into()
                })?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "connack.no-problem-information-when-not-requested",
            "With Request Problem Information 0 the broker sends no Reason String or User Property except on PUBLISH, CONNACK and DISCONNECT",
            &[v5("MQTT-3.1.2-29")],
            &["mqtt.qos1", "mqtt.qos2"],
            controls::mutate_to_client(
                V5,
                "PUBACK",
                "the broker explains its PUBACK with a Reason String",
                |p| {
                    if let Packet::PubAck(a) = p {
                        set_property(
                            &mut a.properties,
                            Property::ReasonString("no one listens".into()),
                        );
                    }
                },
            ),
            |ctx| async move {
                let (mut s, _) =
                    client(&ctx, "rpi", [Property::RequestProblemInformation(0)]).await?;
                // Packets a broker likes to explain: a SUBACK, an UNSUBACK for nothing, and
                // acknowledgements of messages nobody receives. All are sent at once and
                // collected at the barrier.
                let lone = ctx.topic("nobody");
                s.send(&subscribe_packet(
                    1,
                    vec![sub(&ctx.topic("rpi"), QoS::AtLeastOnce)],
                    Properties::new(),
                ))
                .await?;
                s.send(&unsubscribe(2, &ctx.topic("never-subscribed")))
                    .await?;
                s.send(&Packet::Publish(message(
                    &lone,
                    b"1",
                    QoS::AtLeastOnce,
                    Some(3),
                    Properties::new(),
                )))
                .await?;
                s.send(&Packet::Publish(message(
                    &lone,
                    b"2",
                    QoS::ExactlyOnce,
                    Some(4),
                    Properties::new(),
                )))
                .await?;
                let mut seen = s.barrier(v5("MQTT-3.12.4-1")).await?;
                s.send(&Packet::PubRel(ack(4))).await?;
                seen.extend(s.barrier(v5("MQTT-3.12.4-1")).await?);
                for p in &seen {
                    let props = match p {
                        Packet::PubAck(a)
                        | Packet::PubRec(a)
                        | Packet::PubRel(a)
                        | Packet::PubComp(a) => &a.properties,
                        Packet::SubAck(a) => &a.properties,
                        Packet::UnsubAck(a) => &a.properties,
                        Packet::Auth(a) => &a.properties,
                        _ => continue,
                    };
                    let extra = props
                        .get(PropertyId::ReasonString)
                        .or_else(|| props.get(PropertyId::UserProperty));
                    ctx.ensure(extra.is_none(), v5("MQTT-3.1.2-29"), || {
                        format!(
                            "Request Problem Information was 0, yet the broker sent {}",
                            summarize(p, V5)
                        )
                    })?;
                }
                let kinds = [
                    Packet::SubAck(Default::default()),
                    Packet::UnsubAck(Default::default()),
                    Packet::PubAck(Ack::default()),
                    Packet::PubRec(Ack::default()),
                    Packet::PubComp(Ack::default()),
                ];
                for k in kinds {
                    ctx.ensure(
                        seen.iter().any(|p| p.packet_type() == k.packet_type()),
                        v5("MQTT-3.1.2-29"),
                        || format!("no {} arrived to judge", k.packet_type().name()),
                    )?;
                }
                s.disconnect().await;
                Ok(())
            },
        ),
    ]
}

/// A CONNACK "... Available" property and its behaviour: when available (the default),
/// a subscription using the feature is granted and a matching message arrives (with
/// its Subscription Identifier, for that feature); when announced as 0, the SUBSCRIBE
/// is refused with `refusal` or the connection closed.
fn availability_case(
    id: &str,
    title: &str,
    property: PropertyId,
    refusal: ReasonCode,
    covers: &[hilt_core::SpecRef],
    needs: &[&'static str],
) -> TestCase {
    let announce = match property {
        PropertyId::WildcardSubscriptionAvailable => Property::WildcardSubscriptionAvailable(0),
        PropertyId::SharedSubscriptionAvailable => Property::SharedSubscriptionAvailable(0),
        _ => Property::SubscriptionIdentifierAvailable(0),
    };
    let (deliver_rule, refuse_rule) = (covers[0], covers[1]);
    case(
        id,
        title,
        covers,
        needs,
        connack_announces(
            &format!("the broker announces {} 0 but grants it", property.name()),
            announce,
        ),
        move |ctx| async move {
            let topic = ctx.topic("avail");
            let (filter, props) = match property {
                PropertyId::WildcardSubscriptionAvailable => (
                    format!("{}/+", topic.rsplit_once('/').map_or("", |t| t.0)),
                    Properties::new(),
                ),
                PropertyId::SharedSubscriptionAvailable => (
                    format!("$share/{}/{topic}", ctx.unique("g")),
                    Properties::new(),
                ),
                _ => (
                    topic.clone(),
                    Properties::new().with(Property::SubscriptionIdentifier(77)),
                ),
            };
            let (mut s, ack) = client(&ctx, "av", []).await?;
            let available = connack_byte(&ack, property, 1) != 0;
            let packet = subscribe_packet(1, vec![sub(&filter, QoS::AtMostOnce)], props);
            if !available {
                s.send(&packet).await?;
                return match s.next(s.response_timeout()).await? {
                    Next::Packet(Packet::SubAck(a))
                        if a.codes.first().is_some_and(|c| c.is_error()) =>
                    {
                        Ok(())
                    }
                    Next::Packet(Packet::Disconnect(d)) if d.code.is_error() => Ok(()),
                    Next::Closed => Ok(()),
                    other => Err(Failure::fail(
                        refuse_rule,
                        format!(
                            "{} is 0, yet a SUBSCRIBE using it got {} instead of {refusal} or a close",
                            property.name(),
                            match other {
                                Next::Packet(p) => summarize(&p, V5),
                                _ => "no answer".into(),
                            }
                        ),
                    )),
                };
            }
            let codes = suback(&mut s, packet).await?;
            ctx.ensure(
                codes.first().is_some_and(|c| !c.is_error()),
                deliver_rule,
                || {
                    format!(
                        "{} is 1 (or absent), yet the SUBSCRIBE using it was refused: {codes:?}",
                        property.name()
                    )
                },
            )?;
            published(
                &mut s,
                message(&topic, b"avail", QoS::AtMostOnce, None, Properties::new()),
            )
            .await?;
            let got = delivery(&mut s, deliver_rule, b"avail").await?;
            if property == PropertyId::SubscriptionIdentifierAvailable {
                let ids: Vec<u32> = got.properties.subscription_identifiers().collect();
                ctx.ensure(ids == [77], deliver_rule, || {
                    format!("subscribed with identifier 77, the message carried {ids:?}")
                })?;
            }
            s.disconnect().await;
            Ok(())
        },
    )
}

// ---------------------------------------------------------------------------------------
// Enhanced authentication, negative path.

fn auth_tests() -> Vec<TestCase> {
    vec![
        case(
            "auth.unknown-method-refused",
            "A CONNECT with an Authentication Method the broker does not support is refused (CONNACK 0x8C or 0x87) and the connection closed",
            &[v5("MQTT-4.12.0-1"), v5("MQTT-3.2.2-7")],
            &[],
            connects_changed(
                "the client's Authentication Method never reaches the broker",
                |c| {
                    remove_property(&mut c.properties, PropertyId::AuthenticationMethod);
                },
            ),
            |ctx| async move {
                let method = "hilt-no-such-method";
                let c =
                    connect_with_props(&ctx, "am", [Property::AuthenticationMethod(method.into())]);
                let mut s = Session::open(&ctx, V5).await?;
                s.send(&Packet::Connect(c)).await?;
                match s.next(s.response_timeout()).await? {
                    Next::Closed => Ok(()),
                    Next::Packet(Packet::ConnAck(a)) if a.code.is_error() => {
                        ctx.ensure(
                            [ReasonCode::BAD_AUTHENTICATION_METHOD, ReasonCode::NOT_AUTHORIZED].contains(&a.code),
                            v5("MQTT-4.12.0-1"),
                            || format!("an unknown Authentication Method was refused with {} rather than 0x8C or 0x87", a.code),
                        )?;
                        s.await_close(
                            v5("MQTT-3.2.2-7"),
                            "CONNACK refused the Authentication Method",
                        )
                        .await
                    }
                    Next::Packet(Packet::Auth(a)) => Err(Failure::inconclusive(format!(
                        "the broker continued authentication with method {method:?} ({}): it claims to support it",
                        a.code
                    ))),
                    Next::Packet(p) => Err(Failure::fail(
                        v5("MQTT-4.12.0-1"),
                        format!(
                            "an unknown Authentication Method was answered with {}",
                            summarize(&p, V5)
                        ),
                    )),
                    Next::Silent => Err(Failure::fail(
                        v5("MQTT-4.12.0-1"),
                        "an unknown Authentication Method got neither CONNACK nor a close within the response deadline",
                    )),
                }
            },
        ),
        case(
            "auth.no-auth-without-method",
            "Without an Authentication Method in CONNECT the broker's CONNACK carries none and it sends no AUTH",
            &[v5("MQTT-4.12.0-6")],
            &[],
            connack_announces(
                "the broker's CONNACK names an Authentication Method",
                Property::AuthenticationMethod("SCRAM-SHA-1".into()),
            ),
            |ctx| async move {
                let (mut s, ack) = client(&ctx, "na", []).await?;
                let named = ack
                    .properties
                    .get(PropertyId::AuthenticationMethod)
                    .or_else(|| ack.properties.get(PropertyId::AuthenticationData));
                ctx.ensure(named.is_none(), v5("MQTT-4.12.0-6"), || {
                    "CONNECT had no Authentication Method, yet CONNACK carried authentication properties".into()
                })?;
                let before = s.barrier(v5("MQTT-3.12.4-1")).await?;
                ctx.ensure(
                    !before.iter().any(|p| matches!(p, Packet::Auth(_))),
                    v5("MQTT-4.12.0-6"),
                    || "CONNECT had no Authentication Method, yet the broker sent AUTH".into(),
                )?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "auth.unsolicited-auth-is-a-protocol-error",
            "An AUTH from a client that connected without an Authentication Method makes the broker close the connection",
            &[v5("MQTT-4.13.1-1")],
            &[],
            controls::drop_to_server("AUTH", "the broker never sees the AUTH packet"),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "ua", []).await?;
                s.send(&Packet::Auth(Auth {
                    code: ReasonCode::RE_AUTHENTICATE,
                    properties: Properties::new()
                        .with(Property::AuthenticationMethod("hilt-no-such-method".into())),
                }))
                .await?;
                s.expect_close(
                    v5("MQTT-4.13.1-1"),
                    "an AUTH was sent on a connection made without an Authentication Method",
                )
                .await
            },
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Reason codes the broker chooses.

fn reason_code_tests() -> Vec<TestCase> {
    vec![
        case(
            "reason-codes.puback-without-subscribers",
            "A message nobody subscribes to is acknowledged with Success or 0x10 No matching subscribers, in PUBACK and in PUBREC",
            &[v5("MQTT-3.4.2-1"), v5("MQTT-3.5.2-1"), v5("MQTT-3.7.2-1")],
            &["mqtt.qos1", "mqtt.qos2"],
            controls::mutate_to_client(
                V5,
                "PUBACK",
                "the broker acknowledges with 0x11, a code PUBACK does not have",
                |p| {
                    if let Packet::PubAck(a) = p {
                        a.code = ReasonCode::NO_SUBSCRIPTION_EXISTED;
                    }
                },
            ),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "nm", []).await?;
                let topic = ctx.topic("nobody-listens");
                let ok = [ReasonCode::SUCCESS, ReasonCode::NO_MATCHING_SUBSCRIBERS];
                let c1 = publish_acked(
                    &mut s,
                    message(&topic, b"1", QoS::AtLeastOnce, Some(1), Properties::new()),
                )
                .await?;
                ctx.ensure(ok.contains(&c1), v5("MQTT-3.4.2-1"), || {
                    format!("PUBACK for a message without subscribers has code {c1}")
                })?;
                s.send(&Packet::Publish(message(
                    &topic,
                    b"2",
                    QoS::ExactlyOnce,
                    Some(2),
                    Properties::new(),
                )))
                .await?;
                let c2 = s
                    .expect(v5("MQTT-4.3.3-8"), "PUBREC", |p| match p {
                        Packet::PubRec(a) if a.packet_id == 2 => Some(a.code),
                        _ => None,
                    })
                    .await?;
                ctx.ensure(ok.contains(&c2), v5("MQTT-3.5.2-1"), || {
                    format!("PUBREC for a message without subscribers has code {c2}")
                })?;
                s.send(&Packet::PubRel(ack(2))).await?;
                let c3 = s
                    .expect(v5("MQTT-4.3.3-11"), "PUBCOMP", |p| match p {
                        Packet::PubComp(a) if a.packet_id == 2 => Some(a.code),
                        _ => None,
                    })
                    .await?;
                ctx.ensure(c3 == ReasonCode::SUCCESS, v5("MQTT-3.7.2-1"), || {
                    format!("PUBCOMP to a known PUBREL has code {c3}")
                })?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "reason-codes.suback-one-code-per-filter",
            "SUBACK has one code per filter, in order: the granted QoS (never above the request) or a failure",
            &[
                v5("MQTT-3.8.4-6"),
                v5("MQTT-3.8.4-7"),
                v5("MQTT-3.9.3-1"),
                v5("MQTT-3.9.3-2"),
            ],
            &[],
            controls::mutate_to_client(
                V5,
                "SUBACK",
                "the broker's SUBACK lists the codes in reverse order",
                |p| {
                    if let Packet::SubAck(a) = p {
                        a.codes.reverse();
                    }
                },
            ),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "sa", []).await?;
                let requested = [
                    QoS::ExactlyOnce,
                    QoS::AtMostOnce,
                    QoS::AtLeastOnce,
                    QoS::AtMostOnce,
                ];
                let filters: Vec<Subscription> = requested
                    .iter()
                    .enumerate()
                    .map(|(i, q)| sub(&ctx.topic(&format!("f{i}")), *q))
                    .collect();
                let codes = suback(&mut s, subscribe_packet(9, filters, Properties::new())).await?;
                ctx.ensure(codes.len() == requested.len(), v5("MQTT-3.8.4-6"), || {
                    format!(
                        "SUBSCRIBE had {} filters, SUBACK has {} codes",
                        requested.len(),
                        codes.len()
                    )
                })?;
                for (i, (c, q)) in codes.iter().zip(requested).enumerate() {
                    ctx.ensure(
                        c.allowed_in(hilt_wire::mqtt::PacketType::SubAck, V5),
                        v5("MQTT-3.9.3-2"),
                        || format!("SUBACK code {i} is {c}, not a Subscribe Reason Code"),
                    )?;
                    ctx.ensure(c.is_error() || c.0 <= q.as_u8(), v5("MQTT-3.9.3-1"), || {
                        format!("filter {i} asked for QoS {}, SUBACK code {i} grants {c}: codes out of order or above the request", q.as_u8())
                    })?;
                }
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "reason-codes.unsuback-codes-in-order",
            "UNSUBACK has one code per filter, in order: Success for a subscription deleted, 0x11 or Success where none existed",
            &[v5("MQTT-3.11.3-1"), v5("MQTT-3.11.3-2")],
            &[],
            controls::mutate_to_client(
                V5,
                "UNSUBACK",
                "the broker's UNSUBACK lists the codes in reverse order",
                |p| {
                    if let Packet::UnsubAck(a) = p {
                        a.codes.reverse();
                    }
                },
            ),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "ua", []).await?;
                let (mine, none) = (ctx.topic("mine"), ctx.topic("none"));
                subscribed(
                    &mut s,
                    subscribe_packet(1, vec![sub(&mine, QoS::AtMostOnce)], Properties::new()),
                )
                .await?;
                s.send(&Packet::Unsubscribe(Unsubscribe {
                    packet_id: 2,
                    properties: Properties::new(),
                    filters: vec![mine, none],
                }))
                .await?;
                let codes = s
                    .wait_for(
                        v5("MQTT-3.10.4-4"),
                        "UNSUBACK",
                        s.response_timeout(),
                        |p| match p {
                            Packet::UnsubAck(a) if a.packet_id == 2 => Some(a.codes.clone()),
                            _ => None,
                        },
                    )
                    .await?;
                ctx.ensure(codes.len() == 2, v5("MQTT-3.11.3-2"), || {
                    format!(
                        "UNSUBSCRIBE had 2 filters, UNSUBACK has {} codes",
                        codes.len()
                    )
                })?;
                ctx.ensure(codes[0] == ReasonCode::SUCCESS, v5("MQTT-3.11.3-1"), || {
                    format!(
                        "the first filter was subscribed, yet its UNSUBACK code is {}",
                        codes[0]
                    )
                })?;
                ctx.ensure(
                    [ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED].contains(&codes[1]),
                    v5("MQTT-3.11.3-2"),
                    || {
                        format!(
                            "the second filter had no subscription, its UNSUBACK code is {}",
                            codes[1]
                        )
                    },
                )?;
                s.disconnect().await;
                Ok(())
            },
        ),
        case(
            "reason-codes.disconnect-on-protocol-error",
            "A PUBLISH whose Topic Name holds a wildcard is a protocol error: the broker closes, after at most a DISCONNECT with an error code",
            &[
                v5("MQTT-4.13.1-1"),
                v5("MQTT-3.14.2-1"),
                v5("MQTT-3.14.4-1"),
                v5("MQTT-4.13.2-1"),
            ],
            &[],
            // The topic is `hilt/<token>/+`: '+' occurs nowhere else in the frame.
            bytes_replaced_to_server(
                "PUBLISH",
                "the client's wildcard Topic Name reaches the broker without the wildcard",
                b"+",
                b"p",
            ),
            |ctx| async move {
                let (mut s, _) = client(&ctx, "pe", []).await?;
                s.send(&Packet::Publish(message(
                    &ctx.topic("+"),
                    b"x",
                    QoS::AtMostOnce,
                    None,
                    Properties::new(),
                )))
                .await?;
                // Read what comes by hand: a DISCONNECT must carry an error code, and
                // nothing may follow it but the close.
                s.send(&Packet::PingReq).await?;
                let what = "a PUBLISH had a wildcard in its Topic Name";
                match s.next(s.response_timeout()).await? {
                    Next::Closed => return Ok(()),
                    Next::Packet(Packet::Disconnect(d)) => {
                        ctx.ensure(
                            d.code.is_error()
                                && d.code
                                    .allowed_in(hilt_wire::mqtt::PacketType::Disconnect, V5),
                            v5("MQTT-3.14.2-1"),
                            || format!("{what}: the broker's DISCONNECT has code {}", d.code),
                        )?;
                    }
                    Next::Packet(p) => {
                        return Err(Failure::fail(
                            v5("MQTT-4.13.1-1"),
                            format!("{what}, yet the broker sent {}", summarize(&p, V5)),
                        ));
                    }
                    Next::Silent => {
                        return Err(Failure::fail(
                            v5("MQTT-4.13.1-1"),
                            format!("{what}, yet the broker neither closed nor answered"),
                        ));
                    }
                }
                match s.next(s.response_timeout()).await? {
                    Next::Closed => {}
                    Next::Packet(p) => {
                        return Err(Failure::fail(
                            v5("MQTT-3.14.4-1"),
                            format!("after its DISCONNECT the broker sent {}", summarize(&p, V5)),
                        ));
                    }
                    Next::Silent => {
                        return Err(Failure::fail(
                            v5("MQTT-4.13.2-1"),
                            "after a DISCONNECT with an error code the connection stayed open",
                        ));
                    }
                }
                Ok(())
            },
        ),
    ]
}

#[cfg(test)]
mod test {
    #[test]
    fn feature_tests_are_v5_and_cite_v5() {
        for t in super::tests() {
            assert!(t.id.as_str().starts_with("mqtt.v5."), "{}", t.id);
            assert!(t.needs.contains(&"mqtt.v5"), "{}", t.id);
            assert!(t.covers.iter().all(|r| r.doc == "mqtt-v5"), "{}", t.id);
        }
    }
}
