//! A TUN interface: IPv6 packets between the kernel and hilt, as a device sees them.
//!
//! Creating one needs root (CAP_NET_ADMIN). The interface gets its address and comes up
//! through iproute2 (`ip`), the same tool an operator would use; it is deleted when the
//! [`Tun`] is dropped (the kernel removes a non-persistent TUN when its file closes).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;

use tokio::io::unix::AsyncFd;

/// Linux's `struct ifreq` as TUNSETIFF reads it: a name and the flags.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[derive(Debug)]
pub struct Tun {
    fd: AsyncFd<File>,
    name: String,
}

impl Tun {
    /// Creates `name` (IFF_TUN, no packet information header), gives it `addr/prefix_len`
    /// and `mtu`, and brings it up.
    pub fn create(name: &str, addr: Ipv6Addr, prefix_len: u8, mtu: u32) -> io::Result<Self> {
        Self::make(name, Some((addr, prefix_len)), mtu)
    }

    /// Creates `name` with no address at all and brings it up: a plain link whose
    /// packets a packet socket hears and sends (the kernel's stack keeps out of it, as
    /// it has neither a link-local address there nor routes).
    pub fn create_unaddressed(name: &str, mtu: u32) -> io::Result<Self> {
        Self::make(name, None, mtu)
    }

    fn make(name: &str, addr: Option<(Ipv6Addr, u8)>, mtu: u32) -> io::Result<Self> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad interface name",
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")?;
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        set_iff(&file, &mut req)?;
        let tun = Tun {
            fd: register(file)?,
            name: name.to_owned(),
        };
        ip(&["link", "set", "dev", name, "mtu", &mtu.to_string()])?;
        if let Some((addr, prefix_len)) = addr {
            // No duplicate address detection on a point-to-point link: the address is
            // usable at once instead of after a second of "tentative".
            ip(&[
                "-6",
                "addr",
                "add",
                &format!("{addr}/{prefix_len}"),
                "dev",
                name,
                "nodad",
            ])?;
        }
        ip(&["link", "set", "dev", name, "up"])?;
        Ok(tun)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a packet socket (a test's link, a capture) is bound to this interface,
    /// from the kernel's table of them (`/proc/net/packet`).
    pub fn has_packet_listener(&self) -> bool {
        let Ok(index) = std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", self.name))
        else {
            return false;
        };
        let Ok(table) = std::fs::read_to_string("/proc/net/packet") else {
            return false;
        };
        // Columns: sk RefCnt Type Proto Iface R Rmem User Inode.
        table
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(4) == Some(index.trim()))
    }

    /// Reads one packet the kernel sent out of the interface.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|f| f.get_ref().read(buf)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Hands one packet to the kernel as if it arrived on the interface.
    pub async fn send(&self, packet: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|f| f.get_ref().write(packet)) {
                Ok(r) => return r.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }
}

#[expect(unsafe_code, reason = "TUNSETIFF has no safe wrapper in std or libc")]
fn set_iff(file: &File, req: &mut IfReq) -> io::Result<()> {
    // SAFETY: the fd is open for the call's duration and `req` is a properly laid out,
    // writable ifreq that outlives it.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, req as *mut IfReq) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[expect(
    unsafe_code,
    reason = "tokio's AsyncFd registration is unsafe (I/O safety)"
)]
fn register(file: File) -> io::Result<AsyncFd<File>> {
    // SAFETY: the File owns its descriptor, which stays open as long as the AsyncFd
    // holding the File lives, and nothing else closes it.
    unsafe { AsyncFd::register(file) }.map_err(|e| e.into_parts().1)
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// True when this process may create TUN interfaces (root; CAP_NET_ADMIN is not
/// checked separately).
pub fn can_create() -> bool {
    std::path::Path::new("/dev/net/tun").exists() && effective_uid_is_root()
}

fn effective_uid_is_root() -> bool {
    // The effective uid from procfs: no unsafe geteuid needed.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod test {
    use super::*;

    #[tokio::test]
    async fn packets_the_kernel_routes_to_the_prefix_come_out() {
        if !can_create() {
            eprintln!("skipped: creating a TUN interface needs root and /dev/net/tun");
            return;
        }
        let name = format!("hilt-t{}", std::process::id() % 100_000);
        let tun = Tun::create(&name, "2001:db8:7::1".parse().unwrap(), 64, 1280).unwrap();
        let sock = tokio::net::UdpSocket::bind("[2001:db8:7::1]:0")
            .await
            .unwrap();
        sock.send_to(b"hilt", "[2001:db8:7::2]:5683").await.unwrap();
        let mut buf = [0u8; 1500];
        // The kernel may send its own packets first (MLD, router solicitations).
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                let n = tun.recv(&mut buf).await.unwrap();
                if n >= 48 && buf[6] == 17 && &buf[n - 4..n] == b"hilt" {
                    return buf[..n].to_vec();
                }
            }
        })
        .await
        .expect("the datagram comes out of the TUN");
        assert_eq!(got[0] >> 4, 6);
        assert_eq!(
            &got[24..40],
            &"2001:db8:7::2".parse::<Ipv6Addr>().unwrap().octets()
        );
    }
}
