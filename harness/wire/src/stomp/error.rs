//! The error that names a broken rule.

use hilt_core::SpecRef;

/// A frame breaks a rule: which statement, and where.
///
/// `offset` counts from the frame's first byte (the command's first letter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{}] {detail} at offset {offset}", rule.id)]
pub struct Violation {
    pub rule: SpecRef,
    pub offset: usize,
    pub detail: String,
}
