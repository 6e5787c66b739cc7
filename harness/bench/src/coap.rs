//! CoAP (RFC 7252) over UDP, request-response against a CoAP server.
//!
//! Each client endpoint is one UDP socket, connected to the server, that both sends
//! (the publisher's thread) and receives (its reply reader). The server answers every
//! request itself, so the engine opens no responders. A response carries no payload of
//! ours, so the benchmark header travels in the 8-byte token: the sequence number (32
//! bits) and the low 32 bits of the send time in nanoseconds, which the reader widens
//! with the intended time (sends are never more than 4 s late). The message ID is the
//! low 16 bits of the sequence number.
//!
//! Confirmable requests are retransmitted as section 4.2 of RFC 7252 says: first after
//! ACK_TIMEOUT times a random factor in [1, ACK_RANDOM_FACTOR], the timeout doubling
//! each time, at most MAX_RETRANSMIT times (all from the workload, the RFC's defaults
//! otherwise). The publisher books each request's first send time in a slot by message
//! ID; the reply reader clears it when the request is answered (or acknowledged
//! empty), and retransmits what stays booked past its timeout. A request given up on
//! counts as lost. Retransmissions are counted in the results.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hilt_wire::Decoded;
use hilt_wire::coap::{Code, Message, MessageType, Packet};
use tokio::net::UdpSocket;

use crate::engine::lock;
use crate::header::Header;
use crate::protocol::{Conn, NoAcks, OpenedPublisher, Protocol, Receiver, Template};
use crate::workload::{CoapRequest, Workload};

/// One slot per message ID.
const SLOTS: usize = 1 << 16;
const TOKEN_AT: usize = 4;
const TOKEN_LEN: usize = 8;

/// The CoAP driver.
#[derive(Debug)]
pub struct Coap {
    run: u32,
    req: CoapRequest,
    payload_bytes: usize,
    /// Each endpoint's socket, kept for its publisher, by index.
    endpoints: Mutex<Vec<Option<std::net::UdpSocket>>>,
    /// Each confirmable endpoint's send book, shared by its publisher and its reader.
    books: Mutex<Vec<Option<Arc<Book>>>>,
}

/// First send times of unanswered confirmable requests, by message ID.
#[derive(Debug)]
struct Book {
    /// Send time + 1, or 0 when free.
    sent: Vec<AtomicU64>,
    /// One more than the highest sequence number booked.
    high: AtomicU64,
}

impl Book {
    fn new() -> Arc<Book> {
        Arc::new(Book {
            sent: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            high: AtomicU64::new(0),
        })
    }
}

impl Coap {
    pub fn new(w: &Workload, run: u32) -> Coap {
        Coap {
            run,
            req: w.coap.clone(),
            payload_bytes: if w.coap.method == "get" {
                0
            } else {
                w.payload_bytes as usize
            },
            endpoints: Mutex::new(Vec::new()),
            books: Mutex::new(Vec::new()),
        }
    }

    fn book(&self, p: u32) -> Option<Arc<Book>> {
        if !self.req.confirmable {
            return None;
        }
        let mut books = lock(&self.books);
        let i = p as usize;
        if books.len() <= i {
            books.resize(i + 1, None);
        }
        Some(Arc::clone(books[i].get_or_insert_with(Book::new)))
    }

    fn bytes(&self) -> Vec<u8> {
        let code = match self.req.method.as_str() {
            "put" => Code::PUT,
            "post" => Code::POST,
            _ => Code::GET,
        };
        let mtype = if self.req.confirmable {
            MessageType::Con
        } else {
            MessageType::Non
        };
        let mut m = Message::new(mtype, code, 0)
            .with_token(&[0; TOKEN_LEN])
            .with_path(&self.req.path);
        if self.payload_bytes > 0 {
            m = m.with_payload(vec![b'x'; self.payload_bytes]);
        }
        m.to_bytes()
    }
}

impl Protocol for Coap {
    type Template = CoapTemplate;
    type Receiver = CoapReceiver;
    type Acks = NoAcks;

    fn acked(&self) -> bool {
        false
    }

    fn target_responds(&self) -> bool {
        true
    }

    fn retransmits(&self) -> bool {
        self.req.confirmable
    }

    async fn open_subscriber(
        &self,
        addr: SocketAddr,
        s: u32,
    ) -> Result<(Conn, CoapReceiver), String> {
        let local: SocketAddr = if addr.is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        }
        .parse()
        .map_err(|e| format!("{e}"))?;
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| format!("bind a UDP socket: {e}"))?;
        socket
            .connect(addr)
            .await
            .map_err(|e| format!("connect a UDP socket to {addr}: {e}"))?;
        let std = socket.into_std().map_err(|e| e.to_string())?;
        let publisher = std.try_clone().map_err(|e| e.to_string())?;
        let socket = UdpSocket::from_std(std).map_err(|e| e.to_string())?;
        let book = self.book(s);
        {
            let mut eps = lock(&self.endpoints);
            let i = s as usize;
            if eps.len() <= i {
                eps.resize_with(i + 1, || None);
            }
            eps[i] = Some(publisher);
        }
        let header = Header {
            run: self.run as u16,
            publisher: s as u16,
            seq: 0,
            sent_ns: 0,
        };
        let retransmit = book.map(|book| Retransmit {
            template: self.template(s, header, self.payload_bytes),
            book,
            ack_timeout_ns: self.req.ack_timeout.0.as_nanos() as u64,
            random_factor: self.req.ack_random_factor,
            max: self.req.max_retransmit,
            low: 0,
            state: vec![(0, 0); SLOTS],
            count: 0,
        });
        Ok((
            Conn::Datagram { socket, frame: 0 },
            CoapReceiver {
                run: self.run as u16,
                publisher: s as u16,
                retransmit,
            },
        ))
    }

    async fn open_responder(
        &self,
        _addr: SocketAddr,
        _r: u32,
    ) -> Result<(Conn, CoapReceiver), String> {
        Err("a CoAP server answers requests itself".into())
    }

    async fn open_publisher(
        &self,
        _addr: SocketAddr,
        p: u32,
    ) -> Result<OpenedPublisher<NoAcks>, String> {
        let socket = lock(&self.endpoints)
            .get_mut(p as usize)
            .and_then(Option::take)
            .ok_or_else(|| format!("CoAP endpoint {p} was not opened"))?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        let socket = UdpSocket::from_std(socket).map_err(|e| e.to_string())?;
        Ok(OpenedPublisher {
            stream: Conn::Datagram {
                socket,
                frame: self.bytes().len(),
            },
            in_flight: None,
            acks: NoAcks,
        })
    }

    fn template(&self, p: u32, _header: Header, _payload_bytes: usize) -> CoapTemplate {
        CoapTemplate {
            bytes: self.bytes(),
            book: self.book(p),
        }
    }

    fn echo_template(&self, r: u32, header: Header, payload_bytes: usize) -> CoapTemplate {
        self.template(r, header, payload_bytes)
    }

    fn goodbye(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// One request, its message ID and token patched per send.
#[derive(Debug, Clone)]
pub struct CoapTemplate {
    bytes: Vec<u8>,
    book: Option<Arc<Book>>,
}

impl CoapTemplate {
    fn write(&self, out: &mut Vec<u8>, seq: u32, sent_ns: u64) {
        let at = out.len();
        out.extend_from_slice(&self.bytes);
        out[at + 2..at + 4].copy_from_slice(&(seq as u16).to_be_bytes());
        let token = at + TOKEN_AT;
        out[token..token + 4].copy_from_slice(&seq.to_be_bytes());
        out[token + 4..token + 8].copy_from_slice(&(sent_ns as u32).to_be_bytes());
    }
}

impl Template for CoapTemplate {
    fn len(&self) -> usize {
        self.bytes.len()
    }

    fn append(&self, out: &mut Vec<u8>, _n: u64, seq: u32, sent_ns: u64) {
        self.write(out, seq, sent_ns);
        if let Some(b) = &self.book {
            b.sent[usize::from(seq as u16)].store(sent_ns + 1, Ordering::Relaxed);
            b.high.fetch_max(u64::from(seq) + 1, Ordering::Release);
        }
    }

    fn ack_key(&self, n: u64) -> u64 {
        n
    }
}

/// What a confirmable endpoint's reader needs to retransmit.
#[derive(Debug)]
struct Retransmit {
    template: CoapTemplate,
    book: Arc<Book>,
    ack_timeout_ns: u64,
    random_factor: f64,
    max: u32,
    /// The lowest sequence number that may still be booked.
    low: u64,
    /// Per slot: when the next retransmission is due (0: not yet computed) and how
    /// many were sent.
    state: Vec<(u64, u32)>,
    count: u64,
}

impl Retransmit {
    fn clear(&mut self, slot: usize) {
        self.book.sent[slot].store(0, Ordering::Relaxed);
        self.state[slot] = (0, 0);
    }

    /// The initial timeout of `seq`: ACK_TIMEOUT times a factor in [1, ACK_RANDOM_FACTOR]
    /// drawn from the sequence number (a fixed hash: runs repeat).
    fn initial(&self, seq: u64) -> u64 {
        let h = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        let r = h as f64 / (1u64 << 53) as f64;
        (self.ack_timeout_ns as f64 * (1.0 + (self.random_factor - 1.0) * r)) as u64
    }

    fn tick(&mut self, now: u64, out: &mut Vec<u8>) {
        let high = self.book.high.load(Ordering::Acquire);
        self.low = self.low.max(high.saturating_sub(SLOTS as u64));
        while self.low < high
            && self.book.sent[usize::from(self.low as u16)].load(Ordering::Relaxed) == 0
        {
            self.low += 1;
        }
        for seq in self.low..high {
            let slot = usize::from(seq as u16);
            let sent = self.book.sent[slot].load(Ordering::Relaxed);
            if sent == 0 {
                continue;
            }
            let sent = sent - 1;
            let (due, tries) = self.state[slot];
            let due = if due == 0 {
                sent + self.initial(seq)
            } else {
                due
            };
            if now < due {
                self.state[slot] = (due, tries);
                continue;
            }
            if tries >= self.max {
                // Given up: the request is lost.
                self.clear(slot);
                continue;
            }
            out.extend_from_slice(&(self.template.len() as u16).to_be_bytes());
            self.template.write(out, seq as u32, sent);
            self.count += 1;
            self.state[slot] = (now + (self.initial(seq) << (tries + 1)), tries + 1);
        }
    }
}

/// Reads the responses arriving at one endpoint.
#[derive(Debug)]
pub struct CoapReceiver {
    run: u16,
    publisher: u16,
    retransmit: Option<Retransmit>,
}

impl CoapReceiver {
    fn answered(&mut self, mid: u16) {
        if let Some(r) = &mut self.retransmit {
            r.clear(usize::from(mid));
        }
    }
}

impl Receiver for CoapReceiver {
    fn read(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Decoded<Option<Range<usize>>>, String> {
        if buf.is_empty() {
            return Ok(Decoded::NeedMore(1));
        }
        let Ok(p) = Packet::new_checked(buf) else {
            return Ok(Decoded::Done(None, buf.len()));
        };
        let mid = p.message_id();
        let code = p.code();
        match p.msg_type() {
            MessageType::Con => {
                // A separate response: acknowledge it.
                out.extend_from_slice(&4u16.to_be_bytes());
                Message::empty(MessageType::Ack, mid).emit(out);
            }
            MessageType::Rst => {
                self.answered(mid);
                return Ok(Decoded::Done(None, buf.len()));
            }
            MessageType::Ack if code == Code::EMPTY => {
                // The response follows separately; the request needs no retransmission.
                self.answered(mid);
                return Ok(Decoded::Done(None, buf.len()));
            }
            _ => {}
        }
        if code.class() != 2 {
            return Err(format!(
                "the server answered {code} to a benchmark request (message ID {mid})"
            ));
        }
        let token = p.token();
        if token.len() != TOKEN_LEN {
            return Ok(Decoded::Done(None, buf.len()));
        }
        let seq = u32::from_be_bytes([token[0], token[1], token[2], token[3]]);
        self.answered(seq as u16);
        Ok(Decoded::Done(
            Some(TOKEN_AT..TOKEN_AT + TOKEN_LEN),
            buf.len(),
        ))
    }

    fn header(&self, found: &[u8]) -> Option<Header> {
        let t: &[u8; TOKEN_LEN] = found.try_into().ok()?;
        Some(Header {
            run: self.run,
            publisher: self.publisher,
            seq: u32::from_be_bytes([t[0], t[1], t[2], t[3]]),
            sent_ns: u64::from(u32::from_be_bytes([t[4], t[5], t[6], t[7]])),
        })
    }

    fn sent_ns(&self, h: &Header, intended: u64) -> u64 {
        intended + u64::from((h.sent_ns as u32).wrapping_sub(intended as u32))
    }

    fn tick(&mut self, now_ns: u64, out: &mut Vec<u8>) {
        if let Some(r) = &mut self.retransmit {
            r.tick(now_ns, out);
        }
    }

    fn retransmissions(&self) -> u64 {
        self.retransmit.as_ref().map_or(0, |r| r.count)
    }
}
