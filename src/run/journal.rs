//! The resume journal: every finished cell is appended (and flushed) as one JSON line, so an interrupted run loses
//! only the cells in flight; `run --resume` reads it back. One journal per plan selection (see
//! [`crate::plan::Plan::journal_name`]), so different runs of one matrix never truncate each other's.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::Cell;
use crate::results::CellResult;
use crate::sink::Sink;

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// The probes the cell ran: a resumed run reuses a cell only for the same probe set.
    probes: Vec<String>,
    cell: CellResult,
}

impl Journal {
    /// Opens `dir/name`; with `resume` its earlier cells are returned, else it starts empty.
    pub fn open(
        dir: &Path,
        name: &str,
        resume: bool,
        probes: &[String],
        sink: &dyn Sink,
    ) -> Result<(Self, Vec<CellResult>)> {
        let path = dir.join(name);
        let earlier = if resume {
            read(&path, probes, sink)?
        } else {
            Vec::new()
        };
        // Always appending: another run of the same selection may be writing it too, and each line must land whole
        // after the last one, never over it.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        // A fresh run starts the journal empty, unless another run of this selection holds it (the lock lives as
        // long as the journal): emptying it then would lose that run's finished cells, so both append instead. A
        // filesystem without locks cannot tell; it keeps the old behaviour.
        let alone = fs4::fs_std::FileExt::try_lock_exclusive(&file).unwrap_or(true);
        if !resume && alone {
            file.set_len(0).map_err(|e| Error::io(&path, e))?;
        }
        Ok((
            Self {
                path,
                file: Mutex::new(file),
            },
            earlier,
        ))
    }

    /// Appends `cell`; a line that cannot be written costs only the ability to resume, said to `sink`.
    pub fn record(&self, probes: &[String], cell: &CellResult, sink: &dyn Sink) {
        let entry = Entry {
            probes: probes.to_vec(),
            cell: cell.clone(),
        };
        let line = serde_json::to_string(&entry).expect("journal entries serialize") + "\n";
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
            sink.warn(&format!("could not write {}: {e}", self.path.display()));
        }
    }
}

/// The cells a journal holds for `probes`. A missing journal holds none; a line that does not parse (the last one,
/// torn by a kill) is reported and its cell runs again.
fn read(path: &Path, probes: &[String], sink: &dyn Sink) -> Result<Vec<CellResult>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut cells = Vec::new();
    for (number, line) in text.lines().enumerate() {
        match serde_json::from_str::<Entry>(line) {
            Ok(entry) if entry.probes == probes => cells.push(entry.cell),
            Ok(_) => {}
            Err(e) => sink.warn(&format!(
                "{}:{}: unreadable journal entry ({e}): that cell runs again",
                path.display(),
                number + 1
            )),
        }
    }
    Ok(cells)
}

/// A journal entry stands for `cell` only if it ran in the environment the cell would get now (`env_hash`): same
/// key, and the same requirements, interpreter and index (an edited pin must not resume a stale result). Cells
/// that got no environment are cheap to retry and always run again.
pub fn reusable(entry: &CellResult, cell: &Cell, env_hash: &str) -> bool {
    entry.key == cell.key() && entry.env.as_ref().is_some_and(|env| env.hash == env_hash)
}
