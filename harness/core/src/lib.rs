//! The vocabulary every layer of hilt shares.
//!
//! Nothing here does I/O except reading the data files (targets, plans) it defines
//! schemas for; nothing reads the clock. Higher layers (wire codecs, drivers, the
//! runner, reporters) speak in these types so that a result written by one version of
//! hilt can be re-read and re-rendered by `hilt report`.

pub mod bench;
pub mod capability;
pub mod datafile;
pub mod event;
pub mod id;
pub mod plan;
pub mod profile;
pub mod result;
pub mod rig;
pub mod run;
pub mod target;
pub mod time;
pub mod verdict;

pub use capability::{Capability, CapabilitySet};
pub use event::Event;
pub use id::{SpecRef, TestId};
pub use result::{Direction, TestResult, TraceFrame};
pub use run::RunResults;
pub use time::{Instant, Timestamp};
pub use verdict::Verdict;
