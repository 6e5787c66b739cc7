//! Running selected tests against targets: launching, scheduling, isolation, retries,
//! negative controls, and the events that report it all.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hilt_core::event::{Counts, TargetInfo};
use hilt_core::id::SpecRefOwned;
use hilt_core::target::TargetFile;
use hilt_core::{Event, TestResult, Timestamp, Verdict};
use hilt_net::Recorder;
use hilt_net::Transport;
use hilt_net::interposer::{Interposer, UdpInterposer};
use hilt_peers::{Backend, LaunchOptions};
use tokio::sync::{Mutex, RwLock, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::case::{Failure, Isolation, Outcome, Suite, TestCase, UnderTest};
use crate::ctx::{Ctx, CtxInner};
use crate::dissect::dissect;

/// Where every event goes as it happens (reporters fan out from here).
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub run_id: String,
    /// Folder for logs, traces and instance data of this run.
    pub run_dir: PathBuf,
    /// Tests run concurrently per target.
    pub jobs: usize,
    /// Extra attempts for a test that failed or errored.
    pub retries: u32,
    /// Judge the negative controls instead of the targets: every test runs through the
    /// interposer with its control's faults and is expected to fail.
    pub controls: bool,
    pub backend: Backend,
    pub invocation: String,
    pub cancel: CancellationToken,
}

/// A target to run against, as its file describes it.
#[derive(Debug, Clone)]
pub struct TargetRequest {
    pub file: TargetFile,
}

#[derive(Debug, Clone)]
pub struct RunOutput {
    pub started: Timestamp,
    pub finished: Timestamp,
    pub counts: Counts,
    pub targets: Vec<TargetInfo>,
    pub results: Vec<TestResult>,
    pub interrupted: bool,
}

pub fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0),
    )
}

/// Runs `tests` against every target and returns when all are done (or cancelled).
pub async fn run(
    tests: Vec<(Arc<Suite>, TestCase)>,
    targets: Vec<TargetRequest>,
    cfg: RunConfig,
    sink: EventSink,
) -> RunOutput {
    let started = now();
    sink(&Event::RunStarted {
        run_id: cfg.run_id.clone(),
        at: started,
        hilt_version: env!("CARGO_PKG_VERSION").to_owned(),
        invocation: cfg.invocation.clone(),
        planned: (tests.len() * targets.len()) as u32,
    });
    let tests = Arc::new(tests);
    let cfg = Arc::new(cfg);
    let mut per_target = JoinSet::new();
    for (index, t) in targets.into_iter().enumerate() {
        let (tests, cfg, sink) = (Arc::clone(&tests), Arc::clone(&cfg), Arc::clone(&sink));
        per_target.spawn(async move { (index, run_target(t.file, tests, cfg, sink).await) });
    }
    let mut gathered = Vec::new();
    while let Some(joined) = per_target.join_next().await {
        match joined {
            Ok(r) => gathered.push(r),
            Err(e) => tracing::error!("a target's task ended abnormally: {e}"),
        }
    }
    gathered.sort_by_key(|(i, _)| *i);
    let mut out = RunOutput {
        started,
        finished: now(),
        counts: Counts::default(),
        targets: Vec::new(),
        results: Vec::new(),
        interrupted: cfg.cancel.is_cancelled(),
    };
    for (_, (info, results)) in gathered {
        out.targets.push(info);
        for r in &results {
            out.counts.add(r.verdict);
        }
        out.results.extend(results);
    }
    sink(&Event::RunFinished {
        at: out.finished,
        counts: out.counts,
        interrupted: out.interrupted,
    });
    out
}

async fn run_target(
    target: TargetFile,
    tests: Arc<Vec<(Arc<Suite>, TestCase)>>,
    cfg: Arc<RunConfig>,
    sink: EventSink,
) -> (TargetInfo, Vec<TestResult>) {
    let name = target.name.clone();
    sink(&Event::TargetStarting {
        target: name.clone(),
        at: now(),
    });
    let opts = LaunchOptions::new(
        cfg.run_dir.clone(),
        format!("{name}-{}", &cfg.run_id[..cfg.run_id.len().min(8)]),
    )
    .with_backend(cfg.backend);
    if target.launch.is_empty() {
        // A device alone: nothing to launch; each test runs its commands.
        return run_device(target, tests, cfg, sink).await;
    }
    let running = tokio::select! {
        r = hilt_peers::launch(&target, &opts) => r,
        () = cfg.cancel.cancelled() => {
            let info = TargetInfo { name: name.clone(), ..TargetInfo::default() };
            return (info, Vec::new());
        }
    };
    let running = match running {
        Ok(r) => r,
        Err(e) => {
            let error = format!("failed to {e}");
            sink(&Event::TargetFailed {
                target: name.clone(),
                error: error.clone(),
                at: now(),
            });
            let results = tests
                .iter()
                .map(|(_, case)| {
                    let r = unrun(
                        &name,
                        case,
                        Verdict::Error,
                        format!("target `{name}` did not start: {error}"),
                    );
                    sink(&Event::TestFinished {
                        result: Box::new(r.clone()),
                    });
                    r
                })
                .collect();
            let info = TargetInfo {
                name,
                description: target.description.clone(),
                ..TargetInfo::default()
            };
            return (info, results);
        }
    };
    let info = running.info();
    sink(&Event::TargetReady {
        info: info.clone(),
        at: now(),
    });
    let mut endpoints = BTreeMap::new();
    for proto in target.serves.keys() {
        if let Some(addr) = running.endpoint_for(proto) {
            endpoints.insert(proto.clone(), addr);
        }
    }
    let jobs = target_jobs(&target, &cfg);
    let shared = Arc::new(TargetState {
        file: target,
        endpoints,
        running: Arc::new(Mutex::new(Some(running))),
        exclusivity: RwLock::new(()),
        jobs: Semaphore::new(jobs),
    });
    let results = run_cases(&shared, &tests, &cfg, &sink).await;
    let running = shared.running.lock().await.take();
    let info = match running {
        Some(r) => r.stop().await,
        None => info,
    };
    sink(&Event::TargetStopped {
        info: info.clone(),
        at: now(),
    });
    (info, results)
}

/// A device target: its identity (and version, when its file says how to ask), then
/// the tests, which start its commands themselves.
async fn run_device(
    target: TargetFile,
    tests: Arc<Vec<(Arc<Suite>, TestCase)>>,
    cfg: Arc<RunConfig>,
    sink: EventSink,
) -> (TargetInfo, Vec<TestResult>) {
    let version = match target.device.as_ref().and_then(|d| d.version.as_ref()) {
        Some(v) => hilt_peers::probe_version(v).await,
        None => None,
    };
    let info = TargetInfo {
        name: target.name.clone(),
        description: target.description.clone(),
        version,
        ..TargetInfo::default()
    };
    sink(&Event::TargetReady {
        info: info.clone(),
        at: now(),
    });
    let jobs = target_jobs(&target, &cfg);
    let shared = Arc::new(TargetState {
        file: target,
        endpoints: BTreeMap::new(),
        running: Arc::new(Mutex::new(None)),
        exclusivity: RwLock::new(()),
        jobs: Semaphore::new(jobs),
    });
    let results = run_cases(&shared, &tests, &cfg, &sink).await;
    sink(&Event::TargetStopped {
        info: info.clone(),
        at: now(),
    });
    (info, results)
}

/// How many tests run at once against `target`: the run's jobs, capped by what the
/// target's file says it can serve.
fn target_jobs(target: &TargetFile, cfg: &RunConfig) -> usize {
    let jobs = cfg.jobs.max(1);
    target
        .timing
        .parallel_tests
        .map_or(jobs, |p| jobs.min(p.max(1)))
}

/// Runs every test against one target, concurrently as its jobs allow; results in
/// registration order.
async fn run_cases(
    shared: &Arc<TargetState>,
    tests: &Arc<Vec<(Arc<Suite>, TestCase)>>,
    cfg: &Arc<RunConfig>,
    sink: &EventSink,
) -> Vec<TestResult> {
    let mut set = JoinSet::new();
    for (order, (suite, case)) in tests.iter().enumerate() {
        let (suite, case) = (Arc::clone(suite), case.clone());
        let (shared, cfg, sink) = (Arc::clone(shared), Arc::clone(cfg), Arc::clone(sink));
        set.spawn(async move { (order, run_case(&shared, &suite, &case, &cfg, &sink).await) });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => tracing::error!("a test task ended abnormally: {e}"),
        }
    }
    results.sort_by_key(|(order, _)| *order);
    results.into_iter().map(|(_, r)| r).collect()
}

struct TargetState {
    file: TargetFile,
    endpoints: BTreeMap<String, std::net::SocketAddr>,
    running: Arc<Mutex<Option<hilt_peers::Running>>>,
    /// Shared tests hold it for reading; exclusive ones for writing.
    exclusivity: RwLock<()>,
    jobs: Semaphore,
}

/// The result of a test that was not run (or not to its end) against `target`.
fn unrun(target: &str, case: &TestCase, verdict: Verdict, message: String) -> TestResult {
    TestResult {
        test: case.id.clone(),
        target: target.to_owned(),
        title: case.title.clone(),
        verdict,
        covers: case
            .covers
            .iter()
            .copied()
            .map(SpecRefOwned::from)
            .collect(),
        rule: None,
        message: Some(message),
        deviation: None,
        attempts: 0,
        started: now(),
        duration_us: 0,
        trace: Vec::new(),
        pcap: None,
    }
}

async fn run_case(
    target: &TargetState,
    suite: &Suite,
    case: &TestCase,
    cfg: &RunConfig,
    sink: &EventSink,
) -> TestResult {
    let name = target.file.name.as_str();
    let finish = |r: TestResult| {
        sink(&Event::TestFinished {
            result: Box::new(r.clone()),
        });
        r
    };
    let lacking = match suite.under_test {
        UnderTest::Server => case
            .services_or(suite.protocol)
            .into_iter()
            .find(|p| !target.file.serves.contains_key(*p)),
        UnderTest::Client => (!target.file.drives(suite.protocol)).then_some(suite.protocol),
    };
    if let Some(protocol) = lacking {
        let what = match suite.under_test {
            UnderTest::Server => "serve",
            UnderTest::Client => "speak, as a device under test,",
        };
        return finish(unrun(
            name,
            case,
            Verdict::Skip,
            format!("target does not {what} {protocol}"),
        ));
    }
    if let Some(missing) = target.file.capabilities.first_missing(&case.needs) {
        return finish(unrun(
            name,
            case,
            Verdict::Skip,
            format!("target does not declare capability `{missing}`"),
        ));
    }
    if cfg.controls && case.control.is_none() {
        return finish(unrun(
            name,
            case,
            Verdict::Error,
            "test has no negative control".into(),
        ));
    }

    let _slot = tokio::select! {
        s = target.jobs.acquire() => s,
        () = cfg.cancel.cancelled() => return finish(unrun(name, case, Verdict::Skip, "run interrupted before this test".into())),
    };
    let attempts_allowed = if cfg.controls { 1 } else { 1 + cfg.retries };
    let mut history: Vec<Verdict> = Vec::new();
    let mut last = None;
    for attempt in 1..=attempts_allowed {
        if cfg.cancel.is_cancelled() {
            break;
        }
        sink(&Event::TestStarted {
            test: case.id.to_string(),
            target: name.to_owned(),
            attempt,
            at: now(),
        });
        let r = attempt_once(target, suite, case, cfg, attempt).await;
        history.push(r.verdict);
        let again = matches!(r.verdict, Verdict::Fail | Verdict::Error);
        last = Some(r);
        if !again {
            break;
        }
    }
    let Some(mut r) = last else {
        return finish(unrun(
            name,
            case,
            Verdict::Skip,
            "run interrupted before this test".into(),
        ));
    };
    r.attempts = history.len() as u32;
    if r.verdict == Verdict::Pass && history.len() > 1 {
        r.verdict = Verdict::Flaky;
        r.message = Some(format!(
            "passed on attempt {} after {:?}",
            history.len(),
            &history[..history.len() - 1]
        ));
    }
    if !cfg.controls
        && r.verdict == Verdict::Fail
        && let Some(dev) = target.file.deviation_for(case.id.as_str())
    {
        r.verdict = Verdict::Xfail;
        r.deviation = Some(dev.reason.clone());
    }
    finish(r)
}

async fn attempt_once(
    target: &TargetState,
    suite: &Suite,
    case: &TestCase,
    cfg: &RunConfig,
    attempt: u32,
) -> TestResult {
    let _exclusive_read;
    let _exclusive_write;
    match case.isolation {
        Isolation::Shared => _exclusive_read = Some(target.exclusivity.read().await),
        Isolation::Exclusive => _exclusive_write = Some(target.exclusivity.write().await),
    }
    let recorder = Recorder::new();
    let started = now();
    let mut endpoints = target.endpoints.clone();
    // In a control run, the endpoint of the test's (interposed) service is replaced by
    // an interposer applying the control's faults in front of the real target: a TCP
    // relay, or a datagram relay for suites over UDP. The handles are held until the
    // test ends.
    let mut interposer = None;
    let mut udp_interposer = None;
    let interposed = case.interposed_service(suite.protocol);
    let interposed_port = hilt_wire::well_known_port(interposed).or(suite.well_known_port);
    if cfg.controls
        && suite.under_test == UnderTest::Server
        && let (Some(control), Some(upstream)) = (&case.control, target.endpoints.get(interposed))
    {
        let listen = "127.0.0.1:0".parse().expect("literal address");
        let started = match suite.transport {
            Transport::Tcp => Interposer::start(
                listen,
                *upstream,
                Arc::clone(&suite.framer),
                (control.rules)(),
                None,
                interposed_port,
            )
            .await
            .map(|h| {
                let a = h.local_addr();
                interposer = Some(h);
                a
            }),
            Transport::Udp => UdpInterposer::start(
                listen,
                *upstream,
                Arc::clone(&suite.framer),
                (control.rules)(),
                None,
                interposed_port,
            )
            .await
            .map(|h| {
                let a = h.local_addr();
                udp_interposer = Some(h);
                a
            }),
            // Link-level suites judge devices and apply their controls themselves.
            Transport::Ipv6Link => Err(std::io::Error::other(
                "no interposer for IPv6 links: the suite applies its own controls",
            )),
        };
        match started {
            Ok(addr) => {
                endpoints.insert(interposed.to_owned(), addr);
            }
            Err(e) => {
                let mut r = unrun(
                    &target.file.name,
                    case,
                    Verdict::Error,
                    format!("failed to start the interposer: {e}"),
                );
                r.attempts = attempt;
                return r;
            }
        }
    }
    let ctx = Ctx {
        inner: Arc::new(CtxInner {
            test_id: case.id.to_string(),
            target_name: target.file.name.clone(),
            recorder: recorder.clone(),
            endpoints,
            capabilities: target.file.capabilities.clone(),
            response: Duration::from_millis(target.file.timing.response_ms),
            token: token(&cfg.run_id, case.id.as_str(), &target.file.name, attempt),
            well_known_port: suite.well_known_port,
            isolation: case.isolation,
            target: Arc::clone(&target.running),
            device: target.file.device.clone(),
            control: match suite.under_test {
                UnderTest::Client if cfg.controls => case.control.clone(),
                _ => None,
            },
            notes: std::sync::Mutex::default(),
        }),
    };
    let kept = ctx.clone();
    let body = Arc::clone(&case.body);
    let task = tokio::spawn(async move { body(ctx).await });
    let abort = task.abort_handle();
    let outcome: Outcome = tokio::select! {
        r = tokio::time::timeout(case.timeout, task) => match r {
            Ok(Ok(o)) => o,
            Ok(Err(join)) if join.is_panic() => Err(Failure::error(format!("the test panicked: {}", panic_message(join)))),
            Ok(Err(join)) => Err(Failure::error(format!("the test task ended: {join}"))),
            Err(_) => {
                abort.abort();
                Err(Failure::error(format!("the test did not finish within its bound of {:?}", case.timeout)))
            }
        },
        () = cfg.cancel.cancelled() => {
            abort.abort();
            Err(Failure::error("interrupted"))
        }
    };
    drop(interposer);
    drop(udp_interposer);
    let duration_us = now().0.saturating_sub(started.0);

    let (verdict, rule, mut message) = match outcome {
        Ok(()) => {
            let notes = kept.notes();
            (
                Verdict::Pass,
                None,
                (!notes.is_empty()).then(|| notes.join("; ")),
            )
        }
        Err(Failure::Fail { rule, message }) => {
            (Verdict::Fail, Some(SpecRefOwned::from(rule)), Some(message))
        }
        Err(Failure::Error { message }) => (Verdict::Error, None, Some(message)),
        Err(Failure::Inconclusive { message }) => (Verdict::Inconclusive, None, Some(message)),
        Err(Failure::Skip { reason }) => (Verdict::Skip, None, Some(reason)),
    };
    // A target that died during the test is restarted so the rest of the run goes on;
    // the test's own verdict stands, with the death noted beside it.
    {
        let mut guard = target.running.lock().await;
        if let Some(running) = guard.as_mut()
            && !running.is_alive()
        {
            let note = match running.restart().await {
                Ok(()) => "the target died during this test and was restarted".to_owned(),
                Err(e) => {
                    format!("the target died during this test and could not be restarted: {e}")
                }
            };
            message = Some(match message {
                Some(m) => format!("{m} ({note})"),
                None => note,
            });
        }
    }

    let trace = dissect(&recorder, &suite.framer);
    let pcap = write_pcap(cfg, &target.file.name, case, attempt, &recorder, started);
    TestResult {
        test: case.id.clone(),
        target: target.file.name.clone(),
        title: case.title.clone(),
        verdict,
        covers: case
            .covers
            .iter()
            .copied()
            .map(SpecRefOwned::from)
            .collect(),
        rule,
        message,
        deviation: None,
        attempts: attempt,
        started,
        duration_us,
        trace,
        pcap,
    }
}

fn write_pcap(
    cfg: &RunConfig,
    target: &str,
    case: &TestCase,
    attempt: u32,
    rec: &Recorder,
    started: Timestamp,
) -> Option<String> {
    if rec.conns().is_empty() {
        return None;
    }
    let suffix = if attempt > 1 {
        format!(".{attempt}")
    } else {
        String::new()
    };
    let rel = format!("pcap/{target}/{}{suffix}.pcapng", case.id);
    let path = cfg.run_dir.join(&rel);
    let written = path
        .parent()
        .map(std::fs::create_dir_all)
        .unwrap_or(Ok(()))
        .and_then(|()| hilt_net::pcapng::write_trace(&path, rec, started.0));
    match written {
        Ok(()) => Some(rel),
        Err(e) => {
            tracing::warn!("cannot write {}: {e}", path.display());
            None
        }
    }
}

/// Alphanumeric, 12 characters: unique per run, test, target and attempt.
fn token(run_id: &str, test: &str, target: &str, attempt: u32) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (run_id, test, target).hash(&mut h);
    let run: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(4)
        .collect();
    format!("h{run}{:06x}{}", h.finish() & 0xff_ffff, attempt % 10)
}

fn panic_message(join: tokio::task::JoinError) -> String {
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
