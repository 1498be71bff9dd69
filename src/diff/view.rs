//! What a diff report says, computed once for every format: the headline counts, the changed probes shown one by
//! one with what a reader needs beyond the outcome, the removed cells summarised once, and the version drift.

use std::collections::BTreeMap;

use super::{Change, ProbeChange, SnapshotDiff};
use crate::outcome::Outcome;
use crate::render::markdown::code;

pub struct DiffView<'a> {
    pub diff: &'a SnapshotDiff,
    /// Counts in words, regressions first (`1 regression`, `1 fix`, `2 cells added`); empty for an empty diff.
    pub counts: Vec<String>,
    /// The changes shown one by one: a removed cell's probes are summarised once in `removed` instead (a matrix that
    /// drops 37 cells would otherwise repeat 37 old signatures).
    pub changes: Vec<ChangeRow<'a>>,
    pub removed: Option<Removed<'a>>,
    pub drift: Vec<DriftRow<'a>>,
}

pub struct ChangeRow<'a> {
    pub change: &'a ProbeChange,
    pub label: &'static str,
    /// The new (or, for a fix or removal, old) signature and frame, then every other changed field; Markdown code
    /// spans included.
    pub explanation: Vec<String>,
}

/// The removed cells, and what their probes had been (`3 pass, 1 needs-cuda`).
pub struct Removed<'a> {
    pub keys: &'a [String],
    pub before: String,
}

/// One package whose resolved version moved under an unchanged key.
pub struct DriftRow<'a> {
    pub cell: &'a str,
    pub package: &'a str,
    pub old: &'a str,
    pub new: &'a str,
}

impl<'a> DiffView<'a> {
    pub fn of(diff: &'a SnapshotDiff) -> Self {
        let changes = diff
            .changes
            .iter()
            .filter(|c| !diff.cells_removed.contains(&c.cell))
            .map(|change| ChangeRow {
                change,
                label: change_label(change.change),
                explanation: explanation(change),
            })
            .collect();
        let version = |v: &'a Option<String>| v.as_deref().unwrap_or("-");
        let drift = diff
            .drift
            .iter()
            .flat_map(|d| {
                d.packages.iter().map(|p| DriftRow {
                    cell: &d.cell,
                    package: &p.package,
                    old: version(&p.old),
                    new: version(&p.new),
                })
            })
            .collect();
        Self {
            diff,
            counts: if diff.is_empty() {
                Vec::new()
            } else {
                counts(diff)
            },
            changes,
            removed: removed_cells(diff),
            drift,
        }
    }
}

/// The removed cells' keys and their old outcomes; none when no cell was removed.
fn removed_cells(diff: &SnapshotDiff) -> Option<Removed<'_>> {
    if diff.cells_removed.is_empty() {
        return None;
    }
    let mut before: BTreeMap<Outcome, usize> = BTreeMap::new();
    let old_states = diff
        .changes
        .iter()
        .filter(|c| diff.cells_removed.contains(&c.cell))
        .filter_map(|c| c.old.as_ref());
    for state in old_states {
        *before.entry(state.outcome).or_default() += 1;
    }
    let phrases: Vec<String> = before.iter().map(|(o, n)| format!("{n} {o}")).collect();
    Some(Removed {
        keys: &diff.cells_removed,
        before: phrases.join(", "),
    })
}

/// Regressions always (a reviewer looks for that number first), then every other kind of change that happened.
fn counts(diff: &SnapshotDiff) -> Vec<String> {
    let s = &diff.summary;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let others = [
        (s.fixes, "fix", "fixes"),
        (
            s.outcome_changes,
            "other outcome change",
            "other outcome changes",
        ),
        (s.signature_changes, "signature change", "signature changes"),
        (s.detail_changes, "detail change", "detail changes"),
        (s.probes_added, "probe result added", "probe results added"),
        (
            s.probes_removed,
            "probe result removed",
            "probe results removed",
        ),
        (s.cells_added, "cell added", "cells added"),
        (s.cells_removed, "cell removed", "cells removed"),
        (
            s.cells_drifted,
            "cell with version drift",
            "cells with version drift",
        ),
    ];
    let others = others
        .into_iter()
        .filter(|(n, ..)| *n > 0)
        .map(|(n, one, many)| plural(n, one, many));
    std::iter::once(plural(s.regressions, "regression", "regressions"))
        .chain(others)
        .collect()
}

/// What a reader needs beyond the outcome: the new (or old) signature and frame, then every changed field.
fn explanation(change: &ProbeChange) -> Vec<String> {
    let mut lines = Vec::new();
    let shown = match change.change {
        Change::Regression | Change::Outcome | Change::Added => change.new.as_ref(),
        Change::Fix | Change::Removed => change.old.as_ref(),
        Change::Signature | Change::Detail => None,
    };
    // What it fails with now; for a fix or a removal, what it failed with before.
    let before = if matches!(change.change, Change::Fix | Change::Removed) {
        "old "
    } else {
        ""
    };
    if let Some(state) = shown {
        if let Some(signature) = &state.signature {
            lines.push(format!("{before}signature: {}", code(signature)));
        }
        if let Some(frame) = &state.frame {
            lines.push(format!("{before}frame: {}", code(frame)));
        }
    }
    // With the outcome changed, the signature is shown above and vanished metrics are no news.
    let repeated = |d: &&String| {
        ["signature:", "frame:", "metrics."]
            .iter()
            .any(|p| d.starts_with(p))
    };
    lines.extend(
        change
            .details
            .iter()
            .filter(|d| shown.is_none() || !repeated(d))
            .cloned(),
    );
    lines
}

fn change_label(change: Change) -> &'static str {
    match change {
        Change::Regression => "regression",
        Change::Fix => "fix",
        Change::Outcome => "changed",
        Change::Signature => "signature",
        Change::Detail => "detail",
        Change::Added => "added",
        Change::Removed => "removed",
    }
}
