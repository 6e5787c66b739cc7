//! The SLIP bridge: a device's SLIP frames on one side, the host's network (a TUN
//! interface) on the other, and hilt's RPL root in between.
//!
//! The device is a leaf of a one-hop DODAG whose root is the host: hilt's own root state
//! machine ([`hilt_wire::rpl::Node`], sans-IO) answers the device's DIS, sends it DIOs
//! with the prefix, and accepts its DAO. RPL control messages (ICMPv6 type 155) from
//! the device go to the root; everything else goes to the host side, and everything
//! the host sends goes to the device. Every packet in both directions is kept, with
//! its time, for a pcapng trace. The bridge reports when the device has joined (the
//! root accepted a DAO for it).
//!
//! A relay ([`Bridge::relay`]) is the same bridge without the root: every packet goes
//! across as it is, so a root elsewhere (hilt's RPL suite on the TUN interface) talks
//! to the device itself. A [`Mutator`] may sit in the relay: a negative control then
//! breaks the device's behaviour on the wire (what it sends, what it hears) the same
//! way `hilt rpl node --mutate` breaks hilt's own node.

use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hilt_core::Instant;
use hilt_wire::rpl::{
    Datagram, Event, FrameKind, LinkTarget, Mop, Node, NodeConfig, Payload, RootConfig,
    TYPE_RPL_CONTROL, Transmit, with_iid,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken as CancelFlag;

use crate::rpl::Mutator;
use crate::serial::LineWriter;
use crate::tun::Tun;

/// The smallest IPv6 header.
const IPV6_HEADER: usize = 40;
const NEXT_HEADER_ICMPV6: u8 = 58;

/// Where the host side of the bridge goes.
#[derive(Debug)]
pub enum HostSide {
    /// A TUN interface: the kernel routes the prefix to the device.
    Tun(Tun),
    /// Channels, for tests without root: packets to the host, packets from it.
    Channels {
        to_host: mpsc::Sender<Vec<u8>>,
        from_host: mpsc::Receiver<Vec<u8>>,
    },
}

#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The /64 the root announces.
    pub prefix: Ipv6Addr,
    /// The root's interface identifier (its DODAGID is prefix::iid).
    pub root_iid: u64,
    /// Seeds the root's Trickle timer.
    pub seed: u64,
}

impl BridgeConfig {
    pub fn root_address(&self) -> Ipv6Addr {
        with_iid(self.prefix, self.root_iid)
    }
}

/// What the bridge has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeState {
    /// The device's address once the root accepted its DAO, and when (from the start).
    pub joined: Option<(Ipv6Addr, Duration)>,
    pub from_device: u64,
    pub to_device: u64,
    pub rpl_from_device: u64,
    pub rpl_to_device: u64,
    /// Frames from the device that are not IPv6 packets.
    pub not_ipv6: u64,
    /// Rules of RFC 6550 the device broke, as the root saw them.
    pub violations: Vec<String>,
}

/// A packet as it crossed the bridge: µs since the Unix epoch, and the bytes.
pub type Captured = (u64, Vec<u8>);

/// A running bridge.
#[derive(Debug)]
pub struct Bridge {
    state: watch::Receiver<BridgeState>,
    capture: Arc<Mutex<Vec<Captured>>>,
    stop: CancelFlag,
    task: tokio::task::JoinHandle<()>,
}

impl Bridge {
    /// Starts bridging `frames` (from the device's line) and `writer` (to it) with `host`.
    pub fn start(
        frames: mpsc::Receiver<Vec<u8>>,
        writer: LineWriter,
        host: HostSide,
        cfg: BridgeConfig,
    ) -> Self {
        Self::spawn(|state, capture, stop| run(frames, writer, host, cfg, state, capture, stop))
    }

    /// Relays `frames` (from the device) to `host` and back with no root in between,
    /// `mutator` applied: the device's datagrams as it would send them, the host's as
    /// it would hear them.
    pub fn relay(
        frames: mpsc::Receiver<Vec<u8>>,
        writer: LineWriter,
        host: HostSide,
        mutator: Mutator,
    ) -> Self {
        Self::spawn(|state, capture, stop| {
            run_relay(frames, writer, host, mutator, state, capture, stop)
        })
    }

    /// Runs the bridge `task` makes from the state, capture and stop flag it reports
    /// through and obeys.
    fn spawn<F>(
        task: impl FnOnce(watch::Sender<BridgeState>, Arc<Mutex<Vec<Captured>>>, CancelFlag) -> F,
    ) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (state_tx, state) = watch::channel(BridgeState::default());
        let capture = Arc::new(Mutex::new(Vec::new()));
        let stop = CancelFlag::default();
        let task = tokio::spawn(task(state_tx, Arc::clone(&capture), stop.clone()));
        Bridge {
            state,
            capture,
            stop,
            task,
        }
    }

    pub fn state(&self) -> BridgeState {
        self.state.borrow().clone()
    }

    /// Waits until the device has joined the DODAG, or `timeout` passes.
    pub async fn joined(&mut self, timeout: Duration) -> Option<(Ipv6Addr, Duration)> {
        let wait = self.state.wait_for(|s| s.joined.is_some());
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(s)) => s.joined,
            _ => None,
        }
    }

    /// Waits until the device joins again after `after` (a reset).
    pub async fn rejoined(
        &mut self,
        after: Duration,
        timeout: Duration,
    ) -> Option<(Ipv6Addr, Duration)> {
        let wait = self
            .state
            .wait_for(|s| s.joined.is_some_and(|(_, at)| at > after));
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(s)) => s.joined,
            _ => None,
        }
    }

    /// Every packet so far.
    pub fn captured(&self) -> Vec<Captured> {
        lock(&self.capture).clone()
    }

    /// Stops the bridge.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// The destination of `packet` if it is a DAO-ACK accepting a DAO (status below 128,
/// RFC 6550 §6.5) carried without extension headers, as the root sends them.
fn accepting_dao_ack(packet: &[u8]) -> Option<Ipv6Addr> {
    const CODE_DAO_ACK: u8 = 0x03;
    if packet.get(6) != Some(&NEXT_HEADER_ICMPV6)
        || packet.get(IPV6_HEADER) != Some(&TYPE_RPL_CONTROL)
        || packet.get(IPV6_HEADER + 1) != Some(&CODE_DAO_ACK)
    {
        return None;
    }
    // Base: instance, D flag, sequence, status (after the 4-byte ICMPv6 header).
    let status = *packet.get(IPV6_HEADER + 7)?;
    let dst: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
    (status < 128).then(|| Ipv6Addr::from(dst))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Whether `packet` is an RPL control message (ICMPv6 type 155), extension headers
/// (the RPL Option in a Hop-by-Hop header) allowed.
fn is_rpl_control(packet: &[u8]) -> bool {
    match Datagram::parse(packet) {
        Ok(dg) => matches!(dg.payload, Payload::Rpl(_)),
        // A malformed one still goes to the root, which names the rule it breaks.
        Err(_) => {
            packet.get(6) == Some(&NEXT_HEADER_ICMPV6)
                && packet.get(IPV6_HEADER) == Some(&TYPE_RPL_CONTROL)
        }
    }
}

fn source(packet: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    if let Some(s) = packet.get(8..24) {
        a.copy_from_slice(s);
    }
    Ipv6Addr::from(a)
}

async fn run(
    mut frames: mpsc::Receiver<Vec<u8>>,
    writer: LineWriter,
    host: HostSide,
    cfg: BridgeConfig,
    state: watch::Sender<BridgeState>,
    capture: Arc<Mutex<Vec<Captured>>>,
    stop: CancelFlag,
) {
    let started = tokio::time::Instant::now();
    let now = || Instant::from_micros(started.elapsed().as_micros() as u64);
    let mut root = Node::root(
        NodeConfig::new(cfg.root_iid, cfg.seed),
        RootConfig {
            prefix: cfg.prefix,
            ..RootConfig::new(Mop::NonStoring)
        },
    );
    root.start(now());
    let record = |p: &[u8]| lock(&capture).push((wall_us(), p.to_vec()));
    let to_device = |p: &[u8]| {
        record(p);
        if let Err(e) = writer.send_frame(p) {
            tracing::warn!("SLIP bridge: {e}");
        }
    };
    let (mut tun, mut to_host, mut from_host) = match host {
        HostSide::Tun(t) => (Some(t), None, None),
        HostSide::Channels { to_host, from_host } => (None, Some(to_host), Some(from_host)),
    };
    let mut buf = vec![0u8; 65_536];
    loop {
        // The root first: what it has to say goes out before anything new comes in.
        while let Some(t) = root.poll_transmit() {
            // A device that rebooted joins again with a route the root already holds
            // (no RouteAdded): the root accepting its DAO is what says it is back.
            let accepted = accepting_dao_ack(&t.bytes);
            state.send_modify(|s| {
                s.rpl_to_device += 1;
                s.to_device += 1;
                if let Some(device) = accepted
                    && s.joined.is_some()
                {
                    s.joined = Some((device, started.elapsed()));
                }
            });
            to_device(&t.bytes);
        }
        while let Some(e) = root.poll_event() {
            match e {
                Event::RouteAdded { target } => {
                    let at = started.elapsed();
                    tracing::info!("SLIP bridge: {target} joined the DODAG after {at:?}");
                    state.send_modify(|s| s.joined = Some((target, at)));
                }
                Event::Violation { from, rule, detail } => state.send_modify(|s| {
                    s.violations.push(format!("{from}: {rule}: {detail}"));
                }),
                _ => {}
            }
        }
        let wake = root
            .poll_timeout()
            .map(|t| started + Duration::from_micros(t.as_micros()))
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep_until(wake) => root.handle_timeout(now()),
            f = frames.recv() => {
                let Some(f) = f else { break };
                record(&f);
                state.send_modify(|s| s.from_device += 1);
                if f.first().map(|b| b >> 4) != Some(6) {
                    state.send_modify(|s| s.not_ipv6 += 1);
                } else if is_rpl_control(&f) {
                    state.send_modify(|s| s.rpl_from_device += 1);
                    root.handle_input(now(), source(&f), &f);
                } else if let Some(t) = tun.as_mut() {
                    if let Err(e) = t.send(&f).await {
                        tracing::warn!("SLIP bridge: to {}: {e}", t.name());
                    }
                } else if let Some(h) = to_host.as_mut() {
                    let _ = h.send(f).await;
                }
            }
            p = host_recv(tun.as_ref(), from_host.as_mut(), &mut buf) => {
                let Some(p) = p else { break };
                // Only IPv6 goes down the link (a TUN can hand out nothing else, but the
                // check keeps the device's input what the contract promises).
                if p.first().map(|b| b >> 4) == Some(6) {
                    state.send_modify(|s| s.to_device += 1);
                    to_device(&p);
                }
            }
        }
    }
}

fn destination(packet: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    if let Some(s) = packet.get(24..40) {
        a.copy_from_slice(s);
    }
    Ipv6Addr::from(a)
}

async fn run_relay(
    mut frames: mpsc::Receiver<Vec<u8>>,
    writer: LineWriter,
    host: HostSide,
    mut mutator: Mutator,
    state: watch::Sender<BridgeState>,
    capture: Arc<Mutex<Vec<Captured>>>,
    stop: CancelFlag,
) {
    let started = tokio::time::Instant::now();
    let record = |p: &[u8]| lock(&capture).push((wall_us(), p.to_vec()));
    let (tun, mut to_host, mut from_host) = match host {
        HostSide::Tun(t) => (Some(t), None, None),
        HostSide::Channels { to_host, from_host } => (None, Some(to_host), Some(from_host)),
    };
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            f = frames.recv() => {
                let Some(f) = f else { break };
                state.send_modify(|s| s.from_device += 1);
                if f.first().map(|b| b >> 4) != Some(6) || f.len() < IPV6_HEADER {
                    state.send_modify(|s| s.not_ipv6 += 1);
                    continue;
                }
                if is_rpl_control(&f) {
                    state.send_modify(|s| s.rpl_from_device += 1);
                }
                let dst = destination(&f);
                let to = if dst.is_multicast() {
                    LinkTarget::Broadcast
                } else {
                    LinkTarget::Neighbor(dst)
                };
                let sent = mutator.outgoing(Transmit { to, kind: FrameKind::Data, bytes: f });
                for t in sent.into_iter().chain(mutator.take_extra()) {
                    record(&t.bytes);
                    if let Some(tun) = tun.as_ref() {
                        if let Err(e) = tun.send(&t.bytes).await {
                            tracing::warn!("SLIP relay: to {}: {e}", tun.name());
                        }
                    } else if let Some(h) = to_host.as_mut() {
                        let _ = h.send(t.bytes).await;
                    }
                }
            }
            p = host_recv(tun.as_ref(), from_host.as_mut(), &mut buf) => {
                let Some(p) = p else { break };
                if p.first().map(|b| b >> 4) != Some(6) || p.len() < IPV6_HEADER {
                    continue;
                }
                let now = Instant::from_micros(started.elapsed().as_micros() as u64);
                let rpl = is_rpl_control(&p);
                let Some(p) = mutator.incoming(now, None, source(&p), p) else {
                    continue;
                };
                state.send_modify(|s| {
                    s.to_device += 1;
                    if rpl {
                        s.rpl_to_device += 1;
                    }
                });
                record(&p);
                if let Err(e) = writer.send_frame(&p) {
                    tracing::warn!("SLIP relay: {e}");
                }
            }
        }
    }
}

async fn host_recv(
    tun: Option<&Tun>,
    from_host: Option<&mut mpsc::Receiver<Vec<u8>>>,
    buf: &mut [u8],
) -> Option<Vec<u8>> {
    if let Some(t) = tun {
        return match t.recv(buf).await {
            Ok(n) => Some(buf[..n].to_vec()),
            Err(e) => {
                tracing::warn!("SLIP bridge: reading {}: {e}", t.name());
                None
            }
        };
    }
    match from_host {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::serial::DeviceLine;
    use hilt_wire::rpl::{ECHO_REQUEST, RplMessage};
    use serialport::{SerialPort, TTYPort};

    /// The device's interface identifier in the firmware contract: 02:00:00:ff:fe:00:00:01
    /// with the U/L bit flipped.
    const DEVICE_IID: u64 = 0x0000_00ff_fe00_0001;

    /// A device made of hilt's own RPL node core on the far end of a pty, speaking SLIP
    /// through the same line code: it joins whatever root the bridge runs.
    fn fake_device(line: DeviceLine) -> mpsc::Receiver<Event> {
        let (events_tx, events) = mpsc::channel(64);
        let mut line = line;
        let mut frames = line.take_frames().expect("frames");
        let writer = line.writer();
        tokio::spawn(async move {
            let _line = line;
            let started = tokio::time::Instant::now();
            let now = || Instant::from_micros(started.elapsed().as_micros() as u64);
            let mut cfg = NodeConfig::new(DEVICE_IID, 7);
            cfg.dis_interval = Duration::from_millis(500);
            cfg.dao_delay = Duration::from_millis(50);
            let mut node = Node::new(cfg);
            node.start(now());
            loop {
                while let Some(t) = node.poll_transmit() {
                    let _ = writer.send_frame(&t.bytes);
                }
                while let Some(e) = node.poll_event() {
                    let _ = events_tx.send(e).await;
                }
                let wake = node
                    .poll_timeout()
                    .map(|t| started + Duration::from_micros(t.as_micros()))
                    .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(60));
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => node.handle_timeout(now()),
                    f = frames.recv() => match f {
                        Some(f) => node.handle_input(now(), source(&f), &f),
                        None => break,
                    },
                }
            }
        });
        events
    }

    #[tokio::test]
    async fn a_device_joins_over_slip_and_host_packets_reach_it() {
        let (master, slave) = TTYPort::pair().expect("a pty pair");
        let name = slave.name().unwrap_or_default();
        let mut hilt_side = DeviceLine::from_port(&name, slave).unwrap();
        let device_side = DeviceLine::from_port("pty master", master).unwrap();
        let mut device_events = fake_device(device_side);
        let (to_host, mut host_rx) = mpsc::channel(16);
        let (host_tx, from_host) = mpsc::channel(16);
        let cfg = BridgeConfig {
            prefix: "2001:db8::".parse().unwrap(),
            root_iid: 1,
            seed: 1,
        };
        let root = cfg.root_address();
        let mut bridge = Bridge::start(
            hilt_side.take_frames().unwrap(),
            hilt_side.writer(),
            HostSide::Channels { to_host, from_host },
            cfg,
        );
        let Some((device, _)) = bridge.joined(Duration::from_secs(20)).await else {
            panic!("the device did not join within 20 s: {:?}", bridge.state());
        };
        assert_eq!(device, with_iid("2001:db8::".parse().unwrap(), DEVICE_IID));
        // An Echo Request from the host side crosses the bridge to the device.
        let mut ping = Datagram::control(
            root,
            device,
            RplMessage::Unknown {
                code: 0,
                body: Vec::new(),
            },
        );
        ping.ipv6.hop_limit = 64;
        ping.payload = Payload::Icmpv6 {
            msg_type: ECHO_REQUEST,
            code: 0,
            body: vec![0, 9, 0, 1],
        };
        host_tx.send(ping.to_bytes()).await.unwrap();
        let delivered = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(e) = device_events.recv().await {
                if let Event::Delivered { ident: 9, .. } = e {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(delivered, Ok(true));
        let s = bridge.state();
        assert!(s.rpl_from_device >= 2, "DIS and DAO at least: {s:?}");
        assert!(s.violations.is_empty(), "{s:?}");
        assert!(host_rx.try_recv().is_err(), "RPL stays with the root");
        let captured = bridge.captured();
        assert!(captured.len() as u64 >= s.from_device + s.to_device);
        bridge.stop().await;
    }
}
