//! The requirements the codec checks, by hilt's own ids (RFC 7252 has no numbered
//! statements). Ids are `RFC<number>-<section>-<what>`; each is listed with its section,
//! level and a summary in `suites/spec/coap-*.yaml`.

use hilt_core::SpecRef;

/// The manifest of RFC 7252 (the base protocol).
pub const RFC7252: &str = "coap-rfc7252";
/// The manifest of RFC 7641 (Observe).
pub const RFC7641: &str = "coap-rfc7641";
/// The manifest of RFC 7959 (block-wise transfers).
pub const RFC7959: &str = "coap-rfc7959";

/// A rule a datagram can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Fewer than the 4 bytes of the fixed header, or a token cut short.
    Truncated,
    /// Version is not 1.
    Version,
    /// Token Length 9 to 15.
    TokenLength,
    /// Option delta nibble 15 outside the payload marker.
    OptionDelta15,
    /// Option length nibble 15.
    OptionLength15,
    /// An option header or value runs past the end of the datagram.
    OptionTruncated,
    /// Option numbers summed past 65535.
    OptionNumberOverflow,
    /// A payload marker with no payload after it.
    EmptyPayloadAfterMarker,
    /// An Empty message (0.00) with a token, options or payload.
    EmptyMessageNotEmpty,
    /// A code in class 1, 3, 6 or 7.
    ReservedClass,
    /// A request code (0.xx) in an ACK or RST, or a response in neither CON, NON nor ACK.
    TypeCodeMismatch,
    /// A RST that is not Empty.
    ResetNotEmpty,
    /// An option value shorter or longer than its definition allows.
    OptionLength,
    /// A non-repeatable option given twice.
    OptionRepeated,
    /// A uint option value with leading zero bytes.
    UintNotMinimal,
    /// An unrecognised critical option (judged by the receiver).
    UnknownCritical,
    /// Observe value above 2^24 - 1.
    ObserveRange,
    /// Block option SZX 7 (reserved in RFC 7959).
    BlockSzx7,
    /// Block option value longer than 3 bytes, or a NUM beyond its size.
    BlockValue,
}

impl Rule {
    /// Every rule, so a check can find each id in its manifest.
    pub const ALL: [Rule; 19] = {
        use Rule::*;
        [
            Truncated,
            Version,
            TokenLength,
            OptionDelta15,
            OptionLength15,
            OptionTruncated,
            OptionNumberOverflow,
            EmptyPayloadAfterMarker,
            EmptyMessageNotEmpty,
            ReservedClass,
            TypeCodeMismatch,
            ResetNotEmpty,
            OptionLength,
            OptionRepeated,
            UintNotMinimal,
            UnknownCritical,
            ObserveRange,
            BlockSzx7,
            BlockValue,
        ]
    };

    pub const fn spec_ref(self) -> SpecRef {
        use Rule::*;
        match self {
            Truncated => SpecRef::new(RFC7252, "RFC7252-3-truncated"),
            Version => SpecRef::new(RFC7252, "RFC7252-3-ver"),
            TokenLength => SpecRef::new(RFC7252, "RFC7252-3-tkl"),
            OptionDelta15 => SpecRef::new(RFC7252, "RFC7252-3.1-delta15"),
            OptionLength15 => SpecRef::new(RFC7252, "RFC7252-3.1-length15"),
            OptionTruncated => SpecRef::new(RFC7252, "RFC7252-3.1-truncated"),
            OptionNumberOverflow => SpecRef::new(RFC7252, "RFC7252-3.1-number"),
            EmptyPayloadAfterMarker => SpecRef::new(RFC7252, "RFC7252-3-marker"),
            EmptyMessageNotEmpty => SpecRef::new(RFC7252, "RFC7252-4.1-empty"),
            ReservedClass => SpecRef::new(RFC7252, "RFC7252-4.2-reserved-class"),
            TypeCodeMismatch => SpecRef::new(RFC7252, "RFC7252-4-type-code"),
            ResetNotEmpty => SpecRef::new(RFC7252, "RFC7252-4.2-rst-empty"),
            OptionLength => SpecRef::new(RFC7252, "RFC7252-5.4.3-length"),
            OptionRepeated => SpecRef::new(RFC7252, "RFC7252-5.4.5-repeat"),
            UintNotMinimal => SpecRef::new(RFC7252, "RFC7252-3.2-uint"),
            UnknownCritical => SpecRef::new(RFC7252, "RFC7252-5.4.1-critical"),
            ObserveRange => SpecRef::new(RFC7641, "RFC7641-2-value"),
            BlockSzx7 => SpecRef::new(RFC7959, "RFC7959-2.2-szx"),
            BlockValue => SpecRef::new(RFC7959, "RFC7959-2.2-value"),
        }
    }
}
