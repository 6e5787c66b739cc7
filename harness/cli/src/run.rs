//! `hilt run`: select tests, start targets, run, report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use hilt_core::plan::{Plan, Selector};
use hilt_core::run::RESULTS_SCHEMA;
use hilt_core::target::{Launch, Service, TargetFile};
use hilt_core::{Event, RunResults, Verdict};
use hilt_peers::Backend;
use hilt_reports::{eventlog::EventLog, terminal::Terminal};
use hilt_runner::{RunConfig, TargetRequest};
use tokio_util::sync::CancellationToken;

use crate::args::{BackendArg, RunArgs};
use crate::exit::{ExitCode, usage};
use crate::locate;

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let registry = hilt_suites::registry();
    let mut plan = match &args.plan {
        Some(p) => Plan::load(p)?,
        None => Plan::default(),
    };
    for s in &args.suites {
        if registry.suite(s).is_none() {
            let known: Vec<&str> = registry.suites.iter().map(|s| s.name).collect();
            return Err(usage(format!(
                "no suite named `{s}`; known suites: {}",
                known.join(", ")
            )));
        }
        plan.select.push(Selector {
            suite: Some(s.clone()),
            ..Selector::default()
        });
    }
    if plan.select.is_empty() && args.plan.is_none() && args.select.is_empty() {
        return Err(usage(
            "say what to run: --suite NAME, --plan FILE or --select GLOB (see `hilt list suites`)",
        ));
    }
    let mut tests = registry.select(&plan);
    if !args.select.is_empty() {
        // --select narrows whatever the plan and --suite chose.
        let mut globs = Vec::new();
        for g in &args.select {
            let glob = globset::Glob::new(g).map_err(|e| usage(format!("--select `{g}`: {e}")))?;
            globs.push(glob.compile_matcher());
        }
        tests.retain(|(_, c)| globs.iter().any(|m| m.is_match(c.id.as_str())));
    }
    run_selected(args, plan, tests).await
}

/// The targets named by the selected suites' own plans (`suites/plans/<suite>.yaml`):
/// the default when no target is given, for suites whose peers hilt itself provides
/// (`rpl` runs against hilt's RPL node and root).
fn suites_own_targets(
    tests: &[(Arc<hilt_runner::Suite>, hilt_runner::TestCase)],
) -> anyhow::Result<Vec<String>> {
    let Some(root) = locate::root() else {
        return Ok(Vec::new());
    };
    let mut suites: Vec<&str> = tests.iter().map(|(s, _)| s.name).collect();
    suites.dedup();
    let mut names: Vec<String> = Vec::new();
    for suite in suites {
        let path = root.join("suites/plans").join(format!("{suite}.yaml"));
        if !path.is_file() {
            continue;
        }
        for t in Plan::load(&path)?.targets {
            if !names.contains(&t) {
                names.push(t);
            }
        }
    }
    Ok(names)
}

async fn run_selected(
    args: RunArgs,
    plan: Plan,
    tests: Vec<(Arc<hilt_runner::Suite>, hilt_runner::TestCase)>,
) -> anyhow::Result<ExitCode> {
    if tests.is_empty() {
        eprintln!("hilt: the selection matched no test (see `hilt list tests`)");
        return Ok(ExitCode::NothingSelected);
    }
    let target_names = if !args.targets.is_empty() {
        args.targets.clone()
    } else if !plan.targets.is_empty() {
        plan.targets.clone()
    } else {
        suites_own_targets(&tests)?
    };
    if target_names.is_empty() {
        return Err(usage(
            "name a target: --target mosquitto (see `hilt list targets`)",
        ));
    }
    let mut targets = Vec::new();
    for name in &target_names {
        let file = if name == "external" {
            external_target(&args, &tests)?
        } else {
            locate::target(name)?
        };
        targets.push(file);
    }
    let opts = Execution {
        jobs: args.jobs.or(plan.jobs).unwrap_or(8),
        retries: args.retries.unwrap_or(plan.retries),
        out: args.out.clone(),
        backend: args.backend,
        controls: args.controls,
        no_color: args.no_color,
    };
    let (results, _) = execute(tests, targets, &opts).await?;
    Ok(exit_code(&results))
}

/// How to run a selection: what `hilt run` and `hilt certify` share.
#[derive(Debug, Clone)]
pub(crate) struct Execution {
    pub jobs: usize,
    pub retries: u32,
    /// The run folder (default: hilt-out/RUN_ID).
    pub out: Option<PathBuf>,
    pub backend: BackendArg,
    pub controls: bool,
    pub no_color: bool,
}

/// Runs `tests` against `targets` and writes the run folder (event log, results JSON,
/// JUnit XML, pcapng traces, HTML report); returns the results and the folder.
pub(crate) async fn execute(
    tests: Vec<(Arc<hilt_runner::Suite>, hilt_runner::TestCase)>,
    targets: Vec<TargetFile>,
    opts: &Execution,
) -> anyhow::Result<(RunResults, PathBuf)> {
    let targets: Vec<TargetRequest> = targets
        .into_iter()
        .map(|file| TargetRequest { file })
        .collect();
    let run_id = run_id();
    let run_dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("hilt-out").join(&run_id));
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("failed to create the run folder {}", run_dir.display()))?;
    let run_dir = run_dir.canonicalize().unwrap_or(run_dir);

    hilt_peers::install_cleanup_handlers();
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\nhilt: interrupted — stopping targets and writing partial results (Ctrl-C again to abort)"
                );
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    hilt_peers::kill_all_launched();
                    std::process::exit(ExitCode::Interrupted as i32);
                }
            }
        });
    }

    let log = EventLog::create(&run_dir.join("events.jsonl"))?;
    let terminal = Terminal::new(!opts.no_color);
    let reporters = Arc::new((log, terminal));
    let sink: hilt_runner::EventSink = {
        let reporters = Arc::clone(&reporters);
        Arc::new(move |e: &Event| {
            reporters.0.append(e);
            reporters.1.on_event(e);
        })
    };
    let invocation = std::env::args().collect::<Vec<_>>().join(" ");
    let cfg = RunConfig {
        run_id: run_id.clone(),
        run_dir: run_dir.clone(),
        jobs: opts.jobs,
        retries: opts.retries,
        controls: opts.controls,
        backend: match opts.backend {
            BackendArg::Auto => Backend::Auto,
            BackendArg::Process => Backend::Process,
            BackendArg::Container => Backend::Container,
        },
        invocation: invocation.clone(),
        cancel: cancel.clone(),
    };
    let coverage = hilt_suites::coverage(tests.iter().map(|(_, c)| c));
    let out = hilt_runner::run(tests, targets, cfg, sink).await;
    let results = RunResults {
        schema: RESULTS_SCHEMA.to_owned(),
        run_id,
        hilt_version: env!("CARGO_PKG_VERSION").to_owned(),
        invocation,
        started: out.started,
        finished: out.finished,
        interrupted: out.interrupted,
        controls: opts.controls,
        counts: out.counts,
        targets: out.targets,
        results: out.results,
        coverage,
        environment: environment(),
    };
    hilt_reports::json::write(&run_dir.join("results.json"), &results)?;
    hilt_reports::junit::write(&run_dir.join("junit.xml"), &results)?;
    hilt_reports::html::write(&run_dir.join("report.html"), &results)?;
    reporters.1.finish(&results, &run_dir);
    println!("{}", run_dir.join("report.html").display());
    Ok((results, run_dir))
}

pub(crate) fn exit_code(results: &RunResults) -> ExitCode {
    if results.interrupted {
        return ExitCode::Interrupted;
    }
    let c = &results.counts;
    if results.controls {
        // Every control must make its test fail; anything else means a test that
        // cannot fail (or a control that could not run). A test skipped because the
        // target lacks what it needs never ran, so there was nothing to control.
        let not_failed = results
            .results
            .iter()
            .filter(|r| !matches!(r.verdict, Verdict::Fail | Verdict::Skip))
            .count();
        return if not_failed == 0 {
            ExitCode::Ok
        } else {
            ExitCode::TestsFailed
        };
    }
    if c.fail > 0 {
        ExitCode::TestsFailed
    } else if c.error > 0 || c.inconclusive > 0 {
        ExitCode::Infrastructure
    } else {
        ExitCode::Ok
    }
}

fn external_target(
    args: &RunArgs,
    tests: &[(Arc<hilt_runner::Suite>, hilt_runner::TestCase)],
) -> anyhow::Result<TargetFile> {
    if args.url.is_empty() {
        return Err(usage(
            "--target external needs --url, e.g. --url mqtt://127.0.0.1:1883",
        ));
    }
    let mut serves = BTreeMap::new();
    let mut urls = BTreeMap::new();
    for u in &args.url {
        let Some((scheme, _)) = u.split_once("://") else {
            return Err(usage(format!(
                "--url `{u}`: expected SCHEME://HOST:PORT, e.g. mqtt://127.0.0.1:1883"
            )));
        };
        serves.insert(
            scheme.to_owned(),
            Service {
                port: scheme.to_owned(),
                versions: Vec::new(),
            },
        );
        urls.insert(scheme.to_owned(), u.clone());
    }
    let capabilities = match &args.capabilities {
        Some(c) => c.iter().cloned().collect(),
        None => tests
            .iter()
            .flat_map(|(_, c)| c.needs.iter().map(|n| n.to_string()))
            .collect(),
    };
    let t = TargetFile {
        name: "external".into(),
        description: format!("external target at {}", args.url.join(", ")),
        serves,
        capabilities,
        launch: Launch {
            external: Some(urls),
            ..Launch::default()
        },
        device: None,
        timing: Default::default(),
        deviations: Vec::new(),
    };
    t.check().map_err(usage)?;
    Ok(t)
}

/// Sortable and unique enough: UTC time plus a few bits of the clock's nanoseconds.
pub(crate) fn run_id() -> String {
    let now = hilt_runner::run::now();
    let s = now.to_rfc3339();
    let compact: String = s[..19].chars().filter(|c| c.is_ascii_digit()).collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{:04x}",
        &compact[..8],
        &compact[8..],
        (nanos ^ std::process::id()) & 0xffff
    )
}

pub(crate) fn environment() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert(
        "cores".into(),
        std::thread::available_parallelism()
            .map(|n| n.to_string())
            .unwrap_or_default(),
    );
    if let Ok(k) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        env.insert("kernel".into(), k.trim().to_owned());
    }
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        env.insert("host".into(), h.trim().to_owned());
    }
    env.insert("os".into(), std::env::consts::OS.to_owned());
    env.insert("arch".into(), std::env::consts::ARCH.to_owned());
    env
}
