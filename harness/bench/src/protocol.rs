//! The seam between the engine and a protocol.
//!
//! The engine owns everything a benchmark means: the open-loop schedule, latency from
//! the intended and the actual send time, send delay and publish→ack latency, loss,
//! duplicate and reordering accounting, the topology's wiring of publishers to
//! subscribers, the collector, pauses and drains. A protocol only says how to open
//! connections that publish and receive, how one message looks on the wire, and how to
//! find the benchmark payload (and what is owed for it) in what arrives. MQTT
//! ([`crate::mqtt`]), STOMP ([`crate::stomp`]), AMQP 0-9-1 ([`crate::amqp`]) and CoAP
//! ([`crate::coap`]) each implement [`Protocol`] once; nothing of the engine is repeated
//! per protocol. A connection is a TCP stream or a connected UDP socket ([`Conn`]).

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Range;

use hilt_wire::Decoded;
use tokio::net::{TcpStream, UdpSocket};

use crate::header::Header;

/// One protocol's connections and wire format, as the engine drives them.
///
/// The engine calls the `open_*` methods while setting up (off the hot path); the
/// [`Template`], [`Receiver`] and [`AckReader`] they return run per message and must not
/// allocate there.
pub trait Protocol: Send + Sync + Sized + 'static {
    type Template: Template;
    type Receiver: Receiver;
    type Acks: AckReader;

    /// Whether the target acknowledges each published message to its publisher
    /// (MQTT QoS 1 and 2, STOMP receipts, AMQP publisher confirms): publish→ack latency
    /// is then recorded, and what is unacknowledged is bounded.
    fn acked(&self) -> bool;

    /// Opens subscriber `s`: connected, and receiving everything the topology sends it
    /// before this returns.
    fn open_subscriber(
        &self,
        addr: SocketAddr,
        s: u32,
    ) -> impl Future<Output = Result<(Conn, Self::Receiver), String>> + Send;

    /// Whether the target itself answers each request of request-response (a CoAP
    /// server): the engine then opens no responders.
    fn target_responds(&self) -> bool {
        false
    }

    /// Whether the protocol retransmits on its own ([`Receiver::tick`]): the results
    /// then count retransmissions.
    fn retransmits(&self) -> bool {
        false
    }

    /// Opens responder `r` of request-response: receiving publisher `r`'s requests.
    fn open_responder(
        &self,
        addr: SocketAddr,
        r: u32,
    ) -> impl Future<Output = Result<(Conn, Self::Receiver), String>> + Send;

    /// Opens publisher `p`, ready to send.
    fn open_publisher(
        &self,
        addr: SocketAddr,
        p: u32,
    ) -> impl Future<Output = Result<OpenedPublisher<Self::Acks>, String>> + Send;

    /// Publisher `p`'s message, its payload beginning with `header`.
    fn template(&self, p: u32, header: Header, payload_bytes: usize) -> Self::Template;

    /// Responder `r`'s answer, carrying back each request's header.
    fn echo_template(&self, r: u32, header: Header, payload_bytes: usize) -> Self::Template;

    /// What a connection sends as it leaves (not awaited).
    fn goodbye(&self) -> Vec<u8>;
}

/// A publisher's connection and how its acknowledgements are read.
#[derive(Debug)]
pub struct OpenedPublisher<A> {
    pub stream: Conn,
    /// The most unacknowledged messages the target allows, when it says.
    pub in_flight: Option<u64>,
    pub acks: A,
}

/// A connection: a byte stream, or a connected datagram socket.
#[derive(Debug)]
pub enum Conn {
    Stream(TcpStream),
    /// What is written to it goes out as consecutive datagrams of `frame` bytes each
    /// (a publisher's messages have one size), or, with `frame` 0, as datagrams each
    /// preceded in what is written by its length (2 bytes, big-endian). Each datagram
    /// read is handed to the [`Receiver`] alone.
    Datagram {
        socket: UdpSocket,
        frame: usize,
    },
}

impl From<TcpStream> for Conn {
    fn from(s: TcpStream) -> Conn {
        Conn::Stream(s)
    }
}

/// One message encoded once; each message sent is a copy with its sequence number, send
/// time and (where the protocol numbers messages) its identifier patched in place.
pub trait Template: Send + Sync + 'static {
    /// Bytes of one message on the wire.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the `n`th message of this connection (for a publisher, its sequence
    /// number; for a responder, its count of answers).
    fn append(&self, out: &mut Vec<u8>, n: u64, seq: u32, sent_ns: u64);

    /// The key the target's acknowledgement of the `n`th message carries back (see
    /// [`AckReader::read`]); keys of any `IN_FLIGHT_MAX` (in the publisher) consecutive
    /// messages must differ modulo one more than that.
    fn ack_key(&self, n: u64) -> u64;
}

/// What a receiving connection makes of the bytes that arrive.
pub trait Receiver: Send + 'static {
    /// Reads the frame at the front of `buf`: `Done(Some(payload), len)` for a message
    /// (the payload's range within `buf`), `Done(None, len)` for anything else,
    /// `NeedMore` when the frame is incomplete. What the protocol owes for it now (an
    /// acknowledgement) is appended to `out`. An error ends the connection.
    fn read(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Decoded<Option<Range<usize>>>, String>;

    /// Called once everything read so far has been handled: appends what is owed for it
    /// all at once (a cumulative acknowledgement).
    fn flush(&mut self, _out: &mut Vec<u8>) {}

    /// The benchmark header the message found by [`Receiver::read`] carries, from the
    /// bytes of its range: by default the payload's header.
    fn header(&self, found: &[u8]) -> Option<Header> {
        Header::read(found)
    }

    /// The send time of a message intended at `intended` (ns since the run's origin),
    /// from what its header says: by default the header's whole stamp.
    fn sent_ns(&self, h: &Header, _intended: u64) -> u64 {
        h.sent_ns
    }

    /// Called whenever the connection wakes (at least every 50 ms), with the run's clock:
    /// appends what the protocol sends on its own timers (retransmissions).
    fn tick(&mut self, _now_ns: u64, _out: &mut Vec<u8>) {}

    /// Messages sent again by [`Receiver::tick`] so far.
    fn retransmissions(&self) -> u64 {
        0
    }
}

/// What a publisher makes of the bytes the target sends back to it.
pub trait AckReader: Send + 'static {
    /// Reads the frame at the front of `buf`, calling `acked` with the key of every
    /// message it acknowledges ([`Template::ack_key`]) and appending any reply owed to
    /// `replies`. `Done((), len)` once the frame is consumed.
    fn read(
        &mut self,
        buf: &[u8],
        replies: &mut Vec<u8>,
        acked: &mut dyn FnMut(u64),
    ) -> Result<Decoded<()>, String>;
}

/// For protocols whose publishers hear nothing back.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAcks;

impl AckReader for NoAcks {
    fn read(
        &mut self,
        buf: &[u8],
        _replies: &mut Vec<u8>,
        _acked: &mut dyn FnMut(u64),
    ) -> Result<Decoded<()>, String> {
        Ok(if buf.is_empty() {
            Decoded::NeedMore(1)
        } else {
            Decoded::Done((), buf.len())
        })
    }
}
