//! Statement manifests: every normative statement of each specification, by id.
//!
//! The manifests (`suites/spec/*.yaml`) are compiled into hilt, so coverage is
//! reported wherever the binary runs; a unit test fails on any test citing an id that
//! its manifest does not list.

use std::collections::BTreeMap;
use std::path::Path;

use hilt_core::run::{DocCoverage, StatementCoverage};
use hilt_runner::TestCase;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub doc: String,
    pub title: String,
    #[serde(default)]
    pub spec: String,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Statement {
    pub id: String,
    pub section: String,
    pub level: String,
    /// Who the statement binds: server, client, both, sender, receiver.
    pub binds: String,
    pub summary: String,
    /// How the specification misprints the id, where it does.
    #[serde(default)]
    pub printed_as: Option<String>,
    /// For statements taken from a specification's numbered rules: whether it gives the
    /// rule a test scenario (AMQP 0-9-1's XML does for 82 of its 115 `<rule>`s).
    #[serde(default)]
    pub scenario: Option<bool>,
}

const SOURCES: &[(&str, &str)] = &[
    ("spec/mqtt-v5.yaml", include_str!("spec/mqtt-v5.yaml")),
    (
        "spec/mqtt-v3.1.1.yaml",
        include_str!("spec/mqtt-v3.1.1.yaml"),
    ),
    (
        "spec/rpl-rfc6550.yaml",
        include_str!("spec/rpl-rfc6550.yaml"),
    ),
    (
        "spec/coap-rfc7252.yaml",
        include_str!("spec/coap-rfc7252.yaml"),
    ),
    (
        "spec/coap-rfc7641.yaml",
        include_str!("spec/coap-rfc7641.yaml"),
    ),
    (
        "spec/coap-rfc7959.yaml",
        include_str!("spec/coap-rfc7959.yaml"),
    ),
    (
        "spec/coap-rfc6690.yaml",
        include_str!("spec/coap-rfc6690.yaml"),
    ),
    ("spec/coap-td.yaml", include_str!("spec/coap-td.yaml")),
    ("spec/stomp-1.2.yaml", include_str!("spec/stomp-1.2.yaml")),
    ("spec/amqp-0-9-1.yaml", include_str!("spec/amqp-0-9-1.yaml")),
    ("spec/patterns.yaml", include_str!("spec/patterns.yaml")),
    ("spec/amqp-1.0.yaml", include_str!("spec/amqp-1.0.yaml")),
    (
        "spec/device-console.yaml",
        include_str!("spec/device-console.yaml"),
    ),
];

/// All manifests. They are compiled in and checked by the tests, so a parse failure
/// here is a bug in hilt, reported rather than panicked on.
pub fn all() -> Vec<Manifest> {
    SOURCES
        .iter()
        .filter_map(|(path, text)| {
            match hilt_core::datafile::parse_yaml::<Manifest>(Path::new(path), text) {
                Ok(m) => Some(m),
                Err(e) => {
                    eprintln!("hilt: bad statement manifest: {e}");
                    None
                }
            }
        })
        .collect()
}

/// For each manifest cited by `tests`: every statement, with the tests covering it.
pub fn coverage<'a>(tests: impl Iterator<Item = &'a TestCase>) -> Vec<DocCoverage> {
    let mut cited: BTreeMap<&'static str, BTreeMap<&'static str, Vec<String>>> = BTreeMap::new();
    for t in tests {
        for r in &t.covers {
            cited
                .entry(r.doc)
                .or_default()
                .entry(r.id)
                .or_default()
                .push(t.id.to_string());
        }
    }
    all()
        .into_iter()
        .filter_map(|m| {
            let by_id = cited.get(m.doc.as_str())?;
            Some(DocCoverage {
                statements: m
                    .statements
                    .iter()
                    .map(|s| StatementCoverage {
                        id: s.id.clone(),
                        section: s.section.clone(),
                        level: s.level.clone(),
                        summary: s.summary.clone(),
                        tests: by_id.get(s.id.as_str()).cloned().unwrap_or_default(),
                    })
                    .collect(),
                doc: m.doc,
                title: m.title,
            })
        })
        .collect()
}

#[cfg(test)]
mod test {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn manifests_parse_with_the_expected_counts() {
        let all = all();
        assert_eq!(all.len(), SOURCES.len(), "every manifest parses");
        let count = |doc: &str| {
            all.iter()
                .find(|m| m.doc == doc)
                .map(|m| m.statements.len())
        };
        assert_eq!(count("mqtt-v5"), Some(251));
        // 139 well-formed ids plus two the specification misprints (kept, see printed_as).
        assert_eq!(count("mqtt-v3.1.1"), Some(141));
        // hilt's own ids: the rules hilt-wire's RPL codec and state machines check.
        assert_eq!(count("rpl-rfc6550"), Some(73));
        // The 52 non-DTLS test descriptions of the CoAP#4 plugtest.
        assert_eq!(count("coap-td"), Some(52));
        // hilt's own ids: every MUST/SHOULD of STOMP 1.2, keyword-less protocol rules
        // and the Augmented BNF.
        assert_eq!(count("stomp-1.2"), Some(96));
        // The 115 <rule>s of the 0-9-1 XML (82 with a scenario), then 36 statements of the
        // frame grammar, reply codes and RabbitMQ's extensions.
        assert_eq!(count("amqp-0-9-1"), Some(151));
        // hilt's own ids, by section of parts 1, 2, 3 and 5 of OASIS AMQP 1.0.
        assert_eq!(count("amqp-1.0"), Some(85));
        let amqp = all.iter().find(|m| m.doc == "amqp-0-9-1");
        let rules = amqp.map(|m| {
            m.statements
                .iter()
                .filter_map(|s| s.scenario)
                .collect::<Vec<_>>()
        });
        assert_eq!(rules.as_ref().map(Vec::len), Some(115));
        assert_eq!(
            rules.map(|r| r.into_iter().filter(|s| *s).count()),
            Some(82)
        );
        for m in &all {
            let ids: BTreeSet<&str> = m.statements.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids.len(), m.statements.len(), "{}: ids are unique", m.doc);
        }
    }

    #[test]
    fn every_coap_codec_rule_is_in_its_manifest() {
        let all = all();
        let link_syntax = hilt_wire::coap::parse_links(b"x").err().map(|e| e.rule());
        for r in hilt_wire::coap::Rule::ALL
            .iter()
            .map(|rule| rule.spec_ref())
            .chain(link_syntax)
        {
            assert!(
                all.iter()
                    .any(|m| m.doc == r.doc && m.statements.iter().any(|s| s.id == r.id)),
                "{r} is not listed in suites/spec/{}.yaml",
                r.doc
            );
        }
    }

    #[test]
    fn every_test_cites_only_real_statements() {
        let all = all();
        let known: BTreeSet<(&str, &str)> = all
            .iter()
            .flat_map(|m| {
                m.statements
                    .iter()
                    .map(move |s| (m.doc.as_str(), s.id.as_str()))
            })
            .collect();
        let mut bad = Vec::new();
        for (_, t) in crate::registry().all() {
            for r in &t.covers {
                if !known.contains(&(r.doc, r.id)) {
                    bad.push(format!("{} cites {} {}", t.id, r.doc, r.id));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "tests cite statements no manifest lists:\n{}",
            bad.join("\n")
        );
    }

    /// Every rule a codec can name in a verdict is a statement of its manifest.
    #[test]
    fn every_codec_rule_is_in_its_manifest() {
        let all = all();
        let refs = hilt_wire::stomp::Rule::ALL
            .iter()
            .map(|r| r.spec_ref())
            .chain(hilt_wire::amqp091::Rule::ALL.iter().map(|r| r.spec_ref()))
            .chain(hilt_wire::amqp10::Rule::ALL.iter().map(|r| r.spec_ref()))
            .chain(hilt_wire::rpl::Rule::ALL.iter().map(|r| r.spec_ref()));
        for r in refs {
            assert!(
                all.iter()
                    .any(|m| m.doc == r.doc && m.statements.iter().any(|s| s.id == r.id)),
                "{r} is not listed in suites/spec/{}.yaml",
                r.doc
            );
        }
    }
}
