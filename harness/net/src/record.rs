//! Recording what crosses a connection, with timestamps, for evidence and pcapng.
//!
//! A [`Recorder`] belongs to one test; every connection the test opens (directly or
//! through the interposer) is registered with it and each read or write chunk is kept
//! with its time. Chunks are bytes as the socket saw them; frames are recovered later
//! by the protocol's [`hilt_wire::Framer`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hilt_core::Direction;

/// One chunk of bytes as read from or written to a socket.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Microseconds since the recorder was created.
    pub t_us: u64,
    pub conn: u32,
    pub dir: Direction,
    pub bytes: Vec<u8>,
}

/// What carried a recorded connection: it decides how pcapng shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// A byte stream: chunks are reads and writes, frames are recovered by a framer.
    #[default]
    Tcp,
    /// Datagrams: each chunk is exactly one datagram.
    Udp,
    /// A link carrying whole IPv6 datagrams (an RPL interface): each chunk is one
    /// datagram, IPv6 header included, written to pcapng as it is.
    Ipv6Link,
}

/// The two ends of a recorded connection (or UDP flow); `tester` is hilt's side.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub id: u32,
    pub tester: SocketAddr,
    pub peer: SocketAddr,
    /// The protocol's well-known port, written into pcapng instead of the ephemeral one
    /// so that Wireshark picks the right dissector.
    pub well_known_port: Option<u16>,
    /// Whether the connection ended with a close seen from the peer, and when.
    pub closed_by_peer_us: Option<u64>,
    pub transport: Transport,
}

#[derive(Debug, Default)]
struct Inner {
    conns: Vec<ConnInfo>,
    chunks: Vec<Chunk>,
    link_names: std::collections::BTreeMap<u32, String>,
}

/// Shared, cheap to clone; safe to use from any task.
#[derive(Debug, Clone)]
pub struct Recorder {
    origin: Instant,
    inner: Arc<Mutex<Inner>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            origin: Instant::now(),
            inner: Arc::default(),
        }
    }

    /// Microseconds since the recorder started.
    pub fn now_us(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }

    /// Registers a TCP connection and returns its id.
    pub fn open(&self, tester: SocketAddr, peer: SocketAddr, well_known_port: Option<u16>) -> u32 {
        self.open_with(tester, peer, well_known_port, Transport::Tcp)
    }

    /// Registers a UDP flow (datagrams between two fixed addresses) and returns its id.
    pub fn open_udp(
        &self,
        tester: SocketAddr,
        peer: SocketAddr,
        well_known_port: Option<u16>,
    ) -> u32 {
        self.open_with(tester, peer, well_known_port, Transport::Udp)
    }

    /// Registers an interface on which whole IPv6 datagrams are recorded; its
    /// `description` (interface, roles) stands in for the two socket addresses.
    pub fn open_ipv6_link(&self, description: &str) -> u32 {
        let id = self.open_with(
            SocketAddr::from(([0u16; 8], 0)),
            SocketAddr::from(([0u16; 8], 0)),
            None,
            Transport::Ipv6Link,
        );
        self.lock().link_names.insert(id, description.to_owned());
        id
    }

    /// The description an IPv6 link was registered with.
    pub fn link_name(&self, conn: u32) -> Option<String> {
        self.lock().link_names.get(&conn).cloned()
    }

    pub(crate) fn open_with(
        &self,
        tester: SocketAddr,
        peer: SocketAddr,
        well_known_port: Option<u16>,
        transport: Transport,
    ) -> u32 {
        let mut inner = self.lock();
        let id = inner.conns.len() as u32;
        inner.conns.push(ConnInfo {
            id,
            tester,
            peer,
            well_known_port,
            closed_by_peer_us: None,
            transport,
        });
        id
    }

    pub fn record(&self, conn: u32, dir: Direction, bytes: &[u8]) {
        self.record_at(conn, dir, bytes, Instant::now());
    }

    /// Records `bytes` as seen at `at` (a kernel arrival stamp, say) rather than now.
    pub fn record_at(&self, conn: u32, dir: Direction, bytes: &[u8], at: Instant) {
        if bytes.is_empty() {
            return;
        }
        let t_us = at.saturating_duration_since(self.origin).as_micros() as u64;
        self.lock().chunks.push(Chunk {
            t_us,
            conn,
            dir,
            bytes: bytes.to_vec(),
        });
    }

    /// Notes that the peer closed `conn` (end of stream or reset).
    pub fn closed_by_peer(&self, conn: u32) {
        let t = self.now_us();
        if let Some(c) = self.lock().conns.get_mut(conn as usize) {
            c.closed_by_peer_us.get_or_insert(t);
        }
    }

    pub fn conns(&self) -> Vec<ConnInfo> {
        self.lock().conns.clone()
    }

    pub fn chunks(&self) -> Vec<Chunk> {
        self.lock().chunks.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only appended data behind: still valid.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
