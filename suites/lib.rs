//! hilt's conformance suites: test bodies in Rust, one folder per protocol; golden and
//! malformed frames as data (`vectors/`); statement manifests (`spec/`); plans.

pub mod amqp091;
pub mod amqp10;
pub mod coap;
pub mod coap_client;
pub mod console;
mod corpus;
pub mod manifest;
pub mod mqtt;
pub mod mqtt_client;
pub mod patterns;
pub mod rpl;
pub mod stomp;

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use hilt_core::run::DocCoverage;
use hilt_runner::{Registry, TestCase};

/// Every suite hilt has.
pub fn registry() -> Registry {
    Registry::new(vec![
        mqtt::suite(),
        coap::suite(),
        coap_client::suite(),
        mqtt_client::suite(),
        amqp091::suite(),
        stomp::suite(),
        patterns::suite(),
        rpl::suite(),
        amqp10::suite(),
        console::suite(),
    ])
}

/// Statement ids read from data files (vector corpora) live as long as the program: the
/// registry is built a few times at most, and each distinct id is stored once.
pub(crate) fn intern(s: &str) -> &'static str {
    static POOL: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut pool = POOL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(found) = pool.get(s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    pool.insert(leaked);
    leaked
}

/// The first 48 bytes of a frame or datagram in hex, for failure messages.
pub(crate) fn hex_excerpt(bytes: &[u8]) -> String {
    const SHOWN: usize = 48;
    let mut s: String = bytes
        .iter()
        .take(SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    if bytes.len() > SHOWN {
        s.push_str(&format!(" … {} bytes", bytes.len()));
    }
    s
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
