//! The runner: which tests, against which targets, in what order, with what isolation —
//! and the stream of events every reporter consumes.
//!
//! The runner knows nothing about output (reporters subscribe to [`hilt_core::Event`]s)
//! and nothing about any protocol: a [`Suite`] brings its tests and the framer that
//! turns recorded bytes into readable frames.

pub mod case;
pub mod ctx;
pub mod dissect;
pub mod registry;
pub mod run;

pub use case::{
    Control, Failure, Isolation, Outcome, Suite, TestBody, TestCase, Transport, UnderTest,
};
pub use ctx::Ctx;
/// What [`Ctx::start_device`] returns, and what its run ends with.
pub use hilt_peers::{CommandOutcome, CommandRun};
pub use registry::Registry;
pub use run::{EventSink, RunConfig, RunOutput, TargetRequest, run};
