//! Shared by the integration tests: run the real `qcompat` binary in a scratch folder, with toy wheels offline.

#![allow(dead_code)] // each test binary uses its own subset

pub mod browser;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The toy wheels, built once per test binary (stdlib Python, no network).
pub fn toy_wheels() -> &'static Path {
    static WHEELS: OnceLock<tempfile::TempDir> = OnceLock::new();
    WHEELS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let status = Command::new("python3")
                .arg(repo().join("fixtures/toy/build_wheels.py"))
                .arg(dir.path())
                .status()
                .expect("python3 runs");
            assert!(status.success(), "building toy wheels failed");
            dir
        })
        .path()
}

/// A scratch folder with its own qcompat cache; matrices are written into it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `qcompat ARGS` in this scratch folder, for commands that build no environment (`diff`, `report`). It never
    /// writes to the job summary of a CI run of the tests themselves.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_qcompat"));
        command
            .args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_STEP_SUMMARY");
        command
    }

    /// `qcompat ARGS` with this scratch's cache, installing only from the toy wheels, ready to run or to adjust.
    pub fn run_command(&self, args: &[&str]) -> Command {
        let mut command = self.command(args);
        command
            .arg("--cache-dir")
            .arg(self.cache())
            .env("UV_FIND_LINKS", toy_wheels())
            .env("UV_NO_INDEX", "1");
        command
    }

    /// `text` with this scratch folder's path as `[scratch]`: reports name per-cell logs by absolute path.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.path().display().to_string(), "[scratch]")
    }

    /// `qcompat ARGS` with this scratch's cache, installing only from the toy wheels.
    pub fn qcompat(&self, args: &[&str]) -> Output {
        self.run_command(args).output().expect("qcompat runs")
    }
}

/// Asserts that process `pid` is gone (or a zombie waiting for init to reap it). SIGKILL is delivered
/// asynchronously, so on a loaded machine the process may still be dying for a moment after the kill.
pub fn assert_gone(pid: &str) {
    let started = std::time::Instant::now();
    loop {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap_or_default();
        if status.is_empty() || status.contains("State:\tZ") {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 5,
            "process {pid} still alive:\n{status}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Compact text of a `--format json` report: one line per probe run, what a reader checks.
pub fn outcome_lines(report: &serde_json::Value) -> String {
    let mut lines = Vec::new();
    for cell in report["cells"].as_array().unwrap() {
        let key: Vec<String> = cell["key"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(a, v)| format!("{a}={}", v.as_str().unwrap()))
            .collect();
        for probe in cell["probes"].as_array().unwrap() {
            let mut line = format!(
                "{} {} {}",
                key.join(","),
                probe["name"].as_str().unwrap(),
                probe["outcome"].as_str().unwrap()
            );
            for field in ["signature", "frame", "known"] {
                if let Some(text) = probe.get(field).and_then(|v| v.as_str()) {
                    line.push_str(&format!("\n    {field}: {text}"));
                }
            }
            lines.push(line);
        }
    }
    lines.join("\n")
}

/// A `uv` wrapper in `scratch/bin` running `body` (sh) before delegating to the real uv; returns PATH with it first.
pub fn fake_uv(scratch: &Scratch, body: &str) -> String {
    let real = which_uv();
    let bin = scratch.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\nSCRATCH='{}'\n{body}\nexec '{}' \"$@\"\n",
        scratch.path().display(),
        real.display()
    );
    let path = bin.join("uv");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

pub fn which_uv() -> PathBuf {
    let output = std::process::Command::new("sh")
        .args(["-c", "command -v uv"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

pub fn wait_for(path: &Path, what: &str) -> String {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.trim().is_empty()
        {
            return text;
        }
        // Generous: a loaded CI machine builds environments slowly; this only bounds how late a failure shows.
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `text` with uv's own words after each `No solution found: ` (qcompat's prefix of an `unresolvable` signature)
/// replaced by `<uv's reason>`, and those reasons: uv words a conflict differently from one release to the next
/// (.ci/run pins one, a developer may have another), so snapshots keep qcompat's part and the test checks what each
/// reason names.
pub fn uv_reasons(text: &str) -> (String, Vec<String>) {
    let reason = regex::Regex::new(r#"No solution found: ([^`"\n]*)"#).unwrap();
    let reasons = reason
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .collect();
    let scrubbed = reason.replace_all(text, "No solution found: <uv's reason>");
    (scrubbed.into_owned(), reasons)
}

/// Asserts that every reason names each of `names` (what any wording of the conflict must say).
pub fn assert_reasons_name(reasons: &[String], names: &[&str]) {
    assert!(!reasons.is_empty(), "no resolver reason");
    for reason in reasons {
        for name in names {
            assert!(reason.contains(name), "`{reason}` does not name {name}");
        }
    }
}

/// The flags `qcompat COMMAND… --help` lists (`--matrix`, `-q`, `--quiet`, …), `--help` and `--version` left out:
/// whole flags, so `--out` never passes for `--output`. Panics when `qcompat COMMAND…` is not a command.
pub fn help_flags(command: &[&str]) -> std::collections::BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_qcompat"))
        .args(command)
        .arg("--help")
        .output()
        .expect("qcompat runs");
    assert!(
        output.status.success(),
        "`qcompat {}` is not a command: {}",
        command.join(" "),
        stderr(&output)
    );
    let flag = regex::Regex::new(r"(?m)^\s+(?:(-\w), )?(--[\w-]+)").unwrap();
    flag.captures_iter(&stdout(&output))
        .flat_map(|c| [c.get(1), c.get(2)])
        .flatten()
        .map(|m| m.as_str().to_string())
        .filter(|f| !matches!(f.as_str(), "-h" | "--help" | "-V" | "--version"))
        .collect()
}

/// The stdlib PEP 517 backend of the toy repository: builds `toyquant` from `toyquant/` at the version in `VERSION`,
/// with nothing to download.
const BACKEND: &str = r#"
import base64, hashlib, os, zipfile

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = open("VERSION").read().strip()
    files = {"toyquant/__init__.py": open("toyquant/__init__.py", "rb").read()}
    dist = "toyquant-%s.dist-info" % version
    files[dist + "/METADATA"] = ("Metadata-Version: 2.1\nName: toyquant\nVersion: %s\n" % version).encode()
    files[dist + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: toy\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for name, data in sorted(files.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    files[dist + "/RECORD"] = ("\n".join(record + [dist + "/RECORD,,"]) + "\n").encode()
    wheel = "toyquant-%s-py3-none-any.whl" % version
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zf:
        for name in sorted(files):
            zf.writestr(name, files[name])
    return wheel
"#;

const PYPROJECT: &str =
    "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\"_build\"]\n";

/// The lazy loader that forgot `data` (toyquant 1.2's bug).
const BUG: &str = r#"
class _LazyTensor:
    def __init__(self, values):
        self._values = values

    def __getattr__(self, name):
        raise AttributeError("'_LazyTensor' object has no attribute '%s'" % name)


def lazy_load(state):
    return {name: _LazyTensor(values) for name, values in state.items()}
"#;

/// A toy repository: 1.0 at the first commit, a commit whose build is broken, the bug two commits later, 1.2 at
/// the last. Returns its path.
pub fn toy_history(dir: &Path) -> PathBuf {
    let git_dir = dir.join("toyquant-git");
    std::fs::create_dir_all(git_dir.join("_build")).unwrap();
    std::fs::create_dir_all(git_dir.join("toyquant")).unwrap();
    let common =
        std::fs::read_to_string(self::repo().join("fixtures/toy/toyquant/common.py")).unwrap();
    let git = |args: &[&str], day: u32| {
        let date = format!("2024-05-{day:02}T12:00:00Z");
        let status = Command::new("git")
            .args([
                "-C",
                git_dir.to_str().unwrap(),
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
            ])
            .args(args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    let write = |file: &str, text: &str| std::fs::write(git_dir.join(file), text).unwrap();
    let commit = |message: &str, day: u32| {
        git(&["add", "."], day);
        git(&["commit", "-q", "-m", message], day);
    };
    git(&["init", "-q"], 1);
    write("pyproject.toml", PYPROJECT);
    write("_build/backend.py", BACKEND);
    write("VERSION", "1.0\n");
    write("toyquant/__init__.py", &common);
    commit("toyquant 1.0", 1);
    git(&["tag", "1.0"], 1);
    write("VERSION", "1.1.dev0\n");
    commit("start 1.1", 2);
    write("README.md", "toyquant\n");
    commit("a readme", 3);
    write(
        "_build/backend.py",
        "raise SystemExit('the build is broken here')\n",
    );
    commit("break the build", 4);
    write("_build/backend.py", BACKEND);
    commit("mend the build", 5);
    write("toyquant/__init__.py", &format!("{common}{BUG}"));
    commit("lazy tensors without data", 6);
    write("VERSION", "1.2\n");
    commit("toyquant 1.2", 7);
    git(&["tag", "1.2"], 7);
    git_dir
}
