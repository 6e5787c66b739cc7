//! `hilt decode`: frames from hex, a binary file or a pcapng trace (TCP connections and
//! UDP datagrams), with every rule each frame breaks.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hilt_core::Direction;
use hilt_net::{Recorder, Transport};
use hilt_wire::{Decoded, FramerFactory};

use crate::args::DecodeArgs;
use crate::exit::{ExitCode, usage};

pub fn decode(args: DecodeArgs) -> anyhow::Result<ExitCode> {
    let path = Path::new(&args.input);
    let streams: Vec<(String, Vec<u8>)> = if path.is_file() {
        let bytes = std::fs::read(path)?;
        if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            return decode_pcapng(&bytes, &args);
        }
        vec![(path.display().to_string(), bytes)]
    } else {
        vec![("input".to_owned(), parse_hex(&args.input)?)]
    };
    let framer_for = framer_factory(args.protocol.as_deref().unwrap_or("mqtt"), &args)?;
    let mut malformed = false;
    for (name, bytes) in streams {
        if name != "input" {
            println!("== {name}");
        }
        let mut framer = framer_for();
        let mut rest = &bytes[..];
        let mut offset = 0usize;
        while !rest.is_empty() {
            match framer.frame_len(rest) {
                Ok(Decoded::Done(n, _)) if n > 0 && n <= rest.len() => {
                    let meta = framer.describe(&rest[..n]);
                    println!("{offset:>6}  {}", meta.summary);
                    malformed |= print_problems(&meta.problems);
                    rest = &rest[n..];
                    offset += n;
                }
                Ok(Decoded::Done(..)) => {
                    println!("{offset:>6}  cannot delimit the next frame");
                    malformed = true;
                    break;
                }
                Ok(Decoded::NeedMore(more)) => {
                    println!(
                        "{offset:>6}  truncated: the frame needs at least {more} more bytes than the {} given",
                        rest.len()
                    );
                    malformed = true;
                    break;
                }
                Err(why) => {
                    println!("{offset:>6}  ! {why}");
                    malformed = true;
                    break;
                }
            }
        }
    }
    Ok(verdict(malformed))
}

/// Prints a frame's broken rules; true when there were any.
fn print_problems(problems: &[String]) -> bool {
    for p in problems {
        println!("        ! {p}");
    }
    !problems.is_empty()
}

fn verdict(malformed: bool) -> ExitCode {
    if malformed {
        ExitCode::TestsFailed
    } else {
        ExitCode::Ok
    }
}

fn framer_factory(protocol: &str, args: &DecodeArgs) -> anyhow::Result<FramerFactory> {
    if protocol == "mqtt"
        && let Some(v) = &args.mqtt_version
    {
        let version = match v.as_str() {
            "5" | "5.0" => hilt_wire::mqtt::Version::V5,
            "3.1.1" | "4" | "311" => hilt_wire::mqtt::Version::V311,
            other => return Err(usage(format!("--mqtt-version `{other}`: say 3.1.1 or 5"))),
        };
        return Ok(Arc::new(move || {
            Box::new(hilt_wire::mqtt::MqttFramer::with_version(version))
        }));
    }
    let registry = hilt_suites::registry();
    // A protocol's name, else a suite's: `amqp` tells 0-9-1 from 1.0 by the protocol
    // header, `amqp10` reads 1.0 frames that come without one.
    let found = registry
        .suites
        .iter()
        .find(|s| s.protocol == protocol)
        .or_else(|| registry.suites.iter().find(|s| s.name == protocol));
    let Some(suite) = found else {
        let known: Vec<&str> = registry.suites.iter().map(|s| s.protocol).collect();
        return Err(usage(format!(
            "no decoder for `{protocol}`; known: {}",
            known.join(", ")
        )));
    };
    Ok(Arc::clone(&suite.framer))
}

/// The protocol whose well-known port one end of a flow uses, and that end.
fn guess_by_port(a: SocketAddr, b: SocketAddr) -> Option<(&'static str, SocketAddr)> {
    let registry = hilt_suites::registry();
    [b, a].into_iter().find_map(|end| {
        registry
            .suites
            .iter()
            .find(|s| s.well_known_port == Some(end.port()))
            .map(|s| (s.protocol, end))
    })
}

fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != ',')
        .collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    if !digits.len().is_multiple_of(2) {
        return Err(usage(
            "hex input has an odd number of digits (and is not a file path)",
        ));
    }
    (0..digits.len() / 2)
        .map(|i| {
            u8::from_str_radix(&digits[i * 2..i * 2 + 2], 16).map_err(|_| {
                usage(format!(
                    "`{}` is not hex (and `{text}` is not a file)",
                    &digits[i * 2..i * 2 + 2]
                ))
            })
        })
        .collect()
}

/// One packet of a trace.
struct Packet {
    /// Since the trace's first packet.
    at: Duration,
    transport: Transport,
    src: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
}

/// The packets of one transport between two ends, in capture order.
struct Flow {
    transport: Transport,
    client: SocketAddr,
    server: SocketAddr,
    packets: Vec<Packet>,
}

/// Decodes every TCP connection and UDP flow of a pcapng trace. The protocol of each is
/// `--protocol`, else guessed from a well-known port at one end (which is then the
/// server; otherwise the first sender is the client). TCP connections are decoded with
/// both directions together (a framer learns from the other direction, as MQTT's
/// replies parse by the CONNECT's version) through the dissector that writes run
/// reports, segments in capture order, which suffices for traces without loss such as
/// hilt's own. UDP flows show one line per datagram, with its time since the trace's
/// first packet and its direction.
fn decode_pcapng(bytes: &[u8], args: &DecodeArgs) -> anyhow::Result<ExitCode> {
    let mut flows: Vec<Flow> = Vec::new();
    for p in read_packets(bytes)? {
        let same = |f: &&mut Flow| {
            f.transport == p.transport
                && ((f.client, f.server) == (p.src, p.dst)
                    || (f.client, f.server) == (p.dst, p.src))
        };
        match flows.iter_mut().find(same) {
            Some(f) => f.packets.push(p),
            None => {
                let server = match guess_by_port(p.src, p.dst) {
                    Some((_, end)) => end,
                    None => p.dst,
                };
                let client = if server == p.src { p.dst } else { p.src };
                flows.push(Flow {
                    transport: p.transport,
                    client,
                    server,
                    packets: vec![p],
                });
            }
        }
    }
    let mut malformed = false;
    for flow in &flows {
        let protocol = match (&args.protocol, guess_by_port(flow.client, flow.server)) {
            (Some(p), _) => p.as_str(),
            (None, Some((p, _))) => p,
            (None, None) => {
                println!(
                    "== {} {} <-> {}: no well-known port; say --protocol to decode it",
                    name(flow.transport),
                    flow.client,
                    flow.server
                );
                continue;
            }
        };
        let framers = framer_factory(protocol, args)?;
        println!(
            "== {} {} <-> {} ({protocol})",
            name(flow.transport),
            flow.client,
            flow.server
        );
        malformed |= match flow.transport {
            Transport::Udp | Transport::Ipv6Link => print_datagrams(flow, &framers),
            Transport::Tcp => print_stream(flow, &framers),
        };
    }
    Ok(verdict(malformed))
}

fn name(t: Transport) -> &'static str {
    match t {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
        Transport::Ipv6Link => "ipv6",
    }
}

fn arrow(flow: &Flow, p: &Packet) -> &'static str {
    if p.src == flow.client { "->" } else { "<-" }
}

/// One line per datagram; true when any breaks a rule.
fn print_datagrams(flow: &Flow, framers: &FramerFactory) -> bool {
    // One framer per direction, as the interposer keeps them.
    let (mut to_server, mut to_client) = (framers(), framers());
    let mut malformed = false;
    for p in &flow.packets {
        let framer = if p.src == flow.client {
            &mut to_server
        } else {
            &mut to_client
        };
        let meta = framer.describe(&p.payload);
        println!(
            "  {:>10.6}  {} {}",
            p.at.as_secs_f64(),
            arrow(flow, p),
            meta.summary
        );
        malformed |= print_problems(&meta.problems);
    }
    malformed
}

/// A TCP connection's frames, both directions; true when any breaks a rule.
fn print_stream(flow: &Flow, framers: &FramerFactory) -> bool {
    let recorder = Recorder::new();
    let id = recorder.open(flow.client, flow.server, None);
    for p in &flow.packets {
        let dir = if p.src == flow.client {
            Direction::Sent
        } else {
            Direction::Received
        };
        recorder.record(id, dir, &p.payload);
    }
    let mut malformed = false;
    for f in hilt_runner::dissect::dissect(&recorder, framers) {
        let arrow = match f.dir {
            Direction::Sent => "->",
            Direction::Received => "<-",
        };
        println!("  {arrow} {}", f.summary);
        malformed |= print_problems(&f.problems);
    }
    malformed
}

fn read_packets(bytes: &[u8]) -> anyhow::Result<Vec<Packet>> {
    use pcap_file::DataLink;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let mut reader =
        PcapNgReader::new(bytes).map_err(|e| usage(format!("not a readable pcapng: {e}")))?;
    let mut links: Vec<DataLink> = Vec::new();
    let mut first: Option<Duration> = None;
    let mut out = Vec::new();
    while let Some(block) = reader.next_block() {
        let block = block.map_err(|e| usage(format!("corrupt pcapng: {e}")))?;
        match block {
            Block::InterfaceDescription(idb) => links.push(idb.linktype),
            Block::EnhancedPacket(epb) => {
                let link = links
                    .get(epb.interface_id as usize)
                    .copied()
                    .unwrap_or(DataLink::IPV4);
                let start = *first.get_or_insert(epb.timestamp);
                if let Some((transport, src, dst, payload)) = transport_payload(link, &epb.data) {
                    out.push(Packet {
                        at: epb.timestamp.saturating_sub(start),
                        transport,
                        src,
                        dst,
                        payload: payload.to_vec(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The transport payload of one captured IP packet (TCP or UDP), with its two ends.
fn transport_payload(
    link: pcap_file::DataLink,
    data: &[u8],
) -> Option<(Transport, SocketAddr, SocketAddr, &[u8])> {
    use pcap_file::DataLink;
    let ip = match link {
        DataLink::ETHERNET => data.get(14..)?,
        DataLink::NULL | DataLink::LOOP => data.get(4..)?,
        _ => data,
    };
    let version = ip.first()? >> 4;
    let (proto, src, dst, l4) = match version {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let src = IpAddr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?);
            let dst = IpAddr::from(<[u8; 4]>::try_from(ip.get(16..20)?).ok()?);
            (*ip.get(9)?, src, dst, ip.get(ihl..total.min(ip.len()))?)
        }
        6 => {
            let src = IpAddr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?);
            let dst = IpAddr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?);
            (*ip.get(6)?, src, dst, ip.get(40..)?)
        }
        _ => return None,
    };
    let sport = u16::from_be_bytes([*l4.first()?, *l4.get(1)?]);
    let dport = u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]);
    let (transport, payload) = match proto {
        TCP => {
            let off = usize::from(l4.get(12)? >> 4) * 4;
            (Transport::Tcp, l4.get(off..)?)
        }
        UDP => {
            let len = usize::from(u16::from_be_bytes([*l4.get(4)?, *l4.get(5)?]));
            (Transport::Udp, l4.get(8..len.clamp(8, l4.len()))?)
        }
        _ => return None,
    };
    Some((
        transport,
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
        payload,
    ))
}

/// IP protocol numbers.
const TCP: u8 = 6;
const UDP: u8 = 17;
