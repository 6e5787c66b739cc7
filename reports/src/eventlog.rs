//! The append-only event log (`events.jsonl`): one JSON object per line, flushed as
//! each event happens, so a crash loses nothing already done.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;

use hilt_core::Event;

use crate::ReportError;

#[derive(Debug)]
pub struct EventLog {
    file: Mutex<File>,
}

impl EventLog {
    pub fn create(path: &Path) -> Result<Self, ReportError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| ReportError::Write {
                path: path.display().to_string(),
                source,
            })?;
        Ok(EventLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one event. Errors are reported once on stderr and otherwise ignored:
    /// losing the log must not stop a run.
    pub fn append(&self, event: &Event) {
        let Ok(mut line) = serde_json::to_vec(event) else {
            return;
        };
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(&line).and_then(|()| f.flush()) {
            eprintln!("hilt: cannot append to the event log: {e}");
        }
    }
}

/// Reads an event log back; a torn last line (a crash mid-write) is skipped, and so is
/// any line that does not parse, with its number reported.
pub fn read(path: &Path) -> Result<(Vec<Event>, Vec<usize>), ReportError> {
    let file = File::open(path).map_err(|e| ReportError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut events = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let Ok(line) = line else {
            bad.push(i + 1);
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(e) => events.push(e),
            Err(_) => bad.push(i + 1),
        }
    }
    Ok((events, bad))
}
