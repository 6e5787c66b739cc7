//! Reason Codes (MQTT 5.0 §2.4) and 3.1.1's CONNACK return codes and SUBACK codes.
//!
//! A `ReasonCode` holds any byte: the decoder never rejects an unknown or misplaced
//! value, it is the caller's to judge ([`ReasonCode::allowed_in`]); the dissector lists
//! misplaced ones as problems.

use std::fmt;

use super::error::Version;
use super::header::PacketType;
use super::rules::Rule;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ReasonCode(pub u8);

impl ReasonCode {
    pub const SUCCESS: ReasonCode = ReasonCode(0x00);
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode(0x00);
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode(0x00);
    pub const GRANTED_QOS_1: ReasonCode = ReasonCode(0x01);
    pub const GRANTED_QOS_2: ReasonCode = ReasonCode(0x02);
    pub const DISCONNECT_WITH_WILL_MESSAGE: ReasonCode = ReasonCode(0x04);
    pub const NO_MATCHING_SUBSCRIBERS: ReasonCode = ReasonCode(0x10);
    pub const NO_SUBSCRIPTION_EXISTED: ReasonCode = ReasonCode(0x11);
    pub const CONTINUE_AUTHENTICATION: ReasonCode = ReasonCode(0x18);
    pub const RE_AUTHENTICATE: ReasonCode = ReasonCode(0x19);
    pub const UNSPECIFIED_ERROR: ReasonCode = ReasonCode(0x80);
    pub const MALFORMED_PACKET: ReasonCode = ReasonCode(0x81);
    pub const PROTOCOL_ERROR: ReasonCode = ReasonCode(0x82);
    pub const IMPLEMENTATION_SPECIFIC_ERROR: ReasonCode = ReasonCode(0x83);
    pub const UNSUPPORTED_PROTOCOL_VERSION: ReasonCode = ReasonCode(0x84);
    pub const CLIENT_IDENTIFIER_NOT_VALID: ReasonCode = ReasonCode(0x85);
    pub const BAD_USER_NAME_OR_PASSWORD: ReasonCode = ReasonCode(0x86);
    pub const NOT_AUTHORIZED: ReasonCode = ReasonCode(0x87);
    pub const SERVER_UNAVAILABLE: ReasonCode = ReasonCode(0x88);
    pub const SERVER_BUSY: ReasonCode = ReasonCode(0x89);
    pub const BANNED: ReasonCode = ReasonCode(0x8a);
    pub const SERVER_SHUTTING_DOWN: ReasonCode = ReasonCode(0x8b);
    pub const BAD_AUTHENTICATION_METHOD: ReasonCode = ReasonCode(0x8c);
    pub const KEEP_ALIVE_TIMEOUT: ReasonCode = ReasonCode(0x8d);
    pub const SESSION_TAKEN_OVER: ReasonCode = ReasonCode(0x8e);
    pub const TOPIC_FILTER_INVALID: ReasonCode = ReasonCode(0x8f);
    pub const TOPIC_NAME_INVALID: ReasonCode = ReasonCode(0x90);
    pub const PACKET_IDENTIFIER_IN_USE: ReasonCode = ReasonCode(0x91);
    pub const PACKET_IDENTIFIER_NOT_FOUND: ReasonCode = ReasonCode(0x92);
    pub const RECEIVE_MAXIMUM_EXCEEDED: ReasonCode = ReasonCode(0x93);
    pub const TOPIC_ALIAS_INVALID: ReasonCode = ReasonCode(0x94);
    pub const PACKET_TOO_LARGE: ReasonCode = ReasonCode(0x95);
    pub const MESSAGE_RATE_TOO_HIGH: ReasonCode = ReasonCode(0x96);
    pub const QUOTA_EXCEEDED: ReasonCode = ReasonCode(0x97);
    pub const ADMINISTRATIVE_ACTION: ReasonCode = ReasonCode(0x98);
    pub const PAYLOAD_FORMAT_INVALID: ReasonCode = ReasonCode(0x99);
    pub const RETAIN_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9a);
    pub const QOS_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9b);
    pub const USE_ANOTHER_SERVER: ReasonCode = ReasonCode(0x9c);
    pub const SERVER_MOVED: ReasonCode = ReasonCode(0x9d);
    pub const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9e);
    pub const CONNECTION_RATE_EXCEEDED: ReasonCode = ReasonCode(0x9f);
    pub const MAXIMUM_CONNECT_TIME: ReasonCode = ReasonCode(0xa0);
    pub const SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: ReasonCode = ReasonCode(0xa1);
    pub const WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: ReasonCode = ReasonCode(0xa2);

    /// MQTT 3.1.1 SUBACK's failure code.
    pub const V311_SUBACK_FAILURE: ReasonCode = ReasonCode(0x80);

    /// The MQTT 5.0 name, `None` for a value the table does not define. Where a value
    /// has several names (0x00) the general one is given; see [`ReasonCode::name_in`].
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "Success",
            0x01 => "Granted QoS 1",
            0x02 => "Granted QoS 2",
            0x04 => "Disconnect with Will Message",
            0x10 => "No matching subscribers",
            0x11 => "No subscription existed",
            0x18 => "Continue authentication",
            0x19 => "Re-authenticate",
            0x80 => "Unspecified error",
            0x81 => "Malformed Packet",
            0x82 => "Protocol Error",
            0x83 => "Implementation specific error",
            0x84 => "Unsupported Protocol Version",
            0x85 => "Client Identifier not valid",
            0x86 => "Bad User Name or Password",
            0x87 => "Not authorized",
            0x88 => "Server unavailable",
            0x89 => "Server busy",
            0x8a => "Banned",
            0x8b => "Server shutting down",
            0x8c => "Bad authentication method",
            0x8d => "Keep Alive timeout",
            0x8e => "Session taken over",
            0x8f => "Topic Filter invalid",
            0x90 => "Topic Name invalid",
            0x91 => "Packet Identifier in use",
            0x92 => "Packet Identifier not found",
            0x93 => "Receive Maximum exceeded",
            0x94 => "Topic Alias invalid",
            0x95 => "Packet too large",
            0x96 => "Message rate too high",
            0x97 => "Quota exceeded",
            0x98 => "Administrative action",
            0x99 => "Payload format invalid",
            0x9a => "Retain not supported",
            0x9b => "QoS not supported",
            0x9c => "Use another server",
            0x9d => "Server moved",
            0x9e => "Shared Subscriptions not supported",
            0x9f => "Connection rate exceeded",
            0xa0 => "Maximum connect time",
            0xa1 => "Subscription Identifiers not supported",
            0xa2 => "Wildcard Subscriptions not supported",
            _ => return None,
        })
    }

    /// The name this value has in a given packet of a given version (3.1.1's CONNACK
    /// return codes and SUBACK codes have names of their own).
    pub const fn name_in(self, packet: PacketType, version: Version) -> Option<&'static str> {
        match (version, packet, self.0) {
            (Version::V311, PacketType::ConnAck, code) => Some(match code {
                0 => "Connection Accepted",
                1 => "unacceptable protocol version",
                2 => "identifier rejected",
                3 => "Server unavailable",
                4 => "bad user name or password",
                5 => "not authorized",
                _ => return None,
            }),
            (Version::V311, PacketType::SubAck, code) => Some(match code {
                0 => "Success - Maximum QoS 0",
                1 => "Success - Maximum QoS 1",
                2 => "Success - Maximum QoS 2",
                0x80 => "Failure",
                _ => return None,
            }),
            (Version::V5, PacketType::Disconnect, 0) => Some("Normal disconnection"),
            (Version::V5, PacketType::SubAck, 0) => Some("Granted QoS 0"),
            _ => self.name(),
        }
    }

    /// 0x80 and above mean failure.
    pub const fn is_error(self) -> bool {
        self.0 >= 0x80
    }

    /// Whether the specification lets `packet` carry this value in `version`.
    pub fn allowed_in(self, packet: PacketType, version: Version) -> bool {
        let allowed: &[u8] = match (version, packet) {
            (Version::V311, PacketType::ConnAck) => &[0, 1, 2, 3, 4, 5],
            (Version::V311, PacketType::SubAck) => &[0, 1, 2, 0x80],
            (Version::V311, _) => &[0],
            (Version::V5, PacketType::ConnAck) => &[
                0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90,
                0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
            ],
            (Version::V5, PacketType::PubAck | PacketType::PubRec) => {
                &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
            }
            (Version::V5, PacketType::PubRel | PacketType::PubComp) => &[0x00, 0x92],
            (Version::V5, PacketType::SubAck) => &[
                0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
            ],
            (Version::V5, PacketType::UnsubAck) => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
            (Version::V5, PacketType::Disconnect) => &[
                0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93,
                0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1,
                0xa2,
            ],
            (Version::V5, PacketType::Auth) => &[0x00, 0x18, 0x19],
            (Version::V5, _) => &[],
        };
        allowed.contains(&self.0)
    }

    /// The rule a misplaced value in `packet` breaks.
    pub(crate) fn rule_for(packet: PacketType) -> Option<Rule> {
        Some(match packet {
            PacketType::ConnAck => Rule::ConnackReasonCode,
            PacketType::PubAck => Rule::PubackReasonCode,
            PacketType::PubRec => Rule::PubrecReasonCode,
            PacketType::PubRel => Rule::PubrelReasonCode,
            PacketType::PubComp => Rule::PubcompReasonCode,
            PacketType::SubAck => Rule::SubackReasonCode,
            PacketType::UnsubAck => Rule::UnsubackReasonCode,
            PacketType::Disconnect => Rule::DisconnectReasonCode,
            PacketType::Auth => Rule::AuthReasonCode,
            _ => return None,
        })
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "0x{:02x} ({name})", self.0),
            None => write!(f, "0x{:02x} (unknown)", self.0),
        }
    }
}

impl From<u8> for ReasonCode {
    fn from(v: u8) -> Self {
        ReasonCode(v)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_and_unknowns() {
        assert_eq!(
            ReasonCode::PACKET_TOO_LARGE.name(),
            Some("Packet too large")
        );
        assert_eq!(ReasonCode(0x42).name(), None);
        assert_eq!(ReasonCode(0x42).to_string(), "0x42 (unknown)");
        assert_eq!(
            ReasonCode(0).name_in(PacketType::Disconnect, Version::V5),
            Some("Normal disconnection")
        );
        assert_eq!(
            ReasonCode(1).name_in(PacketType::ConnAck, Version::V311),
            Some("unacceptable protocol version")
        );
    }

    #[test]
    fn placement() {
        assert!(ReasonCode::NO_MATCHING_SUBSCRIBERS.allowed_in(PacketType::PubAck, Version::V5));
        assert!(!ReasonCode::NO_MATCHING_SUBSCRIBERS.allowed_in(PacketType::PubRel, Version::V5));
        assert!(ReasonCode(5).allowed_in(PacketType::ConnAck, Version::V311));
        assert!(!ReasonCode(6).allowed_in(PacketType::ConnAck, Version::V311));
        assert!(!ReasonCode(0x03).allowed_in(PacketType::SubAck, Version::V311));
    }
}
