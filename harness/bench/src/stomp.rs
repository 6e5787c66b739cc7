//! STOMP 1.2 for the engine ([`Stomp`]).
//!
//! Destinations are the run's own (`/topic/hilt.bench.RUN.P` or `/queue/…`, as the
//! workload says; competing consumers share one queue). CONNECT and SUBSCRIBE (each
//! subscription confirmed by a RECEIPT, so nothing is sent before it is in place) use
//! hilt's codec; on the hot path a SEND is encoded once and patched per message, and
//! MESSAGE frames are delimited in place by [`scan`]: command, headers, and a body of
//! `content-length` octets (the benchmark header is binary) followed by its NUL.
//!
//! Ack modes: `auto` acknowledges nothing; `client-individual` sends an ACK per
//! MESSAGE; `client` one cumulative ACK for the last MESSAGE of each read. With
//! `confirm`, every SEND asks for a RECEIPT, whose id is the message's number in eight
//! hex digits: the publish→ack latency.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use hilt_wire::Decoded;
use hilt_wire::stomp::{Command, Frame, Item};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::header::{self, HEADER_LEN, Header};
use crate::protocol::{AckReader, Conn, OpenedPublisher, Protocol, Receiver, Template};
use crate::workload::{AckMode, DestinationKind, Topology, Workload};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Digits of the receipt id a confirmed SEND carries.
const RECEIPT_DIGITS: usize = 8;

/// STOMP as the engine drives it.
#[derive(Debug, Clone)]
pub struct Stomp {
    topology: Topology,
    run: u32,
    ack: AckMode,
    confirm: bool,
    prefetch: Option<u32>,
    destination: DestinationKind,
}

impl Stomp {
    pub fn new(workload: &Workload, run: u32) -> Stomp {
        Stomp {
            topology: workload.topology,
            run,
            ack: workload.ack,
            confirm: workload.confirm,
            prefetch: workload.prefetch,
            destination: workload.destination,
        }
    }

    fn name(&self, kind: DestinationKind, what: &str) -> String {
        let kind = match kind {
            DestinationKind::Topic => "topic",
            DestinationKind::Queue => "queue",
        };
        format!("/{kind}/hilt.bench.{:08x}.{what}", self.run)
    }

    /// Where publisher `p` sends.
    fn publish_destination(&self, p: u32) -> String {
        match self.topology {
            Topology::P2p { .. } | Topology::RequestResponse { .. } => {
                self.name(self.destination, &p.to_string())
            }
            // Every subscriber hears every publisher: a topic per publisher.
            Topology::FanOut { .. } => self.name(DestinationKind::Topic, &p.to_string()),
            // Many streams into one destination; the header tells publishers apart.
            Topology::FanIn { .. } => self.name(self.destination, "in"),
            // Competing consumers: one queue, each message to one of them.
            Topology::Shared { .. } => self.name(DestinationKind::Queue, "work"),
        }
    }

    fn reply_destination(&self, r: u32) -> String {
        self.name(self.destination, &format!("reply.{r}"))
    }

    /// What subscriber `s` subscribes to.
    fn subscriptions(&self, s: u32) -> Vec<String> {
        match self.topology {
            Topology::P2p { .. } => vec![self.publish_destination(s)],
            Topology::FanOut { publishers, .. } => (0..publishers)
                .map(|p| self.publish_destination(p))
                .collect(),
            Topology::FanIn { .. } | Topology::Shared { .. } => vec![self.publish_destination(0)],
            Topology::RequestResponse { .. } => vec![self.reply_destination(s)],
        }
    }

    async fn open(&self, addr: SocketAddr, destinations: &[String]) -> Result<TcpStream, String> {
        let fut = async {
            let mut stream = connect(addr).await?;
            let mut buf = Vec::new();
            let mut out = Vec::new();
            for (i, d) in destinations.iter().enumerate() {
                let mut f = Frame::new(Command::Subscribe)
                    .header("id", i.to_string())
                    .header("destination", d.as_str())
                    .header("ack", self.ack.stomp())
                    .header("receipt", format!("sub-{i}"));
                if let Some(n) = self.prefetch {
                    // RabbitMQ's name, and ActiveMQ's.
                    f = f
                        .header("prefetch-count", n.to_string())
                        .header("activemq.prefetchSize", n.to_string());
                }
                f.emit(&mut out);
            }
            stream
                .write_all(&out)
                .await
                .map_err(|e| format!("write SUBSCRIBE: {e}"))?;
            for _ in destinations {
                let f = read_frame(&mut stream, &mut buf).await?;
                if f.command != Command::Receipt {
                    return Err(format!(
                        "expected a RECEIPT for SUBSCRIBE, got {}",
                        describe(&f)
                    ));
                }
            }
            Ok(stream)
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no RECEIPT for SUBSCRIBE within {HANDSHAKE_TIMEOUT:?}"
                ))
            })
    }

    fn receiver(&self) -> StompReceiver {
        StompReceiver {
            ack: self.ack,
            last_ack: Vec::with_capacity(128),
        }
    }
}

impl Protocol for Stomp {
    type Template = SendTemplate;
    type Receiver = StompReceiver;
    type Acks = StompReceipts;

    fn acked(&self) -> bool {
        self.confirm
    }

    async fn open_subscriber(
        &self,
        addr: SocketAddr,
        s: u32,
    ) -> Result<(Conn, StompReceiver), String> {
        let stream = self.open(addr, &self.subscriptions(s)).await?;
        Ok((stream.into(), self.receiver()))
    }

    async fn open_responder(
        &self,
        addr: SocketAddr,
        r: u32,
    ) -> Result<(Conn, StompReceiver), String> {
        let stream = self.open(addr, &[self.publish_destination(r)]).await?;
        Ok((stream.into(), self.receiver()))
    }

    async fn open_publisher(
        &self,
        addr: SocketAddr,
        _p: u32,
    ) -> Result<OpenedPublisher<StompReceipts>, String> {
        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, connect(addr))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no CONNECTED from {addr} within {HANDSHAKE_TIMEOUT:?}"
                ))
            })?;
        Ok(OpenedPublisher {
            stream: stream.into(),
            in_flight: None,
            acks: StompReceipts,
        })
    }

    fn template(&self, p: u32, header: Header, payload_bytes: usize) -> SendTemplate {
        SendTemplate::new(
            &self.publish_destination(p),
            header,
            payload_bytes,
            self.confirm,
        )
    }

    fn echo_template(&self, r: u32, header: Header, payload_bytes: usize) -> SendTemplate {
        SendTemplate::new(&self.reply_destination(r), header, payload_bytes, false)
    }

    fn goodbye(&self) -> Vec<u8> {
        Frame::new(Command::Disconnect).to_bytes()
    }
}

/// Connects and waits for CONNECTED (STOMP 1.2, no heart-beats: the load itself shows
/// liveness).
async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let connect = Frame::new(Command::Connect)
        .header("accept-version", "1.2")
        .header("host", "/")
        .header("login", "guest")
        .header("passcode", "guest")
        .header("heart-beat", "0,0");
    stream
        .write_all(&connect.to_bytes())
        .await
        .map_err(|e| format!("write CONNECT: {e}"))?;
    let mut buf = Vec::new();
    let f = read_frame(&mut stream, &mut buf).await?;
    if f.command != Command::Connected {
        return Err(format!("expected CONNECTED, got {}", describe(&f)));
    }
    Ok(stream)
}

fn describe(f: &Frame) -> String {
    match f.command {
        Command::Error => format!(
            "ERROR: {} {}",
            f.get("message").unwrap_or_default(),
            String::from_utf8_lossy(&f.body)
        ),
        _ => f.command.to_string(),
    }
}

async fn read_frame(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Frame, String> {
    loop {
        match hilt_wire::stomp::decode(buf) {
            Ok(Decoded::Done(Item::Frame(f), len)) => {
                buf.drain(..len);
                return Ok(f);
            }
            Ok(Decoded::Done(Item::HeartBeat, len)) => {
                buf.drain(..len);
                continue;
            }
            Ok(Decoded::NeedMore(_)) => {}
            Err(v) => return Err(format!("malformed frame from the target: {v}")),
        }
        let mut chunk = [0u8; 4096];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A SEND encoded once; each message patches its benchmark header and receipt id.
#[derive(Debug, Clone)]
pub struct SendTemplate {
    bytes: Vec<u8>,
    header_at: usize,
    receipt_at: Option<usize>,
}

impl SendTemplate {
    pub fn new(destination: &str, header: Header, payload_bytes: usize, receipt: bool) -> Self {
        let mut payload = vec![0u8; payload_bytes.max(HEADER_LEN)];
        header.write(&mut payload);
        let mut bytes = Vec::with_capacity(payload.len() + 160);
        bytes.extend_from_slice(b"SEND\ndestination:");
        bytes.extend_from_slice(hilt_wire::stomp::escape(destination).as_bytes());
        bytes.extend_from_slice(b"\ncontent-type:application/octet-stream\ncontent-length:");
        bytes.extend_from_slice(payload.len().to_string().as_bytes());
        bytes.push(b'\n');
        let receipt_at = receipt.then(|| {
            bytes.extend_from_slice(b"receipt:");
            let at = bytes.len();
            bytes.extend_from_slice(&[b'0'; RECEIPT_DIGITS]);
            bytes.push(b'\n');
            at
        });
        bytes.push(b'\n');
        let header_at = bytes.len();
        bytes.extend_from_slice(&payload);
        bytes.push(0);
        SendTemplate {
            bytes,
            header_at,
            receipt_at,
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Template for SendTemplate {
    fn len(&self) -> usize {
        self.bytes.len()
    }

    #[inline]
    fn append(&self, out: &mut Vec<u8>, n: u64, seq: u32, sent_ns: u64) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        let msg = &mut out[start..];
        header::patch(&mut msg[self.header_at..], seq, sent_ns);
        if let Some(at) = self.receipt_at {
            let id = self.ack_key(n);
            for (i, d) in msg[at..at + RECEIPT_DIGITS].iter_mut().enumerate() {
                *d = HEX[((id >> (4 * (RECEIPT_DIGITS - 1 - i))) & 0xf) as usize];
            }
        }
    }

    fn ack_key(&self, n: u64) -> u64 {
        n & 0xffff_ffff
    }
}

/// Where a frame's parts lie, found without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub command: Range<usize>,
    pub headers: Range<usize>,
    pub body: Range<usize>,
    /// The whole frame, its NUL included.
    pub len: usize,
}

impl Scan {
    /// The first value of header `name`, as it is on the wire (escaped).
    pub fn header<'a>(&self, buf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
        buf[self.headers.clone()]
            .split(|b| *b == b'\n')
            .map(trim_cr)
            .find_map(|line| {
                let colon = line.iter().position(|b| *b == b':')?;
                (&line[..colon] == name).then(|| &line[colon + 1..])
            })
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Delimits the item at the front of `buf`: `Done(None, len)` for an EOL between frames
/// (a heart-beat), `Done(Some(scan), len)` for a frame.
pub fn scan(buf: &[u8]) -> Result<Decoded<Option<Scan>>, String> {
    match buf {
        [] | [b'\r'] => return Ok(Decoded::NeedMore(1)),
        [b'\n', ..] => return Ok(Decoded::Done(None, 1)),
        [b'\r', b'\n', ..] => return Ok(Decoded::Done(None, 2)),
        _ => {}
    }
    let Some(eol) = buf.iter().position(|b| *b == b'\n') else {
        return Ok(Decoded::NeedMore(1));
    };
    let command = 0..trim_cr(&buf[..eol]).len();
    let headers_at = eol + 1;
    let mut pos = headers_at;
    let mut content_length = None;
    let headers = loop {
        let Some(e) = buf[pos..].iter().position(|b| *b == b'\n') else {
            return Ok(Decoded::NeedMore(1));
        };
        let line = trim_cr(&buf[pos..pos + e]);
        if line.is_empty() {
            let end = pos;
            pos += e + 1;
            break headers_at..end;
        }
        if content_length.is_none()
            && let Some(v) = line.strip_prefix(b"content-length:")
        {
            let n = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    format!(
                        "content-length {:?} is not a number",
                        String::from_utf8_lossy(v)
                    )
                })?;
            content_length = Some(n);
        }
        pos += e + 1;
    };
    let body_end = match content_length {
        Some(n) => {
            let end = pos + n;
            if buf.len() <= end {
                return Ok(Decoded::NeedMore(end + 1 - buf.len()));
            }
            if buf[end] != 0 {
                return Err(format!(
                    "the {} octets of content-length are not followed by a NUL",
                    n
                ));
            }
            end
        }
        None => match buf[pos..].iter().position(|b| *b == 0) {
            Some(i) => pos + i,
            None => return Ok(Decoded::NeedMore(1)),
        },
    };
    Ok(Decoded::Done(
        Some(Scan {
            command,
            headers,
            body: pos..body_end,
            len: body_end + 1,
        }),
        body_end + 1,
    ))
}

fn error_text(buf: &[u8], s: &Scan) -> String {
    format!(
        "ERROR from the target: {} {}",
        String::from_utf8_lossy(s.header(buf, b"message").unwrap_or_default()),
        String::from_utf8_lossy(&buf[s.body.clone()])
    )
}

/// A subscriber's view of STOMP: MESSAGE bodies, acknowledged as the ack mode says.
#[derive(Debug)]
pub struct StompReceiver {
    ack: AckMode,
    /// `client` mode: the ack id of the last MESSAGE not yet acknowledged.
    last_ack: Vec<u8>,
}

fn write_ack(out: &mut Vec<u8>, id: &[u8]) {
    out.extend_from_slice(b"ACK\nid:");
    out.extend_from_slice(id);
    out.extend_from_slice(b"\n\n\0");
}

impl Receiver for StompReceiver {
    fn read(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Decoded<Option<Range<usize>>>, String> {
        let (s, len) = match scan(buf)? {
            Decoded::Done(Some(s), len) => (s, len),
            Decoded::Done(None, len) => return Ok(Decoded::Done(None, len)),
            Decoded::NeedMore(n) => return Ok(Decoded::NeedMore(n)),
        };
        match &buf[s.command.clone()] {
            b"MESSAGE" => {
                if self.ack != AckMode::Auto {
                    let id = s
                        .header(buf, b"ack")
                        .ok_or("a MESSAGE without an ack header, in a client ack mode")?;
                    if self.ack == AckMode::ClientIndividual {
                        write_ack(out, id);
                    } else {
                        self.last_ack.clear();
                        self.last_ack.extend_from_slice(id);
                    }
                }
                Ok(Decoded::Done(Some(s.body), len))
            }
            b"ERROR" => Err(error_text(buf, &s)),
            _ => Ok(Decoded::Done(None, len)),
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        if !self.last_ack.is_empty() {
            write_ack(out, &self.last_ack);
            self.last_ack.clear();
        }
    }
}

/// A publisher's view of STOMP: RECEIPTs acknowledge, an ERROR ends the run's hopes.
#[derive(Debug, Default, Clone, Copy)]
pub struct StompReceipts;

impl AckReader for StompReceipts {
    fn read(
        &mut self,
        buf: &[u8],
        _replies: &mut Vec<u8>,
        acked: &mut dyn FnMut(u64),
    ) -> Result<Decoded<()>, String> {
        let (s, len) = match scan(buf)? {
            Decoded::Done(Some(s), len) => (s, len),
            Decoded::Done(None, len) => return Ok(Decoded::Done((), len)),
            Decoded::NeedMore(n) => return Ok(Decoded::NeedMore(n)),
        };
        match &buf[s.command.clone()] {
            b"RECEIPT" => {
                let key = s
                    .header(buf, b"receipt-id")
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| u64::from_str_radix(v, 16).ok())
                    .ok_or("a RECEIPT without a receipt-id hilt sent")?;
                acked(key);
                Ok(Decoded::Done((), len))
            }
            b"ERROR" => Err(error_text(buf, &s)),
            _ => Ok(Decoded::Done((), len)),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_patched_send_decodes_with_its_header_and_receipt() {
        let h = Header {
            run: 7,
            publisher: 2,
            seq: 0,
            sent_ns: 0,
        };
        let t = SendTemplate::new("/queue/a", h, 32, true);
        let mut out = Vec::new();
        t.append(&mut out, 0x1234_abcd, 9, 77);
        assert_eq!(out.len(), t.len());
        let Ok(Decoded::Done(Item::Frame(f), n)) = hilt_wire::stomp::decode(&out) else {
            panic!("decodes");
        };
        assert_eq!(n, out.len());
        assert_eq!(f.command, Command::Send);
        assert_eq!(f.get("receipt"), Some("1234abcd"));
        assert_eq!(f.get("content-length"), Some("32"));
        let got = Header::read(&f.body).unwrap();
        assert_eq!(
            (got.run, got.publisher, got.seq, got.sent_ns),
            (7, 2, 9, 77)
        );
    }

    #[test]
    fn scan_delimits_binary_bodies_and_waits_for_the_rest() {
        let msg = b"MESSAGE\r\nack:x\\c1\ncontent-length:3\n\n\0\0\0\0\nRECEIPT\nreceipt-id:0000000a\n\n\0";
        let Ok(Decoded::Done(Some(s), len)) = scan(msg) else {
            panic!("a frame");
        };
        assert_eq!(&msg[s.command.clone()], b"MESSAGE");
        assert_eq!(s.header(msg, b"ack"), Some(&b"x\\c1"[..]));
        assert_eq!(&msg[s.body.clone()], b"\0\0\0");
        assert_eq!(msg[len], b'\n');
        assert_eq!(scan(&msg[len..]), Ok(Decoded::Done(None, 1)));
        for cut in 1..len {
            assert!(
                matches!(scan(&msg[..cut]), Ok(Decoded::NeedMore(_))),
                "cut at {cut}"
            );
        }
        let mut r = StompReceiver {
            ack: AckMode::ClientIndividual,
            last_ack: Vec::new(),
        };
        let mut out = Vec::new();
        assert!(matches!(
            r.read(msg, &mut out),
            Ok(Decoded::Done(Some(_), _))
        ));
        assert_eq!(out, b"ACK\nid:x\\c1\n\n\0");
        let mut keys = Vec::new();
        let rest = &msg[len + 1..];
        assert!(matches!(
            StompReceipts.read(rest, &mut Vec::new(), &mut |k| keys.push(k)),
            Ok(Decoded::Done((), n)) if n == rest.len()
        ));
        assert_eq!(keys, [10]);
        assert!(scan(b"MESSAGE\ncontent-length:x\n\n\0").is_err());
        assert!(scan(b"MESSAGE\ncontent-length:1\n\nab\0").is_err());
    }
}
