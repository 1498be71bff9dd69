//! A matrix's own probes (`[probe.NAME]` tables): the rules each must follow, and the [`ProbeSpec`] it becomes.
//!
//! A declared probe takes part in everything a built-in one does (reports, snapshots, bisect, monitor), so its name
//! must stay clear of the catalogue's, and a folder or command that cannot run is refused before any cell is built.

use std::path::Path;

use super::problems::Problems;
use super::schema::{DeclaredSpec, Text};
use crate::probe::catalog::Catalog;
use crate::probe::spec::{Body, CommandProbe, ProbeSpec, Role};

/// The probes the tables declare, in the order written; a table with a problem is left out (the problem stops the
/// load anyway).
pub fn declared(specs: &[DeclaredSpec], matrix: &Path, problems: &mut Problems) -> Vec<ProbeSpec> {
    let matrix = std::path::absolute(matrix).unwrap_or_else(|_| matrix.to_path_buf());
    let base = matrix.parent().unwrap_or(Path::new("/"));
    specs
        .iter()
        .filter_map(|spec| probe(spec, base, problems))
        .collect()
}

fn probe(spec: &DeclaredSpec, base: &Path, problems: &mut Problems) -> Option<ProbeSpec> {
    let what = format!("probe `{}`", spec.name.value);
    let named = name(&spec.name, problems);
    let argv = spec
        .command
        .as_ref()
        .and_then(|c| command(&c.value, c.at, &what, problems));
    let dir = spec
        .dir
        .as_ref()
        .and_then(|d| folder(d, base, &what, problems));
    let timeout = match &spec.timeout {
        Some(text) => Some(super::checks::timeout(text, problems)?),
        None => None,
    };
    let role = match &spec.role {
        Some(text) => Some(role(text, &what, problems)?),
        None => None,
    };
    let deps = deps(&spec.deps, &what, problems);
    let env = env(&spec.env, &what, problems);
    let argv = argv?;
    let summary = spec.description.as_ref().map_or_else(
        || "declared by the matrix (no `description`)".to_string(),
        |d| d.value.clone(),
    );
    named.then_some(())?;
    Some(ProbeSpec {
        name: spec.name.value.clone(),
        summary,
        needs: Vec::new(),
        role: role.unwrap_or(Role::Neither),
        oracle: None,
        body: Body::Command(CommandProbe {
            argv,
            content: crate::digest::of_dir(dir.as_ref()?),
            dir: dir?,
            deps: deps?,
            env: env?,
            timeout,
            cpu_swaps: spec.cpu_swaps,
        }),
    })
}

/// A name becomes a folder of each cell's outputs and a column of every report: plain, and not a built-in's.
fn name(name: &Text, problems: &mut Problems) -> bool {
    let value = name.value.as_str();
    if Catalog::builtin().find(value).is_some() {
        let message = format!(
            "probe `{value}` is a built-in probe's name: name yours otherwise (a matrix runs the built-in one by \
             naming it in `probes`)"
        );
        problems.add(name.at, message);
        return false;
    }
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if value.is_empty() || !plain || value.starts_with(['.', '-']) {
        let rule = "letters, digits, `-`, `_` and `.`, not starting with `.` or `-`";
        problems.add(
            name.at,
            format!("probe name {value:?} must be plain ({rule})"),
        );
        return false;
    }
    true
}

fn command(argv: &[Text], at: usize, what: &str, problems: &mut Problems) -> Option<Vec<String>> {
    match argv.first() {
        None => {
            let message = format!(
                "{what}'s `command` is empty: give the program and its arguments (`[\"python\", \"train.py\"]`)"
            );
            problems.add(at, message);
            None
        }
        Some(program) if program.value.trim().is_empty() => {
            problems.add(program.at, format!("{what}'s program is empty text"));
            None
        }
        Some(_) => Some(argv.iter().map(|t| t.value.clone()).collect()),
    }
}

/// `dir`, relative to the matrix file's folder, must be a folder now: its files are copied for each run.
fn folder(
    dir: &Text,
    base: &Path,
    what: &str,
    problems: &mut Problems,
) -> Option<std::path::PathBuf> {
    let path = base.join(&dir.value);
    if path.is_dir() {
        return Some(path);
    }
    let found = if path.exists() {
        "is not a folder"
    } else {
        "does not exist"
    };
    let message = format!(
        "{what}'s `dir` {} {found} (a folder, relative to the matrix file)",
        path.display()
    );
    problems.add(dir.at, message);
    None
}

fn role(text: &Text, what: &str, problems: &mut Problems) -> Option<Role> {
    match text.value.as_str() {
        "quantized" => Some(Role::Quantized),
        "control" => Some(Role::Control),
        other => {
            let message = format!(
                "{what}'s `role` is `quantized` or `control` (leave it out to keep the probe out of the \
                 quantization contrast), not `{other}`"
            );
            problems.add(text.at, message);
            None
        }
    }
}

/// Requirement strings handed to uv beside the axes; one that reads as an option would be taken as one.
fn deps(deps: &[Text], what: &str, problems: &mut Problems) -> Option<Vec<String>> {
    let mut ok = true;
    for dep in deps {
        let value = dep.value.trim();
        if value.is_empty() || value.starts_with('-') {
            let message = format!(
                "{what}'s `deps` holds {:?}: each is a requirement (`pytest`, `pytest>=8`)",
                dep.value
            );
            problems.add(dep.at, message);
            ok = false;
        }
    }
    ok.then(|| deps.iter().map(|d| d.value.trim().to_string()).collect())
}

fn env(
    vars: &[(Text, Text)],
    what: &str,
    problems: &mut Problems,
) -> Option<Vec<(String, String)>> {
    let mut ok = true;
    for (name, value) in vars {
        let valid = !name.value.is_empty()
            && !name.value.starts_with(|c: char| c.is_ascii_digit())
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            let message = format!(
                "{what}'s `env` names {:?}: a variable name is letters, digits and `_`, not starting with a digit",
                name.value
            );
            problems.add(name.at, message);
            ok = false;
        } else if value.value.contains('\0') {
            problems.add(
                value.at,
                format!("{what}'s `env` value of `{}` holds a NUL byte", name.value),
            );
            ok = false;
        }
    }
    ok.then(|| {
        vars.iter()
            .map(|(n, v)| (n.value.clone(), v.value.clone()))
            .collect()
    })
}
