//! tokio drivers for hilt: recorded transports, pcapng traces, the interposer.
//!
//! Everything protocol-specific comes from `hilt-wire`; this crate moves bytes, keeps
//! time and records what it moved.

pub mod interposer;
pub mod netns;
pub mod pcapng;
pub mod record;
pub mod rpl;
pub mod serial;
pub mod slip_bridge;
pub mod tcp;
pub mod tun;
pub mod udp;

pub use record::{Chunk, ConnInfo, Recorder, Transport};
pub use tcp::RecordedTcp;
pub use udp::RecordedUdp;
