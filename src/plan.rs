//! A run plan: the matrix, the versions of its query axes fixed at planning time, the cells and probes selected,
//! and a stable hash. `run` consumes one; it serializes to JSON (`run --list --format json`), so every command that
//! runs cells works from the same decisions.

use indexmap::IndexMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cell_key::CellKey;
use crate::error::{Error, Result};
use crate::index::{self, IndexSettings};
use crate::matrix::{self, AxisValues, Cell, Matrix};
use crate::version::{self, Version};
use crate::{probe, published, suggest};

/// Which cells and probes of a matrix to run, as the user asked.
#[derive(Debug, Default)]
pub struct Selection {
    /// `AXIS=VERSION`; several on one axis are alternatives, filters on different axes must all hold.
    pub filters: Vec<String>,
    /// Probe names; empty means the matrix's own.
    pub probes: Vec<String>,
}

pub struct Plan {
    pub matrix: Matrix,
    /// Per axis, in axis order: the versions the plan is made of (query axes as the index listed them).
    pub axis_versions: Vec<Vec<Version>>,
    /// Every cell of the matrix, in matrix order: the order of a snapshot, whatever was selected.
    pub all_cells: Vec<Cell>,
    /// The selected cells, in matrix order.
    pub cells: Vec<Cell>,
    /// The selected probes, in catalogue order.
    pub probes: Vec<String>,
    /// SHA-256 (16 hex digits) of the matrix text, the axis versions, the cells and the probes.
    pub hash: String,
}

/// The JSON form of a plan.
#[derive(Serialize)]
struct PlanFile<'a> {
    matrix: &'a str,
    source: String,
    digest: &'a str,
    probes: &'a [String],
    axes: IndexMap<&'a str, Vec<String>>,
    cells: Vec<CellKey>,
}

impl Plan {
    /// Expands `matrix` (asking the index for the versions of query axes) and applies `selection`.
    pub fn new(matrix: Matrix, selection: &Selection, index: &IndexSettings) -> Result<Self> {
        let probes = selected_probes(&matrix, &selection.probes)?;
        let filters = parse_filters(&matrix, &selection.filters)?;
        let axis_versions = axis_versions(&matrix, index)?;
        let all_cells = matrix::expand(&matrix, &axis_versions);
        let cells: Vec<Cell> = all_cells
            .iter()
            .filter(|c| matches_filters(c, &filters))
            .cloned()
            .collect();
        if cells.is_empty() {
            return Err(Error::BadInput(format!(
                "{}: no cell matches the filters{}",
                matrix.source.display(),
                valid_values(&matrix, &axis_versions, &filters)
            )));
        }
        let mut plan = Self {
            matrix,
            axis_versions,
            all_cells,
            cells,
            probes,
            hash: String::new(),
        };
        plan.hash = hex16(serde_json::to_string(&plan.file()).expect("plans serialize"));
        Ok(plan)
    }

    /// The plan as JSON, with its hash.
    pub fn to_json(&self) -> String {
        let mut value = serde_json::to_value(self.file()).expect("plans serialize");
        value["hash"] = self.hash.clone().into();
        serde_json::to_string_pretty(&value).expect("plans serialize") + "\n"
    }

    /// The resume journal's file name: one per matrix name, selection and probes, so two different runs of one
    /// matrix on one cache keep separate journals. Edits to pins keep the journal (each entry is checked against
    /// the environment the cell would get now).
    pub fn journal_name(&self) -> String {
        let keys: Vec<String> = self.cells.iter().map(|c| c.key().to_string()).collect();
        let identity = format!(
            "{}\n{}\n{}",
            self.matrix.name,
            self.probes.join(" "),
            keys.join("\n")
        );
        format!("journal-{}.jsonl", hex16(identity))
    }

    fn file(&self) -> PlanFile<'_> {
        PlanFile {
            matrix: &self.matrix.name,
            source: self.matrix.source.display().to_string(),
            digest: &self.matrix.digest,
            probes: &self.probes,
            axes: self
                .matrix
                .axes
                .iter()
                .zip(&self.axis_versions)
                .map(|(axis, versions)| {
                    (
                        axis.name.as_str(),
                        versions.iter().map(ToString::to_string).collect(),
                    )
                })
                .collect(),
            cells: self.cells.iter().map(Cell::key).collect(),
        }
    }
}

fn hex16(text: String) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The matrix's probes, or the subset asked with `--probe`, in catalogue order.
fn selected_probes(matrix: &Matrix, asked: &[String]) -> Result<Vec<String>> {
    for name in asked {
        if !matrix.probes.contains(name) {
            let hint = suggest::hint(name, matrix.probes.iter().map(String::as_str));
            return Err(Error::BadInput(format!(
                "--probe {name}: the matrix does not run this probe{hint}"
            )));
        }
    }
    Ok(probe::catalog::names()
        .filter(|p| {
            matrix.probes.iter().any(|m| m == p)
                && (asked.is_empty() || asked.iter().any(|a| a == p))
        })
        .map(String::from)
        .collect())
}

/// Filters on one axis are alternatives (`--filter bitsandbytes=0.42.0 --filter bitsandbytes=0.45.5`), filters on
/// different axes must all hold.
fn matches_filters(cell: &Cell, filters: &[(String, Version)]) -> bool {
    filters.iter().all(|(axis, _)| {
        let version = cell.version_of(axis);
        filters.iter().any(|(a, v)| a == axis && version == Some(v))
    })
}

fn parse_filters(matrix: &Matrix, filters: &[String]) -> Result<Vec<(String, Version)>> {
    filters
        .iter()
        .map(|filter| {
            let (axis, value) = filter.split_once('=').ok_or_else(|| {
                Error::BadInput(format!("--filter {filter}: expected AXIS=VERSION"))
            })?;
            if !matrix.axes.iter().any(|a| a.name == axis) {
                let hint = suggest::hint(axis, matrix.axes.iter().map(|a| a.name.as_str()));
                return Err(Error::BadInput(format!(
                    "--filter {filter}: unknown axis `{axis}`{hint}"
                )));
            }
            let version = version::parse_version(value)
                .map_err(|e| Error::BadInput(format!("--filter {filter}: {e}")))?;
            Ok((axis.to_string(), version))
        })
        .collect()
}

/// `; toyquant takes 1.0, 1.2`: the versions of each filtered axis whose filter names none of them.
fn valid_values(
    matrix: &Matrix,
    axis_versions: &[Vec<Version>],
    filters: &[(String, Version)],
) -> String {
    const SHOWN: usize = 12;
    let mut phrases = Vec::new();
    for (axis, versions) in matrix.axes.iter().zip(axis_versions) {
        let asked: Vec<&Version> = filters
            .iter()
            .filter(|(a, _)| *a == axis.name)
            .map(|(_, v)| v)
            .collect();
        if asked.is_empty() || asked.iter().any(|v| versions.contains(v)) {
            continue;
        }
        let mut shown: Vec<String> = versions
            .iter()
            .take(SHOWN)
            .map(ToString::to_string)
            .collect();
        if versions.len() > SHOWN {
            shown.push(format!("… ({} in all; run --list)", versions.len()));
        }
        phrases.push(format!("{} takes {}", axis.name, shown.join(", ")));
    }
    if phrases.is_empty() {
        return String::new();
    }
    format!("; {}", phrases.join("; "))
}

/// Each axis's versions: explicit ones as written, query axes as the index lists them now.
fn axis_versions(matrix: &Matrix, settings: &IndexSettings) -> Result<Vec<Vec<Version>>> {
    matrix
        .axes
        .iter()
        .map(|axis| match &axis.values {
            AxisValues::Explicit(versions) => {
                published::check_explicit(axis, versions, settings)?;
                Ok(versions.clone())
            }
            AxisValues::Query { specifiers, pre } => {
                let listed = index::list_versions(&axis.name, settings)?;
                let matching: Vec<Version> = listed
                    .into_iter()
                    .filter(|v| version::admits(specifiers, v, *pre))
                    .collect();
                if matching.is_empty() {
                    return Err(Error::BadInput(format!(
                        "axis `{}`: no published version matches `{specifiers}`{}",
                        axis.name,
                        if *pre {
                            ""
                        } else {
                            " (pre-releases excluded: add pre = true)"
                        }
                    )));
                }
                Ok(matching)
            }
        })
        .collect()
}
