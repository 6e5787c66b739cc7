//! How much CPU a load generator spends per message: hilt's publisher against
//! independent generators, each a process of its own whose CPU time the kernel reports.
//!
//! Every generator is a command that, given `HOST PORT SECONDS PAYLOAD_BYTES` as its last
//! arguments, connects with MQTT 3.1.1, prints a line once the CONNACK is in, publishes
//! QoS 0 messages of PAYLOAD_BYTES to one topic as fast as it can for SECONDS,
//! disconnects, and prints how many PUBLISHes it wrote. hilt's own is
//! `hilt bench --generate …`, which runs the engine's publisher ([`crate::publish`]) with
//! a schedule that is always due. The measurement reads the process's user + system time
//! from `/proc/PID/stat` at both lines (the second before the process is reaped, so every
//! thread it had is included) and divides: messages per second of CPU, i.e. per core.
//! Start-up (a runtime's, a JIT's warm-up before the first message aside) and the
//! connection are left out, so no generator pays for its language's start.
//!
//! Targets are a [`Sink`] (hilt's own reader that counts PUBLISHes and discards them, so
//! the receiver costs as little as possible and the count can be checked) and real
//! brokers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hilt_wire::Decoded;
use hilt_wire::mqtt::{PacketType, QoS, Version};
use serde::{Deserialize, Serialize};

use crate::engine::{Clock, Errors, Phases, lock};
use crate::header::Header;
use crate::publish::{PubCtx, PubShared, PublishTemplate};
use crate::schedule::Schedule;

/// The topic every generator publishes to.
pub const TOPIC: &str = "hilt/eff";

/// A generator to measure: a name and the command (program and leading arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generator {
    pub name: String,
    pub command: Vec<String>,
}

impl Generator {
    /// Parses `NAME=COMMAND ARGS…` (the command split at whitespace).
    pub fn parse(s: &str) -> Result<Generator, String> {
        let (name, command) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected NAME=COMMAND, e.g. rumqttc=./rumqttc-loop"))?;
        let command: Vec<String> = command.split_whitespace().map(String::from).collect();
        if name.is_empty() || command.is_empty() {
            return Err(format!("`{s}`: expected NAME=COMMAND"));
        }
        Ok(Generator {
            name: name.into(),
            command,
        })
    }
}

/// One generator against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub generator: String,
    pub target: String,
    /// PUBLISHes the generator says it wrote.
    pub published: u64,
    /// PUBLISHes the sink counted (sink targets only): a check on `published`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    /// From the connection to the printed count.
    pub wall_s: f64,
    /// User + system CPU time of the generator process (all its threads) from the
    /// connection to the printed count.
    pub cpu_s: f64,
    /// Messages per second of wall time.
    pub rate: f64,
    /// Messages per second of CPU time: per core.
    pub per_core: f64,
}

/// Runs `generator` against `addr` for `seconds` and measures it. `received` reads the
/// sink's count, when the target is one.
pub fn measure(
    generator: &Generator,
    target: &str,
    addr: SocketAddr,
    seconds: f64,
    payload_bytes: usize,
    received: Option<&dyn Fn() -> u64>,
) -> Result<Measurement, String> {
    let before = received.map(|r| r());
    let mut child = Command::new(&generator.command[0])
        .args(&generator.command[1..])
        .args([
            addr.ip().to_string(),
            addr.port().to_string(),
            seconds.to_string(),
            payload_bytes.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "{}: cannot start {:?}: {e}",
                generator.name, generator.command
            )
        })?;
    let pid = child.id();
    let mut line = String::new();
    let mut connected = None;
    let read = child.stdout.take().map(|out| {
        let mut out = BufReader::new(out);
        out.read_line(&mut line)?;
        connected = Some((Instant::now(), process_cpu_s(pid)));
        line.clear();
        out.read_line(&mut line)
    });
    let ended = Instant::now();
    // Still unreaped, so /proc holds the whole process's times even if it has exited.
    let cpu_end = process_cpu_s(pid);
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let published: u64 = match (read, line.trim().parse()) {
        (Some(Ok(_)), Ok(n)) if status.success() => n,
        _ => {
            return Err(format!(
                "{} against {target} printed no count ({status}): {}",
                generator.name,
                err.trim()
            ));
        }
    };
    let (wall, cpu) = match (connected, cpu_end) {
        (Some((t0, Some(c0))), Some(c1)) => ((ended - t0).as_secs_f64(), c1 - c0),
        _ => {
            return Err(format!(
                "{}: no CPU time in /proc/{pid}/stat",
                generator.name
            ));
        }
    };
    // Whatever the sink still had in flight arrives within moments of the disconnect.
    let received = match (received, before) {
        (Some(r), Some(b)) => {
            let deadline = Instant::now() + Duration::from_secs(2);
            while r() - b < published && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            Some(r() - b)
        }
        _ => None,
    };
    Ok(Measurement {
        generator: generator.name.clone(),
        target: target.into(),
        published,
        received,
        wall_s: wall,
        cpu_s: cpu,
        rate: published as f64 / wall.max(1e-9),
        per_core: published as f64 / cpu.max(1e-9),
    })
}

/// User + system time of process `pid` (all threads), in seconds.
pub fn process_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks_per_s())
}

#[expect(unsafe_code, reason = "sysconf has no safe wrapper in std")]
fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// A receiver that costs as little as possible: accepts MQTT 3.1.1 connections, answers
/// CONNECT and PINGREQ, counts PUBLISHes and discards them.
#[derive(Debug)]
pub struct Sink {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Sink {
    /// Listens on an ephemeral loopback port, one thread per connection.
    pub fn start() -> std::io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (Arc::clone(&received), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("hilt-sink".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if halt.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let count = Arc::clone(&count);
                    let _ = std::thread::Builder::new()
                        .name("hilt-sink-conn".into())
                        .spawn(move || sink_connection(conn, &count));
                }
            })?;
        Ok(Sink {
            addr,
            received,
            stop,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PUBLISHes counted so far, over all connections.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn sink_connection(mut conn: TcpStream, count: &AtomicU64) {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; 256 * 1024];
    let mut filled = 0;
    loop {
        let n = match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut at = 0;
        let mut publishes = 0;
        loop {
            match hilt_wire::mqtt::frame_len_for(&buf[at..filled], Version::V311) {
                Ok(Decoded::Done(len, _)) => {
                    let kind = buf[at] >> 4;
                    at += len;
                    let reply: &[u8] = match kind {
                        k if k == PacketType::Publish as u8 => {
                            publishes += 1;
                            continue;
                        }
                        // CONNACK: session not present, accepted.
                        k if k == PacketType::Connect as u8 => &[0x20, 2, 0, 0],
                        k if k == PacketType::PingReq as u8 => &[0xd0, 0],
                        k if k == PacketType::Disconnect as u8 => {
                            count.fetch_add(publishes, Ordering::Relaxed);
                            return;
                        }
                        _ => continue,
                    };
                    if conn.write_all(reply).is_err() {
                        return;
                    }
                }
                Ok(Decoded::NeedMore(more)) => {
                    if at == 0 && filled + more > buf.len() {
                        buf.resize(filled + more, 0);
                    }
                    break;
                }
                Err(_) => return,
            }
        }
        count.fetch_add(publishes, Ordering::Relaxed);
        buf.copy_within(at..filled, 0);
        filled -= at;
    }
}

/// hilt's generator: the engine's publisher on one connection to `addr`, with a schedule
/// that is always due, for `seconds` from the CONNACK (when `connected` is called).
/// Returns the PUBLISHes written.
pub async fn generate(
    addr: SocketAddr,
    seconds: f64,
    payload_bytes: usize,
    connected: impl FnOnce(),
) -> Result<u64, String> {
    let version = Version::V311;
    let opened = crate::mqtt::connect(addr, version, "hilt-generator").await?;
    connected();
    let stream = opened.stream.into_std().map_err(|e| e.to_string())?;
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    let clock = Clock(Instant::now());
    let length = Duration::from_secs_f64(seconds).as_nanos() as u64;
    let phases = Phases {
        start: 0,
        measure: 0,
        end: length,
    };
    // A rate no generator reaches: every message is due as soon as it can be written.
    let schedule = Schedule::new(0, 1_000_000_000_000, length);
    let shared = Arc::new(Mutex::new(PubShared::new()));
    let errors = Arc::new(Errors::default());
    let stop = Arc::new(AtomicBool::new(false));
    let header = Header {
        run: 0,
        publisher: 0,
        seq: 0,
        sent_ns: 0,
    };
    let ctx = PubCtx {
        stream: crate::publish::PubConn::Stream(stream),
        acked: false,
        in_flight: None,
        acks: crate::protocol::NoAcks,
        goodbye: hilt_wire::mqtt::Packet::Disconnect(Default::default()).to_bytes(version),
        name: "hilt-generator".into(),
        template: PublishTemplate::new(version, QoS::AtMostOnce, TOPIC, header, payload_bytes),
        clock,
        phases,
        schedule,
        shared: Arc::clone(&shared),
        errors: Arc::clone(&errors),
        stop: Arc::clone(&stop),
    };
    let thread = std::thread::Builder::new()
        .name("hilt-generator".into())
        .spawn(move || crate::publish::publisher(ctx))
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_nanos(length)).await;
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the generator thread panicked".to_string())?;
    if let Some(e) = errors.first() {
        return Err(e);
    }
    Ok(lock(&shared).published)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn generators_parse() {
        let g = Generator::parse("mqtt.js=node loop.js").unwrap();
        assert_eq!(g.name, "mqtt.js");
        assert_eq!(g.command, ["node", "loop.js"]);
        assert!(Generator::parse("node loop.js").is_err());
        assert!(Generator::parse("x=").is_err());
    }

    #[test]
    fn own_cpu_time_is_read_from_proc() {
        let t = process_cpu_s(std::process::id()).expect("/proc/self/stat");
        assert!(t >= 0.0);
    }

    /// hilt's generator against hilt's sink, in one test process: every PUBLISH written
    /// is counted, so the measurement counts what really arrived.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_generator_fills_the_sink() {
        let sink = Sink::start().unwrap();
        let sent = generate(sink.addr(), 0.2, 16, || {}).await.unwrap();
        assert!(sent > 1000, "{sent}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while sink.received() < sent && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(sink.received(), sent);
    }
}
