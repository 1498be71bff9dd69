//! `qcompat init`: start a user's project with qcompat in one command. From what the project depends on (its
//! `pyproject.toml`, `requirements*.txt`, a `uv pip freeze`), the packages of the stack it uses become the axes of a
//! starting matrix, each from the version it pins now on (query axes: the newest releases join as they are published,
//! nightlies where the package publishes them on the index); the probes are the catalogue's that those packages
//! can run. Beside it: the pull-request, nightly and comment workflows that use qcompat's GitHub Action, and a README
//! snippet. Nothing is written over an existing file unless asked.

mod deps;
mod render;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::files::write_atomically;
use crate::index::version::Version;
use crate::index::{self, IndexSettings};
use crate::probe::catalog::Catalog;
use crate::probe::spec::ProbeSpec;

pub use deps::{Freeze, Requirement};
pub use render::comment_workflow;

/// Where the action is published; `init --action` names another (a fork, a branch).
pub const ACTION_REPOSITORY: &str = "qcompat/qcompat";

/// The name of the matrix `init` writes: `matrices/stack.toml`, recorded in `reports/stack.snap.toml`.
pub const MATRIX_NAME: &str = "stack";

/// A package of the stack qcompat tests, an axis when the project uses it, in axis order.
pub struct StackPackage {
    pub name: &'static str,
    /// Whether the default index carries its nightlies (`2.5.0.dev20240728`): then its axis admits pre-releases.
    pub nightlies: bool,
}

pub const STACK: &[StackPackage] = &[
    StackPackage {
        name: "lightning",
        nightlies: true,
    },
    StackPackage {
        name: "litgpt",
        nightlies: false,
    },
    StackPackage {
        name: "transformers",
        nightlies: false,
    },
    StackPackage {
        name: "peft",
        nightlies: false,
    },
    StackPackage {
        name: "bitsandbytes",
        nightlies: false,
    },
    // torch's nightlies live on its own index, not the default one.
    StackPackage {
        name: "torch",
        nightlies: false,
    },
    // The toy stack of qcompat's self-test (fixtures/toy/): toyquant publishes a nightly, toyheavy stands in for torch.
    StackPackage {
        name: "toyquant",
        nightlies: true,
    },
    StackPackage {
        name: "toyheavy",
        nightlies: false,
    },
];

/// What `init` is asked to do.
pub struct Request {
    /// The project's root: where its dependency files are read and the new files written.
    pub project: PathBuf,
    pub freeze: Option<Freeze>,
    /// Where versions are listed for a package the project names without a version.
    pub index: IndexSettings,
    /// `OWNER/REPO@REF` of the action the workflows use.
    pub action: String,
    pub force: bool,
}

/// One axis of the starting matrix: a package and the version its query starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub package: &'static str,
    pub from: Version,
    pub pre: bool,
    /// Where the version came from (`pyproject.toml:8 lightning>=2.4`, or `newest on the index`).
    pub origin: String,
}

/// The files `init` writes, relative to the project, and what the matrix holds.
pub struct Scaffold {
    pub axes: Vec<Axis>,
    /// The catalogue's probes the axes can run, in catalogue order.
    pub probes: Vec<Arc<ProbeSpec>>,
    pub files: Vec<(PathBuf, String)>,
    pub matrix: PathBuf,
}

/// Reads the project and composes every file; writes nothing.
pub fn scaffold(request: &Request) -> Result<Scaffold> {
    let names: Vec<&str> = STACK.iter().map(|p| p.name).collect();
    let found = deps::requirements(&request.project, request.freeze.as_ref(), &names)?;
    let axes = axes(&found, &request.index)?;
    if axes.is_empty() {
        let real: Vec<&str> = names
            .into_iter()
            .filter(|n| !n.starts_with("toy"))
            .collect();
        return Err(Error::BadInput(format!(
            "{}: no dependency on {} in pyproject.toml, requirements*.txt{}: nothing for qcompat to test",
            request.project.display(),
            real.join(", "),
            request
                .freeze
                .as_ref()
                .map_or(String::new(), |f| format!(" or {}", f.origin)),
        )));
    }
    let probes = probes_for(&axes)?;
    let matrix = Path::new("matrices").join(format!("{MATRIX_NAME}.toml"));
    let files = render::files(&axes, &probes, &matrix, &request.action);
    Ok(Scaffold {
        axes,
        probes,
        files,
        matrix,
    })
}

/// Writes the scaffold's files under `project`. Existing files are refused all together, naming each (exit 2),
/// unless `force`: then they are replaced.
pub fn write(project: &Path, scaffold: &Scaffold, force: bool) -> Result<()> {
    let existing: Vec<String> = scaffold
        .files
        .iter()
        .filter(|(path, _)| project.join(path).exists())
        .map(|(path, _)| path.display().to_string())
        .collect();
    if !existing.is_empty() && !force {
        return Err(Error::BadInput(format!(
            "{}: would overwrite {}; move them away or pass --force",
            project.display(),
            existing.join(", ")
        )));
    }
    for (path, text) in &scaffold.files {
        write_atomically(&project.join(path), text)?;
    }
    Ok(())
}

/// One axis per stack package found, in stack order, from the most precise version found (a freeze beats a file's
/// floor); a package named without any version starts from its newest release on the index.
fn axes(found: &[Requirement], index: &IndexSettings) -> Result<Vec<Axis>> {
    let mut axes = Vec::new();
    for package in STACK {
        let mentions: Vec<&Requirement> =
            found.iter().filter(|r| r.package == package.name).collect();
        let Some(first) = mentions.first() else {
            continue;
        };
        let pinned = mentions.iter().rev().find(|r| r.version.is_some());
        let (from, origin) = match pinned {
            Some(r) => (
                r.version.clone().expect("found with a version"),
                format!("{} {}", r.origin, r.text),
            ),
            None => (
                newest_release(package.name, index)?,
                format!("{} {}; newest release", first.origin, first.text),
            ),
        };
        axes.push(Axis {
            package: package.name,
            from,
            pre: package.nightlies,
            origin,
        });
    }
    Ok(axes)
}

fn newest_release(package: &str, index: &IndexSettings) -> Result<Version> {
    index::list_versions(package, index)?
        .into_iter()
        .rev()
        .find(|v| !v.any_prerelease() && !v.is_dev())
        .ok_or_else(|| {
            Error::BadInput(format!(
                "`{package}`: no release on the index to start its axis from; pin a version in the project"
            ))
        })
}

/// The catalogue's probes whose needs the axes meet. Every package of the real stack brings torch; LitGPT brings
/// Lightning, and with it the matrix pins the tokenizer its command needs.
fn probes_for(axes: &[Axis]) -> Result<Vec<Arc<ProbeSpec>>> {
    let mut available: Vec<&str> = axes.iter().map(|a| a.package).collect();
    if available.iter().any(|p| !p.starts_with("toy")) {
        available.push("torch");
    }
    if available.contains(&"litgpt") {
        available.extend(["lightning", "tokenizers"]);
    }
    let probes: Vec<Arc<ProbeSpec>> = Catalog::builtin()
        .iter()
        .filter(|probe| {
            probe
                .needs
                .iter()
                .all(|need| available.contains(&need.as_str()))
        })
        .cloned()
        .collect();
    if probes.is_empty() {
        let used: Vec<&str> = axes.iter().map(|a| a.package).collect();
        return Err(Error::BadInput(format!(
            "the project uses {}, but every probe needs bitsandbytes or lightning too (`qcompat probes`)",
            used.join(", ")
        )));
    }
    Ok(probes)
}
