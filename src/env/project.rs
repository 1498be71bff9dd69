//! The project under test (`[project]`): its content hash, and its wheel, built once per content and interpreter.
//!
//! The hash names what is installed. A wheel is built from the project's files, so in wheel mode the hash covers
//! every file of the project: in a git work tree the files `git ls-files` lists (tracked, and untracked ones that
//! `.gitignore` does not ignore), elsewhere every file; in both, never the folders that tools write while they work
//! (VCS data, caches, virtual environments, build outputs) nor qcompat's own files (the matrix, snapshots, the
//! cache), which change without changing the package. An editable install reads its sources live, so only the files
//! that decide what is installed (`pyproject.toml`, `setup.py`, `setup.cfg`) are hashed: editing a module needs no
//! new environment, editing the dependencies does.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::{Interpreter, Uv};
use crate::error::{Error, Result};
use crate::index::{IndexSettings, redact};
use crate::matrix::Project;

/// Folders never hashed, by name: VCS data, caches, virtual environments and build outputs.
const SKIPPED_FOLDERS: [&str; 13] = [
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".venv",
    "build",
    "dist",
    "node_modules",
];
/// The files an editable install's environment depends on.
const METADATA_FILES: [&str; 3] = ["pyproject.toml", "setup.py", "setup.cfg"];

/// How the project goes into a cell's environment.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectTarget {
    /// The wheel built for the cell's interpreter.
    Wheel(PathBuf),
    /// `uv pip install -e FOLDER`.
    Editable(PathBuf),
}

/// The project as one environment installs it.
#[derive(Debug, Clone)]
pub struct ProjectInstall {
    /// The content hash (see the module's documentation): part of the environment's hash.
    pub hash: String,
    pub target: ProjectTarget,
}

impl ProjectInstall {
    /// What `uv pip install` takes for it: the wheel's path, or `-e FOLDER`.
    pub fn install_arguments(&self) -> Vec<String> {
        match &self.target {
            ProjectTarget::Wheel(wheel) => vec![wheel.display().to_string()],
            ProjectTarget::Editable(folder) => vec!["-e".into(), folder.display().to_string()],
        }
    }

    /// Its part of the environment's hash: the mode and the content, not where the wheel lies.
    pub fn fingerprint(&self) -> String {
        match &self.target {
            ProjectTarget::Wheel(_) => format!("project wheel {}", self.hash),
            ProjectTarget::Editable(folder) => {
                format!("project editable {} {}", folder.display(), self.hash)
            }
        }
    }
}

/// The project as each of `interpreters` installs it, by interpreter path: its folder (editable), or the wheel
/// built for that interpreter, found in `<cache>/projects/` or built there now. `skip`: qcompat's own files.
pub fn prepare(
    project: &Project,
    skip: &[PathBuf],
    uv: &Uv,
    index: &IndexSettings,
    cache_root: &Path,
    interpreters: &[&Interpreter],
) -> Result<Vec<(PathBuf, ProjectInstall)>> {
    let folder = std::fs::canonicalize(&project.path).map_err(|e| Error::io(&project.path, e))?;
    let hash = content_hash(&folder, project.editable, skip)?;
    let projects = cache_root.join("projects");
    interpreters
        .iter()
        .map(|python| {
            let target = if project.editable {
                ProjectTarget::Editable(folder.clone())
            } else {
                let built = wheel(uv, index, &projects, &folder, &hash, python);
                ProjectTarget::Wheel(built.map_err(|e| match e {
                    Error::BadInput(why) => Error::BadInput(format!(
                        "{}: project {} (python {}): {why}",
                        project.at,
                        folder.display(),
                        python.version
                    )),
                    other => other,
                })?)
            };
            let install = ProjectInstall {
                hash: hash.clone(),
                target,
            };
            Ok((python.path.clone(), install))
        })
        .collect()
}

/// The project's content hash: every file (`editable`: the metadata files only) by path and bytes, less `skip`
/// (qcompat's own files inside the project).
pub fn content_hash(root: &Path, editable: bool, skip: &[PathBuf]) -> Result<String> {
    // qcompat's own files and folders, as paths inside the project (those outside it need no skipping).
    let skip: Vec<PathBuf> = skip
        .iter()
        .filter_map(|p| {
            std::fs::canonicalize(p)
                .ok()?
                .strip_prefix(root)
                .ok()
                .map(PathBuf::from)
        })
        .collect();
    let mut files = if editable {
        METADATA_FILES
            .iter()
            .map(PathBuf::from)
            .filter(|f| root.join(f).is_file())
            .collect()
    } else {
        match git_files(root) {
            Some(files) => files,
            None => walk(root, Path::new(""), &skip)?,
        }
    };
    files.retain(|file| kept(file) && !skip.iter().any(|s| file.starts_with(s)));
    files.sort();
    let mut hasher = Sha256::new();
    for file in &files {
        let path = root.join(file);
        // A file listed by git but deleted in the work tree is not part of the project as it stands.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(b"\0");
        hasher.update(Sha256::digest(&bytes));
    }
    Ok(crate::digest::short_of(hasher))
}

/// Whether a relative path is part of the project: not in a skipped folder, not a snapshot of qcompat's.
fn kept(file: &Path) -> bool {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let snapshot = name.ends_with(".snap.toml") || name.ends_with(".snap.toml.new");
    let in_skipped = file
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .any(|c| {
            let part = c.as_os_str().to_str().unwrap_or_default();
            SKIPPED_FOLDERS.contains(&part) || part.ends_with(".egg-info")
        });
    !snapshot && !in_skipped
}

/// The files of a git work tree under `root` that git would commit (tracked, or untracked and not ignored),
/// relative to `root`; None when `root` is in no work tree (or git is missing).
fn git_files(root: &Path) -> Option<Vec<PathBuf>> {
    let args = [
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        ".",
    ];
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let listed = output.stdout.split(|b| *b == 0).filter(|p| !p.is_empty());
    Some(
        listed
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect(),
    )
}

/// Every file under `root/relative`, relative to `root`, skipping the folders [`kept`] skips, virtual environments
/// (a folder holding `pyvenv.cfg`) whatever their name, and `skip` (a cache folder inside the project).
fn walk(root: &Path, relative: &Path, skip: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let folder = root.join(relative);
    let entries = std::fs::read_dir(&folder).map_err(|e| Error::io(&folder, e))?;
    let mut files = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let path = relative.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if kind.is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let skipped = SKIPPED_FOLDERS.contains(&name.as_str()) || name.ends_with(".egg-info");
            let venv = entry.path().join("pyvenv.cfg").exists();
            if !skipped && !venv && !skip.contains(&path) {
                files.extend(walk(root, &path, skip)?);
            }
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// The project's wheel for `python`, from `<cache>/projects/<hash>-<python version>/`, or built there now by
/// `uv build --wheel`. A build that fails is bad input (exit 2) with uv's words, before any cell runs.
pub fn wheel(
    uv: &Uv,
    index: &IndexSettings,
    projects: &Path,
    project: &Path,
    hash: &str,
    python: &Interpreter,
) -> Result<PathBuf> {
    let dir = projects.join(format!("{hash}-{}", python.version));
    if let Some(wheel) = built_wheel(&dir) {
        return Ok(wheel);
    }
    std::fs::create_dir_all(projects).map_err(|e| Error::io(projects, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(projects)
        .map_err(|e| Error::io(projects, e))?;
    let out = staging.path().join("wheel");
    let (out_text, interpreter) = (out.to_string_lossy(), python.path.to_string_lossy());
    let project_text = project.to_string_lossy();
    let mut args = vec![
        "build",
        "--wheel",
        "--quiet",
        "--out-dir",
        &out_text,
        "--python",
        &interpreter,
    ];
    let flags = index.uv_flags();
    args.extend(flags.iter().map(String::as_str));
    args.push(&project_text);
    let built = uv.run(&args, &index.uv_env())?;
    if !built.status.success() {
        return Err(Error::BadInput(format!(
            "`uv build --wheel` failed: {}",
            redact(String::from_utf8_lossy(&built.stderr).trim())
        )));
    }
    // Another run may have built the same content meanwhile: its wheel is as good as this one.
    if std::fs::rename(&out, &dir).is_err() && built_wheel(&dir).is_none() {
        return Err(Error::infra(format!(
            "could not move the built wheel into {}",
            dir.display()
        )));
    }
    built_wheel(&dir)
        .ok_or_else(|| Error::infra(format!("uv build wrote no wheel into {}", dir.display())))
}

fn built_wheel(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, file: &str, text: &str) {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_hash_follows_the_sources_not_what_tools_write() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "pyproject.toml", "[project]\nname = 'p'\n");
        write(root, "src/p/__init__.py", "X = 1\n");
        let skip = [root.join("qcompat.toml"), root.join("qcache")];
        let hash = || content_hash(root, false, &skip).unwrap();
        let first = hash();
        for written in [
            "src/p/__pycache__/x.pyc",
            "build/lib/p.py",
            "dist/p.whl",
            "src/p.egg-info/PKG-INFO",
            ".venv/bin/python",
            "reports/p.snap.toml",
            "qcompat.toml",
            "qcache/envs/x/file",
        ] {
            write(root, written, "anything");
        }
        write(root, "env/pyvenv.cfg", "home = /usr/bin");
        assert_eq!(hash(), first, "outputs of tools changed the hash");
        write(root, "src/p/__init__.py", "X = 2\n");
        assert_ne!(hash(), first, "a source edit kept the hash");
    }

    #[test]
    fn an_editable_project_hashes_only_what_decides_the_install() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "pyproject.toml", "[project]\nname = 'p'\n");
        write(root, "src/p/__init__.py", "X = 1\n");
        let first = content_hash(root, true, &[]).unwrap();
        write(root, "src/p/__init__.py", "X = 2\n");
        assert_eq!(content_hash(root, true, &[]).unwrap(), first);
        write(
            root,
            "pyproject.toml",
            "[project]\nname = 'p'\ndependencies = ['x']\n",
        );
        assert_ne!(content_hash(root, true, &[]).unwrap(), first);
    }

    #[test]
    fn in_a_git_work_tree_ignored_files_are_not_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(root)
                .args(args)
                .output()
                .unwrap();
            assert!(ok.status.success(), "git {args:?}");
        };
        git(&["init", "-q"]);
        write(root, ".gitignore", "*.log\n");
        write(root, "pyproject.toml", "[project]\nname = 'p'\n");
        let first = content_hash(root, false, &[]).unwrap();
        write(root, "debug.log", "noise");
        assert_eq!(content_hash(root, false, &[]).unwrap(), first);
        write(root, "new_module.py", "untracked but not ignored");
        assert_ne!(content_hash(root, false, &[]).unwrap(), first);
    }
}
