//! `qcompat diff OLD NEW`: what changed between two snapshots of one matrix; exit 1 when something regressed.

use qcompat::diff::{self, view::DiffView};
use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::{render, snapshot};

use crate::cli::DiffArgs;

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
    print!("{}", render::render(&DiffView::of(&diff), args.format));
    Ok(ExitStatus::findings_if(diff.has_regression()))
}
