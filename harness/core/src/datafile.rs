//! Reading hilt's YAML data files with errors that point at the file and line.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A data file (target, plan, vectors, manifest) that could not be read or understood.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct DataFileError {
    pub path: PathBuf,
    /// 1-based line of the problem, when the parser knows it.
    pub line: Option<usize>,
    pub message: String,
}

/// Parses YAML text that came from `path` (used only to name it in errors).
pub fn parse_yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, DataFileError> {
    yaml_serde::from_str(text).map_err(|e| DataFileError {
        path: path.to_owned(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })
}

/// Reads and parses a YAML file.
pub fn read_yaml<T: DeserializeOwned>(path: &Path) -> Result<T, DataFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataFileError {
        path: path.to_owned(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    parse_yaml(path, &text)
}
