//! `bisect --from/--to`: a side of a broken update as a set of exact versions, read from what users have at hand: a
//! `uv pip freeze` or requirements file of `==` pins, a `pylock.toml` (PEP 751), a `uv.lock`, or a snapshot cell
//! (`reports/x.snap.toml#litgpt=0.4.4,…`: the versions it resolved). Every problem names `file:line:column`.
//!
//! A set pins the packages it names; a package it does not name is left to the resolver (a snapshot records only the
//! stack's main packages), the same for both sides.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::index::normalize;
use crate::index::version::{Version, VersionSpecifiers, parse_specifiers, parse_version};
use crate::matrix::Source;
use crate::matrix::cell_key::CellKey;

/// One side: normalized package name → exact version.
#[derive(Debug, Clone, PartialEq)]
pub struct PinnedSet {
    /// As given on the command line.
    pub source: String,
    pub pins: BTreeMap<String, Version>,
    /// The Pythons the set was locked for, where it says (`requires-python` of a lock file).
    pub requires_python: Option<VersionSpecifiers>,
}

/// Reads `spec`: `FILE#KEY` names a snapshot cell; a file named `pylock.toml` or `pylock.*.toml` is a PEP 751 lock,
/// `uv.lock` uv's lock; any other file is a requirements file of exact pins.
pub fn read(spec: &str) -> Result<PinnedSet> {
    if let Some((file, key)) = spec.split_once('#') {
        return snapshot_cell(spec, Path::new(file), key);
    }
    let path = Path::new(spec);
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::BadInput(format!("{spec}: cannot read the pinned set: {e}")))?;
    let source = Source::new(path, text);
    let name = path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let set = if name == "uv.lock" {
        lock(&source, "package", LockKind::Uv)?
    } else if name == "pylock.toml" || (name.starts_with("pylock.") && name.ends_with(".toml")) {
        lock(&source, "packages", LockKind::Pylock)?
    } else {
        requirements(&source)?
    };
    let (pins, requires_python) = set;
    if pins.is_empty() {
        return Err(Error::BadInput(format!("{spec}: pins no package")));
    }
    Ok(PinnedSet {
        source: spec.to_string(),
        pins,
        requires_python,
    })
}

type Read = (BTreeMap<String, Version>, Option<VersionSpecifiers>);

/// `name==version` lines, as `uv pip freeze` and pip-compile write them: comments, blank lines, `--hash` options and
/// backslash continuations are allowed; anything else (a range, a URL, `-r`, `-e`) is not an exact version.
fn requirements(source: &Source) -> Result<Read> {
    let mut pins = BTreeMap::new();
    let mut offset = 0;
    let mut problems = Vec::new();
    for line in source.text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        let content = line
            .split(" #")
            .next()
            .unwrap_or("")
            .trim_end_matches(['\n', '\r', '\\']);
        let content = content.trim();
        if content.is_empty() || content.starts_with('#') || content.starts_with("--hash") {
            continue;
        }
        let requirement = content.split(" --hash").next().unwrap_or(content).trim();
        match pin(requirement) {
            Ok((name, version)) => {
                insert(&mut pins, name, version, source, at, &mut problems);
            }
            Err(why) => problems.push(format!("{}: {why}", source.at_offset(at))),
        }
    }
    if !problems.is_empty() {
        return Err(Error::BadInput(problems.join("\n")));
    }
    Ok((pins, None))
}

/// `name==version` (extras dropped: a freeze lists what they brought in on lines of their own).
fn pin(requirement: &str) -> std::result::Result<(String, Version), String> {
    let exact = || {
        format!(
            "`{requirement}` is not an exact pin (`name==version`): a pinned set names one version of each package"
        )
    };
    let (name, version) = requirement.split_once("==").ok_or_else(exact)?;
    let name = name.split('[').next().unwrap_or(name).trim();
    let version = version.trim_start_matches('=').trim();
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid_name || version.contains([';', ' ', '*']) {
        return Err(exact());
    }
    Ok((normalize(name), parse_version(version)?))
}

fn insert(
    pins: &mut BTreeMap<String, Version>,
    name: String,
    version: Version,
    source: &Source,
    at: usize,
    problems: &mut Vec<String>,
) {
    if let Some(earlier) = pins.get(&name).filter(|v| **v != version) {
        problems.push(format!(
            "{}: `{name}` is pinned twice ({earlier} and {version}): a pinned set names one version of each package",
            source.at_offset(at)
        ));
        return;
    }
    pins.insert(name, version);
}

#[derive(Clone, Copy, PartialEq)]
enum LockKind {
    Uv,
    Pylock,
}

#[derive(Deserialize)]
struct LockFile {
    #[serde(rename = "requires-python")]
    requires_python: Option<toml::Spanned<String>>,
    #[serde(default)]
    package: Vec<toml::Spanned<LockedPackage>>,
    #[serde(default)]
    packages: Vec<toml::Spanned<LockedPackage>>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
    version: Option<String>,
    source: Option<toml::Table>,
}

/// The packages of a uv or PEP 751 lock. uv's own project (an editable or virtual source) is the code under test,
/// not a dependency: left out. A package locked twice (one version per environment) cannot be one set.
fn lock(source: &Source, table: &str, kind: LockKind) -> Result<Read> {
    let file: LockFile = toml::from_str(&source.text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        Error::BadInput(format!("{}: {}", source.at_offset(at), e.message()))
    })?;
    let entries = if kind == LockKind::Uv {
        file.package
    } else {
        file.packages
    };
    let mut pins = BTreeMap::new();
    let mut problems = Vec::new();
    for entry in entries {
        let at = entry.span().start;
        let package = entry.into_inner();
        let own = package
            .source
            .as_ref()
            .is_some_and(|s| s.contains_key("editable") || s.contains_key("virtual"));
        if kind == LockKind::Uv && own {
            continue;
        }
        let Some(version) = package.version else {
            problems.push(format!(
                "{}: `{}` has no version in the [[{table}]] entry: a pinned set names one version of each package",
                source.at_offset(at),
                package.name
            ));
            continue;
        };
        match parse_version(&version) {
            Ok(v) => insert(
                &mut pins,
                normalize(&package.name),
                v,
                source,
                at,
                &mut problems,
            ),
            Err(why) => problems.push(format!("{}: {why}", source.at_offset(at))),
        }
    }
    if !problems.is_empty() {
        return Err(Error::BadInput(problems.join("\n")));
    }
    let requires_python = match file.requires_python {
        Some(text) => {
            let at = text.span().start;
            Some(
                parse_specifiers(text.get_ref())
                    .map_err(|why| Error::BadInput(format!("{}: {why}", source.at_offset(at))))?,
            )
        }
        None => None,
    };
    Ok((pins, requires_python))
}

/// The resolved set of the snapshot cell whose key is `key` (`litgpt=0.4.4,bitsandbytes=0.49.2,torch=2.3.0`).
fn snapshot_cell(spec: &str, file: &Path, key: &str) -> Result<PinnedSet> {
    let snapshot = crate::snapshot::read(file)?;
    let wanted = CellKey::new(key.split(',').filter_map(|pair| pair.split_once('=')));
    let cell = snapshot
        .cells
        .iter()
        .find(|c| c.key == wanted)
        .ok_or_else(|| {
            let keys: Vec<String> = snapshot.cells.iter().map(|c| c.key.to_string()).collect();
            let hint = crate::suggest::hint(key, keys.iter().map(String::as_str));
            Error::BadInput(format!(
                "{spec}: {} has no cell `{key}`{hint}",
                file.display()
            ))
        })?;
    let mut pins = BTreeMap::new();
    for (name, version) in &cell.resolved {
        let version = parse_version(version)
            .map_err(|why| Error::BadInput(format!("{spec}: `{name}`: {why}")))?;
        pins.insert(normalize(name), version);
    }
    if pins.is_empty() {
        return Err(Error::BadInput(format!(
            "{spec}: the cell records no resolved versions (it got no environment)"
        )));
    }
    Ok(PinnedSet {
        source: spec.to_string(),
        pins,
        requires_python: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn pins(set: &PinnedSet) -> Vec<String> {
        set.pins.iter().map(|(n, v)| format!("{n}=={v}")).collect()
    }

    #[test]
    fn a_freeze_with_hashes_and_comments_is_a_set_and_a_range_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            "# frozen\nTorch==2.3.0+cpu\nlightning_utilities==0.11.2 \\\n    --hash=sha256:ab\n\n";
        let set = read(&write(dir.path(), "good.txt", text)).unwrap();
        assert_eq!(
            pins(&set),
            ["lightning-utilities==0.11.2", "torch==2.3.0+cpu"]
        );
        let bad = write(dir.path(), "bad.txt", "torch==2.3.0\nnumpy<2\n");
        let message = read(&bad).unwrap_err().to_string();
        assert!(message.ends_with("bad.txt:2:1: `numpy<2` is not an exact pin (`name==version`): a pinned set names one version of each package"), "{message}");
        let twice = write(dir.path(), "twice.txt", "torch==2.3.0\ntorch==2.4.0\n");
        assert!(
            read(&twice)
                .unwrap_err()
                .to_string()
                .contains("twice.txt:2:1: `torch` is pinned twice")
        );
    }

    #[test]
    fn locks_leave_out_uvs_own_project_and_keep_requires_python() {
        let dir = tempfile::tempdir().unwrap();
        let uv_lock = "version = 1\nrequires-python = \">=3.10\"\n\n[[package]]\nname = \"me\"\nversion = \"0.1\"\nsource = { editable = \".\" }\n\n[[package]]\nname = \"Lightning\"\nversion = \"2.3.3\"\nsource = { registry = \"x\" }\n";
        let sub = dir.path().join("a");
        std::fs::create_dir(&sub).unwrap();
        let set = read(&write(&sub, "uv.lock", uv_lock)).unwrap();
        assert_eq!(pins(&set), ["lightning==2.3.3"]);
        assert!(set.requires_python.is_some());
        let pylock = "lock-version = \"1.0\"\n[[packages]]\nname = \"torch\"\nversion = \"2.3.0\"\n[[packages]]\nname = \"x\"\n";
        let message = read(&write(dir.path(), "pylock.toml", pylock))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("pylock.toml:5:1: `x` has no version"),
            "{message}"
        );
    }

    #[test]
    fn a_snapshot_cell_gives_its_resolved_set_and_a_missing_cell_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = "matrix = \"toy\"\n\n[[cell]]\nkey = { toyquant = \"1.2\" }\n\n[cell.resolved]\ntoyheavy = \"1.0\"\ntoyquant = \"1.2\"\n\n[[cell.probe]]\nname = \"toy-load\"\noutcome = \"pass\"\n";
        let file = write(dir.path(), "toy.snap.toml", snapshot);
        let set = read(&format!("{file}#toyquant=1.2")).unwrap();
        assert_eq!(pins(&set), ["toyheavy==1.0", "toyquant==1.2"]);
        let message = read(&format!("{file}#toyquant=1.3"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("has no cell `toyquant=1.3`"), "{message}");
    }
}
