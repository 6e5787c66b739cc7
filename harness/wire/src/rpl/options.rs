//! RPL control message options (RFC 6550 §6.7) and the metric objects inside a DAG
//! Metric Container (RFC 6551 §2.1).
//!
//! [`OptionIter`] walks the type-length-value layer and never panics; [`RplOption`] is
//! the validated representation. Option types hilt does not know decode to
//! [`RplOption::Unknown`], since RFC 6550 §6.7.1 has receivers ignore them rather than
//! reject the message.

use std::net::Ipv6Addr;

use super::error::{
    Violation, addr_at, prefix_octets, put, put_u8, put_u16, put_u32, u8_at, u16_at, u32_at,
};
use super::rules::Rule;

/// Option type numbers (RFC 6550 §20.4).
pub mod kind {
    pub const PAD1: u8 = 0x00;
    pub const PADN: u8 = 0x01;
    pub const DAG_METRIC_CONTAINER: u8 = 0x02;
    pub const ROUTE_INFORMATION: u8 = 0x03;
    pub const DODAG_CONFIGURATION: u8 = 0x04;
    pub const RPL_TARGET: u8 = 0x05;
    pub const TRANSIT_INFORMATION: u8 = 0x06;
    pub const SOLICITED_INFORMATION: u8 = 0x07;
    pub const PREFIX_INFORMATION: u8 = 0x08;
    pub const TARGET_DESCRIPTOR: u8 = 0x09;
}

/// One option as it sits in the message: type, data, and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    pub kind: u8,
    /// Option Data (empty for Pad1).
    pub data: &'a [u8],
    /// Offset of the Type octet from the start of the enclosing message.
    pub offset: usize,
}

/// The options of a message, one TLV at a time. After the first error it stops.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    failed: bool,
}

impl<'a> OptionIter<'a> {
    /// Options in `buf`, which starts `base` octets into the message (for offsets).
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        OptionIter {
            buf,
            pos: 0,
            base,
            failed: false,
        }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<RawOption<'a>, Violation>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        let kind = u8_at(self.buf, at);
        if kind == kind::PAD1 {
            self.pos += 1;
            return Some(Ok(RawOption {
                kind,
                data: &[],
                offset: self.base + at,
            }));
        }
        let Some(&len) = self.buf.get(at + 1) else {
            self.failed = true;
            return Some(Err(Violation::new(
                Rule::OptionLength,
                self.base + at,
                format!("option type {kind:#04x} has no Length octet"),
            )));
        };
        let end = at + 2 + usize::from(len);
        match self.buf.get(at + 2..end) {
            Some(data) => {
                self.pos = end;
                Some(Ok(RawOption {
                    kind,
                    data,
                    offset: self.base + at,
                }))
            }
            None => {
                self.failed = true;
                Some(Err(Violation::new(
                    Rule::OptionLength,
                    self.base + at + 1,
                    format!(
                        "option type {kind:#04x} Length {len} but {} octets remain",
                        self.buf.len() - at - 2
                    ),
                )))
            }
        }
    }
}

/// The DODAG Configuration option (RFC 6550 §6.7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DodagConfiguration {
    /// The four high bits of the first octet, reserved by RFC 6550; kept as sent.
    pub flags: u8,
    /// A: RPL security authenticates the Instance.
    pub authentication: bool,
    /// PCS: Path Control Size, 0..=7.
    pub path_control_size: u8,
    pub dio_interval_doublings: u8,
    /// DIOIntMin: Imin is 2^this milliseconds.
    pub dio_interval_min: u8,
    pub dio_redundancy_constant: u8,
    pub max_rank_increase: u16,
    pub min_hop_rank_increase: u16,
    pub objective_code_point: u16,
    pub reserved: u8,
    pub default_lifetime: u8,
    pub lifetime_unit: u16,
}

impl Default for DodagConfiguration {
    /// RFC 6550 §17's defaults: Imin 2^3 ms, 20 doublings, k = 10, MinHopRankIncrease
    /// 256, PCS 0; OF0; MaxRankIncrease 7 × MinHopRankIncrease (a common choice, the
    /// RFC leaves it to the deployment); lifetimes infinite.
    fn default() -> Self {
        DodagConfiguration {
            flags: 0,
            authentication: false,
            path_control_size: 0,
            dio_interval_doublings: 20,
            dio_interval_min: 3,
            dio_redundancy_constant: 10,
            max_rank_increase: 7 * 256,
            min_hop_rank_increase: 256,
            objective_code_point: 0,
            reserved: 0,
            default_lifetime: 0xff,
            lifetime_unit: 0xffff,
        }
    }
}

/// The Solicited Information option (RFC 6550 §6.7.9): which DIOs a DIS asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SolicitedInformation {
    pub instance_id: u8,
    /// V: only DODAGs of `version` should answer.
    pub version_predicate: bool,
    /// I: only Instance `instance_id` should answer.
    pub instance_predicate: bool,
    /// D: only DODAG `dodag_id` should answer.
    pub dodag_id_predicate: bool,
    /// The five low bits, reserved.
    pub flags: u8,
    pub dodag_id: Ipv6Addr,
    pub version: u8,
}

/// The Prefix Information option (RFC 6550 §6.7.10, RFC 4861's layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrefixInformation {
    pub prefix_len: u8,
    pub on_link: bool,
    pub autonomous: bool,
    /// R: `prefix` is the sender's whole address (RFC 6550 adds this flag).
    pub router_address: bool,
    /// The five low bits of the flags octet, reserved.
    pub reserved1: u8,
    pub valid_lifetime: u32,
    pub preferred_lifetime: u32,
    pub reserved2: u32,
    pub prefix: Ipv6Addr,
}

/// The Transit Information option (RFC 6550 §6.7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransitInformation {
    /// E: the target is external to the RPL domain.
    pub external: bool,
    /// The seven low bits, reserved.
    pub flags: u8,
    pub path_control: u8,
    pub path_sequence: u8,
    pub path_lifetime: u8,
    /// Present in Non-Storing mode, where the root needs the parent to build routes.
    pub parent: Option<Ipv6Addr>,
}

/// A prefix as RPL options carry it: the valid bit count and only the octets that hold
/// them (Route Information and RPL Target send no more than that).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix {
    pub len: u8,
    /// The prefix octets exactly as sent; may be longer than `len` needs.
    pub bytes: Vec<u8>,
}

impl Prefix {
    /// A whole address as a /128.
    pub fn address(a: Ipv6Addr) -> Self {
        Prefix {
            len: 128,
            bytes: a.octets().to_vec(),
        }
    }

    /// The prefix as an address, with bits past `len` as they were sent.
    pub fn as_address(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        for (d, s) in o.iter_mut().zip(&self.bytes) {
            *d = *s;
        }
        Ipv6Addr::from(o)
    }
}

/// An RPL option, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RplOption {
    Pad1,
    /// PadN with its data (normally zeros), 0..=5 octets.
    PadN(Vec<u8>),
    /// A DAG Metric Container; its objects are read with [`metric_objects`].
    DagMetricContainer(Vec<u8>),
    RouteInformation {
        prefix_len: u8,
        /// The octet holding Prf (bits 3..=4) and reserved bits, as sent.
        flags: u8,
        route_lifetime: u32,
        prefix: Vec<u8>,
    },
    DodagConfiguration(DodagConfiguration),
    RplTarget {
        flags: u8,
        prefix: Prefix,
    },
    TransitInformation(TransitInformation),
    SolicitedInformation(SolicitedInformation),
    PrefixInformation(PrefixInformation),
    TargetDescriptor(u32),
    /// An option type RFC 6550 does not define, kept for judgement.
    Unknown {
        kind: u8,
        data: Vec<u8>,
    },
}

fn exact(raw: &RawOption<'_>, want: usize, rule: Rule, name: &str) -> Result<(), Violation> {
    if raw.data.len() != want {
        return Err(Violation::new(
            rule,
            raw.offset + 1,
            format!("{name} Length {} (must be {want})", raw.data.len()),
        ));
    }
    Ok(())
}

impl RplOption {
    /// Validates one TLV.
    pub fn parse(raw: &RawOption<'_>) -> Result<RplOption, Violation> {
        let d = raw.data;
        Ok(match raw.kind {
            kind::PAD1 => RplOption::Pad1,
            kind::PADN => {
                if d.len() > 5 {
                    return Err(Violation::new(
                        Rule::PadNTooLong,
                        raw.offset + 1,
                        format!(
                            "PadN Length {} pads {} octets, at most 7 allowed",
                            d.len(),
                            d.len() + 2
                        ),
                    ));
                }
                RplOption::PadN(d.to_vec())
            }
            kind::DAG_METRIC_CONTAINER => RplOption::DagMetricContainer(d.to_vec()),
            kind::ROUTE_INFORMATION => {
                let plen = u8_at(d, 0);
                let carried = d.len().saturating_sub(6);
                if d.len() < 6 || plen > 128 || carried < prefix_octets(plen) || carried > 16 {
                    return Err(Violation::new(
                        Rule::RouteInformationPrefix,
                        raw.offset + 1,
                        format!(
                            "Route Information Length {} with Prefix Length {plen}",
                            d.len()
                        ),
                    ));
                }
                RplOption::RouteInformation {
                    prefix_len: plen,
                    flags: u8_at(d, 1),
                    route_lifetime: u32_at(d, 2),
                    prefix: d.get(6..).unwrap_or_default().to_vec(),
                }
            }
            kind::DODAG_CONFIGURATION => {
                exact(
                    raw,
                    14,
                    Rule::DodagConfigurationLength,
                    "DODAG Configuration",
                )?;
                let c = DodagConfiguration {
                    flags: u8_at(d, 0) >> 4,
                    authentication: u8_at(d, 0) & 0x08 != 0,
                    path_control_size: u8_at(d, 0) & 0x07,
                    dio_interval_doublings: u8_at(d, 1),
                    dio_interval_min: u8_at(d, 2),
                    dio_redundancy_constant: u8_at(d, 3),
                    max_rank_increase: u16_at(d, 4),
                    min_hop_rank_increase: u16_at(d, 6),
                    objective_code_point: u16_at(d, 8),
                    reserved: u8_at(d, 10),
                    default_lifetime: u8_at(d, 11),
                    lifetime_unit: u16_at(d, 12),
                };
                if c.min_hop_rank_increase == 0 {
                    return Err(Violation::new(
                        Rule::MinHopRankIncreaseZero,
                        raw.offset + 2 + 6,
                        "MinHopRankIncrease 0",
                    ));
                }
                RplOption::DodagConfiguration(c)
            }
            kind::RPL_TARGET => {
                let plen = u8_at(d, 1);
                let carried = d.len().saturating_sub(2);
                if d.len() < 2 || plen > 128 || carried < prefix_octets(plen) || carried > 16 {
                    return Err(Violation::new(
                        Rule::TargetPrefix,
                        raw.offset + 1,
                        format!("RPL Target Length {} with Prefix Length {plen}", d.len()),
                    ));
                }
                if plen == 0 {
                    return Err(Violation::new(
                        Rule::TargetEmpty,
                        raw.offset + 3,
                        "RPL Target with Prefix Length 0",
                    ));
                }
                RplOption::RplTarget {
                    flags: u8_at(d, 0),
                    prefix: Prefix {
                        len: plen,
                        bytes: d.get(2..).unwrap_or_default().to_vec(),
                    },
                }
            }
            kind::TRANSIT_INFORMATION => {
                if d.len() != 4 && d.len() != 20 {
                    return Err(Violation::new(
                        Rule::TransitInformationLength,
                        raw.offset + 1,
                        format!("Transit Information Length {} (must be 4 or 20)", d.len()),
                    ));
                }
                RplOption::TransitInformation(TransitInformation {
                    external: u8_at(d, 0) & 0x80 != 0,
                    flags: u8_at(d, 0) & 0x7f,
                    path_control: u8_at(d, 1),
                    path_sequence: u8_at(d, 2),
                    path_lifetime: u8_at(d, 3),
                    parent: (d.len() == 20).then(|| addr_at(d, 4)),
                })
            }
            kind::SOLICITED_INFORMATION => {
                exact(
                    raw,
                    19,
                    Rule::SolicitedInformationLength,
                    "Solicited Information",
                )?;
                let f = u8_at(d, 1);
                RplOption::SolicitedInformation(SolicitedInformation {
                    instance_id: u8_at(d, 0),
                    version_predicate: f & 0x80 != 0,
                    instance_predicate: f & 0x40 != 0,
                    dodag_id_predicate: f & 0x20 != 0,
                    flags: f & 0x1f,
                    dodag_id: addr_at(d, 2),
                    version: u8_at(d, 18),
                })
            }
            kind::PREFIX_INFORMATION => {
                exact(raw, 30, Rule::PrefixInformationLength, "Prefix Information")?;
                let plen = u8_at(d, 0);
                if plen > 128 {
                    return Err(Violation::new(
                        Rule::PrefixInformationPrefixLength,
                        raw.offset + 2,
                        format!("Prefix Length {plen}"),
                    ));
                }
                let f = u8_at(d, 1);
                RplOption::PrefixInformation(PrefixInformation {
                    prefix_len: plen,
                    on_link: f & 0x80 != 0,
                    autonomous: f & 0x40 != 0,
                    router_address: f & 0x20 != 0,
                    reserved1: f & 0x1f,
                    valid_lifetime: u32_at(d, 2),
                    preferred_lifetime: u32_at(d, 6),
                    reserved2: u32_at(d, 10),
                    prefix: addr_at(d, 14),
                })
            }
            kind::TARGET_DESCRIPTOR => {
                exact(
                    raw,
                    4,
                    Rule::TargetDescriptorLength,
                    "RPL Target Descriptor",
                )?;
                RplOption::TargetDescriptor(u32_at(d, 0))
            }
            other => RplOption::Unknown {
                kind: other,
                data: d.to_vec(),
            },
        })
    }

    /// Every option in `buf` (which starts `base` octets into its message).
    pub fn parse_all(buf: &[u8], base: usize) -> Result<Vec<RplOption>, Violation> {
        OptionIter::new(buf, base)
            .map(|r| r.and_then(|raw| RplOption::parse(&raw)))
            .collect()
    }

    pub fn kind(&self) -> u8 {
        match self {
            RplOption::Pad1 => kind::PAD1,
            RplOption::PadN(_) => kind::PADN,
            RplOption::DagMetricContainer(_) => kind::DAG_METRIC_CONTAINER,
            RplOption::RouteInformation { .. } => kind::ROUTE_INFORMATION,
            RplOption::DodagConfiguration(_) => kind::DODAG_CONFIGURATION,
            RplOption::RplTarget { .. } => kind::RPL_TARGET,
            RplOption::TransitInformation(_) => kind::TRANSIT_INFORMATION,
            RplOption::SolicitedInformation(_) => kind::SOLICITED_INFORMATION,
            RplOption::PrefixInformation(_) => kind::PREFIX_INFORMATION,
            RplOption::TargetDescriptor(_) => kind::TARGET_DESCRIPTOR,
            RplOption::Unknown { kind, .. } => *kind,
        }
    }

    /// Octets of Option Data (what the Length field says).
    fn data_len(&self) -> usize {
        match self {
            RplOption::Pad1 => 0,
            RplOption::PadN(d) | RplOption::DagMetricContainer(d) => d.len(),
            RplOption::RouteInformation { prefix, .. } => 6 + prefix.len(),
            RplOption::DodagConfiguration(_) => 14,
            RplOption::RplTarget { prefix, .. } => 2 + prefix.bytes.len(),
            RplOption::TransitInformation(t) => {
                if t.parent.is_some() {
                    20
                } else {
                    4
                }
            }
            RplOption::SolicitedInformation(_) => 19,
            RplOption::PrefixInformation(_) => 30,
            RplOption::TargetDescriptor(_) => 4,
            RplOption::Unknown { data, .. } => data.len(),
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            RplOption::Pad1 => 1,
            other => 2 + other.data_len(),
        }
    }

    /// Writes the option into `buf[..self.buffer_len()]`. Data longer than a Length
    /// octet can say is cut at 255 octets (only reachable by building such a repr).
    pub fn emit(&self, buf: &mut [u8]) {
        put_u8(buf, 0, self.kind());
        if let RplOption::Pad1 = self {
            return;
        }
        put_u8(buf, 1, self.data_len().min(255) as u8);
        let from = 2.min(buf.len());
        let d = &mut buf[from..];
        match self {
            RplOption::Pad1 => {}
            RplOption::PadN(data) | RplOption::DagMetricContainer(data) => put(d, 0, data),
            RplOption::Unknown { data, .. } => put(d, 0, data),
            RplOption::RouteInformation {
                prefix_len,
                flags,
                route_lifetime,
                prefix,
            } => {
                put_u8(d, 0, *prefix_len);
                put_u8(d, 1, *flags);
                put_u32(d, 2, *route_lifetime);
                put(d, 6, prefix);
            }
            RplOption::DodagConfiguration(c) => {
                put_u8(
                    d,
                    0,
                    (c.flags << 4) | (u8::from(c.authentication) << 3) | (c.path_control_size & 7),
                );
                put_u8(d, 1, c.dio_interval_doublings);
                put_u8(d, 2, c.dio_interval_min);
                put_u8(d, 3, c.dio_redundancy_constant);
                put_u16(d, 4, c.max_rank_increase);
                put_u16(d, 6, c.min_hop_rank_increase);
                put_u16(d, 8, c.objective_code_point);
                put_u8(d, 10, c.reserved);
                put_u8(d, 11, c.default_lifetime);
                put_u16(d, 12, c.lifetime_unit);
            }
            RplOption::RplTarget { flags, prefix } => {
                put_u8(d, 0, *flags);
                put_u8(d, 1, prefix.len);
                put(d, 2, &prefix.bytes);
            }
            RplOption::TransitInformation(t) => {
                put_u8(d, 0, (u8::from(t.external) << 7) | (t.flags & 0x7f));
                put_u8(d, 1, t.path_control);
                put_u8(d, 2, t.path_sequence);
                put_u8(d, 3, t.path_lifetime);
                if let Some(p) = t.parent {
                    put(d, 4, &p.octets());
                }
            }
            RplOption::SolicitedInformation(s) => {
                put_u8(d, 0, s.instance_id);
                put_u8(
                    d,
                    1,
                    (u8::from(s.version_predicate) << 7)
                        | (u8::from(s.instance_predicate) << 6)
                        | (u8::from(s.dodag_id_predicate) << 5)
                        | (s.flags & 0x1f),
                );
                put(d, 2, &s.dodag_id.octets());
                put_u8(d, 18, s.version);
            }
            RplOption::PrefixInformation(p) => {
                put_u8(d, 0, p.prefix_len);
                put_u8(
                    d,
                    1,
                    (u8::from(p.on_link) << 7)
                        | (u8::from(p.autonomous) << 6)
                        | (u8::from(p.router_address) << 5)
                        | (p.reserved1 & 0x1f),
                );
                put_u32(d, 2, p.valid_lifetime);
                put_u32(d, 6, p.preferred_lifetime);
                put_u32(d, 10, p.reserved2);
                put(d, 14, &p.prefix.octets());
            }
            RplOption::TargetDescriptor(v) => put_u32(d, 0, *v),
        }
    }

    /// An RPL Target option naming one whole address.
    pub fn target(addr: Ipv6Addr) -> Self {
        RplOption::RplTarget {
            flags: 0,
            prefix: Prefix::address(addr),
        }
    }
}

pub(crate) fn options_len(options: &[RplOption]) -> usize {
    options.iter().map(RplOption::buffer_len).sum()
}

pub(crate) fn emit_options(options: &[RplOption], buf: &mut [u8]) {
    let mut at = 0;
    for o in options {
        let n = o.buffer_len();
        if let Some(dst) = buf.get_mut(at..) {
            o.emit(dst);
        }
        at += n;
    }
}

/// Routing metric/constraint object types (RFC 6551 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    NodeStateAndAttribute,
    NodeEnergy,
    HopCount,
    Throughput,
    Latency,
    LinkQualityLevel,
    Etx,
    LinkColor,
    Unknown(u8),
}

impl MetricType {
    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => MetricType::NodeStateAndAttribute,
            2 => MetricType::NodeEnergy,
            3 => MetricType::HopCount,
            4 => MetricType::Throughput,
            5 => MetricType::Latency,
            6 => MetricType::LinkQualityLevel,
            7 => MetricType::Etx,
            8 => MetricType::LinkColor,
            n => MetricType::Unknown(n),
        }
    }
}

/// One metric or constraint object of a DAG Metric Container (RFC 6551 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricObject<'a> {
    pub kind: MetricType,
    /// The sixteen bits after the type: reserved(5) P C O R A(3) Prec(4).
    pub flags: u16,
    pub body: &'a [u8],
}

impl MetricObject<'_> {
    /// C: a constraint rather than a metric.
    pub fn is_constraint(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    /// A: how the path value aggregates (0 additive, 1 max, 2 min, 3 multiplicative).
    pub fn aggregation(&self) -> u8 {
        ((self.flags >> 4) & 0x7) as u8
    }

    /// The ETX object's value, in units of 1/128 (RFC 6551 §4.3.2).
    pub fn etx(&self) -> Option<u16> {
        (self.kind == MetricType::Etx && self.body.len() >= 2).then(|| u16_at(self.body, 0))
    }

    /// The Hop Count object's count (RFC 6551 §3.3: reserved and flags nibbles, then the count).
    pub fn hop_count(&self) -> Option<u8> {
        (self.kind == MetricType::HopCount && self.body.len() >= 2).then(|| u8_at(self.body, 1))
    }
}

/// The objects of a DAG Metric Container's body; `base` is the body's offset in the
/// message. Stops after the first object that overruns the container.
pub fn metric_objects(
    body: &[u8],
    base: usize,
) -> impl Iterator<Item = Result<MetricObject<'_>, Violation>> {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= body.len() {
            return None;
        }
        let at = pos;
        let len = usize::from(u8_at(body, at + 3));
        match body.get(at + 4..at + 4 + len) {
            Some(b) if at + 4 <= body.len() => {
                pos = at + 4 + len;
                Some(Ok(MetricObject {
                    kind: MetricType::from_u8(u8_at(body, at)),
                    flags: u16_at(body, at + 1),
                    body: b,
                }))
            }
            _ => {
                failed = true;
                Some(Err(Violation::new(
                    Rule::MetricObjectLength,
                    base + at,
                    format!("metric object of {len} octets overruns the container"),
                )))
            }
        }
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn parse_one(bytes: &[u8]) -> Result<RplOption, Violation> {
        let mut it = OptionIter::new(bytes, 0);
        let raw = it.next().unwrap()?;
        RplOption::parse(&raw)
    }

    fn round_trip(o: &RplOption) {
        let mut buf = vec![0xa5u8; o.buffer_len()];
        o.emit(&mut buf);
        assert_eq!(&parse_one(&buf).unwrap(), o, "{buf:02x?}");
    }

    static DODAG_CONF: [u8; 16] = [
        0x04, 0x0e, 0x08, 0x14, 0x03, 0x0a, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x1e, 0x00,
        0x3c,
    ];

    #[test]
    fn test_parse_dodag_configuration() {
        let o = parse_one(&DODAG_CONF).unwrap();
        let RplOption::DodagConfiguration(c) = o else {
            panic!("{o:?}")
        };
        assert!(c.authentication);
        assert_eq!(c.path_control_size, 0);
        assert_eq!(
            (
                c.dio_interval_doublings,
                c.dio_interval_min,
                c.dio_redundancy_constant
            ),
            (20, 3, 10)
        );
        assert_eq!(
            (
                c.max_rank_increase,
                c.min_hop_rank_increase,
                c.objective_code_point
            ),
            (1792, 256, 1)
        );
        assert_eq!((c.default_lifetime, c.lifetime_unit), (0x1e, 60));
    }

    #[test]
    fn test_emit_dodag_configuration() {
        let o = parse_one(&DODAG_CONF).unwrap();
        let mut buf = [0xa5u8; 16];
        o.emit(&mut buf);
        assert_eq!(buf, DODAG_CONF);
    }

    #[test]
    fn min_hop_rank_increase_zero_is_named() {
        let mut b = DODAG_CONF;
        b[8] = 0;
        b[9] = 0;
        let e = parse_one(&b).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("RFC6550-6.7.6-2", 8));
    }

    #[test]
    fn test_impossible_len() {
        // DODAG Configuration of 13 octets.
        let e = parse_one(&[0x04, 0x0d, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("RFC6550-6.7.6-1", 1));
        // Length past the end.
        let e = parse_one(&[0x05, 0x12, 0x00, 0x80, 1, 2]).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("RFC6550-6.7.1-1", 1));
        // A type octet with no length octet.
        let e = parse_one(&[0x02]).unwrap_err();
        assert_eq!(e.rule.id, "RFC6550-6.7.1-1");
        // PadN of 8 octets.
        let e = parse_one(&[0x01, 0x06, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(e.rule.id, "RFC6550-6.7.3-1");
        // RPL Target /64 carrying 7 octets; /129; /0.
        let e = parse_one(&[0x05, 0x09, 0x00, 64, 1, 2, 3, 4, 5, 6, 7]).unwrap_err();
        assert_eq!(e.rule.id, "RFC6550-6.7.7-1");
        let e = parse_one(&[
            0x05, 0x12, 0x00, 129, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ])
        .unwrap_err();
        assert_eq!(e.rule.id, "RFC6550-6.7.7-1");
        let e = parse_one(&[0x05, 0x02, 0x00, 0x00]).unwrap_err();
        assert_eq!((e.rule.id, e.offset), ("RFC6550-6.7.7-2", 3));
        // Transit Information of 5; Solicited Information of 18; Prefix Information of 29.
        assert_eq!(
            parse_one(&[0x06, 5, 0, 0, 0, 0, 0]).unwrap_err().rule.id,
            "RFC6550-6.7.8-1"
        );
        let mut si = vec![0x07, 18];
        si.extend([0u8; 18]);
        assert_eq!(parse_one(&si).unwrap_err().rule.id, "RFC6550-6.7.9-1");
        let mut pi = vec![0x08, 29];
        pi.extend([0u8; 29]);
        assert_eq!(parse_one(&pi).unwrap_err().rule.id, "RFC6550-6.7.10-1");
        let mut pi = vec![0x08, 30, 200];
        pi.extend([0u8; 29]);
        assert_eq!(parse_one(&pi).unwrap_err().rule.id, "RFC6550-6.7.10-2");
        assert_eq!(
            parse_one(&[0x09, 3, 0, 0, 0]).unwrap_err().rule.id,
            "RFC6550-6.7.11-1"
        );
        // Route Information /48 with 5 prefix octets.
        let e = parse_one(&[0x03, 11, 48, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap_err();
        assert_eq!(e.rule.id, "RFC6550-6.7.5-1");
    }

    #[test]
    fn unknown_option_types_are_kept() {
        let o = parse_one(&[0x0a, 0x02, 0xbe, 0xef]).unwrap();
        assert_eq!(
            o,
            RplOption::Unknown {
                kind: 0x0a,
                data: vec![0xbe, 0xef]
            }
        );
        round_trip(&o);
    }

    #[test]
    fn every_option_round_trips() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        for o in [
            RplOption::Pad1,
            RplOption::PadN(vec![]),
            RplOption::PadN(vec![0; 5]),
            RplOption::DagMetricContainer(vec![7, 0, 0, 2, 0x01, 0x80]),
            RplOption::RouteInformation {
                prefix_len: 48,
                flags: 0x08,
                route_lifetime: 3600,
                prefix: vec![0x20, 1, 0xd, 0xb8, 0, 0],
            },
            RplOption::DodagConfiguration(DodagConfiguration::default()),
            RplOption::target(a),
            RplOption::RplTarget {
                flags: 0,
                prefix: Prefix {
                    len: 64,
                    bytes: vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0],
                },
            },
            RplOption::TransitInformation(TransitInformation {
                external: true,
                flags: 0,
                path_control: 0x80,
                path_sequence: 3,
                path_lifetime: 0xff,
                parent: None,
            }),
            RplOption::TransitInformation(TransitInformation {
                external: false,
                flags: 0,
                path_control: 0,
                path_sequence: 0,
                path_lifetime: 30,
                parent: Some(a),
            }),
            RplOption::SolicitedInformation(SolicitedInformation {
                instance_id: 30,
                version_predicate: true,
                instance_predicate: true,
                dodag_id_predicate: false,
                flags: 0,
                dodag_id: a,
                version: 240,
            }),
            RplOption::PrefixInformation(PrefixInformation {
                prefix_len: 64,
                on_link: false,
                autonomous: true,
                router_address: true,
                reserved1: 0,
                valid_lifetime: u32::MAX,
                preferred_lifetime: 86400,
                reserved2: 0,
                prefix: a,
            }),
            RplOption::TargetDescriptor(0xdead_beef),
        ] {
            round_trip(&o);
        }
    }

    #[test]
    fn metric_container_objects() {
        // ETX 1.5 (192/128), then a hop count of 3, additive.
        let body = [7, 0x00, 0x00, 2, 0x00, 0xc0, 3, 0x00, 0x00, 2, 0x00, 0x03];
        let objs: Vec<_> = metric_objects(&body, 0).collect::<Result<_, _>>().unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].etx(), Some(192));
        assert_eq!(objs[1].hop_count(), Some(3));
        assert_eq!(objs[0].aggregation(), 0);
        let bad: Vec<_> = metric_objects(&[7, 0, 0, 9, 0], 10).collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].as_ref().unwrap_err().offset, 10);
    }
}
