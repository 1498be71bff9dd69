//! The rules on a matrix's package sections (axes, pins, include and exclude, known issues), over the shape
//! `schema` read. Each problem is added at the value it is about; a value that breaks a rule is left out, so the
//! rest is still checked.

use super::model::{Axis, AxisValues, BuildRecipe, Known, PYTHON_AXIS};
use super::problems::Problems;
use super::schema::{AxisSpec, AxisValuesSpec, BuildSpec, KnownSpec, Located, Text};
use super::source::Source;
use crate::index::normalize;
use crate::index::version::{
    Version, VersionSpecifiers, can_match, parse_specifiers, parse_version,
};
use crate::suggest;

/// An assignment of versions to axes (`[[include]]`, `[[exclude]]`), each value with its offset.
pub type LocatedAssignment = Vec<((String, Version), usize)>;

pub fn axes(specs: &[AxisSpec], source: &Source, problems: &mut Problems) -> Vec<Axis> {
    one_per_package(specs.iter().map(|s| &s.name), "axis", source, problems);
    specs
        .iter()
        .filter_map(|spec| {
            let named = is_package(&spec.name, problems) && !is_interpreter(&spec.name, problems);
            let axis = axis(spec, source, problems)?;
            named.then_some(axis)
        })
        .collect()
}

fn axis(spec: &AxisSpec, source: &Source, problems: &mut Problems) -> Option<Axis> {
    let name = &spec.name.value;
    let (values, written_at) = match spec.values.as_ref()? {
        AxisValuesSpec::Versions(list) if list.is_empty() => {
            problems.add(spec.name.at, format!("axis `{name}` has no versions"));
            return None;
        }
        AxisValuesSpec::Versions(list) => explicit_versions(name, list, source, problems)?,
        AxisValuesSpec::Query { versions, pre } => {
            let specifiers = window(versions, &format!("axis `{name}`"), problems)?;
            let query = AxisValues::Query {
                specifiers,
                pre: *pre,
            };
            (query, Vec::new())
        }
    };
    Some(Axis {
        name: name.clone(),
        values,
        written_at,
    })
}

/// Listed versions. One version written two ways (`2.4` and `2.4.0` are equal in PEP 440) would make two cells with
/// one environment, so it is refused, naming both places.
fn explicit_versions(
    axis: &str,
    list: &[Text],
    source: &Source,
    problems: &mut Problems,
) -> Option<(AxisValues, Vec<String>)> {
    let mut versions: Vec<(Version, &Text)> = Vec::new();
    let mut ok = true;
    for text in list {
        let Some(version) = version(text, problems) else {
            ok = false;
            continue;
        };
        if let Some((_, first)) = versions.iter().find(|(v, _)| *v == version) {
            let message = format!(
                "axis `{axis}` lists `{}`, the same version as `{}` at {}; keep one",
                text.value,
                first.value,
                source.at_offset(first.at)
            );
            problems.add(text.at, message);
            ok = false;
            continue;
        }
        versions.push((version, text));
    }
    let written_at = versions
        .iter()
        .map(|(_, t)| source.at_offset(t.at))
        .collect();
    let values = AxisValues::Explicit(versions.into_iter().map(|(v, _)| v).collect());
    ok.then_some((values, written_at))
}

/// `python = ["3.10", "3.11"]`: the interpreter as an axis, its values version requests (`3`, `3.11`, `3.11.4`) each
/// written once; an interpreter's path is for the one-interpreter form.
pub fn python_axis(
    list: &Located<Vec<Text>>,
    source: &Source,
    problems: &mut Problems,
) -> Option<Axis> {
    if list.value.is_empty() {
        problems.add(list.at, "`python` lists no version: name at least one");
        return None;
    }
    let mut ok = true;
    for text in list.value.iter().filter(|t| !is_version_request(&t.value)) {
        let message = format!(
            "`python` lists `{}`: a list takes versions (`3.11`); write a path as `python = \"…\"`",
            text.value
        );
        problems.add(text.at, message);
        ok = false;
    }
    let (values, written_at) = explicit_versions(PYTHON_AXIS, &list.value, source, problems)?;
    ok.then(|| Axis {
        name: PYTHON_AXIS.to_string(),
        values,
        written_at,
    })
}

/// `3`, `3.11` or `3.11.4`: what an installed interpreter is asked by.
pub fn is_version_request(request: &str) -> bool {
    !request.is_empty()
        && request.split('.').count() <= 3
        && request
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `python` names the interpreter, never a package: an axis or a pin of that name would install a `python`
/// distribution instead of choosing the interpreter.
fn is_interpreter(name: &Text, problems: &mut Problems) -> bool {
    if normalize(&name.value) != PYTHON_AXIS {
        return false;
    }
    let message = "`python` is the interpreter, not a package: write `python = \"3.11\"` or \
                   `python = [\"3.11\", \"3.12\"]` at the top of the matrix";
    problems.add(name.at, message);
    true
}

/// `[pins]`: requirements added to every cell. A pin on an axis's package is refused: the cell installs that
/// package at exactly the axis's version, so the pin could only make cells unresolvable.
pub fn pins(
    pins: &[(Text, Text)],
    axes: &[&str],
    source: &Source,
    problems: &mut Problems,
) -> Vec<String> {
    one_per_package(pins.iter().map(|(p, _)| p), "pin", source, problems);
    let mut requirements = Vec::new();
    for (package, constraint) in pins {
        if let Some(axis) = axes
            .iter()
            .find(|a| normalize(a) == normalize(&package.value))
        {
            let message = format!(
                "`pins` names `{}`, the package of axis `{axis}`: each cell installs the axis's version, so a pin \
                 could only conflict; write the versions on the axis instead",
                package.value
            );
            problems.add(package.at, message);
        } else if is_package(package, problems)
            && !is_interpreter(package, problems)
            && let Some(requirement) = pin_requirement(&package.value, constraint, problems)
        {
            requirements.push(requirement);
        }
    }
    requirements
}

/// `[build.NAME]` recipes: a package name, variable names a shell could set, build constraints that are
/// requirements (`setuptools<70`), paths inside the repository.
pub fn builds(specs: &[BuildSpec], problems: &mut Problems) -> Vec<BuildRecipe> {
    let mut recipes = Vec::new();
    for spec in specs {
        let valid = is_package(&spec.package, problems);
        for (name, _) in &spec.env {
            let word = name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !word || name.value.starts_with(|c: char| c.is_ascii_digit()) {
                let message = format!("{:?} is not an environment variable name", name.value);
                problems.add(name.at, message);
            }
        }
        spec.constraints
            .iter()
            .for_each(|c| build_constraint(c, problems));
        for path in spec.paths.iter().filter(|p| !inside_repository(&p.value)) {
            let message = format!(
                "build path {:?} must be a path inside the repository",
                path.value
            );
            problems.add(path.at, message);
        }
        if valid {
            let texts = |list: &[Text]| list.iter().map(|t| t.value.trim().to_string()).collect();
            recipes.push(BuildRecipe {
                package: normalize(&spec.package.value),
                env: spec
                    .env
                    .iter()
                    .map(|(k, v)| (k.value.clone(), v.value.clone()))
                    .collect(),
                constraints: texts(&spec.constraints),
                paths: texts(&spec.paths),
            });
        }
    }
    recipes
}

/// A build constraint is a requirement: a package name, then PEP 440 specifiers if any (`setuptools<70`).
fn build_constraint(constraint: &Text, problems: &mut Problems) {
    let text = &constraint.value;
    let (name, rest) = text.split_at(
        text.find(|c: char| "<>=!~ ;[@".contains(c))
            .unwrap_or(text.len()),
    );
    let at = constraint.at;
    let named = Text {
        value: name.trim().to_string(),
        at,
    };
    if is_package(&named, problems) && !rest.trim().is_empty() {
        let specifiers = Text {
            value: rest.trim().to_string(),
            at,
        };
        window(&specifiers, "a build constraint", problems);
    }
}

/// A relative path that stays inside the repository (no `..`).
fn inside_repository(path: &str) -> bool {
    !path.is_empty() && !path.starts_with('/') && !path.split('/').any(|part| part == "..")
}

/// `numpy = "<2"` becomes `numpy<2`; a bare version means exactly that version.
fn pin_requirement(package: &str, constraint: &Text, problems: &mut Problems) -> Option<String> {
    let trimmed = constraint.value.trim();
    let specifiers = if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("=={trimmed}")
    } else {
        trimmed.to_string()
    };
    let written = Text {
        value: specifiers,
        at: constraint.at,
    };
    window(&written, &format!("pin `{package}`"), problems)?;
    Some(format!("{package}{}", written.value))
}

/// `[[include]]` or `[[exclude]]` entries: each names axes and one version of each. Without `axes` (missing or
/// misspelt, a problem already) no name can be judged an axis or not.
pub fn assignments(
    entries: &[Located<Vec<(Text, Text)>>],
    section: &str,
    axes: Option<&[&str]>,
    problems: &mut Problems,
) -> Vec<LocatedAssignment> {
    entries
        .iter()
        .filter_map(|entry| {
            if entry.value.is_empty() {
                problems.add(
                    entry.at,
                    format!("an empty `{section}` entry matches nothing"),
                );
                return None;
            }
            let values: LocatedAssignment = entry
                .value
                .iter()
                .filter_map(|(axis, value)| {
                    let known = axes.is_none_or(|axes| is_axis(axis, axes, problems));
                    let version = version(value, problems)?;
                    known.then(|| ((axis.value.clone(), version), value.at))
                })
                .collect();
            (values.len() == entry.value.len()).then_some(values)
        })
        .collect()
}

fn is_axis(axis: &Text, axes: &[&str], problems: &mut Problems) -> bool {
    if axes.contains(&axis.value.as_str()) {
        return true;
    }
    let hint = suggest::hint(&axis.value, axes.iter().copied());
    problems.add(axis.at, format!("unknown axis `{}`{hint}", axis.value));
    false
}

/// Known issues: ids are unique (reports name an issue by its id), windows can match, probes are the matrix's.
pub fn known(
    specs: &[KnownSpec],
    probes: &[String],
    source: &Source,
    problems: &mut Problems,
) -> Vec<Known> {
    let ids: Vec<&Text> = specs.iter().filter_map(|s| s.id.as_ref()).collect();
    for (index, id) in ids.iter().enumerate() {
        if let Some(first) = ids[..index].iter().find(|f| f.value == id.value) {
            let message = format!(
                "known issue id `{}` is used twice (first at {}); reports name an issue by its id: keep one",
                id.value,
                source.at_offset(first.at)
            );
            problems.add(id.at, message);
        }
    }
    specs
        .iter()
        .filter_map(|spec| known_issue(spec, probes, source, problems))
        .collect()
}

fn known_issue(
    spec: &KnownSpec,
    probes: &[String],
    source: &Source,
    problems: &mut Problems,
) -> Option<Known> {
    // `when` may name any package, not only axes: a LitGPT matrix leaves Lightning to the resolver yet its known
    // issue is a Lightning window, matched against the version each cell resolved.
    one_per_package(
        spec.when.iter().map(|(p, _)| p),
        "`when` package",
        source,
        problems,
    );
    let id = spec.id.as_ref().map_or("?", |i| i.value.as_str());
    let mut when = Vec::new();
    for (package, text) in &spec.when {
        let named = is_package(package, problems);
        let specifiers = window(text, &format!("known issue `{id}`'s `when`"), problems);
        if let (true, Some(specifiers)) = (named, specifiers) {
            when.push((package.value.clone(), specifiers));
        }
    }
    let mut ok = when.len() == spec.when.len();
    for probe in spec.probes.iter().filter(|p| !probes.contains(&p.value)) {
        let hint = suggest::hint(&probe.value, probes.iter().map(String::as_str));
        let message = format!(
            "known issue `{id}` names probe `{}`, which the matrix does not run{hint}",
            probe.value
        );
        problems.add(probe.at, message);
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(Known {
        id: spec.id.as_ref()?.value.clone(),
        signature: spec.signature.as_ref()?.value.clone(),
        when,
        probes: spec.probes.iter().map(|p| p.value.clone()).collect(),
    })
}

/// Specifiers that some version can satisfy: a window such as `>=2.0,<1.0` matches nothing, so it is refused.
fn window(text: &Text, what: &str, problems: &mut Problems) -> Option<VersionSpecifiers> {
    let specifiers = parse_specifiers(&text.value)
        .map_err(|e| problems.add(text.at, e))
        .ok()?;
    if !can_match(&specifiers) {
        let message = format!(
            "{what}: no version satisfies `{}` (its lower bound is above its upper one)",
            text.value
        );
        problems.add(text.at, message);
        return None;
    }
    Some(specifiers)
}

fn version(text: &Text, problems: &mut Problems) -> Option<Version> {
    parse_version(&text.value)
        .map_err(|e| problems.add(text.at, e))
        .ok()
}

/// Package names (PEP 508): they become requirements on uv's command line and parts of cell folders, so nothing
/// else may pass (a name starting with `-` would be read as an option).
fn is_package(name: &Text, problems: &mut Problems) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let inner = name
        .value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if inner && edge(name.value.chars().next()) && edge(name.value.chars().last()) {
        return true;
    }
    problems.add(name.at, format!("{:?} is not a package name", name.value));
    false
}

/// Two names of one package (PEP 503 compares names normalized: case, and runs of `-`, `_`, `.`) in one section
/// would pin it twice: every later one is refused, naming the first.
fn one_per_package<'a>(
    names: impl Iterator<Item = &'a Text>,
    what: &str,
    source: &Source,
    problems: &mut Problems,
) {
    let mut seen: Vec<(String, &Text)> = Vec::new();
    for name in names {
        let normalized = normalize(&name.value);
        match seen.iter().find(|(n, _)| *n == normalized) {
            Some((_, first)) => {
                let message = format!(
                    "{what} `{}` names the same package as `{}` at {} (package names compare ignoring case and \
                     `-`, `_`, `.`); keep one",
                    name.value,
                    first.value,
                    source.at_offset(first.at)
                );
                problems.add(name.at, message);
            }
            None => seen.push((normalized, name)),
        }
    }
}

/// humantime's syntax ("90s", "10m"); a timeout of zero would time out every probe before it starts.
pub(super) fn timeout(text: &Text, problems: &mut Problems) -> Option<std::time::Duration> {
    match humantime::parse_duration(&text.value) {
        Ok(duration) if duration.is_zero() => {
            problems.add(
                text.at,
                format!(
                    "timeout `{}` is zero: give a probe time to run (`10m`)",
                    text.value
                ),
            );
            None
        }
        Ok(duration) => Some(duration),
        Err(e) => {
            problems.add(
                text.at,
                format!(
                    "invalid timeout `{}`: {e} (write `90s`, `10m`, `1h`)",
                    text.value
                ),
            );
            None
        }
    }
}
