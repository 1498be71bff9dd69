//! The resume journal: every finished cell is appended (and flushed) as one JSON line, so an interrupted run loses
//! only the cells in flight; `run --resume` reads it back.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::results::CellResult;

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
    /// Opens `dir/journal.jsonl`; with `resume` its earlier cells are returned, else it starts empty.
    pub fn open(dir: &Path, resume: bool, probes: &[String]) -> Result<(Self, Vec<CellResult>)> {
        let path = dir.join("journal.jsonl");
        let earlier = if resume {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| serde_json::from_str::<Entry>(line).ok())
                .filter(|entry| entry.probes == probes)
                .map(|entry| entry.cell)
                .collect()
        } else {
            Vec::new()
        };
        let mut options = std::fs::OpenOptions::new();
        options.create(true);
        if resume {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        let file = options.open(&path).map_err(|e| Error::io(&path, e))?;
        Ok((
            Self {
                path,
                file: Mutex::new(file),
            },
            earlier,
        ))
    }

    pub fn record(&self, probes: &[String], cell: &CellResult) {
        let entry = Entry {
            probes: probes.to_vec(),
            cell: cell.clone(),
        };
        let line = serde_json::to_string(&entry).expect("journal entries serialize") + "\n";
        let mut file = self.file.lock().expect("journal lock");
        // A journal that cannot be written costs only the ability to resume; say so and carry on.
        if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
            eprintln!("warning: could not write {}: {e}", self.path.display());
        }
    }
}
