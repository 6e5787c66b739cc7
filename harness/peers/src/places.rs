//! Places on this machine that target files may name, beside each instance's own:
//! the project folder (`{root}`: scripts shipped with hilt's targets) and the Python
//! virtual environment `ci/setup` installs PyPI peers into (`{venv}`).

use std::path::{Path, PathBuf};

/// The project folder holding `targets/` and `suites/`: from HILT_ROOT, the current
/// folder or its ancestors, or where hilt was built from.
pub fn project_root() -> Option<PathBuf> {
    let is_root = |p: &Path| p.join("targets").is_dir() && p.join("suites").is_dir();
    if let Some(r) = std::env::var_os("HILT_ROOT").map(PathBuf::from)
        && is_root(&r)
    {
        return Some(r);
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Some(r) = cwd.ancestors().find(|p| is_root(p))
    {
        return Some(r.to_owned());
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"));
    built.ancestors().find(|p| is_root(p)).map(Path::to_owned)
}

/// The Python virtual environment for PyPI peers (aiocoap): HILT_VENV, else
/// `$HOME/.cache/hilt/venv` — outside the checkout, so every checkout shares one and
/// nothing of it is committed. `ci/setup` follows the same rule.
pub fn python_venv() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("HILT_VENV").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(v));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(Path::new(&home).join(".cache/hilt/venv"))
}
