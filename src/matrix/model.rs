//! A validated matrix, as the rest of qcompat sees it: its axes, pins, cells to add and leave out, known issues and
//! the probes it runs. `load` builds one from a file; `expand` makes its cells.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::index::version::{Version, VersionSpecifiers};
use crate::probe::catalog::Catalog;
use crate::probe::spec::ProbeSpec;

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
    /// absent.
    pub python: Option<String>,
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

impl Matrix {
    /// The names of the probes the matrix runs, in catalogue order.
    pub fn probe_names(&self) -> Vec<String> {
        self.probes.iter().map(|p| p.name.clone()).collect()
    }
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
