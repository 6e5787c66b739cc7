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
        Ok(text) => match text.bytes().position(|b| b == 0) {
            Some(at) => Err(StrProblem {
                rule: Rule::Utf8Null,
                at,
                detail: "string contains U+0000".into(),
            }),
            None => Ok(text),
        },
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
