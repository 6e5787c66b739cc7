//! MQTT 3.1.1 and 5.0: codec, dissector, raw builder and a sans-IO client core.
//!
//! Two tiers, as in smoltcp: [`PublishView`] and [`FixedHeader`] read straight from the
//! bytes and never allocate; [`Packet`] is the owned, validated representation with
//! [`decode`], [`Packet::emit`] and [`Packet::encoded_len`]. Decoding is strict and names
//! the first rule a frame breaks ([`Violation`]); [`dissect`] is lenient and names them
//! all. [`RawPacket`] writes anything, for negative tests. [`Client`] is the quinn-style
//! client state machine.

mod acks;
mod auth;
mod client;
mod connack;
mod connect;
mod disconnect;
mod dissector;
mod error;
mod header;
mod packet;
mod properties;
mod publish;
mod raw;
mod reader;
mod reason;
mod rules;
mod strings;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;
pub mod varint;

/// IANA's port for MQTT over TCP, written into traces for Wireshark.
pub const MQTT_PORT: u16 = 1883;

pub use acks::Ack;
pub use auth::Auth;
pub use client::{Client, ClientConfig, ClientEvent, ClientState, Delivery};
pub use connack::ConnAck;
pub use connect::{Connect, Will, connect_version};
pub use disconnect::Disconnect;
pub use dissector::{Dissection, MqttFramer, dissect, summarize};
pub use error::{Version, Violation};
pub use header::{FixedHeader, PacketType, QoS, frame_len, frame_len_for};
pub use packet::{Packet, decode};
pub use properties::{Properties, Property, PropertyContext, PropertyId, PropertyValue, ValueType};
pub use publish::{PropertyIter, Publish, PublishRef, PublishView};
pub use raw::{RawPacket, RemainingLength, Writer};
pub use reason::ReasonCode;
pub use rules::Rule;
pub use strings::{
    is_shared_subscription, is_valid_topic_filter, is_valid_topic_name, topic_matches,
};
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, Subscription, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;
