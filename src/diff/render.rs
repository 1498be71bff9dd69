//! A snapshot diff as a terminal table, Markdown for pull-request comments and job summaries, or JSON.
//!
//! Both text forms lead with one headline of counts and a compact table of the changed probes; the Markdown keeps
//! signatures, field changes and version drift in a `<details>` block so a large diff stays readable in a comment.

use std::fmt::Write;

use super::{Change, ProbeChange, ProbeState, SnapshotDiff};
use crate::report::markdown::{code, outcome_badge};

pub fn json(diff: &SnapshotDiff) -> String {
    serde_json::to_string_pretty(diff).expect("diffs serialize") + "\n"
}

pub fn table(diff: &SnapshotDiff) -> String {
    let mut out = format!("{}\n", headline(diff));
    if diff.is_empty() {
        return out;
    }
    let changes = listed_changes(diff);
    if !changes.is_empty() {
        let rows: Vec<[String; 5]> = changes
            .iter()
            .map(|c| {
                [
                    change_label(c.change).into(),
                    c.cell.clone(),
                    c.probe.clone(),
                    outcome(&c.old),
                    outcome(&c.new),
                ]
            })
            .collect();
        let header = ["change", "cell", "probe", "old", "new"].map(String::from);
        let widths: Vec<usize> = (0..5)
            .map(|i| {
                rows.iter()
                    .chain([&header])
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        out.push('\n');
        for row in [&header].into_iter().chain(&rows) {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(text, width)| format!("{text:width$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        let with_details: Vec<&&ProbeChange> = changes
            .iter()
            .filter(|c| !explanation(c).is_empty())
            .collect();
        if !with_details.is_empty() {
            out.push('\n');
            for change in with_details {
                let _ = writeln!(
                    out,
                    "{} {} ({}):",
                    change.cell,
                    change.probe,
                    change_label(change.change)
                );
                for line in explanation(change) {
                    let _ = writeln!(out, "    {}", line.replace('`', ""));
                }
            }
        }
    }
    if let Some((keys, before)) = removed_cells(diff) {
        let _ = writeln!(
            out,
            "\ncells removed ({}): {}\n    they had: {before}",
            diff.cells_removed.len(),
            keys.join(", ")
        );
    }
    if !diff.drift.is_empty() {
        out.push_str("\nresolved versions drifted:\n");
        for drift in &diff.drift {
            for p in &drift.packages {
                let _ = writeln!(
                    out,
                    "  {}  {} {} → {}",
                    drift.cell,
                    p.package,
                    version(&p.old),
                    version(&p.new)
                );
            }
        }
    }
    out
}

pub fn markdown(diff: &SnapshotDiff) -> String {
    let mut out = format!(
        "### qcompat diff · {}\n\n{}\n",
        code(&diff.matrix),
        markdown_headline(diff)
    );
    if diff.is_empty() {
        return out;
    }
    let changes = listed_changes(diff);
    if !changes.is_empty() {
        out.push_str("\n| change | cell | probe | old | new |\n| --- | --- | --- | --- | --- |\n");
        for change in &changes {
            let badge = |state: &Option<ProbeState>| {
                state
                    .as_ref()
                    .map_or(String::new(), |s| outcome_badge(s.outcome))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                change_badge(change.change),
                code(&change.cell),
                change.probe,
                badge(&change.old),
                badge(&change.new)
            );
        }
    }
    if let Some((keys, before)) = removed_cells(diff) {
        let keys: Vec<String> = keys.iter().map(|k| code(k)).collect();
        let _ = writeln!(
            out,
            "\n**Cells removed ({}):** {}; they had: {before}",
            diff.cells_removed.len(),
            keys.join(", ")
        );
    }
    out.push_str("\n<details><summary>Details</summary>\n\n");
    for change in changes.iter().filter(|c| !explanation(c).is_empty()) {
        let _ = writeln!(
            out,
            "**{} · {}** ({})\n",
            code(&change.cell),
            change.probe,
            change_label(change.change)
        );
        for line in explanation(change) {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    if !diff.drift.is_empty() {
        out.push_str("Resolved versions that moved under an unchanged key:\n\n| cell | package | old | new |\n");
        out.push_str("| --- | --- | --- | --- |\n");
        for drift in &diff.drift {
            for p in &drift.packages {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    code(&drift.cell),
                    p.package,
                    version(&p.old),
                    version(&p.new)
                );
            }
        }
        out.push('\n');
    }
    out.push_str("</details>\n");
    out
}

/// The changes shown one by one: a removed cell's probes are summarised once instead (a matrix that drops 37 cells
/// would otherwise repeat 37 old signatures).
fn listed_changes(diff: &SnapshotDiff) -> Vec<&ProbeChange> {
    diff.changes
        .iter()
        .filter(|c| !diff.cells_removed.contains(&c.cell))
        .collect()
}

/// The removed cells' keys, and what their probes had been (`3 pass, 1 needs-cuda`); none when no cell was removed.
fn removed_cells(diff: &SnapshotDiff) -> Option<(&[String], String)> {
    if diff.cells_removed.is_empty() {
        return None;
    }
    let mut before: std::collections::BTreeMap<crate::outcome::Outcome, usize> = Default::default();
    let old_states = diff
        .changes
        .iter()
        .filter(|c| diff.cells_removed.contains(&c.cell))
        .filter_map(|c| c.old.as_ref());
    for state in old_states {
        *before.entry(state.outcome).or_default() += 1;
    }
    let phrases: Vec<String> = before.iter().map(|(o, n)| format!("{n} {o}")).collect();
    Some((&diff.cells_removed, phrases.join(", ")))
}

/// Counts in words, regressions first: `1 regression, 1 fix, 2 cells added`.
fn headline(diff: &SnapshotDiff) -> String {
    if diff.is_empty() {
        return format!(
            "no changes: {} cells as in the old snapshot",
            diff.unchanged_cells
        );
    }
    counts(diff).join(", ")
}

fn markdown_headline(diff: &SnapshotDiff) -> String {
    if diff.is_empty() {
        return format!(
            "No changes: {} cells as in the old snapshot.",
            diff.unchanged_cells
        );
    }
    let mut parts = counts(diff);
    if diff.has_regression() {
        parts[0] = format!("**{}**", parts[0]);
    }
    parts.join(" · ")
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

fn change_badge(change: Change) -> String {
    match change {
        Change::Regression => "🔴 **regression**".into(),
        Change::Fix => "🟢 fix".into(),
        other => change_label(other).into(),
    }
}

fn outcome(state: &Option<ProbeState>) -> String {
    state.as_ref().map_or("-".into(), |s| s.outcome.to_string())
}

fn version(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}
