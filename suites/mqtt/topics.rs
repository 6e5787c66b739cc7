//! Topic names and filters: what `+` and `#` match, `$` topics hidden from wildcards at
//! the first level, names compared exactly (case, empty levels, leading and trailing
//! `/`), and invalid filters and names refused.

use std::time::Duration;

use hilt_core::SpecRef;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::mqtt::{Packet, QoS, Version};

use super::SUITE;
use super::controls::{self, Control};
use super::pubsub::{
    VERSIONS, cap, client, collect_until, expect_refusal, message, publish, raw_publish,
    raw_subscribe, send_sentinel, show, spec, subscriber, tag, text,
};

/// Filters and topics are templates: `{b}` stands for the test's own base topic.
fn expand(template: &str, base: &str) -> String {
    template.replace("{b}", base)
}

/// Subscribes to `filters`, publishes one QoS 1 message to each topic of `cases`, and
/// requires exactly those marked `true` to arrive, each under the name it was published
/// to. A missing one fails `missing`, a wrong one `extra`.
async fn check_matching(
    ctx: Ctx,
    version: Version,
    filters: &[&str],
    cases: &[(&str, bool)],
    missing: SpecRef,
    extra: SpecRef,
) -> Result<(), Failure> {
    let base = ctx.topic("m");
    let sentinel = ctx.topic("end");
    let filters: Vec<String> = filters.iter().map(|f| expand(f, &base)).collect();
    let mut subs: Vec<(&str, QoS)> = filters
        .iter()
        .map(|f| (f.as_str(), QoS::AtLeastOnce))
        .collect();
    subs.push((&sentinel, QoS::AtLeastOnce));
    let mut s = subscriber(&ctx, version, "s", &subs).await?;
    let mut p = client(&ctx, version, "p").await?;
    let topics: Vec<String> = cases.iter().map(|(t, _)| expand(t, &base)).collect();
    for (i, topic) in topics.iter().enumerate() {
        publish(
            &mut p,
            message(
                topic,
                i.to_string().as_bytes(),
                QoS::AtLeastOnce,
                1 + i as u16,
            ),
        )
        .await?;
    }
    send_sentinel(&mut p, &sentinel).await?;
    let got = collect_until(&mut s, missing, &sentinel).await?;
    for m in &got {
        let Some(i) = text(&m.payload)
            .parse::<usize>()
            .ok()
            .filter(|i| *i < cases.len())
        else {
            return Err(Failure::fail(
                extra,
                format!("an unexpected message arrived: {}", show(m, version)),
            ));
        };
        ctx.ensure(
            m.topic == topics[i],
            spec(version, "MQTT-3.3.2-3", "MQTT-3.3.2-3"),
            || {
                format!(
                    "the message published to {:?} arrived as {:?}",
                    topics[i], m.topic
                )
            },
        )?;
        ctx.ensure(cases[i].1, extra, || {
            format!(
                "filters {filters:?} do not match {:?}, yet its message was delivered",
                topics[i]
            )
        })?;
    }
    for (i, (_, want)) in cases.iter().enumerate() {
        let n = got
            .iter()
            .filter(|m| text(&m.payload) == i.to_string())
            .count();
        ctx.ensure(!*want || n > 0, missing, || {
            format!(
                "filters {filters:?} match {:?}, yet its message was not delivered",
                topics[i]
            )
        })?;
    }
    p.disconnect().await;
    s.disconnect().await;
    Ok(())
}

/// The client's SUBSCRIBE filters reach the broker as `change` rewrites them.
fn rewrite_filters(version: Version, what: &str, change: fn(&str) -> Option<String>) -> Control {
    controls::mutate_to_server(version, "SUBSCRIBE", what, move |p| {
        if let Packet::Subscribe(s) = p {
            for f in &mut s.filters {
                if let Some(new) = change(&f.filter) {
                    f.filter = new;
                }
            }
        }
    })
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    for version in VERSIONS {
        let tag = tag(version);
        let needs = [cap(version), "mqtt.qos1", "mqtt.wildcards"];
        let delivered = spec(version, "MQTT-4.5.0-1", "MQTT-4.5.0-1");
        let matching = spec(version, "MQTT-3.3.2-3", "MQTT-3.3.2-3");
        let exact = spec(version, "MQTT-4.7.3-4", "MQTT-4.7.3-4");

        let plus = spec(version, "MQTT-4.7.1-2", "MQTT-4.7.1-3");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.topics.plus-matches-one-level"),
                "A '+' in a filter matches exactly one topic level, an empty one included",
                move |ctx| async move {
                    let cases = [
                        ("{b}/x/c", true),
                        ("{b}//c", true),
                        ("{b}/x/y/c", false),
                        ("{b}/c", false),
                        ("{b}/x/c/d", false),
                        ("{b}/x/cc", false),
                    ];
                    check_matching(ctx, version, &["{b}/+/c"], &cases, delivered, plus).await
                },
            )
            .covers(&[plus, delivered, matching])
            .tags(&["topics"])
            .needs(&needs)
            .control(rewrite_filters(
                version,
                "the broker's '+' spans several levels",
                |f| f.strip_suffix("/+/c").map(|head| format!("{head}/#")),
            )),
        );

        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.topics.hash-matches-parent-and-descendants"),
                "A trailing '#' matches the parent level and any number of levels below it, nothing else",
                move |ctx| async move {
                    let cases = [
                        ("{b}/a", true),
                        ("{b}/a/x", true),
                        ("{b}/a/x/y", true),
                        ("{b}/a/", true),
                        ("{b}/ab", false),
                        ("{b}", false),
                        ("{b}/x/a", false),
                    ];
                    check_matching(ctx, version, &["{b}/a/#"], &cases, delivered, matching).await
                },
            )
            .covers(&[delivered, matching])
            .tags(&["topics"])
            .needs(&needs)
            .control(rewrite_filters(version, "the broker's '#' matches only one level", |f| {
                f.strip_suffix("/#").map(|head| format!("{head}/+"))
            })),
        );

        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.topics.levels-not-normalized"),
                "Leading, trailing and doubled '/' make distinct topics: matching does not normalize them away",
                move |ctx| async move {
                    let cases = [
                        ("/{b}/x", true),
                        ("{b}/x", false),
                        ("{b}//y", true),
                        ("{b}/y", false),
                        ("{b}/z/", true),
                        ("{b}/z", false),
                    ];
                    check_matching(ctx, version, &["/{b}/x", "{b}//y", "{b}/z/"], &cases, exact, exact).await
                },
            )
            .covers(&[exact, matching])
            .tags(&["topics"])
            .needs(&[cap(version), "mqtt.qos1"])
            .control(rewrite_filters(version, "the broker normalizes '/' in filters", |f| {
                let mut n = f.trim_matches('/').to_owned();
                while n.contains("//") {
                    n = n.replace("//", "/");
                }
                Some(n)
            })),
        );

        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.topics.case-sensitive"),
                "Topic matching is case sensitive and changes no character",
                move |ctx| async move {
                    let cases = [
                        ("{b}/Case", true),
                        ("{b}/case", false),
                        ("{b}/CASE", false),
                        ("{b}/Case ", false),
                        ("{b}/\u{ff23}ase", false),
                    ];
                    check_matching(ctx, version, &["{b}/Case"], &cases, exact, exact).await
                },
            )
            .covers(&[exact])
            .tags(&["topics"])
            .needs(&[cap(version), "mqtt.qos1"])
            .control(rewrite_filters(
                version,
                "the broker matches filters ignoring case",
                |f| Some(f.to_lowercase()),
            )),
        );

        // '#' and '+/…' never deliver a topic starting with '$', retained or live: a
        // '$SYS/#' subscriber shows such messages exist and flow meanwhile.
        let dollar = spec(version, "MQTT-4.7.2-1", "MQTT-4.7.2-1");
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.topics.wildcards-skip-dollar-topics"),
                "Filters starting with '#' or '+' do not match topic names beginning with '$'",
                move |ctx| async move {
                    let mut all = subscriber(&ctx, version, "w", &[("#", QoS::AtMostOnce), ("+/#", QoS::AtMostOnce)]).await?;
                    let mut sys = subscriber(&ctx, version, "y", &[("$SYS/#", QoS::AtMostOnce)]).await?;
                    // A live $SYS publication (RETAIN 0), after both subscriptions exist;
                    // Mosquitto publishes them every sys_interval (1 s in its target file).
                    let live = sys
                        .wait_for(dollar, "a live $SYS message", Duration::from_millis(2500), |p| match p {
                            Packet::Publish(m) if !m.retain => Some(m.topic.clone()),
                            _ => None,
                        })
                        .await
                        .map_err(|e| Failure::error(format!("no $SYS message to compare with: {e}")))?;
                    let seen = all.barrier(dollar).await?;
                    if let Some(Packet::Publish(m)) = seen.iter().find(|p| matches!(p, Packet::Publish(m) if m.topic.starts_with('$'))) {
                        return Err(Failure::fail(
                            dollar,
                            format!("a subscriber to '#' and '+/#' got {} (the $SYS subscriber got {live})", show(m, version)),
                        ));
                    }
                    sys.disconnect().await;
                    all.disconnect().await;
                    Ok(())
                },
            )
            .covers(&[dollar])
            .tags(&["topics"])
            .needs(&[cap(version), "mqtt.wildcards", "mqtt.dollar-topics"])
            // A '#' subscriber receives every other test's messages, malformed ones
            // included: it runs alone.
            .exclusive()
            .timeout(Duration::from_secs(10))
            .control(rewrite_filters(version, "the broker lets '#' match $SYS topics", |f| (f == "#").then(|| "$SYS/#".to_owned()))),
        );

        // Invalid filters are refused: a failure code in SUBACK, or the connection closed.
        let hash_last = spec(version, "MQTT-4.7.1-1", "MQTT-4.7.1-2");
        let plus_level = spec(version, "MQTT-4.7.1-2", "MQTT-4.7.1-3");
        let non_empty = spec(version, "MQTT-4.7.3-1", "MQTT-4.7.3-1");
        let no_null = spec(version, "MQTT-4.7.3-2", "MQTT-4.7.3-2");
        let bad_filters: [(&'static [u8], SpecRef); 5] = [
            (b"hilt/a/#/b", hash_last),
            (b"hilt/a#", hash_last),
            (b"hilt/a+/b", plus_level),
            (b"", non_empty),
            (b"hilt/\0", no_null),
        ];
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.topics.invalid-filters-refused"),
                "The broker refuses invalid topic filters: misplaced wildcards, empty, or containing U+0000",
                move |ctx| async move {
                    for (i, (filter, rule)) in bad_filters.iter().enumerate() {
                        let mut s = client(&ctx, version, &format!("f{i}")).await?;
                        s.send_raw(&raw_subscribe(version, 1, filter, 0)).await?;
                        let what = format!("a SUBSCRIBE to the invalid filter {:?}", String::from_utf8_lossy(filter));
                        expect_refusal(&mut s, *rule, &what).await?;
                    }
                    Ok(())
                },
            )
            .covers(&[hash_last, plus_level, non_empty, no_null])
            .tags(&["topics", "subscribe"])
            .needs(&[cap(version)])
            .control(controls::replace_frame(
                raw_subscribe(version, 1, bad_filters[0].0, 0),
                raw_subscribe(version, 1, b"hilt/a/+/b", 0),
                "the broker accepts a filter with '#' in the middle",
            )),
        );

        // Invalid topic names are refused: the connection closed (or, in 5.0, an error
        // code in PUBACK); never a plain acknowledgement.
        let no_wild = spec(version, "MQTT-4.7.0-1", "MQTT-4.7.1-1");
        let bad_names: [(&'static [u8], SpecRef); 4] = [
            (b"hilt/w/+", no_wild),
            (b"hilt/w/#", no_wild),
            (b"", non_empty),
            (b"hilt/w/\0", no_null),
        ];
        t.push(
            TestCase::new(
                SUITE,
                format!("mqtt.{tag}.topics.invalid-names-refused"),
                "The broker refuses a PUBLISH whose topic name has a wildcard, is empty, or contains U+0000",
                move |ctx| async move {
                    for (i, (name, rule)) in bad_names.iter().enumerate() {
                        let mut s = client(&ctx, version, &format!("n{i}")).await?;
                        s.send_raw(&raw_publish(version, 1, name, b"x")).await?;
                        let what = format!("a PUBLISH to the invalid topic name {:?}", String::from_utf8_lossy(name));
                        expect_refusal(&mut s, *rule, &what).await?;
                    }
                    Ok(())
                },
            )
            .covers(&[no_wild, non_empty, no_null])
            .tags(&["topics", "publish"])
            .needs(&[cap(version), "mqtt.qos1"])
            .control(controls::replace_frame(
                raw_publish(version, 1, bad_names[0].0, b"x"),
                raw_publish(version, 1, b"hilt/w/ok", b"x"),
                "the broker accepts a topic name with '+'",
            )),
        );
    }
    t
}
