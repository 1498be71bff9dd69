//! Built-in QLoRA engine: bit-exact NF4 (as bitsandbytes), LoRA training of LitGPT's GPT on CPU with candle.
//!
//! It is the reference row (`builtin`) of every matrix: it never depends on the versions under test, so a silent
//! numeric regression in a cell (wrong NF4 codes, skipped quantization, broken LoRA gradient) shows up as a
//! difference from it, and a broken fixture shows up here too.

pub mod checkpoint;
pub mod double_quant;
pub mod evidence;
pub mod finetune;
pub mod fused;
pub mod generate;
pub mod kernels;
pub mod linear4bit;
pub mod lora;
pub mod mlp_replay;
pub mod model;
pub mod nf4;
#[cfg(target_arch = "x86_64")]
mod nf4_avx512;
pub mod reference;
pub mod replay;
pub mod state_dict;
pub mod stream;
pub mod train;

use std::path::PathBuf;

/// Everything that can go wrong in the engine. Bad input is exit code 2, infrastructure 3.
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
    /// Bad input for corrupt or unsupported files and arguments; the machine's fault for I/O and the compute backend.
    pub fn exit_status(&self) -> crate::exit::ExitStatus {
        match self {
            EngineError::Io { .. } | EngineError::Compute(_) => crate::exit::ExitStatus::Infra,
            _ => crate::exit::ExitStatus::BadInput,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EngineError {
        let path = path.into();
        move |source| EngineError::Io { path, source }
    }
}
