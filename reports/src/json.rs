//! The results file, `results.json`.

use std::path::Path;

use hilt_core::RunResults;
use hilt_core::run::RESULTS_SCHEMA;

use crate::{ReportError, write_atomically};

pub fn write(path: &Path, results: &RunResults) -> Result<(), ReportError> {
    let bytes = serde_json::to_vec_pretty(results).map_err(|e| ReportError::Render {
        what: "results JSON".into(),
        message: e.to_string(),
    })?;
    write_atomically(path, &bytes)
}

/// Reads a results file, refusing schemas this version cannot read.
pub fn read(path: &Path) -> Result<RunResults, ReportError> {
    let err = |message: String| ReportError::Read {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(RESULTS_SCHEMA) => {}
        Some(other) => {
            return Err(err(format!(
                "schema `{other}` is not `{RESULTS_SCHEMA}`, which this hilt reads"
            )));
        }
        None => return Err(err("no `schema` field: not a hilt results file".into())),
    }
    serde_json::from_value(value)
        .map_err(|e| err(format!("does not match schema {RESULTS_SCHEMA}: {e}")))
}
