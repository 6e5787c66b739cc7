//! Test ids and references to normative statements.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A test's stable id, dot-separated from general to specific:
/// `mqtt.v5.connect.clean-start-session-present`.
///
/// The first segment is the protocol; ids are what plans select with globs and what a
/// target's known deviations name, so renaming one is a breaking change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TestId(pub String);

impl TestId {
    pub fn new(id: impl Into<String>) -> Self {
        TestId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The protocol segment (`mqtt` in `mqtt.v5.connect…`).
    pub fn protocol(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }
}

impl fmt::Display for TestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A normative statement of a specification: the document and the statement's id in it.
///
/// MQTT 3.1.1 and 5.0 both number statements `MQTT-x.y.z-n` and reuse numbers with
/// different meanings, so the document is part of the reference. For specifications
/// without numbered statements (STOMP, AMQP, CoAP, RPL) the ids are hilt's own, by
/// section, and are listed in `suites/spec/<doc>.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpecRef {
    /// The manifest name: `mqtt-v5`, `mqtt-v3.1.1`, …
    pub doc: &'static str,
    /// The statement id within it: `MQTT-3.1.2-4`.
    pub id: &'static str,
}

impl SpecRef {
    pub const fn new(doc: &'static str, id: &'static str) -> Self {
        SpecRef { doc, id }
    }
}

impl fmt::Display for SpecRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ({})", self.id, self.doc)
    }
}

/// The owned, serialisable form of a [`SpecRef`], as results files hold it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SpecRefOwned {
    pub doc: String,
    pub id: String,
}

impl From<SpecRef> for SpecRefOwned {
    fn from(r: SpecRef) -> Self {
        SpecRefOwned {
            doc: r.doc.to_owned(),
            id: r.id.to_owned(),
        }
    }
}

impl fmt::Display for SpecRefOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ({})", self.id, self.doc)
    }
}
