//! The results of a run, as every report and the snapshot see them. Field names follow DESIGN.md's JSON contract.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::engine::reference::NumericCheck;
use crate::outcome::Outcome;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub matrix: String,
    /// The built-in engine's own metrics for the probes it implements: the row every cell is checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    pub cells: Vec<CellResult>,
    pub summary: BTreeMap<Outcome, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellResult {
    /// Axis → version, in axis order.
    pub key: IndexMap<String, String>,
    /// `uv pip freeze` of the cell's environment (empty when it could not be built).
    pub resolved: BTreeMap<String, String>,
    pub env: Option<EnvInfo>,
    /// Seconds of Python process wall time for all the cell's probes, and its split into imports and probe work.
    pub process_s: f64,
    pub import_s: f64,
    pub probe_s: f64,
    pub probes: Vec<ProbeResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvInfo {
    pub hash: String,
    /// Whether this run built the environment (false: reused from the cache).
    pub created: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeResult {
    pub name: String,
    pub outcome: Outcome,
    pub signature: Option<String>,
    pub frame: Option<String>,
    /// The `[[known]]` id behind an xfail or xpass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    pub duration_s: f64,
    #[serde(default)]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// What the probe swapped to run on this machine (e.g. a CPU kernel for a CUDA-only step).
    #[serde(default)]
    pub substitutions: Vec<String>,
    /// Comparisons of this probe's numbers with the built-in engine (empty where the engine has no counterpart).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<NumericCheck>,
    pub log: Option<String>,
}

/// The `builtin` reference row: metrics per probe, computed by the engine on the fixture checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reference {
    pub engine: String,
    pub metrics: BTreeMap<String, serde_json::Value>,
}

impl CellResult {
    pub fn key_string(&self) -> String {
        crate::matrix::key_string(&self.key)
    }
}

impl RunReport {
    pub fn new(matrix: String, cells: Vec<CellResult>) -> Self {
        let mut summary = BTreeMap::new();
        for probe in cells.iter().flat_map(|c| &c.probes) {
            *summary.entry(probe.outcome).or_insert(0) += 1;
        }
        Self {
            matrix,
            reference: None,
            cells,
            summary,
        }
    }

    pub fn has_regression(&self) -> bool {
        self.cells
            .iter()
            .flat_map(|c| &c.probes)
            .any(|p| p.outcome.is_regression())
    }

    /// Distinct non-pass signatures with the cells they hit, most frequent first (ties in first-seen order).
    pub fn signature_groups(&self) -> Vec<SignatureGroup<'_>> {
        let mut groups: Vec<SignatureGroup<'_>> = Vec::new();
        for cell in &self.cells {
            for probe in &cell.probes {
                let Some(signature) = probe.signature.as_deref() else {
                    continue;
                };
                let frame = probe.frame.as_deref();
                match groups
                    .iter_mut()
                    .find(|g| g.signature == signature && g.frame == frame)
                {
                    Some(group) => group.hits.push((cell, probe)),
                    None => groups.push(SignatureGroup {
                        signature,
                        frame,
                        outcome: probe.outcome,
                        hits: vec![(cell, probe)],
                    }),
                }
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.hits.len()));
        groups
    }
}

/// ` [n]`: the number of `probe`'s signature in `groups` (1-based), so a reader can match a failure in a table with
/// its cause listed below it; empty for a probe without a signature.
pub fn signature_mark(groups: &[SignatureGroup<'_>], probe: &ProbeResult) -> String {
    groups
        .iter()
        .position(|g| {
            Some(g.signature) == probe.signature.as_deref() && g.frame == probe.frame.as_deref()
        })
        .map(|i| format!(" [{}]", i + 1))
        .unwrap_or_default()
}

pub struct SignatureGroup<'a> {
    pub signature: &'a str,
    pub frame: Option<&'a str>,
    pub outcome: Outcome,
    pub hits: Vec<(&'a CellResult, &'a ProbeResult)>,
}
