//! The bodies of the TDs: each procedure sets the link up with [`Bench`], applies the
//! TD's stimulus and judges what the IUT sent against the TD's verdict criteria.

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use hilt_runner::{Ctx, Failure, Outcome};
use hilt_wire::rpl::{
    ALL_RPL_NODES, Dao, Datagram, Dio, Dis, DodagConfiguration, INFINITE_RANK, LinkTarget, Mop,
    Prefix, RawMessage, RplMessage, RplOption, SequenceCounter, SolicitedInformation,
    TransitInformation, raw_icmpv6_datagram, with_iid,
};

use super::Td;
use super::bench::{
    AckMode, Bench, DODAG_ID, DioShape, HILT_NODE, HILT_ROOT, PREFIX, RootScript, Seen,
    append_option,
};

#[cfg(test)]
const PROCEDURES: &[&str] = &[
    "boot-dis",
    "join",
    "dao-ack",
    "repair",
    "trickle",
    "poison",
    "no-join",
    "root-dio",
    "root-dis",
    "root-trickle",
    "root-dao",
    "root-version",
];

/// RFC 6550's DelayDAO default: a node may wait up to twice this before its DAO.
const DELAY_DAO: Duration = Duration::from_secs(1);
/// How long the Trickle TDs watch DIOs.
const TRICKLE_WINDOW: Duration = Duration::from_secs(6);
/// Scheduling slack on a loaded machine for the Trickle timing judgements.
const SLACK: Duration = Duration::from_millis(60);

#[cfg(test)]
pub fn known(procedure: &str) -> bool {
    PROCEDURES.contains(&procedure)
}

pub async fn run(ctx: Ctx, td: Arc<Td>) -> Outcome {
    let command = if td.role == "root" { "root" } else { "node" };
    let script = (td.role == "node").then(|| node_script(&td));
    let bench = Bench::start(&ctx, command, &td.control, script).await?;
    let outcome = match td.procedure.as_str() {
        "boot-dis" => boot_dis(&ctx, &td, &bench).await,
        "join" => join(&ctx, &td, &bench).await,
        "dao-ack" => dao_ack(&ctx, &td, &bench).await,
        "repair" => repair(&ctx, &td, &bench).await,
        "trickle" => trickle(&ctx, &td, &bench).await,
        "poison" => poison(&td, &bench).await,
        "no-join" => no_join(&td, &bench).await,
        "root-dio" => root_dio(&td, &bench).await,
        "root-dis" => root_dis(&ctx, &td, &bench).await,
        "root-trickle" => root_trickle(&ctx, &td, &bench).await,
        "root-dao" => root_dao(&td, &bench).await,
        "root-version" => root_version(&td, &bench).await,
        other => Err(Failure::error(format!("no procedure `{other}`"))),
    };
    let iut = bench.finish().await;
    outcome.map_err(|f| match f {
        Failure::Error { message } if !iut.is_empty() => {
            Failure::error(format!("{message}; {iut}"))
        }
        f => f,
    })
}

/// hilt's root as the TD configures it.
fn node_script(td: &Td) -> RootScript {
    let mut s = RootScript::new();
    // The DIS-at-boot TDs keep hilt's root silent: a node that heard a DIO first may
    // rightly join without soliciting, which made their verdict a race with boot.
    s.sending = td.procedure != "boot-dis";
    if let Some(shape) = td.param("dio").and_then(|d| DioShape::parse(&d)) {
        s.shape = shape;
    }
    if td.param("mop").as_deref() == Some("2") {
        s.dio.mop = Mop::StoringWithoutMulticast;
    }
    let ocp = td.param("ocp").and_then(|o| o.parse().ok());
    let case = td.param("case");
    if let Some(c) = s.config_mut() {
        if let Some(ocp) = ocp {
            c.objective_code_point = ocp;
        }
        if case.as_deref() == Some("refresh") {
            c.default_lifetime = 3;
            c.lifetime_unit = 1;
        }
        if case.as_deref() == Some("suppression") {
            c.dio_redundancy_constant = 1;
        }
    }
    if case.as_deref() == Some("suppression") {
        s.period = imin(&s.config()) / 4;
    }
    match case.as_deref() {
        Some("retransmit") => s.ack = AckMode::Silent,
        Some("wrong-sequence") => s.ack = AckMode::WrongSequence,
        _ => {}
    }
    s
}

fn imin(c: &DodagConfiguration) -> Duration {
    Duration::from_millis(1u64 << c.dio_interval_min.min(30))
}

fn imax(c: &DodagConfiguration) -> Duration {
    imin(c).saturating_mul(1u32 << c.dio_interval_doublings.min(20))
}

fn fail(td: &Td, message: impl Into<String>) -> Failure {
    Failure::fail(td.rule(), message)
}

fn fail_at(td: &Td, i: usize, message: impl Into<String>) -> Failure {
    Failure::fail(td.rule_at(i), message)
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// The first DAO, within 2 × DelayDAO + R.
async fn first_dao(td: &Td, bench: &Bench) -> Result<Seen, Failure> {
    let within = DELAY_DAO * 2 + bench.response;
    bench
        .wait(0, within, |s| s.dao().is_some())
        .await
        .ok_or_else(|| fail(td, format!("no DAO within {} ms of start", ms(within))))
}

async fn boot_dis(ctx: &Ctx, td: &Td, bench: &Bench) -> Outcome {
    let within = bench.response;
    let Some(s) = bench
        .wait(0, within, |s| {
            s.dis().is_some() && s.dst() == Some(ALL_RPL_NODES)
        })
        .await
    else {
        return Err(fail(
            td,
            format!("no DIS to ff02::1a within {} ms of boot", ms(within)),
        ));
    };
    ctx.note(format!("DIS at {} ms", ms(s.t)));
    if td.param("format").is_some() {
        let src = s.src().unwrap_or(Ipv6Addr::UNSPECIFIED);
        if !is_link_local(src) {
            return Err(fail_at(td, 0, format!("DIS from {src}, not link-local")));
        }
        let dis = s.dis().expect("picked as a DIS");
        if dis.flags != 0 || dis.reserved != 0 {
            return Err(fail_at(
                td,
                1,
                format!(
                    "DIS Flags {:#04x}, Reserved {:#04x}: {}",
                    dis.flags,
                    dis.reserved,
                    s.hex()
                ),
            ));
        }
    }
    Ok(())
}

async fn join(ctx: &Ctx, td: &Td, bench: &Bench) -> Outcome {
    let check = td.param("check").unwrap_or_default();
    if check.starts_with("dio") || check.starts_with("rank") {
        return router_dio(ctx, td, bench, &check).await;
    }
    let s = first_dao(td, bench).await?;
    ctx.note(format!("DAO at {} ms", ms(s.t)));
    let dao = s.dao().expect("picked as a DAO");
    let transits: Vec<&TransitInformation> = dao
        .options
        .iter()
        .filter_map(|o| match o {
            RplOption::TransitInformation(t) => Some(t),
            _ => None,
        })
        .collect();
    let targets: Vec<&Prefix> = dao
        .options
        .iter()
        .filter_map(|o| match o {
            RplOption::RplTarget { prefix, .. } => Some(prefix),
            _ => None,
        })
        .collect();
    let src = s.src().unwrap_or(Ipv6Addr::UNSPECIFIED);
    match check.as_str() {
        "dao" => {
            if s.dst() != Some(DODAG_ID) {
                return Err(fail_at(
                    td,
                    1,
                    format!("DAO to {:?}, not the DODAGID {DODAG_ID}", s.dst()),
                ));
            }
        }
        "dao-transit-parent" => {
            if transits.is_empty() || transits.iter().any(|t| t.parent != Some(DODAG_ID)) {
                return Err(fail(
                    td,
                    format!(
                        "Transit Information parents {:?}, want {DODAG_ID}: {}",
                        transits.iter().map(|t| t.parent).collect::<Vec<_>>(),
                        s.hex()
                    ),
                ));
            }
        }
        "dao-target" => {
            let ok = targets
                .iter()
                .any(|p| p.len == 128 && p.as_address() == src && with_iid(src, 0) == PREFIX);
            if !ok {
                return Err(fail(
                    td,
                    format!(
                        "Targets {:?} from source {src}: want the source, a /128 in {PREFIX}/64",
                        targets
                            .iter()
                            .map(|p| format!("{}/{}", p.as_address(), p.len))
                            .collect::<Vec<_>>()
                    ),
                ));
            }
        }
        "dao-lifetime" => {
            let want = RootScript::new().config().default_lifetime;
            if transits.is_empty() || transits.iter().any(|t| t.path_lifetime != want) {
                return Err(fail(
                    td,
                    format!(
                        "Path Lifetimes {:?}, want DefaultLifetime {want}",
                        transits.iter().map(|t| t.path_lifetime).collect::<Vec<_>>()
                    ),
                ));
            }
        }
        "dao-base" => {
            if dao.instance_id != super::bench::INSTANCE
                || dao.dodag_id != Some(DODAG_ID)
                || s.dst() != Some(DODAG_ID)
            {
                return Err(fail(
                    td,
                    format!(
                        "DAO RPLInstanceID {}, DODAGID {:?}, to {:?}; want {}, {DODAG_ID}, {DODAG_ID}",
                        dao.instance_id,
                        dao.dodag_id,
                        s.dst(),
                        super::bench::INSTANCE
                    ),
                ));
            }
        }
        "dao-k" => {
            if !dao.expect_ack {
                return Err(fail(td, format!("DAO without the K flag: {}", s.hex())));
            }
        }
        "dao-storing" => {
            let to_parent = s.dst() == Some(HILT_ROOT);
            if !to_parent || transits.iter().any(|t| t.parent.is_some()) {
                return Err(fail(
                    td,
                    format!(
                        "Storing-mode DAO to {:?} with parents {:?}; want {HILT_ROOT} and none",
                        s.dst(),
                        transits.iter().map(|t| t.parent).collect::<Vec<_>>()
                    ),
                ));
            }
        }
        other => return Err(Failure::error(format!("join: unknown check `{other}`"))),
    }
    Ok(())
}

/// Checks on a router's first multicast DIO after it joined.
async fn router_dio(ctx: &Ctx, td: &Td, bench: &Bench, check: &str) -> Outcome {
    let root = node_script(td);
    let cfg = root.config();
    let within = DELAY_DAO * 2 + bench.response + imin(&cfg);
    let Some(s) = bench.wait(0, within, |s| s.multicast_dio().is_some()).await else {
        return Err(fail(
            td,
            format!(
                "no multicast DIO with a finite Rank within {} ms",
                ms(within)
            ),
        ));
    };
    let dio = s.dio().expect("picked as a DIO");
    ctx.note(format!("DIO at {} ms, Rank {}", ms(s.t), dio.rank));
    let mhri = cfg.min_hop_rank_increase;
    let ok = match check {
        "dio-header" => {
            is_link_local(s.src().unwrap_or(Ipv6Addr::UNSPECIFIED))
                && dio.instance_id == root.dio.instance_id
                && dio.dodag_id == root.dio.dodag_id
                && dio.version == root.dio.version
                && dio.mop == root.dio.mop
                && dio.grounded == root.dio.grounded
        }
        "dio-config" => dio
            .options
            .iter()
            .any(|o| matches!(o, RplOption::DodagConfiguration(c) if *c == cfg)),
        "dio-prefix" => dio.options.iter().any(|o| {
            matches!(o, RplOption::PrefixInformation(p)
                if p.autonomous && p.prefix_len == 64 && with_iid(p.prefix, 0) == PREFIX)
        }),
        "rank-of0" => {
            let inc = dio.rank.saturating_sub(root.dio.rank);
            inc % mhri == 0 && (1..=41).contains(&(inc / mhri))
        }
        "rank-mrhof" => {
            u32::from(dio.rank) >= u32::from(root.dio.rank) + u32::from(mhri)
                && dio.rank != INFINITE_RANK
        }
        other => return Err(Failure::error(format!("join: unknown check `{other}`"))),
    };
    if ok {
        Ok(())
    } else {
        Err(fail(
            td,
            format!(
                "DIO (Rank {}, MOP {:?}, Version {}, {} options) fails `{check}` against root Rank {} MinHopRankIncrease {mhri}: {}",
                dio.rank,
                dio.mop,
                dio.version,
                dio.options.len(),
                root.dio.rank,
                s.hex()
            ),
        ))
    }
}

fn newer(a: u8, b: u8) -> bool {
    SequenceCounter(a).compare(SequenceCounter(b)) == Some(std::cmp::Ordering::Greater)
}

async fn dao_ack(ctx: &Ctx, td: &Td, bench: &Bench) -> Outcome {
    let first = first_dao(td, bench).await?;
    let seq = first.dao().expect("a DAO").sequence;
    let after = bench.mark();
    let r = bench.response;
    match td.param("case").as_deref() {
        Some("retransmit") | Some("wrong-sequence") => {
            match bench
                .wait(after, r, |s| s.dao().is_some_and(|d| d.sequence == seq))
                .await
            {
                Some(s) => {
                    ctx.note(format!("sent again after {} ms", ms(s.t - first.t)));
                    Ok(())
                }
                None => Err(fail(
                    td,
                    format!("DAO {seq} not sent again within {} ms", ms(r)),
                )),
            }
        }
        Some("stops") => {
            let again = bench
                .collect(after, r * 2, |s| s.dao().is_some_and(|d| d.sequence == seq))
                .await;
            match again.first() {
                None => Ok(()),
                Some(s) => Err(fail(
                    td,
                    format!(
                        "DAO {seq} sent again {} ms after its DAO-ACK",
                        ms(s.t - first.t)
                    ),
                )),
            }
        }
        Some("refresh") => {
            let life = Duration::from_secs(3);
            match bench
                .wait(after, life + r, |s| {
                    s.dao().is_some_and(|d| newer(d.sequence, seq))
                })
                .await
            {
                Some(s) if s.t - first.t <= life => {
                    ctx.note(format!("refreshed after {} ms", ms(s.t - first.t)));
                    Ok(())
                }
                Some(s) => Err(fail(
                    td,
                    format!(
                        "refreshed only after {} ms, the route lived 3000 ms",
                        ms(s.t - first.t)
                    ),
                )),
                None => Err(fail(
                    td,
                    format!("no newer DAO within {} ms of the first", ms(life + r)),
                )),
            }
        }
        other => Err(Failure::error(format!("dao-ack: unknown case {other:?}"))),
    }
}

async fn repair(ctx: &Ctx, td: &Td, bench: &Bench) -> Outcome {
    let first = first_dao(td, bench).await?;
    let seq = first.dao().expect("a DAO").sequence;
    // Let the acknowledgement settle before the change.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let what = td.param("what").unwrap_or_default();
    let mut new_version = 0;
    bench.script(|s| {
        if what == "version" {
            s.dio.version = s.dio.version.wrapping_add(1);
        } else {
            s.dio.dtsn = s.dio.dtsn.wrapping_add(1);
        }
        new_version = s.dio.version;
    });
    let at = bench.mark();
    let t0 = bench.now();
    bench.advertise_now().await?;
    if td.param("check").as_deref() == Some("dio") {
        let within = imin(&RootScript::new().config()) + bench.response + DELAY_DAO;
        return match bench
            .wait(at, within, |s| {
                s.multicast_dio().is_some_and(|d| d.version == new_version)
            })
            .await
        {
            Some(s) => {
                ctx.note(format!("new Version advertised after {} ms", ms(s.t - t0)));
                Ok(())
            }
            None => Err(fail_at(
                td,
                0,
                format!("no DIO with Version {new_version} within {} ms", ms(within)),
            )),
        };
    }
    let within = DELAY_DAO * 2 + bench.response;
    match bench
        .wait(at, within, |s| {
            s.dao().is_some_and(|d| newer(d.sequence, seq))
        })
        .await
    {
        Some(s) => {
            ctx.note(format!("new DAO after {} ms", ms(s.t - t0)));
            Ok(())
        }
        None => Err(fail(
            td,
            format!(
                "no DAO newer than {seq} within {} ms of the {what} change",
                ms(within)
            ),
        )),
    }
}

/// Gaps between the multicast DIOs in `seen`.
fn gaps(seen: &[Seen]) -> Vec<Duration> {
    seen.windows(2)
        .map(|w| w[1].t.saturating_sub(w[0].t))
        .collect()
}

/// Judges DIO timing against Trickle with the given settings.
fn judge_trickle(
    td: &Td,
    dios: &[Seen],
    cfg: &DodagConfiguration,
    r: Duration,
    case: &str,
) -> Outcome {
    let g = gaps(dios);
    let shown = || {
        g.iter()
            .map(|d| ms(*d).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (lo, hi) = (imin(cfg), imax(cfg));
    if dios.len() < 4 {
        return Err(fail(
            td,
            format!(
                "only {} DIOs in {} ms (gaps ms: {})",
                dios.len(),
                ms(TRICKLE_WINDOW),
                shown()
            ),
        ));
    }
    match case {
        "doubling" => {
            // The mean over the later half, so that one late transmission on a loaded
            // machine cannot pass for a doubling: with no doubling it stays near Imin.
            let late = &g[g.len() / 2..];
            let mean = late.iter().sum::<Duration>() / late.len().max(1) as u32;
            if mean <= lo * 2 {
                return Err(fail(
                    td,
                    format!(
                        "the later gaps average {} ms, not above 2 × Imin = {} ms: the interval never doubled (gaps ms: {})",
                        ms(mean),
                        ms(lo * 2),
                        shown()
                    ),
                ));
            }
            let longest = g.iter().max().copied().unwrap_or_default();
            if longest > hi * 2 + r {
                return Err(fail(
                    td,
                    format!(
                        "a gap of {} ms exceeds 2 × Imax + R (gaps ms: {})",
                        ms(longest),
                        shown()
                    ),
                ));
            }
        }
        _ => {
            let shortest = g.iter().min().copied().unwrap_or_default();
            if shortest + Duration::from_millis(10) < lo / 2 {
                return Err(fail(
                    td,
                    format!(
                        "a gap of {} µs, below Imin / 2 = {} ms (gaps ms: {})",
                        shortest.as_micros(),
                        ms(lo / 2),
                        shown()
                    ),
                ));
            }
        }
    }
    Ok(())
}

async fn trickle(ctx: &Ctx, td: &Td, bench: &Bench) -> Outcome {
    let cfg = node_script(td).config();
    let case = td.param("case").unwrap_or_default();
    let first = first_dao(td, bench).await?;
    match case.as_str() {
        "unicast-dis" => {
            let at = bench.mark();
            let dis = Datagram::control(HILT_ROOT, first.from, RplMessage::Dis(Dis::default()));
            bench
                .send(LinkTarget::Neighbor(first.from), &dis.to_bytes())
                .await?;
            let r = bench.response;
            match bench
                .wait(at, r, |s| {
                    s.dst() == Some(HILT_ROOT) && s.dio().is_some_and(|d| d.dodag_id == DODAG_ID)
                })
                .await
            {
                Some(s) => {
                    ctx.note(format!(
                        "unicast DIO, Rank {}",
                        s.dio().map_or(0, |d| d.rank)
                    ));
                    Ok(())
                }
                None => Err(fail(td, format!("no unicast DIO within {} ms", ms(r)))),
            }
        }
        "multicast-dis" => reset_by_dis(ctx, td, bench, &cfg, HILT_ROOT, None, true).await,
        "suppression" => {
            // The first second lets the node hear the root's DIOs; the check is on the
            // two seconds after it.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let window = bench.mark();
            let sent = bench
                .collect(window, Duration::from_secs(2), |s| {
                    s.multicast_dio().is_some()
                })
                .await;
            if sent.is_empty() {
                Ok(())
            } else {
                Err(fail(
                    td,
                    format!(
                        "{} DIOs in 2 s while hearing a consistent DIO every {} ms with k = 1",
                        sent.len(),
                        ms(imin(&cfg) / 4)
                    ),
                ))
            }
        }
        _ => {
            // From the start: the node's first, shortest intervals come before its DAO.
            let dios = bench
                .collect(0, TRICKLE_WINDOW, |s| s.multicast_dio().is_some())
                .await;
            ctx.note(format!(
                "gaps ms: {}",
                gaps(&dios)
                    .iter()
                    .map(|d| ms(*d).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            judge_trickle(td, &dios, &cfg, bench.response, &case)
        }
    }
}

/// Waits until the IUT's Trickle interval has grown to `I` = min(Imax, max(32 × Imin,
/// 4 s)), sends a DIS right after one of its DIOs, and judges whether its next DIO
/// comes within I / 4 (a reset gives one within Imin) or not within 3 × I / 8 (without a
/// reset the next is at least I / 2 away). The wide margins keep a loaded machine's
/// scheduling out of the verdict.
async fn reset_by_dis(
    ctx: &Ctx,
    td: &Td,
    bench: &Bench,
    cfg: &DodagConfiguration,
    me: Ipv6Addr,
    dis: Option<(Vec<RplOption>, bool)>,
    expect_reset: bool,
) -> Outcome {
    let lo = imin(cfg);
    let goal = imax(cfg).min((lo * 32).max(Duration::from_secs(4)));
    // The intervals before reaching `goal` sum to less than `goal`.
    tokio::time::sleep_until(tokio::time::Instant::now() + goal + lo).await;
    let at = bench.mark();
    let wait_dio = goal * 2 + bench.response;
    let Some(last) = bench
        .wait(at, wait_dio, |s| s.multicast_dio().is_some())
        .await
    else {
        return Err(fail(
            td,
            format!("no DIO within {} ms to time the DIS after", ms(wait_dio)),
        ));
    };
    let (options, unicast) = dis.unwrap_or((Vec::new(), false));
    let dst = if unicast { last.from } else { ALL_RPL_NODES };
    let msg = RplMessage::Dis(Dis {
        flags: 0,
        reserved: 0,
        options,
    });
    let to = if unicast {
        LinkTarget::Neighbor(last.from)
    } else {
        LinkTarget::Broadcast
    };
    let mark = bench.mark();
    let t0 = bench.now();
    bench
        .send(to, &Datagram::control(me, dst, msg).to_bytes())
        .await?;
    let bound = (goal / 4).max(lo + SLACK);
    if expect_reset {
        match bench
            .wait(mark, bound, |s| s.multicast_dio().is_some())
            .await
        {
            Some(s) => {
                ctx.note(format!(
                    "DIO {} ms after the DIS",
                    ms(s.t.saturating_sub(t0))
                ));
                Ok(())
            }
            None => Err(fail(
                td,
                format!(
                    "no DIO within {} ms of the DIS, with the interval at {} ms: no reset",
                    ms(bound),
                    ms(goal)
                ),
            )),
        }
    } else {
        let window = goal * 3 / 8;
        let sent = bench
            .collect(mark, window, |s| s.multicast_dio().is_some())
            .await;
        match sent.first() {
            None => Ok(()),
            Some(s) => Err(fail(
                td,
                format!(
                    "a multicast DIO {} ms after the DIS, with the interval at {} ms: Trickle was reset",
                    ms(s.t.saturating_sub(t0)),
                    ms(goal)
                ),
            )),
        }
    }
}

async fn poison(td: &Td, bench: &Bench) -> Outcome {
    first_dao(td, bench).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    bench.script(|s| s.dio.rank = INFINITE_RANK);
    let at = bench.mark();
    for _ in 0..3 {
        bench.advertise_now().await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bench.script(|s| s.sending = false);
    let cfg = RootScript::new().config();
    if td.param("check").as_deref() == Some("dis") {
        let r = bench.response;
        return match bench.wait(at, r, |s| s.dis().is_some()).await {
            Some(_) => Ok(()),
            None => Err(fail(
                td,
                format!("no DIS within {} ms of losing the parent", ms(r)),
            )),
        };
    }
    let within = imin(&cfg) + bench.response;
    match bench
        .wait(at, within, |s| {
            s.dio().is_some_and(|d| d.rank == INFINITE_RANK)
        })
        .await
    {
        Some(_) => Ok(()),
        None => Err(fail(
            td,
            format!(
                "no DIO with INFINITE_RANK within {} ms of losing the parent",
                ms(within)
            ),
        )),
    }
}

async fn no_join(td: &Td, bench: &Bench) -> Outcome {
    let window = DELAY_DAO * 2 + bench.response;
    let joined = bench
        .collect(0, window, |s| {
            s.dao().is_some() || s.multicast_dio().is_some()
        })
        .await;
    match joined.first() {
        None => Ok(()),
        Some(s) => Err(fail(
            td,
            format!(
                "the IUT joined the DODAG of the broken DIO: it sent {} at {} ms: {}",
                if s.dao().is_some() { "a DAO" } else { "a DIO" },
                ms(s.t),
                s.hex()
            ),
        )),
    }
}

/// The root's first DIO, within R plus a generous Imin.
async fn root_first_dio(td: &Td, bench: &Bench) -> Result<Seen, Failure> {
    let within = bench.response + Duration::from_secs(2);
    bench
        .wait(0, within, |s| s.multicast_dio().is_some())
        .await
        .ok_or_else(|| fail(td, format!("no DIO from the root within {} ms", ms(within))))
}

fn config_of(dio: &Dio) -> Option<DodagConfiguration> {
    dio.options.iter().find_map(|o| match o {
        RplOption::DodagConfiguration(c) => Some(*c),
        _ => None,
    })
}

async fn root_dio(td: &Td, bench: &Bench) -> Outcome {
    let s = root_first_dio(td, bench).await?;
    let dio = s.dio().expect("a DIO");
    let cfg = config_of(dio);
    let src = s.src().unwrap_or(Ipv6Addr::UNSPECIFIED);
    let check = td.param("check").unwrap_or_default();
    let (ok, what) = match check.as_str() {
        "header" => {
            let mhri = cfg.map_or(256, |c| c.min_hop_rank_increase);
            (
                is_link_local(src) && dio.rank == mhri && dio.grounded,
                format!("from {src}, Rank {} (MinHopRankIncrease {mhri}), G {}", dio.rank, dio.grounded),
            )
        }
        "config" => (
            cfg.is_some_and(|c| c.min_hop_rank_increase >= 1 && c.objective_code_point <= 1),
            format!("DODAG Configuration {cfg:?}"),
        ),
        "prefix" => (
            dio.options.iter().any(|o| {
                matches!(o, RplOption::PrefixInformation(p) if p.autonomous && p.prefix_len == 64)
            }),
            "no Prefix Information with A and length 64".to_owned(),
        ),
        "dodagid" => {
            let d = dio.dodag_id;
            (
                !(is_link_local(d) || d.is_multicast() || d.is_loopback() || d.is_unspecified()),
                format!("DODAGID {d}"),
            )
        }
        "mop" => (dio.mop == Mop::NonStoring, format!("MOP {:?}", dio.mop)),
        other => return Err(Failure::error(format!("root-dio: unknown check `{other}`"))),
    };
    if ok {
        Ok(())
    } else {
        Err(fail(td, format!("{what}: {}", s.hex())))
    }
}

async fn root_dis(ctx: &Ctx, td: &Td, bench: &Bench) -> Outcome {
    let first = root_first_dio(td, bench).await?;
    let dio = first.dio().expect("a DIO").clone();
    let cfg = config_of(&dio).unwrap_or_default();
    let root_ll = first.from;
    let r = bench.response;
    let case = td.param("case").unwrap_or_default();
    let unicast_answer = |at| async move {
        bench
            .wait(at, r, |s| s.dst() == Some(HILT_NODE) && s.dio().is_some())
            .await
    };
    match case.as_str() {
        "multicast" => reset_by_dis(ctx, td, bench, &cfg, HILT_NODE, None, true).await,
        "unicast-no-reset" => {
            reset_by_dis(
                ctx,
                td,
                bench,
                &cfg,
                HILT_NODE,
                Some((Vec::new(), true)),
                false,
            )
            .await
        }
        "solicited-mismatch" => {
            let si = RplOption::SolicitedInformation(SolicitedInformation {
                instance_id: dio.instance_id.wrapping_add(1),
                version_predicate: false,
                instance_predicate: true,
                dodag_id_predicate: false,
                flags: 0,
                dodag_id: Ipv6Addr::UNSPECIFIED,
                version: 0,
            });
            reset_by_dis(
                ctx,
                td,
                bench,
                &cfg,
                HILT_NODE,
                Some((vec![si], false)),
                false,
            )
            .await
        }
        "unicast" | "unknown-option" | "truncated" => {
            let msg = match case.as_str() {
                "unicast" => RawMessage::new(0x00).u8(0).u8(0),
                "unknown-option" => RawMessage::new(0x00).u8(0).u8(0).option(0x2a, &[1, 2]),
                _ => RawMessage::new(0x00).u8(0),
            };
            let at = bench.mark();
            bench
                .send(
                    LinkTarget::Neighbor(root_ll),
                    &raw_icmpv6_datagram(HILT_NODE, root_ll, &msg),
                )
                .await?;
            let answer = unicast_answer(at).await;
            match (case.as_str(), answer) {
                ("truncated", None) => Ok(()),
                ("truncated", Some(s)) => Err(fail(
                    td,
                    format!("a truncated DIS was answered {} ms later", ms(s.t)),
                )),
                ("unicast", Some(s)) if s.dio().and_then(config_of).is_none() => Err(fail(
                    td,
                    "the unicast DIO carries no DODAG Configuration".to_owned(),
                )),
                (_, Some(_)) => Ok(()),
                (_, None) => Err(fail(td, format!("no unicast DIO within {} ms", ms(r)))),
            }
        }
        other => Err(Failure::error(format!("root-dis: unknown case `{other}`"))),
    }
}

async fn root_trickle(ctx: &Ctx, td: &Td, bench: &Bench) -> Outcome {
    let first = root_first_dio(td, bench).await?;
    let cfg = first.dio().and_then(config_of).unwrap_or_default();
    let dios = bench
        .collect(0, TRICKLE_WINDOW, |s| s.multicast_dio().is_some())
        .await;
    ctx.note(format!(
        "Imin {} ms, {} doublings; gaps ms: {}",
        ms(imin(&cfg)),
        cfg.dio_interval_doublings,
        gaps(&dios)
            .iter()
            .map(|d| ms(*d).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    judge_trickle(
        td,
        &dios,
        &cfg,
        bench.response,
        &td.param("case").unwrap_or_default(),
    )
}

/// A Non-Storing DAO from `target` naming `parent`, as hilt sends it to the root.
fn dao_from(
    dodag: &Dio,
    target: Ipv6Addr,
    parent: Option<Ipv6Addr>,
    sequence: u8,
    k: bool,
    lifetime: u8,
) -> Vec<u8> {
    let dao = Dao {
        instance_id: dodag.instance_id,
        expect_ack: k,
        flags: 0,
        reserved: 0,
        sequence,
        dodag_id: Some(dodag.dodag_id),
        options: vec![
            RplOption::target(target),
            RplOption::TransitInformation(TransitInformation {
                external: false,
                flags: 0,
                path_control: 0,
                path_sequence: sequence,
                path_lifetime: lifetime,
                parent,
            }),
        ],
    };
    let mut dg = Datagram::control(target, dodag.dodag_id, RplMessage::Dao(dao));
    dg.ipv6.hop_limit = 64;
    dg.to_bytes()
}

async fn root_dao(td: &Td, bench: &Bench) -> Outcome {
    let first = root_first_dio(td, bench).await?;
    let dio = first.dio().expect("a DIO").clone();
    let root = first.from;
    let prefix = dio
        .options
        .iter()
        .find_map(|o| match o {
            RplOption::PrefixInformation(p) => Some(p.prefix),
            _ => None,
        })
        .unwrap_or(dio.dodag_id);
    let node = |iid: u64| with_iid(prefix, iid);
    let (a, b, c) = (node(2), node(3), node(4));
    let r = bench.response;
    let to = LinkTarget::Neighbor(root);
    // Speak from the link-local address first, so the root knows hilt's.
    let hello = Datagram::control(HILT_NODE, root, RplMessage::Dis(Dis::default()));
    bench.send(to, &hello.to_bytes()).await?;
    let ack_for = |dst: Ipv6Addr, seq: u8| {
        move |s: &Seen| {
            s.dao_ack()
                .is_some_and(|k| k.sequence == seq && k.status < 128)
                && (s.dst() == Some(dst)
                    || s.dg
                        .as_ref()
                        .and_then(|d| d.routing.as_ref())
                        .and_then(|r| r.addresses.last())
                        == Some(&dst))
        }
    };
    let case = td.param("case").unwrap_or_default();
    let at = bench.mark();
    match case.as_str() {
        "ack" | "sequence" | "no-k" | "unknown-option" => {
            let k = case != "no-k";
            let mut bytes = dao_from(&dio, a, Some(dio.dodag_id), 77, k, 30);
            if case == "unknown-option" {
                append_option(&mut bytes, &[0x2a, 2, 0xaa, 0xbb]);
            }
            bench.send(to, &bytes).await?;
            let got = bench.wait(at, r, |s| s.dao_ack().is_some()).await;
            match (case.as_str(), got) {
                ("no-k", None) => Ok(()),
                ("no-k", Some(s)) => Err(fail(
                    td,
                    format!("a DAO-ACK for a DAO without K: {}", s.hex()),
                )),
                (_, None) => Err(fail(td, format!("no DAO-ACK within {} ms", ms(r)))),
                ("sequence", Some(s)) => {
                    let seq = s.dao_ack().map_or(0, |k| k.sequence);
                    if seq == 77 {
                        Ok(())
                    } else {
                        Err(fail(td, format!("DAO-ACK DAOSequence {seq}, want 77")))
                    }
                }
                (_, Some(s)) => {
                    let k = s.dao_ack().expect("a DAO-ACK");
                    if k.instance_id == dio.instance_id && k.status < 128 && s.dst() == Some(a) {
                        Ok(())
                    } else {
                        Err(fail(
                            td,
                            format!(
                                "DAO-ACK to {:?} RPLInstanceID {} status {}: {}",
                                s.dst(),
                                k.instance_id,
                                k.status,
                                s.hex()
                            ),
                        ))
                    }
                }
            }
        }
        "source-route" => {
            bench
                .send(to, &dao_from(&dio, a, Some(dio.dodag_id), 10, false, 30))
                .await?;
            bench
                .send(to, &dao_from(&dio, b, Some(a), 11, true, 30))
                .await?;
            let Some(s) = bench
                .wait(at, r, |s| s.dao_ack().is_some_and(|k| k.sequence == 11))
                .await
            else {
                return Err(fail(td, format!("no DAO-ACK for B within {} ms", ms(r))));
            };
            let dg = s.dg.as_ref().expect("parsed");
            let via_a = dg.ipv6.dst_addr == a
                && dg.routing.as_ref().and_then(|r| r.addresses.last()) == Some(&b);
            if via_a {
                Ok(())
            } else {
                Err(fail(
                    td,
                    format!(
                        "DAO-ACK for B sent to {} with {:?}, not to A with a Source Routing Header: {}",
                        dg.ipv6.dst_addr,
                        dg.routing.as_ref().map(|r| &r.addresses),
                        s.hex()
                    ),
                ))
            }
        }
        "no-path" | "no-parent" => {
            if case == "no-path" {
                bench
                    .send(to, &dao_from(&dio, a, Some(dio.dodag_id), 20, false, 30))
                    .await?;
                bench
                    .send(to, &dao_from(&dio, b, Some(a), 21, false, 30))
                    .await?;
                bench
                    .send(to, &dao_from(&dio, b, Some(a), 22, false, 0))
                    .await?;
                bench
                    .send(to, &dao_from(&dio, c, Some(b), 23, true, 30))
                    .await?;
            } else {
                bench
                    .send(to, &dao_from(&dio, a, None, 20, false, 30))
                    .await?;
                bench
                    .send(to, &dao_from(&dio, c, Some(a), 23, true, 30))
                    .await?;
            }
            let dst = c;
            if let Some(s) = bench.wait(at, r, ack_for(dst, 23)).await {
                return Err(fail(
                    td,
                    format!(
                        "the root still reached {dst} after its path was broken: {}",
                        s.hex()
                    ),
                ));
            }
            // The root is alive: a DAO for A, parent the root, is acknowledged.
            let at = bench.mark();
            bench
                .send(to, &dao_from(&dio, a, Some(dio.dodag_id), 24, true, 30))
                .await?;
            match bench.wait(at, r, ack_for(a, 24)).await {
                Some(_) => Ok(()),
                None => Err(Failure::inconclusive(format!(
                    "the root acknowledged nothing afterwards, not even a valid DAO within {} ms",
                    ms(r)
                ))),
            }
        }
        "malformed" => {
            let shape = td.param("dao").unwrap_or_default();
            let mut bytes = dao_from(&dio, a, Some(dio.dodag_id), 30, true, 30);
            match shape.as_str() {
                "empty-target" => {
                    let dao = Dao {
                        instance_id: dio.instance_id,
                        expect_ack: true,
                        flags: 0,
                        reserved: 0,
                        sequence: 30,
                        dodag_id: Some(dio.dodag_id),
                        options: Vec::new(),
                    };
                    let mut dg = Datagram::control(a, dio.dodag_id, RplMessage::Dao(dao));
                    dg.ipv6.hop_limit = 64;
                    bytes = dg.to_bytes();
                    append_option(&mut bytes, &[0x05, 2, 0, 0]);
                    let transit = [0x06, 20, 0, 0, 30, 30];
                    let mut t = transit.to_vec();
                    t.extend_from_slice(&dio.dodag_id.octets());
                    append_option(&mut bytes, &t);
                }
                "option-overrun" => append_option(&mut bytes, &[0x2a, 42, 0, 0]),
                "bad-checksum" => bytes[42] ^= 0x01,
                other => return Err(Failure::error(format!("root-dao: unknown DAO `{other}`"))),
            }
            bench.send(to, &bytes).await?;
            if let Some(s) = bench.wait(at, r, ack_for(a, 30)).await {
                return Err(fail(
                    td,
                    format!("the malformed DAO ({shape}) was acknowledged: {}", s.hex()),
                ));
            }
            let at = bench.mark();
            bench
                .send(to, &dao_from(&dio, a, Some(dio.dodag_id), 31, true, 30))
                .await?;
            match bench.wait(at, r, ack_for(a, 31)).await {
                Some(_) => Ok(()),
                None => Err(Failure::inconclusive(format!(
                    "no DAO-ACK for a valid DAO either within {} ms",
                    ms(r)
                ))),
            }
        }
        other => Err(Failure::error(format!("root-dao: unknown case `{other}`"))),
    }
}

async fn root_version(td: &Td, bench: &Bench) -> Outcome {
    let first = root_first_dio(td, bench).await?;
    let mut dio = first.dio().expect("a DIO").clone();
    let cfg = config_of(&dio).unwrap_or_default();
    let version = dio.version;
    dio.version = version.wrapping_add(1);
    dio.rank = 512;
    let at = bench.mark();
    bench
        .send(
            LinkTarget::Broadcast,
            &Datagram::control(HILT_NODE, ALL_RPL_NODES, RplMessage::Dio(dio)).to_bytes(),
        )
        .await?;
    let dis = Datagram::control(HILT_NODE, ALL_RPL_NODES, RplMessage::Dis(Dis::default()));
    bench.send(LinkTarget::Broadcast, &dis.to_bytes()).await?;
    let dios = bench
        .collect(at, imin(&cfg) + bench.response, |s| {
            s.multicast_dio().is_some()
        })
        .await;
    if dios.is_empty() {
        return Err(Failure::inconclusive("no DIO from the root after the DIS"));
    }
    match dios
        .iter()
        .find(|s| s.dio().is_some_and(|d| d.version != version))
    {
        None => Ok(()),
        Some(s) => Err(fail(
            td,
            format!(
                "the root moved from Version {version} to {} after a node's DIO: {}",
                s.dio().map_or(0, |d| d.version),
                s.hex()
            ),
        )),
    }
}

#[cfg(test)]
mod test {
    use hilt_wire::rpl::iid_of;

    use super::*;

    #[test]
    fn iid_helpers_agree_with_the_scripted_root() {
        assert_eq!(iid_of(DODAG_ID), 1);
        assert_eq!(with_iid(DODAG_ID, 0), PREFIX);
    }
}
