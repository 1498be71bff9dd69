//! `run --check` and `run --update`: compare the cells that ran with the committed snapshot, or record them there.
//!
//! Both work on the snapshot as it would be after this run: the fresh cells and probes laid over the committed ones
//! (see [`Snapshot::merge`]), so a partial run (`--filter`, `--probe`) only ever touches what it ran.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Snapshot, default_path, pending_path, read, render};
use crate::cli::SnapshotArgs;
use crate::commands::run::write_atomically;
use crate::diff;
use crate::error::{Error, Result};
use crate::matrix::{Cell, Matrix};
use crate::probe;
use crate::results::RunReport;

pub struct Baseline {
    path: PathBuf,
    check: bool,
    /// The snapshot as it is on disk; none before the first `--update`.
    committed: Option<Snapshot>,
}

impl Baseline {
    /// Reads the snapshot before any cell runs, so a corrupted one, or one of another matrix, fails in a second
    /// rather than after the whole matrix. None without `--check` or `--update`.
    pub fn open(args: &SnapshotArgs, matrix: &Matrix) -> Result<Option<Self>> {
        if !args.check && !args.update {
            return Ok(None);
        }
        let path = args
            .snapshot
            .clone()
            .unwrap_or_else(|| default_path(&matrix.name));
        let committed = if path.exists() {
            Some(read(&path)?)
        } else {
            None
        };
        if let Some(snapshot) = &committed
            && snapshot.matrix != matrix.name
        {
            return Err(Error::BadInput(format!(
                "{}: a snapshot of matrix `{}`, not of `{}`: pass --snapshot FILE to use this matrix's own",
                path.display(),
                snapshot.matrix,
                matrix.name
            )));
        }
        Ok(Some(Self {
            path,
            check: args.check,
            committed,
        }))
    }

    /// Records the run (`--update`: None, the run's own exit code stands) or compares it (`--check`: exit 1 with the
    /// diff printed and `NAME.snap.toml.new` written on any difference, else 0). `order` is the matrix's cells,
    /// unfiltered, so the merged snapshot keeps matrix order.
    pub fn settle(
        self,
        report: &RunReport,
        matrix: &Matrix,
        order: &[Cell],
    ) -> Result<Option<ExitCode>> {
        let fresh = Snapshot::from_report(report, matrix);
        let probes: Vec<String> = probe::catalog::names()
            .filter(|p| matrix.probes.iter().any(|m| m == p))
            .map(String::from)
            .collect();
        let merged = Snapshot::merge(self.committed.as_ref(), &fresh, order, &probes);
        let pending = pending_path(&self.path);
        if !self.check {
            write(&self.path, &render(&merged))?;
            remove_stale(&pending)?;
            eprintln!(
                "updated {}: {} cells, {} from this run",
                self.path.display(),
                merged.cells.len(),
                fresh.cells.len()
            );
            return Ok(None);
        }

        let empty = Snapshot {
            matrix: matrix.name.clone(),
            cells: Vec::new(),
        };
        let diff = diff::diff(self.committed.as_ref().unwrap_or(&empty), &merged)?;
        if diff.is_empty() {
            remove_stale(&pending)?;
            eprintln!(
                "{}: the {} cells that ran are as recorded",
                self.path.display(),
                fresh.cells.len()
            );
            return Ok(Some(ExitCode::SUCCESS));
        }
        write(&pending, &render(&merged))?;
        if self.committed.is_none() {
            eprintln!("{}: no snapshot yet", self.path.display());
        }
        eprint!("{}", diff::render::table(&diff));
        eprintln!(
            "snapshot mismatch: wrote {new}\n  review: qcompat diff {old} {new}\n  accept: mv {new} {old}   (or run --update)",
            old = self.path.display(),
            new = pending.display()
        );
        Ok(Some(ExitCode::from(1)))
    }
}

fn write(path: &std::path::Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_atomically(path, text)
}

/// A `.new` left by an earlier mismatch no longer describes anything once the snapshot matches or is updated.
fn remove_stale(pending: &std::path::Path) -> Result<()> {
    match std::fs::remove_file(pending) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(pending, e)),
        _ => Ok(()),
    }
}
