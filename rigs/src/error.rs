//! Rig errors: what went wrong with the infrastructure, at which stage.

use std::fmt;
use std::time::Duration;

/// The stage a rig was in; each has its own timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Build,
    Flash,
    Console,
    Boot,
    Reset,
    Check,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Build => "build the firmware",
            Stage::Flash => "load the firmware",
            Stage::Console => "open the console",
            Stage::Boot => "boot",
            Stage::Reset => "reset",
            Stage::Check => "check",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RigErrorKind {
    #[error(
        "no debug probe matches selector `{selector}` ({found} attached); `hilt rig discover` lists what is attached"
    )]
    ProbeMissing { selector: String, found: usize },
    #[error("serial port {port}: {reason}")]
    Port { port: String, reason: String },
    #[error("{0}")]
    FlashFailed(String),
    #[error("no boot banner matching `{pattern}` within {waited:?}")]
    NoBanner { pattern: String, waited: Duration },
    #[error("`{command}` failed: {reason}")]
    Command { command: String, reason: String },
    #[error("took longer than {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Other(String),
}

/// A rig could not do what was asked: an infrastructure error, not a test failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rig {rig}: failed to {stage}: {kind}")]
pub struct RigError {
    pub rig: String,
    pub stage: Stage,
    pub kind: RigErrorKind,
}

impl RigError {
    pub fn new(rig: &str, stage: Stage, kind: RigErrorKind) -> Self {
        RigError {
            rig: rig.to_owned(),
            stage,
            kind,
        }
    }
}
