//! The schema of certification profiles (`suites/cert/*.yaml`): which tests a device
//! must pass to be certified for one version of a protocol, under a name and a version
//! a certificate cites.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::datafile::{DataFileError, read_yaml};
use crate::plan::{Plan, Selector};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub title: String,
    /// The profile's own version: bumped whenever its selection or its tests' verdict
    /// rules change, so two certificates of one version judged the same things.
    pub version: String,
    #[serde(default)]
    pub description: String,
    /// The protocol the device speaks as a client (a key of a device file's `speaks`).
    pub protocol: String,
    /// The protocol version the device must speak (listed in its `speaks`).
    pub protocol_version: String,
    /// Capabilities a device given by `--device-cmd` declares.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The statement manifest (`suites/spec`) whose client statements the certificate
    /// counts coverage against, and the `binds` values that make a statement the
    /// client's.
    pub spec: String,
    #[serde(default = "client_binds")]
    pub binds: Vec<String>,
    /// A test is in the profile when a selector matches it and no exclude selector does.
    pub select: Vec<Selector>,
    #[serde(default)]
    pub exclude: Vec<Selector>,
}

fn client_binds() -> Vec<String> {
    ["client", "both", "sender", "receiver"]
        .map(String::from)
        .to_vec()
}

impl Profile {
    pub fn load(path: &Path) -> Result<Self, DataFileError> {
        let p: Profile = read_yaml(path)?;
        if p.select.is_empty() {
            return Err(DataFileError {
                path: path.to_owned(),
                line: None,
                message: "select: a profile selects at least one test".into(),
            });
        }
        // The selection's globs are checked the way a plan's are.
        Plan::load_selection(path, &p.select, &p.exclude)?;
        Ok(p)
    }

    /// The profile's selection as a plan.
    pub fn plan(&self) -> Plan {
        Plan {
            name: self.name.clone(),
            description: self.description.clone(),
            select: self.select.clone(),
            exclude: self.exclude.clone(),
            ..Plan::default()
        }
    }
}
