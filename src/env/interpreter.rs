//! Finds the Python interpreter a matrix asks for. uv cannot download interpreters on every machine, so only
//! installed ones are used.

use std::path::PathBuf;
use std::process::Command;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Interpreter {
    pub path: PathBuf,
    /// Full version, e.g. `3.11.7`.
    pub version: String,
}

impl Interpreter {
    /// `request` is `3.11`-style (or absent: `python3`). Tries `python3.11`, then `python3` if its version matches.
    /// A request holding a `/` is an interpreter's path (the matrix checked that it exists): it must answer as Python.
    pub fn find(request: Option<&str>) -> Result<Self> {
        if let Some(path) = request.filter(|r| r.contains('/')) {
            return Self::probe(PathBuf::from(path)).ok_or_else(|| {
                Error::BadInput(format!(
                    "python `{path}` (the matrix's `python`) is not a Python interpreter: it did not report its version"
                ))
            });
        }
        let candidates = match request {
            Some(version) => vec![format!("python{version}"), "python3".to_string()],
            None => vec!["python3".to_string()],
        };
        for candidate in &candidates {
            let Ok(path) = which::which(candidate) else {
                continue;
            };
            let Some(found) = Self::probe(path) else {
                continue;
            };
            if request.is_none_or(|want| found.matches(want)) {
                return Ok(found);
            }
        }
        Err(Error::infra(format!(
            "python {} is not installed (looked for {} on PATH)",
            request.unwrap_or("3"),
            candidates.join(", ")
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
