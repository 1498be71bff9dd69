//! Reads a matrix file (TOML or YAML, one schema) and validates it into a [`Matrix`].
//!
//! Every error is one line starting with `file:line:column`, so editors and CI annotations can jump to it.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use std::time::Duration;

use super::source::Source;
use indexmap::IndexMap;

use super::spec::{AxisSpec, KnownSpec, MatrixSpec};
use crate::error::{Error, Result};
use crate::version::{Version, VersionSpecifiers, parse_specifiers, parse_version};
use crate::{probe, suggest};

/// A validated matrix.
#[derive(Debug)]
pub struct Matrix {
    pub name: String,
    /// The file it was read from, as given.
    pub source: PathBuf,
    /// SHA-256 of the file's text (16 hex digits): a plan of an edited matrix is another plan.
    pub digest: String,
    /// Interpreter request (`3.11`), or the default `python3` when absent.
    pub python: Option<String>,
    pub probes: Vec<String>,
    pub timeout: Duration,
    /// Modules a shared base interpreter may preload (`torch`, `torch._dynamo`).
    pub preload: Vec<String>,
    pub axes: Vec<Axis>,
    /// Requirement strings added to every cell (`numpy<2`).
    pub pins: Vec<String>,
    pub exclude: Vec<Vec<(String, Version)>>,
    pub include: Vec<Vec<(String, Version)>>,
    pub known: Vec<Known>,
}

#[derive(Debug)]
pub struct Axis {
    /// The package name; the axis pins `name==version`.
    pub name: String,
    pub values: AxisValues,
    /// `file:line:column` of each explicit version, in order (empty for a query): where the plan points when the
    /// index does not publish one.
    pub written_at: Vec<String>,
}

#[derive(Debug)]
pub enum AxisValues {
    Explicit(Vec<Version>),
    /// Every published version matching, listed from the index at run time.
    Query {
        specifiers: VersionSpecifiers,
        pre: bool,
    },
}

/// A known upstream issue: failures with `signature` in cells inside `when` are expected.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: String,
    pub signature: String,
    pub when: Vec<(String, VersionSpecifiers)>,
    /// Empty means every probe of the matrix.
    pub probes: Vec<String>,
}

/// The packages of the axes whose versions are written out (not queried), normalized.
pub fn explicit_axes(matrix: &Matrix) -> Vec<String> {
    matrix
        .axes
        .iter()
        .filter(|a| matches!(a.values, AxisValues::Explicit(_)))
        .map(|a| crate::index::normalize(&a.name))
        .collect()
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// The stack's heaviest imports that cells usually share unchanged: torch, numpy, and torch's compiler front end,
/// which every probe of the stack imports anyway (Lightning's wrappers and bitsandbytes' compiled ops do) and which
/// starts no thread or process at import (torch._inductor does: it cannot be preloaded). Measured on torch 2.3.0: a
/// checkpoint-load probe forked after torch + numpy took 3.2 s, after torch._dynamo too 1.9 s, fresh 3.5 s.
const DEFAULT_PRELOAD: [&str; 3] = ["torch", "torch._dynamo", "numpy"];

pub fn load(path: &Path) -> Result<Matrix> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::BadInput(format!("{}: no such matrix file", path.display()))
        }
        _ if path.is_dir() => Error::BadInput(format!(
            "{}: a folder, not a matrix file{}",
            path.display(),
            matrices_in(path)
        )),
        _ => Error::io(path, e),
    })?;
    let source = Source::new(path, text);
    let spec = parse(&source)?;
    validate(spec, &source)
}

/// ` (it holds a.toml, b.yaml)`: the matrix files a folder given as `--matrix` holds, or nothing.
fn matrices_in(folder: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| [".toml", ".yaml", ".yml"].iter().any(|e| name.ends_with(e)))
        .collect();
    names.sort();
    if names.is_empty() {
        return String::new();
    }
    format!("; it holds {}", names.join(", "))
}

/// The first 16 hex digits of the text's SHA-256.
fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse(source: &Source) -> Result<MatrixSpec> {
    let extension = source
        .path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    match extension {
        "toml" => toml::from_str(&source.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            shape_error(source, offset, e.message())
        }),
        "yaml" | "yml" => serde_yaml::from_str(&source.text).map_err(|e| {
            let offset = e.location().map_or(0, |l| l.index());
            // serde_yaml prefixes the key path and appends the position; keep the message itself.
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            let message = message.split_once(": ").map_or(message, |(_, m)| m);
            shape_error(source, offset, message)
        }),
        _ => Err(Error::BadInput(format!(
            "{}: matrix files end in .toml, .yaml or .yml",
            source.path.display()
        ))),
    }
}

fn shape_error(source: &Source, offset: usize, message: &str) -> Error {
    // One line, whatever the parser's layout: the message follows a file:line:column prefix.
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let message = message.as_str();
    let hint = suggest::unknown_field_hint(message);
    Error::BadInput(format!("{}: {message}{hint}", source.at_offset(offset)))
}

fn validate(spec: MatrixSpec, source: &Source) -> Result<Matrix> {
    let name = spec.name.clone().unwrap_or_else(|| {
        source
            .path
            .file_stem()
            .map_or_else(|| "matrix".into(), |s| s.to_string_lossy().into_owned())
    });
    check_matrix_name(&name, source)?;
    check_probes(&spec.probes, source)?;
    let timeout = match &spec.timeout {
        None => DEFAULT_TIMEOUT,
        Some(text) => humantime::parse_duration(text)
            .map_err(|e| source.error_at(&["timeout"], format!("invalid timeout `{text}`: {e}")))?,
    };
    let axes = axes(spec.axes, source)?;
    let axis_names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
    let pins = spec
        .pins
        .iter()
        .map(|(package, constraint)| {
            check_package(package, &["pins", package], source)?;
            pin_requirement(package, constraint, source)
        })
        .collect::<Result<_>>()?;
    let exclude = assignments(&spec.exclude, "exclude", &axis_names, source)?;
    let include = assignments(&spec.include, "include", &axis_names, source)?;
    let known = spec
        .known
        .into_iter()
        .map(|entry| known_issue(entry, &spec.probes, source))
        .collect::<Result<_>>()?;
    Ok(Matrix {
        name,
        source: source.path.clone(),
        digest: digest(&source.text),
        python: spec.python,
        probes: spec.probes,
        timeout,
        preload: spec
            .preload
            .unwrap_or_else(|| DEFAULT_PRELOAD.map(String::from).to_vec()),
        axes,
        pins,
        exclude,
        include,
        known,
    })
}

/// The name becomes a folder under the cache (`runs/<name>/`): one plain path component, nothing that climbs out
/// of it or hides.
fn check_matrix_name(name: &str, source: &Source) -> Result<()> {
    let bad = name.is_empty()
        || name.starts_with('.')
        || name
            .chars()
            .any(|c| matches!(c, '/' | '\\') || c.is_control());
    if bad {
        return Err(source.error_at(
            &["name", name],
            format!("matrix name {name:?} must be a plain file name (no `/`, `\\`, leading `.` or control characters)"),
        ));
    }
    Ok(())
}

/// Package names (PEP 508): they become requirements on uv's command line and parts of cell folders, so nothing
/// else may pass (a name starting with `-` would be read as an option).
fn check_package(name: &str, needles: &[&str], source: &Source) -> Result<()> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let inner = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if inner && edge(name.chars().next()) && edge(name.chars().last()) {
        return Ok(());
    }
    Err(source.error_at(needles, format!("{name:?} is not a package name")))
}

fn check_probes(probes: &[String], source: &Source) -> Result<()> {
    if probes.is_empty() {
        return Err(source.error_at(&["probes"], "`probes` is empty: name at least one probe"));
    }
    for name in probes {
        if probe::catalog::find(name).is_none() {
            let hint = suggest::hint(name, probe::catalog::names());
            return Err(source.error_at(&["probes", name], format!("unknown probe `{name}`{hint}")));
        }
    }
    Ok(())
}

fn axes(specs: IndexMap<String, AxisSpec>, source: &Source) -> Result<Vec<Axis>> {
    if specs.is_empty() {
        return Err(source.error_at(
            &["axes"],
            "`axes` is empty: declare at least one package axis",
        ));
    }
    specs
        .into_iter()
        .map(|(axis, values)| {
            check_package(&axis, &[axis.as_str()], source)?;
            match values {
                AxisSpec::Versions(list) if list.is_empty() => {
                    Err(source.error_at(&[axis.as_str()], format!("axis `{axis}` has no versions")))
                }
                AxisSpec::Versions(list) => explicit_axis(axis, &list, source),
                AxisSpec::Query(query) => Ok(Axis {
                    values: AxisValues::Query {
                        specifiers: parse_specifiers(&query.versions).map_err(|e| {
                            source.error_at(&[axis.as_str(), query.versions.as_str()], e)
                        })?,
                        pre: query.pre,
                    },
                    name: axis,
                    written_at: Vec::new(),
                }),
            }
        })
        .collect()
}

/// An axis of listed versions. One version written two ways (`2.4` and `2.4.0` are equal in PEP 440) would make
/// two cells with one environment, so it is refused, naming both places.
fn explicit_axis(axis: String, list: &[String], source: &Source) -> Result<Axis> {
    let mut versions: Vec<Version> = Vec::new();
    let mut written_at: Vec<String> = Vec::new();
    for text in list {
        let at = source.at_path(&[axis.as_str(), &format!("{text:?}")]);
        let version =
            parse_version(text).map_err(|e| source.error_at(&[axis.as_str(), text.as_str()], e))?;
        if let Some(first) = versions.iter().position(|v| *v == version) {
            return Err(Error::BadInput(format!(
                "{at}: axis `{axis}` lists `{text}`, the same version as `{}` at {}; keep one",
                list[first], written_at[first]
            )));
        }
        versions.push(version);
        written_at.push(at);
    }
    Ok(Axis {
        name: axis,
        values: AxisValues::Explicit(versions),
        written_at,
    })
}

fn known_issue(entry: KnownSpec, probes: &[String], source: &Source) -> Result<Known> {
    let mut when = Vec::new();
    // `when` may name any package, not only axes: a LitGPT matrix leaves Lightning to the resolver yet its known
    // issue is a Lightning window, matched against the version each cell resolved.
    for (package, text) in &entry.when {
        check_package(package, &["known", entry.id.as_str(), package], source)?;
        let specifiers = parse_specifiers(text)
            .map_err(|e| source.error_at(&["known", entry.id.as_str(), text.as_str()], e))?;
        when.push((package.clone(), specifiers));
    }
    if let Some(probe) = entry.probes.iter().find(|p| !probes.contains(p)) {
        let hint = suggest::hint(probe, probes.iter().map(String::as_str));
        return Err(source.error_at(
            &["known", entry.id.as_str(), probe.as_str()],
            format!(
                "known issue `{}` names probe `{probe}`, which the matrix does not run{hint}",
                entry.id
            ),
        ));
    }
    Ok(Known {
        id: entry.id,
        signature: entry.signature,
        when,
        probes: entry.probes,
    })
}

/// `numpy = "<2"` becomes `numpy<2`; a bare version means exactly that version.
fn pin_requirement(package: &str, constraint: &str, source: &Source) -> Result<String> {
    let constraint = constraint.trim();
    let specifiers = if constraint.starts_with(|c: char| c.is_ascii_digit()) {
        format!("=={constraint}")
    } else {
        constraint.to_string()
    };
    parse_specifiers(&specifiers).map_err(|e| source.error_at(&["pins", package], e))?;
    Ok(format!("{package}{specifiers}"))
}

fn assignments(
    tables: &[indexmap::IndexMap<String, String>],
    section: &str,
    axis_names: &[&str],
    source: &Source,
) -> Result<Vec<Vec<(String, Version)>>> {
    tables
        .iter()
        .map(|table| {
            if table.is_empty() {
                return Err(source.error_at(
                    &[section],
                    format!("an empty [[{section}]] matches nothing"),
                ));
            }
            table
                .iter()
                .map(|(axis, value)| {
                    check_axis(axis, axis_names, &[section, axis.as_str()], source)?;
                    let version = parse_version(value).map_err(|e| {
                        source.error_at(&[section, axis.as_str(), value.as_str()], e)
                    })?;
                    Ok((axis.clone(), version))
                })
                .collect()
        })
        .collect()
}

fn check_axis(axis: &str, axis_names: &[&str], needles: &[&str], source: &Source) -> Result<()> {
    if axis_names.contains(&axis) {
        return Ok(());
    }
    let hint = suggest::hint(axis, axis_names.iter().copied());
    Err(source.error_at(needles, format!("unknown axis `{axis}`{hint}")))
}
