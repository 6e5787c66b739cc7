//! hilt's conformance suites: test bodies in Rust, one folder per protocol; golden and
//! malformed frames as data (`vectors/`); statement manifests (`spec/`); plans.

pub mod coap;
pub mod manifest;
pub mod mqtt;

use hilt_core::run::DocCoverage;
use hilt_runner::{Registry, TestCase};

/// Every suite hilt has.
pub fn registry() -> Registry {
    Registry::new(vec![mqtt::suite(), coap::suite()])
}

/// Statement coverage of `tests`, for every manifest any of them cites.
pub fn coverage<'a>(tests: impl Iterator<Item = &'a TestCase>) -> Vec<DocCoverage> {
    manifest::coverage(tests)
}

#[cfg(test)]
mod test {
    #[test]
    fn every_conformance_test_has_a_negative_control() {
        let without: Vec<String> = super::registry()
            .all()
            .filter(|(_, c)| c.control.is_none())
            .map(|(_, c)| c.id.to_string())
            .collect();
        assert!(
            without.is_empty(),
            "tests without a negative control:\n{}",
            without.join("\n")
        );
    }

    #[test]
    fn test_ids_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for (s, c) in super::registry().all() {
            let id = c.id.as_str();
            assert!(seen.insert(id.to_owned()), "duplicate test id {id}");
            assert!(
                id.starts_with(&format!("{}.", s.name)),
                "{id} starts with its suite"
            );
            assert!(
                id.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ".-_".contains(ch)),
                "{id}: lowercase, digits, dots and dashes only"
            );
            assert!(!c.covers.is_empty(), "{id} cites the statements it checks");
        }
    }
}
