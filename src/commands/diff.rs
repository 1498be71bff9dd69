//! `qcompat diff OLD NEW`: what changed between two snapshots of one matrix; exit 1 when something regressed.

use std::process::ExitCode;

use crate::cli::{DiffArgs, DiffFormat};
use crate::diff::{self, render};
use crate::error::{Error, Result};
use crate::snapshot;

pub fn run(args: DiffArgs) -> Result<ExitCode> {
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
    Ok(if diff.has_regression() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
