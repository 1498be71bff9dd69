//! `qcompat report SNAPSHOT`: render a committed snapshot (table, JSON, Markdown, JUnit, or the HTML grid).

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::ReportArgs;
use crate::commands::run::write_atomically;
use crate::error::Result;
use crate::{report, snapshot};

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let snapshot = snapshot::read(&args.snapshot)?;
    let color = args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let text = report::render(&snapshot.to_report(), args.format, color);
    match &args.output {
        Some(path) => write_atomically(path, &text)?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
