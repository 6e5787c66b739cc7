//! The test bench of one TD: the link to the implementation under test (a veth pair
//! into a namespace made for the test, or an interface its command brings up), the IUT
//! process, everything heard from it, and hilt's scripted root.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hilt_core::Direction;
use hilt_core::target::DeviceCommand;
use hilt_net::Recorder;
use hilt_net::netns::{self, VethLink};
use hilt_net::rpl::{Ipv6Link, PacketLink};
use hilt_peers::CommandRun;
use hilt_runner::{Ctx, Failure};
use hilt_wire::rpl::{
    ALL_RPL_NODES, Dao, DaoAck, Datagram, Dio, Dis, DodagConfiguration, Icmpv6Packet, LinkTarget,
    Mop, Payload, PrefixInformation, RplMessage, RplOption,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The capability of a target whose command runs inside a namespace hilt makes, on an
/// interface `rpl0` linked to hilt by a veth pair. Without it, the command runs in
/// hilt's namespace and must bring up the interface named `{iface}` itself (a TUN
/// bridged to a device, say), which hilt waits for.
pub const NETNS: &str = "rpl.netns";

/// One datagram the IUT put on the link.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Since the bench started.
    pub t: Duration,
    /// The neighbour it came from (link-local).
    pub from: Ipv6Addr,
    pub bytes: Vec<u8>,
    pub dg: Option<Datagram>,
}

impl Seen {
    pub fn rpl(&self) -> Option<&RplMessage> {
        match &self.dg.as_ref()?.payload {
            Payload::Rpl(m) => Some(m),
            _ => None,
        }
    }

    pub fn dis(&self) -> Option<&Dis> {
        match self.rpl()? {
            RplMessage::Dis(d) => Some(d),
            _ => None,
        }
    }

    pub fn dio(&self) -> Option<&Dio> {
        match self.rpl()? {
            RplMessage::Dio(d) => Some(d),
            _ => None,
        }
    }

    pub fn dao(&self) -> Option<&Dao> {
        match self.rpl()? {
            RplMessage::Dao(d) => Some(d),
            _ => None,
        }
    }

    pub fn dao_ack(&self) -> Option<&DaoAck> {
        match self.rpl()? {
            RplMessage::DaoAck(d) => Some(d),
            _ => None,
        }
    }

    pub fn dst(&self) -> Option<Ipv6Addr> {
        self.dg.as_ref().map(|d| d.ipv6.dst_addr)
    }

    pub fn src(&self) -> Option<Ipv6Addr> {
        self.dg.as_ref().map(|d| d.ipv6.src_addr)
    }

    /// A multicast DIO with a finite Rank.
    pub fn multicast_dio(&self) -> Option<&Dio> {
        self.dio()
            .filter(|d| d.rank != hilt_wire::rpl::INFINITE_RANK)
            .filter(|_| self.dst() == Some(ALL_RPL_NODES))
    }

    /// The frame in hex, for failure messages.
    pub fn hex(&self) -> String {
        crate::hex_excerpt(&self.bytes)
    }
}

/// How hilt's root answers DAOs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    Ack,
    Silent,
    /// With DAOSequence + 1.
    WrongSequence,
}

/// How hilt's root shapes its DIOs: well formed, or broken one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DioShape {
    Good,
    MhriZero,
    OptionOverrun,
    BadChecksum,
    RankBelowRoot,
    LongPadN,
    UnknownOption,
    InfiniteRank,
}

impl DioShape {
    pub fn parse(s: &str) -> Option<DioShape> {
        Some(match s {
            "good" => DioShape::Good,
            "mhri-zero" => DioShape::MhriZero,
            "option-overrun" => DioShape::OptionOverrun,
            "bad-checksum" => DioShape::BadChecksum,
            "rank-below-root" => DioShape::RankBelowRoot,
            "long-padn" => DioShape::LongPadN,
            "unknown-option" => DioShape::UnknownOption,
            "infinite-rank" => DioShape::InfiniteRank,
            _ => return None,
        })
    }
}

/// hilt's root, scripted: DIOs every `period` while `sending`, answers to DISes, and
/// DAO-ACKs as `ack` says. Tests change it while it runs.
#[derive(Debug, Clone)]
pub struct RootScript {
    pub dio: Dio,
    pub shape: DioShape,
    pub period: Duration,
    pub sending: bool,
    pub ack: AckMode,
}

/// hilt's addresses on the link.
pub const HILT_ROOT: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
pub const HILT_NODE: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
pub const PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0);
pub const DODAG_ID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const INSTANCE: u8 = 30;
pub const VERSION: u8 = 240;

impl RootScript {
    /// A Non-Storing, grounded DODAG 2001:db8::1 (RPLInstanceID 30, Version 240), OF0,
    /// Imin 2^7 ms, 5 doublings (Imax 4.096 s), k = 0, DefaultLifetime 33 minutes.
    pub fn new() -> RootScript {
        let config = DodagConfiguration {
            dio_interval_min: 7,
            dio_interval_doublings: 5,
            dio_redundancy_constant: 0,
            max_rank_increase: 7 * 256,
            min_hop_rank_increase: 256,
            default_lifetime: 33,
            lifetime_unit: 60,
            ..DodagConfiguration::default()
        };
        let pio = PrefixInformation {
            prefix_len: 64,
            on_link: false,
            autonomous: true,
            router_address: true,
            reserved1: 0,
            valid_lifetime: u32::MAX,
            preferred_lifetime: u32::MAX,
            reserved2: 0,
            prefix: DODAG_ID,
        };
        RootScript {
            dio: Dio {
                instance_id: INSTANCE,
                version: VERSION,
                rank: 256,
                grounded: true,
                zero_bit: false,
                mop: Mop::NonStoring,
                preference: 0,
                dtsn: 240,
                flags: 0,
                reserved: 0,
                dodag_id: DODAG_ID,
                options: vec![
                    RplOption::DodagConfiguration(config),
                    RplOption::PrefixInformation(pio),
                ],
            },
            shape: DioShape::Good,
            period: Duration::from_millis(250),
            sending: true,
            ack: AckMode::Ack,
        }
    }

    pub fn config_mut(&mut self) -> Option<&mut DodagConfiguration> {
        self.dio.options.iter_mut().find_map(|o| match o {
            RplOption::DodagConfiguration(c) => Some(c),
            _ => None,
        })
    }

    pub fn config(&self) -> DodagConfiguration {
        self.dio
            .options
            .iter()
            .find_map(|o| match o {
                RplOption::DodagConfiguration(c) => Some(*c),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The DIO as the script's shape has it, to `dst`.
    pub fn dio_bytes(&self, dst: Ipv6Addr) -> Vec<u8> {
        let mut dio = self.dio.clone();
        match self.shape {
            DioShape::MhriZero => {
                for o in &mut dio.options {
                    if let RplOption::DodagConfiguration(c) = o {
                        c.min_hop_rank_increase = 0;
                    }
                }
            }
            DioShape::RankBelowRoot => dio.rank = 128,
            DioShape::InfiniteRank => dio.rank = hilt_wire::rpl::INFINITE_RANK,
            _ => {}
        }
        let mut bytes = Datagram::control(HILT_ROOT, dst, RplMessage::Dio(dio)).to_bytes();
        match self.shape {
            DioShape::OptionOverrun => append_option(&mut bytes, &[0x2a, 42, 0, 0]),
            DioShape::LongPadN => append_option(&mut bytes, &[0x01, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            DioShape::UnknownOption => append_option(&mut bytes, &[0x2a, 2, 0xaa, 0xbb]),
            DioShape::BadChecksum => {
                bytes[42] ^= 0x01;
            }
            _ => {}
        }
        bytes
    }
}

/// Appends raw option octets to a datagram without extension headers, fixing the
/// Payload Length and the checksum.
pub fn append_option(bytes: &mut Vec<u8>, option: &[u8]) {
    bytes.extend_from_slice(option);
    let plen = (bytes.len() - 40) as u16;
    bytes[4..6].copy_from_slice(&plen.to_be_bytes());
    refill_checksum(bytes);
}

pub fn refill_checksum(bytes: &mut [u8]) {
    let mut a = [0u8; 16];
    a.copy_from_slice(&bytes[8..24]);
    let src = Ipv6Addr::from(a);
    a.copy_from_slice(&bytes[24..40]);
    let dst = Ipv6Addr::from(a);
    Icmpv6Packet::new_unchecked(&mut bytes[40..]).fill_checksum(&src, &dst);
}

struct Shared {
    seen: Mutex<Vec<Seen>>,
    notify: Notify,
    origin: std::time::Instant,
    link: PacketLink,
    rec: Recorder,
    conn: u32,
    script: Mutex<Option<RootScript>>,
}

impl Shared {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn send(&self, to: LinkTarget, bytes: &[u8]) -> Result<(), Failure> {
        self.rec.record(self.conn, Direction::Sent, bytes);
        self.link
            .send(to, bytes)
            .await
            .map_err(|e| Failure::error(format!("failed to send on the test link: {e}")))
    }

    fn script(&self) -> Option<RootScript> {
        self.script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// One TD's link, IUT and observations. Dropping it stops hilt's tasks and removes the
/// namespace; [`Bench::finish`] also stops the IUT.
pub struct Bench {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    iut: Option<CommandRun>,
    veth: Option<VethLink>,
    pub response: Duration,
}

impl Drop for Bench {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        drop(self.veth.take());
    }
}

static NEXT_IFACE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Bench {
    /// Links hilt to the IUT and starts the device's `command` (`node` or `root`), with
    /// `{mutate}` set to `fault` in a control run. hilt plays a root when `script` is
    /// given, else listens as a node.
    pub async fn start(
        ctx: &Ctx,
        command: &str,
        fault: &str,
        script: Option<RootScript>,
    ) -> Result<Bench, Failure> {
        let device = ctx
            .device()
            .ok_or_else(|| Failure::error("the target has no `device` section"))?;
        let cmd = device.commands.get(command).ok_or_else(|| {
            Failure::skip(format!(
                "the device file gives no `{command}` command (it gives: {})",
                device
                    .commands
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let hilt = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "hilt".into());
        let program = cmd.program.replace("{hilt}", &hilt);
        let mut values = BTreeMap::new();
        let mutate = if ctx.is_control_run() { fault } else { "none" };
        values.insert("mutate".to_owned(), mutate.to_owned());
        values.insert("hilt".to_owned(), hilt.clone());
        let (veth, host_iface, run) = if ctx.has(NETNS) {
            if let Some(why) = netns::unavailable() {
                return Err(Failure::skip(why));
            }
            let veth = VethLink::create()
                .map_err(|e| Failure::error(format!("failed to make the test link: {e}")))?;
            values.insert("iface".to_owned(), veth.inside.clone());
            let mut args = veth.ns.exec_prefix();
            let ip = args.remove(0);
            args.push(program);
            args.extend(cmd.args.iter().cloned());
            let wrapped = DeviceCommand {
                program: ip,
                args,
                env: cmd.env.clone(),
            };
            let host = veth.host.clone();
            (Some(veth), host, wrapped)
        } else {
            if !hilt_net::tun::can_create() {
                return Err(Failure::skip(
                    "a device on another link needs root here (its command makes a TUN \
                     interface; hilt opens a packet socket on it)",
                ));
            }
            let n = NEXT_IFACE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("hrpl{}x{n}", std::process::id() % 10_000);
            values.insert("iface".to_owned(), name.clone());
            let direct = DeviceCommand {
                program,
                args: cmd.args.clone(),
                env: cmd.env.clone(),
            };
            (None, name, direct)
        };
        let response = ctx.response_timeout();
        let start_iut = || async {
            hilt_peers::start_command(&run, &values).await.map_err(|e| {
                Failure::error(format!(
                    "failed to start the IUT's `{command}` command: {e}"
                ))
            })
        };
        // With a namespace, hilt listens before the IUT starts, so nothing it sends at
        // boot is missed; otherwise its command makes the interface first.
        let (link, iut) = if veth.is_some() {
            let link = open(&host_iface)?;
            (link, start_iut().await?)
        } else {
            let iut = start_iut().await?;
            // Its command may build firmware first (serialised with the other TDs').
            let deadline = tokio::time::Instant::now() + response.max(Duration::from_secs(60));
            loop {
                // Opened only once up: a packet socket bound to a down interface keeps
                // ENETDOWN pending, which its first read returns.
                if is_up(&host_iface)
                    && let Ok(l) = PacketLink::open(&host_iface)
                {
                    break (l, iut);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(Failure::error(format!(
                        "the IUT's command did not bring up interface {host_iface}"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let rec = ctx.recorder().clone();
        let role = if script.is_some() {
            "hilt root"
        } else {
            "hilt node"
        };
        let conn = rec.open_ipv6_link(&format!("{host_iface}: {role} <-> IUT ({command})"));
        let shared = Arc::new(Shared {
            seen: Mutex::default(),
            notify: Notify::new(),
            origin: std::time::Instant::now(),
            link,
            rec,
            conn,
            script: Mutex::new(script),
        });
        let mut bench = Bench {
            shared: Arc::clone(&shared),
            tasks: Vec::new(),
            iut: Some(iut),
            veth,
            response,
        };
        bench.tasks.push(tokio::spawn(receive(Arc::clone(&shared))));
        if bench.shared.script().is_some() {
            bench.tasks.push(tokio::spawn(advertise(shared)));
        }
        Ok(bench)
    }

    pub fn now(&self) -> Duration {
        self.shared.now()
    }

    /// How many datagrams were heard so far: waits from a mark see only later ones.
    pub fn mark(&self) -> usize {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Everything heard since `from`.
    pub fn since(&self, from: usize) -> Vec<Seen> {
        let seen = self.shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(from..).unwrap_or_default().to_vec()
    }

    /// The first datagram from `from` on that `pick` accepts, waiting up to `within`.
    pub async fn wait(
        &self,
        from: usize,
        within: Duration,
        pick: impl Fn(&Seen) -> bool,
    ) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.notify.notified();
            if let Some(s) = self.since(from).into_iter().find(|s| pick(s)) {
                return Some(s);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.since(from).into_iter().find(|s| pick(s));
            }
        }
    }

    /// What `pick` accepts of everything heard from `from` during the next `window`.
    pub async fn collect(
        &self,
        from: usize,
        window: Duration,
        pick: impl Fn(&Seen) -> bool,
    ) -> Vec<Seen> {
        tokio::time::sleep(window).await;
        self.since(from).into_iter().filter(|s| pick(s)).collect()
    }

    pub async fn send(&self, to: LinkTarget, bytes: &[u8]) -> Result<(), Failure> {
        self.shared.send(to, bytes).await
    }

    /// Changes hilt's root while it runs.
    pub fn script(&self, change: impl FnOnce(&mut RootScript)) {
        if let Some(s) = self
            .shared
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            change(s);
        }
    }

    /// Sends hilt's root's DIO now (after a change), multicast.
    pub async fn advertise_now(&self) -> Result<(), Failure> {
        if let Some(s) = self.shared.script() {
            self.send(LinkTarget::Broadcast, &s.dio_bytes(ALL_RPL_NODES))
                .await?;
        }
        Ok(())
    }

    /// Stops the IUT (its output kept for the message of an error) and hilt's tasks.
    pub async fn finish(mut self) -> String {
        for t in &self.tasks {
            t.abort();
        }
        match self.iut.take() {
            Some(run) => {
                let out = run.finish(tokio::time::Instant::now()).await;
                let err = out.stderr.trim();
                if err.is_empty() {
                    String::new()
                } else {
                    format!("IUT stderr: {}", err.chars().take(400).collect::<String>())
                }
            }
            None => String::new(),
        }
    }
}

/// Whether `iface` exists here and is administratively up (IFF_UP).
fn is_up(iface: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/flags"))
        .ok()
        .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & 0x1 != 0)
}

fn open(iface: &str) -> Result<PacketLink, Failure> {
    PacketLink::open(iface)
        .map_err(|e| Failure::error(format!("failed to open the test link {iface}: {e}")))
}

/// Hears the IUT: records, parses, keeps; as the scripted root, answers DISes and DAOs.
async fn receive(shared: Arc<Shared>) {
    loop {
        let Ok(heard) = shared.link.recv().await else {
            return;
        };
        shared
            .rec
            .record_at(shared.conn, Direction::Received, &heard.bytes, heard.at);
        let dg = Datagram::parse(&heard.bytes).ok();
        let seen = Seen {
            t: heard.at.saturating_duration_since(shared.origin),
            from: heard.from,
            bytes: heard.bytes,
            dg,
        };
        if let Some(script) = shared.script() {
            let _ = answer(&shared, &script, &seen).await;
        }
        shared
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(seen);
        shared.notify.notify_waiters();
    }
}

async fn answer(shared: &Shared, script: &RootScript, seen: &Seen) -> Result<(), Failure> {
    if seen.dis().is_some() && script.sending {
        let dst = match seen.dst() {
            Some(d) if d == ALL_RPL_NODES => ALL_RPL_NODES,
            _ => seen.from,
        };
        let to = if dst == ALL_RPL_NODES {
            LinkTarget::Broadcast
        } else {
            LinkTarget::Neighbor(seen.from)
        };
        return shared.send(to, &script.dio_bytes(dst)).await;
    }
    let (Some(dao), Some(src)) = (seen.dao(), seen.src()) else {
        return Ok(());
    };
    if !dao.expect_ack || script.ack == AckMode::Silent {
        return Ok(());
    }
    let sequence = match script.ack {
        AckMode::WrongSequence => dao.sequence.wrapping_add(1),
        _ => dao.sequence,
    };
    let ack = DaoAck {
        instance_id: dao.instance_id,
        reserved: 0,
        sequence,
        status: 0,
        dodag_id: dao.dodag_id,
        options: Vec::new(),
    };
    let me = if src.segments()[0] & 0xffc0 == 0xfe80 {
        HILT_ROOT
    } else {
        DODAG_ID
    };
    let mut dg = Datagram::control(me, src, RplMessage::DaoAck(ack));
    dg.ipv6.hop_limit = 64;
    shared
        .send(LinkTarget::Neighbor(seen.from), &dg.to_bytes())
        .await
}

/// hilt's root's periodic DIOs.
async fn advertise(shared: Arc<Shared>) {
    loop {
        let Some(script) = shared.script() else {
            return;
        };
        if script.sending {
            let _ = shared
                .send(LinkTarget::Broadcast, &script.dio_bytes(ALL_RPL_NODES))
                .await;
        }
        tokio::time::sleep(script.period).await;
    }
}
