//! The protocol version a codec speaks, and the error that names a broken rule.

use std::fmt;

use hilt_core::SpecRef;

/// The MQTT protocol level a byte stream is decoded or encoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// MQTT 3.1.1, protocol level 4.
    V311,
    /// MQTT 5.0, protocol level 5.
    V5,
}

impl Version {
    /// The Protocol Level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            Version::V311 => 4,
            Version::V5 => 5,
        }
    }

    /// The version a CONNECT's Protocol Level names; `None` for levels hilt does not speak
    /// (3 is MQTT 3.1, "MQIsdp").
    pub const fn from_level(level: u8) -> Option<Version> {
        match level {
            4 => Some(Version::V311),
            5 => Some(Version::V5),
            _ => None,
        }
    }

    /// The statement manifest whose ids apply to frames of this version.
    pub const fn doc(self) -> &'static str {
        match self {
            Version::V311 => "mqtt-v3.1.1",
            Version::V5 => "mqtt-v5",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V311 => "3.1.1",
            Version::V5 => "5.0",
        })
    }
}

/// A frame breaks a rule of the specification: which statement, and where.
///
/// `offset` counts from the first byte of the frame (the fixed header's type byte).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{}] {detail} at offset {offset}", rule.id)]
pub struct Violation {
    pub rule: SpecRef,
    pub offset: usize,
    pub detail: String,
}
