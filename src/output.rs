//! Where a command's output goes: a file named by `--output` (checked before any work starts, written atomically at
//! the end, so a failed run never leaves half a report) or standard output, where a reader that went away
//! (`qcompat probes | head -1`) ends the output quietly instead of a panic. Every command writes through here.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use qcompat::error::{Error, Result};
use qcompat::files::write_atomically;

/// A report's destination.
#[derive(Debug, Clone)]
pub struct Output {
    file: Option<PathBuf>,
}

impl Output {
    /// `--output PATH`, refused up front (exit 2 naming the flag) when it could not be written at the end: a
    /// folder, or a file in a folder that does not exist or is not writable.
    pub fn resolve(flag: &str, file: Option<PathBuf>) -> Result<Self> {
        if let Some(path) = &file {
            check_writable(flag, path)?;
        }
        Ok(Self { file })
    }

    /// ANSI colours: only for a terminal on standard output, and never with NO_COLOR.
    pub fn color(&self) -> bool {
        self.file.is_none()
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
    }

    pub fn write(&self, text: &str) -> Result<()> {
        match &self.file {
            Some(path) => write_atomically(path, text),
            None => stdout(text.as_bytes()),
        }
    }
}

/// Writes `bytes` to standard output. A closed pipe is the reader's choice, not an error: the rest is dropped.
pub fn stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::infra_caused("writing to standard output", e))
        }
        _ => Ok(()),
    }
}

/// A file `flag` names must be creatable: not a folder, in a folder that exists and takes new files.
pub fn check_writable(flag: &str, path: &Path) -> Result<()> {
    let refuse = |why: String| Error::BadInput(format!("{flag} {}: {why}", path.display()));
    if path.is_dir() {
        return Err(refuse("a folder; name a file".into()));
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(refuse(format!("no folder {}", folder.display())));
    }
    tempfile::tempfile_in(folder)
        .map(drop)
        .map_err(|e| refuse(format!("cannot write into {}: {e}", folder.display())))
}
