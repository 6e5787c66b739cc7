//! The LINK test descriptions of the ETSI CoAP#4 plugtest (cabo/td-coap4, link.yml):
//! resource discovery at `/.well-known/core` in the CoRE Link Format (RFC 6690) and its
//! query filters. Payloads are judged with hilt's own link-format parser. Where a TD
//! names resource types, they are taken from the server's own listing, as the TDs'
//! notes ask; where it names resources (`/link1`, `/path/sub1`), the test creates its
//! own under a path unique to the attempt.

use std::time::Duration;

use hilt_core::SpecRef;
use hilt_net::interposer::Dir;
use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::coap::{Code, Filter, Link, Message, MessageType, OptionNumber, parse_links};

use super::client::Client;
use super::controls::{self, Control};
use super::core::{create, judge, own_path};
use super::{SUITE, td};

const WELL_KNOWN: &str = "/.well-known/core";
/// application/link-format.
const LINK_FORMAT: u32 = 40;

fn link_rule(id: &'static str) -> SpecRef {
    SpecRef::new(hilt_wire::coap::RFC6690, id)
}

fn tc<F, Fut>(slug: &str, title: &str, body: F) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hilt_runner::Outcome> + Send + 'static,
{
    TestCase::new(SUITE, format!("coap.link.{slug}"), title, body)
}

/// GETs `path` (with `query`, if any) and judges what every LINK TD checks of the
/// answer: 2.05, Content-Format 40, a payload in the link format.
async fn get_links(
    c: &mut Client,
    id: &'static str,
    path: &str,
    query: Option<&Filter>,
) -> Result<Vec<Link>, Failure> {
    let mut req = c.request(MessageType::Con, Code::GET, path);
    if let Some(f) = query {
        req = req.with_query(&f.query());
    }
    let well_known = link_rule("RFC6690-4-well-known");
    // A long listing comes block by block (RFC 7959): the client fetches the rest in
    // order, and each block is judged like the first.
    let transfer = c.get_blocks(req, None, well_known).await?;
    let mut first = None;
    for (n, step) in transfer.steps.iter().enumerate() {
        let resp = judge(&step.req, &step.ex, &[Code::CONTENT], well_known)?;
        let num = resp.block2().map_or(0, |b| b.num as usize);
        if num != n {
            return Err(Failure::fail(
                SpecRef::new(hilt_wire::coap::RFC7959, "RFC7959-2.2-value"),
                format!(
                    "asked for block {n} of {path}, got {}",
                    hilt_wire::coap::summarize(&resp)
                ),
            ));
        }
        first.get_or_insert(resp);
    }
    let mut resp = first.ok_or_else(|| Failure::error(format!("GET {path} sent nothing")))?;
    resp.payload = transfer.body;
    if resp.content_format() != Some(LINK_FORMAT) {
        return Err(Failure::fail(
            td(id),
            format!(
                "GET {path}{} was answered without Content-Format 40 (application/link-format): {}",
                query.map(|f| format!("?{}", f.query())).unwrap_or_default(),
                hilt_wire::coap::summarize(&resp)
            ),
        ));
    }
    parse_links(&resp.payload).map_err(|e| {
        Failure::fail(
            e.rule(),
            format!(
                "the payload of GET {path} is not in the link format: {e}: {:?}",
                String::from_utf8_lossy(&resp.payload)
            ),
        )
    })
}

/// The targets of `links`, sorted, to compare sets.
fn targets<'a>(links: impl IntoIterator<Item = &'a Link>) -> Vec<String> {
    let mut t: Vec<String> = links.into_iter().map(|l| l.target.clone()).collect();
    t.sort();
    t.dedup();
    t
}

/// GETs `/.well-known/core?<filter>` and requires exactly the links of `expected`.
async fn judge_filter(
    c: &mut Client,
    id: &'static str,
    filter: &Filter,
    expected: Vec<String>,
) -> Result<(), Failure> {
    let got = targets(&get_links(c, id, WELL_KNOWN, Some(filter)).await?);
    if got != expected {
        return Err(Failure::fail(
            link_rule("RFC6690-4.1-filter"),
            format!(
                "?{} returned {got:?}; the links that match it are {expected:?}",
                filter.query()
            ),
        ));
    }
    Ok(())
}

/// The server's whole listing, and the filter `pick` draws from it; `None` when the
/// listing holds nothing to filter on, which makes the TD inapplicable.
async fn filter_from_listing(
    c: &mut Client,
    id: &'static str,
    pick: impl Fn(&[Link]) -> Option<Filter>,
) -> Result<(Filter, Vec<String>), Failure> {
    let all = get_links(c, id, WELL_KNOWN, None).await?;
    let filter = pick(&all).ok_or_else(|| {
        Failure::skip(format!(
            "{id}: the server's /.well-known/core lists nothing this TD can filter on"
        ))
    })?;
    let expected = targets(filter.select(&all));
    Ok((filter, expected))
}

/// The first word of parameter `name` in any link.
fn first_word(all: &[Link], name: &str) -> Option<String> {
    all.iter()
        .flat_map(|l| l.words(name))
        .find(|w| !w.is_empty())
        .map(str::to_owned)
}

/// The server sees the discovery GET without its query, so it returns every link.
fn query_stripped() -> Control {
    controls::mutate_to_server(
        "the server never sees the discovery query",
        |m: &Message| m.code == Code::GET,
        |m| m.options.retain(|o| o.number != OptionNumber::UriQuery),
    )
}

/// A filter TD: draws the filter from the listing with `pick`, then judges the result.
fn filter_td(
    id: &'static str,
    slug: &str,
    title: &str,
    needs: &'static [&'static str],
    pick: fn(&[Link]) -> Option<Filter>,
) -> TestCase {
    tc(slug, title, move |ctx: Ctx| async move {
        let mut c = Client::open(&ctx).await?;
        let (filter, expected) = filter_from_listing(&mut c, id, pick).await?;
        judge_filter(&mut c, id, &filter, expected).await
    })
    .covers(&[td(id), link_rule("RFC6690-4.1-filter")])
    .needs(needs)
    .control(query_stripped())
}

/// Creates `/<own>/link1`, `link2`, `link3` (and `test` when asked): the resources
/// TD_COAP_LINK_07 and 08 name.
async fn create_links(c: &mut Client, base: &str, with_test: bool) -> Result<(), Failure> {
    for leaf in ["link1", "link2", "link3"]
        .into_iter()
        .chain(with_test.then_some("test"))
    {
        create(c, &format!("{base}/{leaf}"), "linked").await?;
    }
    Ok(())
}

pub fn tests() -> Vec<TestCase> {
    const FILTERING: &[&str] = &["coap.link-format.filtering"];
    let well_known = link_rule("RFC6690-4-well-known");
    let syntax = link_rule("RFC6690-2-syntax");
    vec![
        tc("td-coap-link-01", "TD_COAP_LINK_01: GET /.well-known/core is answered 2.05 with Content-Format 40 and the server's links in the link format", move |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let links = get_links(&mut c, "TD_COAP_LINK_01", WELL_KNOWN, None).await?;
            ctx.ensure(!links.is_empty(), td("TD_COAP_LINK_01"), || "/.well-known/core lists no link".into())
        })
        .covers(&[td("TD_COAP_LINK_01"), well_known, syntax])
        .control(controls::mutate_to_client("the server's link-format payload loses its first '<'", |m: &Message| m.content_format() == Some(LINK_FORMAT), |m| {
            if m.payload.first() == Some(&b'<') {
                m.payload.remove(0);
            }
        })),
        filter_td("TD_COAP_LINK_02", "td-coap-link-02", "TD_COAP_LINK_02: ?rt=<a type the server lists> returns exactly the links of that type", FILTERING, |all| {
            first_word(all, "rt").map(|w| Filter::new("rt", &w))
        }),
        filter_td("TD_COAP_LINK_03", "td-coap-link-03", "TD_COAP_LINK_03: ?rt=* returns exactly the links that have an rt attribute", FILTERING, |all| {
            first_word(all, "rt").map(|_| Filter::new("rt", "*"))
        }),
        filter_td("TD_COAP_LINK_04", "td-coap-link-04", "TD_COAP_LINK_04: ?rt=<one of several types of a link> returns every link listing that type among others", &["coap.link-format.filtering", "coap.link-format.multiple-rt"], |all| {
            all.iter()
                .find(|l| l.words("rt").count() > 1)
                .and_then(|l| l.words("rt").nth(1).map(|w| Filter::new("rt", w)))
        }),
        filter_td("TD_COAP_LINK_05", "td-coap-link-05", "TD_COAP_LINK_05: ?if=<prefix>* returns exactly the links with an interface description starting with the prefix", FILTERING, |all| {
            first_word(all, "if").map(|w| {
                let half: String = w.chars().take(w.chars().count().div_ceil(2)).collect();
                Filter::new("if", &format!("{half}*"))
            })
        }),
        filter_td("TD_COAP_LINK_06", "td-coap-link-06", "TD_COAP_LINK_06: ?sz=* returns exactly the links that have a sz attribute", &["coap.link-format.filtering", "coap.link-format.sz"], |all| {
            all.iter().any(|l| l.param("sz").is_some()).then(|| Filter::new("sz", "*"))
        }),
        tc("td-coap-link-07", "TD_COAP_LINK_07: ?href=<path of link1> returns exactly the link to link1", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let base = own_path(&ctx, "");
            create_links(&mut c, &base, false).await?;
            let link1 = format!("{base}/link1");
            judge_filter(&mut c, "TD_COAP_LINK_07", &Filter::new("href", &link1), vec![link1.clone()]).await
        })
        .covers(&[td("TD_COAP_LINK_07"), link_rule("RFC6690-4.1-filter")])
        .needs(&["coap.link-format.filtering", "coap.dynamic-resources"])
        .control(query_stripped()),
        tc("td-coap-link-08", "TD_COAP_LINK_08: ?href=<base>/link* returns exactly the links to link1, link2 and link3, not to test", |ctx: Ctx| async move {
            let mut c = Client::open(&ctx).await?;
            let base = own_path(&ctx, "");
            create_links(&mut c, &base, true).await?;
            let expected = ["link1", "link2", "link3"].map(|l| format!("{base}/{l}")).to_vec();
            judge_filter(&mut c, "TD_COAP_LINK_08", &Filter::new("href", &format!("{base}/link*")), expected).await
        })
        .covers(&[td("TD_COAP_LINK_08"), link_rule("RFC6690-4.1-filter")])
        .needs(&["coap.link-format.filtering", "coap.dynamic-resources"])
        .control(query_stripped()),
        tc("td-coap-link-09", "TD_COAP_LINK_09: a resource /path listed with ct=40 serves the links of its sub-resources, which can be fetched in turn", |ctx: Ctx| async move {
            let id = "TD_COAP_LINK_09";
            let mut c = Client::open(&ctx).await?;
            let path = own_path(&ctx, "/path");
            let subs = [format!("{path}/sub1"), format!("{path}/sub2")];
            let index = subs.iter().map(|s| format!("<{s}>")).collect::<Vec<_>>().join(",");
            let put = c.request(MessageType::Con, Code::PUT, &path)
                .with_uint(OptionNumber::ContentFormat, LINK_FORMAT)
                .with_payload(index.into_bytes());
            let ex = c.exchange(&put, Duration::ZERO).await?;
            if !matches!(ex.response.as_ref().map(|r| r.msg.code), Some(Code::CREATED | Code::CHANGED)) {
                return Err(Failure::error(format!("precondition: PUT {path} (ct=40) was answered {:?}", ex.response.map(|r| r.msg.code.name()))));
            }
            for s in &subs {
                create(&mut c, s, "sub-resource").await?;
            }
            let all = get_links(&mut c, id, WELL_KNOWN, None).await?;
            let entry = all.iter().find(|l| l.target == path);
            ctx.ensure(entry.is_some_and(|l| l.words("ct").any(|w| w == "40")), td(id), || {
                format!("/.well-known/core has no entry for {path} with ct=40: {:?}", entry.map(ToString::to_string))
            })?;
            let listed = targets(&get_links(&mut c, id, &path, None).await?);
            ctx.ensure(subs.iter().all(|s| listed.contains(s)), td(id), || format!("GET {path} lists {listed:?}, not its sub-resources {subs:?}"))?;
            let get = c.request(MessageType::Con, Code::GET, &subs[0]);
            let ex = c.exchange(&get, Duration::ZERO).await?;
            let resp = judge(&get, &ex, &[Code::CONTENT], td(id))?;
            ctx.ensure(!resp.payload.is_empty(), td(id), || format!("GET {} returned no payload", subs[0]))
        })
        .covers(&[td("TD_COAP_LINK_09"), well_known, syntax])
        .needs(&["coap.dynamic-resources"])
        .control(Control::new("the server's ct=40 responses lose their Content-Format", || {
            vec![controls::mutate_rule(Dir::ToClient, |m: &Message| m.content_format() == Some(LINK_FORMAT), |m| {
                m.options.retain(|o| o.number != OptionNumber::ContentFormat)
            })]
        })),
    ]
}
