//! Writing the files a user keeps (reports, snapshots): whole or not at all.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes through a temporary file and a rename, so a reader never sees half a file, and a crash leaves the old one.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = folder_of(path);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut file = temporary_beside(path).map_err(|e| Error::io(dir, e))?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(path, e))?;
    file.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// A new temporary file in `path`'s folder, to be persisted over `path` once complete. It gets the usual mode for a
/// new file under the user's umask (a temporary file alone would be 0600).
pub fn temporary_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".qcompat-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(folder_of(path))
}

fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_follows_the_umask_not_the_temporary_files_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/report.txt");
        write_atomically(&path, "x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // SAFETY: umask only reads and sets this process's file-creation mask; it is set back at once.
        let umask = unsafe {
            let old = libc::umask(0o022);
            libc::umask(old);
            old
        };
        assert_eq!(mode, 0o666 & !(umask as u32));
    }
}
