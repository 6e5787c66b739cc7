//! Reporters: each consumes the run's events or its results file.
//!
//! The terminal reporter and the event log follow the run as it goes; results JSON,
//! JUnit XML and the HTML report are written from the finished [`RunResults`], and the
//! HTML report can be re-rendered later from the JSON alone (`hilt report`).

pub mod bench;
pub mod certificate;
pub mod dodag;
pub mod eventlog;
mod file;
pub mod html;
pub mod json;
pub mod junit;
pub mod svg;
pub mod terminal;

pub use file::{write_atomically, write_json};
pub use hilt_core::RunResults;

/// A report file that could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("read {path}: {message}")]
    Read { path: String, message: String },
    #[error("render {what}: {message}")]
    Render { what: String, message: String },
}
