//! The training oracle for qlora-train: the engine replays the probe's MLP-only LoRA training step for step.
//!
//! The probe trains rank-r LoRA adapters (f32) on every `mlp.fc` and `mlp.proj` of a language model without
//! attention, over the tiny checkpoint's NF4 base: `wte`, then per block `x + proj(gelu(fc(norm_2(x))))`, then
//! `lm_head(ln_f(x))`, each adapted layer computing `linear(x) + (x @ A^T @ B^T) * alpha / r`, and GELU being
//! PyTorch's default `F.gelu` (the exact, erf form). It exports `qlora-train.replay.json` in the layout of
//! [`Replay`], LoRA parameters named `transformer.h.N.mlp.{fc,proj}.lora_{A,B}`. The engine builds the same model
//! from [`Gpt`]'s layers on its own NF4 base, starts from the probe's adapters, runs the same AdamW steps on the
//! same batch, and compares the loss at step 0 and at every step, and the LoRA update (trained − initial), as
//! [`super::replay`] does.
//!
//! Tolerances come from float noise measured on real runs on CPU (lightning 2.3.0.dev20240428, 2.4.0 and 2.6.6 with
//! bitsandbytes 0.49.2; lightning 2.4.0 with bitsandbytes 0.46.0, 0.47.0, 0.48.2 on torch 2.3.0 and 0.50.2 on torch
//! 2.4.1): the probe computes in bfloat16 (f32 adapters), the engine in float32. See the constants.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer};

use super::check::relative_diff;
use super::evidence::ProbeOutput;
use super::replay::{
    Deviation, Replay, Replayed, check_training, deviated_model, matrix, rows, train_steps,
};
use crate::EngineError;
use crate::linear4bit::FrozenLinear;
use crate::lora::LoraAdapter;
use crate::model::Gpt;
use crate::train::CheckpointDir;

pub const REPLAY_FILE: &str = "qlora-train.replay.json";

/// Step 0 is the base model's forward alone (every B is zero), before AdamW can amplify float noise. Measured: the
/// relative difference between the bf16 probe and the f32 replay was 9.7e-6 to 4.7e-5 over six stacks; the
/// tolerance is about 6x the largest. Skipping quantization moves it by 1.5e-3, a uniform codebook by 1.0e-2.
pub const INITIAL_LOSS_RELATIVE_TOLERANCE: f64 = 3e-4;
/// Measured: the largest per-step relative loss difference was 6.7e-4 to 9.5e-4 over six stacks, always at the last
/// of 8 steps (steps 0-3 stay under 1e-4; AdamW turns near-zero gradients of either sign into full-size steps); the
/// tolerance is about 3x the largest. A LoRA gradient scaled by 1e-4 gives 1.8e-2, a learning rate x10 9.5e-2, a
/// zeroed gradient 0.25. Skipping quantization gives only 1.5e-3 (step 0): step 0 has its own, tighter check.
pub const LOSS_RELATIVE_TOLERANCE: f64 = 3e-3;
/// Measured: the relative L2 difference of the LoRA updates was 0.087 to 0.096 over six stacks; the tolerance is
/// about 2.6x the largest. Skipping quantization gives 0.38, a uniform codebook 0.52, a zeroed gradient 1.0, a
/// learning rate x10 4.2.
pub const UPDATE_RELATIVE_TOLERANCE: f64 = 0.25;

/// One block's adapted MLP: the frozen layers with the probe's adapters on `mlp.fc` and `mlp.proj`.
struct AdaptedBlock {
    fc: LoraAdapter,
    proj: LoraAdapter,
}

/// `linear(x) + lora.delta(x)` for `x` of shape `(batch, time, in)` (`linear(x)` without an adapter).
fn adapted(
    linear: &FrozenLinear,
    lora: Option<&LoraAdapter>,
    x: &Tensor,
) -> candle_core::Result<Tensor> {
    let Some(lora) = lora else {
        return linear.forward(x);
    };
    let (batch, time, features) = x.dims3()?;
    let delta = lora
        .delta(&x.reshape((batch * time, features))?)?
        .reshape((batch, time, ()))?;
    linear.forward(x)? + delta
}

/// The probe's MLP-only forward: logits `(batch, time, vocab)`. `blocks` holds each layer's adapters; empty, it is
/// the base model (what every adapter computes at step 0, B being zero).
fn forward(model: &Gpt, blocks: &[AdaptedBlock], tokens: &Tensor) -> Result<Tensor, EngineError> {
    let mut x = model.embed(tokens)?;
    for (layer, (norm_2, fc, proj)) in model.mlp_layers().enumerate() {
        let norm_2 = norm_2.ok_or_else(|| EngineError::InvalidTrainingData {
            path: REPLAY_FILE.into(),
            reason: "the checkpoint has no norm_2 (shared_attention_norm)".into(),
        })?;
        let lora = blocks.get(layer);
        let hidden = adapted(fc, lora.map(|l| &l.fc), &norm_2.forward(&x)?)?.gelu_erf()?;
        x = (&x + adapted(proj, lora.map(|l| &l.proj), &hidden)?)?;
    }
    Ok(model.head(&x)?)
}

/// Mean next-token cross-entropy of `logits` `(batch, time, vocab)` against `targets` `(batch * time,)`.
fn cross_entropy(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let vocab = logits.dim(2)?;
    candle_nn::loss::cross_entropy(&logits.reshape(((), vocab))?, targets)
}

/// The builtin row's metrics: the loss before the first step.
pub fn reference_metrics(checkpoint: &CheckpointDir) -> Result<serde_json::Value, EngineError> {
    Ok(serde_json::json!({ "initial_loss": initial_loss(checkpoint)? }))
}

/// The loss before the first step on the engine's NF4 base, whatever the adapters' A (the builtin row's metric).
pub fn initial_loss(checkpoint: &CheckpointDir) -> Result<f64, EngineError> {
    let model = deviated_model(checkpoint, Deviation::default(), None)?;
    let batch = &checkpoint.batch;
    let logits = forward(&model, &[], &batch.inputs)?;
    let loss = cross_entropy(&logits, &batch.targets.flatten_all()?)?;
    Ok(f64::from(loss.to_scalar::<f32>()?))
}

/// The adapter named `module` (`transformer.h.N.mlp.fc`) from the probe's initial parameters.
fn adapter(run: &Replay, module: &str) -> Result<LoraAdapter, EngineError> {
    let parameter = |suffix: &str| {
        run.init.get(&format!("{module}.{suffix}")).ok_or_else(|| {
            EngineError::InvalidTrainingData {
                path: REPLAY_FILE.into(),
                reason: format!("no {module}.{suffix}"),
            }
        })
    };
    Ok(LoraAdapter {
        a: Var::from_tensor(&matrix(parameter("lora_A")?)?)?,
        b: Var::from_tensor(&matrix(parameter("lora_B")?)?)?,
        scaling: run.lora_alpha / run.lora_r as f64,
    })
}

fn module(layer: usize, part: &str) -> String {
    format!("transformer.h.{layer}.mlp.{part}")
}

/// Replays the probe's run on the engine (with `deviation`, for the mutation tests).
pub fn replay(
    checkpoint: &CheckpointDir,
    run: &Replay,
    deviation: Deviation,
) -> Result<Replayed, EngineError> {
    let model = deviated_model(checkpoint, deviation, None)?;
    let blocks = (0..checkpoint.config.n_layer)
        .map(|layer| {
            Ok(AdaptedBlock {
                fc: adapter(run, &module(layer, "fc"))?,
                proj: adapter(run, &module(layer, "proj"))?,
            })
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    let vars: Vec<Var> = blocks
        .iter()
        .flat_map(|block| block.fc.vars().into_iter().chain(block.proj.vars()))
        .collect();
    let mut optimizer = AdamW::new(vars, run.optimizer.adamw(deviation))?;
    let inputs = Tensor::new(run.inputs.clone(), &Device::Cpu)?;
    let targets = Tensor::new(run.targets.clone(), &Device::Cpu)?.flatten_all()?;
    let loss = train_steps(run.optimizer.steps, &mut optimizer, deviation, || {
        Ok(cross_entropy(
            &forward(&model, &blocks, &inputs)?,
            &targets,
        )?)
    })?;
    let mut trained = BTreeMap::new();
    for (layer, block) in blocks.iter().enumerate() {
        for (part, lora) in [("fc", &block.fc), ("proj", &block.proj)] {
            let name = module(layer, part);
            trained.insert(format!("{name}.lora_A"), rows(lora.a.as_tensor())?);
            trained.insert(format!("{name}.lora_B"), rows(lora.b.as_tensor())?);
        }
    }
    Ok(Replayed { loss, trained })
}

/// The oracle's checks of a qlora-train probe that passed.
pub fn compare(checkpoint: &CheckpointDir, output: &mut ProbeOutput) -> Result<(), EngineError> {
    let Some(run) = output.json_as::<Replay>(REPLAY_FILE, "a replay (see engine::mlp_replay)")
    else {
        return Ok(());
    };
    let engine = replay(checkpoint, &run, Deviation::default())?;
    let initial = match (run.loss.first(), engine.loss.first()) {
        (Some(&probe), Some(&ours)) => relative_diff(probe, ours),
        _ => f64::MAX,
    };
    output.check(
        "initial_loss_rel_diff",
        initial,
        INITIAL_LOSS_RELATIVE_TOLERANCE,
    );
    check_training(
        output,
        &run,
        &engine,
        LOSS_RELATIVE_TOLERANCE,
        UPDATE_RELATIVE_TOLERANCE,
    );
    Ok(())
}
