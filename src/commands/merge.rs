//! `qcompat merge PART... --output FILE`: the partial snapshots of a plan's shards as one snapshot, in plan order.

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::files::write_atomically;
use qcompat::snapshot;

use crate::settings::MergeSettings;

pub fn run(settings: MergeSettings) -> Result<ExitStatus> {
    let parts = settings
        .parts
        .iter()
        .map(|path| Ok((path.clone(), snapshot::read(path)?)))
        .collect::<Result<Vec<_>>>()?;
    let merged = snapshot::merge_parts(&parts)?;
    write_atomically(&settings.output, &snapshot::render(&merged))?;
    eprintln!(
        "merged {} parts into {}: {} cells",
        parts.len(),
        settings.output.display(),
        merged.cells.len()
    );
    Ok(ExitStatus::Success)
}
