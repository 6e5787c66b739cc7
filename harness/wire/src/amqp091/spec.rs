//! The protocol's tables: every method of every class with its arguments, the Basic
//! content properties, frame types and reply codes. Written out as Rust data (no XML is
//! read at run time); a unit test checks them against the published XML when it is at
//! hand.

/// The wire type of a method argument or a content property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgType {
    /// One bit; consecutive bits share octets, least significant first.
    Bit,
    Octet,
    Short,
    Long,
    LongLong,
    /// At most 255 octets, with a one-octet length.
    ShortStr,
    /// A four-octet length, then the octets.
    LongStr,
    /// Seconds since the epoch, 64 bits.
    Timestamp,
    /// A field table.
    Table,
}

use ArgType::{Bit, Long, LongLong, LongStr, Octet, Short, ShortStr, Table, Timestamp};

/// A method's class and method ids: `(60, 40)` is basic.publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MethodId(pub u16, pub u16);

/// One method as the specification defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSpec {
    pub class_id: u16,
    pub method_id: u16,
    /// `class.method`, as the specification spells both: `basic.get-ok`.
    pub name: &'static str,
    /// The peer answers it with a method of its own.
    pub synchronous: bool,
    /// Content (a header frame and body frames) follows it.
    pub content: bool,
    /// The arguments in wire order.
    pub args: &'static [(&'static str, ArgType)],
}

impl MethodSpec {
    pub const fn id(&self) -> MethodId {
        MethodId(self.class_id, self.method_id)
    }

    /// Where `arg` sits in [`MethodSpec::args`].
    pub fn position(&self, arg: &str) -> Option<usize> {
        self.args.iter().position(|(n, _)| *n == arg)
    }
}

const fn m(
    class_id: u16,
    method_id: u16,
    name: &'static str,
    synchronous: bool,
    content: bool,
    args: &'static [(&'static str, ArgType)],
) -> MethodSpec {
    MethodSpec {
        class_id,
        method_id,
        name,
        synchronous,
        content,
        args,
    }
}

/// Every method of connection, channel, exchange, queue, basic, tx and confirm,
/// RabbitMQ's extensions included (exchange.bind/unbind, basic.nack, confirm,
/// connection.blocked/unblocked/update-secret).
pub static METHODS: &[MethodSpec] = &[
    m(
        10,
        10,
        "connection.start",
        true,
        false,
        &[
            ("version-major", Octet),
            ("version-minor", Octet),
            ("server-properties", Table),
            ("mechanisms", LongStr),
            ("locales", LongStr),
        ],
    ),
    m(
        10,
        11,
        "connection.start-ok",
        true,
        false,
        &[
            ("client-properties", Table),
            ("mechanism", ShortStr),
            ("response", LongStr),
            ("locale", ShortStr),
        ],
    ),
    m(
        10,
        20,
        "connection.secure",
        true,
        false,
        &[("challenge", LongStr)],
    ),
    m(
        10,
        21,
        "connection.secure-ok",
        true,
        false,
        &[("response", LongStr)],
    ),
    m(
        10,
        30,
        "connection.tune",
        true,
        false,
        &[
            ("channel-max", Short),
            ("frame-max", Long),
            ("heartbeat", Short),
        ],
    ),
    m(
        10,
        31,
        "connection.tune-ok",
        true,
        false,
        &[
            ("channel-max", Short),
            ("frame-max", Long),
            ("heartbeat", Short),
        ],
    ),
    m(
        10,
        40,
        "connection.open",
        true,
        false,
        &[
            ("virtual-host", ShortStr),
            ("reserved-1", ShortStr),
            ("reserved-2", Bit),
        ],
    ),
    m(
        10,
        41,
        "connection.open-ok",
        true,
        false,
        &[("reserved-1", ShortStr)],
    ),
    m(
        10,
        50,
        "connection.close",
        true,
        false,
        &[
            ("reply-code", Short),
            ("reply-text", ShortStr),
            ("class-id", Short),
            ("method-id", Short),
        ],
    ),
    m(10, 51, "connection.close-ok", true, false, &[]),
    m(
        10,
        60,
        "connection.blocked",
        false,
        false,
        &[("reason", ShortStr)],
    ),
    m(10, 61, "connection.unblocked", false, false, &[]),
    m(
        10,
        70,
        "connection.update-secret",
        true,
        false,
        &[("new-secret", LongStr), ("reason", ShortStr)],
    ),
    m(10, 71, "connection.update-secret-ok", true, false, &[]),
    m(
        20,
        10,
        "channel.open",
        true,
        false,
        &[("reserved-1", ShortStr)],
    ),
    m(
        20,
        11,
        "channel.open-ok",
        true,
        false,
        &[("reserved-1", LongStr)],
    ),
    m(20, 20, "channel.flow", true, false, &[("active", Bit)]),
    m(20, 21, "channel.flow-ok", false, false, &[("active", Bit)]),
    m(
        20,
        40,
        "channel.close",
        true,
        false,
        &[
            ("reply-code", Short),
            ("reply-text", ShortStr),
            ("class-id", Short),
            ("method-id", Short),
        ],
    ),
    m(20, 41, "channel.close-ok", true, false, &[]),
    m(
        40,
        10,
        "exchange.declare",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("exchange", ShortStr),
            ("type", ShortStr),
            ("passive", Bit),
            ("durable", Bit),
            ("auto-delete", Bit),
            ("internal", Bit),
            ("no-wait", Bit),
            ("arguments", Table),
        ],
    ),
    m(40, 11, "exchange.declare-ok", true, false, &[]),
    m(
        40,
        20,
        "exchange.delete",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("exchange", ShortStr),
            ("if-unused", Bit),
            ("no-wait", Bit),
        ],
    ),
    m(40, 21, "exchange.delete-ok", true, false, &[]),
    m(
        40,
        30,
        "exchange.bind",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("destination", ShortStr),
            ("source", ShortStr),
            ("routing-key", ShortStr),
            ("no-wait", Bit),
            ("arguments", Table),
        ],
    ),
    m(40, 31, "exchange.bind-ok", true, false, &[]),
    m(
        40,
        40,
        "exchange.unbind",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("destination", ShortStr),
            ("source", ShortStr),
            ("routing-key", ShortStr),
            ("no-wait", Bit),
            ("arguments", Table),
        ],
    ),
    m(40, 51, "exchange.unbind-ok", true, false, &[]),
    m(
        50,
        10,
        "queue.declare",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("queue", ShortStr),
            ("passive", Bit),
            ("durable", Bit),
            ("exclusive", Bit),
            ("auto-delete", Bit),
            ("no-wait", Bit),
            ("arguments", Table),
        ],
    ),
    m(
        50,
        11,
        "queue.declare-ok",
        true,
        false,
        &[
            ("queue", ShortStr),
            ("message-count", Long),
            ("consumer-count", Long),
        ],
    ),
    m(
        50,
        20,
        "queue.bind",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("queue", ShortStr),
            ("exchange", ShortStr),
            ("routing-key", ShortStr),
            ("no-wait", Bit),
            ("arguments", Table),
        ],
    ),
    m(50, 21, "queue.bind-ok", true, false, &[]),
    m(
        50,
        50,
        "queue.unbind",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("queue", ShortStr),
            ("exchange", ShortStr),
            ("routing-key", ShortStr),
            ("arguments", Table),
        ],
    ),
    m(50, 51, "queue.unbind-ok", true, false, &[]),
    m(
        50,
        30,
        "queue.purge",
        true,
        false,
        &[("reserved-1", Short), ("queue", ShortStr), ("no-wait", Bit)],
    ),
    m(
        50,
        31,
        "queue.purge-ok",
        true,
        false,
        &[("message-count", Long)],
    ),
    m(
        50,
        40,
        "queue.delete",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("queue", ShortStr),
            ("if-unused", Bit),
            ("if-empty", Bit),
            ("no-wait", Bit),
        ],
    ),
    m(
        50,
        41,
        "queue.delete-ok",
        true,
        false,
        &[("message-count", Long)],
    ),
    m(
        60,
        10,
        "basic.qos",
        true,
        false,
        &[
            ("prefetch-size", Long),
            ("prefetch-count", Short),
            ("global", Bit),
        ],
    ),
    m(60, 11, "basic.qos-ok", true, false, &[]),
    m(
        60,
        20,
        "basic.consume",
        true,
        false,
        &[
            ("reserved-1", Short),
            ("queue", ShortStr),
            ("consumer-tag", ShortStr),
            ("no-local", Bit),
            ("no-ack", Bit),
            ("exclusive", Bit),
            ("no-wait", Bit),
            ("arguments", Table),
        ],
    ),
    m(
        60,
        21,
        "basic.consume-ok",
        true,
        false,
        &[("consumer-tag", ShortStr)],
    ),
    m(
        60,
        30,
        "basic.cancel",
        true,
        false,
        &[("consumer-tag", ShortStr), ("no-wait", Bit)],
    ),
    m(
        60,
        31,
        "basic.cancel-ok",
        true,
        false,
        &[("consumer-tag", ShortStr)],
    ),
    m(
        60,
        40,
        "basic.publish",
        false,
        true,
        &[
            ("reserved-1", Short),
            ("exchange", ShortStr),
            ("routing-key", ShortStr),
            ("mandatory", Bit),
            ("immediate", Bit),
        ],
    ),
    m(
        60,
        50,
        "basic.return",
        false,
        true,
        &[
            ("reply-code", Short),
            ("reply-text", ShortStr),
            ("exchange", ShortStr),
            ("routing-key", ShortStr),
        ],
    ),
    m(
        60,
        60,
        "basic.deliver",
        false,
        true,
        &[
            ("consumer-tag", ShortStr),
            ("delivery-tag", LongLong),
            ("redelivered", Bit),
            ("exchange", ShortStr),
            ("routing-key", ShortStr),
        ],
    ),
    m(
        60,
        70,
        "basic.get",
        true,
        false,
        &[("reserved-1", Short), ("queue", ShortStr), ("no-ack", Bit)],
    ),
    m(
        60,
        71,
        "basic.get-ok",
        true,
        true,
        &[
            ("delivery-tag", LongLong),
            ("redelivered", Bit),
            ("exchange", ShortStr),
            ("routing-key", ShortStr),
            ("message-count", Long),
        ],
    ),
    m(
        60,
        72,
        "basic.get-empty",
        true,
        false,
        &[("reserved-1", ShortStr)],
    ),
    m(
        60,
        80,
        "basic.ack",
        false,
        false,
        &[("delivery-tag", LongLong), ("multiple", Bit)],
    ),
    m(
        60,
        90,
        "basic.reject",
        false,
        false,
        &[("delivery-tag", LongLong), ("requeue", Bit)],
    ),
    m(
        60,
        100,
        "basic.recover-async",
        false,
        false,
        &[("requeue", Bit)],
    ),
    m(60, 110, "basic.recover", false, false, &[("requeue", Bit)]),
    m(60, 111, "basic.recover-ok", true, false, &[]),
    m(
        60,
        120,
        "basic.nack",
        false,
        false,
        &[
            ("delivery-tag", LongLong),
            ("multiple", Bit),
            ("requeue", Bit),
        ],
    ),
    m(90, 10, "tx.select", true, false, &[]),
    m(90, 11, "tx.select-ok", true, false, &[]),
    m(90, 20, "tx.commit", true, false, &[]),
    m(90, 21, "tx.commit-ok", true, false, &[]),
    m(90, 30, "tx.rollback", true, false, &[]),
    m(90, 31, "tx.rollback-ok", true, false, &[]),
    m(85, 10, "confirm.select", true, false, &[("nowait", Bit)]),
    m(85, 11, "confirm.select-ok", true, false, &[]),
];

/// The specification of method `id`, if there is one.
pub fn method(id: MethodId) -> Option<&'static MethodSpec> {
    METHODS.iter().find(|s| s.id() == id)
}

/// The specification of the method called `name` (`queue.declare`).
pub fn method_named(name: &str) -> Option<&'static MethodSpec> {
    METHODS.iter().find(|s| s.name == name)
}

/// The name of class `class_id`.
pub fn class_name(class_id: u16) -> Option<&'static str> {
    Some(match class_id {
        10 => "connection",
        20 => "channel",
        40 => "exchange",
        50 => "queue",
        60 => "basic",
        85 => "confirm",
        90 => "tx",
        _ => return None,
    })
}

/// Method ids by name, so code names methods without strings.
impl MethodId {
    pub const CONNECTION_START: MethodId = MethodId(10, 10);
    pub const CONNECTION_START_OK: MethodId = MethodId(10, 11);
    pub const CONNECTION_SECURE: MethodId = MethodId(10, 20);
    pub const CONNECTION_SECURE_OK: MethodId = MethodId(10, 21);
    pub const CONNECTION_TUNE: MethodId = MethodId(10, 30);
    pub const CONNECTION_TUNE_OK: MethodId = MethodId(10, 31);
    pub const CONNECTION_OPEN: MethodId = MethodId(10, 40);
    pub const CONNECTION_OPEN_OK: MethodId = MethodId(10, 41);
    pub const CONNECTION_CLOSE: MethodId = MethodId(10, 50);
    pub const CONNECTION_CLOSE_OK: MethodId = MethodId(10, 51);
    pub const CONNECTION_BLOCKED: MethodId = MethodId(10, 60);
    pub const CONNECTION_UNBLOCKED: MethodId = MethodId(10, 61);
    pub const CONNECTION_UPDATE_SECRET: MethodId = MethodId(10, 70);
    pub const CONNECTION_UPDATE_SECRET_OK: MethodId = MethodId(10, 71);
    pub const CHANNEL_OPEN: MethodId = MethodId(20, 10);
    pub const CHANNEL_OPEN_OK: MethodId = MethodId(20, 11);
    pub const CHANNEL_FLOW: MethodId = MethodId(20, 20);
    pub const CHANNEL_FLOW_OK: MethodId = MethodId(20, 21);
    pub const CHANNEL_CLOSE: MethodId = MethodId(20, 40);
    pub const CHANNEL_CLOSE_OK: MethodId = MethodId(20, 41);
    pub const EXCHANGE_DECLARE: MethodId = MethodId(40, 10);
    pub const EXCHANGE_DECLARE_OK: MethodId = MethodId(40, 11);
    pub const EXCHANGE_DELETE: MethodId = MethodId(40, 20);
    pub const EXCHANGE_DELETE_OK: MethodId = MethodId(40, 21);
    pub const EXCHANGE_BIND: MethodId = MethodId(40, 30);
    pub const EXCHANGE_BIND_OK: MethodId = MethodId(40, 31);
    pub const EXCHANGE_UNBIND: MethodId = MethodId(40, 40);
    pub const EXCHANGE_UNBIND_OK: MethodId = MethodId(40, 51);
    pub const QUEUE_DECLARE: MethodId = MethodId(50, 10);
    pub const QUEUE_DECLARE_OK: MethodId = MethodId(50, 11);
    pub const QUEUE_BIND: MethodId = MethodId(50, 20);
    pub const QUEUE_BIND_OK: MethodId = MethodId(50, 21);
    pub const QUEUE_UNBIND: MethodId = MethodId(50, 50);
    pub const QUEUE_UNBIND_OK: MethodId = MethodId(50, 51);
    pub const QUEUE_PURGE: MethodId = MethodId(50, 30);
    pub const QUEUE_PURGE_OK: MethodId = MethodId(50, 31);
    pub const QUEUE_DELETE: MethodId = MethodId(50, 40);
    pub const QUEUE_DELETE_OK: MethodId = MethodId(50, 41);
    pub const BASIC_QOS: MethodId = MethodId(60, 10);
    pub const BASIC_QOS_OK: MethodId = MethodId(60, 11);
    pub const BASIC_CONSUME: MethodId = MethodId(60, 20);
    pub const BASIC_CONSUME_OK: MethodId = MethodId(60, 21);
    pub const BASIC_CANCEL: MethodId = MethodId(60, 30);
    pub const BASIC_CANCEL_OK: MethodId = MethodId(60, 31);
    pub const BASIC_PUBLISH: MethodId = MethodId(60, 40);
    pub const BASIC_RETURN: MethodId = MethodId(60, 50);
    pub const BASIC_DELIVER: MethodId = MethodId(60, 60);
    pub const BASIC_GET: MethodId = MethodId(60, 70);
    pub const BASIC_GET_OK: MethodId = MethodId(60, 71);
    pub const BASIC_GET_EMPTY: MethodId = MethodId(60, 72);
    pub const BASIC_ACK: MethodId = MethodId(60, 80);
    pub const BASIC_REJECT: MethodId = MethodId(60, 90);
    pub const BASIC_RECOVER_ASYNC: MethodId = MethodId(60, 100);
    pub const BASIC_RECOVER: MethodId = MethodId(60, 110);
    pub const BASIC_RECOVER_OK: MethodId = MethodId(60, 111);
    pub const BASIC_NACK: MethodId = MethodId(60, 120);
    pub const TX_SELECT: MethodId = MethodId(90, 10);
    pub const TX_SELECT_OK: MethodId = MethodId(90, 11);
    pub const TX_COMMIT: MethodId = MethodId(90, 20);
    pub const TX_COMMIT_OK: MethodId = MethodId(90, 21);
    pub const TX_ROLLBACK: MethodId = MethodId(90, 30);
    pub const TX_ROLLBACK_OK: MethodId = MethodId(90, 31);
    pub const CONFIRM_SELECT: MethodId = MethodId(85, 10);
    pub const CONFIRM_SELECT_OK: MethodId = MethodId(85, 11);
}

/// The class whose content (properties) this codec knows: basic.
pub const BASIC_CLASS: u16 = 60;

/// The properties of Basic content, in property-flag order (flag bit 15 first).
pub static BASIC_PROPERTIES: &[(&str, ArgType)] = &[
    ("content-type", ShortStr),
    ("content-encoding", ShortStr),
    ("headers", Table),
    ("delivery-mode", Octet),
    ("priority", Octet),
    ("correlation-id", ShortStr),
    ("reply-to", ShortStr),
    ("expiration", ShortStr),
    ("message-id", ShortStr),
    ("timestamp", Timestamp),
    ("type", ShortStr),
    ("user-id", ShortStr),
    ("app-id", ShortStr),
    ("cluster-id", ShortStr),
];

/// Frame types.
pub mod frame_type {
    pub const METHOD: u8 = 1;
    pub const HEADER: u8 = 2;
    pub const BODY: u8 = 3;
    /// The XML's 8 (the PDF's 4 is an erratum); RabbitMQ sends 8.
    pub const HEARTBEAT: u8 = 8;
}

/// The octet that ends every frame.
pub const FRAME_END: u8 = 0xCE;
/// The frame size both peers accept before frame-max is negotiated, and the least
/// frame-max may be.
pub const FRAME_MIN_SIZE: u32 = 4096;
/// Frame header: type, channel, payload size.
pub const FRAME_HEADER_LEN: usize = 7;
/// The protocol header a 0-9-1 client opens with.
pub const PROTOCOL_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";
/// IANA's port for AMQP, written into traces for Wireshark.
pub const AMQP_PORT: u16 = 5672;

/// Reply codes of connection.close, channel.close and basic.return.
pub mod reply {
    pub const SUCCESS: u16 = 200;
    pub const CONTENT_TOO_LARGE: u16 = 311;
    pub const NO_ROUTE: u16 = 312;
    pub const NO_CONSUMERS: u16 = 313;
    pub const CONNECTION_FORCED: u16 = 320;
    pub const INVALID_PATH: u16 = 402;
    pub const ACCESS_REFUSED: u16 = 403;
    pub const NOT_FOUND: u16 = 404;
    pub const RESOURCE_LOCKED: u16 = 405;
    pub const PRECONDITION_FAILED: u16 = 406;
    pub const FRAME_ERROR: u16 = 501;
    pub const SYNTAX_ERROR: u16 = 502;
    pub const COMMAND_INVALID: u16 = 503;
    pub const CHANNEL_ERROR: u16 = 504;
    pub const UNEXPECTED_FRAME: u16 = 505;
    pub const RESOURCE_ERROR: u16 = 506;
    pub const NOT_ALLOWED: u16 = 530;
    pub const NOT_IMPLEMENTED: u16 = 540;
    pub const INTERNAL_ERROR: u16 = 541;

    /// The constant's name in the specification.
    pub fn name(code: u16) -> Option<&'static str> {
        Some(match code {
            SUCCESS => "reply-success",
            CONTENT_TOO_LARGE => "content-too-large",
            NO_ROUTE => "no-route",
            NO_CONSUMERS => "no-consumers",
            CONNECTION_FORCED => "connection-forced",
            INVALID_PATH => "invalid-path",
            ACCESS_REFUSED => "access-refused",
            NOT_FOUND => "not-found",
            RESOURCE_LOCKED => "resource-locked",
            PRECONDITION_FAILED => "precondition-failed",
            FRAME_ERROR => "frame-error",
            SYNTAX_ERROR => "syntax-error",
            COMMAND_INVALID => "command-invalid",
            CHANNEL_ERROR => "channel-error",
            UNEXPECTED_FRAME => "unexpected-frame",
            RESOURCE_ERROR => "resource-error",
            NOT_ALLOWED => "not-allowed",
            NOT_IMPLEMENTED => "not-implemented",
            INTERNAL_ERROR => "internal-error",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod test {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_constants_resolve() {
        let ids: BTreeSet<MethodId> = METHODS.iter().map(MethodSpec::id).collect();
        assert_eq!(ids.len(), METHODS.len());
        let names: BTreeSet<&str> = METHODS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), METHODS.len());
        for s in METHODS {
            assert_eq!(class_name(s.class_id), s.name.split('.').next());
        }
        assert_eq!(
            method(MethodId::BASIC_PUBLISH).map(|s| s.name),
            Some("basic.publish")
        );
        assert_eq!(
            method(MethodId::QUEUE_UNBIND_OK).map(|s| s.name),
            Some("queue.unbind-ok")
        );
    }

    #[test]
    fn method_counts_per_class_match_the_specification() {
        let count = |c: u16| METHODS.iter().filter(|s| s.class_id == c).count();
        // 0-9-1 plus RabbitMQ's extensions: connection 10 + blocked, unblocked,
        // update-secret(-ok); exchange 4 + bind(-ok), unbind(-ok); basic 16 + nack.
        assert_eq!(
            [10, 20, 40, 50, 60, 85, 90].map(count),
            [14, 6, 8, 10, 18, 2, 6]
        );
    }

    /// Compares the table with the published XML (`amqp0-9-1.extended.xml` of the
    /// rabbitmq/amqp-0.9.1-spec repository) when `AMQP091_SPEC_XML` names a copy: every
    /// method with its index and its fields' names, in order.
    #[test]
    fn table_matches_the_published_xml_when_available() {
        let Some(path) = std::env::var_os("AMQP091_SPEC_XML") else {
            return;
        };
        let xml = std::fs::read_to_string(path).expect("the XML named by AMQP091_SPEC_XML");
        let mut seen = 0;
        let mut class = ("", 0u16);
        let mut current: Option<(String, Vec<String>)> = None;
        let check = |name: &str, fields: &[String]| {
            let spec = method_named(name).unwrap_or_else(|| panic!("{name} missing"));
            let ours: Vec<&str> = spec.args.iter().map(|(n, _)| *n).collect();
            assert_eq!(ours, fields, "{name}: fields");
        };
        for tag in xml.split('<').skip(1) {
            let attr = |a: &str| {
                let at = tag
                    .find(&format!("{a} "))
                    .or_else(|| tag.find(&format!("{a}=")))?;
                let rest = &tag[at..];
                let q = rest.find('"')?;
                let end = rest[q + 1..].find('"')?;
                Some(&rest[q + 1..q + 1 + end])
            };
            if tag.starts_with("class ") {
                class = (
                    attr("name").unwrap_or(""),
                    attr("index").and_then(|i| i.parse().ok()).unwrap_or(0),
                );
            } else if tag.starts_with("method ") {
                if let Some((n, f)) = current.take() {
                    check(&n, &f);
                }
                let name = format!("{}.{}", class.0, attr("name").unwrap_or(""));
                let index: u16 = attr("index").and_then(|i| i.parse().ok()).unwrap_or(0);
                assert_eq!(
                    method_named(&name).map(MethodSpec::id),
                    Some(MethodId(class.1, index)),
                    "{name}"
                );
                seen += 1;
                current = Some((name, Vec::new()));
            } else if tag.starts_with("field ") {
                if let Some((_, f)) = current.as_mut() {
                    f.push(attr("name").unwrap_or("").to_owned());
                }
            } else if tag.starts_with("/method")
                && let Some((n, f)) = current.take()
            {
                check(&n, &f);
            }
        }
        assert_eq!(seen, METHODS.len(), "every method of the XML, and no other");
    }
}
