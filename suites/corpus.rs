//! What every protocol's vector corpus (`suites/vectors/<protocol>/*.yaml`) shares: the
//! files compiled in, each parsed, its vectors compiled by the protocol and registered
//! as test cases. A file that does not parse, or a vector that does not compile (a
//! name used twice or badly formed, bad bytes, an unknown statement), is reported on
//! stderr and skipped: never a panic. What a vector sends and how the peer is judged
//! is the protocol's, in its `vectors.rs`.

use std::collections::BTreeSet;
use std::path::Path;

use hilt_runner::TestCase;
use serde::de::DeserializeOwned;

/// A protocol's corpus: its files, and the hooks that turn them into test cases.
pub(crate) trait Corpus {
    /// The protocol, as messages name it ("CoAP").
    const PROTOCOL: &'static str;
    /// The corpus's folder under `suites/vectors`.
    const FOLDER: &'static str;
    /// Every file, compiled in: its name without `.yaml`, and its text. A unit test
    /// ([`assert_lists_every_file`]) checks this list against the folder.
    const FILES: &'static [(&'static str, &'static str)];
    /// A file's contents.
    type File: DeserializeOwned;
    /// What compiling needs from outside the file (the manifest's statements), built
    /// once per load.
    type Context;
    /// One vector, compiled.
    type Vector;

    fn context() -> Self::Context;

    /// Compiles the vectors of `data`, read from `file` at `path`, into `out`; each one
    /// that does not compile is a problem, prefixed with `path` and its name.
    fn compile_file(
        file: &'static str,
        path: &str,
        data: Self::File,
        cx: &Self::Context,
        out: &mut Vec<Self::Vector>,
        problems: &mut Vec<String>,
    );

    /// The test case of one vector; `None` skips it.
    fn register(v: Self::Vector) -> Option<TestCase>;
}

/// Every vector of every file of `C`, and what was wrong with those skipped.
pub(crate) fn load<C: Corpus>() -> (Vec<C::Vector>, Vec<String>) {
    let cx = C::context();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (file, text) in C::FILES {
        let path = format!("suites/vectors/{}/{file}.yaml", C::FOLDER);
        match hilt_core::datafile::parse_yaml::<C::File>(Path::new(&path), text) {
            Ok(data) => C::compile_file(file, &path, data, &cx, &mut out, &mut problems),
            Err(e) => problems.push(e.to_string()),
        }
    }
    (out, problems)
}

/// The test cases of every vector of `C` that compiles; the others are reported.
pub(crate) fn tests<C: Corpus>() -> Vec<TestCase> {
    let (vectors, problems) = load::<C>();
    for p in &problems {
        eprintln!("hilt: skipped {} vector: {p}", C::PROTOCOL);
    }
    vectors.into_iter().filter_map(C::register).collect()
}

/// Whether `name` may name a vector in the file at `path`: lowercase letters, digits
/// and dashes (it becomes part of a test id), and not used before in the file
/// (`seen`). If not, says why in `problems`.
pub(crate) fn fresh_name(
    seen: &mut BTreeSet<String>,
    path: &str,
    name: &str,
    problems: &mut Vec<String>,
) -> bool {
    let well_formed = !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if !well_formed {
        problems.push(format!(
            "{path}: vector `{name}`: a name is lowercase letters, digits and dashes"
        ));
        return false;
    }
    if !seen.insert(name.to_owned()) {
        problems.push(format!("{path}: vector `{name}` is defined twice"));
        return false;
    }
    true
}

/// The statement ids the manifests of `doc` list.
pub(crate) fn statements_of(doc: &str) -> BTreeSet<String> {
    crate::manifest::all()
        .into_iter()
        .filter(|m| m.doc == doc)
        .flat_map(|m| m.statements.into_iter().map(|s| s.id))
        .collect()
}

/// Checks that `C` compiles in exactly the YAML files of its folder.
#[cfg(test)]
pub(crate) fn assert_lists_every_file<C: Corpus>() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(C::FOLDER);
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_owned))
        .collect();
    let listed: BTreeSet<String> = C::FILES.iter().map(|(f, _)| (*f).to_owned()).collect();
    assert_eq!(
        on_disk,
        listed,
        "FILES lists exactly the files in {}",
        dir.display()
    );
}
