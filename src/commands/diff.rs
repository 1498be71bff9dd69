//! `qcompat diff OLD NEW`: what changed between two snapshots of one matrix; exit 1 when something regressed.

use qcompat::diff::{self, view::DiffView};
use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::{render, snapshot};

use crate::output;
use crate::settings::DiffSettings;

pub fn run(settings: DiffSettings) -> Result<ExitStatus> {
    let old = snapshot::read(&settings.old)?;
    let new = snapshot::read(&settings.new)?;
    let diff = diff::diff(&old, &new).map_err(|e| {
        Error::BadInput(format!(
            "{} and {}: {e}",
            settings.old.display(),
            settings.new.display()
        ))
    })?;
    let text = render::render(&DiffView::of(&diff), settings.format);
    output::stdout(text.as_bytes())?;
    Ok(ExitStatus::findings_if(diff.has_regression()))
}
