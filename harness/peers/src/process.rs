//! The process backend: a local program on ephemeral loopback ports, in its own process
//! group, its output captured to a log file, sampled from /proc.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hilt_core::target::{ProcessLaunch, TargetFile};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::cleanup;
use crate::error::LaunchErrorKind as Kind;
use crate::options::LaunchOptions;
use crate::placeholder::Placeholders;
use crate::ports::PortLease;
use crate::procfs::{self, Usage};
use crate::spawn;

/// How long a target gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long after SIGKILL before hilt gives up waiting (a process in D state).
const KILL_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
const LAUNCH_ATTEMPTS: u32 = 3;

/// One program to run, with everything filled in.
#[derive(Debug, Clone)]
struct Spec {
    program: PathBuf,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    log: PathBuf,
    log_rel: String,
    /// Ports that must accept connections before this program counts as ready.
    ready: Vec<(String, SocketAddr)>,
    /// UDP ports that must answer a CoAP ping before this program counts as ready.
    ready_coap: Vec<(String, SocketAddr)>,
}

impl Spec {
    fn name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A running child and its process group.
#[derive(Debug)]
struct Proc {
    child: Child,
    pgid: i32,
    watchdog: Option<Child>,
}

impl Proc {
    /// Ends the watchdog once the group it guards is gone (or given up on).
    fn dismiss_watchdog(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// Starts a watchdog for process group `pgid`: a shell blocked reading a pipe whose
/// only writer is hilt. When hilt dies, however it dies, the kernel closes the pipe
/// and the shell kills the group.
///
/// PR_SET_PDEATHSIG alone is not enough: the kernel clears it when a program changes
/// its credentials (mosquitto started as root becomes user `mosquitto`), and
/// grandchildren (Erlang's helper processes) never had it.
fn start_watchdog(pgid: i32) -> std::io::Result<Child> {
    // dash's kill takes no `--`; `-N` after the signal is the group N.
    // Its own process group, so a terminal's Ctrl-C (sent to hilt's group) does not
    // kill the watchdog before it has done its work.
    Command::new("/bin/sh")
        .args([
            "-c",
            "read -r _; kill -KILL \"-$1\" 2>/dev/null",
            "hilt-watchdog",
            &pgid.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

#[derive(Debug)]
pub(crate) struct ProcessTarget {
    dir: PathBuf,
    ready_timeout: Duration,
    main: Spec,
    helpers: Vec<Spec>,
    main_proc: Option<Proc>,
    helper_procs: Vec<Option<Proc>>,
    lease: PortLease,
    groups: Arc<Mutex<Vec<i32>>>,
    usage: Arc<Mutex<Usage>>,
    sampler: Option<tokio::task::JoinHandle<()>>,
    paused: bool,
    pub ready_ms: u64,
}

pub(crate) async fn launch(
    target: &TargetFile,
    p: &ProcessLaunch,
    opts: &LaunchOptions,
) -> Result<ProcessTarget, Kind> {
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        match try_launch(p, opts, attempt, started).await {
            Err(k) if k.is_port_race() && attempt < LAUNCH_ATTEMPTS => {
                tracing::warn!(
                    "{}: a port was taken between allocation and bind; retrying on new ports",
                    target.name
                );
                attempt += 1;
            }
            r => return r,
        }
    }
}

async fn try_launch(
    p: &ProcessLaunch,
    opts: &LaunchOptions,
    attempt: u32,
    started: Instant,
) -> Result<ProcessTarget, Kind> {
    let instance = opts.safe_instance();
    let run_dir = absolute(&opts.run_dir)?;
    let dir = run_dir.join("instances").join(&instance);
    let logs = run_dir.join("logs");

    let lease = PortLease::allocate(&p.ports).map_err(|source| Kind::PortAllocation { source })?;
    let ph = Placeholders {
        dir: dir.to_string_lossy().into_owned(),
        host: Ipv4Addr::LOCALHOST.to_string(),
        name: instance.clone(),
        ports: lease.ports.clone(),
    };
    let addr = |name: &str, location: &str| -> Result<(String, SocketAddr), Kind> {
        let port = lease.ports.get(name).ok_or_else(|| Kind::BadPlaceholder {
            placeholder: format!("port.{name}"),
            location: location.to_owned(),
            reason: "not among launch.process.ports".into(),
        })?;
        Ok((
            name.to_owned(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, *port)),
        ))
    };

    let main = Spec {
        program: find_program(&p.program)?,
        args: fill_all(&ph, &p.args, "launch.process.args")?,
        env: fill_map(&ph, &p.env, "launch.process.env")?,
        log: logs.join(format!("{instance}.log")),
        log_rel: format!("logs/{instance}.log"),
        ready: p
            .ready_ports
            .iter()
            .map(|n| addr(n, "launch.process.ready_ports"))
            .collect::<Result<_, _>>()?,
        ready_coap: p
            .ready_udp_coap
            .iter()
            .map(|n| addr(n, "launch.process.ready_udp_coap"))
            .collect::<Result<_, _>>()?,
    };
    let mut helpers = Vec::new();
    for (i, h) in p.helpers.iter().enumerate() {
        let program = find_program(&h.program)?;
        let base = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("helper{i}"));
        let at = format!("launch.process.helpers[{i}]");
        helpers.push(Spec {
            program,
            args: fill_all(&ph, &h.args, &format!("{at}.args"))?,
            env: fill_map(&ph, &h.env, &format!("{at}.env"))?,
            log: logs.join(format!("{instance}.{base}.log")),
            log_rel: format!("logs/{instance}.{base}.log"),
            ready: h
                .ready_port
                .iter()
                .map(|n| addr(n, &format!("{at}.ready_port")))
                .collect::<Result<_, _>>()?,
            ready_coap: Vec::new(),
        });
    }
    let mut files = BTreeMap::new();
    for (rel, text) in &p.files {
        let rel = ph
            .fill(rel)
            .map_err(|u| bad(u, "launch.process.files (a path)"))?;
        let text = ph
            .fill(text)
            .map_err(|u| bad(u, &format!("launch.process.files.{rel}")))?;
        files.insert(safe_relative(&rel)?, text);
    }

    // A fresh instance starts from an empty folder; a retry after a port race too, but
    // its log keeps the failed attempt.
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| Kind::io(format!("clear {}", dir.display()), e))?;
    }
    fs::create_dir_all(&dir).map_err(|e| Kind::io(format!("create {}", dir.display()), e))?;
    fs::create_dir_all(&logs).map_err(|e| Kind::io(format!("create {}", logs.display()), e))?;
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Kind::io(format!("create {}", parent.display()), e))?;
        }
        fs::write(&path, text).map_err(|e| Kind::io(format!("write {}", path.display()), e))?;
    }
    if let Some(owner) = &p.folder_owner {
        give_folder_to(&dir, owner)?;
    }
    for spec in std::iter::once(&main).chain(&helpers) {
        let opened = if attempt == 1 {
            File::create(&spec.log)
        } else {
            OpenOptions::new().append(true).create(true).open(&spec.log)
        };
        opened.map_err(|e| Kind::io(format!("create {}", spec.log.display()), e))?;
    }

    let mut t = ProcessTarget {
        dir,
        ready_timeout: Duration::from_secs(p.ready_timeout_s),
        helper_procs: helpers.iter().map(|_| None).collect(),
        main,
        helpers,
        main_proc: None,
        lease,
        groups: Arc::default(),
        usage: Arc::default(),
        sampler: None,
        paused: false,
        ready_ms: 0,
    };
    t.start_sampler();
    // On any error below, dropping `t` kills whatever was started.
    let deadline = Instant::now() + t.ready_timeout;
    for i in 0..t.helpers.len() {
        t.start_helper(i, deadline, attempt > 1).await?;
    }
    t.start_main(deadline, attempt > 1).await?;
    t.ready_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(t)
}

fn bad(u: crate::placeholder::Unfilled, location: &str) -> Kind {
    Kind::BadPlaceholder {
        placeholder: u.placeholder,
        location: location.to_owned(),
        reason: u.reason,
    }
}

fn fill_all(ph: &Placeholders, items: &[String], at: &str) -> Result<Vec<String>, Kind> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| ph.fill(s).map_err(|u| bad(u, &format!("{at}[{i}]"))))
        .collect()
}

fn fill_map(
    ph: &Placeholders,
    items: &BTreeMap<String, String>,
    at: &str,
) -> Result<BTreeMap<String, String>, Kind> {
    items
        .iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                ph.fill(v).map_err(|u| bad(u, &format!("{at}.{k}")))?,
            ))
        })
        .collect()
}

/// Resolves a target's program, after filling `{root}` and `{venv}` into it.
pub(crate) fn find_program(program: &str) -> Result<PathBuf, Kind> {
    let program =
        crate::placeholder::fill_places(program).map_err(|u| bad(u, "launch.process.program"))?;
    crate::programs::find(&program).ok_or_else(|| Kind::ProgramNotFound {
        package: crate::programs::debian_package(&program).map(str::to_owned),
        program,
    })
}

fn absolute(p: &Path) -> Result<PathBuf, Kind> {
    std::path::absolute(p).map_err(|e| Kind::io(format!("resolve {}", p.display()), e))
}

/// A file path from a target file must stay inside the instance folder.
fn safe_relative(rel: &str) -> Result<PathBuf, Kind> {
    let p = PathBuf::from(rel);
    let ok = !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(p)
    } else {
        Err(Kind::Unsupported {
            what: format!(
                "write launch.process.files `{rel}`: a path must be relative and stay inside \
                 the instance folder"
            ),
        })
    }
}

/// Programs that drop privileges (mosquitto started as root becomes `mosquitto`) need
/// to write the instance folder. Only root can give it away, and only root-started
/// programs switch users, so as anyone else there is nothing to do.
fn give_folder_to(dir: &Path, owner: &str) -> Result<(), Kind> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let user = nix::unistd::User::from_name(owner)
        .map_err(|e| Kind::io(format!("look up user `{owner}`"), e.into()))?;
    let Some(user) = user else {
        tracing::warn!("folder_owner `{owner}` does not exist; leaving the folder to root");
        return Ok(());
    };
    chown_tree(dir, user.uid, user.gid)
}

fn chown_tree(path: &Path, uid: nix::unistd::Uid, gid: nix::unistd::Gid) -> Result<(), Kind> {
    nix::unistd::chown(path, Some(uid), Some(gid))
        .map_err(|e| Kind::io(format!("chown {}", path.display()), e.into()))?;
    if path.is_dir() {
        let entries =
            fs::read_dir(path).map_err(|e| Kind::io(format!("list {}", path.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Kind::io(format!("list {}", path.display()), e))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// The last lines of a log, at most 4 KiB of them.
pub(crate) fn log_tail(path: &Path) -> String {
    const MAX: u64 = 4096;
    const LINES: usize = 25;
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(MAX)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LINES);
    // The first line may be cut in the middle when the file was read from an offset.
    let start = if len > MAX && start == 0 { 1 } else { start };
    let mut out = lines.get(start..).unwrap_or_default().join("\n");
    out.push('\n');
    out
}

fn mark_log(path: &Path, what: &str) {
    if let Ok(mut f) = OpenOptions::new().append(true).create(true).open(path) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let _ = writeln!(f, "==== hilt: {what} (unix time {now}) ====");
    }
}

pub(crate) fn signal_group(pgid: i32, sig: Signal) -> Result<(), nix::Error> {
    match killpg(Pid::from_raw(pgid), sig) {
        Err(nix::Error::ESRCH) => Ok(()),
        r => r,
    }
}

impl ProcessTarget {
    fn start_sampler(&mut self) {
        let groups = Arc::clone(&self.groups);
        let usage = Arc::clone(&self.usage);
        self.sampler = Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(SAMPLE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                let g = groups
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                usage
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .sample(&g);
            }
        }));
    }

    pub fn sample_now(&self) {
        let g = self
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sample(&g);
    }

    pub fn usage(&self) -> (u64, u64) {
        let u = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        (u.peak_rss_kib, u.cpu_ms())
    }

    pub fn port(&self, name: &str) -> Option<SocketAddr> {
        self.lease
            .ports
            .get(name)
            .map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, *p)))
    }

    pub fn logs(&self) -> Vec<String> {
        std::iter::once(&self.main)
            .chain(&self.helpers)
            .map(|s| s.log_rel.clone())
            .collect()
    }

    /// Process groups of the instance that are still registered (main first).
    pub fn process_groups(&self) -> Vec<i32> {
        self.main_proc
            .iter()
            .chain(self.helper_procs.iter().flatten())
            .map(|p| p.pgid)
            .collect()
    }

    async fn spawn(&self, spec: &Spec, restarted: bool) -> Result<Proc, Kind> {
        if restarted {
            mark_log(&spec.log, &format!("starting {} again", spec.name()));
        }
        let open = || {
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(&spec.log)
                .map_err(|e| Kind::io(format!("open {}", spec.log.display()), e))
        };
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(&spec.env)
            .current_dir(&self.dir)
            // A hilt run under systemd must not have its targets talk to systemd
            // (RabbitMQ would announce itself as the service).
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(open()?)
            .stderr(open()?);
        let child = spawn::spawn(cmd)
            .await
            .map_err(|e| Kind::io(format!("start {}", spec.program.display()), e))?;
        let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        cleanup::register(pgid);
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(pgid);
        let watchdog = start_watchdog(pgid)
            .inspect_err(|e| tracing::warn!("no watchdog for {}: {e}", spec.name()))
            .ok();
        Ok(Proc {
            child,
            pgid,
            watchdog,
        })
    }

    async fn start_helper(&mut self, i: usize, deadline: Instant, again: bool) -> Result<(), Kind> {
        let spec = self.helpers[i].clone();
        let proc = self.spawn(&spec, again).await?;
        let slot = &mut self.helper_procs[i];
        *slot = Some(proc);
        if let Some(p) = slot.as_mut() {
            wait_ready(&mut p.child, &spec, deadline, self.ready_timeout).await?;
        }
        Ok(())
    }

    async fn start_main(&mut self, deadline: Instant, again: bool) -> Result<(), Kind> {
        let spec = self.main.clone();
        let proc = self.spawn(&spec, again).await?;
        let slot = &mut self.main_proc;
        *slot = Some(proc);
        if let Some(p) = slot.as_mut() {
            wait_ready(&mut p.child, &spec, deadline, self.ready_timeout).await?;
        }
        Ok(())
    }

    pub fn is_alive(&mut self) -> bool {
        self.main_proc
            .as_mut()
            .is_some_and(|p| matches!(p.child.try_wait(), Ok(None)))
    }

    /// SIGKILL to the main group, as in a crash; helpers keep running.
    pub async fn kill(&mut self) -> Result<(), Kind> {
        if let Some(p) = self.main_proc.take() {
            self.sample_now();
            self.finish(p, Signal::SIGKILL, KILL_WAIT).await;
        }
        self.paused = false;
        Ok(())
    }

    /// Stops the main program (SIGTERM, then SIGKILL) and starts it again on the same
    /// ports and folder; helpers that died are started again first.
    pub async fn restart(&mut self) -> Result<Duration, Kind> {
        let began = Instant::now();
        if let Some(p) = self.main_proc.take() {
            self.sample_now();
            self.finish(p, Signal::SIGTERM, STOP_GRACE).await;
        }
        self.paused = false;
        let deadline = Instant::now() + self.ready_timeout;
        for i in 0..self.helpers.len() {
            let alive = self.helper_procs[i]
                .as_mut()
                .is_some_and(|p| matches!(p.child.try_wait(), Ok(None)));
            if !alive {
                if let Some(p) = self.helper_procs[i].take() {
                    self.finish(p, Signal::SIGKILL, KILL_WAIT).await;
                }
                self.start_helper(i, deadline, true).await?;
            }
        }
        self.start_main(deadline, true).await?;
        Ok(began.elapsed())
    }

    pub fn signal_main(&mut self, sig: Signal) -> Result<(), Kind> {
        let Some(p) = &self.main_proc else {
            return Err(Kind::Unsupported {
                what: "signal it: it is not running".into(),
            });
        };
        signal_group(p.pgid, sig).map_err(Kind::Signal)?;
        self.paused = sig == Signal::SIGSTOP;
        Ok(())
    }

    /// SIGTERM to the main group then the helpers (in reverse start order), SIGKILL
    /// for whatever is left after the grace period.
    pub async fn stop(&mut self) {
        self.sample_now();
        if let Some(p) = self.main_proc.take() {
            self.finish(p, Signal::SIGTERM, STOP_GRACE).await;
        }
        for i in (0..self.helper_procs.len()).rev() {
            if let Some(p) = self.helper_procs[i].take() {
                self.finish(p, Signal::SIGTERM, STOP_GRACE).await;
            }
        }
        if let Some(s) = self.sampler.take() {
            s.abort();
        }
    }

    /// Sends `sig` to the group, waits up to `grace` for the leader to exit and the
    /// group to empty, then SIGKILLs what is left; unregisters the group when empty.
    async fn finish(&self, mut p: Proc, sig: Signal, grace: Duration) {
        if self.paused {
            // A stopped process would hold SIGTERM until continued.
            let _ = signal_group(p.pgid, Signal::SIGCONT);
        }
        let _ = signal_group(p.pgid, sig);
        if !wait_gone(&mut p, grace).await && sig != Signal::SIGKILL {
            tracing::warn!(
                "process group {} outlived {} s after {sig}; killing it",
                p.pgid,
                grace.as_secs()
            );
            let _ = signal_group(p.pgid, Signal::SIGKILL);
            wait_gone(&mut p, KILL_WAIT).await;
        }
        let pgid = p.pgid;
        p.dismiss_watchdog();
        if procfs::group_members(pgid).is_empty() {
            cleanup::unregister(pgid);
        } else {
            tracing::warn!("process group {pgid} survived SIGKILL (a process in D state?)");
        }
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|g| *g != pgid);
    }
}

/// Waits until the leader is reaped and no live process is left in its group.
async fn wait_gone(p: &mut Proc, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let leader_gone = !matches!(p.child.try_wait(), Ok(None));
        if leader_gone && procfs::group_members(p.pgid).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL * 2).await;
    }
}

/// Polls `spec.ready` with TCP connects (and `spec.ready_coap` with CoAP pings) until
/// all answer, the child exits, or the deadline passes.
async fn wait_ready(
    child: &mut Child,
    spec: &Spec,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), Kind> {
    let mut pending: Vec<&(String, SocketAddr)> = spec.ready.iter().collect();
    let mut pending_coap: Vec<&(String, SocketAddr)> = spec.ready_coap.iter().collect();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Kind::ExitedEarly {
                program: spec.name(),
                status: status.to_string(),
                log_tail: log_tail(&spec.log),
            });
        }
        let mut still = Vec::new();
        for p in pending {
            let c = tokio::time::timeout(
                Duration::from_millis(250),
                tokio::net::TcpStream::connect(p.1),
            );
            if !matches!(c.await, Ok(Ok(_))) {
                still.push(p);
            }
        }
        pending = still;
        let mut still = Vec::new();
        for p in pending_coap {
            if !coap_ping(p.1, Duration::from_millis(250)).await {
                still.push(p);
            }
        }
        pending_coap = still;
        if pending.is_empty() && pending_coap.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Kind::NotReady {
                waited: timeout,
                not_ready: pending
                    .iter()
                    .chain(&pending_coap)
                    .map(|p| p.0.clone())
                    .collect(),
                log_tail: log_tail(&spec.log),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Sends a CoAP ping (RFC 7252 §4.3: an Empty Confirmable message) to `addr` and says
/// whether a Reset with the same Message ID came back within `wait`. The four bytes are
/// written here rather than through hilt-wire, which this crate does not depend on:
/// version 1, type CON, token length 0, code 0.00, then the Message ID.
pub(crate) async fn coap_ping(addr: SocketAddr, wait: Duration) -> bool {
    let local: std::net::IpAddr = if addr.is_ipv6() {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::LOCALHOST.into()
    };
    let Ok(sock) = tokio::net::UdpSocket::bind((local, 0)).await else {
        return false;
    };
    if sock.connect(addr).await.is_err() {
        return false;
    }
    let mid = u16::try_from(std::process::id() & 0xffff).unwrap_or(0x4c54);
    let [hi, lo] = mid.to_be_bytes();
    if sock.send(&[0x40, 0x00, hi, lo]).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let answer = tokio::time::timeout(wait, sock.recv(&mut buf)).await;
    // RST (type 3), Empty, same Message ID; an error is ICMP port unreachable: not yet.
    matches!(answer, Ok(Ok(n)) if n >= 4 && buf[0] >> 4 == 0x7 && buf[1] == 0 && buf[2..4] == [hi, lo])
}

impl Drop for ProcessTarget {
    fn drop(&mut self) {
        if let Some(s) = self.sampler.take() {
            s.abort();
        }
        let procs = self
            .main_proc
            .take()
            .into_iter()
            .chain(self.helper_procs.iter_mut().filter_map(Option::take));
        for mut p in procs {
            let _ = signal_group(p.pgid, Signal::SIGKILL);
            // Reap the leader so no zombie is left; SIGKILL takes effect within
            // milliseconds, and Drop cannot await, so poll briefly.
            let until = Instant::now() + Duration::from_millis(500);
            while matches!(p.child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            p.dismiss_watchdog();
            cleanup::unregister(p.pgid);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[tokio::test]
    async fn coap_ping_wants_a_matching_reset() {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let answer = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, buf[0], buf[1]), (4, 0x40, 0));
            server
                .send_to(&[0x70, 0, buf[2], buf[3]], from)
                .await
                .unwrap();
        });
        assert!(coap_ping(addr, Duration::from_secs(2)).await);
        answer.await.unwrap();
        // Nobody there: no answer, no panic.
        let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let gone_addr = gone.local_addr().unwrap();
        drop(gone);
        assert!(!coap_ping(gone_addr, Duration::from_millis(100)).await);
    }

    #[test]
    fn file_paths_stay_inside() {
        assert!(safe_relative("a/b.conf").is_ok());
        assert!(safe_relative("../x").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("").is_err());
        assert!(safe_relative("./x").is_err());
    }

    #[test]
    fn tail_of_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        fs::write(&p, text).unwrap();
        let t = log_tail(&p);
        assert!(t.starts_with("line 75\n"), "{t}");
        assert!(t.ends_with("line 99\n"));
        assert_eq!(log_tail(&dir.path().join("none")), "");
    }
}
