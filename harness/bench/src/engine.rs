//! One run of a workload at one rate against one endpoint, whatever its protocol.
//!
//! Publishers are OS threads running [`crate::publish`]'s hot path. Subscribers are
//! tokio tasks on the multi-thread runtime, reading into a reused buffer and finding
//! each message's payload in place with the protocol's [`Receiver`]. Nothing on either
//! path allocates per message. The protocol ([`Protocol`]) only opens connections and
//! frames messages: scheduling, recording, accounting and wiring are all here.
//!
//! Every connection records into its own histograms; a collector merges them once a
//! second into the run's totals and the interval log, prints progress, and injects the
//! workload's pause at its time.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hilt_core::bench::{BrokerUse, ClientUse, MessageCounts, PauseDone, RateRun, TimelinePoint};
use hilt_wire::Decoded;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cpu;
use crate::header::Header;
use crate::hist::{self, Hist};
use crate::protocol::{Conn, Protocol, Receiver, Template};
use crate::publish::{PubConn, PubCtx, PubShared};
use crate::schedule::Schedule;
use crate::seq::{Arrival, SeqTracker};
use crate::workload::{Hears, Workload};

/// Above this send-delay p99 (with publishers not blocked by the target) the generator
/// did not keep its schedule: the run is flagged client-bound.
pub const SEND_DELAY_LIMIT_US: f64 = 1000.0;
/// Client CPU at or above this share of the available cores flags the run client-bound.
pub const CPU_LIMIT: f64 = 0.9;
/// After the last intended send, how long deliveries may keep coming without progress.
const DRAIN_IDLE: Duration = Duration::from_secs(1);
/// After the last intended send, deliveries are awaited at most the measured phase's
/// length, within these bounds: a backlog that takes longer is a target that did not keep
/// up, and what is still queued then counts as lost.
const DRAIN_MIN: Duration = Duration::from_secs(2);
const DRAIN_MAX: Duration = Duration::from_secs(15);
const KEEP_ERRORS: usize = 20;

/// What the engine may do to the target: freeze it, and read what it has used.
pub trait TargetControl: Send {
    fn pause(&mut self) -> Result<(), String>;
    fn resume(&mut self) -> Result<(), String>;
    /// CPU time used so far (ms) and the peak resident memory seen (KiB), when known.
    fn usage(&mut self) -> (Option<u64>, Option<u64>);
}

impl TargetControl for hilt_peers::Running {
    fn pause(&mut self) -> Result<(), String> {
        hilt_peers::Running::pause(self).map_err(|e| e.to_string())
    }
    fn resume(&mut self) -> Result<(), String> {
        hilt_peers::Running::resume(self).map_err(|e| e.to_string())
    }
    fn usage(&mut self) -> (Option<u64>, Option<u64>) {
        let i = self.info();
        (i.cpu_ms, i.peak_rss_kib)
    }
}

/// A live view of a run, once a second.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Seconds since the measured phase began (negative in the warm-up).
    pub t_s: f64,
    pub duration_s: f64,
    /// Deliveries per second in the last interval.
    pub achieved_rate: f64,
    /// Corrected p99 of the measured phase so far, µs.
    pub p99_us: f64,
    pub errors: u64,
    pub paused: bool,
}

/// One run's inputs.
#[derive(Debug)]
pub struct RateConfig<'a> {
    pub workload: &'a Workload,
    /// Messages per second per publisher.
    pub rate: u64,
    pub addr: SocketAddr,
    /// Names the run's interval log entries.
    pub label: String,
    /// Set to stop early (Ctrl-C): what was measured is kept, marked interrupted.
    pub cancel: Arc<AtomicBool>,
}

/// One run's outputs: the results entry and the interval log's bytes.
#[derive(Debug)]
pub struct RateOutcome {
    pub run: RateRun,
    pub interval_log: Vec<u8>,
    pub corrected: Hist,
    pub raw: Hist,
}

/// The clock every thread shares: nanoseconds since the run's origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock(pub Instant);

impl Clock {
    pub fn now_ns(self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
    pub fn at(self, ns: u64) -> Instant {
        self.0 + Duration::from_nanos(ns)
    }
}

/// Times of the run, ns since the origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phases {
    pub start: u64,
    pub measure: u64,
    pub end: u64,
}

#[derive(Debug)]
struct SubShared {
    corrected: Hist,
    raw: Hist,
    received: u64,
    /// Of those, the first arrival of each message (duplicates not counted).
    distinct: u64,
    window_received: u64,
    retransmissions: u64,
}

impl SubShared {
    fn new() -> Arc<Mutex<SubShared>> {
        Arc::new(Mutex::new(SubShared {
            corrected: hist::new_hist(),
            raw: hist::new_hist(),
            received: 0,
            distinct: 0,
            window_received: 0,
            retransmissions: 0,
        }))
    }
}

/// Read buffers of all subscribers together stay near this, each within 16–256 KiB.
const SUB_BUFFERS: usize = 32 * 1024 * 1024;
/// A subscriber's sequence bitmaps are sized ahead (no growth on the hot path) while
/// they hold at most this many bits; beyond (a subscriber hearing thousands of
/// publishers), they grow as numbers arrive.
const PRESIZED_BITS: u64 = 1 << 24;

/// Paces connection set-up at the workload's `connect_rate`.
struct Ramp {
    every: Option<Duration>,
    next: tokio::time::Instant,
}

impl Ramp {
    fn new(rate: Option<u32>) -> Ramp {
        Ramp {
            every: rate.map(|r| Duration::from_secs_f64(1.0 / f64::from(r.max(1)))),
            next: tokio::time::Instant::now(),
        }
    }

    async fn next(&mut self) {
        if let Some(every) = self.every {
            tokio::time::sleep_until(self.next).await;
            self.next += every;
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Errors {
    count: AtomicU64,
    first: Mutex<Vec<String>>,
}

impl Errors {
    /// The first error, if any.
    pub fn first(&self) -> Option<String> {
        lock(&self.first).first().cloned()
    }

    pub fn push(&self, e: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut v = self.first.lock().unwrap_or_else(PoisonError::into_inner);
        if v.len() < KEEP_ERRORS {
            tracing::warn!("bench: {e}");
            v.push(e);
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run_id() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ d.as_secs() as u32)
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// Runs `cfg.workload` at `cfg.rate` against `cfg.addr`, pausing `target` if the
/// workload says so, and reports progress once a second.
pub async fn run_rate(
    cfg: RateConfig<'_>,
    target: &mut dyn TargetControl,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RateOutcome, String> {
    let w = cfg.workload;
    let run = run_id();
    match w.protocol.as_str() {
        "mqtt" => run_with(crate::mqtt::Mqtt::new(w, run), run, cfg, target, progress).await,
        "stomp" => run_with(crate::stomp::Stomp::new(w, run), run, cfg, target, progress).await,
        "amqp091" => {
            run_with(
                crate::amqp::Amqp091::new(w, run),
                run,
                cfg,
                target,
                progress,
            )
            .await
        }
        "coap" => run_with(crate::coap::Coap::new(w, run), run, cfg, target, progress).await,
        other => Err(format!("no benchmark driver for protocol `{other}`")),
    }
}

async fn run_with<P: Protocol>(
    proto: P,
    run: u32,
    cfg: RateConfig<'_>,
    target: &mut dyn TargetControl,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RateOutcome, String> {
    let w = cfg.workload;
    let topo = w.topology;
    let goodbye = proto.goodbye();
    let clock = Clock(Instant::now());
    let errors = Arc::new(Errors::default());
    let stop_subs = Arc::new(AtomicBool::new(false));
    let stop_pubs = Arc::new(AtomicBool::new(false));

    // Subscribers and responders first, so no message is published before someone
    // listens; at the workload's connection rate when it ramps.
    let mut ramp = Ramp::new(w.connect_rate);
    let mut subs = Vec::new();
    for s in 0..topo.subscribers() {
        ramp.next().await;
        subs.push(proto.open_subscriber(cfg.addr, s).await?);
    }
    let mut responders = Vec::new();
    let responder_count = if proto.target_responds() {
        0
    } else {
        topo.responders()
    };
    for r in 0..responder_count {
        ramp.next().await;
        responders.push(proto.open_responder(cfg.addr, r).await?);
    }
    let mut pubs = Vec::new();
    for p in 0..topo.publishers() {
        ramp.next().await;
        let o = proto.open_publisher(cfg.addr, p).await?;
        pubs.push((PubConn::blocking(o.stream)?, o.in_flight, o.acks));
    }

    // Time to start every task and thread before the first message is due.
    let lead = (Duration::from_millis(50) + Duration::from_micros(200) * topo.connections())
        .as_nanos() as u64;
    let start = clock.now_ns() + lead;
    let phases = Phases {
        start,
        measure: start + w.warmup.0.as_nanos() as u64,
        end: start + (w.warmup.0 + w.duration.0).as_nanos() as u64,
    };
    let schedule = Schedule::new(phases.start, cfg.rate, phases.end - phases.start);

    let sub_shared: Vec<Arc<Mutex<SubShared>>> =
        (0..subs.len()).map(|_| SubShared::new()).collect();
    let pub_shared: Vec<Arc<Mutex<PubShared>>> = (0..pubs.len())
        .map(|_| Arc::new(Mutex::new(PubShared::new())))
        .collect();

    let header = |p: u32| Header {
        run: run as u16,
        publisher: p as u16,
        seq: 0,
        sent_ns: 0,
    };
    let sub_ctx = |(stream, receiver), s: u32, hears: Hears, shared, echo| SubCtx {
        stream,
        receiver,
        goodbye: goodbye.clone(),
        run,
        hears,
        streams: match hears {
            Hears::One(_) => 1,
            Hears::All => topo.publishers(),
        },
        clock,
        phases,
        schedule,
        shared,
        errors: Arc::clone(&errors),
        stop: Arc::clone(&stop_subs),
        buffer: (SUB_BUFFERS / topo.connections() as usize).clamp(16 * 1024, 256 * 1024),
        echo,
        name: s,
    };
    let mut sub_tasks = Vec::new();
    for (s, stream) in subs.into_iter().enumerate() {
        let ctx = sub_ctx(
            stream,
            s as u32,
            topo.hears(s as u32),
            Arc::clone(&sub_shared[s]),
            None,
        );
        sub_tasks.push(tokio::spawn(subscriber(ctx)));
    }
    // Responders answer each request with the same header on the reply topic; what they
    // record is not the run's (the requesters' reply readers measure the round trip).
    let mut responder_tasks = Vec::new();
    for (r, stream) in responders.into_iter().enumerate() {
        let r = r as u32;
        let echo = proto.echo_template(r, header(r), w.payload_bytes as usize);
        let ctx = sub_ctx(stream, r, Hears::One(r), SubShared::new(), Some(echo));
        responder_tasks.push(tokio::spawn(subscriber(ctx)));
    }
    let mut pub_threads = Vec::new();
    for (p, (stream, in_flight, acks)) in pubs.into_iter().enumerate() {
        let ctx = PubCtx {
            stream,
            acked: proto.acked(),
            in_flight,
            acks,
            goodbye: goodbye.clone(),
            name: format!("hilt-pub-{p}"),
            template: proto.template(p as u32, header(p as u32), w.payload_bytes as usize),
            clock,
            phases,
            schedule,
            shared: Arc::clone(&pub_shared[p]),
            errors: Arc::clone(&errors),
            stop: Arc::clone(&stop_pubs),
        };
        pub_threads.push(
            std::thread::Builder::new()
                .name(format!("hilt-pub-{p}"))
                .spawn(move || crate::publish::publisher(ctx))
                .map_err(|e| format!("start a publisher thread: {e}"))?,
        );
    }

    // The collector: once a second, and at the phase and pause boundaries.
    let mut log_buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    let now_ns = clock.now_ns();
    let measure_wall = if phases.measure >= now_ns {
        SystemTime::now() + Duration::from_nanos(phases.measure - now_ns)
    } else {
        SystemTime::now() - Duration::from_nanos(now_ns - phases.measure)
    };
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(&format!("hilt bench {}", cfg.label))
        .add_comment("values in nanoseconds; tags: corrected, raw, send-delay, ack")
        .with_base_time(measure_wall)
        .with_start_time(measure_wall)
        .with_max_value_divisor(1e6)
        .begin_log_with(&mut log_buf, &mut ser)
        .map_err(|e| format!("interval log: {e}"))?;

    let mut total = Totals::new();
    let mut interval = Totals::new();
    let pause = w.pause.map(|p| {
        let at = phases.measure + p.at.0.as_nanos() as u64;
        (at, at + p.length.0.as_nanos() as u64)
    });
    let mut paused_at: Option<Instant> = None;
    let mut pause_done: Option<PauseDone> = None;
    let mut cpu_at_measure = cpu::process_cpu();
    let mut broker_at_measure = target.usage();
    // When those were read: the collector may wake late on a loaded machine.
    let mut usage_from = Instant::now();
    let mut measure_started = false;
    let mut window_end: Option<WindowEnd> = None;
    let mut timeline = Vec::new();
    let mut last_tick = clock.now_ns();
    let mut next_tick = phases.measure;
    let mut last_progress_received = 0u64;
    let mut interrupted = false;
    let mut drain_since: Option<(Instant, u64)> = None;

    loop {
        let now = clock.now_ns();
        if !interrupted && cfg.cancel.load(Ordering::Relaxed) {
            interrupted = true;
            stop_pubs.store(true, Ordering::Relaxed);
        }
        // The pause: freeze at its time, thaw at its end.
        if let Some((at, until)) = pause {
            if paused_at.is_none() && pause_done.is_none() && now >= at {
                target.pause()?;
                paused_at = Some(Instant::now());
            }
            // Thawed no earlier than the full length after the freeze really began,
            // even when the collector woke late to start it.
            if let Some(since) = paused_at
                && ((now >= until && since.elapsed() >= Duration::from_nanos(until - at))
                    || interrupted)
            {
                let resumed = target.resume();
                let took = since.elapsed();
                paused_at = None;
                pause_done = Some(PauseDone {
                    at_ms: (since.saturating_duration_since(clock.at(phases.measure)))
                        .as_secs_f64()
                        * 1000.0,
                    for_ms: took.as_secs_f64() * 1000.0,
                });
                resumed?;
            }
        }
        if !measure_started && now >= phases.measure {
            measure_started = true;
            cpu_at_measure = cpu::process_cpu();
            broker_at_measure = target.usage();
            usage_from = Instant::now();
        }
        if now >= next_tick || (window_end.is_none() && now >= phases.end) {
            interval.collect(&sub_shared, &pub_shared);
            let tick_start = last_tick.max(phases.measure);
            if now > phases.measure && !interval.corrected.is_empty() {
                let start_ts = Duration::from_nanos(tick_start - phases.measure);
                let len = Duration::from_nanos(now.saturating_sub(tick_start).max(1));
                for (tag, h) in [
                    ("corrected", &interval.corrected),
                    ("raw", &interval.raw),
                    ("send-delay", &interval.send_delay),
                    ("ack", &interval.ack),
                ] {
                    if !h.is_empty() {
                        log.write_histogram(h, start_ts, len, Tag::new(tag))
                            .map_err(|e| format!("interval log: {e}"))?;
                    }
                }
            }
            // The interval's own p99, as its histogram in the log says.
            let interval_p99 = hist::percentiles(&interval.corrected).p99;
            total.absorb(&mut interval);
            let dt = (now - last_tick) as f64 / 1e9;
            let received = total.received;
            let rate = if dt > 0.0 {
                (received - last_progress_received) as f64 / dt
            } else {
                0.0
            };
            last_progress_received = received;
            // Whole intervals of the measured phase only: the warm-up is not a point, nor
            // is a sliver between two wake-ups of a collector that woke late.
            if last_tick >= phases.measure && last_tick < phases.end && dt >= 0.1 {
                timeline.push(TimelinePoint {
                    t_s: (now - phases.measure) as f64 / 1e9,
                    rate,
                    p99_us: interval_p99,
                });
            }
            progress(&Progress {
                t_s: (now as f64 - phases.measure as f64) / 1e9,
                duration_s: w.duration.0.as_secs_f64(),
                achieved_rate: rate,
                p99_us: hist::percentiles(&total.corrected).p99,
                errors: errors.count.load(Ordering::Relaxed),
                paused: paused_at.is_some(),
            });
            last_tick = now;
            while next_tick <= now {
                next_tick += 1_000_000_000;
            }
        }
        if window_end.is_none() && (now >= phases.end || interrupted) {
            window_end = Some((cpu::process_cpu(), target.usage(), Instant::now()));
        }
        // After the last send: wait for the deliveries still on their way.
        let pause_over = pause.is_none() || pause_done.is_some() || interrupted;
        if window_end.is_some() && pause_over {
            let published: Vec<u64> = pub_shared.iter().map(|p| lock(p).published).collect();
            let publishers_done = pub_threads.iter().all(|t| t.is_finished());
            let expected: u64 = published
                .iter()
                .enumerate()
                .map(|(p, n)| n * u64::from(topo.fan(p as u32)))
                .sum();
            // Duplicates (a retransmitted request answered twice) do not make up for
            // what is still on its way.
            let received: u64 = sub_shared.iter().map(|s| lock(s).distinct).sum();
            let (since, seen) = *drain_since.get_or_insert((Instant::now(), received));
            let idle = if received > seen {
                drain_since = Some((Instant::now(), received));
                Duration::ZERO
            } else {
                since.elapsed()
            };
            let started = window_end.map(|(_, _, t)| t).unwrap_or_else(Instant::now);
            if publishers_done
                && (received >= expected
                    || idle >= DRAIN_IDLE
                    || started.elapsed() >= w.duration.0.clamp(DRAIN_MIN, DRAIN_MAX)
                    || interrupted)
            {
                break;
            }
        }
        // Sleep until the next event; short enough to notice the drain finishing.
        let mut next = next_tick;
        if let Some((at, until)) = pause {
            if paused_at.is_none() && pause_done.is_none() {
                next = next.min(at);
            } else if let Some(since) = paused_at {
                let thaw = since + Duration::from_nanos(until - at);
                let thaw_ns = thaw.saturating_duration_since(clock.0).as_nanos() as u64;
                next = next.min(until.max(thaw_ns));
            }
        }
        if !measure_started {
            next = next.min(phases.measure);
        }
        if window_end.is_none() {
            next = next.min(phases.end);
        } else {
            next = next.min(clock.now_ns() + 20_000_000);
        }
        next = next.min(clock.now_ns() + 100_000_000);
        tokio::time::sleep_until(clock.at(next).into()).await;
    }

    stop_pubs.store(true, Ordering::Relaxed);
    stop_subs.store(true, Ordering::Relaxed);
    let mut trackers = Vec::new();
    for t in sub_tasks {
        trackers.push(
            t.await
                .map_err(|e| format!("a subscriber task failed: {e}"))?,
        );
    }
    for t in responder_tasks {
        let _ = t.await;
    }
    for t in pub_threads {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    // Whatever the last tick left.
    interval.collect(&sub_shared, &pub_shared);
    total.absorb(&mut interval);
    drop(log);

    let (cpu_end, broker_end, wall_end) =
        window_end.unwrap_or_else(|| (cpu::process_cpu(), target.usage(), Instant::now()));
    // Rates divide what was counted between the phase boundaries (deliveries and sends
    // are judged by their own clock readings) by the measured phase's length, cut short
    // only by an interruption; CPU use divides by the time between its two readings.
    // A collector that woke late stretches neither.
    let window = wall_end
        .saturating_duration_since(clock.at(phases.measure))
        .min(Duration::from_nanos(phases.end - phases.measure))
        .as_secs_f64()
        .max(1e-9);
    let sampled = wall_end
        .saturating_duration_since(usage_from)
        .as_secs_f64()
        .max(1e-9);
    let published: Vec<u64> = pub_shared.iter().map(|p| lock(p).published).collect();
    let mut counts = MessageCounts {
        published: published.iter().sum(),
        ..MessageCounts::default()
    };
    // One stream per publisher and delivery group hearing it; competing consumers'
    // views of a publisher are merged into one.
    let mut flows: BTreeMap<(u32, u32), SeqTracker> = BTreeMap::new();
    for (s, tr) in trackers.into_iter().enumerate() {
        counts.foreign += tr.foreign;
        let hears = topo.hears(s as u32);
        for (slot, seq) in tr.streams.into_iter().enumerate() {
            let p = match hears {
                Hears::One(p) => p,
                Hears::All => slot as u32,
            };
            match flows.entry((topo.group(s as u32), p)) {
                Entry::Vacant(v) => {
                    v.insert(seq);
                }
                Entry::Occupied(mut o) => o.get_mut().merge(&seq),
            }
        }
    }
    for ((_, p), seq) in &flows {
        let sent = published.get(*p as usize).copied().unwrap_or(0);
        let lost = seq.lost(sent);
        counts.expected += sent;
        counts.received += seq.received;
        counts.duplicates += seq.duplicates;
        counts.reordered += seq.reordered;
        counts.lost += lost;
        counts.flows += 1;
        counts.flows_with_loss += u64::from(lost > 0);
        counts.flows_with_duplicates += u64::from(seq.duplicates > 0);
        counts.flows_with_reordering += u64::from(seq.reordered > 0);
    }
    let window_published: u64 = pub_shared.iter().map(|p| lock(p).window_published).sum();
    let window_received: u64 = sub_shared.iter().map(|s| lock(s).window_received).sum();
    counts.retransmissions = proto
        .retransmits()
        .then(|| sub_shared.iter().map(|s| lock(s).retransmissions).sum());
    let write_blocked: Duration = pub_shared.iter().map(|p| lock(p).write_blocked).sum();

    let cores = cpu::cores();
    let cpu_percent = (cpu_end.saturating_sub(cpu_at_measure)).as_secs_f64() / sampled * 100.0;
    let send_delay = hist::percentiles(&total.send_delay);
    let mut reasons = Vec::new();
    if cpu_percent >= CPU_LIMIT * 100.0 * f64::from(cores) {
        reasons.push(format!(
            "client CPU {cpu_percent:.0}% ≥ {:.0}% of the {cores} cores available",
            CPU_LIMIT * 100.0
        ));
    }
    // A sender blocked by a full socket is the target's backpressure, not the client's
    // limit; a late sender that was not blocked is the client's.
    let blocked_share =
        write_blocked.as_secs_f64() / (window * f64::from(topo.publishers())).max(1e-9);
    if send_delay.p99 > SEND_DELAY_LIMIT_US && blocked_share < 0.1 {
        reasons.push(format!(
            "send delay p99 {:.0} µs > {SEND_DELAY_LIMIT_US:.0} µs while publishers were not blocked by the target",
            send_delay.p99
        ));
    }
    let broker = BrokerUse {
        cpu_percent: match (broker_at_measure.0, broker_end.0) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / (sampled * 1000.0) * 100.0),
            _ => None,
        },
        peak_rss_kib: broker_end.1,
    };
    let first_errors = lock(&errors.first).clone();
    let run_out = RateRun {
        rate_per_publisher: cfg.rate,
        intended_publish_rate: (cfg.rate * u64::from(topo.publishers())) as f64,
        publish_rate: window_published as f64 / window,
        achieved_rate: window_received as f64 / window,
        duration_s: window,
        latency_corrected: hist::percentiles(&total.corrected),
        latency_raw: hist::percentiles(&total.raw),
        send_delay,
        ack_latency: proto.acked().then(|| hist::percentiles(&total.ack)),
        counts,
        client: ClientUse {
            cpu_percent,
            cores,
            write_blocked_ms: write_blocked.as_secs_f64() * 1000.0,
            client_bound: !reasons.is_empty(),
            client_bound_reasons: reasons,
        },
        broker,
        pause: pause_done,
        spectrum: hist::spectrum(&total.corrected, &total.raw),
        timeline,
        interval_logs: Default::default(),
        errors: first_errors,
        error_count: errors.count.load(Ordering::Relaxed),
        interrupted,
        search: None,
    };
    Ok(RateOutcome {
        run: run_out,
        interval_log: log_buf,
        corrected: total.corrected,
        raw: total.raw,
    })
}

/// At the end of the measured phase: client CPU, the target's usage, the wall clock.
type WindowEnd = (Duration, (Option<u64>, Option<u64>), Instant);

/// Histograms merged across connections.
struct Totals {
    corrected: Hist,
    raw: Hist,
    send_delay: Hist,
    ack: Hist,
    received: u64,
}

impl Totals {
    fn new() -> Totals {
        Totals {
            corrected: hist::new_hist(),
            raw: hist::new_hist(),
            send_delay: hist::new_hist(),
            ack: hist::new_hist(),
            received: 0,
        }
    }

    /// Moves each connection's histograms since the last call into `self`.
    fn collect(&mut self, subs: &[Arc<Mutex<SubShared>>], pubs: &[Arc<Mutex<PubShared>>]) {
        let mut received = 0;
        for s in subs {
            let mut s = lock(s);
            hist::merge(&mut self.corrected, &s.corrected);
            hist::merge(&mut self.raw, &s.raw);
            s.corrected.reset();
            s.raw.reset();
            received += s.received;
        }
        self.received = received;
        for p in pubs {
            let mut p = lock(p);
            hist::merge(&mut self.send_delay, &p.send_delay);
            hist::merge(&mut self.ack, &p.ack);
            p.send_delay.reset();
            p.ack.reset();
        }
    }

    fn absorb(&mut self, from: &mut Totals) {
        hist::merge(&mut self.corrected, &from.corrected);
        hist::merge(&mut self.raw, &from.raw);
        hist::merge(&mut self.send_delay, &from.send_delay);
        hist::merge(&mut self.ack, &from.ack);
        self.received = from.received;
        from.corrected.reset();
        from.raw.reset();
        from.send_delay.reset();
        from.ack.reset();
    }
}

struct SubCtx<R, T> {
    stream: Conn,
    receiver: R,
    goodbye: Vec<u8>,
    run: u32,
    /// The publishers whose messages it expects, and how many streams that is.
    hears: Hears,
    streams: u32,
    clock: Clock,
    phases: Phases,
    schedule: Schedule,
    shared: Arc<Mutex<SubShared>>,
    errors: Arc<Errors>,
    stop: Arc<AtomicBool>,
    /// Bytes of the read buffer.
    buffer: usize,
    /// A responder: answers each message with this message, carrying its header.
    echo: Option<T>,
    name: u32,
}

struct SubResult {
    /// One per publisher heard, by [`Hears::slot`].
    streams: Vec<SeqTracker>,
    foreign: u64,
}

async fn subscriber<R: Receiver, T: Template>(mut c: SubCtx<R, T>) -> SubResult {
    let per_stream = if c.schedule.total * u64::from(c.streams) <= PRESIZED_BITS {
        c.schedule.total
    } else {
        0
    };
    let mut streams: Vec<SeqTracker> = (0..c.streams)
        .map(|_| SeqTracker::with_capacity(per_stream))
        .collect();
    let mut foreign = 0u64;
    let mut buf = vec![0u8; c.buffer];
    let mut filled = 0usize;
    // Acknowledgements, and a responder's answers.
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut echoed = 0u64;
    while !c.stop.load(Ordering::Relaxed) {
        // Wake now and then to notice the end of the run.
        let read = tokio::time::timeout(Duration::from_millis(50), async {
            match &mut c.stream {
                Conn::Stream(s) => s.read(&mut buf[filled..]).await,
                Conn::Datagram { socket, .. } => socket.recv(&mut buf[filled..]).await,
            }
        })
        .await;
        let n = match read {
            Err(_) => {
                c.receiver.tick(c.clock.now_ns(), &mut out);
                if !out.is_empty() {
                    if let Err(e) = conn_write(&mut c.stream, &out).await {
                        c.errors.push(format!("subscriber write: {e}"));
                        break;
                    }
                    out.clear();
                }
                continue;
            }
            Ok(Ok(0)) => {
                c.errors.push(format!(
                    "subscriber {}'s connection was closed by the target",
                    c.name
                ));
                break;
            }
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                c.errors.push(format!("subscriber read: {e}"));
                break;
            }
        };
        filled += n;
        let now = c.clock.now_ns();
        let mut at = 0;
        let mut broken = false;
        {
            let mut sh = lock(&c.shared);
            loop {
                match c.receiver.read(&buf[at..filled], &mut out) {
                    Ok(Decoded::Done(Some(payload), len)) => {
                        let payload = &buf[at + payload.start..at + payload.end];
                        at += len;
                        sh.received += 1;
                        let mine = c.receiver.header(payload).and_then(|h| {
                            let slot = c.hears.slot(u32::from(h.publisher))?;
                            (h.run == c.run as u16).then_some((h, slot))
                        });
                        let Some((h, slot)) = mine else {
                            foreign += 1;
                            continue;
                        };
                        if streams[slot].record(u64::from(h.seq)) != Arrival::Duplicate {
                            sh.distinct += 1;
                        }
                        if let Some(echo) = &c.echo {
                            echo.append(&mut out, echoed, h.seq, h.sent_ns);
                            echoed += 1;
                        }
                        if now >= c.phases.measure && now <= c.phases.end {
                            sh.window_received += 1;
                        }
                        let intended = c.schedule.intended(u64::from(h.seq));
                        if intended >= c.phases.measure {
                            sh.corrected.saturating_record(now.saturating_sub(intended));
                            let sent = c.receiver.sent_ns(&h, intended);
                            sh.raw.saturating_record(now.saturating_sub(sent));
                        }
                    }
                    Ok(Decoded::Done(None, len)) => at += len,
                    Ok(Decoded::NeedMore(more)) => {
                        // A frame larger than the buffer: make room once.
                        if at == 0 && filled + more > buf.len() {
                            buf.resize(filled + more, 0);
                        }
                        break;
                    }
                    Err(e) => {
                        c.errors.push(e);
                        broken = true;
                        break;
                    }
                }
            }
        }
        c.receiver.flush(&mut out);
        c.receiver.tick(now, &mut out);
        lock(&c.shared).retransmissions = c.receiver.retransmissions();
        buf.copy_within(at..filled, 0);
        filled -= at;
        if matches!(c.stream, Conn::Datagram { .. }) {
            // A datagram is read whole or not at all.
            filled = 0;
        }
        if !out.is_empty() {
            if let Err(e) = conn_write(&mut c.stream, &out).await {
                c.errors.push(format!("subscriber write: {e}"));
                break;
            }
            out.clear();
        }
        if broken {
            break;
        }
    }
    lock(&c.shared).retransmissions = c.receiver.retransmissions();
    let _ = conn_write(&mut c.stream, &c.goodbye).await;
    SubResult { streams, foreign }
}

/// Writes `out` whole: to a stream as it is, to a datagram socket as its datagrams.
async fn conn_write(conn: &mut Conn, out: &[u8]) -> std::io::Result<()> {
    match conn {
        Conn::Stream(s) => s.write_all(out).await,
        Conn::Datagram { socket, frame: 0 } => {
            let mut rest = out;
            while let [a, b, tail @ ..] = rest {
                let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
                socket.send(&tail[..len]).await?;
                rest = &tail[len..];
            }
            Ok(())
        }
        Conn::Datagram { socket, frame } => {
            for d in out.chunks(*frame) {
                socket.send(d).await?;
            }
            Ok(())
        }
    }
}

/// For tests: a target that cannot be paused and uses nothing.
#[derive(Debug, Default)]
pub struct NoControl;

impl TargetControl for NoControl {
    fn pause(&mut self) -> Result<(), String> {
        Err("this target cannot be paused".into())
    }
    fn resume(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn usage(&mut self) -> (Option<u64>, Option<u64>) {
        (None, None)
    }
}
