//! `hilt certify`: a device judged against a certification profile, and the
//! certificate that says so; `hilt certify --verify` checks one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hilt_core::profile::Profile;
use hilt_core::target::{Device, DeviceCommand, TargetFile, Timing};
use hilt_reports::certificate::{
    self, Certificate, ClientStatement, DeviceId, ProfileId, sha256_hex,
};

use crate::args::{BackendArg, CertifyArgs};
use crate::exit::{ExitCode, usage};
use crate::locate;
use crate::run::{Execution, execute, exit_code};

/// The stimulus a `--device-cmd` command serves: the device connects and acts on its
/// own (the suites' `connect`).
const DEVICE_CMD_STIMULUS: &str = "connect";

pub async fn certify(args: CertifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.verify {
        return verify(path);
    }
    let profile_path = profile_path(args.profile.as_deref().unwrap_or_default())?;
    let profile_bytes = std::fs::read(&profile_path)
        .with_context(|| format!("failed to read {}", profile_path.display()))?;
    let profile = Profile::load(&profile_path)?;
    let (device, device_file_sha) = match (&args.device, &args.device_cmd) {
        (Some(d), _) => {
            let file = locate::target(d)?;
            let sha = locate::target_path(d)
                .and_then(|p| std::fs::read(p).ok())
                .map(|b| sha256_hex(&b));
            (file, sha)
        }
        (None, Some(cmd)) => (command_device(&profile, cmd, &args.capabilities), None),
        (None, None) => return Err(usage("give --device FILE or --device-cmd TEMPLATE")),
    };
    check_speaks(&device, &profile)?;
    let firmware_sha256 = match &args.firmware {
        Some(f) => {
            Some(sha256_hex(&std::fs::read(f).with_context(|| {
                format!("failed to read {}", f.display())
            })?))
        }
        None => None,
    };

    let tests = hilt_suites::registry().select(&profile.plan());
    if tests.is_empty() {
        eprintln!(
            "hilt: profile `{}` selects no test (see `hilt list tests`)",
            profile.name
        );
        return Ok(ExitCode::NothingSelected);
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("hilt-out").join(format!(
            "cert-{}-{}-{}",
            profile.name,
            device.name,
            crate::run::run_id()
        ))
    });
    let opts = Execution {
        jobs: args.jobs,
        retries: args.retries,
        out: Some(out),
        backend: BackendArg::Auto,
        controls: false,
        no_color: args.no_color,
    };
    let capabilities: Vec<String> = device
        .capabilities
        .0
        .iter()
        .map(|c| c.to_string())
        .collect();
    let description = device.description.clone();
    let device_name = device.name.clone();
    let (results, run_dir) = execute(tests, vec![device], &opts).await?;

    let manifest = hilt_suites::manifest::all()
        .into_iter()
        .find(|m| m.doc == profile.spec)
        .ok_or_else(|| {
            usage(format!(
                "profile `{}`: no statement manifest `{}` in suites/spec",
                profile.name, profile.spec
            ))
        })?;
    let statements: Vec<ClientStatement> = manifest
        .statements
        .iter()
        .filter(|s| profile.binds.contains(&s.binds))
        .map(|s| ClientStatement {
            id: s.id.clone(),
            binds: s.binds.clone(),
            level: s.level.clone(),
            summary: s.summary.clone(),
        })
        .collect();
    let cert = Certificate::build(
        &results,
        ProfileId {
            name: profile.name.clone(),
            title: profile.title.clone(),
            version: profile.version.clone(),
            sha256: sha256_hex(&profile_bytes),
        },
        DeviceId {
            name: device_name,
            description,
            version: results.targets.first().and_then(|t| t.version.clone()),
            file_sha256: device_file_sha,
            command: args.device_cmd.clone(),
            firmware_sha256,
            capabilities,
        },
        &manifest.doc,
        &manifest.title,
        &profile.binds,
        &statements,
        &run_dir,
    );
    certificate::write_json(&run_dir.join("certificate.json"), &cert)?;
    certificate::write_html(&run_dir.join("certificate.html"), &cert, "report.html")?;
    println!(
        "{}: {} — {} of {} client statements covered; digest {}",
        cert.device.name,
        cert.result.words(),
        cert.coverage.covered,
        cert.coverage.statements,
        cert.digest
    );
    println!("{}", run_dir.join("certificate.html").display());
    Ok(exit_code(&results))
}

/// `--profile` as a path, or a name under suites/cert.
fn profile_path(spec: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(spec);
    if p.is_file() {
        return Ok(p.to_owned());
    }
    if let Some(root) = locate::root() {
        let named = root.join("suites/cert").join(format!("{spec}.yaml"));
        if named.is_file() {
            return Ok(named);
        }
    }
    Err(usage(format!(
        "no profile `{spec}`: give a file, or a name of suites/cert/*.yaml (mqtt-client-v311, mqtt-client-v5)"
    )))
}

/// A device given as one command template: it speaks the profile's protocol version
/// and declares the profile's capabilities (and `extra`).
fn command_device(profile: &Profile, template: &str, extra: &[String]) -> TargetFile {
    let command = DeviceCommand {
        program: "sh".into(),
        args: vec!["-c".into(), template.to_owned()],
        env: BTreeMap::new(),
    };
    TargetFile {
        name: "device-cmd".into(),
        description: format!("the command `{template}`"),
        serves: BTreeMap::new(),
        capabilities: profile.capabilities.iter().chain(extra).cloned().collect(),
        launch: Default::default(),
        device: Some(Device {
            speaks: BTreeMap::from([(
                profile.protocol.clone(),
                vec![profile.protocol_version.clone()],
            )]),
            commands: BTreeMap::from([(DEVICE_CMD_STIMULUS.to_owned(), command)]),
            version: None,
        }),
        timing: Timing::default(),
        deviations: Vec::new(),
    }
}

fn check_speaks(device: &TargetFile, profile: &Profile) -> anyhow::Result<()> {
    let versions = device
        .device
        .as_ref()
        .and_then(|d| d.speaks.get(&profile.protocol));
    match versions {
        Some(v) if v.contains(&profile.protocol_version) => Ok(()),
        Some(v) => Err(usage(format!(
            "device `{}` speaks {} {}, not {} (profile `{}`)",
            device.name,
            profile.protocol,
            v.join(", "),
            profile.protocol_version,
            profile.name
        ))),
        None => Err(usage(format!(
            "`{}` is not a device that speaks {} as a client (its file has no `device.speaks.{}`)",
            device.name, profile.protocol, profile.protocol
        ))),
    }
}

fn verify(path: &Path) -> anyhow::Result<ExitCode> {
    let v = certificate::verify(path)?;
    if v.stated == v.computed {
        println!("digest matches: {}", v.computed);
    } else {
        println!(
            "digest MISMATCH: the certificate states {}, its content gives {}: it was edited",
            if v.stated.is_empty() {
                "none"
            } else {
                &v.stated
            },
            v.computed
        );
    }
    println!(
        "traces: {} checked, {} changed, {} not beside the certificate",
        v.traces_checked,
        v.traces_changed.len(),
        v.traces_missing.len()
    );
    for t in &v.traces_changed {
        println!("  changed: {t}");
    }
    Ok(if v.ok() {
        ExitCode::Ok
    } else {
        ExitCode::TestsFailed
    })
}
