//! The certification report (`certificate.json`, `certificate.html`): a device judged
//! against a profile, with a digest a customer can check.
//!
//! The JSON names the device (from its file, with the firmware's SHA-256 when given),
//! the profile and its version, hilt's version and the date, every verdict with the
//! SHA-256 of the pcapng holding its packets, the coverage of the profile's client
//! statements, and the overall result. Its `digest` is `sha256:` and the SHA-256 of
//! the document's canonical form: the JSON without its `digest` member, object keys
//! sorted, no whitespace ([`canonical_json`]). Changing any byte of what the document
//! says changes the digest; `hilt certify --verify` recomputes it and the trace hashes.

use std::collections::BTreeMap;
use std::path::Path;

use hilt_core::event::Counts;
use hilt_core::{RunResults, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{ReportError, write_atomically};

/// Bumped on any change a reader of an older certificate would misread.
pub const CERTIFICATE_SCHEMA: &str = "hilt.certificate/1";

const TEMPLATE: &str = include_str!("../templates/certificate.html.tera");

/// The overall result, decided from the verdicts alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every test that applies passed.
    Certified,
    /// Every test that applies passed, except failures the device's file lists as
    /// known deviations, with their reasons.
    CertifiedWithDeviations,
    /// The device broke a rule its file does not list.
    NotCertified,
    /// Some tests could not judge (an error, an inconclusive run), or none passed.
    Incomplete,
}

impl Outcome {
    pub fn decide(c: &Counts) -> Outcome {
        if c.fail > 0 {
            Outcome::NotCertified
        } else if c.error > 0 || c.inconclusive > 0 || c.pass + c.flaky + c.xfail == 0 {
            Outcome::Incomplete
        } else if c.xfail > 0 {
            Outcome::CertifiedWithDeviations
        } else {
            Outcome::Certified
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Outcome::Certified => "certified",
            Outcome::CertifiedWithDeviations => "certified with listed deviations",
            Outcome::NotCertified => "not certified",
            Outcome::Incomplete => "incomplete",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileId {
    pub name: String,
    pub title: String,
    pub version: String,
    /// SHA-256 of the profile file as read.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceId {
    pub name: String,
    pub description: String,
    /// What the device's version command printed, when its file gives one.
    pub version: Option<String>,
    /// SHA-256 of the device file, when the device came from one.
    pub file_sha256: Option<String>,
    /// The command template, when the device was given by `--device-cmd`.
    pub command: Option<String>,
    /// SHA-256 of the firmware image it runs, when one was given.
    pub firmware_sha256: Option<String>,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedVerdict {
    pub test: String,
    pub title: String,
    pub verdict: Verdict,
    /// The statement broken, for a failure.
    pub rule: Option<String>,
    pub message: Option<String>,
    /// The device file's reason, for an expected failure.
    pub deviation: Option<String>,
    /// Statement ids the test checks.
    pub covers: Vec<String>,
    /// The pcapng of the test's traffic, relative to the certificate's folder.
    pub pcap: Option<String>,
    pub pcap_sha256: Option<String>,
}

/// One client statement of the profile's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementRow {
    pub id: String,
    pub binds: String,
    pub level: String,
    pub summary: String,
    pub tests: Vec<String>,
    /// The worst verdict of its tests (`none` when no test covers it).
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientCoverage {
    pub doc: String,
    pub title: String,
    /// The `binds` values counted as the client's.
    pub binds: Vec<String>,
    pub statements: usize,
    pub covered: usize,
    /// Covered, and every covering test passed.
    pub passed: usize,
    pub rows: Vec<StatementRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    pub schema: String,
    pub result: Outcome,
    pub profile: ProfileId,
    pub device: DeviceId,
    pub hilt_version: String,
    /// When the run finished (RFC 3339, UTC).
    pub date: String,
    pub run_id: String,
    pub counts: Counts,
    pub verdicts: Vec<CertifiedVerdict>,
    pub coverage: ClientCoverage,
    /// `sha256:` and the SHA-256 of [`canonical_json`] of everything else.
    pub digest: String,
}

/// A manifest statement, as the certificate needs it.
#[derive(Debug, Clone)]
pub struct ClientStatement {
    pub id: String,
    pub binds: String,
    pub level: String,
    pub summary: String,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 6,
        Verdict::Error => 5,
        Verdict::Inconclusive => 4,
        Verdict::Xfail => 3,
        Verdict::Flaky => 2,
        Verdict::Pass => 1,
        Verdict::Skip => 0,
    }
}

impl Certificate {
    /// The certificate of `results` (one device's run of `profile`), with the pcapng
    /// files hashed from `run_dir`, coverage counted over `statements` (the profile's
    /// client statements of `doc`), and its digest.
    #[expect(
        clippy::too_many_arguments,
        reason = "one value per section of the document"
    )]
    pub fn build(
        results: &RunResults,
        profile: ProfileId,
        device: DeviceId,
        doc: &str,
        doc_title: &str,
        binds: &[String],
        statements: &[ClientStatement],
        run_dir: &Path,
    ) -> Certificate {
        let verdicts: Vec<CertifiedVerdict> = results
            .results
            .iter()
            .map(|r| CertifiedVerdict {
                test: r.test.to_string(),
                title: r.title.clone(),
                verdict: r.verdict,
                rule: r.rule.as_ref().map(|s| format!("{} {}", s.doc, s.id)),
                message: r.message.clone(),
                deviation: r.deviation.clone(),
                covers: r
                    .covers
                    .iter()
                    .filter(|s| s.doc == doc)
                    .map(|s| s.id.clone())
                    .collect(),
                pcap: r.pcap.clone(),
                pcap_sha256: r
                    .pcap
                    .as_ref()
                    .and_then(|p| std::fs::read(run_dir.join(p)).ok())
                    .map(|b| sha256_hex(&b)),
            })
            .collect();
        let mut by_statement: BTreeMap<&str, Vec<&CertifiedVerdict>> = BTreeMap::new();
        for v in &verdicts {
            for id in &v.covers {
                by_statement.entry(id.as_str()).or_default().push(v);
            }
        }
        let rows: Vec<StatementRow> = statements
            .iter()
            .map(|s| {
                let tests = by_statement.get(s.id.as_str()).cloned().unwrap_or_default();
                let worst = tests
                    .iter()
                    .map(|t| t.verdict)
                    .filter(|v| *v != Verdict::Skip)
                    .max_by_key(|v| rank(*v));
                StatementRow {
                    id: s.id.clone(),
                    binds: s.binds.clone(),
                    level: s.level.clone(),
                    summary: s.summary.clone(),
                    tests: tests.iter().map(|t| t.test.clone()).collect(),
                    status: match (tests.is_empty(), worst) {
                        (true, _) => "none".into(),
                        (false, None) => "skip".into(),
                        (false, Some(v)) => v.to_string(),
                    },
                }
            })
            .collect();
        let covered = rows.iter().filter(|r| !r.tests.is_empty()).count();
        let passed = rows
            .iter()
            .filter(|r| matches!(r.status.as_str(), "pass" | "flaky"))
            .count();
        let mut c = Certificate {
            schema: CERTIFICATE_SCHEMA.to_owned(),
            result: Outcome::decide(&results.counts),
            profile,
            device,
            hilt_version: results.hilt_version.clone(),
            date: results.finished.to_rfc3339(),
            run_id: results.run_id.clone(),
            counts: results.counts,
            verdicts,
            coverage: ClientCoverage {
                doc: doc.to_owned(),
                title: doc_title.to_owned(),
                binds: binds.to_vec(),
                statements: rows.len(),
                covered,
                passed,
                rows,
            },
            digest: String::new(),
        };
        c.digest = c.compute_digest();
        c
    }

    /// The digest of this document as it stands (its `digest` field left out).
    pub fn compute_digest(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        digest_of_value(&mut v)
    }
}

fn digest_of_value(v: &mut Value) -> String {
    if let Value::Object(m) = v {
        m.remove("digest");
    }
    format!("sha256:{}", sha256_hex(canonical_json(v).as_bytes()))
}

/// `v` as JSON with object keys sorted and no whitespace: the form the digest is
/// taken of (`jq -cS 'del(.digest)'` prints the same text).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&m[*k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What checking a certificate found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The digest the document states, and the one its content gives.
    pub stated: String,
    pub computed: String,
    /// Traces whose SHA-256 differs from the document's (relative paths).
    pub traces_changed: Vec<String>,
    /// Traces the document names that are not beside it (not an error: a customer
    /// may get the JSON alone).
    pub traces_missing: Vec<String>,
    pub traces_checked: usize,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.stated == self.computed && self.traces_changed.is_empty()
    }
}

/// Checks the certificate at `path`: its digest against its content (read as plain
/// JSON, so a field this version of hilt does not know still counts), and every
/// pcapng beside it against the hash the document gives.
pub fn verify(path: &Path) -> Result<Verification, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut v: Value = serde_json::from_str(&text).map_err(|e| ReportError::Read {
        path: path.display().to_string(),
        message: format!("not JSON: {e}"),
    })?;
    let stated = v
        .get("digest")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out = Verification {
        stated,
        computed: String::new(),
        traces_changed: Vec::new(),
        traces_missing: Vec::new(),
        traces_checked: 0,
    };
    if let Some(verdicts) = v.get("verdicts").and_then(Value::as_array) {
        for t in verdicts {
            let (Some(pcap), Some(want)) = (
                t.get("pcap").and_then(Value::as_str),
                t.get("pcap_sha256").and_then(Value::as_str),
            ) else {
                continue;
            };
            match std::fs::read(dir.join(pcap)) {
                Ok(bytes) => {
                    out.traces_checked += 1;
                    if sha256_hex(&bytes) != want {
                        out.traces_changed.push(pcap.to_owned());
                    }
                }
                Err(_) => out.traces_missing.push(pcap.to_owned()),
            }
        }
    }
    out.computed = digest_of_value(&mut v);
    Ok(out)
}

pub fn write_json(path: &Path, c: &Certificate) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(c).map_err(|e| ReportError::Render {
        what: "the certificate JSON".into(),
        message: e.to_string(),
    })?;
    write_atomically(path, text.as_bytes())
}

/// The certificate as a self-contained page; `report` is the run's full report (the
/// decoded packets of every verdict), linked per test.
pub fn render_html(c: &Certificate, report: &str) -> Result<String, ReportError> {
    let mut ctx = tera::Context::new();
    ctx.insert("c", c);
    ctx.insert("result_words", c.result.words());
    ctx.insert("report", report);
    let mut tera = tera::Tera::default();
    tera.add_raw_template("certificate.html", TEMPLATE)
        .map_err(|e| ReportError::Render {
            what: "the certificate template".into(),
            message: format!("{e:?}"),
        })?;
    tera.render("certificate.html", &ctx)
        .map_err(|e| ReportError::Render {
            what: "the certificate page".into(),
            message: format!("{e:?}"),
        })
}

pub fn write_html(path: &Path, c: &Certificate, report: &str) -> Result<(), ReportError> {
    write_atomically(path, render_html(c, report)?.as_bytes())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn canonical_form_sorts_keys_and_drops_whitespace() {
        let v: Value =
            serde_json::from_str(r#"{"b": [1, {"z": "é\n", "a": null}], "a": true}"#).unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"a":true,"b":[1,{"a":null,"z":"é\n"}]}"#
        );
    }

    #[test]
    fn an_edit_changes_the_digest() {
        let mut v: Value =
            serde_json::from_str(r#"{"result": "certified", "digest": "x"}"#).unwrap();
        let first = digest_of_value(&mut v.clone());
        assert_eq!(first, digest_of_value(&mut v.clone()), "stable");
        v["result"] = Value::from("not-certified");
        assert_ne!(first, digest_of_value(&mut v), "an edit shows");
    }

    #[test]
    fn the_outcome_follows_the_verdicts() {
        let c = |pass, fail, xfail, error| Counts {
            pass,
            fail,
            xfail,
            error,
            ..Counts::default()
        };
        assert_eq!(Outcome::decide(&c(3, 0, 0, 0)), Outcome::Certified);
        assert_eq!(
            Outcome::decide(&c(3, 0, 1, 0)),
            Outcome::CertifiedWithDeviations
        );
        assert_eq!(Outcome::decide(&c(3, 1, 1, 0)), Outcome::NotCertified);
        assert_eq!(Outcome::decide(&c(3, 0, 0, 1)), Outcome::Incomplete);
        assert_eq!(Outcome::decide(&c(0, 0, 0, 0)), Outcome::Incomplete);
    }
}
