//! The normative statements the codec checks, by their id in each version's document.
//!
//! MQTT 3.1.1 and 5.0 number statements independently and reuse numbers with different
//! meanings, so every rule carries both ids. A rule with no numbered statement is cited by
//! its section (`§2.2.3`). Ids are spelled as the documents spell them, typos included:
//! 3.1.1's SUBSCRIBE reserved-bits statement really is `MQTT-3-8.3-4`.

use hilt_core::SpecRef;

use super::error::Version;

/// A rule a frame can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    Utf8IllFormed,
    Utf8Null,
    VarintNotMinimal,
    VarintTooLong,
    /// The content disagrees with the Remaining Length (fields overrun it, or bytes are
    /// left over).
    RemainingLength,
    PacketTypeReserved,
    ReservedFlags,
    PubrelFlags,
    SubscribeFlags,
    UnsubscribeFlags,
    DisconnectFlags,
    AuthFlags,
    PublishQos3,
    PublishDupQos0,
    PacketIdZero,
    AckPacketIdZero,
    ProtocolName,
    ProtocolLevel,
    ConnectReserved,
    WillQosWithoutWill,
    WillQos3,
    WillRetainWithoutWill,
    PasswordWithoutUsername,
    ConnackReservedFlags,
    ConnackSessionPresentOnError,
    TopicNameWildcard,
    TopicNameEmpty,
    TopicFilterEmpty,
    MultiLevelWildcardPlacement,
    SingleLevelWildcardPlacement,
    ResponseTopicWildcard,
    SubscribeNoFilters,
    SubscriptionOptionsReserved,
    SubscriptionQos3,
    RetainHandling3,
    SharedSubscriptionNoLocal,
    UnsubscribeNoFilters,
    PropertyLength,
    PropertyUnknown,
    PropertyNotAllowed,
    PropertyDuplicate,
    PayloadFormatIndicatorValue,
    ConnectReceiveMaximumZero,
    ConnackReceiveMaximumZero,
    ConnectMaximumPacketSizeZero,
    ConnackMaximumPacketSizeZero,
    RequestResponseInformationValue,
    RequestProblemInformationValue,
    MaximumQosValue,
    RetainAvailableValue,
    WildcardSubscriptionAvailableValue,
    SubscriptionIdentifierAvailableValue,
    SharedSubscriptionAvailableValue,
    TopicAliasZero,
    PublishSubscriptionIdentifierZero,
    SubscribeSubscriptionIdentifierZero,
    ConnackReasonCode,
    PubackReasonCode,
    PubrecReasonCode,
    PubrelReasonCode,
    PubcompReasonCode,
    SubackReasonCode,
    UnsubackReasonCode,
    DisconnectReasonCode,
    AuthReasonCode,
    /// Session Present on the CONNACK answering a Clean Start.
    SessionPresentAfterCleanStart,
    FirstPacketNotConnack,
    SecondConnack,
    /// An acknowledgement whose packet identifier matches nothing in flight.
    AckForUnknownPacketId,
    /// A packet only clients send, received from the server.
    ClientOnlyPacket,
    ReceiveMaximumExceeded,
    SubackCodeCount,
    UnsubackCodeCount,
    TopicAliasUnknown,
}

impl Rule {
    /// (MQTT 3.1.1 id, MQTT 5.0 id). Rules that exist in only one version repeat the id.
    pub const fn ids(self) -> (&'static str, &'static str) {
        use Rule::*;
        match self {
            Utf8IllFormed => ("MQTT-1.5.3-1", "MQTT-1.5.4-1"),
            Utf8Null => ("MQTT-1.5.3-2", "MQTT-1.5.4-2"),
            VarintNotMinimal => ("§2.2.3", "MQTT-1.5.5-1"),
            VarintTooLong => ("§2.2.3", "§1.5.5"),
            RemainingLength => ("§2.2.3", "§2.1.4"),
            PacketTypeReserved => ("§2.2.1", "§2.1.2"),
            ReservedFlags => ("MQTT-2.2.2-1", "MQTT-2.1.3-1"),
            PubrelFlags => ("MQTT-3.6.1-1", "MQTT-3.6.1-1"),
            SubscribeFlags => ("MQTT-3.8.1-1", "MQTT-3.8.1-1"),
            UnsubscribeFlags => ("MQTT-3.10.1-1", "MQTT-3.10.1-1"),
            DisconnectFlags => ("MQTT-3.14.1-1", "MQTT-3.14.1-1"),
            AuthFlags => ("§2.2.1", "MQTT-3.15.1-1"),
            PublishQos3 => ("MQTT-3.3.1-4", "MQTT-3.3.1-4"),
            PublishDupQos0 => ("MQTT-3.3.1-2", "MQTT-3.3.1-2"),
            PacketIdZero => ("MQTT-2.3.1-1", "MQTT-2.2.1-3"),
            AckPacketIdZero => ("§2.3.1", "§2.2.1"),
            ProtocolName => ("MQTT-3.1.2-1", "MQTT-3.1.2-1"),
            ProtocolLevel => ("MQTT-3.1.2-2", "MQTT-3.1.2-2"),
            ConnectReserved => ("MQTT-3.1.2-3", "MQTT-3.1.2-3"),
            WillQosWithoutWill => ("MQTT-3.1.2-13", "MQTT-3.1.2-11"),
            WillQos3 => ("MQTT-3.1.2-14", "MQTT-3.1.2-12"),
            WillRetainWithoutWill => ("MQTT-3.1.2-15", "MQTT-3.1.2-13"),
            PasswordWithoutUsername => ("MQTT-3.1.2-22", "MQTT-3.1.2-22"),
            ConnackReservedFlags => ("§3.2.2.1", "MQTT-3.2.2-1"),
            ConnackSessionPresentOnError => ("MQTT-3.2.2-4", "MQTT-3.2.2-6"),
            TopicNameWildcard => ("MQTT-3.3.2-2", "MQTT-3.3.2-2"),
            TopicNameEmpty => ("MQTT-4.7.3-1", "§3.3.2.3.4"),
            TopicFilterEmpty => ("MQTT-4.7.3-1", "MQTT-4.7.3-1"),
            MultiLevelWildcardPlacement => ("MQTT-4.7.1-2", "MQTT-4.7.1-1"),
            SingleLevelWildcardPlacement => ("MQTT-4.7.1-3", "MQTT-4.7.1-2"),
            ResponseTopicWildcard => ("MQTT-3.3.2-14", "MQTT-3.3.2-14"),
            SubscribeNoFilters => ("MQTT-3.8.3-3", "MQTT-3.8.3-2"),
            SubscriptionOptionsReserved => ("MQTT-3-8.3-4", "MQTT-3.8.3-5"),
            SubscriptionQos3 => ("MQTT-3-8.3-4", "§3.8.3.1"),
            RetainHandling3 => ("§3.8.3.1", "§3.8.3.1"),
            SharedSubscriptionNoLocal => ("MQTT-3.8.3-4", "MQTT-3.8.3-4"),
            UnsubscribeNoFilters => ("MQTT-3.10.3-2", "MQTT-3.10.3-2"),
            PropertyLength => ("§2.2.2.1", "§2.2.2.1"),
            PropertyUnknown => ("§2.2.2.2", "§2.2.2.2"),
            PropertyNotAllowed => ("§2.2.2.2", "§2.2.2.2"),
            PropertyDuplicate => ("§2.2.2.2", "§2.2.2.2"),
            PayloadFormatIndicatorValue => ("§3.3.2.3.2", "§3.3.2.3.2"),
            ConnectReceiveMaximumZero => ("§3.1.2.11.3", "§3.1.2.11.3"),
            ConnackReceiveMaximumZero => ("§3.2.2.3.3", "§3.2.2.3.3"),
            ConnectMaximumPacketSizeZero => ("§3.1.2.11.4", "§3.1.2.11.4"),
            ConnackMaximumPacketSizeZero => ("§3.2.2.3.6", "§3.2.2.3.6"),
            RequestResponseInformationValue => ("§3.1.2.11.6", "§3.1.2.11.6"),
            RequestProblemInformationValue => ("§3.1.2.11.7", "§3.1.2.11.7"),
            MaximumQosValue => ("§3.2.2.3.4", "§3.2.2.3.4"),
            RetainAvailableValue => ("§3.2.2.3.5", "§3.2.2.3.5"),
            WildcardSubscriptionAvailableValue => ("§3.2.2.3.11", "§3.2.2.3.11"),
            SubscriptionIdentifierAvailableValue => ("§3.2.2.3.12", "§3.2.2.3.12"),
            SharedSubscriptionAvailableValue => ("§3.2.2.3.13", "§3.2.2.3.13"),
            TopicAliasZero => ("MQTT-3.3.2-8", "MQTT-3.3.2-8"),
            PublishSubscriptionIdentifierZero => ("§3.3.2.3.8", "§3.3.2.3.8"),
            SubscribeSubscriptionIdentifierZero => ("§3.8.2.1.2", "§3.8.2.1.2"),
            ConnackReasonCode => ("§3.2.2.3", "MQTT-3.2.2-8"),
            PubackReasonCode => ("§3.4", "MQTT-3.4.2-1"),
            PubrecReasonCode => ("§3.5", "MQTT-3.5.2-1"),
            PubrelReasonCode => ("§3.6", "MQTT-3.6.2-1"),
            PubcompReasonCode => ("§3.7", "MQTT-3.7.2-1"),
            SubackReasonCode => ("MQTT-3.9.3-2", "MQTT-3.9.3-2"),
            UnsubackReasonCode => ("§3.11", "MQTT-3.11.3-2"),
            DisconnectReasonCode => ("§3.14", "MQTT-3.14.2-1"),
            AuthReasonCode => ("§2.2.1", "MQTT-3.15.2-1"),
            SessionPresentAfterCleanStart => ("MQTT-3.2.2-1", "MQTT-3.2.2-2"),
            FirstPacketNotConnack => ("MQTT-3.2.0-1", "MQTT-3.2.0-1"),
            SecondConnack => ("§3.2", "MQTT-3.2.0-2"),
            AckForUnknownPacketId => ("MQTT-2.3.1-6", "MQTT-2.2.1-5"),
            ClientOnlyPacket => ("§2.2.1", "§2.1.2"),
            ReceiveMaximumExceeded => ("§3.3.4", "MQTT-3.3.4-9"),
            SubackCodeCount => ("MQTT-3.8.4-5", "MQTT-3.8.4-6"),
            UnsubackCodeCount => ("§3.11.3", "MQTT-3.11.3-1"),
            TopicAliasUnknown => ("§3.3.2.3.4", "§3.3.2.3.4"),
        }
    }

    /// The statement in the document of `version`.
    pub const fn spec_ref(self, version: Version) -> SpecRef {
        let (v311, v5) = self.ids();
        match version {
            Version::V311 => SpecRef::new("mqtt-v3.1.1", v311),
            Version::V5 => SpecRef::new("mqtt-v5", v5),
        }
    }
}
