//! `hilt decode`: frames from hex, a binary file or a pcapng trace, with every rule each
//! frame breaks.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use hilt_core::Direction;
use hilt_net::Recorder;
use hilt_wire::{Decoded, FramerFactory};

use crate::args::DecodeArgs;
use crate::exit::{ExitCode, usage};

pub fn decode(args: DecodeArgs) -> anyhow::Result<ExitCode> {
    let framer_for = framer_factory(&args)?;
    let path = Path::new(&args.input);
    let streams: Vec<(String, Vec<u8>)> = if path.is_file() {
        let bytes = std::fs::read(path)?;
        if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            return decode_pcapng(&bytes, &framer_for);
        }
        vec![(path.display().to_string(), bytes)]
    } else {
        vec![("input".to_owned(), parse_hex(&args.input)?)]
    };
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
                    for p in &meta.problems {
                        println!("        ! {p}");
                        malformed = true;
                    }
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
    Ok(if malformed {
        ExitCode::TestsFailed
    } else {
        ExitCode::Ok
    })
}

fn framer_factory(args: &DecodeArgs) -> anyhow::Result<FramerFactory> {
    if args.protocol == "mqtt"
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
    let Some(suite) = registry.suites.iter().find(|s| s.protocol == args.protocol) else {
        let known: Vec<&str> = registry.suites.iter().map(|s| s.protocol).collect();
        return Err(usage(format!(
            "no decoder for `{}`; known: {}",
            args.protocol,
            known.join(", ")
        )));
    };
    Ok(Arc::clone(&suite.framer))
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

/// Decodes every TCP connection of a pcapng trace, both directions together (a
/// framer learns from the other direction, as MQTT's replies parse by the CONNECT's
/// version), through the same dissector that writes run reports. Segments are taken in
/// capture order, which suffices for traces without loss such as hilt's own.
fn decode_pcapng(bytes: &[u8], framers: &FramerFactory) -> anyhow::Result<ExitCode> {
    use pcap_file::DataLink;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let mut reader =
        PcapNgReader::new(bytes).map_err(|e| usage(format!("not a readable pcapng: {e}")))?;
    let mut links: Vec<DataLink> = Vec::new();
    let recorder = Recorder::new();
    // Each connection by its two ends, with its recorder id; its first sender is the client.
    let mut conns: Vec<(SocketAddr, SocketAddr, u32)> = Vec::new();
    while let Some(block) = reader.next_block() {
        let block = block.map_err(|e| usage(format!("corrupt pcapng: {e}")))?;
        match block {
            Block::InterfaceDescription(idb) => links.push(idb.linktype),
            Block::EnhancedPacket(epb) => {
                let link = links
                    .get(epb.interface_id as usize)
                    .copied()
                    .unwrap_or(DataLink::IPV4);
                let Some((src, dst, payload)) = tcp_payload(link, &epb.data) else {
                    continue;
                };
                let found = conns
                    .iter()
                    .find(|(a, b, _)| (*a, *b) == (src, dst) || (*a, *b) == (dst, src))
                    .copied();
                let (client, _, id) = match found {
                    Some(c) => c,
                    None => {
                        let id = recorder.open(src, dst, None);
                        conns.push((src, dst, id));
                        (src, dst, id)
                    }
                };
                let dir = if src == client {
                    Direction::Sent
                } else {
                    Direction::Received
                };
                recorder.record(id, dir, payload);
            }
            _ => {}
        }
    }
    let frames = hilt_runner::dissect::dissect(&recorder, framers);
    let mut malformed = false;
    for (client, server, id) in &conns {
        println!("== {client} <-> {server}");
        for f in frames.iter().filter(|f| f.conn == *id) {
            let arrow = match f.dir {
                Direction::Sent => "->",
                Direction::Received => "<-",
            };
            println!("  {arrow} {}", f.summary);
            for p in &f.problems {
                println!("        ! {p}");
                malformed = true;
            }
        }
    }
    Ok(if malformed {
        ExitCode::TestsFailed
    } else {
        ExitCode::Ok
    })
}

fn tcp_payload(link: pcap_file::DataLink, data: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    use pcap_file::DataLink;
    let ip = match link {
        DataLink::ETHERNET => data.get(14..)?,
        DataLink::NULL | DataLink::LOOP => data.get(4..)?,
        _ => data,
    };
    let version = ip.first()? >> 4;
    let (src, dst, tcp) = match version {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if *ip.get(9)? != 6 {
                return None;
            }
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let src = IpAddr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?);
            let dst = IpAddr::from(<[u8; 4]>::try_from(ip.get(16..20)?).ok()?);
            (src, dst, ip.get(ihl..total.min(ip.len()))?)
        }
        6 => {
            if *ip.get(6)? != 6 {
                return None;
            }
            let src = IpAddr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?);
            let dst = IpAddr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?);
            (src, dst, ip.get(40..)?)
        }
        _ => return None,
    };
    let sport = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let dport = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let off = usize::from(tcp.get(12)? >> 4) * 4;
    Some((
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
        tcp.get(off..)?,
    ))
}
