//! `qcompat report SNAPSHOT`: render a committed snapshot (table, JSON, Markdown, JUnit, or the HTML grid).

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::files::write_atomically;
use qcompat::report::{self, view::View};
use qcompat::snapshot;

use crate::cli::ReportArgs;
use crate::settings::color_for;

pub fn run(args: ReportArgs) -> Result<ExitStatus> {
    let snapshot = snapshot::read(&args.snapshot)?;
    let color = color_for(args.output.as_deref());
    let report = snapshot.to_report();
    let text = report::render(&View::of(&report), args.format, color);
    match &args.output {
        Some(path) => write_atomically(path, &text)?,
        None => print!("{text}"),
    }
    Ok(ExitStatus::Success)
}
