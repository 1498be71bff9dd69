//! Renderers of a run's results (or a snapshot's): a terminal table, JSON, Markdown, JUnit XML and an HTML grid.
//! Every format but JSON renders the same [`view::View`], so they agree on columns, counts and signatures.

pub mod contrast;
pub mod headline;
pub mod history;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod table;
pub mod view;

use crate::results::RunReport;
use view::View;

/// The formats a run or a snapshot can be rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Junit,
    Html,
}

pub fn json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).expect("reports serialize") + "\n"
}

/// `report` in `format`; `color` adds ANSI colors to the table (only on a terminal, and never with NO_COLOR).
pub fn render(report: &RunReport, format: Format, color: bool) -> String {
    let view = View::of(report);
    match format {
        Format::Table => table::render(&view, color),
        Format::Json => json(report),
        Format::Markdown => markdown::render(&view),
        Format::Junit => junit::render(&view),
        Format::Html => html::render(&view),
    }
}
