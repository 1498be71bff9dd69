//! `qcompat report SNAPSHOT`: render a committed snapshot (table, JSON, Markdown, JUnit, or the HTML grid).

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::{report, snapshot};

use crate::settings::ReportSettings;

pub fn run(settings: ReportSettings) -> Result<ExitStatus> {
    let snapshot = snapshot::read(&settings.snapshot)?;
    let color = settings.output.color();
    let text = report::render(&snapshot.to_report(), settings.format, color);
    settings.output.write(&text)?;
    Ok(ExitStatus::Success)
}
