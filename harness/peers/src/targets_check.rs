//! Every target file in `targets/` parses, passes its own checks, and has launch
//! strings whose placeholders all fill: a typo fails here, not on a lab night.

use std::path::{Path, PathBuf};

use hilt_core::target::TargetFile;

use crate::placeholder::Placeholders;

/// Capability names hilt's suites know; a target declaring another one is a typo.
const KNOWN_CAPABILITIES: &[&str] = &[
    // Of an MQTT client under certification (suites/cert): it reconnects on its own, and
    // it resumes a persistent session.
    "mqtt.client.reconnect",
    "mqtt.client.session",
    "mqtt.v3.1.1",
    "mqtt.v5",
    "mqtt.qos1",
    "mqtt.qos2",
    "mqtt.retain",
    "mqtt.will",
    "mqtt.wildcards",
    "mqtt.shared-subscriptions",
    "mqtt.topic-alias",
    "mqtt.persistence",
    "mqtt.dollar-topics",
];

fn target_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let p = e.path();
        // Rig files (their own schema, checked in hilt-rigs) and firmware sources.
        if p.ends_with("rigs") || p.ends_with("firmware") {
            continue;
        }
        if p.is_dir() {
            target_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

fn check_fills(t: &TargetFile) -> Result<(), String> {
    if let Some(p) = &t.launch.process {
        let ph = Placeholders {
            dir: "/d".into(),
            host: "127.0.0.1".into(),
            name: "n".into(),
            ports: p.ports.iter().map(|n| (n.clone(), 40000)).collect(),
        };
        let strings = p
            .args
            .iter()
            .chain(p.env.values())
            .chain(p.files.keys())
            .chain(p.files.values())
            .chain(
                p.helpers
                    .iter()
                    .flat_map(|h| h.args.iter().chain(h.env.values())),
            );
        for s in strings {
            ph.fill(s)
                .map_err(|u| format!("{{{}}}: {}", u.placeholder, u.reason))?;
        }
        let programs = std::iter::once(&p.program)
            .chain(p.helpers.iter().map(|h| &h.program))
            .chain(p.version.iter().map(|v| &v.program));
        for s in programs {
            crate::placeholder::fill_places(s)
                .map_err(|u| format!("program {{{}}}: {}", u.placeholder, u.reason))?;
        }
        for h in &p.helpers {
            if let Some(r) = h.ready_port.as_ref().filter(|r| !p.ports.contains(r)) {
                return Err(format!("helper ready_port `{r}` is not among ports"));
            }
        }
    }
    if let Some(c) = &t.launch.container {
        let host_ports = c.ports.keys().map(|k| (k.clone(), 40000)).collect();
        crate::container::plan(c, "n", &host_ports).map_err(|e| e.to_string())?;
        for (proto, svc) in &t.serves {
            if !c.ports.contains_key(&svc.port) {
                return Err(format!(
                    "serves.{proto}: port `{}` not in container.ports",
                    svc.port
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn every_target_file_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets");
    let mut files = Vec::new();
    target_files(&root, &mut files);
    assert!(files.len() >= 2, "no target files under {}", root.display());
    for f in files {
        let t = TargetFile::load(&f).unwrap_or_else(|e| panic!("{e}"));
        check_fills(&t).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for c in &t.capabilities.0 {
            if c.starts_with("mqtt.") {
                assert!(
                    KNOWN_CAPABILITIES.contains(&c.as_str()),
                    "{}: unknown capability `{c}`",
                    f.display()
                );
            }
        }
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        assert_eq!(
            t.name,
            stem,
            "{}: name differs from the file name",
            f.display()
        );
    }
}
