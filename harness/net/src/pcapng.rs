//! Writing recorded connections as pcapng files Wireshark opens.
//!
//! A recorder keeps byte chunks, not packets; here each chunk becomes a synthetic
//! IPv4/TCP segment with consistent sequence numbers, framed by a handshake and a FIN,
//! so Wireshark reassembles the stream and applies the protocol's dissector. The
//! protocol's well-known port replaces the ephemeral one (Wireshark picks dissectors by
//! port); the real addresses are kept in the interface's description. UDP flows
//! ([`Transport::Udp`]) need none of that: each chunk is one datagram and becomes one
//! IPv4/UDP packet.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hilt_core::Direction;
use pcap_file::DataLink;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};

use crate::record::{ConnInfo, Recorder, Transport};

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
const TCP_FIN: u8 = 0x01;

/// Largest payload per synthetic segment; chunks above it are split so no packet
/// exceeds an IPv4 total length.
const MAX_SEGMENT: usize = 60_000;

/// Writes every connection of `recorder` to `path`. `origin_us` is the wall-clock time
/// (µs since the Unix epoch) at which the recorder started, so packet times are real.
pub fn write_trace(path: &Path, recorder: &Recorder, origin_us: u64) -> io::Result<()> {
    let conns = recorder.conns();
    let description = conns
        .iter()
        .map(|c| format!("conn {}: hilt {} <-> peer {}", c.id, c.tester, c.peer))
        .collect::<Vec<_>>()
        .join("; ");
    let mut trace = Trace::create(
        path,
        DataLink::IPV4,
        format!("hilt recording ({description})"),
    )?;
    // Whole IPv6 datagrams (RPL links) go on a second interface of LINKTYPE_IPV6.
    let links: Vec<String> = conns
        .iter()
        .filter(|c| c.transport == Transport::Ipv6Link)
        .map(|c| recorder.link_name(c.id).unwrap_or_default())
        .collect();
    if !links.is_empty() {
        trace.interface(DataLink::IPV6, links.join("; "))?;
    }
    // Synthetic packets are IPv4; only an IPv6 link's are IPv6, on interface 1.
    let mut write = |t_us: u64, pkt: Vec<u8>| {
        let iface = u32::from(pkt.first().is_some_and(|b| b >> 4 == 6));
        trace.packet_on(iface, origin_us + t_us, &pkt)
    };

    let mut flows: Vec<Flow> = conns.iter().map(Flow::new).collect();
    let chunks = recorder.chunks();
    let first_t = |conn: u32| {
        chunks
            .iter()
            .find(|c| c.conn == conn)
            .map(|c| c.t_us)
            .unwrap_or(0)
    };
    for f in flows.iter().filter(|f| f.is_tcp()) {
        let t = first_t(f.info.id);
        for pkt in f.handshake() {
            write(t, pkt)?;
        }
    }
    for c in &chunks {
        let Some(f) = flows.get_mut(c.conn as usize) else {
            continue;
        };
        if f.info.transport == Transport::Ipv6Link {
            write(c.t_us, c.bytes.clone())?;
            continue;
        }
        if !f.is_tcp() {
            write(c.t_us, f.datagram(c.dir, &c.bytes))?;
            continue;
        }
        for piece in c.bytes.chunks(MAX_SEGMENT) {
            write(c.t_us, f.data(c.dir, piece))?;
        }
    }
    for f in flows.iter_mut().filter(|f| f.is_tcp()) {
        let t = f.info.closed_by_peer_us.unwrap_or_else(|| {
            chunks
                .iter()
                .rev()
                .find(|c| c.conn == f.info.id)
                .map(|c| c.t_us)
                .unwrap_or(0)
        });
        for pkt in f.close() {
            write(t, pkt)?;
        }
    }
    Ok(())
}

/// Writes raw IPv6 datagrams (LINKTYPE_IPV6, 229) to `path`, each at its time in µs
/// from the Unix epoch: for traffic that already is IPv6, such as a simulated RPL
/// network's, with no synthetic framing needed.
pub fn write_ipv6_packets<'a>(
    path: &Path,
    description: &str,
    packets: impl IntoIterator<Item = (u64, &'a [u8])>,
) -> io::Result<()> {
    let mut trace = Trace::create(path, DataLink::IPV6, description.to_owned())?;
    for (t_us, data) in packets {
        trace.packet(t_us, data)?;
    }
    Ok(())
}

/// A pcapng file with one interface, described in words, that every packet is on.
struct Trace(PcapNgWriter<BufWriter<File>>);

impl Trace {
    fn create(path: &Path, link: DataLink, description: String) -> io::Result<Self> {
        let w = PcapNgWriter::new(BufWriter::new(File::create(path)?)).map_err(io::Error::other)?;
        let mut trace = Trace(w);
        trace.interface(link, description)?;
        Ok(trace)
    }

    /// Adds an interface (numbered from 0 in the order added).
    fn interface(&mut self, link: DataLink, description: String) -> io::Result<()> {
        let mut idb = InterfaceDescriptionBlock::new(link, 65_535);
        idb.options
            .push(InterfaceDescriptionOption::IfDescription(Cow::Owned(
                description,
            )));
        self.0
            .write_pcapng_block(idb)
            .map(|_| ())
            .map_err(io::Error::other)
    }

    /// One packet at `t_us`, µs since the Unix epoch.
    fn packet(&mut self, t_us: u64, data: &[u8]) -> io::Result<()> {
        self.packet_on(0, t_us, data)
    }

    /// One packet on interface `iface`.
    fn packet_on(&mut self, iface: u32, t_us: u64, data: &[u8]) -> io::Result<()> {
        let epb = EnhancedPacketBlock {
            interface_id: iface,
            timestamp: Duration::from_micros(t_us),
            original_len: data.len() as u32,
            data: Cow::Borrowed(data),
            options: vec![],
        };
        self.0
            .write_pcapng_block(epb)
            .map(|_| ())
            .map_err(io::Error::other)
    }
}

/// Sequence-number bookkeeping of one synthetic TCP connection.
struct Flow {
    info: ConnInfo,
    tester: (Ipv4Addr, u16),
    peer: (Ipv4Addr, u16),
    /// Next sequence number of hilt's side and of the peer's side.
    seq_tester: u32,
    seq_peer: u32,
}

fn v4(addr: SocketAddr) -> (Ipv4Addr, u16) {
    match addr.ip() {
        IpAddr::V4(a) => (a, addr.port()),
        // Shown as loopback: the stream matters, not the address family.
        IpAddr::V6(_) => (Ipv4Addr::LOCALHOST, addr.port()),
    }
}

impl Flow {
    fn new(info: &ConnInfo) -> Self {
        let tester = v4(info.tester);
        let mut peer = v4(info.peer);
        if let Some(p) = info.well_known_port {
            peer.1 = p;
        }
        Flow {
            info: *info,
            tester,
            peer,
            seq_tester: 1000,
            seq_peer: 5000,
        }
    }

    fn is_tcp(&self) -> bool {
        self.info.transport == Transport::Tcp
    }

    /// Source and destination of a packet going `dir`.
    fn ends(&self, dir: Direction) -> ((Ipv4Addr, u16), (Ipv4Addr, u16)) {
        match dir {
            Direction::Sent => (self.tester, self.peer),
            Direction::Received => (self.peer, self.tester),
        }
    }

    /// One UDP datagram; a payload too large for one IPv4 packet is cut to fit.
    fn datagram(&self, dir: Direction, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = self.ends(dir);
        ipv4_udp(src, dst, &payload[..payload.len().min(MAX_SEGMENT)])
    }

    fn handshake(&self) -> Vec<Vec<u8>> {
        vec![
            self.segment(Direction::Sent, self.seq_tester - 1, 0, TCP_SYN, &[]),
            self.segment(
                Direction::Received,
                self.seq_peer - 1,
                self.seq_tester,
                TCP_SYN | TCP_ACK,
                &[],
            ),
            self.segment(
                Direction::Sent,
                self.seq_tester,
                self.seq_peer,
                TCP_ACK,
                &[],
            ),
        ]
    }

    fn data(&mut self, dir: Direction, payload: &[u8]) -> Vec<u8> {
        self.next_segment(dir, TCP_PSH | TCP_ACK, payload, payload.len() as u32)
    }

    fn close(&mut self) -> Vec<Vec<u8>> {
        // Whoever closed first sends the first FIN; by default hilt closed.
        let (first, second) = if self.info.closed_by_peer_us.is_some() {
            (Direction::Received, Direction::Sent)
        } else {
            (Direction::Sent, Direction::Received)
        };
        [first, second]
            .map(|dir| self.next_segment(dir, TCP_FIN | TCP_ACK, &[], 1))
            .into()
    }

    /// The next segment going `dir`, at that side's sequence number and acknowledging
    /// the other's, which then moves on by `advance` (the payload's length; a FIN
    /// counts one).
    fn next_segment(&mut self, dir: Direction, flags: u8, payload: &[u8], advance: u32) -> Vec<u8> {
        let (seq, ack, next) = match dir {
            Direction::Sent => (self.seq_tester, self.seq_peer, &mut self.seq_tester),
            Direction::Received => (self.seq_peer, self.seq_tester, &mut self.seq_peer),
        };
        *next = next.wrapping_add(advance);
        self.segment(dir, seq, ack, flags, payload)
    }

    fn segment(&self, dir: Direction, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = self.ends(dir);
        ipv4_tcp(src, dst, seq, ack, flags, payload)
    }
}

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

fn ipv4_tcp(
    (src, sport): (Ipv4Addr, u16),
    (dst, dport): (Ipv4Addr, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    // Data offset 5 words, window 65535, checksum filled below.
    tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let sum = checksum(&tcp, pseudo_header(src, dst, PROTO_TCP, tcp.len()));
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    ipv4(src, dst, PROTO_TCP, &tcp)
}

fn ipv4_udp(
    (src, sport): (Ipv4Addr, u16),
    (dst, dport): (Ipv4Addr, u16),
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    // A computed zero is sent as all ones: zero means "no checksum" in UDP over IPv4.
    let sum = match checksum(&udp, pseudo_header(src, dst, PROTO_UDP, udp_len)) {
        0 => 0xffff,
        s => s,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    ipv4(src, dst, PROTO_UDP, &udp)
}

/// `segment` (a transport header and its payload) behind an IPv4 header: IHL 5, DF,
/// TTL 64.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> Vec<u8> {
    let total = 20 + segment.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, protocol, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let ip_sum = checksum(&p[..20], 0);
    p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    p.extend_from_slice(segment);
    p
}

/// The partial sum of the IPv4 pseudo-header a TCP or UDP checksum covers.
fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: usize) -> u32 {
    let words = [src.octets(), dst.octets()].into_iter().flat_map(|o| {
        [
            u16::from_be_bytes([o[0], o[1]]),
            u16::from_be_bytes([o[2], o[3]]),
        ]
    });
    words.map(u32::from).sum::<u32>() + u32::from(protocol) + len as u32
}

/// The Internet checksum (RFC 1071) of `data`, starting from a partial sum.
fn checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = initial;
    let mut it = data.chunks_exact(2);
    for w in &mut it {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = it.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let p = ipv4_tcp(
            (Ipv4Addr::LOCALHOST, 40000),
            (Ipv4Addr::LOCALHOST, 1883),
            1,
            2,
            TCP_ACK,
            b"hello",
        );
        assert_eq!(
            checksum(&p[..20], 0),
            0,
            "header with its checksum sums to zero"
        );
        assert_eq!(p.len(), 45);
        assert_eq!(u16::from_be_bytes([p[22], p[23]]), 1883);
    }

    #[test]
    fn trace_round_trips_through_a_pcapng_reader() {
        let rec = Recorder::new();
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let c = rec.open(a, b, Some(1883));
        rec.record(c, Direction::Sent, b"\x10\x00");
        rec.record(c, Direction::Received, b"\x20\x02\x00\x00");
        rec.closed_by_peer(c);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcapng");
        write_trace(&path, &rec, 1_700_000_000_000_000).unwrap();
        let data = std::fs::read(&path).unwrap();
        let mut reader = pcap_file::pcapng::PcapNgReader::new(&data[..]).unwrap();
        let mut packets = 0;
        while let Some(block) = reader.next_block() {
            if let pcap_file::pcapng::Block::EnhancedPacket(_) = block.unwrap() {
                packets += 1;
            }
        }
        // 3 handshake + 2 data + 2 FIN.
        assert_eq!(packets, 7);
    }

    #[test]
    fn udp_flows_are_one_packet_per_datagram() {
        let rec = Recorder::new();
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let tcp = rec.open(a, b, Some(1883));
        rec.record(tcp, Direction::Sent, b"\xc0\x00");
        let c = rec.open_udp(a, b, Some(5683));
        rec.record(c, Direction::Sent, b"\x40\x00\x00\x01");
        rec.record(c, Direction::Received, b"\x70\x00\x00\x01");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.pcapng");
        write_trace(&path, &rec, 1_700_000_000_000_000).unwrap();
        let data = std::fs::read(&path).unwrap();
        let mut reader = pcap_file::pcapng::PcapNgReader::new(&data[..]).unwrap();
        let mut udp = Vec::new();
        let mut all = 0;
        while let Some(block) = reader.next_block() {
            if let pcap_file::pcapng::Block::EnhancedPacket(p) = block.unwrap() {
                all += 1;
                if p.data[9] == 17 {
                    udp.push(p.data.to_vec());
                }
            }
        }
        // TCP: 3 handshake + 1 data + 2 FIN; UDP: the two datagrams, nothing else.
        assert_eq!((all, udp.len()), (8, 2));
        let p = &udp[0];
        assert_eq!(checksum(&p[..20], 0), 0);
        assert_eq!(u16::from_be_bytes([p[22], p[23]]), 5683, "well-known port");
        assert_eq!(u16::from_be_bytes([p[24], p[25]]), 12, "UDP length");
        assert_eq!(&p[28..], b"\x40\x00\x00\x01");
        // The checksum verifies over the pseudo-header.
        let pseudo = 2 * (0x7f00 + 0x0001) + 17 + 12;
        assert_eq!(checksum(&p[20..], pseudo), 0);
        assert_eq!(u16::from_be_bytes([udp[1][20], udp[1][21]]), 5683);
    }
}
