//! RPL control messages (RFC 6550 §6): DIS, DIO, DAO, DAO-ACK, the secure variants and
//! the Consistency Check.
//!
//! [`RplMessage::parse`] takes a whole ICMPv6 message (Type octet first) and reports
//! offsets from that Type octet. Reserved fields and flags are kept as sent rather than
//! rejected: RFC 6550 has receivers ignore them, and a test must be able to see them.
//! Unknown codes decode to [`RplMessage::Unknown`].

use std::net::Ipv6Addr;

use super::error::{Violation, addr_at, put, put_u8, put_u16, put_u32, u8_at, u16_at, u32_at};
use super::icmpv6::{HEADER_LEN, Icmpv6Packet, TYPE_RPL_CONTROL};
use super::options::{OptionIter, RplOption, emit_options, options_len};
use super::rules::Rule;

/// The Code of an RPL control message (RFC 6550 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Dis,
    Dio,
    Dao,
    DaoAck,
    SecureDis,
    SecureDio,
    SecureDao,
    SecureDaoAck,
    /// Only defined secured (code 0x8A).
    ConsistencyCheck,
    Unknown(u8),
}

impl Code {
    pub fn from_u8(v: u8) -> Self {
        match v {
            0x00 => Code::Dis,
            0x01 => Code::Dio,
            0x02 => Code::Dao,
            0x03 => Code::DaoAck,
            0x80 => Code::SecureDis,
            0x81 => Code::SecureDio,
            0x82 => Code::SecureDao,
            0x83 => Code::SecureDaoAck,
            0x8a => Code::ConsistencyCheck,
            n => Code::Unknown(n),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Code::Dis => 0x00,
            Code::Dio => 0x01,
            Code::Dao => 0x02,
            Code::DaoAck => 0x03,
            Code::SecureDis => 0x80,
            Code::SecureDio => 0x81,
            Code::SecureDao => 0x82,
            Code::SecureDaoAck => 0x83,
            Code::ConsistencyCheck => 0x8a,
            Code::Unknown(n) => n,
        }
    }

    pub fn is_secure(self) -> bool {
        self.to_u8() & 0x80 != 0
    }

    /// Octets of the base for unsecured codes (DAO and DAO-ACK: without DODAGID).
    fn min_base_len(self) -> Option<(usize, Rule)> {
        match self {
            Code::Dis => Some((2, Rule::DisTruncated)),
            Code::Dio => Some((24, Rule::DioTruncated)),
            Code::Dao => Some((4, Rule::DaoTruncated)),
            Code::DaoAck => Some((4, Rule::DaoAckTruncated)),
            Code::ConsistencyCheck => Some((24, Rule::ConsistencyCheckTruncated)),
            _ => None,
        }
    }
}

/// Mode of Operation (RFC 6550 §6.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mop {
    NoDownwardRoutes,
    NonStoring,
    StoringWithoutMulticast,
    StoringWithMulticast,
    /// 4..=7: not defined by RFC 6550.
    Unknown(u8),
}

impl Mop {
    pub fn from_u8(v: u8) -> Self {
        match v & 7 {
            0 => Mop::NoDownwardRoutes,
            1 => Mop::NonStoring,
            2 => Mop::StoringWithoutMulticast,
            3 => Mop::StoringWithMulticast,
            n => Mop::Unknown(n),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Mop::NoDownwardRoutes => 0,
            Mop::NonStoring => 1,
            Mop::StoringWithoutMulticast => 2,
            Mop::StoringWithMulticast => 3,
            Mop::Unknown(n) => n & 7,
        }
    }
}

/// DODAG Information Solicitation (§6.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Dis {
    pub flags: u8,
    pub reserved: u8,
    pub options: Vec<RplOption>,
}

/// DODAG Information Object (§6.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dio {
    pub instance_id: u8,
    pub version: u8,
    pub rank: u16,
    /// G: the DODAG reaches the application's goal.
    pub grounded: bool,
    /// The bit between G and MOP, which must be zero; kept as sent.
    pub zero_bit: bool,
    pub mop: Mop,
    /// DODAGPreference, 0 (least) ..= 7 (most preferred).
    pub preference: u8,
    pub dtsn: u8,
    pub flags: u8,
    pub reserved: u8,
    pub dodag_id: Ipv6Addr,
    pub options: Vec<RplOption>,
}

/// Destination Advertisement Object (§6.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dao {
    pub instance_id: u8,
    /// K: the sender asks for a DAO-ACK.
    pub expect_ack: bool,
    /// The six low flag bits, reserved.
    pub flags: u8,
    pub reserved: u8,
    pub sequence: u8,
    /// Present exactly when the D flag is set (required for local Instance IDs).
    pub dodag_id: Option<Ipv6Addr>,
    pub options: Vec<RplOption>,
}

/// DAO acknowledgement (§6.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DaoAck {
    pub instance_id: u8,
    /// The seven low bits after D, reserved.
    pub reserved: u8,
    pub sequence: u8,
    /// 0 accepted, 1..=127 accepted with a warning, 128..=255 rejected.
    pub status: u8,
    pub dodag_id: Option<Ipv6Addr>,
    pub options: Vec<RplOption>,
}

/// Consistency Check (§6.6), as its base and options read once any encryption is gone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsistencyCheck {
    pub instance_id: u8,
    /// R: this is a response.
    pub response: bool,
    pub flags: u8,
    pub nonce: u16,
    pub dodag_id: Ipv6Addr,
    pub destination_counter: u32,
    pub options: Vec<RplOption>,
}

/// The Security section that secured variants carry before their base (§6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecuritySection {
    /// T: the Counter is a timestamp.
    pub counter_is_time: bool,
    pub reserved: u8,
    pub algorithm: u8,
    /// Key Identifier Mode, 0..=3.
    pub kim: u8,
    pub resvd: u8,
    /// Security level, 0..=7.
    pub lvl: u8,
    pub flags: u8,
    pub counter: u32,
    /// Key Source and Key Index as sent; `None` for KIM 3, whose layout depends on the
    /// signature scheme and is left in [`SecureMessage::payload`].
    pub key_identifier: Option<Vec<u8>>,
}

impl SecuritySection {
    fn key_identifier_len(kim: u8) -> Option<usize> {
        match kim {
            0 => Some(1),
            1 => Some(0),
            2 => Some(9),
            _ => None,
        }
    }

    fn buffer_len(&self) -> usize {
        8 + self.key_identifier.as_ref().map_or(0, Vec::len)
    }

    fn parse(b: &[u8], base: usize) -> Result<(SecuritySection, usize), Violation> {
        if b.len() < 8 {
            return Err(Violation::new(
                Rule::SecurityTruncated,
                base + b.len(),
                format!("{} octets of Security section, at least 8 needed", b.len()),
            ));
        }
        let kim = u8_at(b, 2) >> 6;
        let kid_len = Self::key_identifier_len(kim);
        let kid = match kid_len {
            Some(n) => Some(
                b.get(8..8 + n)
                    .ok_or_else(|| {
                        Violation::new(
                            Rule::SecurityTruncated,
                            base + b.len(),
                            format!("KIM {kim} needs a {n}-octet Key Identifier"),
                        )
                    })?
                    .to_vec(),
            ),
            None => None,
        };
        let s = SecuritySection {
            counter_is_time: u8_at(b, 0) & 0x80 != 0,
            reserved: u8_at(b, 0) & 0x7f,
            algorithm: u8_at(b, 1),
            kim,
            resvd: (u8_at(b, 2) >> 3) & 0x07,
            lvl: u8_at(b, 2) & 0x07,
            flags: u8_at(b, 3),
            counter: u32_at(b, 4),
            key_identifier: kid,
        };
        let n = s.buffer_len();
        Ok((s, n))
    }

    fn emit(&self, b: &mut [u8]) {
        put_u8(
            b,
            0,
            (u8::from(self.counter_is_time) << 7) | (self.reserved & 0x7f),
        );
        put_u8(b, 1, self.algorithm);
        put_u8(
            b,
            2,
            (self.kim << 6) | ((self.resvd & 7) << 3) | (self.lvl & 7),
        );
        put_u8(b, 3, self.flags);
        put_u32(b, 4, self.counter);
        if let Some(k) = &self.key_identifier {
            put(b, 8, k);
        }
    }
}

/// A secured message: identified and its Security section decoded; the rest (base,
/// options and MAC or signature, perhaps encrypted) kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecureMessage {
    pub code: Code,
    pub security: SecuritySection,
    pub payload: Vec<u8>,
}

impl SecureMessage {
    /// The base and options in clear, for the MAC-only levels (LVL 0: 32-bit MAC,
    /// LVL 2: 64-bit MAC) with a known Key Identifier layout; `None` where the payload is
    /// encrypted or signed.
    pub fn cleartext(&self) -> Option<&[u8]> {
        let mac = match self.security.lvl {
            0 => 4,
            2 => 8,
            _ => return None,
        };
        self.security.key_identifier.as_ref()?;
        self.payload.get(..self.payload.len().checked_sub(mac)?)
    }

    /// A Consistency Check's base and options, where [`Self::cleartext`] gives them.
    pub fn consistency_check(&self) -> Option<Result<ConsistencyCheck, Violation>> {
        if self.code != Code::ConsistencyCheck {
            return None;
        }
        let clear = self.cleartext()?;
        Some(ConsistencyCheck::parse_base(
            clear,
            HEADER_LEN + self.security.buffer_len(),
        ))
    }
}

/// An RPL control message, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RplMessage {
    Dis(Dis),
    Dio(Dio),
    Dao(Dao),
    DaoAck(DaoAck),
    Secure(SecureMessage),
    /// A code RFC 6550 does not define, body kept as sent.
    Unknown {
        code: u8,
        body: Vec<u8>,
    },
}

fn need(b: &[u8], n: usize, rule: Rule, what: &str) -> Result<(), Violation> {
    if b.len() < n {
        return Err(Violation::new(
            rule,
            HEADER_LEN + b.len(),
            format!("{what} base of {} octets, {n} needed", b.len()),
        ));
    }
    Ok(())
}

fn opts(b: &[u8], from: usize, base: usize) -> Result<Vec<RplOption>, Violation> {
    RplOption::parse_all(b.get(from..).unwrap_or_default(), base + from)
}

impl ConsistencyCheck {
    /// Parses the base and options; `base` is where `b` starts in the ICMPv6 message.
    pub fn parse_base(b: &[u8], base: usize) -> Result<Self, Violation> {
        if b.len() < 24 {
            return Err(Violation::new(
                Rule::ConsistencyCheckTruncated,
                base + b.len(),
                format!("Consistency Check base of {} octets, 24 needed", b.len()),
            ));
        }
        Ok(ConsistencyCheck {
            instance_id: u8_at(b, 0),
            response: u8_at(b, 1) & 0x80 != 0,
            flags: u8_at(b, 1) & 0x7f,
            nonce: u16_at(b, 2),
            dodag_id: addr_at(b, 4),
            destination_counter: u32_at(b, 20),
            options: opts(b, 24, base)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        24 + options_len(&self.options)
    }

    /// Writes base and options (not the ICMPv6 header nor a Security section).
    pub fn emit_base(&self, b: &mut [u8]) {
        put_u8(b, 0, self.instance_id);
        put_u8(b, 1, (u8::from(self.response) << 7) | (self.flags & 0x7f));
        put_u16(b, 2, self.nonce);
        put(b, 4, &self.dodag_id.octets());
        put_u32(b, 20, self.destination_counter);
        if let Some(rest) = b.get_mut(24..) {
            emit_options(&self.options, rest);
        }
    }
}

impl RplMessage {
    /// Decodes an ICMPv6 RPL control message (Type octet first). The checksum is not
    /// checked here: it needs the addresses, see [`Self::parse_checked`].
    pub fn parse(icmp: &[u8]) -> Result<RplMessage, Violation> {
        let p = Icmpv6Packet::new_checked(icmp)?;
        if p.msg_type() != TYPE_RPL_CONTROL {
            return Err(Violation::new(
                Rule::NotRplControl,
                0,
                format!("ICMPv6 type {}, RPL control messages are 155", p.msg_type()),
            ));
        }
        let b = p.body();
        let base = HEADER_LEN;
        let code = Code::from_u8(p.code());
        if let Some((n, rule)) = code.min_base_len() {
            need(b, n, rule, "message")?;
        }
        Ok(match code {
            Code::Dis => RplMessage::Dis(Dis {
                flags: u8_at(b, 0),
                reserved: u8_at(b, 1),
                options: opts(b, 2, base)?,
            }),
            Code::Dio => {
                let g = u8_at(b, 4);
                RplMessage::Dio(Dio {
                    instance_id: u8_at(b, 0),
                    version: u8_at(b, 1),
                    rank: u16_at(b, 2),
                    grounded: g & 0x80 != 0,
                    zero_bit: g & 0x40 != 0,
                    mop: Mop::from_u8(g >> 3),
                    preference: g & 7,
                    dtsn: u8_at(b, 5),
                    flags: u8_at(b, 6),
                    reserved: u8_at(b, 7),
                    dodag_id: addr_at(b, 8),
                    options: opts(b, 24, base)?,
                })
            }
            Code::Dao => {
                let f = u8_at(b, 1);
                let has_id = f & 0x40 != 0;
                if has_id {
                    need(b, 20, Rule::DaoTruncated, "DAO (D flag set)")?;
                }
                RplMessage::Dao(Dao {
                    instance_id: u8_at(b, 0),
                    expect_ack: f & 0x80 != 0,
                    flags: f & 0x3f,
                    reserved: u8_at(b, 2),
                    sequence: u8_at(b, 3),
                    dodag_id: has_id.then(|| addr_at(b, 4)),
                    options: opts(b, if has_id { 20 } else { 4 }, base)?,
                })
            }
            Code::DaoAck => {
                let f = u8_at(b, 1);
                let has_id = f & 0x80 != 0;
                if has_id {
                    need(b, 20, Rule::DaoAckTruncated, "DAO-ACK (D flag set)")?;
                }
                RplMessage::DaoAck(DaoAck {
                    instance_id: u8_at(b, 0),
                    reserved: f & 0x7f,
                    sequence: u8_at(b, 2),
                    status: u8_at(b, 3),
                    dodag_id: has_id.then(|| addr_at(b, 4)),
                    options: opts(b, if has_id { 20 } else { 4 }, base)?,
                })
            }
            Code::SecureDis
            | Code::SecureDio
            | Code::SecureDao
            | Code::SecureDaoAck
            | Code::ConsistencyCheck => {
                let (security, n) = SecuritySection::parse(b, base)?;
                RplMessage::Secure(SecureMessage {
                    code,
                    security,
                    payload: b.get(n..).unwrap_or_default().to_vec(),
                })
            }
            Code::Unknown(c) => RplMessage::Unknown {
                code: c,
                body: b.to_vec(),
            },
        })
    }

    /// [`Self::parse`] after checking the checksum for a message from `src` to `dst`.
    pub fn parse_checked(
        icmp: &[u8],
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<RplMessage, Violation> {
        Icmpv6Packet::new_checked(icmp)?.check_checksum(src, dst)?;
        Self::parse(icmp)
    }

    pub fn code(&self) -> Code {
        match self {
            RplMessage::Dis(_) => Code::Dis,
            RplMessage::Dio(_) => Code::Dio,
            RplMessage::Dao(_) => Code::Dao,
            RplMessage::DaoAck(_) => Code::DaoAck,
            RplMessage::Secure(s) => s.code,
            RplMessage::Unknown { code, .. } => Code::from_u8(*code),
        }
    }

    pub fn options(&self) -> &[RplOption] {
        match self {
            RplMessage::Dis(m) => &m.options,
            RplMessage::Dio(m) => &m.options,
            RplMessage::Dao(m) => &m.options,
            RplMessage::DaoAck(m) => &m.options,
            RplMessage::Secure(_) | RplMessage::Unknown { .. } => &[],
        }
    }

    /// Octets of the whole ICMPv6 message.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                RplMessage::Dis(m) => 2 + options_len(&m.options),
                RplMessage::Dio(m) => 24 + options_len(&m.options),
                RplMessage::Dao(m) => {
                    4 + if m.dodag_id.is_some() { 16 } else { 0 } + options_len(&m.options)
                }
                RplMessage::DaoAck(m) => {
                    4 + if m.dodag_id.is_some() { 16 } else { 0 } + options_len(&m.options)
                }
                RplMessage::Secure(s) => s.security.buffer_len() + s.payload.len(),
                RplMessage::Unknown { body, .. } => body.len(),
            }
    }

    /// Writes the ICMPv6 message into `buf[..self.buffer_len()]` with a zero checksum.
    pub fn emit(&self, buf: &mut [u8]) {
        put_u8(buf, 0, TYPE_RPL_CONTROL);
        put_u8(buf, 1, self.code().to_u8());
        put_u16(buf, 2, 0);
        let Some(b) = buf.get_mut(HEADER_LEN..) else {
            return;
        };
        let tail = |b: &mut [u8], from: usize, o: &[RplOption]| {
            if let Some(rest) = b.get_mut(from..) {
                emit_options(o, rest);
            }
        };
        match self {
            RplMessage::Dis(m) => {
                put_u8(b, 0, m.flags);
                put_u8(b, 1, m.reserved);
                tail(b, 2, &m.options);
            }
            RplMessage::Dio(m) => {
                put_u8(b, 0, m.instance_id);
                put_u8(b, 1, m.version);
                put_u16(b, 2, m.rank);
                put_u8(
                    b,
                    4,
                    (u8::from(m.grounded) << 7)
                        | (u8::from(m.zero_bit) << 6)
                        | (m.mop.to_u8() << 3)
                        | (m.preference & 7),
                );
                put_u8(b, 5, m.dtsn);
                put_u8(b, 6, m.flags);
                put_u8(b, 7, m.reserved);
                put(b, 8, &m.dodag_id.octets());
                tail(b, 24, &m.options);
            }
            RplMessage::Dao(m) => {
                put_u8(b, 0, m.instance_id);
                put_u8(
                    b,
                    1,
                    (u8::from(m.expect_ack) << 7)
                        | (u8::from(m.dodag_id.is_some()) << 6)
                        | (m.flags & 0x3f),
                );
                put_u8(b, 2, m.reserved);
                put_u8(b, 3, m.sequence);
                let from = match m.dodag_id {
                    Some(id) => {
                        put(b, 4, &id.octets());
                        20
                    }
                    None => 4,
                };
                tail(b, from, &m.options);
            }
            RplMessage::DaoAck(m) => {
                put_u8(b, 0, m.instance_id);
                put_u8(
                    b,
                    1,
                    (u8::from(m.dodag_id.is_some()) << 7) | (m.reserved & 0x7f),
                );
                put_u8(b, 2, m.sequence);
                put_u8(b, 3, m.status);
                let from = match m.dodag_id {
                    Some(id) => {
                        put(b, 4, &id.octets());
                        20
                    }
                    None => 4,
                };
                tail(b, from, &m.options);
            }
            RplMessage::Secure(s) => {
                s.security.emit(b);
                put(b, s.security.buffer_len(), &s.payload);
            }
            RplMessage::Unknown { body, .. } => put(b, 0, body),
        }
    }

    /// The message with its checksum for `src` → `dst`.
    pub fn to_bytes(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Vec<u8> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut buf);
        Icmpv6Packet::new_unchecked(&mut buf[..]).fill_checksum(src, dst);
        buf
    }
}

/// A zero-copy look at an RPL control message: the fields the next hop most often needs,
/// and its options, without allocating. Accessors never panic; a field the message is
/// too short for reads as zero (the checked constructor rules that out).
#[derive(Debug, Clone, Copy)]
pub struct RplView<'a> {
    msg: &'a [u8],
}

impl<'a> RplView<'a> {
    /// Checks the ICMPv6 header, type 155 and the base length of known unsecured codes.
    pub fn new_checked(msg: &'a [u8]) -> Result<Self, Violation> {
        let p = Icmpv6Packet::new_checked(msg)?;
        if p.msg_type() != TYPE_RPL_CONTROL {
            return Err(Violation::new(
                Rule::NotRplControl,
                0,
                format!("ICMPv6 type {}", p.msg_type()),
            ));
        }
        let v = RplView { msg };
        if let Some((n, rule)) = v.code().min_base_len() {
            need(p.body(), n, rule, "message")?;
        }
        if v.base_len() > p.body().len() {
            return Err(Violation::new(
                if v.code() == Code::Dao {
                    Rule::DaoTruncated
                } else {
                    Rule::DaoAckTruncated
                },
                msg.len(),
                "D flag set but no DODAGID",
            ));
        }
        Ok(v)
    }

    pub fn code(&self) -> Code {
        Code::from_u8(u8_at(self.msg, 1))
    }

    fn body(&self) -> &'a [u8] {
        self.msg.get(HEADER_LEN..).unwrap_or_default()
    }

    /// RPLInstanceID: the first octet of every unsecured base.
    pub fn instance_id(&self) -> u8 {
        u8_at(self.body(), 0)
    }

    /// DIO: Rank.
    pub fn dio_rank(&self) -> u16 {
        u16_at(self.body(), 2)
    }

    /// DIO: Version Number.
    pub fn dio_version(&self) -> u8 {
        u8_at(self.body(), 1)
    }

    /// DIO: DTSN.
    pub fn dio_dtsn(&self) -> u8 {
        u8_at(self.body(), 5)
    }

    /// DIO: DODAGID.
    pub fn dio_dodag_id(&self) -> Ipv6Addr {
        addr_at(self.body(), 8)
    }

    /// Base length of this code; 0 for secured and unknown codes.
    fn base_len(&self) -> usize {
        let b = self.body();
        match self.code() {
            Code::Dis => 2,
            Code::Dio => 24,
            Code::Dao => {
                if u8_at(b, 1) & 0x40 != 0 {
                    20
                } else {
                    4
                }
            }
            Code::DaoAck => {
                if u8_at(b, 1) & 0x80 != 0 {
                    20
                } else {
                    4
                }
            }
            _ => 0,
        }
    }

    /// The options of an unsecured message (empty for secured and unknown codes).
    pub fn options(&self) -> OptionIter<'a> {
        let n = self.base_len();
        let b = if n == 0 {
            &[][..]
        } else {
            self.body().get(n..).unwrap_or_default()
        };
        OptionIter::new(b, HEADER_LEN + n)
    }
}
