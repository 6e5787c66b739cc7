//! The link an RPL node speaks over: whole IPv6 datagrams to a neighbour or to every
//! neighbour, and datagrams heard with the neighbour that sent them.
//!
//! [`PacketLink`] is a Linux packet socket (`AF_PACKET`, `SOCK_DGRAM`, EtherType IPv6)
//! on one interface: an Ethernet-like device (veth, TAP, a NIC) or one without link
//! addresses (TUN, such as a SLIP bridge to a microcontroller). It bypasses the
//! kernel's IPv6 stack on purpose: the node routes for itself (RPL Option, Source
//! Routing Header) and a test must be able to put any datagram on the wire, malformed
//! or not, and to hear datagrams addressed to others. Multicast needs no group
//! membership or `IFF_MULTICAST`: ff02::1a goes out as Ethernet 33:33:00:00:00:1a, or
//! as is on a TUN device.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use hilt_wire::rpl::{ALL_RPL_NODES, LinkTarget, iid_of, link_local};
use tokio::io::unix::AsyncFd;

/// A datagram heard on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// When the kernel queued it (`SO_TIMESTAMPNS`): timing verdicts must not be charged
    /// with the scheduler's latency before the read.
    pub at: std::time::Instant,
    /// The neighbour that put it on the link, by link-local address: the IPv6 source
    /// when it is link-local, else the link-local learnt for its link-layer address
    /// (a forwarded datagram), else fe80:: with the source's interface identifier.
    pub from: Ipv6Addr,
    pub bytes: Vec<u8>,
}

/// A link carrying IPv6 datagrams between neighbours.
pub trait Ipv6Link: Send + Sync {
    fn send(&self, to: LinkTarget, datagram: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
    /// The next datagram another node sent (never one this side sent).
    fn recv(&self) -> impl Future<Output = io::Result<Heard>> + Send;
}

const ETH_P_IPV6: u16 = 0x86dd;
const ARPHRD_ETHER: u32 = 1;
const MAX_DATAGRAM: usize = 2048;

/// What the kernel says about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: i32,
    /// The hardware address of an Ethernet-like device; `None` without link addresses.
    pub mac: Option<[u8; 6]>,
}

impl Interface {
    /// Looks `name` up in this process's network namespace.
    pub fn lookup(name: &str) -> io::Result<Interface> {
        let sys = std::path::Path::new("/sys/class/net").join(name);
        let read = |f: &str| {
            std::fs::read_to_string(sys.join(f)).map_err(|e| {
                io::Error::new(e.kind(), format!("no interface `{name}` here ({f}: {e})"))
            })
        };
        let index = read("ifindex")?
            .trim()
            .parse()
            .map_err(|_| io::Error::other(format!("`{name}`: unreadable ifindex")))?;
        let kind: u32 = read("type")?.trim().parse().unwrap_or(0);
        let mac = if kind == ARPHRD_ETHER {
            parse_mac(read("address")?.trim())
        } else {
            None
        };
        Ok(Interface {
            name: name.to_owned(),
            index,
            mac,
        })
    }

    /// The modified EUI-64 interface identifier of its MAC (RFC 4291 App. A), if any.
    pub fn eui64(&self) -> Option<u64> {
        let m = self.mac?;
        let b = [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]];
        Some(u64::from_be_bytes(b))
    }
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Ethernet multicast for an IPv6 multicast group (RFC 2464 §7).
fn multicast_mac(group: Ipv6Addr) -> [u8; 6] {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// Solicited-node multicast MAC of an address (RFC 4291 §2.7.1): a neighbour whose
/// hardware address was never heard still gets the frame, as every IPv6 host listens
/// there, and no Neighbor Discovery is needed.
fn solicited_node_mac(addr: Ipv6Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x33, 0x33, 0xff, o[13], o[14], o[15]]
}

/// A packet socket on one interface.
#[derive(Debug)]
pub struct PacketLink {
    fd: AsyncFd<OwnedFd>,
    iface: Interface,
    /// Neighbours' hardware addresses, learnt from what they sent.
    macs: Mutex<HashMap<Ipv6Addr, [u8; 6]>>,
    lls: Mutex<HashMap<[u8; 6], Ipv6Addr>>,
}

impl PacketLink {
    /// Opens a packet socket bound to `name` (root or CAP_NET_RAW needed). Must run
    /// inside a tokio runtime.
    pub fn open(name: &str) -> io::Result<PacketLink> {
        let iface = Interface::lookup(name)?;
        let fd = sys::packet_socket(iface.index)?;
        Ok(PacketLink {
            fd: sys::register(fd)?,
            iface,
            macs: Mutex::default(),
            lls: Mutex::default(),
        })
    }

    pub fn interface(&self) -> &Interface {
        &self.iface
    }

    fn dst_mac(&self, to: LinkTarget) -> Option<[u8; 6]> {
        self.iface.mac?;
        Some(match to {
            LinkTarget::Broadcast => multicast_mac(ALL_RPL_NODES),
            LinkTarget::Neighbor(a) if a.is_multicast() => multicast_mac(a),
            LinkTarget::Neighbor(a) => self
                .macs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&a)
                .copied()
                .unwrap_or_else(|| solicited_node_mac(a)),
        })
    }

    fn learn(&self, src: Ipv6Addr, mac: Option<[u8; 6]>) -> Ipv6Addr {
        let link_local_src = (src.segments()[0] & 0xffc0) == 0xfe80;
        let Some(mac) = mac else {
            return if link_local_src {
                src
            } else {
                link_local(iid_of(src))
            };
        };
        if link_local_src {
            self.macs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(src, mac);
            self.lls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(mac, src);
            return src;
        }
        self.lls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&mac)
            .copied()
            .unwrap_or_else(|| link_local(iid_of(src)))
    }
}

impl Ipv6Link for PacketLink {
    async fn send(&self, to: LinkTarget, datagram: &[u8]) -> io::Result<()> {
        let mac = self.dst_mac(to);
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| sys::send_to(fd.get_ref(), self.iface.index, mac, datagram)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    async fn recv(&self) -> io::Result<Heard> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let mut guard = self.fd.readable().await?;
            let got = match guard.try_io(|fd| sys::recv_from(fd.get_ref(), &mut buf)) {
                Ok(r) => r?,
                Err(_would_block) => continue,
            };
            if got.outgoing || got.len < 40 {
                continue;
            }
            let bytes = buf[..got.len].to_vec();
            let mut src = [0u8; 16];
            src.copy_from_slice(&bytes[8..24]);
            let from = self.learn(Ipv6Addr::from(src), got.mac);
            return Ok(Heard {
                at: got.at,
                from,
                bytes,
            });
        }
    }
}

/// What one `recvfrom` gave.
struct Received {
    len: usize,
    /// The kernel's own transmission looped back to packet sockets.
    outgoing: bool,
    mac: Option<[u8; 6]>,
    at: std::time::Instant,
}

#[expect(
    unsafe_code,
    reason = "packet sockets have no safe wrapper in std, socket2 or nix's enabled \
              features; each call passes buffers and sockaddr_ll structs that live across it"
)]
mod sys {
    use super::*;

    fn sockaddr(index: i32, mac: Option<[u8; 6]>) -> libc::sockaddr_ll {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = ETH_P_IPV6.to_be();
        sa.sll_ifindex = index;
        if let Some(m) = mac {
            sa.sll_halen = 6;
            sa.sll_addr[..6].copy_from_slice(&m);
        }
        sa
    }

    fn check(r: libc::c_int) -> io::Result<libc::c_int> {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    pub(super) fn packet_socket(index: i32) -> io::Result<OwnedFd> {
        // SAFETY: plain syscall; the descriptor is owned right away.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                // Protocol 0: nothing is queued until bind names the interface, so no
                // datagram of another interface slips in before it.
                0,
            )
        })
        .map_err(|e| io::Error::new(e.kind(), format!("packet socket (needs root): {e}")))?;
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sa = sockaddr(index, None);
        // SAFETY: `sa` lives across the call and its size is passed.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const sa).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        })?;
        nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
            .map_err(io::Error::from)?;
        // Multicast frames of every group, whatever the device filters.
        let mreq = libc::packet_mreq {
            mr_ifindex: index,
            mr_type: libc::PACKET_MR_ALLMULTI as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        // SAFETY: `mreq` lives across the call and its size is passed.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&raw const mreq).cast(),
                std::mem::size_of::<libc::packet_mreq>() as u32,
            )
        })?;
        Ok(fd)
    }

    pub(super) fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
        // SAFETY: an OwnedFd is open and keeps its descriptor until the AsyncFd drops it.
        unsafe { AsyncFd::register(fd) }.map_err(|e| io::Error::other(e.to_string()))
    }

    pub(super) fn send_to(
        fd: &OwnedFd,
        index: i32,
        mac: Option<[u8; 6]>,
        bytes: &[u8],
    ) -> io::Result<()> {
        let sa = sockaddr(index, mac);
        // SAFETY: `bytes` and `sa` live across the call; their sizes are passed.
        let n = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&raw const sa).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn recv_from(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Received> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let msg = recvmsg::<SockaddrStorage>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let link = msg.address.as_ref().and_then(|a| a.as_link_addr());
        let mac = link.filter(|l| l.halen() == 6).and_then(|l| l.addr());
        let outgoing = link.is_some_and(|l| l.pkttype() == libc::PACKET_OUTGOING);
        let at = msg
            .cmsgs()
            .ok()
            .and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::ScmTimestampns(ts) => Some(
                        std::time::UNIX_EPOCH
                            + std::time::Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32),
                    ),
                    _ => None,
                })
            })
            .map_or_else(std::time::Instant::now, crate::udp::to_instant);
        Ok(Received {
            len: msg.bytes,
            outgoing,
            mac,
            at,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn multicast_and_solicited_node_macs() {
        assert_eq!(multicast_mac(ALL_RPL_NODES), [0x33, 0x33, 0, 0, 0, 0x1a]);
        let a: Ipv6Addr = "fe80::1234:5678:9abc".parse().unwrap();
        assert_eq!(solicited_node_mac(a), [0x33, 0x33, 0xff, 0x78, 0x9a, 0xbc]);
    }

    #[test]
    fn eui64_flips_the_universal_bit() {
        let i = Interface {
            name: "x".into(),
            index: 1,
            mac: parse_mac("02:00:5e:10:00:01"),
        };
        assert_eq!(i.eui64(), Some(0x0000_5eff_fe10_0001));
        assert_eq!(parse_mac("zz"), None);
    }
}
