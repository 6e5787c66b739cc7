//! Options: numbers, their registered formats and lengths, uint values, and the
//! Block1/Block2 (RFC 7959) and Observe (RFC 7641) values.

use std::fmt;

/// An option number. Registered numbers have names; any other decodes to `Unknown(n)`
/// so a test can judge what the peer did with it.
///
/// Equality, ordering and hashing go by the number, so `Unknown(11)` written by hand
/// equals `UriPath`.
#[derive(Debug, Clone, Copy)]
pub enum OptionNumber {
    IfMatch,
    UriHost,
    ETag,
    IfNoneMatch,
    Observe,
    UriPort,
    LocationPath,
    UriPath,
    ContentFormat,
    MaxAge,
    UriQuery,
    Accept,
    LocationQuery,
    Block2,
    Block1,
    Size2,
    ProxyUri,
    ProxyScheme,
    Size1,
    NoResponse,
    RequestTag,
    Unknown(u16),
}

/// How an option's value is encoded (RFC 7252 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueFormat {
    Empty,
    Opaque,
    Uint,
    String,
}

/// What a registry entry says about an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptionDef {
    pub name: &'static str,
    pub format: ValueFormat,
    pub min_len: usize,
    pub max_len: usize,
    pub repeatable: bool,
}

impl OptionNumber {
    /// Every registered option hilt knows, in number order.
    pub const REGISTERED: [OptionNumber; 21] = {
        use OptionNumber::*;
        [
            IfMatch,
            UriHost,
            ETag,
            IfNoneMatch,
            Observe,
            UriPort,
            LocationPath,
            UriPath,
            ContentFormat,
            MaxAge,
            UriQuery,
            Accept,
            LocationQuery,
            Block2,
            Block1,
            Size2,
            ProxyUri,
            ProxyScheme,
            Size1,
            NoResponse,
            RequestTag,
        ]
    };

    pub const fn from_u16(n: u16) -> OptionNumber {
        use OptionNumber::*;
        match n {
            1 => IfMatch,
            3 => UriHost,
            4 => ETag,
            5 => IfNoneMatch,
            6 => Observe,
            7 => UriPort,
            8 => LocationPath,
            11 => UriPath,
            12 => ContentFormat,
            14 => MaxAge,
            15 => UriQuery,
            17 => Accept,
            20 => LocationQuery,
            23 => Block2,
            27 => Block1,
            28 => Size2,
            35 => ProxyUri,
            39 => ProxyScheme,
            60 => Size1,
            258 => NoResponse,
            292 => RequestTag,
            n => Unknown(n),
        }
    }

    pub const fn number(self) -> u16 {
        use OptionNumber::*;
        match self {
            IfMatch => 1,
            UriHost => 3,
            ETag => 4,
            IfNoneMatch => 5,
            Observe => 6,
            UriPort => 7,
            LocationPath => 8,
            UriPath => 11,
            ContentFormat => 12,
            MaxAge => 14,
            UriQuery => 15,
            Accept => 17,
            LocationQuery => 20,
            Block2 => 23,
            Block1 => 27,
            Size2 => 28,
            ProxyUri => 35,
            ProxyScheme => 39,
            Size1 => 60,
            NoResponse => 258,
            RequestTag => 292,
            Unknown(n) => n,
        }
    }

    /// Odd numbers are critical: a receiver that does not know one must reject the
    /// message (RFC 7252 §5.4.1).
    pub const fn is_critical(self) -> bool {
        self.number() & 1 == 1
    }

    /// Proxies that do not know an unsafe option must not forward it (§5.4.2).
    pub const fn is_unsafe(self) -> bool {
        self.number() & 2 == 2
    }

    /// Not part of the cache key (§5.4.2: bits 0b11100 of the number all set).
    pub const fn is_no_cache_key(self) -> bool {
        self.number() & 0x1e == 0x1c
    }

    /// The registry entry (RFC 7252 §5.10, RFC 7641 §2, RFC 7959 §2.1 and §4, RFC 7967,
    /// RFC 9175); `None` for unregistered numbers.
    pub const fn def(self) -> Option<OptionDef> {
        use OptionNumber::*;
        use ValueFormat as F;
        let (name, format, min_len, max_len, repeatable) = match self {
            IfMatch => ("If-Match", F::Opaque, 0, 8, true),
            UriHost => ("Uri-Host", F::String, 1, 255, false),
            ETag => ("ETag", F::Opaque, 1, 8, true),
            IfNoneMatch => ("If-None-Match", F::Empty, 0, 0, false),
            Observe => ("Observe", F::Uint, 0, 3, false),
            UriPort => ("Uri-Port", F::Uint, 0, 2, false),
            LocationPath => ("Location-Path", F::String, 0, 255, true),
            UriPath => ("Uri-Path", F::String, 0, 255, true),
            ContentFormat => ("Content-Format", F::Uint, 0, 2, false),
            MaxAge => ("Max-Age", F::Uint, 0, 4, false),
            UriQuery => ("Uri-Query", F::String, 0, 255, true),
            Accept => ("Accept", F::Uint, 0, 2, false),
            LocationQuery => ("Location-Query", F::String, 0, 255, true),
            Block2 => ("Block2", F::Uint, 0, 3, false),
            Block1 => ("Block1", F::Uint, 0, 3, false),
            Size2 => ("Size2", F::Uint, 0, 4, false),
            ProxyUri => ("Proxy-Uri", F::String, 1, 1034, false),
            ProxyScheme => ("Proxy-Scheme", F::String, 1, 255, false),
            Size1 => ("Size1", F::Uint, 0, 4, false),
            NoResponse => ("No-Response", F::Uint, 0, 1, false),
            RequestTag => ("Request-Tag", F::Opaque, 0, 8, true),
            Unknown(_) => return None,
        };
        Some(OptionDef {
            name,
            format,
            min_len,
            max_len,
            repeatable,
        })
    }

    pub fn name(self) -> String {
        match self.def() {
            Some(d) => d.name.to_owned(),
            None => format!("Option{}", self.number()),
        }
    }
}

impl PartialEq for OptionNumber {
    fn eq(&self, other: &Self) -> bool {
        self.number() == other.number()
    }
}

impl Eq for OptionNumber {}

impl std::hash::Hash for OptionNumber {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.number().hash(state);
    }
}

impl PartialOrd for OptionNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OptionNumber {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.number().cmp(&other.number())
    }
}

impl From<u16> for OptionNumber {
    fn from(n: u16) -> Self {
        OptionNumber::from_u16(n)
    }
}

impl fmt::Display for OptionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One option as carried: its number and its value bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoapOption {
    pub number: OptionNumber,
    pub value: Vec<u8>,
}

impl CoapOption {
    pub fn new(number: OptionNumber, value: impl Into<Vec<u8>>) -> Self {
        CoapOption {
            number,
            value: value.into(),
        }
    }

    /// A uint option in its shortest encoding.
    pub fn uint(number: OptionNumber, value: u32) -> Self {
        CoapOption {
            number,
            value: encode_uint(value),
        }
    }

    /// The value as a uint, `None` when longer than 4 bytes.
    pub fn as_uint(&self) -> Option<u32> {
        decode_uint(&self.value)
    }
}

/// A uint in the fewest bytes (zero is the empty string), RFC 7252 §3.2.
pub fn encode_uint(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

/// A uint of up to 4 bytes; leading zero bytes are accepted (a receiver must).
pub fn decode_uint(value: &[u8]) -> Option<u32> {
    if value.len() > 4 {
        return None;
    }
    Some(value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// A Block1 or Block2 value (RFC 7959 §2.2): block number, more flag, size exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Block {
    /// Block number, at most 2^20 - 1.
    pub num: u32,
    pub more: bool,
    /// Size exponent: the block size is 2^(szx + 4). 7 is reserved.
    pub szx: u8,
}

impl Block {
    /// The largest NUM a 3-byte value can carry.
    pub const MAX_NUM: u32 = (1 << 20) - 1;

    pub fn new(num: u32, more: bool, size: usize) -> Option<Block> {
        let szx = match size {
            16 => 0,
            32 => 1,
            64 => 2,
            128 => 3,
            256 => 4,
            512 => 5,
            1024 => 6,
            _ => return None,
        };
        (num <= Self::MAX_NUM).then_some(Block { num, more, szx })
    }

    /// Decodes a value of 0 to 3 bytes; `None` when longer.
    pub fn from_value(value: &[u8]) -> Option<Block> {
        if value.len() > 3 {
            return None;
        }
        let v = decode_uint(value)?;
        Some(Block {
            num: v >> 4,
            more: v & 0x8 != 0,
            szx: (v & 0x7) as u8,
        })
    }

    pub fn to_value(self) -> Vec<u8> {
        let v = (self.num.min(Self::MAX_NUM) << 4)
            | (u32::from(self.more) << 3)
            | u32::from(self.szx & 7);
        encode_uint(v)
    }

    /// Block size in bytes; SZX 7 (reserved) reads as 2048, as BERT would.
    pub fn size(self) -> usize {
        1usize << (usize::from(self.szx.min(7)) + 4)
    }

    /// Offset of this block's first byte in the body.
    pub fn offset(self) -> usize {
        (self.num as usize).saturating_mul(self.size())
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.num, u8::from(self.more), self.size())
    }
}

/// Observe option values (RFC 7641).
pub mod observe {
    use std::time::Duration;

    /// In a GET: add the client to the observers.
    pub const REGISTER: u32 = 0;
    /// In a GET: remove it.
    pub const DEREGISTER: u32 = 1;
    /// The largest value a notification carries: sequence numbers are 24 bits.
    pub const MAX: u32 = (1 << 24) - 1;

    /// Whether a notification with sequence `v2` received `elapsed` after one with
    /// `v1` is the newer of the two (RFC 7641 §3.4): a forward step of less than 2^23
    /// in the 24-bit space, or more than 128 s later.
    pub fn is_fresher(v1: u32, v2: u32, elapsed: Duration) -> bool {
        const HALF: u32 = 1 << 23;
        let (v1, v2) = (v1 & MAX, v2 & MAX);
        (v1 < v2 && v2 - v1 < HALF)
            || (v1 > v2 && v1 - v2 > HALF)
            || elapsed > Duration::from_secs(128)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::time::Duration;

    #[test]
    fn registry_round_trips() {
        for o in OptionNumber::REGISTERED {
            assert_eq!(OptionNumber::from_u16(o.number()), o);
            assert!(o.def().is_some());
        }
        assert_eq!(OptionNumber::from_u16(9), OptionNumber::Unknown(9));
        assert_eq!(OptionNumber::Unknown(9).name(), "Option9");
        assert!(OptionNumber::UriPath.is_critical());
        assert!(!OptionNumber::ContentFormat.is_critical());
        assert!(OptionNumber::ProxyUri.is_unsafe());
        assert!(OptionNumber::Size1.is_no_cache_key());
        assert!(!OptionNumber::UriPath.is_no_cache_key());
    }

    #[test]
    fn uints() {
        assert_eq!(encode_uint(0), Vec::<u8>::new());
        assert_eq!(encode_uint(0x1234), [0x12, 0x34]);
        assert_eq!(encode_uint(u32::MAX), [0xff; 4]);
        assert_eq!(decode_uint(&[0, 1]), Some(1));
        assert_eq!(decode_uint(&[1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn blocks() {
        let b = Block::from_value(&[0x1e]).unwrap();
        assert_eq!(
            b,
            Block {
                num: 1,
                more: true,
                szx: 6
            }
        );
        assert_eq!(b.size(), 1024);
        assert_eq!(b.offset(), 1024);
        assert_eq!(b.to_value(), [0x1e]);
        assert_eq!(Block::from_value(&[]).unwrap().size(), 16);
        assert_eq!(Block::new(0, false, 64).unwrap().to_value(), [0x02]);
        assert!(Block::new(0, false, 100).is_none());
        assert!(Block::from_value(&[1, 2, 3, 4]).is_none());
        assert_eq!(
            Block::new(4096, true, 16).unwrap().to_value(),
            [0x01, 0x00, 0x08]
        );
    }

    #[test]
    fn observe_freshness_wraps() {
        let s = Duration::from_secs(1);
        assert!(observe::is_fresher(5, 6, s));
        assert!(!observe::is_fresher(6, 5, s));
        assert!(observe::is_fresher(observe::MAX, 0, s));
        assert!(observe::is_fresher(6, 5, Duration::from_secs(129)));
    }
}
