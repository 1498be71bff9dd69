//! A monitor run as a terminal table, Markdown (a CI job summary: what was new, what broke, the bisect report ready
//! for an upstream issue), or JSON (the [`MonitorReport`] as it is).

use std::fmt::Write;

use super::MonitorReport;
use crate::bisect::render::{self as bisect, Context};
use crate::diff::render as diff;

pub fn json(report: &MonitorReport) -> String {
    serde_json::to_string_pretty(report).expect("monitor reports serialize") + "\n"
}

pub fn table(report: &MonitorReport) -> String {
    let mut out = headline(report) + "\n";
    if let Some(d) = report.diff.as_ref().filter(|d| !d.is_empty()) {
        out.push('\n');
        out.push_str(&diff::table(d));
    }
    if !report.bisections.is_empty() {
        out.push('\n');
        out.push_str(&bisect::table(&report.bisections));
    }
    for error in &report.bisect_errors {
        let _ = writeln!(out, "bisect stopped: {error}");
    }
    out
}

pub fn markdown(report: &MonitorReport, context: &Context<'_>) -> String {
    let mut out = format!(
        "## qcompat monitor: `{}`\n\n{}\n",
        report.matrix,
        headline(report)
    );
    if let Some(d) = report.diff.as_ref().filter(|d| !d.is_empty()) {
        out.push('\n');
        out.push_str(&diff::markdown(d));
    }
    if !report.bisections.is_empty() {
        out.push('\n');
        out.push_str(&bisect::markdown(&report.bisections, context));
    }
    for error in &report.bisect_errors {
        let _ = writeln!(out, "\nbisect stopped: {error}");
    }
    out
}

/// What was listed, what was new, what ran, and the verdict, in a few plain sentences.
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
    let mut text = what;
    let _ = write!(text, "\n{verdict}");
    text
}
