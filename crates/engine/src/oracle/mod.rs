//! The engine as the `builtin` reference row: the kinds of check it implements ([`Oracle`]), a probe's evidence
//! (metrics and artifacts) mapped to the checks of its oracle, and the row's own metrics.
//!
//! This module dispatches; each oracle's checks live in a module of their own below it (`checkpoint_load`,
//! `litgpt_qlora` with `replay`, `mlp_replay`, `generate`, `finetune`, `kernels`), and what they share lower still
//! (`check`, `evidence`, `plugin_nf4`). `fixtures` is the directory holding `tiny-gpt/` (the repository's
//! `fixtures/checkpoints`).

pub mod check;
pub mod checkpoint_load;
pub mod evidence;
pub mod finetune;
pub mod generate;
pub mod kernels;
pub mod litgpt_qlora;
pub mod mlp_replay;
pub mod plugin_nf4;
pub mod replay;

use std::path::Path;

use serde_json::Value;

pub use self::check::{CheckKind, NumericCheck};
use self::evidence::ProbeOutput;
use crate::EngineError;
use crate::train::CheckpointDir;

/// A kind of check the engine implements: what it compares a passing probe's evidence with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oracle {
    /// Lightning's plugin quantizing the fixture (`checkpoint-load`): NF4 codes, absmax and dequantization error.
    CheckpointLoad,
    /// LitGPT's QLoRA training replayed step by step, and its f32 logits (`litgpt-qlora`).
    LitgptQloraReplay,
    /// MLP-only LoRA training through the plugin replayed step by step (`qlora-train`).
    QloraTrainReplay,
    /// LitGPT's greedy generation on the NF4 model (`litgpt-generate`).
    Generation,
    /// LitGPT's finetune command (`litgpt-finetune`, `litgpt-finetune-config`): NF4 codes and the step-0 loss. Its
    /// artifacts' names begin with `prefix`, the probe's name.
    FinetuneCommand { prefix: &'static str },
    /// bitsandbytes' NF4 round trips case by case (`bnb-kernels`, `bnb-kernels-odd`). Its artifacts and checks are
    /// named after `prefix`, the probe's name.
    Kernels { prefix: &'static str },
}

/// The fixture checkpoint the probes load: `fixtures/tiny-gpt/`. Load it once and pass it to
/// [`reference_metrics`] and [`compare`] (a matrix run compares every cell against the same one).
pub fn fixture_checkpoint(fixtures: &Path) -> Result<CheckpointDir, EngineError> {
    CheckpointDir::load(&fixtures.join("tiny-gpt"))
}

/// The builtin row's metrics for a probe of `oracle`, where the row has any.
pub fn reference_metrics(
    oracle: Oracle,
    checkpoint: &CheckpointDir,
) -> Result<Option<Value>, EngineError> {
    Ok(match oracle {
        Oracle::CheckpointLoad => Some(checkpoint_load::reference_metrics(checkpoint)?),
        Oracle::LitgptQloraReplay => Some(litgpt_qlora::reference_metrics(checkpoint)?),
        Oracle::QloraTrainReplay => Some(mlp_replay::reference_metrics(checkpoint)?),
        Oracle::Generation | Oracle::FinetuneCommand { .. } | Oracle::Kernels { .. } => None,
    })
}

/// Numeric checks of a passing probe's metrics and artifacts against the engine, as `oracle` makes them. Never
/// skips silently: a missing or unreadable metric or artifact, or an error while checking it, is a failing
/// `no artifact …` check.
pub fn compare(
    oracle: Oracle,
    checkpoint: &CheckpointDir,
    artifacts: &Path,
    metrics: &Value,
) -> Vec<NumericCheck> {
    let mut output = ProbeOutput::new(artifacts, metrics);
    let compared = match oracle {
        Oracle::CheckpointLoad => checkpoint_load::compare(checkpoint, &mut output),
        Oracle::LitgptQloraReplay => litgpt_qlora::compare(checkpoint, &mut output),
        Oracle::QloraTrainReplay => mlp_replay::compare(checkpoint, &mut output),
        Oracle::Generation => generate::compare(checkpoint, &mut output),
        Oracle::FinetuneCommand { prefix } => finetune::compare(prefix, checkpoint, &mut output),
        Oracle::Kernels { prefix } => kernels::compare(prefix, &mut output),
    };
    if let Err(error) = compared {
        output.unchecked(&error);
    }
    output.checks
}
