//! Snapshots: a matrix run's results as a file users commit and review like code (`reports/NAME.snap.toml`).
//!
//! Only what should change when the stack's behaviour changes is kept: per cell its key, the resolved versions of the
//! stack's main packages, and per probe its outcome, signature, frame, known issue, substitutions and rounded
//! metrics. Timings, logs and paths are left out, and a metric that moved within its measured tolerance
//! ([`tolerance`]) keeps its recorded value, so the same results always give a byte-identical file, on any machine.

mod baseline;
mod part;
mod read;
pub mod tolerance;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::matrix::cell_key::CellKey;
use crate::matrix::{Cell, Matrix};
use crate::outcome::Outcome;
use crate::probe::catalog::Catalog;
use crate::probe::protocol::TestResult;
use crate::probe::spec::Role;
use crate::results::{CellResult, ProbeResult, RunReport};

pub use baseline::{Baseline, Mode};
pub use part::{Part, merge_parts};
pub use read::{parse_text, read};
pub use write::render;

/// Packages whose resolved versions a snapshot records besides the matrix's axes and pins: the QLoRA stack, and the
/// toy packages of the harness's self-test. Everything else the resolver picked would only churn the file.
const MAIN_PACKAGES: &[&str] = &[
    "torch",
    "lightning",
    "pytorch-lightning",
    "lightning-utilities",
    "bitsandbytes",
    "litgpt",
    "numpy",
    "toyquant",
    "toyhelper",
];

/// Significant digits kept of a float metric: enough to see a real change. Float noise between machines still
/// reaches the last digit; [`tolerance`] judges it, and keeps the recorded value when it is noise.
const METRIC_DIGITS: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub matrix: String,
    /// When the matrix's query axes were listed (RFC 3339; `--as-of`'s moment when given); none for a matrix of
    /// explicit versions run without `--as-of`.
    pub listed: Option<String>,
    /// Set on the partial snapshot of one shard (`run --shard K/N --part FILE`); none on a whole run's.
    pub part: Option<Part>,
    /// In matrix order.
    pub cells: Vec<SnapshotCell>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotCell {
    pub key: CellKey,
    /// Normalized package name → version, for the main packages only.
    pub resolved: BTreeMap<String, String>,
    /// In catalogue order.
    pub probes: Vec<SnapshotProbe>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotProbe {
    pub name: String,
    pub outcome: Outcome,
    pub signature: Option<String>,
    pub frame: Option<String>,
    pub known: Option<String>,
    #[serde(default)]
    pub substitutions: Vec<String>,
    /// Rounded to [`METRIC_DIGITS`]; sorted by name.
    #[serde(default)]
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// A probe the matrix declares (`[probe.NAME]`): the reader accepts its name outside the catalogue.
    #[serde(default)]
    pub declared: bool,
    /// A declared probe's role in the quantization contrast, when it has one.
    #[serde(default)]
    pub role: Option<Role>,
    /// A pytest probe's tests, in the order they ran.
    #[serde(default)]
    pub tests: Vec<TestResult>,
}

/// `reports/<matrix name>.snap.toml`, relative to the current folder (the repository root in practice).
pub fn default_path(matrix: &str) -> PathBuf {
    Path::new("reports").join(format!("{matrix}.snap.toml"))
}

/// Where a mismatching `--check` leaves the fresh snapshot for review: `NAME.snap.toml.new`.
pub fn pending_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

impl Snapshot {
    /// The snapshot view of a run of `matrix`.
    pub fn from_report(report: &RunReport, matrix: &Matrix) -> Self {
        let mut kept: Vec<String> = MAIN_PACKAGES.iter().map(|p| p.to_string()).collect();
        kept.extend(matrix.axes.iter().map(|a| crate::index::normalize(&a.name)));
        kept.extend(
            matrix
                .pins
                .iter()
                .map(|pin| crate::index::normalize(crate::index::requirement_name(pin))),
        );
        let cells = report
            .cells
            .iter()
            .map(|cell| SnapshotCell {
                key: cell.key.clone(),
                resolved: cell
                    .resolved
                    .iter()
                    .filter(|(package, _)| kept.contains(package))
                    .map(|(p, v)| (p.clone(), v.clone()))
                    .collect(),
                probes: cell.probes.iter().map(SnapshotProbe::from_result).collect(),
            })
            .collect();
        Self {
            matrix: report.matrix.clone(),
            listed: None,
            part: None,
            cells,
        }
    }

    /// The run report that renders this snapshot (no timings, logs or environments: a snapshot has none).
    pub fn to_report(&self) -> RunReport {
        let cells = self
            .cells
            .iter()
            .map(|cell| CellResult {
                key: cell.key.clone(),
                resolved: cell.resolved.clone(),
                env: None,
                process_s: 0.0,
                import_s: 0.0,
                probe_s: 0.0,
                probes: cell.probes.iter().map(SnapshotProbe::to_result).collect(),
            })
            .collect();
        RunReport::new(self.matrix.clone(), cells)
    }

    pub fn cell(&self, key: &CellKey) -> Option<&SnapshotCell> {
        self.cells.iter().find(|c| c.key == *key)
    }

    /// `fresh` (the cells and probes that just ran) laid over `old`: cells in `order` (the matrix's, unfiltered),
    /// probes in `probes` (the matrix's, in catalogue order). What did not run keeps its old result; what the matrix
    /// no longer has is dropped.
    pub fn merge(
        old: Option<&Snapshot>,
        fresh: &Snapshot,
        order: &[Cell],
        probes: &[String],
    ) -> Snapshot {
        let cells = order
            .iter()
            .filter_map(|cell| {
                let key = cell.key();
                let earlier = old.and_then(|o| o.cell(&key));
                let now = fresh.cell(&key);
                let base = now.or(earlier)?;
                let probes = probes
                    .iter()
                    .filter_map(|name| {
                        let find = |c: Option<&SnapshotCell>| {
                            c?.probes.iter().find(|p| &p.name == name).cloned()
                        };
                        find(now).or_else(|| find(earlier))
                    })
                    .collect();
                Some(SnapshotCell {
                    key: base.key.clone(),
                    resolved: base.resolved.clone(),
                    probes,
                })
            })
            .collect();
        Snapshot {
            matrix: fresh.matrix.clone(),
            listed: fresh.listed.clone().or_else(|| old?.listed.clone()),
            part: None,
            cells,
        }
    }
}

impl SnapshotProbe {
    fn from_result(probe: &ProbeResult) -> Self {
        Self {
            name: probe.name.clone(),
            outcome: probe.outcome,
            signature: probe.signature.clone(),
            frame: probe.frame.clone(),
            known: probe.known.clone(),
            substitutions: probe.substitutions.clone(),
            metrics: probe
                .metrics
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(name, value)| (name.clone(), round_metric(value)))
                .collect(),
            declared: Catalog::builtin().find(&probe.name).is_none(),
            role: probe.role,
            tests: probe
                .tests
                .iter()
                .map(|t| TestResult {
                    frame: None,
                    ..t.clone()
                })
                .collect(),
        }
    }

    fn to_result(&self) -> ProbeResult {
        ProbeResult {
            name: self.name.clone(),
            outcome: self.outcome,
            signature: self.signature.clone(),
            frame: self.frame.clone(),
            frames: Vec::new(),
            known: self.known.clone(),
            duration_s: 0.0,
            metrics: self
                .metrics
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            substitutions: self.substitutions.clone(),
            checks: Vec::new(),
            log: None,
            hint: self.signature.as_deref().and_then(crate::env::recipe::hint),
            interpreter: None,
            tests: self.tests.clone(),
            role: self.role,
        }
    }
}

/// Floats to [`METRIC_DIGITS`] significant digits, inside lists and tables too; everything else as it is.
fn round_metric(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or_default();
            // Scientific formatting rounds to significant digits; parsing back gives the nearest float.
            let rounded: f64 = format!("{x:.prec$e}", prec = METRIC_DIGITS - 1)
                .parse()
                .unwrap_or(x);
            serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
        }
        Value::Array(items) => Value::Array(items.iter().map(round_metric).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), round_metric(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_keep_four_significant_digits() {
        let value = serde_json::json!({"err": 0.013456789, "big": 123456.7, "n": 12, "list": [1.00004, 2.5]});
        assert_eq!(
            round_metric(&value),
            serde_json::json!({"err": 0.01346, "big": 123500.0, "n": 12, "list": [1.0, 2.5]})
        );
    }

    fn cell(version: &str, probes: &[(&str, Outcome)]) -> SnapshotCell {
        SnapshotCell {
            key: CellKey::new([("toyquant", version)]),
            resolved: BTreeMap::new(),
            probes: probes
                .iter()
                .map(|(name, outcome)| SnapshotProbe {
                    name: name.to_string(),
                    outcome: *outcome,
                    signature: None,
                    frame: None,
                    known: None,
                    substitutions: Vec::new(),
                    metrics: BTreeMap::new(),
                    declared: false,
                    role: None,
                    tests: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_partial_run_replaces_only_the_cells_and_probes_it_ran() {
        let snapshot = |cells| Snapshot {
            matrix: "toy".into(),
            listed: None,
            part: None,
            cells,
        };
        let both = [
            ("checkpoint-load", Outcome::Pass),
            ("qlora-train", Outcome::Pass),
        ];
        let old = snapshot(vec![
            cell("1.0", &both),
            cell("1.1", &both),
            cell("0.9", &both),
        ]);
        // `--filter toyquant=1.1 --probe qlora-train`, and a matrix that no longer has 0.9 but gained 1.2.
        let fresh = snapshot(vec![cell("1.1", &[("qlora-train", Outcome::Fail)])]);
        let order: Vec<Cell> = ["1.0", "1.1", "1.2"]
            .iter()
            .map(|v| {
                Cell::new(vec![(
                    "toyquant".into(),
                    crate::index::version::parse_version(v).unwrap(),
                )])
            })
            .collect();
        let probes = ["checkpoint-load".to_string(), "qlora-train".to_string()];
        let merged = Snapshot::merge(Some(&old), &fresh, &order, &probes);
        let expected = snapshot(vec![
            cell("1.0", &both),
            cell(
                "1.1",
                &[
                    ("checkpoint-load", Outcome::Pass),
                    ("qlora-train", Outcome::Fail),
                ],
            ),
        ]);
        assert_eq!(merged, expected);
    }

    #[test]
    fn pins_name_their_package() {
        assert_eq!(crate::index::requirement_name("numpy<2"), "numpy");
        assert_eq!(
            crate::index::requirement_name("lightning_utilities==0.11.2"),
            "lightning_utilities"
        );
        assert_eq!(crate::index::requirement_name("setuptools"), "setuptools");
    }
}
