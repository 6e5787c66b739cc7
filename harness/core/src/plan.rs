//! The schema of plan files (`suites/plans/*.yaml`): which tests, against what, how.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::datafile::{DataFileError, read_yaml};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A test is selected when any selector matches it (all tests when empty).
    #[serde(default)]
    pub select: Vec<Selector>,
    /// …and no exclude selector matches it.
    #[serde(default)]
    pub exclude: Vec<Selector>,
    /// Targets to run against when the command line names none.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Extra attempts for a failing test; a later pass makes it `flaky`.
    #[serde(default)]
    pub retries: u32,
    /// Tests run concurrently per target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<usize>,
}

/// Matches a test when every field given matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// A glob over test ids: `mqtt.v5.connect.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// What a selector is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Selectable<'a> {
    pub id: &'a str,
    pub suite: &'a str,
    pub tags: &'a [&'a str],
}

impl Selector {
    pub fn matches(&self, t: &Selectable<'_>) -> bool {
        let id_ok = self.id.as_deref().is_none_or(|g| {
            globset::Glob::new(g)
                .map(|g| g.compile_matcher().is_match(t.id))
                .unwrap_or(false)
        });
        let suite_ok = self.suite.as_deref().is_none_or(|s| s == t.suite);
        let tag_ok = self.tag.as_deref().is_none_or(|tag| t.tags.contains(&tag));
        id_ok && suite_ok && tag_ok
    }
}

impl Plan {
    pub fn load(path: &Path) -> Result<Self, DataFileError> {
        let plan: Plan = read_yaml(path)?;
        Plan::load_selection(path, &plan.select, &plan.exclude)?;
        Ok(plan)
    }

    /// Checks the id globs of a selection read from `path` (a plan's, or a profile's).
    pub(crate) fn load_selection(
        path: &Path,
        select: &[Selector],
        exclude: &[Selector],
    ) -> Result<(), DataFileError> {
        for s in select.iter().chain(exclude) {
            if let Some(g) = &s.id {
                globset::Glob::new(g).map_err(|e| DataFileError {
                    path: path.to_owned(),
                    line: None,
                    message: format!("bad id glob `{g}`: {e}"),
                })?;
            }
        }
        Ok(())
    }

    pub fn selects(&self, t: &Selectable<'_>) -> bool {
        let selected = self.select.is_empty() || self.select.iter().any(|s| s.matches(t));
        selected && !self.exclude.iter().any(|s| s.matches(t))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn select_and_exclude() {
        let plan: Plan = crate::datafile::parse_yaml(
            Path::new("p.yaml"),
            "select:\n  - id: 'mqtt.v5.*'\n  - tag: retain\nexclude:\n  - id: '*.slow'\n",
        )
        .unwrap();
        let t = |id, tags| Selectable {
            id,
            suite: "mqtt",
            tags,
        };
        assert!(plan.selects(&t("mqtt.v5.connect.a", &[])));
        assert!(plan.selects(&t("mqtt.v311.x", &["retain"])));
        assert!(!plan.selects(&t("mqtt.v311.x", &[])));
        assert!(!plan.selects(&t("mqtt.v5.x.slow", &[])));
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = crate::datafile::parse_yaml::<Plan>(
            Path::new("plans/bad.yaml"),
            "name: x\nretries: many\n",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().starts_with("plans/bad.yaml:2: "), "{err}");
    }
}
