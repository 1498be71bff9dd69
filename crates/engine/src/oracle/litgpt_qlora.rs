//! The checks of the litgpt-qlora probe (LitGPT's QLoRA training through Lightning's plugin): its training replayed
//! step by step ([`super::replay`]) and its unquantized f32 logits against the engine's; and the builtin row's
//! metrics for it.

use serde_json::{Value, json};

use super::evidence::ProbeOutput;
use super::replay::{
    self, Deviation, LOSS_RELATIVE_TOLERANCE, REPLAY_FILE, Replay, UPDATE_RELATIVE_TOLERANCE,
};
use crate::EngineError;
use crate::model::{BaseWeights, LoraConfig};
use crate::train::{self, CheckpointDir, TrainOptions};

/// The litgpt-qlora probe's schedule (6 AdamW steps, lr 1e-2, LoRA r=8, alpha=16), mirrored so curves line up.
const QLORA_STEPS: usize = 6;
const QLORA_LEARNING_RATE: f64 = 1e-2;
/// Forward parity of unquantized f32 logits (the bound).
const LOGITS_TOLERANCE: f64 = 1e-4;

fn qlora_options() -> TrainOptions {
    TrainOptions {
        steps: QLORA_STEPS,
        base: BaseWeights::PLUGIN_NF4,
        lora: LoraConfig {
            rank: 8,
            alpha: 16.0,
            seed: 0,
        },
        learning_rate: QLORA_LEARNING_RATE,
    }
}

/// The builtin row's metrics: the engine's own loss curve under the probe's schedule, and the dense f32 loss.
pub fn reference_metrics(checkpoint: &CheckpointDir) -> Result<Value, EngineError> {
    let curve = train::train(checkpoint, &qlora_options())?;
    let dense = checkpoint.model(BaseWeights::Dense, None)?;
    let ref_loss = train::loss(&dense, &checkpoint.batch)?.to_scalar::<f32>()?;
    Ok(json!({ "loss": curve[..QLORA_STEPS], "ref_loss_f32": ref_loss }))
}

/// The checks of a litgpt-qlora probe that passed.
pub fn compare(checkpoint: &CheckpointDir, output: &mut ProbeOutput) -> Result<(), EngineError> {
    if let Some(run) = output.json_as::<Replay>(REPLAY_FILE, "a replay (see engine::replay)") {
        let engine = replay::replay(checkpoint, &run, Deviation::default())?;
        replay::check_training(
            output,
            &run,
            &engine,
            LOSS_RELATIVE_TOLERANCE,
            UPDATE_RELATIVE_TOLERANCE,
        );
    }
    let probe_logits: Option<Vec<Vec<f64>>> =
        output.json_as("litgpt-qlora.logits.json", "logits JSON ([time][vocab])");
    if let Some(probe_logits) = probe_logits {
        let engine_logits = first_sequence_logits(checkpoint)?;
        let probe_flat: Vec<f64> = probe_logits.into_iter().flatten().collect();
        let value = if probe_flat.len() == engine_logits.len() {
            probe_flat
                .iter()
                .zip(&engine_logits)
                .map(|(p, e)| (p - f64::from(*e)).abs())
                .fold(0.0, f64::max)
        } else {
            // A shape mismatch fails the check; f64::MAX (unlike infinity) survives JSON.
            f64::MAX
        };
        output.check("logits_max_abs_diff", value, LOGITS_TOLERANCE);
    }
    Ok(())
}

/// Unquantized f32 logits of the first training sequence, flattened `[time][vocab]`.
pub fn first_sequence_logits(checkpoint: &CheckpointDir) -> Result<Vec<f32>, EngineError> {
    let model = checkpoint.model(BaseWeights::Dense, None)?;
    let first = checkpoint.batch.inputs.narrow(0, 0, 1)?;
    Ok(model.forward(&first)?.flatten_all()?.to_vec1::<f32>()?)
}
