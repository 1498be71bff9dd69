//! Renderers of a run's results (or a snapshot's): a terminal table, JSON, Markdown, JUnit XML and an HTML grid.

pub mod html;
pub mod junit;
pub mod markdown;
pub mod table;

use crate::cli::ReportFormat;
use crate::results::RunReport;

pub fn json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).expect("reports serialize") + "\n"
}

/// `report` in `format`; `color` adds ANSI colors to the table (only on a terminal, and never with NO_COLOR).
pub fn render(report: &RunReport, format: ReportFormat, color: bool) -> String {
    match format {
        ReportFormat::Table => table::render(report, color),
        ReportFormat::Json => json(report),
        ReportFormat::Markdown => markdown::render(report),
        ReportFormat::Junit => junit::render(report),
        ReportFormat::Html => html::render(report),
    }
}

/// Probe runs that passed inside a known issue's window: the issue may be fixed upstream, and its `[[known]]` entry
/// can go once it stays fixed.
pub fn fixed_upstream(report: &RunReport) -> Vec<(String, &str, &str)> {
    report
        .cells
        .iter()
        .flat_map(|cell| cell.probes.iter().map(move |probe| (cell, probe)))
        .filter(|(_, probe)| probe.outcome == crate::outcome::Outcome::Xpass)
        .map(|(cell, probe)| {
            (
                cell.key_string(),
                probe.name.as_str(),
                probe.known.as_deref().unwrap_or("?"),
            )
        })
        .collect()
}
