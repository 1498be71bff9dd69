//! `qcompat report SNAPSHOT`: render a committed snapshot (table, JSON, Markdown, JUnit, or the HTML grid).

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::files::write_atomically;
use qcompat::{report, snapshot};

use crate::cli::ReportArgs;
use crate::settings::color_for;

pub fn run(args: ReportArgs) -> Result<ExitStatus> {
    let snapshot = snapshot::read(&args.snapshot)?;
    let color = color_for(args.output.as_deref());
    let text = report::render(&snapshot.to_report(), args.format.into(), color);
    match &args.output {
        Some(path) => write_atomically(path, &text)?,
        None => print!("{text}"),
    }
    Ok(ExitStatus::Success)
}
