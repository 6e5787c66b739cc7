//! Ephemeral loopback ports for one instance.
//!
//! A port is found by binding 127.0.0.1:0 and released before the target binds it, so
//! another process may take it in between; the launcher retries the whole launch when
//! that happens. Within this process, ports handed to live instances are remembered so
//! two instances launched side by side never get the same one.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

/// Ports no target should get: the range RabbitMQ's CLI tools use for their own
/// distribution connections (35672–35682), which lies inside Linux's ephemeral range.
const AVOID: std::ops::RangeInclusive<u16> = 35672..=35682;

static LEASED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Ports held by one instance; returned to the pool when dropped.
#[derive(Debug, Default)]
pub(crate) struct PortLease {
    pub ports: BTreeMap<String, u16>,
}

impl PortLease {
    /// Allocates one port per name.
    pub fn allocate(names: &[String]) -> io::Result<PortLease> {
        // Every listener stays bound until all are allocated, so one call never sees the
        // same port twice.
        let mut held = Vec::new();
        let mut ports = BTreeMap::new();
        let mut leased = LEASED.lock().unwrap_or_else(PoisonError::into_inner);
        for name in names {
            if ports.contains_key(name) {
                continue;
            }
            let mut tries = 0;
            let port = loop {
                tries += 1;
                let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
                let port = l.local_addr()?.port();
                held.push(l);
                if !AVOID.contains(&port) && !leased.contains(&port) {
                    break port;
                }
                if tries > 64 {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrNotAvailable,
                        "no usable ephemeral port after 64 tries",
                    ));
                }
            };
            ports.insert(name.clone(), port);
        }
        leased.extend(ports.values().copied());
        Ok(PortLease { ports })
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut leased = LEASED.lock().unwrap_or_else(PoisonError::into_inner);
        for p in self.ports.values() {
            leased.remove(p);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn distinct_ports_outside_the_avoided_range() {
        let names: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
        let a = PortLease::allocate(&names).unwrap();
        let b = PortLease::allocate(&names).unwrap();
        let all: BTreeSet<u16> = a.ports.values().chain(b.ports.values()).copied().collect();
        assert_eq!(all.len(), 40);
        assert!(all.iter().all(|p| !AVOID.contains(p)));
    }

    #[test]
    fn lease_returns_ports_on_drop() {
        let a = PortLease::allocate(&["x".to_owned()]).unwrap();
        let p = a.ports["x"];
        drop(a);
        assert!(!LEASED.lock().unwrap().contains(&p));
    }
}
