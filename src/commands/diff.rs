//! `qcompat diff OLD NEW`: what changed between two snapshots of one matrix; exit 1 when something regressed.

use qcompat::diff::{self, render};
use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::snapshot;

use crate::cli::{DiffArgs, DiffFormat};

pub fn run(args: DiffArgs) -> Result<ExitStatus> {
    let old = snapshot::read(&args.old)?;
    let new = snapshot::read(&args.new)?;
    let diff = diff::diff(&old, &new).map_err(|e| {
        Error::BadInput(format!(
            "{} and {}: {e}",
            args.old.display(),
            args.new.display()
        ))
    })?;
    let text = match args.format {
        DiffFormat::Table => render::table(&diff),
        DiffFormat::Markdown => render::markdown(&diff),
        DiffFormat::Json => render::json(&diff),
    };
    print!("{text}");
    Ok(ExitStatus::findings_if(diff.has_regression()))
}
