//! RPL (RFC 6550) and what it rides on: codecs for IPv6/ICMPv6 framing, the control
//! messages and their options, the RPL Option (RFC 6553) and the Source Routing Header
//! (RFC 6554); the Trickle timer (RFC 6206); the objective functions OF0 (RFC 6552) and
//! MRHOF (RFC 6719).
//!
//! Two tiers, as in smoltcp: views ([`Ipv6Packet`], [`Icmpv6Packet`], [`RplView`],
//! [`OptionIter`]) read straight from the bytes, never allocate and never panic, whatever
//! the input; representations ([`Datagram`], [`RplMessage`], [`RplOption`], [`HopByHop`],
//! [`SourceRoute`]) are validated by `parse`, sized by `buffer_len` and written by `emit`
//! (or `to_bytes`). Parsing is strict and names the rule a packet breaks ([`Violation`],
//! ids listed in `suites/spec/rpl-rfc6550.yaml`); reserved fields are kept as sent and
//! unknown codes and option types decode to `Unknown` so a test can judge them.
//! [`RawMessage`] writes anything, for negative tests.
//!
//! [`Node`] is the router and root state machine, sans-IO in quinn-proto's shape.
//! Nothing here reads a clock: [`Trickle`] and [`Node`] are handed the time.

mod downward;
mod error;
mod hbh;
mod icmpv6;
mod ipv6;
mod message;
mod node;
mod objective;
mod options;
mod packet;
mod rank;
mod raw;
mod rules;
mod srh;
mod trickle;

pub use error::Violation;
pub use hbh::{HopByHop, HopOption, RPL_OPTION_TYPE, RPL_OPTION_TYPE_RFC9008, RplHopOption};
pub use icmpv6::{Icmpv6Packet, TYPE_RPL_CONTROL};
pub use ipv6::{ALL_RPL_NODES, Ipv6Packet, Ipv6Repr, next_header, pseudo_header_checksum};
pub use message::{
    Code, ConsistencyCheck, Dao, DaoAck, Dio, Dis, Mop, RplMessage, RplView, SecureMessage,
    SecuritySection,
};
pub use node::{
    DATA_HOP_LIMIT, DropReason, ECHO_REQUEST, Event, FrameKind, LinkTarget, Node, NodeConfig,
    RootConfig, Transmit, iid_of, link_local, with_iid,
};
pub use objective::{Candidate, Mrhof, Of0, ParentChoice};
pub use options::{
    DodagConfiguration, MetricObject, MetricType, OptionIter, Prefix, PrefixInformation, RawOption,
    RplOption, SolicitedInformation, TransitInformation, kind as option_kind, metric_objects,
};
pub use packet::{Datagram, Payload};
pub use rank::{DEFAULT_MIN_HOP_RANK_INCREASE, INFINITE_RANK, Rank, SequenceCounter};
pub use raw::{RawMessage, raw_icmpv6_datagram, raw_ipv6};
pub use rules::{DOC, Rule};
pub use srh::SourceRoute;
pub use trickle::{RandomSource, SplitMix64, Trickle, TrickleStats};

#[cfg(test)]
mod node_tests;
#[cfg(test)]
mod tests;
