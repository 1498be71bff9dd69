//! `run --check` and `run --update`: compare the cells that ran with the committed snapshot, or record them there.
//!
//! Both work on the snapshot as it would be after this run: the fresh cells and probes laid over the committed ones
//! (see [`Snapshot::merge`]), so a partial run (`--filter`, `--probe`) only ever touches what it ran.

use std::path::{Path, PathBuf};

use super::{Snapshot, default_path, pending_path, read, render};
use crate::diff;
use crate::env::quote;
use crate::error::{Error, Result};
use crate::exit::ExitStatus;
use crate::files::write_atomically;
use crate::plan::Plan;
use crate::results::RunReport;

/// What to do with the snapshot after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compare: exit 1, print the diff and write `SNAPSHOT.new` on any difference.
    Check,
    /// Record: merge the cells that ran into the snapshot, keeping the others.
    Update,
}

pub struct Baseline {
    path: PathBuf,
    mode: Mode,
    /// The snapshot as it is on disk; none before the first `--update`.
    committed: Option<Snapshot>,
}

impl Baseline {
    /// Reads the snapshot (`path`, else `reports/<matrix>.snap.toml`) before any cell runs, so a corrupted one, or
    /// one of another matrix, fails in a second rather than after the whole matrix.
    pub fn open(mode: Mode, path: Option<PathBuf>, matrix: &str) -> Result<Self> {
        let path = path.unwrap_or_else(|| default_path(matrix));
        let committed = if path.exists() {
            Some(read(&path)?)
        } else {
            None
        };
        if let Some(snapshot) = &committed
            && snapshot.matrix != matrix
        {
            return Err(Error::BadInput(format!(
                "{}: a snapshot of matrix `{}`, not of `{matrix}`: pass --snapshot FILE to use this matrix's own",
                path.display(),
                snapshot.matrix,
            )));
        }
        Ok(Self {
            path,
            mode,
            committed,
        })
    }

    /// Records the run (`Update`: no status, the run's own stands) or compares it (`Check`: findings, with the
    /// diff and `NAME.snap.toml.new` written, on any difference, else success); with what to tell the reader.
    pub fn settle(self, report: &RunReport, plan: &Plan) -> Result<Settled> {
        let mut fresh = Snapshot::from_report(report, &plan.matrix);
        fresh.listed = plan.listed.clone();
        let probes = plan.matrix.probe_names();
        let merged = Snapshot::merge(self.committed.as_ref(), &fresh, &plan.all_cells, &probes);
        let pending = pending_path(&self.path);
        let (path, new) = (self.path.display(), pending.display());
        if self.mode == Mode::Update {
            write_atomically(&self.path, &render(&merged))?;
            remove_stale(&pending)?;
            let (all, ran) = (merged.cells.len(), fresh.cells.len());
            return Ok(Settled::said(
                None,
                format!("updated {path}: {all} cells, {ran} from this run"),
            ));
        }
        let Some(committed) = &self.committed else {
            write_atomically(&pending, &render(&merged))?;
            let message = format!(
                "{path}: no snapshot yet: wrote {new} (rerun with --update to record one, or `mv` it into place)"
            );
            return Ok(Settled::said(Some(ExitStatus::Findings), message));
        };
        let diff = diff::diff(committed, &merged)?;
        if diff.is_empty() {
            remove_stale(&pending)?;
            let ran = fresh.cells.len();
            let message = format!("{path}: the {ran} cells that ran are as recorded");
            return Ok(Settled::said(Some(ExitStatus::Success), message));
        }
        write_atomically(&pending, &render(&merged))?;
        let (old, new) = (quote(&path.to_string()), quote(&new.to_string()));
        let message = format!(
            "{}snapshot mismatch: wrote {new}\n  review: qcompat diff {old} {new}\n  accept: mv {new} {old}   (or run --update)",
            diff::render::table(&diff)
        );
        Ok(Settled::said(Some(ExitStatus::Findings), message))
    }
}

/// How a run stands against its snapshot, and what to tell the reader about it.
pub struct Settled {
    /// The exit status the snapshot decides; none when it does not (`--update`).
    pub status: Option<ExitStatus>,
    pub message: String,
}

impl Settled {
    fn said(status: Option<ExitStatus>, message: String) -> Self {
        Self { status, message }
    }
}

/// A `.new` left by an earlier mismatch no longer describes anything once the snapshot matches or is updated.
fn remove_stale(pending: &Path) -> Result<()> {
    match std::fs::remove_file(pending) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(pending, e)),
        _ => Ok(()),
    }
}
