//! A validated matrix, as the rest of qcompat sees it: its axes, pins, cells to add and leave out, known issues and
//! the probes it runs. `load` builds one from a file; `expand` makes its cells.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::index::version::{Version, VersionSpecifiers};
use crate::probe::catalog::Catalog;
use crate::probe::spec::ProbeSpec;

/// The interpreter's axis (`python = ["3.11", "3.12"]`): first in axis order, never a package to install.
pub const PYTHON_AXIS: &str = "python";

/// Axis values in axis order; a partial assignment leaves the missing packages to the resolver.
pub type Assignment = Vec<(String, Version)>;

/// A validated matrix.
#[derive(Debug)]
pub struct Matrix {
    pub name: String,
    /// The file it was read from, as given.
    pub source: PathBuf,
    /// SHA-256 of the file's text (16 hex digits): a plan of an edited matrix is another plan.
    pub digest: String,
    /// Interpreter request: a version (`3.11`) or an interpreter's path (holding a `/`); the default `python3` when
    /// absent. None too when the interpreter is an axis (the first of `axes`, named [`PYTHON_AXIS`]).
    pub python: Option<String>,
    /// The package under test (`[project]`), installed into every cell on top of the axes.
    pub project: Option<Project>,
    /// The probes the matrix runs, in catalogue order.
    pub probes: Vec<Arc<ProbeSpec>>,
    /// The probes it may name: the built-in ones.
    pub catalog: Catalog,
    pub timeout: Duration,
    /// Modules a shared base interpreter may preload (`torch`, `torch._dynamo`).
    pub preload: Vec<String>,
    pub axes: Vec<Axis>,
    /// `file:line:column` of the `axes` key: where a matrix with too many cells is pointed at.
    pub axes_at: String,
    /// Requirement strings added to every cell (`numpy<2`).
    pub pins: Vec<String>,
    pub exclude: Vec<Vec<(String, Version)>>,
    pub include: Vec<Vec<(String, Version)>>,
    /// `file:line:column` of each include value, in the order of `include`: where the plan points when the index
    /// does not publish one.
    pub include_at: Vec<Vec<String>>,
    pub known: Vec<Known>,
    /// `[build.NAME]`: how to build a package's wheel from a commit (`bisect --repo`).
    pub builds: Vec<BuildRecipe>,
}

/// How to build one package's wheel from a checkout of its repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildRecipe {
    /// Normalized.
    pub package: String,
    /// Variables the build backend reads (`PACKAGE_NAME = "lightning"` for Lightning's monorepo).
    pub env: Vec<(String, String)>,
    /// Requirements the build environment must satisfy (`setuptools<70`: uv's `--build-constraint`).
    pub constraints: Vec<String>,
    /// The parts of the tree the build needs (all of it when empty): a monorepo's docs need not be exported.
    pub paths: Vec<String>,
}

/// `[project]`: the user's package, built once per run (or installed editable) into every cell.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project's folder (relative paths are resolved against the matrix file's folder).
    pub path: PathBuf,
    pub editable: bool,
    /// `file:line:column` of `path`: where a build that fails is pointed at.
    pub at: String,
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

impl Axis {
    /// Whether this axis is the interpreter's (its values are Python versions, not a package's).
    pub fn is_interpreter(&self) -> bool {
        self.name == PYTHON_AXIS
    }
}

impl Matrix {
    /// Every interpreter the cells ask for: the Python axis's versions, else the one `python` (None: the default).
    pub fn python_requests(&self) -> Vec<Option<String>> {
        match self.axes.iter().find(|a| a.is_interpreter()) {
            Some(Axis {
                values: AxisValues::Explicit(versions),
                ..
            }) => versions.iter().map(|v| Some(v.to_string())).collect(),
            _ => vec![self.python.clone()],
        }
    }

    /// The names of the probes the matrix runs, in catalogue order.
    pub fn probe_names(&self) -> Vec<String> {
        self.probes.iter().map(|p| p.name.clone()).collect()
    }

    /// The build recipe for `package`, if the matrix has one.
    pub fn build_recipe(&self, package: &str) -> Option<&BuildRecipe> {
        let package = crate::index::normalize(package);
        self.builds.iter().find(|b| b.package == package)
    }
}

/// The packages of the axes whose versions are written out (not queried), normalized.
pub fn explicit_axes(matrix: &Matrix) -> Vec<String> {
    matrix
        .axes
        .iter()
        .filter(|a| matches!(a.values, AxisValues::Explicit(_)) && !a.is_interpreter())
        .map(|a| crate::index::normalize(&a.name))
        .collect()
}
