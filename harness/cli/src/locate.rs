//! Finding hilt's data: target files, plans.

use std::path::{Path, PathBuf};

use hilt_core::target::TargetFile;

use crate::exit::usage;

/// The project folder holding `targets/` (see [`hilt_peers::project_root`]).
pub fn root() -> Option<PathBuf> {
    hilt_peers::project_root()
}

/// Every target file under `targets/`, by name.
pub fn all_targets() -> anyhow::Result<Vec<(PathBuf, TargetFile)>> {
    let Some(root) = root() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut stack = vec![root.join("targets")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml")
                && p.parent().is_some_and(|d| {
                    ["brokers", "servers", "devices"]
                        .iter()
                        .any(|k| d.ends_with(k))
                })
            {
                out.push((p.clone(), TargetFile::load(&p)?));
            }
        }
    }
    out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(out)
}

/// Resolves `--target NAME|FILE`.
pub fn target(spec: &str) -> anyhow::Result<TargetFile> {
    let as_path = Path::new(spec);
    if as_path
        .extension()
        .is_some_and(|x| x == "yaml" || x == "yml")
        || as_path.is_file()
    {
        return Ok(TargetFile::load(as_path)?);
    }
    let all = all_targets()?;
    if let Some((_, t)) = all.iter().find(|(_, t)| t.name == spec) {
        return Ok(t.clone());
    }
    let known: Vec<&str> = all.iter().map(|(_, t)| t.name.as_str()).collect();
    Err(usage(format!(
        "no target named `{spec}`; known targets: {} (or give a path to a target file, or `external` with --url)",
        if known.is_empty() {
            "none found — run hilt from the project folder or set HILT_ROOT".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// The file `--target NAME|FILE` (or `--device`) names, when it names one.
pub fn target_path(spec: &str) -> Option<PathBuf> {
    let as_path = Path::new(spec);
    if as_path.is_file() {
        return Some(as_path.to_owned());
    }
    all_targets()
        .ok()?
        .into_iter()
        .find(|(_, t)| t.name == spec)
        .map(|(p, _)| p)
}
