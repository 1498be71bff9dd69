//! `qcompat report SNAPSHOT`: render a committed snapshot (table, JSON, Markdown, JUnit, or the HTML grid).

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::report::{self, view::View};
use qcompat::snapshot;

use crate::settings::ReportSettings;

pub fn run(settings: ReportSettings) -> Result<ExitStatus> {
    let snapshot = snapshot::read(&settings.snapshot)?;
    let color = settings.output.color();
    let report = snapshot.to_report();
    let text = report::render(&View::of(&report), settings.format, color);
    settings.output.write(&text)?;
    Ok(ExitStatus::Success)
}
