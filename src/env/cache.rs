//! The content-addressed environment cache.
//!
//! An environment's identity is a hash of everything that decides what gets installed: interpreter version and
//! path, sorted requirements, index settings and platform. It is built in a temporary folder beside its final place
//! and renamed in only after install and freeze succeed, so a crash never leaves a half-built environment that a
//! later run would trust. A file lock per hash lets concurrent cells (or concurrent runs) share one build.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::project::ProjectInstall;
use super::{Interpreter, Uv};
use crate::error::{Error, Result};
use crate::index::{IndexSettings, redact};

/// Attempts for an install that failed for reasons other than the resolver (network, corrupt download).
const INSTALL_ATTEMPTS: usize = 3;
/// Written last into a built environment: its presence means "complete".
const RECORD: &str = "qcompat-env.json";

pub struct Cache {
    pub root: PathBuf,
}

/// What a cell's environment must contain.
#[derive(Debug, Clone)]
pub struct EnvSpec {
    pub python: Interpreter,
    pub requirements: Vec<String>,
    /// `package==version` forced whatever the requirements' own dependencies say (uv's `--override`).
    pub overrides: Vec<String>,
    pub index: IndexSettings,
    /// The project under test, installed with the requirements (one resolution), or none.
    pub project: Option<ProjectInstall>,
}

impl EnvSpec {
    /// `uv venv …` then `uv pip install …`: the two commands that build this environment by hand in `venv`, with
    /// `python` (a path, or a version uv finds). `--allow-existing` lets them run as printed over an environment that
    /// exists already (the cached one, or a second paste).
    pub fn rebuild_commands(&self, uv: &str, python: &str, venv: &str) -> [String; 2] {
        let target = format!("{venv}/bin/python");
        let make = [uv, "venv", "--allow-existing", "--python", python, venv].map(quote);
        let install = [uv, "pip", "install", "--python", &target].map(quote);
        [
            make.join(" "),
            format!("{} {}", install.join(" "), self.install_arguments()),
        ]
    }

    /// What follows `uv pip install`: sources (credentials masked), requirements and overrides, each quoted for a
    /// POSIX shell.
    fn install_arguments(&self) -> String {
        let mut words: Vec<String> = self.index.display_args().iter().map(|a| quote(a)).collect();
        words.extend(self.requirements.iter().map(|r| quote(r)));
        words.extend(self.project_arguments().iter().map(|a| quote(a)));
        if !self.overrides.is_empty() {
            let overrides: Vec<String> = self.overrides.iter().map(|o| quote(o)).collect();
            words.push(format!(
                "--override <(printf '%s\\n' {})",
                overrides.join(" ")
            ));
        }
        words.join(" ")
    }
}

impl EnvSpec {
    /// `uv pip install`'s arguments for the project: its wheel, or `-e FOLDER`; none without a project.
    fn project_arguments(&self) -> Vec<String> {
        self.project
            .as_ref()
            .map_or_else(Vec::new, ProjectInstall::install_arguments)
    }
}

/// Single-quotes `text` for a POSIX shell when it has anything but safe characters.
pub fn quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A ready environment.
#[derive(Debug, Clone)]
pub struct Env {
    pub hash: String,
    pub python: PathBuf,
    /// `uv pip freeze` of the environment, normalized name → version.
    pub resolved: BTreeMap<String, String>,
    /// False when the environment came from the cache.
    pub created: bool,
}

/// Why a cell got no environment; these become outcomes, not errors of the run.
#[derive(Debug)]
pub enum EnvFailure {
    /// The resolver proved no set of versions satisfies the cell; its explanation is kept.
    Unresolvable(String),
    /// Download, build or unpack failed, after retries.
    InstallError(String),
    Infra(Error),
}

impl From<Error> for EnvFailure {
    fn from(e: Error) -> Self {
        EnvFailure::Infra(e)
    }
}

#[derive(Serialize, Deserialize)]
struct EnvRecord {
    requirements: Vec<String>,
    python: String,
    resolved: BTreeMap<String, String>,
}

impl Cache {
    /// Opens (creating) the cache root and checks it is writable, so a bad cache fails before any work starts.
    pub fn open(root: PathBuf) -> Result<Self> {
        let unusable = |e: std::io::Error| {
            Error::infra(format!("cache dir {} is not writable: {e}", root.display()))
        };
        std::fs::create_dir_all(root.join("envs")).map_err(unusable)?;
        tempfile::tempfile_in(root.join("envs")).map_err(unusable)?;
        Ok(Self { root })
    }

    pub fn hash(spec: &EnvSpec) -> String {
        let mut requirements = spec.requirements.clone();
        requirements.sort();
        let mut hasher = Sha256::new();
        for part in [
            format!(
                "python {} {}",
                spec.python.version,
                spec.python.path.display()
            ),
            format!(
                "platform {} {}",
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
            format!("index {}", spec.index.fingerprint()),
            format!("requirements {}", requirements.join(" ")),
        ]
        .into_iter()
        // Only when present, so the environments of every matrix cell keep the hashes they had.
        .chain(
            (!spec.overrides.is_empty()).then(|| format!("overrides {}", spec.overrides.join(" "))),
        )
        .chain(spec.project.as_ref().map(ProjectInstall::fingerprint))
        {
            hasher.update(part.as_bytes());
            hasher.update(b"\n");
        }
        crate::digest::short_of(hasher)
    }

    /// Where the environment for `spec` lives once built.
    pub fn env_dir(&self, spec: &EnvSpec) -> PathBuf {
        self.root.join("envs").join(Self::hash(spec))
    }

    /// The environment for `spec`: from the cache, or built now.
    pub fn provision(&self, uv: &Uv, spec: &EnvSpec) -> Result<Env, EnvFailure> {
        let hash = Self::hash(spec);
        let envs = self.root.join("envs");
        let dir = self.env_dir(spec);
        let lock_path = envs.join(format!("{hash}.lock"));
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        lock.lock_exclusive()
            .map_err(|e| Error::io(&lock_path, e))?;

        if let Some(record) = read_record(&dir) {
            return Ok(Env::from_record(hash, dir, record, false));
        }
        // A folder without a record is the remains of an interrupted build from an older layout: replace it.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        remove_stale_builds(&envs, &hash)?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".build-{hash}-"))
            .tempdir_in(&envs)
            .map_err(|e| Error::io(&envs, e))?;
        let venv = staging.path().join("venv");
        let record = build(uv, spec, &venv)?;
        let text = serde_json::to_string_pretty(&record).expect("record serializes");
        std::fs::write(venv.join(RECORD), text).map_err(|e| Error::io(&venv, e))?;
        std::fs::rename(&venv, &dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Env::from_record(hash, dir, record, true))
    }
}

impl Env {
    fn from_record(hash: String, dir: PathBuf, record: EnvRecord, created: bool) -> Self {
        Self {
            hash,
            python: dir.join("bin").join("python"),
            resolved: record.resolved,
            created,
        }
    }
}

/// Staging folders of this hash left by a build that was killed (kill -9, power loss): under the lock, no build of
/// this hash is running, so they are garbage.
fn remove_stale_builds(envs: &Path, hash: &str) -> Result<()> {
    let prefix = format!(".build-{hash}-");
    let entries = std::fs::read_dir(envs).map_err(|e| Error::io(envs, e))?;
    for entry in entries.filter_map(|e| e.ok()) {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

fn read_record(dir: &Path) -> Option<EnvRecord> {
    let text = std::fs::read_to_string(dir.join(RECORD)).ok()?;
    serde_json::from_str(&text).ok()
}

fn build(uv: &Uv, spec: &EnvSpec, venv: &Path) -> Result<EnvRecord, EnvFailure> {
    make_venv(uv, spec, venv)?;
    let target = venv
        .join("bin")
        .join("python")
        .to_string_lossy()
        .into_owned();
    install(uv, spec, venv, &target)?;
    let frozen = uv.run(
        &["pip", "freeze", "--python", &target],
        &spec.index.uv_env(),
    )?;
    if !frozen.status.success() {
        return Err(Error::infra(format!(
            "uv pip freeze failed: {}",
            redact(String::from_utf8_lossy(&frozen.stderr).trim())
        ))
        .into());
    }
    Ok(EnvRecord {
        requirements: spec.requirements.clone(),
        python: spec.python.version.clone(),
        resolved: parse_freeze(&String::from_utf8_lossy(&frozen.stdout)),
    })
}

/// An empty virtual environment with the spec's interpreter. Relocatable: it is renamed from its staging folder
/// into the cache once built.
fn make_venv(uv: &Uv, spec: &EnvSpec, venv: &Path) -> Result<(), EnvFailure> {
    let venv = venv.to_string_lossy();
    let python = spec.python.path.to_string_lossy();
    let args = [
        "venv",
        "--quiet",
        "--relocatable",
        "--python",
        &python,
        &venv,
    ];
    let made = uv.run(&args, &[])?;
    if !made.status.success() {
        return Err(Error::infra(format!(
            "uv venv failed: {}",
            redact(String::from_utf8_lossy(&made.stderr).trim())
        ))
        .into());
    }
    Ok(())
}

/// Installs the spec's requirements (and overrides) into `target`'s environment, retrying what may be transient;
/// a resolver that finds no solution is the cell's outcome at once.
fn install(uv: &Uv, spec: &EnvSpec, venv: &Path, target: &str) -> Result<(), EnvFailure> {
    let override_file = venv.with_file_name("overrides.txt");
    let override_path = override_file.to_string_lossy().into_owned();
    let mut args = vec!["pip", "install", "--quiet", "--python", target];
    let flags = spec.index.uv_flags();
    args.extend(flags.iter().map(String::as_str));
    if !spec.overrides.is_empty() {
        std::fs::write(&override_file, spec.overrides.join("\n") + "\n")
            .map_err(|e| Error::io(&override_file, e))?;
        args.extend(["--override", &override_path]);
    }
    args.extend(spec.requirements.iter().map(String::as_str));
    let project = spec.project_arguments();
    args.extend(project.iter().map(String::as_str));
    let index_env = spec.index.uv_env();
    let mut last_error = String::new();
    for _ in 0..INSTALL_ATTEMPTS {
        let output = uv.run(&args, &index_env)?;
        if output.status.success() {
            return Ok(());
        }
        last_error = redact(String::from_utf8_lossy(&output.stderr).trim());
        // Checked before the resolver: uv words a cache miss as "No solution found" too.
        if let Some(package) = offline_cache_miss(&last_error) {
            return Err(Error::infra(format!(
                "--offline: {package} is not in uv's cache, so nothing can be installed; run once without \
                 --offline to fill the cache, or add --find-links DIR"
            ))
            .into());
        }
        if is_unresolvable(&last_error) {
            return Err(EnvFailure::Unresolvable(last_error));
        }
    }
    Err(EnvFailure::InstallError(last_error))
}

/// uv says "No solution found" both for true conflicts and for packages it could not read (a corrupt or
/// unreachable file); only the former is a property of the versions, the latter is worth retrying.
fn is_unresolvable(stderr: &str) -> bool {
    const NOT_THE_RESOLVERS_FAULT: [&str; 5] = [
        "invalid package format",
        "Failed to download",
        "Failed to fetch",
        "Failed to build",
        "error sending request",
    ];
    stderr.contains("No solution found")
        && !NOT_THE_RESOLVERS_FAULT.iter().any(|m| stderr.contains(m))
}

/// With the network off uv can only read its cache, and says a package it never downloaded "was not found in the
/// cache", under "No solution found". That is a fact about this machine, not about the versions: the caller makes it
/// an infrastructure error instead of an `unresolvable` cell. Returns the missing package, as uv names it.
fn offline_cache_miss(stderr: &str) -> Option<String> {
    const MISS: &str = " was not found in the cache";
    let before = &stderr[..stderr.find(MISS)?];
    let package = before
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .filter(|p| !p.is_empty())
        .unwrap_or("a package");
    Some(format!("`{package}`"))
}

/// `name==version` lines, and `name @ file:///…/name-version-….whl` ones (a wheel built from a commit, `bisect
/// --repo`) with the version its file name says.
fn parse_freeze(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            line.split_once("==").or_else(|| {
                let (name, url) = line.split_once(" @ ")?;
                let file = url.trim().rsplit('/').next()?.strip_suffix(".whl")?;
                Some((name, file.split('-').nth(1)?))
            })
        })
        .map(|(name, version)| {
            (
                crate::index::normalize(name.trim()),
                version.trim().to_string(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_conflicts_are_unresolvable_but_bad_files_are_not() {
        let conflict =
            "error: No solution found when resolving dependencies\n  cause: toyhelper>=9 ...";
        let corrupt = "error: No solution found when resolving dependencies\n  cause: toyquant==1.7 has an invalid package format";
        assert!(is_unresolvable(conflict));
        assert!(!is_unresolvable(corrupt));
        assert!(!is_unresolvable("error: Failed to download `torch==2.3.0`"));
    }

    #[test]
    fn an_offline_cache_miss_names_the_package() {
        let miss = "error: No solution found when resolving dependencies\n  cause: Because toyquant was not found in \
                    the cache and you require toyquant==1.0, we can conclude that your requirements are unsatisfiable.";
        assert_eq!(offline_cache_miss(miss).as_deref(), Some("`toyquant`"));
        let conflict =
            "error: No solution found when resolving dependencies\n  cause: toyhelper>=9 ...";
        assert_eq!(offline_cache_miss(conflict), None);
    }

    #[test]
    fn freeze_lines_become_a_map() {
        let resolved = parse_freeze(
            "Torch==2.3.0+cpu\nlightning_utilities==0.11.2\n-e file:///x\nlightning @ file:///w/lightning-2.3.0.dev0-py3-none-any.whl\n",
        );
        assert_eq!(resolved.get("torch").map(String::as_str), Some("2.3.0+cpu"));
        assert_eq!(
            resolved.get("lightning-utilities").map(String::as_str),
            Some("0.11.2")
        );
        assert_eq!(
            resolved.get("lightning").map(String::as_str),
            Some("2.3.0.dev0")
        );
        assert_eq!(resolved.len(), 3);
    }
}
