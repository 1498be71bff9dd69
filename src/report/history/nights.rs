//! Where the nights come from: a folder of nightly snapshots (`*.snap.toml`, one per night), or the git history of
//! one committed snapshot (each commit that changed it is a night). Every night must be a snapshot of one matrix.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::snapshot::{self, Snapshot};

/// One night's snapshot and what to call it.
pub struct Night {
    /// The file's stem (a folder: name the files by date), or the commit's day and hash (git). Not the snapshot's
    /// `listed`: a quiet night leaves it as the night before wrote it.
    pub label: String,
    /// The file, or `FILE@COMMIT`.
    pub source: String,
    pub snapshot: Snapshot,
}

/// The nights of `path`, oldest first: a folder's snapshots, or a snapshot file's git history.
pub fn read(path: &Path) -> Result<Vec<Night>> {
    let nights = if path.is_dir() {
        from_folder(path)?
    } else {
        from_git(path)?
    };
    let Some(first) = nights.first() else {
        return Err(Error::BadInput(format!(
            "{}: no snapshots (*.snap.toml) to make a history of",
            path.display()
        )));
    };
    if let Some(other) = nights
        .iter()
        .find(|n| n.snapshot.matrix != first.snapshot.matrix)
    {
        return Err(Error::BadInput(format!(
            "{}: a snapshot of matrix `{}`, where {} is of `{}`: a history is of one matrix",
            other.source, other.snapshot.matrix, first.source, first.snapshot.matrix
        )));
    }
    Ok(nights)
}

/// In file-name order (name them by date: `2026-01-31.snap.toml`).
fn from_folder(folder: &Path) -> Result<Vec<Night>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| Error::io(folder, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(".snap.toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            Ok(Night {
                label: name.trim_end_matches(".snap.toml").to_string(),
                source: file.display().to_string(),
                snapshot: snapshot::read(file)?,
            })
        })
        .collect()
}

/// Each commit that changed `file`, oldest first, read with `git show COMMIT:./NAME` from the file's folder.
fn from_git(file: &Path) -> Result<Vec<Night>> {
    if !file.is_file() {
        return Err(Error::BadInput(format!(
            "{}: neither a folder of snapshots nor a snapshot file",
            file.display()
        )));
    }
    let folder = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let log = git(folder, &["log", "--format=%H %cs", "--", &name], file)?;
    let mut nights = Vec::new();
    for line in log.lines().rev() {
        let (commit, day) = line.split_once(' ').unwrap_or((line, ""));
        let source = format!("{}@{}", file.display(), &commit[..commit.len().min(12)]);
        let text = git(folder, &["show", &format!("{commit}:./{name}")], file)?;
        let snapshot = snapshot::parse_text(Path::new(&source), text)?;
        nights.push(Night {
            label: format!("{day} {}", &commit[..commit.len().min(7)]),
            source,
            snapshot,
        });
    }
    Ok(nights)
}

fn git(folder: &Path, args: &[&str], file: &Path) -> Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(folder)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .map_err(|e| Error::infra_caused("running git", e))?;
    if !output.status.success() {
        return Err(Error::BadInput(format!(
            "{}: not a folder of snapshots, and git cannot read its history: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
