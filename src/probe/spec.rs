//! A probe as every part of qcompat sees it, whoever wrote it: its name, what a cell must install for it to mean
//! anything, which side of the quantization contrast it stands on, how the built-in engine checks a pass, and what
//! runs. The catalogue's probes and the ones a matrix declares are the same type.

use std::path::PathBuf;
use std::time::Duration;

use qcompat_engine::oracle::Oracle;

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    pub name: String,
    /// One line for `qcompat probes` and the docs.
    pub summary: String,
    /// Packages (as published) a cell's environment must hold for the probe's verdict to say anything about it.
    pub needs: Vec<String>,
    pub role: Role,
    /// The built-in engine's check of a pass (none: the engine has no counterpart and a pass stands as it is).
    pub oracle: Option<Oracle>,
    pub body: Body,
}

/// Where a probe stands in the quantization contrast: a cell where quantized probes fail and a control passes has a
/// failure specific to quantization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Quantized,
    /// The same work without quantization.
    Control,
    /// Outside the contrast: a probe the matrix declares without a `role`.
    Neither,
}

/// What runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A script of the catalogue, embedded in the binary and run by the probe runner (`_qcompat.py`).
    Builtin {
        file: &'static str,
        script: &'static str,
    },
    /// A command the matrix declares (`[probe.NAME]`), run as a process of its own in the cell's environment.
    Command(CommandProbe),
}

/// A user's command: what runs, where, with what more than the cell's environment.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandProbe {
    /// `argv[0] == "python"` is the cell's interpreter; any other name is looked up on the cell's activated PATH
    /// (the environment's `bin/` first), a name holding a `/` is taken relative to the copy of `dir`.
    pub argv: Vec<String>,
    /// Absolute (resolved against the matrix file): copied afresh for each cell and run, the command runs in the copy.
    pub dir: PathBuf,
    /// The short hash of `dir`'s files when the matrix was read: a changed probe is another matrix (plans, resume
    /// journals).
    pub content: String,
    /// Requirements installed into every cell of the matrix: part of the environment and so of its hash.
    pub deps: Vec<String>,
    /// Variables for this probe's process only, beside the allow-listed environment.
    pub env: Vec<(String, String)>,
    /// The probe's own limit; the matrix's `timeout` when absent.
    pub timeout: Option<Duration>,
    /// Apply the recorded CPU substitutions inside the process on a run whose device is not CUDA.
    pub cpu_swaps: bool,
}

impl CommandProbe {
    /// Whether the command runs pytest (`pytest`, `py.test`, `python -m pytest`): its JUnit XML is read per test.
    pub fn is_pytest(&self) -> bool {
        match self.argv.as_slice() {
            [python, flag, module, ..] if python == "python" && flag == "-m" => module == "pytest",
            [program, ..] => matches!(program.as_str(), "pytest" | "py.test"),
            [] => false,
        }
    }
}

impl ProbeSpec {
    /// The user's command, for a probe the matrix declares.
    pub fn command(&self) -> Option<&CommandProbe> {
        match &self.body {
            Body::Command(command) => Some(command),
            Body::Builtin { .. } => None,
        }
    }
}
