//! `hilt decode`: frames from hex, a binary file or a pcapng trace, with every rule each
//! frame breaks.

use std::collections::BTreeMap;
use std::path::Path;

use hilt_wire::{Decoded, Framer};

use crate::args::DecodeArgs;
use crate::exit::{ExitCode, usage};

pub fn decode(args: DecodeArgs) -> anyhow::Result<ExitCode> {
    let framer_for = framer_factory(&args)?;
    let path = Path::new(&args.input);
    let streams: Vec<(String, Vec<u8>)> = if path.is_file() {
        let bytes = std::fs::read(path)?;
        if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            pcapng_streams(&bytes)?
        } else {
            vec![(path.display().to_string(), bytes)]
        }
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

type MakeFramer = Box<dyn Fn() -> Box<dyn Framer>>;

fn framer_factory(args: &DecodeArgs) -> anyhow::Result<MakeFramer> {
    if args.protocol == "mqtt"
        && let Some(v) = &args.mqtt_version
    {
        let version = match v.as_str() {
            "5" | "5.0" => hilt_wire::mqtt::Version::V5,
            "3.1.1" | "4" | "311" => hilt_wire::mqtt::Version::V311,
            other => return Err(usage(format!("--mqtt-version `{other}`: say 3.1.1 or 5"))),
        };
        return Ok(Box::new(move || {
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
    let f = std::sync::Arc::clone(&suite.framer);
    Ok(Box::new(move || f()))
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

/// TCP payloads of a pcapng trace, reassembled per direction of each connection in
/// capture order (enough for traces without loss, such as hilt's own).
fn pcapng_streams(bytes: &[u8]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    use pcap_file::DataLink;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let mut reader =
        PcapNgReader::new(bytes).map_err(|e| usage(format!("not a readable pcapng: {e}")))?;
    let mut links: Vec<DataLink> = Vec::new();
    let mut streams: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    while let Some(block) = reader.next_block() {
        let block = block.map_err(|e| usage(format!("corrupt pcapng: {e}")))?;
        match block {
            Block::InterfaceDescription(idb) => links.push(idb.linktype),
            Block::EnhancedPacket(epb) => {
                let link = links
                    .get(epb.interface_id as usize)
                    .copied()
                    .unwrap_or(DataLink::IPV4);
                if let Some((key, payload)) = tcp_payload(link, &epb.data)
                    && !payload.is_empty()
                {
                    if !streams.contains_key(&key) {
                        order.push(key.clone());
                    }
                    streams.entry(key).or_default().extend_from_slice(payload);
                }
            }
            _ => {}
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|k| streams.remove(&k).map(|v| (k, v)))
        .collect())
}

fn tcp_payload(link: pcap_file::DataLink, data: &[u8]) -> Option<(String, &[u8])> {
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
            let src =
                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?).to_string();
            let dst =
                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(16..20)?).ok()?).to_string();
            (src, dst, ip.get(ihl..total.min(ip.len()))?)
        }
        6 => {
            if *ip.get(6)? != 6 {
                return None;
            }
            let src =
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?).to_string();
            let dst =
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?).to_string();
            (src, dst, ip.get(40..)?)
        }
        _ => return None,
    };
    let sport = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let dport = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let off = usize::from(tcp.get(12)? >> 4) * 4;
    Some((format!("{src}:{sport} -> {dst}:{dport}"), tcp.get(off..)?))
}
