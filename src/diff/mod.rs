//! What changed between two snapshots of one matrix: the review of a pull request that touches the stack.
//!
//! Every probe that differs in any recorded field is one [`ProbeChange`], classified so a reader sees the important
//! ones first: a regression (something that worked now fails, or a new cell fails unexpectedly), a fix, another
//! outcome change, a new signature for the same outcome, or a detail (known id, substitutions, a metric beyond its
//! tolerance). Resolved versions that moved under an unchanged key are drift. The diff is empty exactly when the
//! snapshots hold the same results, whatever their cell order, metrics within their measured tolerances
//! ([`crate::snapshot::tolerance`]) counting as the same.

pub mod render;
pub mod view;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::snapshot::tolerance::{self, Comparison};
use crate::snapshot::{Snapshot, SnapshotCell, SnapshotProbe};

#[derive(Debug, Serialize)]
pub struct SnapshotDiff {
    pub matrix: String,
    pub summary: DiffSummary,
    /// Keys of cells only the new snapshot has, and only the old one has.
    pub cells_added: Vec<String>,
    pub cells_removed: Vec<String>,
    /// In the new snapshot's cell order, then the removed cells'.
    pub changes: Vec<ProbeChange>,
    pub drift: Vec<Drift>,
    /// Cells in both snapshots with identical results.
    pub unchanged_cells: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct DiffSummary {
    pub regressions: usize,
    pub fixes: usize,
    pub outcome_changes: usize,
    pub signature_changes: usize,
    pub detail_changes: usize,
    pub probes_added: usize,
    pub probes_removed: usize,
    pub cells_added: usize,
    pub cells_removed: usize,
    pub cells_drifted: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// It worked (or did not exist) and now fails unexpectedly, or it passed and no longer installs or no longer runs
    /// (`skipped`: nothing is tested any more).
    Regression,
    /// It failed and now passes.
    Fix,
    /// Any other outcome change (pass → needs-cuda, fail → timeout, …).
    Outcome,
    /// Same outcome, another signature or frame: the failure moved.
    Signature,
    /// Same outcome and signature; the known id, substitutions or a metric beyond its tolerance differ.
    Detail,
    /// A probe result only the new snapshot has, and it is not a regression.
    Added,
    Removed,
}

#[derive(Debug, Serialize)]
pub struct ProbeChange {
    pub cell: String,
    pub probe: String,
    pub change: Change,
    pub old: Option<ProbeState>,
    pub new: Option<ProbeState>,
    /// One line per changed field below the outcome (`metrics.max_abs_err: 0.25 → 0.5 (relative change 5.0e-1,
    /// tolerance 1e-2)`).
    pub details: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProbeState {
    pub outcome: Outcome,
    pub signature: Option<String>,
    pub frame: Option<String>,
    pub known: Option<String>,
}

/// Resolved versions that differ in a cell both snapshots have.
#[derive(Debug, Serialize)]
pub struct Drift {
    pub cell: String,
    pub packages: Vec<PackageDrift>,
}

#[derive(Debug, Serialize)]
pub struct PackageDrift {
    pub package: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl SnapshotDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.drift.is_empty()
            && self.cells_added.is_empty()
            && self.cells_removed.is_empty()
    }

    pub fn has_regression(&self) -> bool {
        self.summary.regressions > 0
    }
}

/// Compares two snapshots of the same matrix; snapshots of different matrices are refused (exit 2).
pub fn diff(old: &Snapshot, new: &Snapshot) -> Result<SnapshotDiff> {
    if old.matrix != new.matrix {
        return Err(Error::BadInput(format!(
            "the snapshots are of different matrices (`{}` and `{}`): diff two snapshots of one matrix",
            old.matrix, new.matrix
        )));
    }
    let mut diff = SnapshotDiff {
        matrix: new.matrix.clone(),
        summary: DiffSummary::default(),
        cells_added: Vec::new(),
        cells_removed: Vec::new(),
        changes: Vec::new(),
        drift: Vec::new(),
        unchanged_cells: 0,
    };
    for cell in &new.cells {
        let before = old.cell(&cell.key);
        let key = cell.key.to_string();
        if before.is_none() {
            diff.cells_added.push(key.clone());
        }
        let changes_before = diff.changes.len();
        compare_probes(&key, before, Some(cell), &mut diff.changes);
        let drift = before.map(|b| drift(b, cell)).unwrap_or_default();
        if !drift.is_empty() {
            diff.drift.push(Drift {
                cell: key,
                packages: drift,
            });
        } else if before.is_some() && diff.changes.len() == changes_before {
            diff.unchanged_cells += 1;
        }
    }
    for cell in &old.cells {
        if new.cell(&cell.key).is_none() {
            let key = cell.key.to_string();
            compare_probes(&key, Some(cell), None, &mut diff.changes);
            diff.cells_removed.push(key);
        }
    }
    diff.summary = summarize(&diff);
    Ok(diff)
}

fn compare_probes(
    key: &str,
    old: Option<&SnapshotCell>,
    new: Option<&SnapshotCell>,
    changes: &mut Vec<ProbeChange>,
) {
    let old_probes = old.map(|c| c.probes.as_slice()).unwrap_or_default();
    let new_probes = new.map(|c| c.probes.as_slice()).unwrap_or_default();
    let mut names: Vec<&str> = new_probes.iter().map(|p| p.name.as_str()).collect();
    names.extend(
        old_probes
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| !new_probes.iter().any(|p| p.name == *n)),
    );
    for name in names {
        let before = old_probes.iter().find(|p| p.name == name);
        let after = new_probes.iter().find(|p| p.name == name);
        let details = details(before, after);
        let change = match (before, after) {
            (None, Some(a)) if a.outcome.is_regression() => Change::Regression,
            (None, _) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(b), Some(a)) if b.outcome != a.outcome => outcome_change(b.outcome, a.outcome),
            (Some(b), Some(a)) if b.signature != a.signature || b.frame != a.frame => {
                Change::Signature
            }
            (Some(_), Some(_)) if !details.is_empty() => Change::Detail,
            (Some(_), Some(_)) => continue,
        };
        changes.push(ProbeChange {
            cell: key.to_string(),
            probe: name.to_string(),
            change,
            old: before.map(ProbeState::of),
            new: after.map(ProbeState::of),
            details,
        });
    }
}

fn outcome_change(old: Outcome, new: Outcome) -> Change {
    let works = |o: Outcome| matches!(o, Outcome::Pass | Outcome::Xpass);
    let failed = |o: Outcome| o.is_regression() || o == Outcome::Xfail;
    // A pass that stops installing or stops running anything hides whatever broke: a regression until looked at.
    let lost = |o: Outcome| matches!(o, Outcome::Unresolvable | Outcome::Skipped);
    if (new.is_regression() && !old.is_regression()) || (works(old) && lost(new)) {
        Change::Regression
    } else if failed(old) && works(new) {
        Change::Fix
    } else {
        Change::Outcome
    }
}

/// The fields below the outcome that differ, one line each (empty for an added or removed probe).
fn details(old: Option<&SnapshotProbe>, new: Option<&SnapshotProbe>) -> Vec<String> {
    let (Some(old), Some(new)) = (old, new) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let text = |v: &Option<String>| {
        v.as_deref()
            .map_or("none".to_string(), |s| format!("`{s}`"))
    };
    for (field, a, b) in [
        ("signature", &old.signature, &new.signature),
        ("frame", &old.frame, &new.frame),
        ("known", &old.known, &new.known),
    ] {
        if a != b {
            lines.push(format!("{field}: {} → {}", text(a), text(b)));
        }
    }
    if old.substitutions != new.substitutions {
        lines.push(format!(
            "substitutions: {:?} → {:?}",
            old.substitutions, new.substitutions
        ));
    }
    let names: BTreeSet<&String> = old.metrics.keys().chain(new.metrics.keys()).collect();
    for name in names {
        let (a, b) = (old.metrics.get(name), new.metrics.get(name));
        let Comparison::Beyond(why) = tolerance::compare(&new.name, name, a, b) else {
            continue;
        };
        let line = match (a, b) {
            (Some(a), Some(b)) => format!("metrics.{name}: {a} → {b} ({why})"),
            // `none` on one side says it all.
            _ => {
                let show =
                    |v: Option<&serde_json::Value>| v.map_or("none".into(), |v| v.to_string());
                format!("metrics.{name}: {} → {}", show(a), show(b))
            }
        };
        lines.push(line);
    }
    if old.role != new.role {
        lines.push(format!("role: {:?} → {:?}", old.role, new.role));
    }
    lines.extend(test_changes(&old.tests, &new.tests));
    lines
}

/// A pytest probe's tests that came, went or changed outcome or message, by id (`test tests.t::a: passed → failed`).
fn test_changes(
    old: &[crate::probe::protocol::TestResult],
    new: &[crate::probe::protocol::TestResult],
) -> Vec<String> {
    let said = |t: Option<&crate::probe::protocol::TestResult>| match t {
        None => "none".to_string(),
        Some(t) => match &t.message {
            Some(message) => format!("{} (`{message}`)", t.outcome.as_str()),
            None => t.outcome.as_str().to_string(),
        },
    };
    let mut ids: Vec<&str> = old.iter().map(|t| t.id.as_str()).collect();
    ids.extend(
        new.iter()
            .map(|t| t.id.as_str())
            .filter(|id| !old.iter().any(|t| t.id == *id)),
    );
    ids.into_iter()
        .filter_map(|id| {
            let (a, b) = (
                old.iter().find(|t| t.id == id),
                new.iter().find(|t| t.id == id),
            );
            (a != b).then(|| format!("test {id}: {} → {}", said(a), said(b)))
        })
        .collect()
}

/// Versions that moved; a cell whose environment was not built on one side (empty `resolved`) has no drift to
/// speak of: its outcome change already says why.
fn drift(old: &SnapshotCell, new: &SnapshotCell) -> Vec<PackageDrift> {
    if old.resolved.is_empty() || new.resolved.is_empty() {
        return Vec::new();
    }
    let packages: BTreeSet<&String> = old.resolved.keys().chain(new.resolved.keys()).collect();
    packages
        .into_iter()
        .filter(|p| old.resolved.get(*p) != new.resolved.get(*p))
        .map(|p| PackageDrift {
            package: p.clone(),
            old: old.resolved.get(p).cloned(),
            new: new.resolved.get(p).cloned(),
        })
        .collect()
}

fn summarize(diff: &SnapshotDiff) -> DiffSummary {
    let count = |change: Change| diff.changes.iter().filter(|c| c.change == change).count();
    // A whole cell added or removed is counted once, as a cell, not again per probe.
    let whole_cell = |c: &&ProbeChange| {
        diff.cells_added.contains(&c.cell) || diff.cells_removed.contains(&c.cell)
    };
    let count_in_kept_cells = |change: Change| {
        diff.changes
            .iter()
            .filter(|c| c.change == change && !whole_cell(c))
            .count()
    };
    DiffSummary {
        regressions: count(Change::Regression),
        fixes: count(Change::Fix),
        outcome_changes: count(Change::Outcome),
        signature_changes: count(Change::Signature),
        detail_changes: count(Change::Detail),
        probes_added: count_in_kept_cells(Change::Added),
        probes_removed: count_in_kept_cells(Change::Removed),
        cells_added: diff.cells_added.len(),
        cells_removed: diff.cells_removed.len(),
        cells_drifted: diff.drift.len(),
    }
}

impl ProbeState {
    fn of(probe: &SnapshotProbe) -> Self {
        Self {
            outcome: probe.outcome,
            signature: probe.signature.clone(),
            frame: probe.frame.clone(),
            known: probe.known.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(loss: f64) -> Snapshot {
        let probe = SnapshotProbe {
            name: "qlora-train".into(),
            outcome: Outcome::Pass,
            signature: None,
            frame: None,
            known: None,
            substitutions: Vec::new(),
            declared: false,
            role: None,
            tests: Vec::new(),
            metrics: [("loss".to_string(), serde_json::json!([4.992, loss]))].into(),
        };
        Snapshot {
            matrix: "m".into(),
            listed: None,
            part: None,
            cells: vec![SnapshotCell {
                key: crate::matrix::cell_key::CellKey::new([("torch", "2.3.0")]),
                resolved: Default::default(),
                probes: vec![probe],
            }],
        }
    }

    #[test]
    fn metrics_within_tolerance_are_no_change_and_beyond_it_a_detail() {
        let noise = diff(&snapshot(4.162), &snapshot(4.161)).unwrap();
        assert!(noise.is_empty(), "{:?}", noise.changes);
        assert_eq!(noise.unchanged_cells, 1);

        let moved = diff(&snapshot(4.162), &snapshot(4.2)).unwrap();
        assert_eq!(moved.summary.detail_changes, 1);
        assert_eq!(
            moved.changes[0].details,
            [
                "metrics.loss: [4.992,4.162] → [4.992,4.2] (relative change 9.0e-3 at [1], tolerance 1e-3)"
            ]
        );
    }

    #[test]
    fn outcome_changes_are_classified_by_what_a_reviewer_must_do() {
        use Outcome::*;
        assert_eq!(outcome_change(Pass, Fail), Change::Regression);
        assert_eq!(
            outcome_change(Xfail, Fail),
            Change::Regression,
            "the known issue stopped matching"
        );
        assert_eq!(outcome_change(Pass, Unresolvable), Change::Regression);
        assert_eq!(outcome_change(Fail, Pass), Change::Fix);
        assert_eq!(outcome_change(Xfail, Xpass), Change::Fix);
        assert_eq!(outcome_change(Fail, Timeout), Change::Outcome);
        assert_eq!(outcome_change(Pass, NeedsCuda), Change::Outcome);
        assert_eq!(
            outcome_change(Pass, Skipped),
            Change::Regression,
            "nothing is tested any more"
        );
        assert_eq!(outcome_change(Xpass, Skipped), Change::Regression);
        assert_eq!(outcome_change(Skipped, Fail), Change::Regression);
        assert_eq!(
            outcome_change(Skipped, Pass),
            Change::Outcome,
            "nothing had failed"
        );
        assert_eq!(
            outcome_change(Fail, Skipped),
            Change::Outcome,
            "not a fix: nothing ran"
        );
    }

    #[test]
    fn a_pytest_probe_s_tests_that_changed_are_details() {
        use crate::probe::protocol::{TestOutcome, TestResult};
        let test = |id: &str, outcome, message: Option<&str>| TestResult {
            id: id.into(),
            outcome,
            message: message.map(String::from),
            frame: None,
        };
        let old = [
            test("t::a", TestOutcome::Passed, None),
            test("t::b", TestOutcome::Skipped, Some("slow")),
        ];
        let new = [
            test("t::a", TestOutcome::Failed, Some("E: x")),
            test("t::b", TestOutcome::Skipped, Some("slow")),
            test("t::c", TestOutcome::Passed, None),
        ];
        assert_eq!(
            test_changes(&old, &new),
            [
                "test t::a: passed → failed (`E: x`)",
                "test t::c: none → passed"
            ]
        );
    }
}
