//! The uv backend: venv creation, installs and freezes. uv is found on PATH or bootstrapped once into the cache.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};
use crate::index::redact;
use crate::process::child_env::ChildEnv;
use crate::process::supervisor::Group;
use crate::sink::Sink;

#[derive(Debug, Clone)]
pub struct Uv {
    pub path: PathBuf,
    /// The allow-listed environment every uv command (and every probe) gets.
    pub env: ChildEnv,
}

impl Uv {
    /// uv from PATH, else the copy bootstrapped into `<cache>/uv` (made with `python -m venv` + `pip install uv`, by
    /// the interpreter `python` finds: only asked when uv must be bootstrapped).
    pub fn find_or_bootstrap(
        cache_root: &Path,
        python: impl FnOnce() -> Result<PathBuf>,
        env: ChildEnv,
        sink: &dyn Sink,
    ) -> Result<Self> {
        if let Ok(path) = which::which("uv") {
            return Ok(Self { path, env });
        }
        let venv = cache_root.join("uv");
        let path = venv.join("bin").join("uv");
        if path.is_file() {
            return Ok(Self { path, env });
        }
        let python = python()?;
        let python = python.as_path();
        sink.note(&format!(
            "uv not found on PATH: installing it once into {}",
            venv.display()
        ));
        let steps: [(&Path, Vec<&str>); 2] = [
            (
                python,
                vec!["-m", "venv", venv.to_str().unwrap_or_default()],
            ),
            (
                &venv.join("bin").join("python"),
                vec!["-m", "pip", "install", "--quiet", "uv"],
            ),
        ];
        for (program, args) in steps {
            let output = Command::new(program)
                .env_clear()
                .envs(env.for_uv())
                .args(&args)
                .output()
                .map_err(|e| {
                    Error::infra(format!(
                        "bootstrapping uv: running {}: {e}",
                        program.display()
                    ))
                })?;
            if !output.status.success() {
                return Err(Error::infra(format!(
                    "bootstrapping uv failed: {}",
                    redact(String::from_utf8_lossy(&output.stderr).trim())
                )));
            }
        }
        Ok(Self { path, env })
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        command.env_clear().envs(self.env.for_uv());
        // SAFETY: the hook only calls prctl, which is async-signal-safe.
        unsafe { command.pre_exec(crate::process::supervisor::die_with_parent) };
        // Never fetch interpreters: a cell must use the one the matrix names, installed here.
        command.env("UV_PYTHON_DOWNLOADS", "never");
        command
    }

    /// Runs a uv command, returning its output whatever the exit status (callers classify failures). uv runs in a
    /// process group of its own under the supervisor, so an interrupted run stops an install at once instead of
    /// waiting for it. `env` adds to (and overrides) the allow-listed environment: index settings travel there.
    pub fn run(&self, args: &[&str], env: &[(&str, String)]) -> Result<Output> {
        let running = |e| Error::infra_caused(format!("running {}", self.path.display()), e);
        let child = self
            .command()
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(running)?;
        let _group = Group::adopt(child.id());
        child.wait_with_output().map_err(running)
    }
}
