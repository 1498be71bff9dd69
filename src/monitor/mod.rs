//! `qcompat monitor`: what the index published since the snapshot, and what it broke.
//!
//! New cells are the plan's cells the snapshot lacks (a new version of a query axis, as listed now or `--as-of`).
//! Only they run. Their regressions against the snapshot come from the same diff as `qcompat diff`; each one is
//! bisected between the newest recorded version of its axis that passed (the other axes held at the failing cell's
//! values) and the oldest new version that fails that way, over every version the index publishes between them.

pub mod render;
pub mod view;

use indexmap::IndexMap;
use serde::Serialize;

use crate::bisect::session::Bisection;
use crate::diff::{Change, SnapshotDiff};
use crate::index::version::{Version, parse_version};
use crate::matrix::{AxisValues, Cell};
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::snapshot::Snapshot;

/// What one monitor run found.
#[derive(Serialize)]
pub struct MonitorReport {
    pub matrix: String,
    /// When the query axes were listed (`--as-of`'s moment, or now).
    pub listed: Option<String>,
    /// The snapshot's own `listed`, when it has one.
    pub since: Option<String>,
    /// Per query axis: versions listed now that no recorded cell has.
    pub new_versions: IndexMap<String, Vec<String>>,
    /// The keys of the cells that ran.
    pub cells_run: Vec<String>,
    /// Against the snapshot; none when there was no snapshot yet (the run is the baseline).
    pub diff: Option<SnapshotDiff>,
    pub bisections: Vec<Bisection>,
    /// Bisections that could not finish (an endpoint that no longer behaves as recorded), one message each.
    pub bisect_errors: Vec<String>,
}

impl MonitorReport {
    /// New regressions no `[[known]]` entry covers (a known failure is `xfail`, never a regression).
    pub fn regressions(&self) -> usize {
        self.diff.as_ref().map_or(0, |d| d.summary.regressions)
    }
}

/// A bisection to run: `axis` between `good` (recorded, passing) and `bad` (new, failing), other axes at `base`.
#[derive(Debug, PartialEq)]
pub struct Suspect {
    pub axis: String,
    pub base: Vec<(String, Version)>,
    pub good: Version,
    pub bad: Version,
}

/// Per query axis of the plan, the versions listed that no cell of `recorded` has.
pub fn new_versions(plan: &Plan, recorded: Option<&Snapshot>) -> IndexMap<String, Vec<String>> {
    plan.matrix
        .axes
        .iter()
        .zip(&plan.axis_versions)
        .filter(|(axis, _)| matches!(axis.values, AxisValues::Query { .. }))
        .map(|(axis, versions)| {
            let fresh = versions
                .iter()
                .map(ToString::to_string)
                .filter(|v| !is_recorded(recorded, &axis.name, v))
                .collect();
            (axis.name.clone(), fresh)
        })
        .collect()
}

fn is_recorded(recorded: Option<&Snapshot>, axis: &str, version: &str) -> bool {
    recorded.is_some_and(|s| s.cells.iter().any(|c| c.key.get(axis) == Some(version)))
}

/// The plan's cells that `recorded` lacks, in plan order.
pub fn new_cells(plan: &Plan, recorded: Option<&Snapshot>) -> Vec<Cell> {
    plan.cells
        .iter()
        .filter(|c| recorded.is_none_or(|s| s.cell(&c.key()).is_none()))
        .cloned()
        .collect()
}

/// One bisection per query axis and held values: from the newest recorded passing version to the oldest new
/// version with a regression.
pub fn suspects(plan: &Plan, recorded: &Snapshot, diff: &SnapshotDiff) -> Vec<Suspect> {
    let mut found: Vec<Suspect> = Vec::new();
    let regressed = diff
        .changes
        .iter()
        .filter(|c| c.change == Change::Regression)
        .filter_map(|c| {
            plan.cells
                .iter()
                .find(|cell| cell.key().to_string() == c.cell)
        });
    for cell in regressed {
        let Some((axis, bad)) = plan.matrix.axes.iter().find_map(|axis| {
            let version = cell.version_of(&axis.name)?;
            let query = matches!(axis.values, AxisValues::Query { .. });
            (query && !is_recorded(Some(recorded), &axis.name, &version.to_string()))
                .then(|| (axis.name.clone(), version.clone()))
        }) else {
            continue;
        };
        let base: Vec<(String, Version)> = cell
            .values
            .iter()
            .filter(|(a, _)| *a != axis)
            .cloned()
            .collect();
        let Some(good) = last_pass_before(recorded, &axis, &base, &bad) else {
            continue;
        };
        match found.iter_mut().find(|s| s.axis == axis && s.base == base) {
            Some(earlier) if bad < earlier.bad => earlier.bad = bad,
            Some(_) => {}
            None => found.push(Suspect {
                axis,
                base,
                good,
                bad,
            }),
        }
    }
    found
}

/// The newest version of `axis` older than `bad` whose recorded cell (other axes at `base`) passed every probe.
fn last_pass_before(
    recorded: &Snapshot,
    axis: &str,
    base: &[(String, Version)],
    bad: &Version,
) -> Option<Version> {
    recorded
        .cells
        .iter()
        .filter(|c| {
            base.iter()
                .all(|(a, v)| c.key.get(a) == Some(v.to_string().as_str()))
        })
        .filter(|c| {
            c.probes
                .iter()
                .all(|p| matches!(p.outcome, Outcome::Pass | Outcome::Xpass))
        })
        .filter_map(|c| parse_version(c.key.get(axis)?).ok())
        .filter(|v| v < bad)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::cell_key::CellKey;
    use crate::snapshot::{SnapshotCell, SnapshotProbe};

    fn cell(lightning: &str, bnb: &str, outcome: Outcome) -> SnapshotCell {
        SnapshotCell {
            key: CellKey::new([("lightning", lightning), ("bitsandbytes", bnb)]),
            resolved: Default::default(),
            probes: vec![SnapshotProbe {
                name: "checkpoint-load".into(),
                outcome,
                signature: None,
                frame: None,
                known: None,
                substitutions: Vec::new(),
                metrics: Default::default(),
                declared: false,
                role: None,
                tests: Vec::new(),
            }],
        }
    }

    #[test]
    fn the_good_side_is_the_newest_older_pass_with_the_other_axes_held() {
        let recorded = Snapshot {
            matrix: "m".into(),
            listed: None,
            part: None,
            cells: vec![
                cell("1.0", "0.49", Outcome::Pass),
                cell("1.1", "0.49", Outcome::NeedsCuda),
                cell("1.1", "0.42", Outcome::Pass),
                cell("1.3", "0.49", Outcome::Pass),
            ],
        };
        let v = |s: &str| parse_version(s).unwrap();
        let base = vec![("bitsandbytes".to_string(), v("0.49"))];
        // 1.1 passed only with another bitsandbytes; 1.3 is newer than the failing 1.2.
        assert_eq!(
            last_pass_before(&recorded, "lightning", &base, &v("1.2")),
            Some(v("1.0"))
        );
        assert_eq!(
            last_pass_before(&recorded, "lightning", &base, &v("1.0")),
            None
        );
    }
}
