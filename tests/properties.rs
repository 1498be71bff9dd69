//! Hostile input, generated: the matrix parser (TOML and YAML), the snapshot parser and version/specifier handling
//! never panic, and every rejection of a file is bad input (exit 2), each of its lines (one per problem) located at
//! `file:line:column`. Inputs are arbitrary text, valid files with one value replaced by an arbitrary one, and valid
//! files with one edit.
//! `PROPTEST_CASES` scales every property (CI runs proptest's default, 256).

use std::path::Path;

use proptest::prelude::*;
use qcompat::error::Error;
use qcompat::index::version::{admits, contains, parse_specifiers, parse_version};

const MATRIX: &str = r#"name = "m"
python = "3.11"
probes = ["toy-load"]
timeout = "30s"

[axes]
toyquant = ["1.0", "1.2"]
toyhelper = { versions = ">=1.0", pre = false }

[pins]
numpy = "<2"

[[exclude]]
toyquant = "1.0"

[[known]]
id = "k"
signature = "AttributeError"
when = { toyquant = "==1.2" }
"#;

const SNAPSHOT: &str = r#"matrix = "m"

[[cell]]
key = { toyquant = "1.0" }

[cell.resolved]
toyquant = "1.0"

[[cell.probe]]
name = "toy-load"
outcome = "fail"
signature = "AttributeError: x"
metrics = { loss = 1.5 }
"#;

/// Every value of the templates above, in order of appearance (a replaced one is found by this text).
const MATRIX_VALUES: [&str; 12] = [
    "\"m\"",
    "\"3.11\"",
    "\"toy-load\"",
    "\"30s\"",
    "\"1.0\"",
    "\">=1.0\"",
    "\"<2\"",
    "\"1.0\"",
    "\"k\"",
    "\"AttributeError\"",
    "\"==1.2\"",
    "toyquant",
];
const SNAPSHOT_VALUES: [&str; 6] = [
    "\"m\"",
    "toyquant",
    "\"1.0\"",
    "\"toy-load\"",
    "\"fail\"",
    "1.5",
];

/// Strings a hostile or careless author writes: arbitrary text, version-like text, path tricks.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9a-z.=<>!~*,+ -]{0,16}",
        "(\\.\\./|/|\\\\|\u{0}|\u{1b}\\[31m|é|🦀){1,4}[a-z]{0,4}",
        Just(String::new()),
    ]
}

/// `text` is `file:line:column: message` for `path`.
fn located(text: &str, path: &Path) -> bool {
    let Some(rest) = text.strip_prefix(&format!("{}:", path.display())) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let number =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    number(parts.next()) && number(parts.next()) && parts.next().is_some_and(|m| m.starts_with(' '))
}

/// Every line of `message` is `file:line:column: message` for `path` (a matrix lists every problem it has).
fn all_located(message: &str, path: &Path) -> bool {
    message.lines().count() > 0 && message.lines().all(|line| located(line, path))
}

/// Loads `text` as a matrix file; Err(reason) when a rejection is anything but located bad input.
fn check_matrix(text: &str, extension: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("m.{extension}"));
    std::fs::write(&path, text).unwrap();
    match qcompat::matrix::load(&path) {
        Ok(_) => Ok(()),
        Err(Error::BadInput(message)) if all_located(&message, &path) => Ok(()),
        Err(other) => Err(format!("{other:?}\nfor:\n{text}")),
    }
}

fn check_snapshot(text: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.snap.toml");
    std::fs::write(&path, text).unwrap();
    match qcompat::snapshot::read(&path) {
        Ok(_) => Ok(()),
        Err(Error::BadInput(message)) if located(&message, &path) && !message.contains('\n') => {
            Ok(())
        }
        Err(other) => Err(format!("{other:?}\nfor:\n{text}")),
    }
}

/// `template` with its `index`-th value replaced by `value`, quoted as a TOML string (or bare, for a key).
fn replaced(template: &str, values: &[&str], index: usize, value: &str) -> String {
    let needle = values[index % values.len()];
    let quoted = toml::Value::String(value.to_string()).to_string();
    let mut start = 0;
    for earlier in &values[..index % values.len()] {
        if let Some(found) = template[start..].find(earlier) {
            start += found + earlier.len();
        }
    }
    match template[start..].find(needle) {
        Some(found) => format!(
            "{}{quoted}{}",
            &template[..start + found],
            &template[start + found + needle.len()..]
        ),
        None => template.to_string(),
    }
}

/// `text` with one character inserted at, or removed from, a position.
fn edited(text: &str, at: usize, insert: Option<char>) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    match insert {
        Some(c) => chars.insert(at, c),
        None if at < chars.len() => {
            chars.remove(at);
        }
        None => {}
    }
    chars.into_iter().collect()
}

/// YAML for the matrix template: the same document, so that replaced values reach validation.
fn yaml(name: &str, version: &str, specifier: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap();
    format!(
        "name: {}\nprobes: [toy-load]\naxes:\n  toyquant: [{}]\n  toyhelper: {{versions: {}}}\nknown:\n  - id: k\n    signature: x\n    when: {{toyquant: {}}}\n",
        q(name),
        q(version),
        q(specifier),
        q(specifier)
    )
}

// proptest's defaults: 256 cases per property, `PROPTEST_CASES` to change.
proptest! {
    #[test]
    fn matrix_text_never_panics_and_every_rejection_is_located(text in any::<String>()) {
        check_matrix(&text, "toml").map_err(TestCaseError::fail)?;
        check_matrix(&text, "yaml").map_err(TestCaseError::fail)?;
    }

    #[test]
    fn matrix_values_never_panic_and_every_rejection_is_located(index in 0usize..12, value in hostile()) {
        check_matrix(&replaced(MATRIX, &MATRIX_VALUES, index, &value), "toml").map_err(TestCaseError::fail)?;
    }

    #[test]
    fn matrix_edits_never_panic_and_every_rejection_is_located(at in any::<usize>(), insert in proptest::option::of(any::<char>())) {
        check_matrix(&edited(MATRIX, at, insert), "toml").map_err(TestCaseError::fail)?;
    }

    #[test]
    fn yaml_matrix_values_never_panic_and_every_rejection_is_located(name in hostile(), version in hostile(), specifier in hostile()) {
        check_matrix(&yaml(&name, &version, &specifier), "yaml").map_err(TestCaseError::fail)?;
    }

    #[test]
    fn snapshot_text_never_panics_and_every_rejection_is_located(text in any::<String>()) {
        check_snapshot(&text).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn snapshot_values_never_panic_and_every_rejection_is_located(index in 0usize..6, value in hostile()) {
        check_snapshot(&replaced(SNAPSHOT, &SNAPSHOT_VALUES, index, &value)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn snapshot_edits_never_panic_and_every_rejection_is_located(at in any::<usize>(), insert in proptest::option::of(any::<char>())) {
        check_snapshot(&edited(SNAPSHOT, at, insert)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn versions_and_specifiers_never_panic(version in hostile(), specifiers in hostile()) {
        let version = parse_version(&version);
        let specifiers = parse_specifiers(&specifiers);
        if let (Ok(version), Ok(specifiers)) = (version, specifiers) {
            contains(&specifiers, &version);
            admits(&specifiers, &version, true);
        }
    }

    #[test]
    fn versions_round_trip_and_specifiers_decide_without_panicking(
        version in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}((a|b|rc|\\.dev|\\.post)[0-9]{1,4})?(\\+[a-z0-9]{1,6})?",
        operator in "(==|>=|<=|<|>|!=|~=|===)",
        bound in "[0-9]{1,3}(\\.[0-9]{1,3}){1,3}(\\.\\*)?",
    ) {
        let parsed = parse_version(&version).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parse_version(&parsed.to_string()).ok(), Some(parsed.clone()));
        if let Ok(specifiers) = parse_specifiers(&format!("{operator}{bound}")) {
            contains(&specifiers, &parsed);
            admits(&specifiers, &parsed, false);
        }
    }
}
