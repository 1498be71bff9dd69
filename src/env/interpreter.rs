//! Finds the Python interpreters a matrix asks for, on this machine: on `PATH`, in pyenv-style folders of installed
//! versions, then through uv's own discovery. uv cannot download interpreters on every machine, and a downloaded one
//! is not the one a user tests with, so nothing is downloaded unless the user allows it (`--allow-python-downloads`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Uv;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Interpreter {
    pub path: PathBuf,
    /// Full version, e.g. `3.11.7`.
    pub version: String,
}

/// Where interpreters are looked for besides `PATH`, and whether uv may download one found nowhere.
#[derive(Debug, Clone, Default)]
pub struct PythonSearch {
    /// Folders of installed versions laid out as pyenv's (`~/.pyenv/versions/3.11.7/bin/python3`).
    pub version_folders: Vec<PathBuf>,
    /// Let uv download an interpreter that is not installed (`uv python install`).
    pub downloads: bool,
}

/// The interpreter of every request of a matrix (a version, a path, or none: `python3`), found before any cell runs.
#[derive(Debug, Clone)]
pub struct Interpreters {
    found: Vec<(Option<String>, Interpreter)>,
}

impl Interpreters {
    /// Finds each of `requests`; the first one not found is exit 3, naming where it was looked for.
    pub fn find(requests: &[Option<String>], search: &PythonSearch, uv: &Uv) -> Result<Self> {
        let found = requests
            .iter()
            .map(|request| {
                Ok((
                    request.clone(),
                    Interpreter::find(request.as_deref(), search, Some(uv))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { found })
    }

    /// The interpreter of `request` (a Python axis's value); the first one for a cell that names none.
    pub fn get(&self, request: Option<&str>) -> &Interpreter {
        let asked = request.and_then(|r| self.found.iter().find(|(q, _)| q.as_deref() == Some(r)));
        &asked.unwrap_or(&self.found[0]).1
    }

    /// Each distinct interpreter once, in request order.
    pub fn distinct(&self) -> Vec<&Interpreter> {
        let mut distinct: Vec<&Interpreter> = Vec::new();
        for (_, interpreter) in &self.found {
            if !distinct.iter().any(|d| d.path == interpreter.path) {
                distinct.push(interpreter);
            }
        }
        distinct
    }
}

impl Interpreter {
    /// `request` is `3.11`-style (or absent: `python3`); a request holding a `/` is an interpreter's path (the
    /// matrix checked that it exists), which must answer as Python. A version is looked for on `PATH` (`python3.11`,
    /// then `python3` if its version matches), then in `search`'s version folders, then by uv (`uv python find`,
    /// never downloading), and downloaded by uv only when `search` allows it.
    pub fn find(request: Option<&str>, search: &PythonSearch, uv: Option<&Uv>) -> Result<Self> {
        if let Some(path) = request.filter(|r| r.contains('/')) {
            return Self::probe(PathBuf::from(path)).ok_or_else(|| {
                Error::BadInput(format!(
                    "python `{path}` (the matrix's `python`) is not a Python interpreter: it did not report its version"
                ))
            });
        }
        let wanted = |found: &Self| request.is_none_or(|want| found.matches(want));
        let on_path = path_names(request);
        let found = on_path
            .iter()
            .filter_map(|name| Self::probe(which::which(name).ok()?))
            .find(wanted)
            .or_else(|| in_version_folders(request, search).into_iter().find(wanted))
            .or_else(|| uv.and_then(|uv| uv_find(uv, request)).filter(wanted));
        if let Some(found) = found {
            return Ok(found);
        }
        let version = request.unwrap_or("3");
        if let Some(uv) = uv.filter(|_| search.downloads) {
            return uv_download(uv, version);
        }
        let folders: Vec<String> = search
            .version_folders
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        Err(Error::infra(format!(
            "python {version} is not installed: looked for {} on PATH, in {}, and asked uv (`uv python find \
             --no-python-downloads {version}`); install it (`pyenv install {version}`, `uv python install \
             {version}`), or pass --allow-python-downloads to let uv download it",
            on_path.join(", "),
            if folders.is_empty() {
                "no version folder".to_string()
            } else {
                folders.join(", ")
            },
        )))
    }

    fn probe(path: PathBuf) -> Option<Self> {
        let script = "import sys; print(sys.version.split()[0]); print(sys.executable)";
        let output = Command::new(&path).args(["-c", script]).output().ok()?;
        let text = String::from_utf8(output.stdout).ok()?;
        let mut lines = text.lines();
        let version = lines.next()?.to_string();
        // The real executable, not a shim or a `python3 -> python3.11` link: environments are keyed by this path, and
        // must neither depend on a shim's later choice nor differ between two names of one interpreter.
        let path = lines.next().map_or(path, PathBuf::from);
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        Some(Self { path, version })
    }

    fn matches(&self, request: &str) -> bool {
        self.version == request || self.version.starts_with(&format!("{request}."))
    }
}

/// The names a request is looked for by on `PATH`: `python3.11` (also for `3.11.4`), then `python3`.
fn path_names(request: Option<&str>) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(version) = request {
        let minor: Vec<&str> = version.split('.').take(2).collect();
        names.push(format!("python{}", minor.join(".")));
    }
    names.push("python3".to_string());
    names.dedup();
    names
}

/// Interpreters in pyenv-style folders whose folder name is the request's version (`3.11` finds `3.11.7`), newest
/// first.
fn in_version_folders(request: Option<&str>, search: &PythonSearch) -> Vec<Interpreter> {
    let mut versions: Vec<PathBuf> = search
        .version_folders
        .iter()
        .flat_map(|folder| std::fs::read_dir(folder).into_iter().flatten())
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            request.is_none_or(|want| name == want || name.starts_with(&format!("{want}.")))
        })
        .collect();
    versions.sort_by_key(|path| std::cmp::Reverse(version_key(path)));
    versions
        .into_iter()
        .filter_map(|folder| Interpreter::probe(folder.join("bin").join("python3")))
        .collect()
}

/// `3.11.7` → `[3, 11, 7]`, for ordering folders by version rather than by text.
fn version_key(folder: &Path) -> Vec<u64> {
    let name = folder
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// uv's discovery (its managed interpreters, `PATH`, the virtual environment): never downloading.
fn uv_find(uv: &Uv, request: Option<&str>) -> Option<Interpreter> {
    let args = [
        "python",
        "find",
        "--no-python-downloads",
        request.unwrap_or("3"),
    ];
    let output = uv.run(&args, &[]).ok()?;
    let path = String::from_utf8(output.stdout).ok()?;
    (output.status.success()).then(|| Interpreter::probe(PathBuf::from(path.trim())))?
}

/// `uv python install VERSION`, then its path: only when the user allowed downloads.
fn uv_download(uv: &Uv, version: &str) -> Result<Interpreter> {
    let allow = [("UV_PYTHON_DOWNLOADS", "automatic".to_string())];
    let installed = uv.run(&["python", "install", version], &allow)?;
    if !installed.status.success() {
        return Err(Error::infra(format!(
            "python {version} is not installed here, and uv could not download it: {}",
            String::from_utf8_lossy(&installed.stderr)
                .trim()
                .trim_start_matches("error: ")
        )));
    }
    uv_find(uv, Some(version)).ok_or_else(|| {
        Error::infra(format!(
            "uv installed python {version} but does not find it"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_request_is_looked_for_by_its_minor_name_on_path() {
        assert_eq!(path_names(Some("3.11.4")), ["python3.11", "python3"]);
        assert_eq!(path_names(Some("3")), ["python3"]);
        assert_eq!(path_names(None), ["python3"]);
    }

    #[test]
    fn version_folders_answer_by_their_name_newest_first() {
        let real = Interpreter::probe(PathBuf::from("python3")).expect("python3 on PATH");
        let dir = tempfile::tempdir().unwrap();
        let minor: Vec<&str> = real.version.split('.').take(2).collect();
        let minor = minor.join(".");
        // Two folders of one minor version, named as pyenv names them; both run this machine's python3.
        for patch in ["2", "13"] {
            let bin = dir.path().join(format!("{minor}.{patch}")).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::os::unix::fs::symlink(&real.path, bin.join("python3")).unwrap();
        }
        let search = PythonSearch {
            version_folders: vec![dir.path().to_path_buf()],
            downloads: false,
        };
        let found = in_version_folders(Some(&minor), &search);
        assert_eq!(found.len(), 2);
        assert!(in_version_folders(Some("2.1"), &search).is_empty());
        assert!(
            version_key(Path::new("3.10.13")) > version_key(Path::new("3.10.2")),
            "newest by number, not by text"
        );
    }
}
