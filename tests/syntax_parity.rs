//! TOML and YAML share one validator: the same document written in both syntaxes gets the same verdict, accepted
//! with equal matrices or refused with the same messages (up to where each syntax puts them). Documents are a valid
//! matrix with random edits: a value replaced by any other (text, number, boolean, list, table), a key repeated,
//! added or removed.

use std::path::Path;

use proptest::prelude::*;
use qcompat::error::Error;
use qcompat::matrix::Matrix;

/// A document in the terms both syntaxes share.
#[derive(Debug, Clone)]
enum Doc {
    Text(String),
    /// As written: `5`, `-3`, `2.10` are numbers in both syntaxes.
    Number(&'static str),
    Bool(bool),
    List(Vec<Doc>),
    Table(Vec<(String, Doc)>),
}

fn text(s: &str) -> Doc {
    Doc::Text(s.to_string())
}

fn table(entries: &[(&str, Doc)]) -> Doc {
    Doc::Table(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn base() -> Doc {
    table(&[
        ("name", text("m")),
        ("probes", Doc::List(vec![text("toy-load")])),
        ("timeout", text("30s")),
        (
            "axes",
            table(&[
                ("toyquant", Doc::List(vec![text("1.0"), text("1.2")])),
                (
                    "toyhelper",
                    table(&[("versions", text(">=1.0")), ("pre", Doc::Bool(false))]),
                ),
            ]),
        ),
        ("pins", table(&[("numpy", text("<2"))])),
        (
            "exclude",
            Doc::List(vec![table(&[("toyquant", text("1.0"))])]),
        ),
        (
            "include",
            Doc::List(vec![table(&[("toyquant", text("1.5"))])]),
        ),
        (
            "known",
            Doc::List(vec![table(&[
                ("id", text("k")),
                ("signature", text("AttributeError")),
                ("when", table(&[("toyquant", text("==1.2"))])),
            ])]),
        ),
    ])
}

/// Text both syntaxes read the same in double quotes: printable ASCII as is, the rest escaped.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Inline (TOML) or flow (YAML) form of a value: `sep` is `=` or `:` between a key and its value.
fn inline(doc: &Doc, sep: &str) -> String {
    match doc {
        Doc::Text(s) => quote(s),
        Doc::Number(n) => n.to_string(),
        Doc::Bool(b) => b.to_string(),
        Doc::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|d| inline(d, sep))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Doc::Table(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}{sep} {}", quote(k), inline(v, sep)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The document, one top-level key a line; `sep` picks the syntax.
fn render(doc: &Doc, sep: &str) -> String {
    let Doc::Table(entries) = doc else {
        return inline(doc, sep);
    };
    entries
        .iter()
        .map(|(k, v)| format!("{} {sep} {}\n", quote(k), inline(v, sep)))
        .collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(Doc),
    Repeat,
    Add(String, Doc),
    Remove,
}

/// Applies `edit` to the `index`-th table entry of `doc` (in reading order, modulo their number).
fn apply(doc: &mut Doc, index: usize, edit: &Edit) {
    let count = entries(doc);
    if count > 0 {
        edit_at(doc, &mut (index % count), edit);
    }
}

fn entries(doc: &Doc) -> usize {
    match doc {
        Doc::Table(e) => e.len() + e.iter().map(|(_, v)| entries(v)).sum::<usize>(),
        Doc::List(items) => items.iter().map(entries).sum(),
        _ => 0,
    }
}

/// Walks to the `left`-th entry; true once edited.
fn edit_at(doc: &mut Doc, left: &mut usize, edit: &Edit) -> bool {
    match doc {
        Doc::Table(e) => {
            for i in 0..e.len() {
                if *left == 0 {
                    match edit {
                        Edit::Replace(value) => e[i].1 = value.clone(),
                        Edit::Repeat => e.push(e[i].clone()),
                        Edit::Add(key, value) => e.insert(i, (key.clone(), value.clone())),
                        Edit::Remove => drop(e.remove(i)),
                    }
                    return true;
                }
                *left -= 1;
                if edit_at(&mut e[i].1, left, edit) {
                    return true;
                }
            }
            false
        }
        Doc::List(items) => items.iter_mut().any(|d| edit_at(d, left, edit)),
        _ => false,
    }
}

fn words() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "name",
            "python",
            "probes",
            "timeout",
            "axes",
            "pins",
            "exclude",
            "include",
            "known",
            "toyquant",
            "TOYQUANT",
            "toyhelper",
            "numpy",
            "versions",
            "version",
            "pre",
            "id",
            "signature",
            "when",
            "url",
            "1.0",
            "1.2",
            ">=1.0",
            ">=2.0,<1.0",
            "0s",
            "3.11",
            "-rf",
            "toy-load",
            "k",
            "",
        ])
        .prop_map(String::from),
        "[a-z0-9.<>=,_-]{0,6}",
        any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = Doc> {
    let leaf = prop_oneof![
        words().prop_map(Doc::Text),
        prop::sample::select(vec!["5", "-3", "1.0", "2.10", "0"]).prop_map(Doc::Number),
        any::<bool>().prop_map(Doc::Bool),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Doc::List),
            prop::collection::vec((words(), inner), 0..3).prop_map(Doc::Table),
        ]
    })
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        value().prop_map(Edit::Replace),
        Just(Edit::Repeat),
        (words(), value()).prop_map(|(k, v)| Edit::Add(k, v)),
        Just(Edit::Remove),
    ]
}

fn load(dir: &Path, file: &str, text: &str) -> Result<Matrix, String> {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    qcompat::matrix::load(&path).map_err(|e| match e {
        Error::BadInput(message) => message,
        other => panic!("not bad input: {other:?}"),
    })
}

/// What a matrix means, without where it was written.
fn meaning(m: &Matrix) -> String {
    let axes: Vec<String> = m
        .axes
        .iter()
        .map(|a| format!("{} {:?}", a.name, a.values))
        .collect();
    format!(
        "{} {:?} {:?} {:?} {:?} {axes:?} {:?} {:?} {:?} {:?}",
        m.name, m.python, m.probes, m.timeout, m.preload, m.pins, m.exclude, m.include, m.known
    )
}

/// The messages without their locations (each line's prefix, and any place a message names), sorted.
fn messages(text: &str, dir: &Path) -> Vec<String> {
    let place = regex::Regex::new(r"m\.(toml|yaml):\d+:\d+").unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let line = line.replace(&format!("{}/", dir.display()), "");
            place.replace_all(&line, "@").into_owned()
        })
        .collect();
    lines.sort();
    lines
}

proptest! {
    #[test]
    fn the_same_document_gets_the_same_verdict_in_toml_and_yaml(
        edits in prop::collection::vec((any::<usize>(), edit()), 0..3)
    ) {
        let mut doc = base();
        for (index, edit) in &edits {
            apply(&mut doc, *index, edit);
        }
        let dir = tempfile::tempdir().unwrap();
        let (toml, yaml) = (render(&doc, "="), render(&doc, ":"));
        match (load(dir.path(), "m.toml", &toml), load(dir.path(), "m.yaml", &yaml)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(meaning(&a), meaning(&b)),
            (Err(a), Err(b)) => prop_assert_eq!(messages(&a, dir.path()), messages(&b, dir.path())),
            (a, b) => prop_assert!(false, "TOML {:?}\nYAML {:?}\n{}\n{}", a.map(|m| meaning(&m)), b.map(|m| meaning(&m)), toml, yaml),
        }
    }
}

#[test]
fn the_base_document_is_a_matrix_in_both_syntaxes() {
    let dir = tempfile::tempdir().unwrap();
    let toml = load(dir.path(), "m.toml", &render(&base(), "=")).unwrap();
    let yaml = load(dir.path(), "m.yaml", &render(&base(), ":")).unwrap();
    assert_eq!(meaning(&toml), meaning(&yaml));
    assert_eq!(toml.include.len(), 1);
}
