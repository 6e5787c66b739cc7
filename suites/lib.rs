//! hilt's conformance suites: test bodies in Rust, one folder per protocol; golden and
//! malformed frames as data (`vectors/`); statement manifests (`spec/`); plans.

pub mod manifest;
pub mod mqtt;

use hilt_core::run::DocCoverage;
use hilt_runner::{Registry, TestCase};

/// Every suite hilt has.
pub fn registry() -> Registry {
    Registry::new(vec![mqtt::suite()])
}

/// Statement coverage of `tests`, for every manifest any of them cites.
pub fn coverage<'a>(tests: impl Iterator<Item = &'a TestCase>) -> Vec<DocCoverage> {
    manifest::coverage(tests)
}
