//! How every report file reaches the disk, and how the versioned JSON ones come back.

use std::io::Write as _;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ReportError;

/// Writes `bytes` to `path` through a temporary file in the same folder, synced before
/// it is renamed over `path`, so a crash or a full disk never leaves half a report
/// behind: readers see the old file or the whole new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.display().to_string(),
        source,
    };
    // The whole name plus `.tmp`, so `results.json` and `results.html` written side by
    // side never share a temporary file.
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(err)
}

/// Writes `value` as pretty JSON, atomically; `what` names it in a rendering error.
pub fn write_json(path: &Path, what: &str, value: &impl Serialize) -> Result<(), ReportError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| ReportError::Render {
        what: what.into(),
        message: e.to_string(),
    })?;
    write_atomically(path, &bytes)
}

/// Reads a JSON file whose `schema` field must be `schema`, refusing others: a file
/// of another kind (`kind` names the expected one in the message) or another version.
pub(crate) fn read_json<T: DeserializeOwned>(
    path: &Path,
    schema: &str,
    kind: &str,
) -> Result<T, ReportError> {
    let err = |message: String| ReportError::Read {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(found) if found == schema => {}
        Some(other) => {
            return Err(err(format!(
                "schema `{other}` is not `{schema}`, which this hilt reads"
            )));
        }
        None => return Err(err(format!("no `schema` field: not a hilt {kind} file"))),
    }
    serde_json::from_value(value).map_err(|e| err(format!("does not match schema {schema}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["results.json"]);
    }

    #[test]
    fn a_missing_folder_is_a_write_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone").join("bench.json");
        let err = write_atomically(&path, b"x").unwrap_err().to_string();
        assert!(
            err.starts_with("write ") && err.contains("bench.json"),
            "{err}"
        );
    }
}
