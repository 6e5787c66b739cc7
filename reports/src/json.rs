//! The results file, `results.json`.

use std::path::Path;

use hilt_core::RunResults;
use hilt_core::run::RESULTS_SCHEMA;

use crate::{ReportError, file};

pub fn write(path: &Path, results: &RunResults) -> Result<(), ReportError> {
    file::write_json(path, "results JSON", results)
}

/// Reads a results file, refusing schemas this version cannot read.
pub fn read(path: &Path) -> Result<RunResults, ReportError> {
    file::read_json(path, RESULTS_SCHEMA, "results")
}
