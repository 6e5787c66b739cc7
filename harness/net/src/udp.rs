//! A UDP socket whose every datagram is recorded.
//!
//! The socket is connected to one peer, so the kernel filters out datagrams from
//! anyone else and an ICMP port-unreachable surfaces as an error on the next receive.
//! Each datagram is one recorder chunk, which is what datagram framers expect.

use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hilt_core::Direction;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use tokio::io::Interest;
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
        stamp_arrivals(&socket)?;
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
        let (n, _, at) = recv_stamped(&self.socket, &mut buf).await?;
        buf.truncate(n);
        self.recorder
            .record_at(self.conn, Direction::Received, &buf, at);
        Ok(buf)
    }
}

/// Asks the kernel to stamp every datagram `socket` receives with its arrival time
/// (`SO_TIMESTAMPNS`), for [`recv_stamped`].
///
/// Timing verdicts (CoAP retransmission windows, heart-beats over UDP) judge when a
/// datagram arrived; the time a task got round to reading it adds the scheduler's
/// latency, which on a loaded machine is tens to hundreds of milliseconds.
pub fn stamp_arrivals(socket: &UdpSocket) -> io::Result<()> {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
}

/// Receives one datagram and the instant the kernel queued it: the kernel's stamp when
/// [`stamp_arrivals`] was called on `socket`, else the time of the read.
pub async fn recv_stamped(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Instant)> {
    socket
        .async_io(Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(buf)];
            let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
            let msg = recvmsg::<SockaddrStorage>(
                socket.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(io::Error::from)?;
            let from = msg
                .address
                .as_ref()
                .and_then(socket_addr)
                .ok_or_else(|| io::Error::other("a datagram without a sender address"))?;
            let kernel = msg.cmsgs().ok().and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::ScmTimestampns(ts) => {
                        Some(UNIX_EPOCH + Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32))
                    }
                    _ => None,
                })
            });
            Ok((
                msg.bytes,
                from,
                kernel.map_or_else(Instant::now, to_instant),
            ))
        })
        .await
}

/// The monotonic instant of a wall-clock stamp taken moments ago.
pub(crate) fn to_instant(stamp: SystemTime) -> Instant {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let age = wall.duration_since(stamp).unwrap_or_default();
    now.checked_sub(age).unwrap_or(now)
}

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddrV4::new(v4.ip(), v4.port()).into());
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddrV6::new(v6.ip(), v6.port(), v6.flowinfo(), v6.scope_id()).into())
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

    /// A reader that comes late still learns when the datagram arrived.
    #[tokio::test]
    async fn a_late_read_gets_the_kernel_arrival_time() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        stamp_arrivals(&rx).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let before = Instant::now();
        tx.send_to(b"x", rx.local_addr().unwrap()).await.unwrap();
        // The stimulus: the reader is busy for a while after the datagram arrived.
        let late = Duration::from_millis(40);
        tokio::time::sleep(late).await;
        let mut buf = [0u8; 8];
        let (n, from, at) = recv_stamped(&rx, &mut buf).await.unwrap();
        let read = Instant::now();
        assert_eq!((n, from), (1, tx.local_addr().unwrap()));
        // Wall and monotonic clocks are read a few nanoseconds apart in the conversion.
        let slack = Duration::from_millis(5);
        assert!(at + slack >= before, "stamped before it was sent");
        // Half the delay: on a loaded machine loopback delivery itself may lag the send
        // by milliseconds, while a stamp taken at the read would be microseconds old.
        assert!(
            read - at >= late / 2,
            "stamped {:?} before the read: the time of the read, not of arrival",
            read - at
        );
    }
}
