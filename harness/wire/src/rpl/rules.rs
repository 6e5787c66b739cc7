//! The rules the RPL codecs check, by hilt's own statement ids.
//!
//! RFC 6550 and its companions number no statements, so hilt names them by RFC and
//! section (`RFC6550-6.7.6-2`); `suites/spec/rpl-rfc6550.yaml` lists every id used here,
//! with a summary. One manifest covers the whole RPL family (RFC 6550, 6551, 6553, 6554)
//! and the IPv6/ICMPv6 framing under it (RFC 8200, RFC 4443), since a DODAG test judges
//! all of them on the same packets.

use hilt_core::SpecRef;

/// The manifest the ids below belong to.
pub const DOC: &str = "rpl-rfc6550";

/// A rule an RPL packet can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The IPv6 fixed header is shorter than 40 octets.
    Ipv6Truncated,
    /// The IPv6 Version field is not 6.
    Ipv6Version,
    /// Payload Length claims more octets than the packet holds.
    Ipv6PayloadLength,
    /// An extension header runs past the end of the payload.
    ExtensionHeaderLength,
    /// A Hop-by-Hop Options header anywhere but right after the IPv6 header.
    HopByHopNotFirst,
    /// A Hop-by-Hop/Destination option runs past its header.
    ExtensionOptionLength,
    /// An unrecognised option whose action bits say "discard the packet".
    ExtensionOptionUnknownDiscard,
    /// Fewer than the four octets of the ICMPv6 header.
    Icmpv6Truncated,
    /// The ICMPv6 checksum does not match the pseudo-header and message.
    Icmpv6Checksum,
    /// An ICMPv6 message handed to the RPL codec whose type is not 155.
    NotRplControl,
    /// The Security section of a secure message is cut short.
    SecurityTruncated,
    DisTruncated,
    DioTruncated,
    /// Shorter than the DAO base, which is 20 octets when the D flag announces a DODAGID.
    DaoTruncated,
    DaoAckTruncated,
    ConsistencyCheckTruncated,
    /// An option's Length runs past the end of the message.
    OptionLength,
    /// PadN longer than seven octets in all.
    PadNTooLong,
    /// A metric object (RFC 6551 §2.1) runs past the DAG Metric Container.
    MetricObjectLength,
    /// Route Information: the Prefix Length exceeds 128 or the option cannot hold it.
    RouteInformationPrefix,
    DodagConfigurationLength,
    /// MinHopRankIncrease of zero: DAGRank() would divide by zero.
    MinHopRankIncreaseZero,
    /// RPL Target: the Prefix Length exceeds 128 or the option cannot hold it.
    TargetPrefix,
    /// RPL Target with a Prefix Length of zero: it names no destination.
    TargetEmpty,
    TransitInformationLength,
    SolicitedInformationLength,
    PrefixInformationLength,
    PrefixInformationPrefixLength,
    TargetDescriptorLength,
    /// RFC 6553: the RPL Option's data is not four octets.
    RplOptionLength,
    /// RFC 6554: Hdr Ext Len, CmprI, CmprE and Pad describe no whole number of addresses.
    SourceRouteLength,
    /// RFC 6554: Segments Left exceeds the number of addresses.
    SourceRouteSegmentsLeft,
    // Behaviour, judged by the node and root state machines on what peers do.
    /// A DIO advertises a Rank below ROOT_RANK (DAGRank 0): nothing ranks below a root.
    RankBelowRoot,
    /// A node advertises a Rank above L + DAGMaxRankIncrease, L being the lowest Rank it
    /// advertised in this DODAG Version.
    MaxRankIncrease,
    /// A Non-Storing mode DAO whose Transit Information carries no Parent Address.
    NonStoringTransitParent,
    /// A packet whose RPL Option shows a Rank error (Up from a sender not below the
    /// receiver, or Down from one not above it) a second time: a loop.
    RankError,
    /// RFC 6554: a Source Routing Header lists this router twice, separated by another
    /// address: a loop.
    SourceRouteLoop,
}

impl Rule {
    /// hilt's statement id.
    pub const fn id(self) -> &'static str {
        use Rule::*;
        match self {
            Ipv6Truncated => "RFC8200-3-1",
            Ipv6Version => "RFC8200-3-2",
            Ipv6PayloadLength => "RFC8200-3-3",
            ExtensionHeaderLength => "RFC8200-4-1",
            HopByHopNotFirst => "RFC8200-4.1-1",
            ExtensionOptionLength => "RFC8200-4.2-1",
            ExtensionOptionUnknownDiscard => "RFC8200-4.2-2",
            Icmpv6Truncated => "RFC4443-2.1-1",
            Icmpv6Checksum => "RFC4443-2.3-1",
            NotRplControl => "RFC6550-6-1",
            SecurityTruncated => "RFC6550-6.1-1",
            DisTruncated => "RFC6550-6.2.1-1",
            DioTruncated => "RFC6550-6.3.1-1",
            DaoTruncated => "RFC6550-6.4.1-1",
            DaoAckTruncated => "RFC6550-6.5.1-1",
            ConsistencyCheckTruncated => "RFC6550-6.6.1-1",
            OptionLength => "RFC6550-6.7.1-1",
            PadNTooLong => "RFC6550-6.7.3-1",
            MetricObjectLength => "RFC6551-2.1-1",
            RouteInformationPrefix => "RFC6550-6.7.5-1",
            DodagConfigurationLength => "RFC6550-6.7.6-1",
            MinHopRankIncreaseZero => "RFC6550-6.7.6-2",
            TargetPrefix => "RFC6550-6.7.7-1",
            TargetEmpty => "RFC6550-6.7.7-2",
            TransitInformationLength => "RFC6550-6.7.8-1",
            SolicitedInformationLength => "RFC6550-6.7.9-1",
            PrefixInformationLength => "RFC6550-6.7.10-1",
            PrefixInformationPrefixLength => "RFC6550-6.7.10-2",
            TargetDescriptorLength => "RFC6550-6.7.11-1",
            RplOptionLength => "RFC6553-3-1",
            SourceRouteLength => "RFC6554-3-1",
            SourceRouteSegmentsLeft => "RFC6554-3-2",
            RankBelowRoot => "RFC6550-8.2.2.2-1",
            MaxRankIncrease => "RFC6550-8.2.2.4-1",
            NonStoringTransitParent => "RFC6550-9.7-1",
            RankError => "RFC6550-11.2.2.2-1",
            SourceRouteLoop => "RFC6554-4.2-1",
        }
    }

    pub const fn spec_ref(self) -> SpecRef {
        SpecRef::new(DOC, self.id())
    }

    /// Every rule, for the manifest cross-check.
    pub const ALL: &'static [Rule] = {
        use Rule::*;
        &[
            Ipv6Truncated,
            Ipv6Version,
            Ipv6PayloadLength,
            ExtensionHeaderLength,
            HopByHopNotFirst,
            ExtensionOptionLength,
            ExtensionOptionUnknownDiscard,
            Icmpv6Truncated,
            Icmpv6Checksum,
            NotRplControl,
            SecurityTruncated,
            DisTruncated,
            DioTruncated,
            DaoTruncated,
            DaoAckTruncated,
            ConsistencyCheckTruncated,
            OptionLength,
            PadNTooLong,
            MetricObjectLength,
            RouteInformationPrefix,
            DodagConfigurationLength,
            MinHopRankIncreaseZero,
            TargetPrefix,
            TargetEmpty,
            TransitInformationLength,
            SolicitedInformationLength,
            PrefixInformationLength,
            PrefixInformationPrefixLength,
            TargetDescriptorLength,
            RplOptionLength,
            SourceRouteLength,
            SourceRouteSegmentsLeft,
            RankBelowRoot,
            MaxRankIncrease,
            NonStoringTransitParent,
            RankError,
            SourceRouteLoop,
        ]
    };
}
