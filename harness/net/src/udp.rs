//! A UDP socket whose every datagram is recorded.
//!
//! The socket is connected to one peer, so the kernel filters out datagrams from
//! anyone else and an ICMP port-unreachable surfaces as an error on the next receive.
//! Each datagram is one recorder chunk, which is what datagram framers expect.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use hilt_core::Direction;
use tokio::net::UdpSocket;

use crate::record::Recorder;

/// The largest datagram a receive accepts: anything IPv4 can carry.
pub const MAX_DATAGRAM: usize = 65_535;

#[derive(Debug)]
pub struct RecordedUdp {
    socket: UdpSocket,
    recorder: Recorder,
    conn: u32,
    peer: SocketAddr,
    local: SocketAddr,
}

impl RecordedUdp {
    /// Binds an ephemeral local port of `peer`'s address family, connects it to `peer`
    /// and registers the flow with `recorder`.
    pub async fn connect(
        peer: SocketAddr,
        recorder: &Recorder,
        well_known_port: Option<u16>,
    ) -> io::Result<Self> {
        let any: SocketAddr = if peer.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(any).await?;
        socket.connect(peer).await?;
        let local = socket.local_addr()?;
        let conn = recorder.open_udp(local, peer, well_known_port);
        Ok(RecordedUdp {
            socket,
            recorder: recorder.clone(),
            conn,
            peer,
            local,
        })
    }

    pub fn conn_id(&self) -> u32 {
        self.conn
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends one datagram.
    pub async fn send(&self, datagram: &[u8]) -> io::Result<()> {
        self.recorder.record(self.conn, Direction::Sent, datagram);
        self.socket.send(datagram).await.map(|_| ())
    }

    /// Receives one datagram.
    pub async fn recv(&self) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let n = self.socket.recv(&mut buf).await?;
        buf.truncate(n);
        self.recorder.record(self.conn, Direction::Received, &buf);
        Ok(buf)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[tokio::test]
    async fn datagrams_are_recorded_one_chunk_each() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rec = Recorder::new();
        let c = RecordedUdp::connect(server.local_addr().unwrap(), &rec, Some(5683))
            .await
            .unwrap();
        c.send(b"\x40\x00\x00\x01").await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"\x40\x00\x00\x01");
        server.send_to(b"\x70\x00\x00\x01", from).await.unwrap();
        assert_eq!(c.recv().await.unwrap(), b"\x70\x00\x00\x01");
        let chunks = rec.chunks();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].dir, Direction::Received);
        assert_eq!(rec.conns()[0].transport, crate::record::Transport::Udp);
    }
}
