//! Launching the real brokers: readiness, restart with persistent sessions, kill,
//! clean stop, and death with hilt. A broker whose program is absent is skipped with
//! the reason printed (CI runs ./ci/setup first, so there it always runs).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hilt_core::target::TargetFile;
use hilt_peers::{Backend, LaunchErrorKind, LaunchOptions, Running, launch, procfs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IO_LIMIT: Duration = Duration::from_secs(10);

fn target(name: &str) -> TargetFile {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../targets/brokers/{name}.yaml"));
    TargetFile::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// Launches with the process backend, or returns None (printing why) when the
/// program is not installed.
async fn launch_or_skip(name: &str, run: &Path, instance: &str) -> Option<Running> {
    let t = target(name);
    let opts = LaunchOptions::new(run, instance).with_backend(Backend::Process);
    match launch(&t, &opts).await {
        Ok(r) => Some(r),
        Err(e) if matches!(e.kind(), LaunchErrorKind::ProgramNotFound { .. }) => {
            println!("SKIP {name}: {e}");
            None
        }
        Err(e) => panic!("failed to {e}"),
    }
}

async fn io<T>(what: &str, f: impl std::future::Future<Output = std::io::Result<T>>) -> T {
    match tokio::time::timeout(IO_LIMIT, f).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: no answer within {IO_LIMIT:?}"),
    }
}

fn mqtt_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u16::try_from(s.len()).unwrap().to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128, "one-byte remaining length only");
    let mut p = vec![first, u8::try_from(body.len()).unwrap()];
    p.extend_from_slice(body);
    p
}

/// MQTT 3.1.1 CONNECT; returns the connection and CONNACK's session-present flag.
async fn mqtt_connect(addr: SocketAddr, client_id: &str, clean: bool) -> (TcpStream, bool) {
    let mut s = io("connect", TcpStream::connect(addr)).await;
    let mut body = Vec::new();
    mqtt_string(&mut body, "MQTT");
    body.extend_from_slice(&[4, if clean { 0x02 } else { 0x00 }, 0, 60]);
    mqtt_string(&mut body, client_id);
    io("send CONNECT", s.write_all(&packet(0x10, &body))).await;
    let mut ack = [0u8; 4];
    io("read CONNACK", s.read_exact(&mut ack)).await;
    assert_eq!(ack[0], 0x20, "not a CONNACK: {ack:?}");
    assert_eq!(ack[3], 0, "CONNACK refused: {ack:?}");
    (s, ack[2] & 1 == 1)
}

async fn mqtt_subscribe(s: &mut TcpStream, filter: &str) {
    let mut body = vec![0, 1];
    mqtt_string(&mut body, filter);
    body.push(1);
    io("send SUBSCRIBE", s.write_all(&packet(0x82, &body))).await;
    let mut ack = [0u8; 5];
    io("read SUBACK", s.read_exact(&mut ack)).await;
    assert_eq!(ack[0], 0x90, "not a SUBACK: {ack:?}");
    assert!(ack[4] <= 2, "subscription refused: {ack:?}");
}

async fn mqtt_disconnect(mut s: TcpStream) {
    io("send DISCONNECT", s.write_all(&[0xe0, 0])).await;
    // The broker closes after DISCONNECT; waiting for that makes the session's
    // persistence independent of timing.
    let mut rest = Vec::new();
    io("await close", s.read_to_end(&mut rest)).await;
}

/// Polls until `cond` holds or the deadline passes.
async fn eventually(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Processes (pids) whose command line or environment contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let mut cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            cmd.extend(std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default());
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (pid != me && cmd.contains(needle)).then_some(pid)
        })
        .collect()
}

fn report(label: &str, r: &Running) {
    let i = r.info();
    println!(
        "MEASURED {label}: version {:?}, ready in {} ms, peak RSS {} KiB, CPU {} ms, endpoints {:?}",
        i.version,
        i.ready_ms.unwrap_or(0),
        i.peak_rss_kib.unwrap_or(0),
        i.cpu_ms.unwrap_or(0),
        i.endpoints
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_lifecycle() {
    let run = tempfile::tempdir().unwrap();
    let Some(mut m) = launch_or_skip("mosquitto", run.path(), "mosq-life").await else {
        return;
    };
    let addr = m.endpoint_for("mqtt").expect("mqtt endpoint");
    assert_eq!(m.endpoint("mqtt"), Some(addr));
    assert!(addr.ip().is_loopback());
    let info = m.info();
    assert!(
        info.version.as_deref().is_some_and(|v| v.starts_with("2.")),
        "{info:?}"
    );
    assert_eq!(info.logs, vec!["logs/mosq-life.log".to_owned()]);

    // A persistent session survives a restart on the same port.
    let (mut s, present) = mqtt_connect(addr, "hilt-persist", false).await;
    assert!(!present);
    mqtt_subscribe(&mut s, "hilt/#").await;
    mqtt_disconnect(s).await;
    let groups_before = m.process_groups();
    let t = Instant::now();
    m.restart().await.expect("restart");
    println!(
        "MEASURED mosquitto restart: ready again in {} ms",
        t.elapsed().as_millis()
    );
    assert_eq!(
        m.endpoint_for("mqtt"),
        Some(addr),
        "restart must keep the port"
    );
    assert!(
        procfs::group_members(groups_before[0]).is_empty(),
        "old process survived restart"
    );
    let (s, present) = mqtt_connect(addr, "hilt-persist", false).await;
    assert!(
        present,
        "the persistent session did not survive the restart"
    );
    mqtt_disconnect(s).await;

    // pause/resume: a frozen broker does not answer, a resumed one does.
    m.pause().expect("pause");
    let frozen = tokio::time::timeout(Duration::from_millis(300), async {
        let mut s = TcpStream::connect(addr).await?;
        let mut body = Vec::new();
        mqtt_string(&mut body, "MQTT");
        body.extend_from_slice(&[4, 2, 0, 60]);
        mqtt_string(&mut body, "hilt-frozen");
        s.write_all(&packet(0x10, &body)).await?;
        let mut ack = [0u8; 4];
        s.read_exact(&mut ack).await
    })
    .await;
    assert!(frozen.is_err(), "a paused broker answered");
    m.resume().expect("resume");
    mqtt_connect(addr, "hilt-thawed", true).await;

    report("mosquitto", &m);
    let groups = m.process_groups();
    let info = m.stop().await;
    assert!(info.peak_rss_kib.unwrap_or(0) > 0, "{info:?}");
    for g in groups {
        assert!(
            procfs::group_members(g).is_empty(),
            "group {g} survived stop"
        );
    }
    let log = std::fs::read_to_string(run.path().join("logs/mosq-life.log")).unwrap();
    assert!(log.contains("hilt: starting mosquitto again"), "{log}");
    assert!(log.contains("running"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_kill_then_restart() {
    let run = tempfile::tempdir().unwrap();
    let Some(mut m) = launch_or_skip("mosquitto", run.path(), "mosq-kill").await else {
        return;
    };
    let addr = m.endpoint_for("mqtt").unwrap();
    assert!(m.is_alive());
    let g = m.process_groups()[0];
    m.kill().await.expect("kill");
    assert!(!m.is_alive());
    assert!(procfs::group_members(g).is_empty());
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "a killed broker still accepts"
    );
    m.restart().await.expect("restart after kill");
    assert!(m.is_alive());
    mqtt_connect(addr, "hilt-after-kill", true).await;
    let groups = m.process_groups();
    m.stop().await;
    for g in groups {
        assert!(procfs::group_members(g).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_side_by_side_and_drop_kills() {
    let run = tempfile::tempdir().unwrap();
    let Some(a) = launch_or_skip("mosquitto", run.path(), "mosq-a").await else {
        return;
    };
    let Some(b) = launch_or_skip("mosquitto", run.path(), "mosq-b").await else {
        return;
    };
    assert_ne!(a.endpoint("mqtt"), b.endpoint("mqtt"));
    let groups: Vec<i32> = a
        .process_groups()
        .into_iter()
        .chain(b.process_groups())
        .collect();
    drop(a);
    drop(b);
    for g in groups {
        assert!(
            procfs::group_members(g).is_empty(),
            "group {g} survived drop"
        );
    }
}

#[tokio::test]
async fn missing_program_says_what_to_install() {
    let mut t = target("mosquitto");
    if let Some(p) = t.launch.process.as_mut() {
        p.program = "/nonexistent/mosquitto".into();
    }
    let run = tempfile::tempdir().unwrap();
    let opts = LaunchOptions::new(run.path(), "x").with_backend(Backend::Process);
    let e = launch(&t, &opts).await.unwrap_err().to_string();
    assert!(e.contains("Debian package `mosquitto`"), "{e}");
}

#[tokio::test]
async fn a_program_that_dies_reports_its_log() {
    let mut t = target("mosquitto");
    if let Some(p) = t.launch.process.as_mut() {
        p.args = vec!["-c".into(), "{dir}/missing.conf".into()];
    }
    let run = tempfile::tempdir().unwrap();
    let opts = LaunchOptions::new(run.path(), "dies").with_backend(Backend::Process);
    match launch(&t, &opts).await {
        Err(e) if matches!(e.kind(), LaunchErrorKind::ExitedEarly { .. }) => {
            let s = e.to_string();
            assert!(s.contains("exited early"), "{s}");
            assert!(s.contains("missing.conf"), "the log tail is missing: {s}");
        }
        Err(e) if matches!(e.kind(), LaunchErrorKind::ProgramNotFound { .. }) => {
            println!("SKIP: {e}");
        }
        other => panic!("expected an early exit, got {other:?}"),
    }
}

#[tokio::test]
async fn external_targets_cannot_be_restarted() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let t = target("mosquitto");
    let urls = [("mqtt".to_owned(), format!("mqtt://127.0.0.1:{port}"))].into();
    let opts = LaunchOptions::new("/tmp", "ext").with_external(urls);
    let mut r = launch(&t, &opts).await.expect("external");
    assert_eq!(r.backend(), Backend::External);
    assert_eq!(r.endpoint_for("mqtt").map(|a| a.port()), Some(port));
    let e = r.restart().await.unwrap_err().to_string();
    assert!(
        e.contains("an external target cannot be restarted by hilt"),
        "{e}"
    );
    assert!(r.kill().await.is_err());
}

/// Not a test on its own: the body of `targets_die_with_hilt`'s child process.
#[tokio::test]
#[ignore = "run by targets_die_with_hilt in a child process"]
async fn crash_child() {
    let Ok(out) = std::env::var("HILT_CRASH_CHILD_OUT") else {
        return;
    };
    let run = Path::new(&out).parent().unwrap().to_owned();
    if std::env::var_os("HILT_CRASH_CHILD_HANDLERS").is_some() {
        hilt_peers::install_cleanup_handlers();
    }
    let Some(m) = launch_or_skip("mosquitto", &run, "crash").await else {
        std::fs::write(&out, "skip").unwrap();
        return;
    };
    std::fs::write(&out, m.process_groups()[0].to_string()).unwrap();
    // Wait to be killed; the parent's deadline bounds this.
    tokio::time::sleep(Duration::from_secs(60)).await;
}

/// Starts `crash_child` in a child process; returns it and its target's process
/// group, or None when mosquitto is not installed.
async fn crash_child_with_mosquitto(
    out: &Path,
    handlers: bool,
) -> Option<(std::process::Child, i32)> {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env("HILT_CRASH_CHILD_OUT", out)
        .stdout(std::process::Stdio::null());
    if handlers {
        cmd.env("HILT_CRASH_CHILD_HANDLERS", "1");
    }
    let mut child = cmd.spawn().unwrap();
    eventually(
        "the child launched mosquitto",
        Duration::from_secs(20),
        || std::fs::read_to_string(out).is_ok_and(|s| !s.is_empty()),
    )
    .await;
    let text = std::fs::read_to_string(out).unwrap();
    if text == "skip" {
        println!("SKIP: mosquitto is not installed");
        let _ = child.wait();
        return None;
    }
    let pgid: i32 = text.parse().unwrap();
    assert!(!procfs::group_members(pgid).is_empty());
    Some((child, pgid))
}

#[tokio::test]
async fn targets_die_with_hilt() {
    let run = tempfile::tempdir().unwrap();
    let Some((mut child, pgid)) = crash_child_with_mosquitto(&run.path().join("pgid"), false).await
    else {
        return;
    };
    // As in a crash: no handler, no Drop runs in the child.
    child.kill().unwrap();
    child.wait().unwrap();
    eventually(
        "mosquitto died with its parent",
        Duration::from_secs(5),
        || procfs::group_members(pgid).is_empty(),
    )
    .await;
}

#[tokio::test]
async fn sigterm_handler_kills_targets_and_exits() {
    use std::os::unix::process::ExitStatusExt;
    let run = tempfile::tempdir().unwrap();
    let Some((mut child, pgid)) = crash_child_with_mosquitto(&run.path().join("pgid"), true).await
    else {
        return;
    };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    // Exit code 143 (not death by signal) shows the handler ran.
    assert_eq!(
        status.code(),
        Some(143),
        "{status:?} (signal {:?})",
        status.signal()
    );
    eventually("mosquitto died", Duration::from_secs(5), || {
        procfs::group_members(pgid).is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_lifecycle() {
    let run = tempfile::tempdir().unwrap();
    let Some(r) = launch_or_skip("rabbitmq", run.path(), "rmq-life").await else {
        return;
    };
    report("rabbitmq", &r);
    let info = r.info();
    assert!(
        info.version.as_deref().is_some_and(|v| v.starts_with("3.")),
        "{info:?}"
    );
    for port in ["mqtt", "stomp", "amqp", "dist", "epmd"] {
        assert!(
            r.endpoint(port).is_some_and(|a| a.ip().is_loopback()),
            "{port}"
        );
    }

    // Every listener speaks its protocol.
    mqtt_connect(r.endpoint_for("mqtt").unwrap(), "hilt-rmq", true).await;
    let mut stomp = io(
        "connect stomp",
        TcpStream::connect(r.endpoint_for("stomp").unwrap()),
    )
    .await;
    io(
        "send STOMP CONNECT",
        stomp.write_all(b"CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0"),
    )
    .await;
    let mut buf = [0u8; 9];
    io("read CONNECTED", stomp.read_exact(&mut buf)).await;
    assert_eq!(&buf, b"CONNECTED");
    let mut amqp = io(
        "connect amqp",
        TcpStream::connect(r.endpoint_for("amqp").unwrap()),
    )
    .await;
    io("send AMQP header", amqp.write_all(b"AMQP\x00\x00\x09\x01")).await;
    let mut frame = [0u8; 1];
    io("read connection.start", amqp.read_exact(&mut frame)).await;
    assert_eq!(frame[0], 1, "expected a method frame");

    let groups = r.process_groups();
    assert_eq!(groups.len(), 2, "rabbitmq and its epmd");
    // The node name is in beam.smp's environment (RabbitMQ starts distribution at
    // run time, so it is not on the command line).
    let node = "RABBITMQ_NODENAME=hilt-rmq-life@";
    let epmd_port = format!("-port {}", r.endpoint("epmd").unwrap().port());
    assert!(!processes_with(node).is_empty(), "no beam.smp for {node}");
    let t = Instant::now();
    let info = r.stop().await;
    println!(
        "MEASURED rabbitmq stop: {} ms; {info:?}",
        t.elapsed().as_millis()
    );
    for g in groups {
        assert!(
            procfs::group_members(g).is_empty(),
            "group {g} survived stop"
        );
    }
    assert!(
        processes_with(node).is_empty(),
        "beam.smp of {node} survived"
    );
    assert!(
        processes_with(&epmd_port).is_empty(),
        "epmd {epmd_port} survived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_kill_then_restart_keeps_sessions() {
    let run = tempfile::tempdir().unwrap();
    let Some(mut r) = launch_or_skip("rabbitmq", run.path(), "rmq-kill").await else {
        return;
    };
    let mqtt = r.endpoint_for("mqtt").unwrap();
    let (mut s, _) = mqtt_connect(mqtt, "hilt-rmq-persist", false).await;
    mqtt_subscribe(&mut s, "hilt/#").await;
    mqtt_disconnect(s).await;

    let groups = r.process_groups();
    let (node, epmd) = (groups[0], groups[1]);
    r.kill().await.expect("kill");
    assert!(!r.is_alive());
    assert!(
        procfs::group_members(node).is_empty(),
        "beam.smp survived kill"
    );
    assert!(
        !procfs::group_members(epmd).is_empty(),
        "kill must leave the helper"
    );

    let t = Instant::now();
    r.restart().await.expect("restart after kill");
    println!(
        "MEASURED rabbitmq restart after kill: ready in {} ms",
        t.elapsed().as_millis()
    );
    assert_eq!(r.endpoint_for("mqtt"), Some(mqtt));
    let (s, present) = mqtt_connect(mqtt, "hilt-rmq-persist", false).await;
    assert!(
        present,
        "the durable session did not survive a crash and restart"
    );
    mqtt_disconnect(s).await;

    let groups = r.process_groups();
    r.stop().await;
    for g in groups {
        assert!(
            procfs::group_members(g).is_empty(),
            "group {g} survived stop"
        );
    }
    assert!(processes_with("RABBITMQ_NODENAME=hilt-rmq-kill@").is_empty());
}

#[tokio::test]
async fn container_backend_without_an_engine_says_so() {
    if std::path::Path::new("/var/run/docker.sock").exists()
        || std::env::var_os("DOCKER_HOST").is_some()
    {
        println!("SKIP: a container engine may be present; this test is for machines without one");
        return;
    }
    let run = tempfile::tempdir().unwrap();
    let opts = LaunchOptions::new(run.path(), "ctr").with_backend(Backend::Container);
    let e = launch(&target("mosquitto"), &opts).await.unwrap_err();
    let s = e.to_string();
    assert!(
        matches!(
            e.kind(),
            LaunchErrorKind::ContainerEngineUnavailable { .. } | LaunchErrorKind::Container { .. }
        ),
        "{s}"
    );
    println!("container backend here: failed to {s}");
}
