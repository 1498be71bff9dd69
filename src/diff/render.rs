//! A snapshot diff as a terminal table, Markdown for pull-request comments and job summaries, or JSON (the
//! [`SnapshotDiff`] as it is).
//!
//! Both text forms lead with one headline of counts and a compact table of the changed probes; the Markdown keeps
//! signatures, field changes and version drift in a `<details>` block so a large diff stays readable in a comment.

use std::fmt::Write;

use super::view::{ChangeRow, DiffView};
use super::{Change, ProbeState, SnapshotDiff};
use crate::render::markdown::{self, code, outcome_badge};
use crate::render::{self, Findings, FindingsFormat, text};

/// The table `run --check` prints on a mismatch.
pub fn table(diff: &SnapshotDiff) -> String {
    render::render(&DiffView::of(diff), FindingsFormat::Table)
}

impl Findings for DiffView<'_> {
    fn table(&self) -> String {
        let mut out = format!("{}\n", headline(self));
        if self.diff.is_empty() {
            return out;
        }
        if !self.changes.is_empty() {
            let header = ["change", "cell", "probe", "old", "new"].map(String::from);
            let rows: Vec<Vec<String>> = std::iter::once(header.to_vec())
                .chain(self.changes.iter().map(|c| {
                    let change = c.change;
                    vec![
                        c.label.into(),
                        change.cell.clone(),
                        change.probe.clone(),
                        outcome(&change.old),
                        outcome(&change.new),
                    ]
                }))
                .collect();
            out.push('\n');
            out.push_str(&text::columns(&rows, ""));
            write_explanations(&mut out, &self.changes);
        }
        if let Some(removed) = &self.removed {
            let _ = writeln!(
                out,
                "\ncells removed ({}): {}\n    they had: {}",
                removed.keys.len(),
                removed.keys.join(", "),
                removed.before
            );
        }
        if !self.drift.is_empty() {
            out.push_str("\nresolved versions drifted:\n");
            for d in &self.drift {
                let _ = writeln!(out, "  {}  {} {} → {}", d.cell, d.package, d.old, d.new);
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### qcompat diff · {}\n\n{}\n",
            code(&self.diff.matrix),
            markdown_headline(self)
        );
        if self.diff.is_empty() {
            return out;
        }
        if !self.changes.is_empty() {
            let badge = |state: &Option<ProbeState>| {
                state
                    .as_ref()
                    .map_or(String::new(), |s| outcome_badge(s.outcome))
            };
            let rows: Vec<Vec<String>> = self
                .changes
                .iter()
                .map(|c| {
                    let change = c.change;
                    vec![
                        change_badge(change.change, c.label),
                        code(&change.cell),
                        change.probe.clone(),
                        badge(&change.old),
                        badge(&change.new),
                    ]
                })
                .collect();
            out.push('\n');
            out.push_str(&markdown::table(
                &["change", "cell", "probe", "old", "new"],
                &rows,
            ));
        }
        if let Some(removed) = &self.removed {
            let keys: Vec<String> = removed.keys.iter().map(|k| code(k)).collect();
            let _ = writeln!(
                out,
                "\n**Cells removed ({}):** {}; they had: {}",
                removed.keys.len(),
                keys.join(", "),
                removed.before
            );
        }
        out.push_str("\n<details><summary>Details</summary>\n\n");
        for change in self.changes.iter().filter(|c| !c.explanation.is_empty()) {
            let _ = writeln!(
                out,
                "**{} · {}** ({})\n",
                code(&change.change.cell),
                change.change.probe,
                change.label
            );
            for line in &change.explanation {
                let _ = writeln!(out, "- {line}");
            }
            out.push('\n');
        }
        write_markdown_drift(&mut out, self);
        out.push_str("</details>\n");
        out
    }

    fn json(&self) -> String {
        render::json(self.diff)
    }
}

fn write_explanations(out: &mut String, changes: &[ChangeRow<'_>]) {
    let explained: Vec<&ChangeRow<'_>> = changes
        .iter()
        .filter(|c| !c.explanation.is_empty())
        .collect();
    if explained.is_empty() {
        return;
    }
    out.push('\n');
    for change in explained {
        let _ = writeln!(
            out,
            "{} {} ({}):",
            change.change.cell, change.change.probe, change.label
        );
        for line in &change.explanation {
            let _ = writeln!(out, "    {}", line.replace('`', ""));
        }
    }
}

fn write_markdown_drift(out: &mut String, view: &DiffView<'_>) {
    if view.drift.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = view
        .drift
        .iter()
        .map(|d| vec![code(d.cell), d.package.into(), d.old.into(), d.new.into()])
        .collect();
    out.push_str("Resolved versions that moved under an unchanged key:\n\n");
    out.push_str(&markdown::table(&["cell", "package", "old", "new"], &rows));
    out.push('\n');
}

/// Counts in words, regressions first: `1 regression, 1 fix, 2 cells added`.
fn headline(view: &DiffView<'_>) -> String {
    if view.diff.is_empty() {
        return format!(
            "no changes: {} cells as in the old snapshot",
            view.diff.unchanged_cells
        );
    }
    view.counts.join(", ")
}

fn markdown_headline(view: &DiffView<'_>) -> String {
    if view.diff.is_empty() {
        return format!(
            "No changes: {} cells as in the old snapshot.",
            view.diff.unchanged_cells
        );
    }
    let mut parts = view.counts.clone();
    if view.diff.has_regression() {
        parts[0] = format!("**{}**", parts[0]);
    }
    parts.join(" · ")
}

fn change_badge(change: Change, label: &str) -> String {
    match change {
        Change::Regression => "🔴 **regression**".into(),
        Change::Fix => "🟢 fix".into(),
        _ => label.into(),
    }
}

fn outcome(state: &Option<ProbeState>) -> String {
    state.as_ref().map_or("-".into(), |s| s.outcome.to_string())
}
