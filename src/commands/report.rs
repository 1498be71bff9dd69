//! `qcompat report SNAPSHOT`: render a committed snapshot (table, JSON, Markdown, JUnit, or the HTML grid); with
//! `--history`, the nights of a folder of snapshots or of a snapshot's git history as one HTML page.

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::report::{self, history, view::View};
use qcompat::snapshot;

use crate::settings::ReportSettings;

pub fn run(settings: ReportSettings) -> Result<ExitStatus> {
    let text = if settings.history {
        let nights = history::read_nights(&settings.snapshot)?;
        history::render(&history::history(&nights)?)
    } else {
        let snapshot = snapshot::read(&settings.snapshot)?;
        let report = snapshot.to_report();
        report::render(&View::of(&report), settings.format, settings.output.color())
    };
    settings.output.write(&text)?;
    Ok(ExitStatus::Success)
}
