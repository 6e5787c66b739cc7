//! The RPL conformance catalogue: hilt's own test descriptions in the ETSI TD shape
//! (`suites/rpl/tds.yaml`), run on a real link against an RPL node or root under test.
//!
//! The target is a device file (`targets/devices/*.yaml`) with a `node` command (for
//! TDs of role `node`: hilt plays the root) and/or a `root` command (role `root`: hilt
//! plays a node). Placeholders: `{iface}` the interface the IUT runs on, `{mutate}` the
//! fault a negative control asks for (`none` otherwise), `{hilt}` this program. With
//! the capability `rpl.netns`, hilt makes a network namespace and a veth pair per TD
//! and runs the command inside on `rpl0`; without it, the command runs here and must
//! bring up the interface `{iface}` (e.g. a TUN bridged to a device's SLIP line).
//! Capabilities select TDs: `rpl.node` and `rpl.root` (which role the target plays),
//! `rpl.router` (the node sends DIOs; leaf TDs need none),
//! `rpl.dao-ack`, `rpl.mop.storing`, `rpl.mop.non-storing`.
//!
//! Every TD names the fault (`hilt rpl node|root --mutate`) that must make it fail: in
//! a control run the IUT's command gets it as `{mutate}`. hilt's own node and root
//! commit it themselves; a device that cannot is started behind a relay that commits
//! it on the device's behalf, rewriting or dropping what the device sends and hears
//! (`hilt rig up --link-only --mutate`, as `targets/devices/hilt-fw.yaml` does).

mod bench;
mod procedures;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hilt_core::SpecRef;
use hilt_runner::{Control, Suite, TestCase, Transport, UnderTest};
use hilt_wire::framing::{Decoded, FrameMeta, Framer};
use serde::Deserialize;

pub const SUITE: &str = "rpl";

/// One test description, as `suites/rpl/tds.yaml` writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Td {
    pub id: String,
    /// What the IUT is: `node` (hilt is the root) or `root` (hilt is a node).
    pub role: String,
    pub leaf: bool,
    pub objective: String,
    pub references: Vec<String>,
    pub config: String,
    pub stimulus: String,
    pub check: String,
    pub verify: String,
    pub procedure: String,
    #[serde(default)]
    pub params: BTreeMap<String, yaml_serde::Value>,
    #[serde(default)]
    pub needs: Vec<String>,
    pub control: String,
}

impl Td {
    pub fn param(&self, key: &str) -> Option<String> {
        self.params.get(key).map(|v| match v {
            yaml_serde::Value::String(s) => s.clone(),
            yaml_serde::Value::Number(n) => n.to_string(),
            yaml_serde::Value::Bool(b) => b.to_string(),
            _ => String::new(),
        })
    }

    /// The statement a failure is judged against: the TD's first reference.
    pub fn rule(&self) -> SpecRef {
        self.rule_at(0)
    }

    pub fn rule_at(&self, i: usize) -> SpecRef {
        let id = self
            .references
            .get(i)
            .or(self.references.first())
            .map_or("RFC6550-6-1", String::as_str);
        SpecRef::new(hilt_wire::rpl::DOC, crate::intern(id))
    }

    pub fn test_id(&self) -> String {
        format!("{SUITE}.{}", self.id.to_lowercase().replace('_', "-"))
    }
}

/// The catalogue, compiled in; a bad file is a bug the unit tests catch.
pub fn catalogue() -> Vec<Td> {
    let text = include_str!("rpl/tds.yaml");
    hilt_core::datafile::parse_yaml::<Vec<Td>>(std::path::Path::new("rpl/tds.yaml"), text)
        .unwrap_or_else(|e| {
            eprintln!("hilt: bad RPL catalogue: {e}");
            Vec::new()
        })
}

/// Frames on an RPL link: one IPv6 datagram each, described by the RPL codec.
#[derive(Debug, Default)]
struct RplFramer;

impl Framer for RplFramer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        if buf.is_empty() {
            Ok(Decoded::NeedMore(1))
        } else {
            Ok(Decoded::Done(buf.len(), buf.len()))
        }
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        use hilt_wire::rpl::{Datagram, Payload, RplMessage};
        match Datagram::parse(frame) {
            Ok(dg) => {
                let (kind, what) = match &dg.payload {
                    Payload::Rpl(RplMessage::Dis(_)) => ("DIS", String::new()),
                    Payload::Rpl(RplMessage::Dio(d)) => (
                        "DIO",
                        format!(" rank {} version {} dtsn {}", d.rank, d.version, d.dtsn),
                    ),
                    Payload::Rpl(RplMessage::Dao(d)) => {
                        ("DAO", format!(" seq {} K {}", d.sequence, d.expect_ack))
                    }
                    Payload::Rpl(RplMessage::DaoAck(a)) => (
                        "DAO-ACK",
                        format!(" seq {} status {}", a.sequence, a.status),
                    ),
                    Payload::Rpl(_) => ("RPL", String::new()),
                    Payload::Icmpv6 { msg_type, .. } => ("ICMPv6", format!(" type {msg_type}")),
                    Payload::Other { next_header, .. } => ("IPv6", format!(" next {next_header}")),
                };
                FrameMeta {
                    kind,
                    summary: format!("{kind} {} -> {}{what}", dg.ipv6.src_addr, dg.ipv6.dst_addr),
                    problems: Vec::new(),
                }
            }
            Err(v) => FrameMeta {
                kind: "malformed",
                summary: format!("{} octets", frame.len()),
                problems: vec![v.to_string()],
            },
        }
    }
}

pub fn suite() -> Suite {
    let cases = catalogue().into_iter().map(test_case).collect();
    Suite {
        name: SUITE,
        protocol: "rpl",
        under_test: UnderTest::Client,
        well_known_port: None,
        transport: Transport::Ipv6Link,
        framer: Arc::new(|| Box::new(RplFramer)),
        cases,
    }
}

fn test_case(td: Td) -> TestCase {
    let td = Arc::new(td);
    let covers: Vec<SpecRef> = (0..td.references.len()).map(|i| td.rule_at(i)).collect();
    let mut needs: Vec<&'static str> = td.needs.iter().map(|n| crate::intern(n)).collect();
    // The role first: a target declares which it plays (`rpl.node`, `rpl.root`).
    needs.insert(
        0,
        if td.role == "root" {
            "rpl.root"
        } else {
            "rpl.node"
        },
    );
    if !td.leaf && td.role == "node" {
        needs.push("rpl.router");
    }
    let what = td
        .control
        .parse::<hilt_net::rpl::Fault>()
        .map_or_else(|e| e, |f| f.what().to_owned());
    let body_td = Arc::clone(&td);
    let mut tags = vec![if td.role == "root" {
        "rpl-root"
    } else {
        "rpl-node"
    }];
    if td.leaf {
        tags.push("leaf");
    }
    TestCase::new(
        SUITE,
        td.test_id(),
        format!("{}: {}", td.id, td.objective),
        move |ctx| procedures::run(ctx, Arc::clone(&body_td)),
    )
    .covers(&covers)
    .needs(&needs)
    .tags(&tags)
    .timeout(Duration::from_secs(40))
    .control(Control::new(format!("the IUT {what}"), Vec::new))
}

#[cfg(test)]
mod test {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_catalogue_has_at_least_forty_well_formed_tds() {
        let tds = catalogue();
        assert!(tds.len() >= 40, "{} TDs", tds.len());
        let mut ids = BTreeSet::new();
        for td in &tds {
            assert!(ids.insert(td.id.clone()), "{} twice", td.id);
            assert!(td.id.starts_with("TD_RPL_"), "{}", td.id);
            assert!(matches!(td.role.as_str(), "node" | "root"), "{}", td.id);
            assert!(
                td.control.parse::<hilt_net::rpl::Fault>().is_ok(),
                "{}: control `{}` is no fault hilt knows",
                td.id,
                td.control
            );
            assert!(
                procedures::known(&td.procedure),
                "{}: no procedure `{}`",
                td.id,
                td.procedure
            );
            assert!(!td.references.is_empty(), "{}", td.id);
        }
        let leaf = tds.iter().filter(|t| t.leaf && t.role == "node").count();
        assert!(leaf >= 5, "only {leaf} TDs apply to a leaf");
    }
}
