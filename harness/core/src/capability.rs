//! Capabilities: what a target declares it supports (ETSI's PICS idea).
//!
//! A test lists the capabilities it needs; a target that does not declare one makes the
//! test a skip, not a failure. Names are dotted and protocol-prefixed:
//! `mqtt.v5`, `mqtt.shared-subscriptions`, `mqtt.qos2`.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Capability(pub String);

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CapabilitySet(pub BTreeSet<String>);

impl CapabilitySet {
    pub fn has(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// The first of `needed` that this set lacks.
    pub fn first_missing<'a>(&self, needed: &[&'a str]) -> Option<&'a str> {
        needed.iter().copied().find(|n| !self.has(n))
    }
}

impl<S: Into<String>> FromIterator<S> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        CapabilitySet(iter.into_iter().map(Into::into).collect())
    }
}
