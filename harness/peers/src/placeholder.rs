//! Filling `{dir}`, `{host}`, `{name}` and `{port.NAME}` (one instance's) and `{root}`
//! and `{venv}` (places on this machine, see [`crate::places`]) into a target's strings.
//!
//! A placeholder is `{` + a name made of letters, digits, `_`, `-` and `.` + `}`. Any
//! other brace is literal, so Erlang terms such as `{127,0,0,1}` or `{rabbit, [...]}`
//! pass through untouched. A placeholder-shaped word that hilt does not know is an
//! error rather than literal text: a typo like `{prot.mqtt}` must fail at launch, not
//! produce a broker listening somewhere unexpected.

use std::collections::BTreeMap;

/// The values placeholders are filled with for one instance.
#[derive(Debug, Clone)]
pub(crate) struct Placeholders {
    pub dir: String,
    pub host: String,
    pub name: String,
    pub ports: BTreeMap<String, u16>,
}

/// A placeholder that could not be filled: its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unfilled {
    pub placeholder: String,
    pub reason: String,
}

impl Placeholders {
    pub fn fill(&self, text: &str) -> Result<String, Unfilled> {
        fill_with(text, |word| self.value(word))
    }

    fn value(&self, word: &str) -> Result<String, Unfilled> {
        let unfilled = |reason: String| Unfilled {
            placeholder: word.to_owned(),
            reason,
        };
        match word {
            "dir" => Ok(self.dir.clone()),
            "host" => Ok(self.host.clone()),
            "name" => Ok(self.name.clone()),
            _ => match word.strip_prefix("port.") {
                Some(port) => self.ports.get(port).map(u16::to_string).ok_or_else(|| {
                    let known: Vec<&str> = self.ports.keys().map(String::as_str).collect();
                    unfilled(format!(
                        "no port named `{port}` (ports: {})",
                        known.join(", ")
                    ))
                }),
                None => place(word).unwrap_or_else(|| {
                    Err(unfilled(
                        "unknown placeholder (known: {dir} {host} {name} {port.NAME} {root} {venv})"
                            .into(),
                    ))
                }),
            },
        }
    }
}

/// Fills only `{root}` and `{venv}`: for strings outside any instance, such as the
/// program to run, which hilt must find before it allocates anything.
pub(crate) fn fill_places(text: &str) -> Result<String, Unfilled> {
    fill_with(text, |word| {
        place(word).unwrap_or_else(|| {
            Err(Unfilled {
                placeholder: word.to_owned(),
                reason: "only {root} and {venv} may appear here".into(),
            })
        })
    })
}

/// The value of a machine-wide placeholder, or `None` when `word` is not one.
pub(crate) fn place(word: &str) -> Option<Result<String, Unfilled>> {
    let (found, missing) = match word {
        "root" => (
            crate::places::project_root(),
            "the project folder holding targets/ was not found (run hilt from it, or set HILT_ROOT)",
        ),
        "venv" => (
            crate::places::python_venv(),
            "neither HILT_VENV nor HOME is set",
        ),
        _ => return None,
    };
    Some(
        found
            .map(|p| p.to_string_lossy().into_owned())
            .ok_or_else(|| Unfilled {
                placeholder: word.to_owned(),
                reason: missing.into(),
            }),
    )
}

/// Fills every placeholder of `text` with what `value` gives for its name.
pub(crate) fn fill_with(
    text: &str,
    value: impl Fn(&str) -> Result<String, Unfilled>,
) -> Result<String, Unfilled> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let word_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(after.len());
        if word_len > 0 && after[word_len..].starts_with('}') {
            out.push_str(&value(&after[..word_len])?);
            rest = &after[word_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod test {
    use super::*;

    fn ph() -> Placeholders {
        Placeholders {
            dir: "/run/x".into(),
            host: "127.0.0.1".into(),
            name: "t1".into(),
            ports: [("mqtt".to_owned(), 41883)].into_iter().collect(),
        }
    }

    #[test]
    fn fills_every_kind() {
        assert_eq!(
            ph().fill("listener {port.mqtt} {host}\npersistence_location {dir}/ # {name}")
                .unwrap(),
            "listener 41883 127.0.0.1\npersistence_location /run/x/ # t1"
        );
    }

    #[test]
    fn erlang_terms_stay_literal() {
        let s = "-kernel inet_dist_use_interface {127,0,0,1} [{rabbit, [{a, b}]}]. {} {";
        assert_eq!(ph().fill(s).unwrap(), s);
    }

    #[test]
    fn unknown_names_are_errors() {
        let e = ph().fill("{port.amqp}").unwrap_err();
        assert_eq!(e.placeholder, "port.amqp");
        assert!(e.reason.contains("mqtt"), "{}", e.reason);
        assert!(ph().fill("x {prot.mqtt} y").is_err());
    }

    #[test]
    fn places_fill_everywhere_and_instance_words_not_in_programs() {
        let python = ph().fill("{venv}/bin/python").unwrap();
        assert!(python.len() > "/bin/python".len(), "{python}");
        let targets = fill_places("{root}/targets").unwrap();
        assert!(std::path::Path::new(&targets).is_dir(), "{targets}");
        let e = fill_places("{dir}/run").unwrap_err();
        assert_eq!(e.placeholder, "dir");
    }

    #[test]
    fn handles_multibyte_text() {
        assert_eq!(ph().fill("é{name}ü{").unwrap(), "ét1ü{");
    }
}
