//! What a user's project depends on: the requirements of its `pyproject.toml` (PEP 621 dependencies, optional
//! dependencies, PEP 735 dependency groups), of its `requirements*.txt` files, and of a `uv pip freeze` (the versions
//! installed now). Only the stack qcompat tests matters here; everything else a project names is passed over.

use std::path::Path;

use pep440_rs::Operator;

use crate::error::{Error, Result};
use crate::index::normalize;
use crate::index::version::{Version, parse_specifiers, parse_version};

/// One requirement on a package of the stack, where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Normalized package name.
    pub package: String,
    /// The version it pins now: `==V` (or the frozen version), else the floor of `>=V`, `~=V`, `==V.*`.
    pub version: Option<Version>,
    /// `file:line`, or `file` where the line is not known.
    pub origin: String,
    /// The requirement as written.
    pub text: String,
}

/// A `uv pip freeze` (or `pip freeze`) output, with what to call it in messages.
pub struct Freeze {
    pub origin: String,
    pub text: String,
}

/// Every requirement on one of `stack`'s packages in `project`'s files, then in `freeze`: later sources pin more
/// precisely, so the caller takes the last version found for each package.
pub fn requirements(
    project: &Path,
    freeze: Option<&Freeze>,
    stack: &[&str],
) -> Result<Vec<Requirement>> {
    let mut found = Vec::new();
    let pyproject = project.join("pyproject.toml");
    if pyproject.is_file() {
        found.extend(from_pyproject(&pyproject)?);
    }
    for file in requirement_files(project)? {
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        let name = file.strip_prefix(project).unwrap_or(&file);
        found.extend(from_lines(&name.display().to_string(), &text));
    }
    if let Some(freeze) = freeze {
        found.extend(from_lines(&freeze.origin, &freeze.text));
    }
    found.retain(|r| stack.contains(&r.package.as_str()));
    Ok(found)
}

/// `requirements*.txt` at the project's root and `requirements/*.txt`, in name order.
fn requirement_files(project: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for (folder, prefix) in [
        (project.to_path_buf(), "requirements"),
        (project.join("requirements"), ""),
    ] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&folder, e))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_file() && name.starts_with(prefix) && name.ends_with(".txt") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The requirement strings of a pyproject.toml, located by the line they are written on.
fn from_pyproject(path: &Path) -> Result<Vec<Requirement>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |s| text[..s.start].lines().count().max(1));
        let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
        Error::BadInput(format!("{}:{line}:1: {message}", path.display()))
    })?;
    let mut strings: Vec<&str> = Vec::new();
    let project = doc.get("project");
    collect(project.and_then(|p| p.get("dependencies")), &mut strings);
    for group in [
        project.and_then(|p| p.get("optional-dependencies")),
        doc.get("dependency-groups"),
    ] {
        if let Some(table) = group.and_then(|g| g.as_table()) {
            table
                .values()
                .for_each(|list| collect(Some(list), &mut strings));
        }
    }
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Ok(strings
        .into_iter()
        .filter_map(|requirement| {
            let line = text
                .find(requirement)
                .map_or(0, |at| text[..at].lines().count().max(1));
            parse(requirement, format!("{name}:{line}"))
        })
        .collect())
}

/// The strings of a TOML array (a dependency group's `{include-group = …}` entries are not requirements).
fn collect<'a>(list: Option<&'a toml::Value>, into: &mut Vec<&'a str>) {
    let items = list.and_then(|l| l.as_array()).into_iter().flatten();
    into.extend(items.filter_map(|item| item.as_str()));
}

/// A requirements file or a freeze: one requirement a line; comments, options (`-r`, `-e`, `--index-url`) and
/// direct references (`name @ url`) are passed over.
fn from_lines(origin: &str, text: &str) -> Vec<Requirement> {
    text.lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let line = line.split(" #").next().unwrap_or_default().trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
                return None;
            }
            parse(line, format!("{origin}:{}", n + 1))
        })
        .collect()
}

/// A PEP 508 requirement: its name and the version it pins now; `None` for a direct reference or a name that is
/// not a name. Markers and extras are dropped: a stack package is tested whatever platform or extra asked for it.
fn parse(requirement: &str, origin: String) -> Option<Requirement> {
    let spec = requirement.split(';').next().unwrap_or_default().trim();
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let (name, rest) = spec.split_at(name_end);
    let rest = rest.trim_start();
    if name.is_empty() || rest.starts_with('@') {
        return None;
    }
    let rest = match rest.strip_prefix('[') {
        Some(extras) => extras.split_once(']').map_or("", |(_, after)| after),
        None => rest,
    };
    let specifiers = rest.trim().trim_start_matches('(').trim_end_matches(')');
    Some(Requirement {
        package: normalize(name),
        version: pinned(specifiers),
        origin,
        text: requirement.trim().to_string(),
    })
}

/// The version a specifier set pins: the exact one, else its floor; none for an open or unparsable set.
fn pinned(specifiers: &str) -> Option<Version> {
    if specifiers.is_empty() {
        return None;
    }
    if let Some(exact) = specifiers.strip_prefix("===") {
        return parse_version(exact).ok();
    }
    let set = parse_specifiers(specifiers).ok()?;
    let exact = set.iter().find(|s| matches!(s.operator(), Operator::Equal));
    let floor = set.iter().find(|s| {
        matches!(
            s.operator(),
            Operator::GreaterThanEqual | Operator::TildeEqual | Operator::EqualStar
        )
    });
    exact.or(floor).map(|s| s.version().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(requirement: &str) -> Option<String> {
        parse(requirement, String::new()).and_then(|r| r.version.map(|v| v.to_string()))
    }

    #[test]
    fn the_pinned_version_is_the_exact_one_else_the_floor() {
        assert_eq!(version("torch==2.3.0"), Some("2.3.0".into()));
        assert_eq!(
            version("Lightning[extra]>=2.4,<2.6 ; python_version>'3.8'"),
            Some("2.4".into())
        );
        assert_eq!(version("bitsandbytes~=0.45.0"), Some("0.45.0".into()));
        assert_eq!(version("peft (==0.13.*)"), Some("0.13".into()));
        assert_eq!(version("transformers<5"), None);
        assert_eq!(version("litgpt"), None);
        assert!(parse("torch @ https://example.org/torch.whl", String::new()).is_none());
        assert_eq!(
            parse("PyTorch_Lightning>=2", String::new())
                .unwrap()
                .package,
            "pytorch-lightning"
        );
    }

    #[test]
    fn requirement_files_skip_comments_options_and_references() {
        let found = from_lines(
            "requirements.txt",
            "# the stack\n-r base.txt\n--index-url https://example.org/simple\ntorch==2.3.0  # cpu\n\nlocal @ file:///x\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].origin, "requirements.txt:4");
        assert_eq!(found[0].text, "torch==2.3.0");
    }
}
