//! RPL on real interfaces: hilt's sans-IO node and root cores ([`hilt_wire::rpl::Node`])
//! driven in real time over a link that carries IPv6 datagrams ([`Ipv6Link`]), such as
//! a packet socket on a veth, TAP or TUN interface ([`PacketLink`]). Faults for
//! negative controls ([`Fault`]) sit between the core and the link.

mod driver;
mod link;
mod mutate;

pub use driver::{Command, Driver, DriverOptions, describe};
pub use link::{Heard, Interface, Ipv6Link, PacketLink};
pub use mutate::{Fault, Mutator};
