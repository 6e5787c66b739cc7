//! UTF-8 Encoded Strings and the rules on Topic Names and Topic Filters.
//!
//! Rust's `str` already refuses ill-formed sequences and encoded surrogates, which is
//! exactly MQTT's well-formedness rule; MQTT adds U+0000 as forbidden. U+FEFF is kept as
//! is ([MQTT-1.5.4-3]): nothing here strips it.

use super::rules::Rule;

/// A string field breaks a rule; `at` is relative to the first byte of the string's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StrProblem {
    pub rule: Rule,
    pub at: usize,
    pub detail: String,
}

/// The text of a string field if it obeys MQTT's UTF-8 rules, or the first rule it breaks.
pub(crate) fn check_utf8(bytes: &[u8]) -> Result<&str, StrProblem> {
    match std::str::from_utf8(bytes) {
        // `contains` on bytes is the standard library's word-at-a-time search; the
        // position is only worth finding once we know there is one.
        Ok(text) if !bytes.contains(&0) => Ok(text),
        Ok(_) => Err(StrProblem {
            rule: Rule::Utf8Null,
            at: bytes.iter().position(|&b| b == 0).unwrap_or_default(),
            detail: "string contains U+0000".into(),
        }),
        Err(e) => {
            let at = e.valid_up_to();
            let lead = bytes.get(at).copied();
            let next = bytes.get(at + 1).copied();
            // 0xED 0xA0..=0xBF starts an encoded UTF-16 surrogate (U+D800..U+DFFF).
            let detail = if lead == Some(0xed) && matches!(next, Some(0xa0..=0xbf)) {
                "string encodes a surrogate code point (U+D800..U+DFFF)".to_string()
            } else {
                format!(
                    "string is not well-formed UTF-8 (byte 0x{:02x})",
                    lead.unwrap_or(0)
                )
            };
            Err(StrProblem {
                rule: Rule::Utf8IllFormed,
                at,
                detail,
            })
        }
    }
}

/// Whether `bytes` holds NUL, `+` or `#`: the bytes a Topic Name may not contain (U+0000
/// and the wildcards are single bytes below 0x80, which in UTF-8 only ever stand for
/// themselves). Eight bytes at a time with no branch per byte, since every PUBLISH
/// crosses it; where the byte is, the slow path finds out.
#[inline]
pub(crate) fn has_nul_or_wildcard(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Non-zero when some byte of `x` is zero. Borrows can flag a byte above a real
    // zero byte too, which only matters to a caller asking which byte: we never do.
    fn zero_byte(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGHS
    }
    fn forbidden(word: u64) -> u64 {
        zero_byte(word)
            | zero_byte(word ^ (ONES * u64::from(b'+')))
            | zero_byte(word ^ (ONES * u64::from(b'#')))
    }
    let mut words = bytes.chunks_exact(8);
    let mut found = 0;
    for word in &mut words {
        let mut w = [0; 8];
        w.copy_from_slice(word);
        found |= forbidden(u64::from_ne_bytes(w));
    }
    // The tail, padded with a byte that is none of the three.
    let mut last = [b'a'; 8];
    let tail = words.remainder();
    last[..tail.len()].copy_from_slice(tail);
    found |= forbidden(u64::from_ne_bytes(last));
    found != 0
}

/// The first wildcard in a Topic Name (they are only for filters).
pub(crate) fn topic_name_wildcard(name: &str) -> Option<StrProblem> {
    name.bytes()
        .position(|b| b == b'+' || b == b'#')
        .map(|at| StrProblem {
            rule: Rule::TopicNameWildcard,
            at,
            detail: format!("topic name {name:?} contains a wildcard"),
        })
}

/// Every rule a Topic Filter breaks: empty, or a wildcard that is not a whole level
/// (`#` also only as the last level).
pub(crate) fn topic_filter_problems(filter: &str) -> Vec<StrProblem> {
    let mut problems = Vec::new();
    if filter.is_empty() {
        problems.push(StrProblem {
            rule: Rule::TopicFilterEmpty,
            at: 0,
            detail: "topic filter is empty".into(),
        });
        return problems;
    }
    let level_count = filter.split('/').count();
    let mut at = 0;
    for (index, level) in filter.split('/').enumerate() {
        if level.contains('#') && (level != "#" || index + 1 != level_count) {
            problems.push(StrProblem {
                rule: Rule::MultiLevelWildcardPlacement,
                at,
                detail: format!("'#' in topic filter {filter:?} is not the whole last level"),
            });
        }
        if level.contains('+') && level != "+" {
            problems.push(StrProblem {
                rule: Rule::SingleLevelWildcardPlacement,
                at,
                detail: format!("'+' in topic filter {filter:?} is not a whole level"),
            });
        }
        at += level.len() + 1;
    }
    problems
}

/// Whether a Topic Name is valid to publish to: non-empty, no wildcards, no U+0000.
pub fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty() && topic_name_wildcard(name).is_none() && !name.contains('\0')
}

/// Whether a Topic Filter is valid to subscribe with.
pub fn is_valid_topic_filter(filter: &str) -> bool {
    topic_filter_problems(filter).is_empty() && !filter.contains('\0')
}

/// Whether `filter` names a Shared Subscription (`$share/{ShareName}/{filter}`).
pub fn is_shared_subscription(filter: &str) -> bool {
    filter.starts_with("$share/")
}

/// Whether a Topic Name matches a Topic Filter, wildcards included; names starting with
/// `$` are not matched by a leading wildcard.
pub fn topic_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut names = name.split('/');
    for level in filter.split('/') {
        match level {
            "#" => return true,
            "+" => {
                if names.next().is_none() {
                    return false;
                }
            }
            literal => {
                if names.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    names.next().is_none()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn well_formed_passes() {
        assert_eq!(check_utf8(b"a/b"), Ok("a/b"));
        // U+FEFF stays: it must not be stripped.
        assert_eq!(check_utf8("\u{feff}x".as_bytes()), Ok("\u{feff}x"));
    }

    #[test]
    fn ill_formed_surrogate_and_null() {
        let e = check_utf8(&[b'a', 0xc3, 0x28]).unwrap_err();
        assert_eq!((e.rule, e.at), (Rule::Utf8IllFormed, 1));
        let e = check_utf8(&[b'a', b'b', 0xed, 0xa0, 0x80]).unwrap_err();
        assert_eq!((e.rule, e.at), (Rule::Utf8IllFormed, 2));
        assert!(e.detail.contains("surrogate"));
        let e = check_utf8(b"ab\0c").unwrap_err();
        assert_eq!((e.rule, e.at), (Rule::Utf8Null, 2));
    }

    #[test]
    fn filters() {
        assert!(is_valid_topic_filter("a/+/b/#"));
        assert!(is_valid_topic_filter("#"));
        assert!(is_valid_topic_filter("+"));
        let p = topic_filter_problems("a/b#");
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].rule, p[0].at), (Rule::MultiLevelWildcardPlacement, 2));
        let p = topic_filter_problems("a/#/b");
        assert_eq!(p[0].rule, Rule::MultiLevelWildcardPlacement);
        let p = topic_filter_problems("a+/b");
        assert_eq!(
            (p[0].rule, p[0].at),
            (Rule::SingleLevelWildcardPlacement, 0)
        );
        assert_eq!(topic_filter_problems("")[0].rule, Rule::TopicFilterEmpty);
    }

    #[test]
    fn nul_or_wildcard_agrees_with_a_byte_scan() {
        // Every length up to three words, each forbidden byte (and bytes near them, and
        // high bytes whose low bits match) at every position.
        let probes = [
            0u8, b'+', b'#', 1, 0x2a, 0x2c, 0x22, 0x24, 0x80, 0xab, 0xa3, 0xff, b'a',
        ];
        for len in 0..=24 {
            for at in 0..len {
                for &probe in &probes {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = probe;
                    let want = bytes.iter().any(|&b| b == 0 || b == b'+' || b == b'#');
                    assert_eq!(has_nul_or_wildcard(&bytes), want, "{bytes:?}");
                }
            }
            assert!(!has_nul_or_wildcard(&vec![0xff; len]));
        }
    }

    #[test]
    fn names() {
        assert!(is_valid_topic_name("a/b"));
        assert!(!is_valid_topic_name(""));
        assert_eq!(topic_name_wildcard("a/+").map(|p| p.at), Some(2));
    }

    #[test]
    fn matching() {
        assert!(topic_matches("a/+/c", "a/b/c"));
        assert!(topic_matches("a/#", "a"));
        assert!(topic_matches("a/#", "a/b/c"));
        assert!(!topic_matches("a/+", "a/b/c"));
        assert!(!topic_matches("#", "$SYS/x"));
        assert!(topic_matches("$SYS/#", "$SYS/x"));
        assert!(!topic_matches("a/b", "a"));
    }
}
