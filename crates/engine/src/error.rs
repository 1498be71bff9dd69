//! Everything that can go wrong in the engine, and whose fault it is.

use std::path::PathBuf;

/// Whose fault an error is: a command line maps it to its exit status (qcompat: input 2, machine 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A corrupt or unsupported file or argument: the user's to fix.
    Input,
    /// The machine could not do the work: I/O, or the compute backend.
    Machine,
}

/// Everything that can go wrong in the engine; [`EngineError::fault`] says whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid {format} file: {reason}")]
    CorruptFile {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("tensor `{tensor}` has dtype {dtype}; expected {expected}")]
    UnsupportedDtype {
        tensor: String,
        dtype: String,
        expected: &'static str,
    },
    #[error("tensor `{tensor}` holds a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        tensor: String,
        index: usize,
        value: f32,
    },
    #[error("block size {0} is not one bitsandbytes supports (32, 64, 128, ..., 4096)")]
    InvalidBlocksize(usize),
    #[error("tensor `{tensor}` is missing from {path}")]
    MissingTensor { tensor: String, path: PathBuf },
    #[error("tensor `{tensor}` has shape {found:?}; expected {expected:?}")]
    ShapeMismatch {
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("invalid quantization state for `{tensor}`: {reason}")]
    InvalidQuantState { tensor: String, reason: String },
    #[error("invalid model configuration in {path}: {reason}")]
    InvalidConfig { path: PathBuf, reason: String },
    #[error("invalid training data in {path}: {reason}")]
    InvalidTrainingData { path: PathBuf, reason: String },
    #[error("tensor computation failed: {0}")]
    Compute(#[from] candle_core::Error),
}

impl EngineError {
    /// The input's fault for corrupt or unsupported files and arguments; the machine's for I/O and the compute
    /// backend.
    pub fn fault(&self) -> Fault {
        match self {
            EngineError::Io { .. } | EngineError::Compute(_) => Fault::Machine,
            _ => Fault::Input,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EngineError {
        let path = path.into();
        move |source| EngineError::Io { path, source }
    }
}
