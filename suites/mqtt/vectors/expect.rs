//! What a vector expects of the broker, and the judgement of what it did.
//!
//! ```text
//! expect  = alt ( "|" alt )*          any alternative may hold
//! alt     = ( step "," )* end
//! step    = connack CODE | suback CODE+ | unsuback CODE* | puback CODE? | pubrec CODE?
//!         | pubcomp CODE? | pubrel CODE? | disconnect CODE | publish
//! end     = close            the broker closes; a PINGREQ probe follows the vector, and a
//!                            PINGRESP proves it kept the connection (no timer needed)
//!         | close-no-probe   the same without the probe, for vectors whose declared
//!                            length would swallow it (the response deadline decides)
//!         | alive            the broker answers the probe and sends nothing unexpected
//! CODE    = two hex digits
//! ```
//!
//! Before a `close`, MQTT 5.0 lets the broker say why: a CONNACK with a reason code of
//! 0x80 or above answering a CONNECT (no CONNACK sent yet), or a DISCONNECT of 0x80 or
//! above once a CONNACK accepted the connection. MQTT 3.1.1 allows nothing but what the
//! steps list.

use hilt_wire::mqtt::{Packet, Version};

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    ConnAck(u8),
    SubAck(Vec<u8>),
    UnsubAck(Vec<u8>),
    PubAck(Option<u8>),
    PubRec(Option<u8>),
    PubComp(Option<u8>),
    PubRel(Option<u8>),
    Disconnect(u8),
    Publish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Close { probe: bool },
    Alive,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alt {
    pub steps: Vec<Step>,
    pub end: End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expect(pub Vec<Alt>);

/// How the observation of the broker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Closed,
    /// It answered the probe PINGREQ.
    Answered,
    Silent,
}

impl Expect {
    pub fn parse(text: &str) -> Result<Expect, String> {
        let alts = text
            .split('|')
            .map(parse_alt)
            .collect::<Result<Vec<_>, _>>()?;
        let probes: Vec<bool> = alts.iter().map(|a| a.probes()).collect();
        if probes.iter().any(|p| *p != probes[0]) {
            return Err("alternatives disagree on whether to send the PINGREQ probe".into());
        }
        Ok(Expect(alts))
    }

    /// Whether a PINGREQ follows the vector.
    pub fn probes(&self) -> bool {
        self.0[0].probes()
    }

    /// Whether every outcome this allows ends with the broker closing.
    pub fn closes(&self) -> bool {
        self.0.iter().all(|a| matches!(a.end, End::Close { .. }))
    }

    pub fn alive(&self) -> bool {
        self.0.iter().all(|a| a.end == End::Alive)
    }

    pub fn may_close(&self) -> bool {
        self.0.iter().any(|a| matches!(a.end, End::Close { .. }))
    }

    /// Whether the probe should wait for the broker's first packet: every outcome starts
    /// with a packet or is a close, so a probe written at once could only race a close
    /// (a reset on unread data) and lose the packet that decides.
    pub fn probe_after_first_packet(&self) -> bool {
        self.0.iter().any(|a| !a.steps.is_empty()) && !self.bare_alive()
    }

    /// Whether carrying on without a word is one of the outcomes allowed.
    pub fn bare_alive(&self) -> bool {
        self.0
            .iter()
            .any(|a| a.end == End::Alive && a.steps.is_empty())
    }

    /// `Ok` if some alternative holds; otherwise why the first one does not.
    pub fn judge(&self, seen: &[Packet], ending: Ending, ctx: &JudgeCtx) -> Result<(), String> {
        let mut first = None;
        for alt in &self.0 {
            match alt.judge(seen, ending, ctx) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.unwrap_or_default())
    }
}

/// What judging needs to know about the run.
pub struct JudgeCtx {
    pub version: Version,
    /// A CONNACK accepted the connection before the vector was sent.
    pub connected: bool,
    pub response: std::time::Duration,
}

impl Alt {
    fn probes(&self) -> bool {
        matches!(self.end, End::Close { probe: true } | End::Alive)
    }

    fn judge(&self, seen: &[Packet], ending: Ending, ctx: &JudgeCtx) -> Result<(), String> {
        let v = ctx.version;
        let mut connected = ctx.connected;
        let mut acked = ctx.connected;
        let mut rest = seen.iter();
        for step in &self.steps {
            let Some(p) = rest.next() else {
                return Err(format!(
                    "expected {}: {}",
                    step.describe(),
                    ended(ending, ctx)
                ));
            };
            if !step.matches(p) {
                return Err(format!(
                    "expected {}, the broker sent {}",
                    step.describe(),
                    summary(p, v)
                ));
            }
            if let Packet::ConnAck(a) = p {
                acked = true;
                connected = a.code.0 < 0x80 && (v == Version::V5 || a.code.0 == 0);
            }
        }
        for p in rest {
            let excused = match (self.end, p) {
                (End::Close { .. }, Packet::ConnAck(a)) if v == Version::V5 && !acked => {
                    a.code.0 >= 0x80
                }
                (End::Close { .. }, Packet::Disconnect(d)) if v == Version::V5 && connected => {
                    d.code.0 >= 0x80
                }
                _ => false,
            };
            if !excused {
                let instead = match self.end {
                    End::Close { .. } => "instead of closing the connection",
                    End::Alive => "unasked",
                };
                return Err(format!("the broker sent {} {instead}", summary(p, v)));
            }
            acked |= matches!(p, Packet::ConnAck(_));
        }
        match (self.end, ending) {
            (End::Close { .. }, Ending::Closed) | (End::Alive, Ending::Answered) => Ok(()),
            (End::Close { .. }, _) | (End::Alive, _) => Err(ended(ending, ctx)),
        }
    }
}

fn ended(ending: Ending, ctx: &JudgeCtx) -> String {
    match ending {
        Ending::Closed => "the broker closed the connection".into(),
        Ending::Answered => {
            "the broker answered the PINGREQ probe and kept the connection open".into()
        }
        Ending::Silent => format!(
            "the broker neither closed the connection nor answered within {:?}",
            ctx.response
        ),
    }
}

fn summary(p: &Packet, v: Version) -> String {
    hilt_wire::mqtt::summarize(p, v)
}

impl Step {
    fn matches(&self, p: &Packet) -> bool {
        let code = |want: &Option<u8>, got: u8| want.is_none_or(|w| w == got);
        match (self, p) {
            (Step::ConnAck(c), Packet::ConnAck(a)) => a.code.0 == *c,
            (Step::SubAck(cs), Packet::SubAck(a)) => {
                a.codes.iter().map(|c| c.0).eq(cs.iter().copied())
            }
            (Step::UnsubAck(cs), Packet::UnsubAck(a)) => {
                cs.is_empty() || a.codes.iter().map(|c| c.0).eq(cs.iter().copied())
            }
            (Step::PubAck(c), Packet::PubAck(a))
            | (Step::PubRec(c), Packet::PubRec(a))
            | (Step::PubComp(c), Packet::PubComp(a))
            | (Step::PubRel(c), Packet::PubRel(a)) => code(c, a.code.0),
            (Step::Disconnect(c), Packet::Disconnect(d)) => d.code.0 == *c,
            (Step::Publish, Packet::Publish(_)) => true,
            _ => false,
        }
    }

    fn describe(&self) -> String {
        let hex = |cs: &[u8]| {
            cs.iter()
                .map(|c| format!("{c:#04x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let opt = |c: &Option<u8>| c.map(|c| format!(" {c:#04x}")).unwrap_or_default();
        match self {
            Step::ConnAck(c) => format!("CONNACK {c:#04x}"),
            Step::SubAck(cs) => format!("SUBACK [{}]", hex(cs)),
            Step::UnsubAck(cs) => format!("UNSUBACK [{}]", hex(cs)),
            Step::PubAck(c) => format!("PUBACK{}", opt(c)),
            Step::PubRec(c) => format!("PUBREC{}", opt(c)),
            Step::PubComp(c) => format!("PUBCOMP{}", opt(c)),
            Step::PubRel(c) => format!("PUBREL{}", opt(c)),
            Step::Disconnect(c) => format!("DISCONNECT {c:#04x}"),
            Step::Publish => "a PUBLISH".into(),
        }
    }
}

fn parse_alt(text: &str) -> Result<Alt, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let (last, steps) = parts.split_last().ok_or("empty expectation")?;
    let end = match *last {
        "close" => End::Close { probe: true },
        "close-no-probe" => End::Close { probe: false },
        "alive" => End::Alive,
        other => {
            return Err(format!(
                "`{other}`: an expectation ends with close, close-no-probe or alive"
            ));
        }
    };
    let steps = steps
        .iter()
        .map(|s| parse_step(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Alt { steps, end })
}

fn parse_step(text: &str) -> Result<Step, String> {
    let mut words = text.split_whitespace();
    let kind = words.next().ok_or("empty step")?;
    let codes = words
        .map(|w| {
            u8::from_str_radix(w.trim_start_matches("0x"), 16)
                .map_err(|_| format!("`{w}` is not a hex reason code"))
        })
        .collect::<Result<Vec<u8>, _>>()?;
    let one = |codes: &[u8]| -> Result<u8, String> {
        match codes {
            [c] => Ok(*c),
            _ => Err(format!("`{text}` takes exactly one code")),
        }
    };
    let maybe = |codes: &[u8]| -> Result<Option<u8>, String> {
        match codes {
            [] => Ok(None),
            [c] => Ok(Some(*c)),
            _ => Err(format!("`{text}` takes at most one code")),
        }
    };
    Ok(match kind {
        "connack" => Step::ConnAck(one(&codes)?),
        "suback" if !codes.is_empty() => Step::SubAck(codes),
        "unsuback" => Step::UnsubAck(codes),
        "puback" => Step::PubAck(maybe(&codes)?),
        "pubrec" => Step::PubRec(maybe(&codes)?),
        "pubcomp" => Step::PubComp(maybe(&codes)?),
        "pubrel" => Step::PubRel(maybe(&codes)?),
        "disconnect" => Step::Disconnect(one(&codes)?),
        "publish" if codes.is_empty() => Step::Publish,
        _ => return Err(format!("`{text}` is not a step")),
    })
}

#[cfg(test)]
mod test {
    use std::time::Duration;

    use hilt_wire::mqtt::{ConnAck, Disconnect, ReasonCode};

    use super::*;

    fn ctx(version: Version, connected: bool) -> JudgeCtx {
        JudgeCtx {
            version,
            connected,
            response: Duration::from_secs(1),
        }
    }

    fn connack(code: u8) -> Packet {
        Packet::ConnAck(ConnAck {
            code: ReasonCode(code),
            ..ConnAck::default()
        })
    }

    fn disconnect(code: u8) -> Packet {
        Packet::Disconnect(Disconnect {
            code: ReasonCode(code),
            ..Disconnect::default()
        })
    }

    #[test]
    fn parses() {
        let e = Expect::parse("connack 01, close | close").unwrap();
        assert_eq!(e.0.len(), 2);
        assert_eq!(e.0[0].steps, [Step::ConnAck(1)]);
        assert!(e.closes() && e.probes());
        assert!(Expect::parse("suback 00 80, alive").unwrap().alive());
        assert!(Expect::parse("close | close-no-probe").is_err());
        assert!(Expect::parse("suback").is_err());
        assert!(Expect::parse("close, alive").is_err());
    }

    #[test]
    fn close_allows_only_error_codes_before_closing() {
        let close = Expect::parse("close").unwrap();
        let v5c = ctx(Version::V5, true);
        assert!(
            close
                .judge(&[disconnect(0x81)], Ending::Closed, &v5c)
                .is_ok()
        );
        assert!(
            close
                .judge(&[disconnect(0x00)], Ending::Closed, &v5c)
                .is_err()
        );
        assert!(
            close
                .judge(&[], Ending::Answered, &v5c)
                .unwrap_err()
                .contains("PINGREQ probe")
        );
        assert!(
            close
                .judge(&[], Ending::Silent, &v5c)
                .unwrap_err()
                .contains("neither")
        );
        // A CONNECT vector: CONNACK ≥ 0x80 is fine in 5.0, never a DISCONNECT first.
        let v5n = ctx(Version::V5, false);
        assert!(close.judge(&[connack(0x84)], Ending::Closed, &v5n).is_ok());
        assert!(close.judge(&[connack(0x00)], Ending::Closed, &v5n).is_err());
        assert!(
            close
                .judge(&[disconnect(0x81)], Ending::Closed, &v5n)
                .is_err()
        );
        // 3.1.1: nothing but the close.
        let v3n = ctx(Version::V311, false);
        assert!(close.judge(&[connack(0x02)], Ending::Closed, &v3n).is_err());
        let alt = Expect::parse("connack 01, close | close").unwrap();
        assert!(alt.judge(&[connack(0x01)], Ending::Closed, &v3n).is_ok());
        assert!(alt.judge(&[], Ending::Closed, &v3n).is_ok());
        assert!(alt.judge(&[connack(0x00)], Ending::Answered, &v3n).is_err());
    }

    #[test]
    fn alive_needs_the_answer_and_nothing_else() {
        let alive = Expect::parse("connack 00, alive").unwrap();
        let c = ctx(Version::V311, false);
        assert!(alive.judge(&[connack(0)], Ending::Answered, &c).is_ok());
        assert!(
            alive
                .judge(&[connack(0), connack(0)], Ending::Answered, &c)
                .is_err()
        );
        assert!(alive.judge(&[connack(0)], Ending::Closed, &c).is_err());
    }
}
