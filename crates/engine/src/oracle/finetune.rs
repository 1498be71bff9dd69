//! The checks of LitGPT's own finetune command (the `litgpt-finetune` and `litgpt-finetune-config` probes): its NF4
//! codes against the engine's, and its loss at step 0 against the engine's loss on the same batch over the engine's
//! own NF4 base.
//!
//! At step 0 LoRA's B is zero, so the command's first loss is the quantized base model's: a different base (skipped or
//! wrong quantization, a layer the command swaps in) moves it. Training itself is checked step by step by the replay
//! of litgpt-qlora (`oracle::replay`); the command does not expose its steps to replay.

use candle_core::{Device, Tensor};
use serde::Deserialize;

use super::check::relative_diff;
use super::evidence::ProbeOutput;
use super::plugin_nf4::{PLUGIN_INPUT_DTYPE, check_nf4_codes, quantize_linear_weights};
use crate::EngineError;
use crate::model::BaseWeights;
use crate::nf4::DEFAULT_BLOCKSIZE;
use crate::train::{self, CheckpointDir, TrainingBatch};

/// Measured (litgpt 0.5.5, bitsandbytes 0.50.2, torch 2.5.1, CPU): the command's bfloat16 step-0 loss was 6.9e-6
/// from the engine's float32 one; about 15x that. The engine's unquantized base moves it by 2.7e-4, and bitsandbytes'
/// CPU NF4 table cached in bfloat16 (a real run, tests/fixtures/) by 4.0e-4.
pub const STEP0_LOSS_RELATIVE_TOLERANCE: f64 = 1e-4;

/// `<probe>.step0.json`: the first training batch as the model saw it (inputs, and the targets the loss used, shifted
/// by one) and the loss the command computed on it.
#[derive(Debug, Clone, Deserialize)]
pub struct Step0 {
    pub inputs: Vec<Vec<u32>>,
    pub targets: Vec<Vec<i64>>,
    pub loss: f64,
}

/// The engine's loss on `step0`'s batch over its NF4 base (LoRA's B is zero at step 0, so no LoRA is needed).
pub fn step0_loss(checkpoint: &CheckpointDir, step0: &Step0) -> Result<f64, EngineError> {
    let invalid = |reason: String| EngineError::InvalidTrainingData {
        path: "step0.json".into(),
        reason,
    };
    let targets: Vec<Vec<u32>> = step0
        .targets
        .iter()
        .map(|row| row.iter().map(|&t| u32::try_from(t)).collect())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            invalid("masked (negative) targets: the probe trains on unmasked samples".into())
        })?;
    let model = checkpoint.model(BaseWeights::PLUGIN_NF4, None)?;
    let batch = TrainingBatch {
        inputs: Tensor::new(step0.inputs.clone(), &Device::Cpu)?,
        targets: Tensor::new(targets, &Device::Cpu)?,
    };
    Ok(f64::from(train::loss(&model, &batch)?.to_scalar::<f32>()?))
}

/// The checks of a finetune probe that passed; its artifacts' names begin with `prefix` (the probe's name).
pub fn compare(
    prefix: &str,
    checkpoint: &CheckpointDir,
    output: &mut ProbeOutput,
) -> Result<(), EngineError> {
    let plain = quantize_linear_weights(checkpoint, PLUGIN_INPUT_DTYPE, DEFAULT_BLOCKSIZE, false)?;
    check_nf4_codes(&plain, &format!("{prefix}.nf4.pth"), output)?;
    let step0: Option<Step0> = output.json_as(
        &format!("{prefix}.step0.json"),
        "a step-0 batch ({inputs, targets, loss})",
    );
    if let Some(step0) = step0 {
        let engine = step0_loss(checkpoint, &step0)?;
        output.check(
            "step0_loss_rel_diff",
            relative_diff(step0.loss, engine),
            STEP0_LOSS_RELATIVE_TOLERANCE,
        );
    }
    Ok(())
}
