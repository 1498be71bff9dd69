//! The results of a run, as every report and the snapshot see them. Field names are the JSON contract (docs/cli.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::matrix::cell_key::CellKey;
use crate::outcome::Outcome;
use qcompat_engine::oracle::NumericCheck;

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
    pub key: CellKey,
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
    /// Every site-packages frame of the failing traceback, outermost first (`frame` is the innermost).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<String>,
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
    /// The pin that fixes a known environment-recipe failure (`setuptools = "<70"`), from the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Fresh, or forked from a preloaded base; absent when no process ran (no environment) and in snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<crate::probe::protocol::ProbeInterpreter>,
    /// A pytest probe's tests, each with its outcome and message, in the order pytest ran them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<crate::probe::protocol::TestResult>,
    /// Where a probe the matrix declares stands in the quantization contrast (absent for built-in probes, whose
    /// role is the catalogue's, and for a declared probe without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::probe::spec::Role>,
}

/// The `builtin` reference row: metrics per probe, computed by the engine on the fixture checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reference {
    pub engine: String,
    pub metrics: BTreeMap<String, serde_json::Value>,
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

    /// `Some` when no probe run of the report reached a verdict: every cell went without an environment. Such a
    /// run tested nothing and must not pass for green (docs/cli.md, "Exit codes").
    pub fn nothing_tested(&self) -> Option<NothingTested> {
        let probes: Vec<&ProbeResult> = self.cells.iter().flat_map(|c| &c.probes).collect();
        let untested =
            |p: &&ProbeResult| matches!(p.outcome, Outcome::Unresolvable | Outcome::InstallError);
        if probes.is_empty() || !probes.iter().all(untested) {
            return None;
        }
        let count = |outcome: Outcome| probes.iter().filter(|p| p.outcome == outcome).count();
        // A resolver that cannot find a package at all was pointed at the wrong place (index settings); one that
        // finds the packages but no versions that go together was given a matrix that cannot be.
        let not_found = probes.iter().any(|p| {
            p.signature
                .as_deref()
                .is_some_and(|s| s.contains("was not found in"))
        });
        let cause = if count(Outcome::InstallError) > 0 || not_found {
            Cause::Machine
        } else {
            Cause::Matrix
        };
        Some(NothingTested {
            cause,
            unresolvable: count(Outcome::Unresolvable),
            install_error: count(Outcome::InstallError),
        })
    }

    /// Probe runs that are regressions: the one count behind the exit code and every report's headline.
    pub fn regressions(&self) -> usize {
        self.cells
            .iter()
            .flat_map(|c| &c.probes)
            .filter(|p| p.outcome.is_regression())
            .count()
    }
}

/// A run in which nothing reached a verdict, and whose fault that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingTested {
    pub cause: Cause,
    pub unresolvable: usize,
    pub install_error: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The machine or the index settings: installs that failed, packages the index did not have (exit 3).
    Machine,
    /// The matrix: versions that cannot be installed together (exit 2).
    Matrix,
}

impl NothingTested {
    /// The error a command ends with.
    pub fn error(&self) -> Error {
        let what = format!(
            "nothing was tested: no cell got an environment ({} unresolvable, {} install-error probe runs)",
            self.unresolvable, self.install_error
        );
        match self.cause {
            Cause::Machine => Error::infra(format!(
                "{what}; the installs failed or the index does not have the packages: check the network, \
                 the index settings (UV_INDEX_URL, --find-links) and the report's signatures"
            )),
            Cause::Matrix => Error::BadInput(format!(
                "{what}; the matrix asks for versions that cannot be installed together: see the report's \
                 signatures, and narrow the axes, pins or [[include]] cells"
            )),
        }
    }
}
