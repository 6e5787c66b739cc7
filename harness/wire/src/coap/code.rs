//! Message types and codes (RFC 7252 §3, §12.1).

use std::fmt;

/// The two-bit Type field: every value is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum MessageType {
    /// Confirmable: retransmitted until acknowledged.
    Con = 0,
    /// Non-confirmable.
    Non = 1,
    /// Acknowledgement.
    Ack = 2,
    /// Reset.
    Rst = 3,
}

impl MessageType {
    pub const fn from_bits(bits: u8) -> MessageType {
        match bits & 0b11 {
            0 => MessageType::Con,
            1 => MessageType::Non,
            2 => MessageType::Ack,
            _ => MessageType::Rst,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            MessageType::Con => "CON",
            MessageType::Non => "NON",
            MessageType::Ack => "ACK",
            MessageType::Rst => "RST",
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A code byte as sent: class in the top 3 bits, detail in the low 5 (`c.dd`).
///
/// Any byte is representable, reserved classes included, so a trace shows exactly
/// what a peer sent; [`Code::kind`] says what the byte means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Code(pub u8);

/// What a code byte is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeKind {
    /// 0.00
    Empty,
    /// 0.01–0.31; `Unknown(n)` for request codes no RFC assigns.
    Request(Method),
    /// Classes 2, 4 and 5.
    Response,
    /// Classes 1, 3, 6 and 7 (7.xx is signalling, which only reliable transports use).
    Reserved(u8),
}

/// Request methods: RFC 7252 §5.8 and RFC 8132 (FETCH, PATCH, iPATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Fetch,
    Patch,
    IPatch,
    /// A request code no RFC assigns (its detail, 8–31).
    Unknown(u8),
}

impl Code {
    pub const EMPTY: Code = Code(0x00);
    pub const GET: Code = Code(0x01);
    pub const POST: Code = Code(0x02);
    pub const PUT: Code = Code(0x03);
    pub const DELETE: Code = Code(0x04);
    pub const FETCH: Code = Code(0x05);
    pub const PATCH: Code = Code(0x06);
    pub const IPATCH: Code = Code(0x07);
    pub const CREATED: Code = Code::new(2, 1);
    pub const DELETED: Code = Code::new(2, 2);
    pub const VALID: Code = Code::new(2, 3);
    pub const CHANGED: Code = Code::new(2, 4);
    pub const CONTENT: Code = Code::new(2, 5);
    pub const CONTINUE: Code = Code::new(2, 31);
    pub const BAD_REQUEST: Code = Code::new(4, 0);
    pub const UNAUTHORIZED: Code = Code::new(4, 1);
    pub const BAD_OPTION: Code = Code::new(4, 2);
    pub const FORBIDDEN: Code = Code::new(4, 3);
    pub const NOT_FOUND: Code = Code::new(4, 4);
    pub const METHOD_NOT_ALLOWED: Code = Code::new(4, 5);
    pub const NOT_ACCEPTABLE: Code = Code::new(4, 6);
    pub const REQUEST_ENTITY_INCOMPLETE: Code = Code::new(4, 8);
    pub const PRECONDITION_FAILED: Code = Code::new(4, 12);
    pub const REQUEST_ENTITY_TOO_LARGE: Code = Code::new(4, 13);
    pub const UNSUPPORTED_CONTENT_FORMAT: Code = Code::new(4, 15);
    pub const INTERNAL_SERVER_ERROR: Code = Code::new(5, 0);
    pub const NOT_IMPLEMENTED: Code = Code::new(5, 1);
    pub const SERVICE_UNAVAILABLE: Code = Code::new(5, 3);

    /// `class.detail`; bits beyond 3 and 5 are cut off.
    pub const fn new(class: u8, detail: u8) -> Code {
        Code(((class & 0b111) << 5) | (detail & 0b1_1111))
    }

    pub const fn class(self) -> u8 {
        self.0 >> 5
    }

    pub const fn detail(self) -> u8 {
        self.0 & 0b1_1111
    }

    pub const fn kind(self) -> CodeKind {
        match (self.class(), self.detail()) {
            (0, 0) => CodeKind::Empty,
            (0, d) => CodeKind::Request(match d {
                1 => Method::Get,
                2 => Method::Post,
                3 => Method::Put,
                4 => Method::Delete,
                5 => Method::Fetch,
                6 => Method::Patch,
                7 => Method::IPatch,
                n => Method::Unknown(n),
            }),
            (2 | 4 | 5, _) => CodeKind::Response,
            (c, _) => CodeKind::Reserved(c),
        }
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn is_request(self) -> bool {
        matches!(self.kind(), CodeKind::Request(_))
    }

    pub const fn is_response(self) -> bool {
        matches!(self.kind(), CodeKind::Response)
    }

    /// The name a trace shows: `GET`, `2.05 Content`, `4.02 Bad Option`, `Empty`, or
    /// the bare `c.dd` for codes without a name.
    pub fn name(self) -> String {
        if let CodeKind::Request(m) = self.kind() {
            return match m {
                Method::Get => "GET".into(),
                Method::Post => "POST".into(),
                Method::Put => "PUT".into(),
                Method::Delete => "DELETE".into(),
                Method::Fetch => "FETCH".into(),
                Method::Patch => "PATCH".into(),
                Method::IPatch => "iPATCH".into(),
                Method::Unknown(_) => self.to_string(),
            };
        }
        match self.reason() {
            Some(r) => format!("{self} {r}"),
            None if self.is_empty() => "Empty".into(),
            None => self.to_string(),
        }
    }

    /// The response code's registered reason phrase (RFC 7252 §12.1.2, RFC 7959, RFC 8132).
    pub const fn reason(self) -> Option<&'static str> {
        Some(match (self.class(), self.detail()) {
            (2, 1) => "Created",
            (2, 2) => "Deleted",
            (2, 3) => "Valid",
            (2, 4) => "Changed",
            (2, 5) => "Content",
            (2, 31) => "Continue",
            (4, 0) => "Bad Request",
            (4, 1) => "Unauthorized",
            (4, 2) => "Bad Option",
            (4, 3) => "Forbidden",
            (4, 4) => "Not Found",
            (4, 5) => "Method Not Allowed",
            (4, 6) => "Not Acceptable",
            (4, 8) => "Request Entity Incomplete",
            (4, 9) => "Conflict",
            (4, 12) => "Precondition Failed",
            (4, 13) => "Request Entity Too Large",
            (4, 15) => "Unsupported Content-Format",
            (4, 22) => "Unprocessable Entity",
            (4, 29) => "Too Many Requests",
            (5, 0) => "Internal Server Error",
            (5, 1) => "Not Implemented",
            (5, 2) => "Bad Gateway",
            (5, 3) => "Service Unavailable",
            (5, 4) => "Gateway Timeout",
            (5, 5) => "Proxying Not Supported",
            _ => return None,
        })
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn classes_and_names() {
        assert_eq!(Code::CONTENT.0, 0x45);
        assert_eq!(Code::BAD_OPTION.0, 0x82);
        assert_eq!(Code::CONTENT.name(), "2.05 Content");
        assert_eq!(Code::GET.name(), "GET");
        assert_eq!(Code::EMPTY.name(), "Empty");
        assert_eq!(Code(0x20).kind(), CodeKind::Reserved(1));
        assert_eq!(Code(0xe1).kind(), CodeKind::Reserved(7));
        assert_eq!(Code(0x1f).kind(), CodeKind::Request(Method::Unknown(31)));
        assert_eq!(Code(0x1f).name(), "0.31");
        assert_eq!(Code::new(2, 9).name(), "2.09");
        assert_eq!(MessageType::from_bits(0xff), MessageType::Rst);
    }
}
