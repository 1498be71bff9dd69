//! What a monitor report says, computed once for every format: what was listed and new, what ran and the verdict,
//! the diff against the snapshot (when it says anything), the bisections with their commands, and the bisections
//! that could not finish.

use super::MonitorReport;
use crate::bisect::view::{BisectView, Context};
use crate::diff::view::DiffView;

pub struct MonitorView<'a> {
    pub report: &'a MonitorReport,
    /// What was listed, what was new, what ran, and the verdict, in a few plain sentences.
    pub headline: String,
    /// None without a snapshot, or when nothing changed.
    pub diff: Option<DiffView<'a>>,
    pub bisect: BisectView<'a>,
}

impl<'a> MonitorView<'a> {
    pub fn of(report: &'a MonitorReport, context: &Context<'a>) -> Self {
        Self {
            report,
            headline: headline(report),
            diff: report
                .diff
                .as_ref()
                .filter(|d| !d.is_empty())
                .map(DiffView::of),
            bisect: BisectView::of(&report.bisections, context),
        }
    }
}

fn headline(report: &MonitorReport) -> String {
    let listed = report
        .listed
        .as_deref()
        .map(|l| format!(" (listed as of {l})"))
        .unwrap_or_default();
    let new: Vec<String> = report
        .new_versions
        .iter()
        .filter(|(_, versions)| !versions.is_empty())
        .map(|(axis, versions)| format!("{axis} {}", versions.join(", ")))
        .collect();
    if report.cells_run.is_empty() {
        let axes: Vec<&str> = report.new_versions.keys().map(String::as_str).collect();
        return format!(
            "no new versions of {} since the snapshot{listed}: nothing to run",
            if axes.is_empty() {
                "any query axis".to_string()
            } else {
                axes.join(", ")
            }
        );
    }
    let cells = match report.cells_run.len() {
        1 => "1 new cell".to_string(),
        n => format!("{n} new cells"),
    };
    let what = match new.is_empty() {
        true => format!("no new versions{listed}, but {cells} (the matrix changed)"),
        false => format!(
            "new since the snapshot{listed}: {}; ran {cells}",
            new.join("; ")
        ),
    };
    let verdict = match (&report.diff, report.regressions()) {
        (None, _) => "no snapshot yet: they are the baseline".to_string(),
        (Some(_), 0) => "no new regression".to_string(),
        (Some(_), 1) => "1 new regression".to_string(),
        (Some(_), n) => format!("{n} new regressions"),
    };
    format!("{what}\n{verdict}")
}
