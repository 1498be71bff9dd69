//! A run plan: the matrix, the versions of its query axes fixed at planning time, the cells and probes selected,
//! and a stable hash. `run` consumes one; it serializes to JSON (`run --list --format json`, `plan`), so every command
//! that runs cells works from the same decisions, and [`Plan::from_json`] reads it back (`run --plan`) without asking
//! the index again.

pub mod shard;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::index::as_of::AsOf;
use crate::index::published;
use crate::index::version::{self, Version};
use crate::index::{self, IndexSettings};
use crate::matrix::cell_key::CellKey;
use crate::matrix::{self, AxisValues, Cell, Matrix};
use crate::probe::spec::ProbeSpec;
use crate::suggest;

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
    pub probes: Vec<Arc<ProbeSpec>>,
    /// SHA-256 (16 hex digits) of the matrix text, the axis versions, the cells and the probes (and `as_of` when
    /// set).
    pub hash: String,
    /// `--as-of`: the moment the index was listed at and installs resolve at (uv's `--exclude-newer`).
    pub as_of: Option<AsOf>,
    /// When the query axes were listed (RFC 3339): `as_of`, else the planning time; none for a matrix without
    /// query axes and without `--as-of`. Recorded in snapshots; not part of the hash.
    pub listed: Option<String>,
    /// The cells split for parallel jobs (`plan --shards N`); empty when not split.
    pub shards: Vec<Shard>,
    /// What planning could not check (an index that did not answer), for the caller to say.
    pub warnings: Vec<String>,
}

/// What `plan` prints: a GitHub Actions job matrix of the shards (`github`), or the whole plan (`json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Github,
    Json,
}

/// One shard of a plan: a runner label and the positions of its cells in [`Plan::cells`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    #[serde(rename = "runs-on")]
    pub runs_on: String,
    pub cells: Vec<usize>,
}

/// The JSON form of a plan.
#[derive(Serialize)]
struct PlanFile<'a> {
    matrix: &'a str,
    source: String,
    digest: &'a str,
    probes: Vec<&'a str>,
    axes: IndexMap<&'a str, Vec<String>>,
    cells: Vec<CellKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<&'a str>,
}

/// A plan file as read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanInput {
    matrix: String,
    source: PathBuf,
    digest: String,
    probes: Vec<String>,
    axes: IndexMap<String, Vec<String>>,
    cells: Vec<IndexMap<String, String>>,
    hash: String,
    as_of: Option<String>,
    listed: Option<String>,
    #[serde(default)]
    shards: Vec<Shard>,
}

impl Plan {
    /// Expands `matrix` (asking the index for the versions of query axes) and applies `selection`.
    pub fn new(matrix: Matrix, selection: &Selection, index: &IndexSettings) -> Result<Self> {
        let probes = selected_probes(&matrix, &selection.probes)?;
        let filters = parse_filters(&matrix, &selection.filters)?;
        let mut warnings = Vec::new();
        let axis_versions = axis_versions(&matrix, index, &mut warnings)?;
        let all_cells = matrix::cells(&matrix, &axis_versions)?;
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
            as_of: index.as_of.clone(),
            listed: None,
            shards: Vec::new(),
            warnings,
        };
        let queried = plan
            .matrix
            .axes
            .iter()
            .any(|a| matches!(a.values, AxisValues::Query { .. }));
        plan.listed = match &index.as_of {
            Some(as_of) => Some(as_of.text.clone()),
            None => queried.then(crate::index::as_of::now),
        };
        plan.hash = plan.content_hash();
        Ok(plan)
    }

    /// Reads a plan written by [`Plan::to_json`], re-reading its matrix file: a matrix edited since the plan was
    /// made, or a plan edited by hand, is refused (exit 2). No index is asked: the versions are the plan's.
    pub fn from_json(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |message: String| Error::BadInput(format!("{}: {message}", path.display()));
        let input = plan_input(path, &text)?;
        let matrix = matrix::load(&input.source)?;
        if matrix.digest != input.digest || matrix.name != input.matrix {
            return Err(bad(format!(
                "{} changed since this plan was made (digest {}, the plan's {}): make a new plan",
                input.source.display(),
                matrix.digest,
                input.digest
            )));
        }
        let axis_versions = planned_versions(&matrix, &input.axes).map_err(bad)?;
        let all_cells = matrix::cells(&matrix, &axis_versions)?;
        let cells = input
            .cells
            .iter()
            .map(|key| {
                let key = CellKey::new(key.clone());
                let cell = all_cells.iter().find(|c| c.key() == key).cloned();
                cell.ok_or_else(|| bad(format!("cell `{key}` is not a cell of the planned axes")))
            })
            .collect::<Result<Vec<Cell>>>()?;
        let as_of = input
            .as_of
            .as_deref()
            .map(AsOf::parse)
            .transpose()
            .map_err(|e| bad(format!("as_of {e}")))?;
        let plan = Self {
            probes: selected_probes(&matrix, &input.probes)?,
            matrix,
            axis_versions,
            all_cells,
            cells,
            hash: input.hash,
            as_of,
            listed: input.listed,
            shards: input.shards,
            warnings: Vec::new(),
        };
        if plan.content_hash() != plan.hash {
            return Err(bad(
                "its hash does not match its content (edited by hand?): make a new plan".into(),
            ));
        }
        if plan
            .shards
            .iter()
            .flat_map(|s| &s.cells)
            .any(|&i| i >= plan.cells.len())
        {
            return Err(bad("a shard names a cell the plan does not have".into()));
        }
        Ok(plan)
    }

    /// The plan as JSON, with its hash, when the query axes were listed, and its shards.
    pub fn to_json(&self) -> String {
        let mut value = serde_json::to_value(self.file()).expect("plans serialize");
        value["hash"] = self.hash.clone().into();
        if let Some(listed) = &self.listed {
            value["listed"] = listed.clone().into();
        }
        if !self.shards.is_empty() {
            value["shards"] = serde_json::to_value(&self.shards).expect("plans serialize");
        }
        serde_json::to_string_pretty(&value).expect("plans serialize") + "\n"
    }

    fn content_hash(&self) -> String {
        crate::digest::short(serde_json::to_string(&self.file()).expect("plans serialize"))
    }

    /// The names of the selected probes, in catalogue order: what results, journals and plan files record.
    pub fn probe_names(&self) -> Vec<String> {
        self.probes.iter().map(|p| p.name.clone()).collect()
    }

    /// The resume journal's file name: one per matrix name, selection and probes, so two different runs of one
    /// matrix on one cache keep separate journals. Edits to pins keep the journal (each entry is checked against
    /// the environment the cell would get now); an edit to a command probe's folder starts another.
    pub fn journal_name(&self) -> String {
        let keys: Vec<String> = self.cells.iter().map(|c| c.key().to_string()).collect();
        let mut identity = format!(
            "{}\n{}\n{}",
            self.matrix.name,
            self.probe_names().join(" "),
            keys.join("\n")
        );
        // A command probe whose folder changed must not reuse what the old one found.
        for command in self.probes.iter().filter_map(|p| p.command()) {
            identity.push_str(&format!("\n{}", command.content));
        }
        format!("journal-{}.jsonl", crate::digest::short(identity))
    }

    fn file(&self) -> PlanFile<'_> {
        PlanFile {
            matrix: &self.matrix.name,
            source: self.matrix.source.display().to_string(),
            digest: &self.matrix.digest,
            probes: self.probes.iter().map(|p| p.name.as_str()).collect(),
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
            as_of: self.as_of.as_ref().map(|a| a.text.as_str()),
        }
    }
}

/// The plan file's fields. serde's words for a misshapen one ("expected struct PlanInput") name a Rust type; the
/// reader is told instead what a plan is and which keys it holds, at the line and column serde stopped at.
fn plan_input(path: &Path, text: &str) -> Result<PlanInput> {
    serde_json::from_str(text).map_err(|e| {
        let keys = "matrix, source, digest, probes, axes, cells, hash, as_of, listed, shards";
        let found = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(_)) => e.to_string(),
            Ok(_) => "this JSON is not an object".to_string(),
            Err(_) => "this is not JSON".to_string(),
        };
        // serde's own list of the keys, and its position, are said once below.
        let found = found.split(" at line ").next().unwrap_or_default();
        let found = found.split(", expected one of").next().unwrap_or_default();
        Error::BadInput(format!(
            "{}:{}:{}: not a qcompat plan ({found}): a plan is the JSON object `qcompat plan` (or `run --list \
             --format json`) writes, with the keys {keys}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

/// Each axis's versions as the plan file lists them, in the matrix's axis order.
fn planned_versions(
    matrix: &Matrix,
    axes: &IndexMap<String, Vec<String>>,
) -> std::result::Result<Vec<Vec<Version>>, String> {
    matrix
        .axes
        .iter()
        .map(|axis| {
            let listed = axes
                .get(&axis.name)
                .ok_or_else(|| format!("the plan has no versions for axis `{}`", axis.name))?;
            listed
                .iter()
                .map(|v| version::parse_version(v).map_err(|e| e.to_string()))
                .collect()
        })
        .collect()
}

/// The matrix's probes, or the subset asked with `--probe`, in catalogue order.
fn selected_probes(matrix: &Matrix, asked: &[String]) -> Result<Vec<Arc<ProbeSpec>>> {
    let runs = matrix.probe_names();
    for name in asked {
        if !runs.contains(name) {
            let hint = suggest::hint(name, runs.iter().map(String::as_str));
            return Err(Error::BadInput(format!(
                "--probe {name}: the matrix does not run this probe{hint}"
            )));
        }
    }
    Ok(matrix
        .probes
        .iter()
        .filter(|p| asked.is_empty() || asked.contains(&p.name))
        .cloned()
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

/// Each axis's versions: explicit ones as written, query axes as the index lists them now. Every version the matrix
/// writes out, on an axis or in an `include` entry, must be published; an index that cannot say adds a warning.
fn axis_versions(
    matrix: &Matrix,
    settings: &IndexSettings,
    warnings: &mut Vec<String>,
) -> Result<Vec<Vec<Version>>> {
    matrix
        .axes
        .iter()
        .map(|axis| {
            // The interpreter's versions are looked for on this machine when the harness starts, not on the index.
            if !axis.is_interpreter() {
                let written = written_versions(matrix, axis);
                warnings.extend(published::check_explicit(&axis.name, &written, settings)?);
            }
            match &axis.values {
                AxisValues::Explicit(versions) => Ok(versions.clone()),
                AxisValues::Query { specifiers, pre } => {
                    queried_versions(axis, specifiers, *pre, settings)
                }
            }
        })
        .collect()
}

/// The versions of `axis` written in the matrix, each with its `file:line:column`: the axis's own, then the
/// include entries'.
fn written_versions<'m>(matrix: &'m Matrix, axis: &'m matrix::Axis) -> Vec<(&'m Version, &'m str)> {
    let own: &[Version] = match &axis.values {
        AxisValues::Explicit(versions) => versions,
        AxisValues::Query { .. } => &[],
    };
    let included = matrix
        .include
        .iter()
        .zip(&matrix.include_at)
        .flat_map(|(entry, at)| {
            entry
                .iter()
                .zip(at)
                .filter(|((name, _), _)| *name == axis.name)
                .map(|((_, version), at)| (version, at.as_str()))
        });
    own.iter()
        .zip(axis.written_at.iter().map(String::as_str))
        .chain(included)
        .collect()
}

fn queried_versions(
    axis: &matrix::Axis,
    specifiers: &version::VersionSpecifiers,
    pre: bool,
    settings: &IndexSettings,
) -> Result<Vec<Version>> {
    let listed = index::list_versions(&axis.name, settings)?;
    let matching: Vec<Version> = listed
        .into_iter()
        .filter(|v| version::admits(specifiers, v, pre))
        .collect();
    if matching.is_empty() {
        return Err(Error::BadInput(format!(
            "axis `{}`: no published version matches `{specifiers}`{}",
            axis.name,
            if pre {
                ""
            } else {
                " (pre-releases excluded: add pre = true)"
            }
        )));
    }
    Ok(matching)
}
