//! The shape of a matrix: which keys a [`Node`] tree may hold and of what kind, read into a [`MatrixSpec`] whose
//! every value keeps its offset. Nothing is judged here beyond shape (versions, names and windows are `load`'s);
//! every problem is collected, and a value of the wrong shape is left out so the rest can still be read.
//!
//! Messages name kinds and keys in words common to TOML and YAML: the same document gets the same words in both.

use super::document::{Entry, Kind, Node};
use super::problems::Problems;
use crate::suggest;

/// A text value and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub value: String,
    pub at: usize,
}

#[derive(Debug, Default)]
pub struct MatrixSpec {
    pub name: Option<Text>,
    pub python: Option<PythonSpec>,
    pub project: Option<ProjectSpec>,
    pub probes: Option<Located<Vec<Text>>>,
    pub timeout: Option<Text>,
    pub preload: Option<Vec<Text>>,
    pub axes: Option<Located<Vec<AxisSpec>>>,
    pub pins: Vec<(Text, Text)>,
    pub exclude: Vec<Located<Vec<(Text, Text)>>>,
    pub include: Vec<Located<Vec<(Text, Text)>>>,
    pub known: Vec<KnownSpec>,
    pub builds: Vec<BuildSpec>,
    /// `[probe.NAME]` tables, in the order written.
    pub declared: Vec<DeclaredSpec>,
}

/// `[build.NAME]`: how `bisect --repo` builds a wheel of package NAME from one commit of its repository.
#[derive(Debug)]
pub struct BuildSpec {
    pub package: Text,
    pub env: Vec<(Text, Text)>,
    pub constraints: Vec<Text>,
    pub paths: Vec<Text>,
}

/// A `[probe.NAME]` table as written: a command probe of the user's.
#[derive(Debug)]
pub struct DeclaredSpec {
    pub name: Text,
    pub command: Option<Located<Vec<Text>>>,
    pub dir: Option<Text>,
    pub deps: Vec<Text>,
    pub env: Vec<(Text, Text)>,
    pub timeout: Option<Text>,
    pub cpu_swaps: bool,
    pub description: Option<Text>,
    pub role: Option<Text>,
}

/// A value and the offset of the key or table that holds it.
#[derive(Debug)]
pub struct Located<T> {
    pub value: T,
    pub at: usize,
}

/// `python`: one interpreter for every cell, or a list of versions (an axis).
#[derive(Debug)]
pub enum PythonSpec {
    One(Text),
    Axis(Located<Vec<Text>>),
}

/// `[project]`: the package under test, installed into every cell.
#[derive(Debug)]
pub struct ProjectSpec {
    /// None when missing or misshapen (a problem already).
    pub path: Option<Text>,
    pub editable: bool,
}

#[derive(Debug)]
pub struct AxisSpec {
    pub name: Text,
    /// None when misshapen (a problem already): the axis still exists for the sections that name it.
    pub values: Option<AxisValuesSpec>,
}

#[derive(Debug)]
pub enum AxisValuesSpec {
    Versions(Vec<Text>),
    Query { versions: Text, pre: bool },
}

#[derive(Debug)]
pub struct KnownSpec {
    pub id: Option<Text>,
    pub signature: Option<Text>,
    pub when: Vec<(Text, Text)>,
    pub probes: Vec<Text>,
}

const MATRIX_KEYS: [&str; 13] = [
    "name", "python", "project", "probes", "timeout", "preload", "axes", "pins", "exclude",
    "include", "known", "build", "probe",
];
const PROJECT_KEYS: [&str; 2] = ["path", "editable"];
const PROBE_KEYS: [&str; 8] = [
    "command",
    "dir",
    "deps",
    "env",
    "timeout",
    "cpu-swaps",
    "description",
    "role",
];
const BUILD_KEYS: [&str; 3] = ["env", "constraints", "paths"];
const QUERY_KEYS: [&str; 2] = ["versions", "pre"];
const KNOWN_KEYS: [&str; 5] = ["id", "signature", "when", "probes", "url"];

/// Reads the matrix's keys; what is missing or misshapen is a problem and stays `None` or empty.
pub fn read(root: &Node, problems: &mut Problems) -> MatrixSpec {
    let mut spec = MatrixSpec::default();
    let Some(mut fields) = Fields::of(root, "the matrix", &MATRIX_KEYS, problems) else {
        return spec;
    };
    let mut text_of = |key: &str, fields: &mut Fields| {
        fields
            .get(key)
            .and_then(|e| text(&e.value, &format!("`{key}`"), problems))
    };
    spec.name = text_of("name", &mut fields);
    spec.timeout = text_of("timeout", &mut fields);
    spec.python = fields.get("python").and_then(|e| python(e, problems));
    spec.project = fields
        .get("project")
        .and_then(|e| project(&e.value, problems));
    spec.probes = fields.required("probes").and_then(|e| {
        let value = texts(&e.value, "`probes`", problems)?;
        Some(Located { value, at: e.at })
    });
    spec.preload = fields
        .get("preload")
        .and_then(|e| texts(&e.value, "`preload`", problems));
    spec.axes = fields.required("axes").and_then(|e| {
        let value = axes(&e.value, problems)?;
        Some(Located { value, at: e.at })
    });
    spec.pins = fields
        .get("pins")
        .map_or_else(Vec::new, |e| text_table(&e.value, "`pins`", problems));
    spec.exclude = assignments(fields.get("exclude"), "exclude", problems);
    spec.include = assignments(fields.get("include"), "include", problems);
    spec.known = fields.get("known").map_or_else(Vec::new, |e| {
        tables(&e.value, "`known`", problems)
            .into_iter()
            .map(|table| known(table, problems))
            .collect()
    });
    spec.builds = fields
        .get("build")
        .map_or_else(Vec::new, |e| builds(&e.value, problems));
    spec.declared = fields
        .get("probe")
        .map_or_else(Vec::new, |e| declared(&e.value, problems));
    fields.finish(problems);
    spec
}

/// `[build.NAME]` tables: `env` (text values), `constraints` and `paths` (lists of text), each optional.
fn builds(node: &Node, problems: &mut Problems) -> Vec<BuildSpec> {
    let Kind::Table(entries) = &node.kind else {
        problems.add(
            node.at,
            expected("`build`", "a table of packages", &node.kind),
        );
        return Vec::new();
    };
    let mut specs = Vec::new();
    for entry in entries {
        let what = format!("`build.{}`", entry.key);
        let Some(mut fields) = Fields::of(&entry.value, &what, &BUILD_KEYS, problems) else {
            continue;
        };
        let list = |key: &str, fields: &mut Fields, problems: &mut Problems| {
            fields.get(key).map_or_else(Vec::new, |e| {
                texts(&e.value, &format!("{what}'s `{key}`"), problems).unwrap_or_default()
            })
        };
        let env = fields.get("env").map_or_else(Vec::new, |e| {
            text_table(&e.value, &format!("{what}'s `env`"), problems)
        });
        let constraints = list("constraints", &mut fields, problems);
        let paths = list("paths", &mut fields, problems);
        fields.finish(problems);
        specs.push(BuildSpec {
            package: Text {
                value: entry.key.clone(),
                at: entry.at,
            },
            env,
            constraints,
            paths,
        });
    }
    specs
}

/// The `probe` table: one table per declared probe, keyed by its name.
fn declared(node: &Node, problems: &mut Problems) -> Vec<DeclaredSpec> {
    let Kind::Table(entries) = &node.kind else {
        let takes = "a table of probe tables (`[probe.NAME]`)";
        problems.add(node.at, expected("`probe`", takes, &node.kind));
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let name = Text {
                value: entry.key.clone(),
                at: entry.at,
            };
            declared_probe(name, &entry.value, problems)
        })
        .collect()
}

fn declared_probe(name: Text, node: &Node, problems: &mut Problems) -> Option<DeclaredSpec> {
    let what = format!("probe `{}`", name.value);
    let mut fields = Fields::of(node, &what, &PROBE_KEYS, problems)?;
    let dir = fields
        .required("dir")
        .and_then(|e| text(&e.value, &format!("{what}'s `dir`"), problems));
    let mut text_of = |key: &str, fields: &mut Fields| {
        let entry = fields.get(key)?;
        text(&entry.value, &format!("{what}'s `{key}`"), problems)
    };
    let timeout = text_of("timeout", &mut fields);
    let description = text_of("description", &mut fields);
    let role = text_of("role", &mut fields);
    let command = fields.required("command").and_then(|e| {
        let value = texts(&e.value, &format!("{what}'s `command`"), problems)?;
        Some(Located { value, at: e.at })
    });
    let deps = fields.get("deps").map_or_else(Vec::new, |e| {
        texts(&e.value, &format!("{what}'s `deps`"), problems).unwrap_or_default()
    });
    let env = fields.get("env").map_or_else(Vec::new, |e| {
        text_table(&e.value, &format!("{what}'s `env`"), problems)
    });
    let cpu_swaps = fields.get("cpu-swaps").map_or(Some(false), |e| {
        boolean(&e.value, &format!("{what}'s `cpu-swaps`"), problems)
    });
    fields.finish(problems);
    Some(DeclaredSpec {
        name,
        command,
        dir,
        deps,
        env,
        timeout,
        cpu_swaps: cpu_swaps.unwrap_or(false),
        description,
        role,
    })
}

/// `python = "3.11"` (or a path), or `python = ["3.11", "3.12"]`: the interpreter as an axis.
fn python(entry: &Entry, problems: &mut Problems) -> Option<PythonSpec> {
    match &entry.value.kind {
        Kind::List(_) => {
            let value = texts(&entry.value, "`python`", problems)?;
            Some(PythonSpec::Axis(Located {
                value,
                at: entry.at,
            }))
        }
        _ => text(&entry.value, "`python`", problems).map(PythonSpec::One),
    }
}

/// `[project]`: `path` (required) and `editable` (default false).
fn project(node: &Node, problems: &mut Problems) -> Option<ProjectSpec> {
    let mut fields = Fields::of(node, "`project`", &PROJECT_KEYS, problems)?;
    let path = fields
        .required("path")
        .and_then(|e| text(&e.value, "`project`'s `path`", problems));
    let editable = fields.get("editable").map_or(Some(false), |e| {
        boolean(&e.value, "`project`'s `editable`", problems)
    });
    fields.finish(problems);
    Some(ProjectSpec {
        path,
        editable: editable?,
    })
}

fn axes(node: &Node, problems: &mut Problems) -> Option<Vec<AxisSpec>> {
    let Kind::Table(entries) = &node.kind else {
        problems.add(
            node.at,
            expected("`axes`", "a table of package axes", &node.kind),
        );
        return None;
    };
    if entries.is_empty() {
        problems.add(
            node.at,
            "`axes` is empty: declare at least one package axis",
        );
    }
    let axes = entries
        .iter()
        .map(|entry| AxisSpec {
            name: Text {
                value: entry.key.clone(),
                at: entry.at,
            },
            values: axis_values(&entry.key, &entry.value, problems),
        })
        .collect();
    Some(axes)
}

/// A list of versions, or a query: a table of `versions` (specifiers) and optional `pre`.
fn axis_values(axis: &str, node: &Node, problems: &mut Problems) -> Option<AxisValuesSpec> {
    let what = format!("axis `{axis}`");
    match &node.kind {
        Kind::List(_) => texts(node, &what, problems).map(AxisValuesSpec::Versions),
        Kind::Table(_) => {
            let mut fields = Fields::of(node, &format!("{what}'s query"), &QUERY_KEYS, problems)?;
            let versions = fields.required("versions");
            let versions =
                versions.and_then(|e| text(&e.value, &format!("{what}'s `versions`"), problems));
            let pre = fields.get("pre").map_or(Some(false), |e| {
                boolean(&e.value, &format!("{what}'s `pre`"), problems)
            });
            fields.finish(problems);
            Some(AxisValuesSpec::Query {
                versions: versions?,
                pre: pre?,
            })
        }
        other => {
            let takes = "a list of versions, or a table with `versions` (PEP 440 specifiers) and optional `pre`";
            problems.add(node.at, expected(&what, takes, other));
            None
        }
    }
}

fn assignments(
    entry: Option<&Entry>,
    section: &str,
    problems: &mut Problems,
) -> Vec<Located<Vec<(Text, Text)>>> {
    let Some(entry) = entry else {
        return Vec::new();
    };
    let what = format!("`{section}`");
    tables(&entry.value, &what, problems)
        .into_iter()
        .map(|table| Located {
            value: text_table(table, &format!("an `{section}` entry"), problems),
            at: table.at,
        })
        .collect()
}

fn known(node: &Node, problems: &mut Problems) -> KnownSpec {
    let mut spec = KnownSpec {
        id: None,
        signature: None,
        when: Vec::new(),
        probes: Vec::new(),
    };
    let Some(mut fields) = Fields::of(node, "a `known` entry", &KNOWN_KEYS, problems) else {
        return spec;
    };
    spec.id = fields
        .required("id")
        .and_then(|e| text(&e.value, "a known issue's `id`", problems));
    spec.signature = fields
        .required("signature")
        .and_then(|e| text(&e.value, "a known issue's `signature`", problems));
    if let Some(e) = fields.get("when") {
        spec.when = text_table(&e.value, "a known issue's `when`", problems);
    }
    if let Some(e) = fields.get("probes") {
        spec.probes = texts(&e.value, "a known issue's `probes`", problems).unwrap_or_default();
    }
    if let Some(e) = fields.get("url") {
        text(&e.value, "a known issue's `url`", problems);
    }
    fields.finish(problems);
    spec
}

/// The keys of one table, each taken at most once; `finish` reports the ones nobody took.
struct Fields<'a> {
    entries: &'a [Entry],
    taken: Vec<bool>,
    missing: Vec<&'static str>,
    at: usize,
    what: String,
    accepted: &'static [&'static str],
}

impl<'a> Fields<'a> {
    fn of(
        node: &'a Node,
        what: &str,
        accepted: &'static [&'static str],
        problems: &mut Problems,
    ) -> Option<Self> {
        let Kind::Table(entries) = &node.kind else {
            let takes = format!("a table (keys {})", quoted(accepted));
            problems.add(node.at, expected(what, &takes, &node.kind));
            return None;
        };
        Some(Self {
            entries,
            taken: vec![false; entries.len()],
            missing: Vec::new(),
            at: node.at,
            what: what.to_string(),
            accepted,
        })
    }

    fn get(&mut self, key: &str) -> Option<&'a Entry> {
        let index = self.entries.iter().position(|e| e.key == key)?;
        self.taken[index] = true;
        Some(&self.entries[index])
    }

    /// A key that must be there; its absence is reported by `finish`.
    fn required(&mut self, key: &'static str) -> Option<&'a Entry> {
        let entry = self.get(key);
        if entry.is_none() {
            self.missing.push(key);
        }
        entry
    }

    /// Reports the keys nobody took, with a did-you-mean, and the required ones absent: one problem each, so a
    /// misspelt required key is reported once, as misspelt.
    fn finish(self, problems: &mut Problems) {
        let mut meant = Vec::new();
        for (entry, taken) in self.entries.iter().zip(self.taken) {
            if !taken {
                let closest = suggest::closest(&entry.key, self.accepted.iter().copied());
                meant.extend(closest);
                let hint = suggest::hint(&entry.key, closest);
                let message = format!(
                    "unknown key `{}` in {}{hint}; it takes {}",
                    entry.key,
                    self.what,
                    quoted(self.accepted)
                );
                problems.add(entry.at, message);
            }
        }
        for key in self.missing.iter().filter(|k| !meant.contains(k)) {
            problems.add(
                self.at,
                format!("{} has no `{key}`: it is required", self.what),
            );
        }
    }
}

/// `` `a`, `b`, `c` ``
fn quoted(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(kind: &Kind) -> &'static str {
    match kind {
        Kind::Text(_) => "text",
        Kind::Bool(_) => "a boolean",
        Kind::List(_) => "a list",
        Kind::Table(_) => "a table",
        Kind::Other(name) => name,
    }
}

fn expected(what: &str, takes: &str, found: &Kind) -> String {
    let quote = match found {
        Kind::Other("a number") => " (quote it: a version or name is text)",
        _ => "",
    };
    format!("{what} takes {takes}, not {}{quote}", describe(found))
}

fn text(node: &Node, what: &str, problems: &mut Problems) -> Option<Text> {
    match &node.kind {
        Kind::Text(value) => Some(Text {
            value: value.clone(),
            at: node.at,
        }),
        other => {
            problems.add(node.at, expected(what, "text", other));
            None
        }
    }
}

fn boolean(node: &Node, what: &str, problems: &mut Problems) -> Option<bool> {
    match &node.kind {
        Kind::Bool(flag) => Some(*flag),
        other => {
            problems.add(node.at, expected(what, "true or false", other));
            None
        }
    }
}

/// A list of text; a misshapen item is a problem and left out.
fn texts(node: &Node, what: &str, problems: &mut Problems) -> Option<Vec<Text>> {
    let Kind::List(items) = &node.kind else {
        problems.add(node.at, expected(what, "a list of text", &node.kind));
        return None;
    };
    let item = format!("an item of {what}");
    Some(
        items
            .iter()
            .filter_map(|n| text(n, &item, problems))
            .collect(),
    )
}

/// A table whose values are all text (`[pins]`, `when`, an include).
fn text_table(node: &Node, what: &str, problems: &mut Problems) -> Vec<(Text, Text)> {
    let Kind::Table(entries) = &node.kind else {
        problems.add(
            node.at,
            expected(what, "a table of text values", &node.kind),
        );
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let key = Text {
                value: entry.key.clone(),
                at: entry.at,
            };
            let value = text(
                &entry.value,
                &format!("`{}` in {what}", entry.key),
                problems,
            )?;
            Some((key, value))
        })
        .collect()
}

/// The tables of a list of tables (`[[include]]`, `[[known]]`); anything else in it is a problem.
fn tables<'a>(node: &'a Node, what: &str, problems: &mut Problems) -> Vec<&'a Node> {
    let items: &[Node] = match &node.kind {
        Kind::List(items) => items,
        other => {
            problems.add(node.at, expected(what, "a list of tables", other));
            &[]
        }
    };
    for item in items {
        if !matches!(item.kind, Kind::Table(_)) {
            problems.add(
                item.at,
                expected(&format!("an item of {what}"), "a table", &item.kind),
            );
        }
    }
    items
        .iter()
        .filter(|n| matches!(n.kind, Kind::Table(_)))
        .collect()
}
