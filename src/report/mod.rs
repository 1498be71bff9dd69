//! Renderers of a run's results (or a snapshot's): a terminal table, JSON, Markdown, JUnit XML and an HTML grid.
//! Every format renders the same [`view::View`], so they agree on columns, counts, signatures, the headline and the
//! quantization contrast; JSON is the report as it is, with the headline and the contrast added as data.

pub mod contrast;
pub mod headline;
pub mod history;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod row;
pub mod table;
pub mod view;

use serde::Serialize;

use crate::matrix::cell_key::CellKey;
use crate::results::RunReport;
use headline::AxisHeadline;
use view::View;

/// The formats a run or a snapshot can be rendered in (`run` offers all but `html`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Junit,
    Html,
}

/// `run --format json`: every field of the report, then the verdicts the other formats put in words.
#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a RunReport,
    headline: &'a [AxisHeadline<'a>],
    quantization_contrast: Vec<JsonContrast<'a>>,
}

#[derive(Serialize)]
struct JsonContrast<'a> {
    cell: &'a CellKey,
    failing: &'a [&'a str],
    controls: &'a [&'a str],
}

pub fn json(view: &View<'_>) -> String {
    crate::render::json(&JsonReport {
        report: view.report,
        headline: &view.headline,
        quantization_contrast: view
            .contrasts
            .iter()
            .map(|c| JsonContrast {
                cell: &c.cell.key,
                failing: &c.failing,
                controls: &c.controls,
            })
            .collect(),
    })
}

/// `view` in `format`; `color` adds ANSI colors to the table (only on a terminal, and never with NO_COLOR).
pub fn render(view: &View<'_>, format: Format, color: bool) -> String {
    match format {
        Format::Table => table::render(view, color),
        Format::Json => json(view),
        Format::Markdown => markdown::render(view),
        Format::Junit => junit::render(view),
        Format::Html => html::render(view),
    }
}
