//! The rules the codec checks, by hilt's own ids (the STOMP 1.2 specification numbers
//! none of its statements). Ids are `STOMP-1.2-<section>-<n>`, the section named by a
//! slug of its heading; each is listed with its section, level and a summary in
//! `suites/spec/stomp-1.2.yaml`.

use hilt_core::SpecRef;

/// The manifest of STOMP 1.2.
pub const STOMP12: &str = "stomp-1.2";

/// A statement of STOMP 1.2, by hilt's id.
pub const fn spec(id: &'static str) -> SpecRef {
    SpecRef::new(STOMP12, id)
}

/// A rule a frame can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// A command or header that is not UTF-8.
    Utf8,
    /// A backslash followed by anything but `r`, `n`, `c` or `\` (or by nothing).
    UndefinedEscape,
    /// A header line without a colon, or with an empty name.
    HeaderSyntax,
    /// A raw colon or carriage return inside a header value of an escaped frame.
    HeaderValueOctet,
    /// A command line not ended by an EOL, or the NUL reached before the blank line
    /// that ends the headers.
    HeadersNotEnded,
    /// A command that is neither a client nor a server command.
    UnknownCommand,
    /// A content-length that is not a decimal octet count.
    ContentLengthValue,
    /// The octet after content-length octets of body is not the NUL.
    ContentLengthNotNul,
    /// A body on a frame other than SEND, MESSAGE and ERROR.
    BodyNotAllowed,
    /// A heart-beat header that is not two integers separated by a comma.
    HeartBeatFormat,
    SendDestination,
    SubscribeDestination,
    SubscribeId,
    UnsubscribeId,
    AckId,
    NackId,
    BeginTransaction,
    CommitTransaction,
    AbortTransaction,
    /// CONNECT or STOMP of version 1.1 or later without host.
    ConnectHost,
    ConnectedVersion,
    MessageDestination,
    MessageId,
    MessageSubscription,
    ReceiptId,
}

impl Rule {
    /// Every rule, so a check can find each id in its manifest.
    pub const ALL: [Rule; 25] = {
        use Rule::*;
        [
            Utf8,
            UndefinedEscape,
            HeaderSyntax,
            HeaderValueOctet,
            HeadersNotEnded,
            UnknownCommand,
            ContentLengthValue,
            ContentLengthNotNul,
            BodyNotAllowed,
            HeartBeatFormat,
            SendDestination,
            SubscribeDestination,
            SubscribeId,
            UnsubscribeId,
            AckId,
            NackId,
            BeginTransaction,
            CommitTransaction,
            AbortTransaction,
            ConnectHost,
            ConnectedVersion,
            MessageDestination,
            MessageId,
            MessageSubscription,
            ReceiptId,
        ]
    };

    pub const fn spec_ref(self) -> SpecRef {
        use Rule::*;
        spec(match self {
            Utf8 => "STOMP-1.2-value-encoding-1",
            UndefinedEscape => "STOMP-1.2-value-encoding-3",
            HeaderSyntax => "STOMP-1.2-bnf-2",
            HeaderValueOctet => "STOMP-1.2-bnf-3",
            HeadersNotEnded => "STOMP-1.2-bnf-5",
            UnknownCommand => "STOMP-1.2-bnf-4",
            ContentLengthValue => "STOMP-1.2-content-length-1",
            ContentLengthNotNul => "STOMP-1.2-content-length-1",
            BodyNotAllowed => "STOMP-1.2-body-1",
            HeartBeatFormat => "STOMP-1.2-heart-beating-1",
            SendDestination => "STOMP-1.2-send-1",
            SubscribeDestination => "STOMP-1.2-subscribe-3",
            SubscribeId => "STOMP-1.2-subscribe-id-1",
            UnsubscribeId => "STOMP-1.2-unsubscribe-1",
            AckId => "STOMP-1.2-ack-1",
            NackId => "STOMP-1.2-nack-1",
            BeginTransaction => "STOMP-1.2-begin-1",
            CommitTransaction => "STOMP-1.2-commit-1",
            AbortTransaction => "STOMP-1.2-abort-1",
            ConnectHost => "STOMP-1.2-connect-3",
            ConnectedVersion => "STOMP-1.2-connected-1",
            MessageDestination => "STOMP-1.2-message-1",
            MessageId => "STOMP-1.2-message-3",
            MessageSubscription => "STOMP-1.2-message-4",
            ReceiptId => "STOMP-1.2-receipt-1",
        })
    }
}
