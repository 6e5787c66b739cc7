//! Running the `hilt` binary and reading what it wrote.

use std::path::Path;
use std::process::{Command, Output};

use hilt_core::RunResults;

pub fn hilt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hilt"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the hilt binary runs")
}

pub fn results(dir: &Path) -> RunResults {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json written");
    serde_json::from_str(&text).expect("results.json matches the schema")
}

/// Skips (returning true) when a peer's program is not installed; `./ci/test` installs
/// them, so in CI this never skips.
pub fn missing(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
        || Path::new("/usr/sbin").join(program).is_file()
        || Path::new("/usr/lib/rabbitmq/bin").join(program).is_file();
    if !found {
        eprintln!("skipped: `{program}` is not installed (run ./ci/setup)");
    }
    !found
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
