//! CoAP (RFC 7252, with Observe RFC 7641 and block-wise transfers RFC 7959): codec,
//! dissector and raw builder.
//!
//! Two tiers, as in smoltcp: [`Packet`] reads straight from a datagram and never
//! panics or allocates; [`Message`] is the owned, validated representation with
//! [`Message::parse`], [`Message::buffer_len`] and [`Message::emit`]. Parsing is strict
//! and names the first rule a datagram breaks ([`Violation`], ids listed in
//! `suites/spec/coap-rfc7252.yaml`); [`dissect`] is lenient and names them all.
//! Unknown options decode to [`OptionNumber::Unknown`] and reserved codes keep their
//! byte ([`Code`], [`CodeKind::Reserved`]). [`RawMessage`] writes anything, for
//! negative tests. [`CoapFramer`] treats each datagram as one frame. [`parse_links`]
//! reads the CoRE Link Format (RFC 6690) of resource discovery.
//!
//! [`Endpoint`] is the sans-IO message and request/response layer (retransmission,
//! deduplication, NSTART, piggybacked and separate responses) that hilt's CoAP client
//! and server both run on, with [`TransmissionParams`] (RFC 7252 §4.8) configurable.

mod code;
mod dissector;
mod endpoint;
mod error;
mod link;
mod message;
mod option;
mod params;
mod raw;
mod rules;

pub use code::{Code, CodeKind, MessageType, Method};
pub use dissector::{CoapFramer, Dissection, dissect, summarize};
pub use endpoint::{Endpoint, EndpointEvent, Exchange, Transmit};
pub use error::Violation;
pub use link::{Filter, Link, LinkFormatError, LinkParam, RFC6690, parse_links};
pub use message::{
    MAX_OPTION_VALUE, MAX_TOKEN, Message, OptionIter, PAYLOAD_MARKER, Packet, RawOption, VERSION,
    decode_lenient, option_problems,
};
pub use option::{
    Block, CoapOption, OptionDef, OptionNumber, ValueFormat, decode_uint, encode_uint, observe,
};
pub use params::TransmissionParams;
pub use raw::RawMessage;
pub use rules::{RFC7252, RFC7641, RFC7959, Rule};

/// IANA's port for CoAP over UDP.
pub const COAP_PORT: u16 = 5683;
