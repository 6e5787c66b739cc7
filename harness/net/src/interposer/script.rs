//! The fault script of `hilt proxy`: one rule per line, parsed into [`Rule`]s.
//! The grammar is in the [module docs](super).

use std::time::Duration;

use thiserror::Error;

use super::rule::{Action, CloseKind, Dir, Match, Rule};

/// The grammar, as `hilt proxy --help-faults` prints it.
pub const SCRIPT_HELP: &str = "\
One rule per line; '#' starts a comment.

  rule    = dir match action [arg...] [option...]
  dir     = to-server | to-client | both
  match   = * | alt ('|' alt)*          alt = [!]KIND   (a frame kind such as PUBLISH; any case)
  action  = drop
          | delay DURATION              DURATION = N(us|ms|s|m), e.g. 500ms, 1.5s
          | duplicate | dup
          | corrupt OFFSET [XOR]        XOR defaults to 0xff
          | patch OFFSET BYTES
          | replace BYTES               the whole frame becomes BYTES
          | split OFFSET,OFFSET,...     written as separate TCP segments
          | reorder | stall
          | inject-before BYTES | inject-after BYTES
          | close fin|rst|blackhole | blackhole
  option  = nth=N | count=N | after=N   (matches are counted per connection and direction)
  numbers are decimal or 0x hex; BYTES = one or more 0xHEXPAIRS or decimal bytes

Examples:
  to-client CONNACK patch 3 0x05        # CONNACK return code 5: not authorised
  to-server PUBLISH drop nth=2          # the second PUBLISH never arrives
  to-client PUBACK delay 500ms
  both * split 1,3
  to-client * close rst after=3         # three frames reach the client, then a reset";

/// A script line that is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct ScriptError {
    /// 1-based.
    pub line: usize,
    pub kind: ScriptErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ScriptErrorKind {
    #[error("unknown direction `{0}` (expected to-server, to-client or both)")]
    UnknownDirection(String),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    #[error("bad {what} `{text}`: {why}")]
    Bad {
        what: &'static str,
        text: String,
        why: &'static str,
    },
    #[error("unexpected `{0}` after the action's arguments")]
    Unexpected(String),
    #[error("unknown option `{0}` (expected nth=, count= or after=)")]
    UnknownOption(String),
    #[error("option `{0}` given twice")]
    Repeated(String),
}

use ScriptErrorKind as K;

/// Parses a fault script. Blank lines and `#` comments are ignored.
pub fn parse_fault_script(text: &str) -> Result<Vec<Rule>, ScriptError> {
    let mut rules = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.is_empty() {
            continue;
        }
        rules.push(parse_rule(&tokens).map_err(|kind| ScriptError { line: i + 1, kind })?);
    }
    Ok(rules)
}

fn parse_rule(tokens: &[&str]) -> Result<Rule, ScriptErrorKind> {
    let dir = match tokens[0].to_ascii_lowercase().as_str() {
        "to-server" => Dir::ToServer,
        "to-client" => Dir::ToClient,
        "both" => Dir::Both,
        _ => return Err(K::UnknownDirection(tokens[0].into())),
    };
    let matcher = parse_match(tokens.get(1).ok_or(K::Missing("frame kind (or *)"))?)?;
    let name = tokens.get(2).ok_or(K::Missing("action"))?;
    let (args, opts): (Vec<&str>, Vec<&str>) = tokens[3..].iter().partition(|t| !t.contains('='));
    // Options go last so that a misplaced argument reads as an error, not as a value.
    if let Some(first_opt) = tokens[3..].iter().position(|t| t.contains('='))
        && let Some(late) = tokens[3 + first_opt..].iter().find(|t| !t.contains('='))
    {
        return Err(K::Unexpected((*late).into()));
    }
    let mut args = Args(args.into_iter());
    let action = parse_action(&name.to_ascii_lowercase(), &mut args)?;
    if let Some(extra) = args.0.next() {
        return Err(K::Unexpected(extra.into()));
    }

    let mut rule = Rule::new(dir, matcher, action);
    let mut seen: Vec<&str> = Vec::new();
    for opt in opts {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        if seen.contains(&key) {
            return Err(K::Repeated(key.into()));
        }
        seen.push(key);
        let n = number(value, "count")
            .and_then(|n| u32::try_from(n).map_err(|_| bad("count", value, "too large")))?;
        match key {
            "nth" if n == 0 => return Err(bad("nth", value, "matches count from 1")),
            "nth" => rule.nth = Some(n),
            "count" => rule.count = Some(n),
            "after" => rule.after = n,
            _ => return Err(K::UnknownOption(opt.into())),
        }
    }
    Ok(rule)
}

fn parse_match(text: &str) -> Result<Match, ScriptErrorKind> {
    if text == "*" {
        return Ok(Match::Any);
    }
    let mut alts = Vec::new();
    for alt in text.split('|') {
        let (neg, kind) = match alt.strip_prefix('!') {
            Some(k) => (true, k),
            None => (false, alt),
        };
        if kind.is_empty()
            || !kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(bad(
                "frame kind",
                text,
                "expected * or KIND, KIND|KIND, !KIND",
            ));
        }
        let m = Match::kind(kind.to_string());
        alts.push(if neg { m.not() } else { m });
    }
    Ok(if alts.len() == 1 {
        alts.remove(0)
    } else {
        Match::AnyOf(alts)
    })
}

struct Args<'a>(std::vec::IntoIter<&'a str>);

impl<'a> Args<'a> {
    fn next(&mut self, what: &'static str) -> Result<&'a str, ScriptErrorKind> {
        self.0.next().ok_or(K::Missing(what))
    }

    /// All remaining arguments as one byte string.
    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, ScriptErrorKind> {
        let mut out = Vec::new();
        let first = self.next(what)?;
        push_bytes(&mut out, first)?;
        for t in self.0.by_ref() {
            push_bytes(&mut out, t)?;
        }
        Ok(out)
    }
}

fn parse_action(name: &str, args: &mut Args<'_>) -> Result<Action, ScriptErrorKind> {
    Ok(match name {
        "drop" => Action::Drop,
        "delay" => Action::Delay(duration(args.next("delay duration")?)?),
        "duplicate" | "dup" => Action::Duplicate,
        "corrupt" => {
            let offset = offset(args.next("corrupt offset")?)?;
            let xor = match args.0.next() {
                Some(t) => byte(t)?,
                None => 0xff,
            };
            Action::Corrupt { offset, xor }
        }
        "patch" => Action::Patch {
            offset: offset(args.next("patch offset")?)?,
            bytes: args.bytes("patch bytes")?,
        },
        "replace" => {
            let bytes = args.bytes("replacement bytes")?;
            Action::rewrite(move |_| bytes.clone())
        }
        "split" => {
            let list = args.next("split offsets")?;
            let at = list.split(',').map(offset).collect::<Result<Vec<_>, _>>()?;
            Action::Split { at }
        }
        "reorder" => Action::Reorder,
        "stall" => Action::Stall,
        "inject-before" => Action::InjectBefore(args.bytes("bytes to inject")?),
        "inject-after" => Action::InjectAfter(args.bytes("bytes to inject")?),
        "close" => {
            let how = args.next("close kind (fin, rst or blackhole)")?;
            Action::Close(match how.to_ascii_lowercase().as_str() {
                "fin" => CloseKind::Fin,
                "rst" | "reset" => CloseKind::Rst,
                "blackhole" | "black-hole" => CloseKind::BlackHole,
                _ => return Err(bad("close kind", how, "expected fin, rst or blackhole")),
            })
        }
        "blackhole" | "black-hole" => Action::Close(CloseKind::BlackHole),
        "rewrite" => {
            return Err(bad(
                "action",
                name,
                "a rewrite needs code; in a script use `replace BYTES` or `patch`",
            ));
        }
        _ => return Err(K::UnknownAction(name.into())),
    })
}

fn bad(what: &'static str, text: &str, why: &'static str) -> ScriptErrorKind {
    K::Bad {
        what,
        text: text.into(),
        why,
    }
}

/// Decimal, or hexadecimal with `0x`.
fn number(text: &str, what: &'static str) -> Result<u64, ScriptErrorKind> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| bad(what, text, "expected a number (decimal or 0x hex)"))
}

fn offset(text: &str) -> Result<usize, ScriptErrorKind> {
    let n = number(text, "offset")?;
    usize::try_from(n).map_err(|_| bad("offset", text, "too large"))
}

fn byte(text: &str) -> Result<u8, ScriptErrorKind> {
    let n = number(text, "byte")?;
    u8::try_from(n).map_err(|_| bad("byte", text, "over 255"))
}

/// `0x` with pairs of hex digits (any length), or one decimal byte.
fn push_bytes(out: &mut Vec<u8>, text: &str) -> Result<(), ScriptErrorKind> {
    let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) else {
        out.push(byte(text)?);
        return Ok(());
    };
    if hex.is_empty() || hex.len() % 2 != 0 {
        return Err(bad("bytes", text, "expected pairs of hex digits after 0x"));
    }
    for pair in hex.as_bytes().chunks(2) {
        let s = std::str::from_utf8(pair).unwrap_or("");
        out.push(u8::from_str_radix(s, 16).map_err(|_| bad("bytes", text, "not hexadecimal"))?);
    }
    Ok(())
}

/// `250us`, `500ms`, `2s`, `1.5s`, `1m`.
fn duration(text: &str) -> Result<Duration, ScriptErrorKind> {
    const WHY: &str = "expected a number with us, ms, s or m";
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or(bad("duration", text, WHY))?;
    let (num, unit) = text.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad("duration", text, WHY))?;
    let secs = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(bad("duration", text, WHY)),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad("duration", text, "out of range"))
}

#[cfg(test)]
mod test {
    use super::*;

    fn one(line: &str) -> Rule {
        let mut v = parse_fault_script(line).expect(line);
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    fn err(text: &str) -> ScriptError {
        parse_fault_script(text).expect_err(text)
    }

    #[test]
    fn the_examples_parse() {
        let r = one("to-client CONNACK patch 3 0x05");
        assert_eq!(r.dir, Dir::ToClient);
        assert!(matches!(&r.matcher, Match::Kind(k) if k == "CONNACK"));
        assert!(matches!(&r.action, Action::Patch { offset: 3, bytes } if bytes == &[5]));

        let r = one("to-server PUBLISH drop nth=2");
        assert_eq!(
            (r.dir, r.nth, r.count, r.after),
            (Dir::ToServer, Some(2), None, 0)
        );
        assert!(matches!(r.action, Action::Drop));

        let r = one("to-client PUBACK delay 500ms");
        assert!(matches!(r.action, Action::Delay(d) if d == Duration::from_millis(500)));

        let r = one("both * split 1,3");
        assert_eq!(r.dir, Dir::Both);
        assert!(matches!(r.matcher, Match::Any));
        assert!(matches!(&r.action, Action::Split { at } if at == &[1, 3]));

        let r = one("to-client * close rst after=3");
        assert_eq!(r.after, 3);
        assert!(matches!(r.action, Action::Close(CloseKind::Rst)));
    }

    #[test]
    fn every_action_parses() {
        let script = "
            # a comment line, then blank

            both * drop count=1 after=2   # trailing comment
            both * dup
            both * corrupt 0x10
            both * corrupt 4 0x01
            both * patch 1 0x0102 3
            both * replace 0xdeadbeef
            both * reorder
            both * stall
            both * inject-before 0x30 0x00
            both * inject-after 0xe000
            both * close fin
            both * blackhole
            both PUBLISH|!PINGREQ delay 1.5s
        ";
        let rules = parse_fault_script(script).unwrap();
        assert_eq!(rules.len(), 13);
        assert!(matches!(
            rules[2].action,
            Action::Corrupt {
                offset: 16,
                xor: 0xff
            }
        ));
        assert!(
            matches!(&rules[4].action, Action::Patch { offset: 1, bytes } if bytes == &[1, 2, 3])
        );
        let Action::Rewrite(f) = &rules[5].action else {
            panic!("replace is a rewrite")
        };
        assert_eq!(f(b"x"), [0xde, 0xad, 0xbe, 0xef]);
        assert!(matches!(&rules[8].action, Action::InjectBefore(b) if b == &[0x30, 0]));
        assert!(matches!(
            rules[11].action,
            Action::Close(CloseKind::BlackHole)
        ));
        assert!(matches!(&rules[12].matcher, Match::AnyOf(v) if v.len() == 2));
        assert!(matches!(rules[12].action, Action::Delay(d) if d == Duration::from_millis(1500)));
    }

    #[test]
    fn errors_name_the_line() {
        let e = err("both * drop\n\nsideways * drop");
        assert_eq!(e.line, 3);
        assert!(matches!(e.kind, K::UnknownDirection(_)));
        assert!(
            e.to_string()
                .starts_with("line 3: unknown direction `sideways`")
        );

        assert_eq!(err("# c\nboth *").kind, K::Missing("action"));
        assert_eq!(err("both").kind, K::Missing("frame kind (or *)"));
        assert_eq!(err("both * frob").kind, K::UnknownAction("frob".into()));
        assert_eq!(err("both * drop 3").kind, K::Unexpected("3".into()));
        assert_eq!(err("both * drop nth=1 3").kind, K::Unexpected("3".into()));
        assert_eq!(
            err("both * drop when=3").kind,
            K::UnknownOption("when=3".into())
        );
        assert_eq!(
            err("both * drop nth=1 nth=2").kind,
            K::Repeated("nth".into())
        );
        assert!(matches!(
            err("both * drop nth=0").kind,
            K::Bad { what: "nth", .. }
        ));
        assert!(matches!(
            err("both * delay 5").kind,
            K::Bad {
                what: "duration",
                ..
            }
        ));
        assert!(matches!(
            err("both * delay fast").kind,
            K::Bad {
                what: "duration",
                ..
            }
        ));
        assert!(matches!(
            err("both * patch 1 0x123").kind,
            K::Bad { what: "bytes", .. }
        ));
        assert!(matches!(
            err("both * patch 1 256").kind,
            K::Bad { what: "byte", .. }
        ));
        assert!(matches!(
            err("both * patch 1 0xzz").kind,
            K::Bad { what: "bytes", .. }
        ));
        assert_eq!(err("both * patch 1").kind, K::Missing("patch bytes"));
        assert!(matches!(
            err("both * split 1,,3").kind,
            K::Bad { what: "offset", .. }
        ));
        assert!(matches!(
            err("both * close soft").kind,
            K::Bad {
                what: "close kind",
                ..
            }
        ));
        assert!(matches!(
            err("both P|| drop").kind,
            K::Bad {
                what: "frame kind",
                ..
            }
        ));
        assert!(matches!(
            err("both * rewrite").kind,
            K::Bad { what: "action", .. }
        ));
        assert!(matches!(
            err("both * drop count=99999999999").kind,
            K::Bad { .. }
        ));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in [
            "both * delay 1e400s",
            "both * delay .s",
            "both * delay 99999999999999999999m",
            "both * patch 99999999999999999999999 1",
            "both * corrupt 0x",
            "both * patch 1 0xé1",
            "both ! drop",
            "to-server \u{0} drop",
        ] {
            let _ = parse_fault_script(text);
        }
    }
}
