//! The training oracle: the engine replays a probe's LoRA training step for step and compares what it sees.
//!
//! The litgpt-qlora probe exports (`litgpt-qlora.replay.json`) LoRA's rank and alpha, its initial and trained
//! parameters by LitGPT name, the batch, the optimizer's hyper-parameters and the loss before every step. The engine
//! builds the same model on its own NF4 base, loads the probe's initial LoRA parameters, runs the same AdamW steps on
//! the same batch, and compares the loss at every step and the LoRA update (trained − initial). Unlike step 0's loss
//! (LoRA B is zero there), this sees the LoRA path, its gradient, the learning rate and the quantized base.
//!
//! Tolerances come from float noise measured on real runs (litgpt 0.4.0, bitsandbytes 0.49.2, torch 2.3.0, CPU):
//! the probe computes in bfloat16 with bfloat16 LoRA parameters, the engine in float32. See the constants.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

use super::evidence::ProbeOutput;
use crate::EngineError;
use crate::model::{BaseWeights, Gpt, LoraConfig};
use crate::nf4::DEFAULT_BLOCKSIZE;
use crate::state_dict::Params4bit;
use crate::train::{self, CheckpointDir, TrainingBatch};

pub const REPLAY_FILE: &str = "litgpt-qlora.replay.json";

/// Measured: the largest per-step relative loss difference between the bf16 probe and the f32 replay was 9.2e-5
/// (6 steps); the tolerance is about 3x that. Skipping quantization alone moves the curve by 1.4e-3.
pub const LOSS_RELATIVE_TOLERANCE: f64 = 3e-4;
/// Measured: the relative L2 difference of the LoRA updates was 0.094 (bf16 parameters round every AdamW step, and
/// near-zero gradients take either sign); the tolerance is about 2.7x that. A zeroed gradient gives 1.0.
pub const UPDATE_RELATIVE_TOLERANCE: f64 = 0.25;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hyper {
    pub lr: f64,
    pub betas: [f64; 2],
    pub eps: f64,
    pub weight_decay: f64,
    pub steps: usize,
}

impl Hyper {
    /// candle's AdamW with these hyper-parameters (the learning rate scaled as `deviation` asks).
    pub(super) fn adamw(&self, deviation: Deviation) -> ParamsAdamW {
        ParamsAdamW {
            lr: self.lr * deviation.lr_factor.unwrap_or(1.0),
            beta1: self.betas[0],
            beta2: self.betas[1],
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }
}

/// `litgpt-qlora.replay.json` (and `qlora-train.replay.json`, see `oracle::mlp_replay`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replay {
    pub lora_r: usize,
    pub lora_alpha: f64,
    pub optimizer: Hyper,
    pub loss: Vec<f64>,
    pub inputs: Vec<Vec<u32>>,
    pub targets: Vec<Vec<u32>>,
    pub init: BTreeMap<String, Vec<Vec<f32>>>,
    #[serde(rename = "final")]
    pub trained: BTreeMap<String, Vec<Vec<f32>>>,
}

/// What a replay produced: the loss before every step and the trained LoRA parameters by LitGPT name.
pub struct Replayed {
    pub loss: Vec<f64>,
    pub trained: BTreeMap<String, Vec<Vec<f32>>>,
}

/// How to deviate from a faithful replay (the mutation tests' stand-ins for a broken stack).
#[derive(Debug, Clone, Copy, Default)]
pub struct Deviation {
    pub base: Option<BaseWeights>,
    pub lr_factor: Option<f64>,
    /// Multiplies the LoRA gradient (0 = zeroed); applied by scaling the loss whose gradient AdamW takes.
    pub gradient_factor: Option<f64>,
    /// Decode the NF4 base with this codebook instead of NF4's.
    pub codebook: Option<[f32; 16]>,
}

impl Deviation {
    /// The broken stacks the mutation tests replay (each must turn a real run's pass into a numeric failure): the
    /// LoRA gradient zeroed or scaled by 1e-4, the learning rate x10 or x0.1, quantization skipped, and a uniform
    /// 4-bit codebook instead of NF4.
    pub fn mutations() -> [(&'static str, Deviation); 6] {
        let uniform: [f32; 16] = std::array::from_fn(|i| -1.0 + 2.0 * i as f32 / 15.0);
        [
            (
                "LoRA gradient zeroed",
                Deviation {
                    gradient_factor: Some(0.0),
                    ..Deviation::default()
                },
            ),
            (
                "LoRA gradient scaled by 1e-4",
                Deviation {
                    gradient_factor: Some(1e-4),
                    ..Deviation::default()
                },
            ),
            (
                "learning rate x10",
                Deviation {
                    lr_factor: Some(10.0),
                    ..Deviation::default()
                },
            ),
            (
                "learning rate x0.1",
                Deviation {
                    lr_factor: Some(0.1),
                    ..Deviation::default()
                },
            ),
            (
                "quantization skipped",
                Deviation {
                    base: Some(BaseWeights::Dense),
                    ..Deviation::default()
                },
            ),
            (
                "uniform 4-bit codebook instead of NF4",
                Deviation {
                    codebook: Some(uniform),
                    ..Deviation::default()
                },
            ),
        ]
    }
}

pub(super) fn matrix(rows: &[Vec<f32>]) -> Result<Tensor, EngineError> {
    let cols = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Ok(Tensor::from_vec(flat, (rows.len(), cols), &Device::Cpu)?)
}

pub(super) fn rows(tensor: &Tensor) -> Result<Vec<Vec<f32>>, EngineError> {
    Ok(tensor.to_vec2::<f32>()?)
}

/// The fused-QKV LoRA parameters of layer `layer` as LitGPT names them (`attn.attn` up to 0.4, `attn.qkv` after).
fn litgpt_names(replay: &Replay, layer: usize) -> Option<(String, String)> {
    ["attn.attn", "attn.qkv"].iter().find_map(|part| {
        let a = format!("transformer.h.{layer}.{part}.lora_A");
        let b = format!("transformer.h.{layer}.{part}.lora_B");
        (replay.init.contains_key(&a) && replay.init.contains_key(&b)).then_some((a, b))
    })
}

/// The model on an NF4 base whose codes are decoded with `codebook` (absmax kept): a stack with the wrong table.
fn model_with_codebook(
    checkpoint: &CheckpointDir,
    lora: Option<LoraConfig>,
    codebook: &[f32; 16],
) -> Result<Gpt, EngineError> {
    let mut tensors = checkpoint.tensors.clone();
    for name in crate::model::linear_weight_names(&checkpoint.config) {
        let original = &checkpoint.tensors[&name];
        let params = Params4bit::quantize(&name, original, DEFAULT_BLOCKSIZE, false)?;
        let absmax = params.absmax_values();
        let values: Vec<f32> = params
            .codes()
            .iter()
            .enumerate()
            .map(|(i, &code)| codebook[usize::from(code)] * absmax[i / DEFAULT_BLOCKSIZE])
            .collect();
        tensors.insert(
            name,
            Tensor::from_vec(values, original.dims(), &Device::Cpu)?,
        );
    }
    let c = checkpoint.config.clone();
    Gpt::from_tensors(
        c,
        &tensors,
        &checkpoint.weights_path,
        BaseWeights::Dense,
        lora,
    )
}

/// Takes `steps` optimizer steps on the loss `loss_of` computes (its gradient scaled as `deviation` asks); returns
/// each step's loss before its update. Both replays train this way.
pub(super) fn train_steps(
    steps: usize,
    optimizer: &mut AdamW,
    deviation: Deviation,
    mut loss_of: impl FnMut() -> Result<Tensor, EngineError>,
) -> Result<Vec<f64>, EngineError> {
    let mut loss = Vec::with_capacity(steps);
    for _ in 0..steps {
        let value = loss_of()?;
        loss.push(f64::from(value.to_scalar::<f32>()?));
        let objective = match deviation.gradient_factor {
            Some(factor) => (value * factor)?,
            None => value,
        };
        optimizer.backward_step(&objective)?;
    }
    Ok(loss)
}

/// The engine's model for a replay: on its own NF4 base, or on the base `deviation` asks for.
pub(super) fn deviated_model(
    checkpoint: &CheckpointDir,
    deviation: Deviation,
    lora: Option<LoraConfig>,
) -> Result<Gpt, EngineError> {
    let base = deviation.base.unwrap_or(BaseWeights::PLUGIN_NF4);
    match deviation.codebook {
        Some(codebook) => model_with_codebook(checkpoint, lora, &codebook),
        None => checkpoint.model(base, lora),
    }
}

/// Replays the probe's run on the engine (with `deviation`, for the mutation tests).
pub fn replay(
    checkpoint: &CheckpointDir,
    run: &Replay,
    deviation: Deviation,
) -> Result<Replayed, EngineError> {
    let c = &checkpoint.config;
    let lora = LoraConfig {
        rank: run.lora_r,
        alpha: run.lora_alpha,
        seed: 0,
    };
    let model = deviated_model(checkpoint, deviation, Some(lora))?;
    // lora_vars: per layer query A, query B, value A, value B. LitGPT stacks [A_q; A_v] and [B_q; B_v].
    let vars = model.lora_vars();
    let (r, q_out) = (run.lora_r, c.n_head * c.head_size);
    let mut names = Vec::new();
    for layer in 0..c.n_layer {
        let Some((a_name, b_name)) = litgpt_names(run, layer) else {
            return Err(EngineError::InvalidTrainingData {
                path: REPLAY_FILE.into(),
                reason: format!("no LoRA parameters for layer {layer}"),
            });
        };
        let (a, b) = (matrix(&run.init[&a_name])?, matrix(&run.init[&b_name])?);
        let v = &vars[layer * 4..layer * 4 + 4];
        v[0].set(&a.narrow(0, 0, r)?)?;
        v[1].set(&b.narrow(0, 0, q_out)?)?;
        v[2].set(&a.narrow(0, r, r)?)?;
        v[3].set(&b.narrow(0, q_out, b.dim(0)? - q_out)?)?;
        names.push((a_name, b_name));
    }
    let h = &run.optimizer;
    let mut optimizer = AdamW::new(vars.clone(), h.adamw(deviation))?;
    let batch = TrainingBatch {
        inputs: Tensor::new(run.inputs.clone(), &Device::Cpu)?,
        targets: Tensor::new(run.targets.clone(), &Device::Cpu)?,
    };
    let loss = train_steps(h.steps, &mut optimizer, deviation, || {
        Ok(train::loss(&model, &batch)?)
    })?;
    let mut trained = BTreeMap::new();
    for (layer, (a_name, b_name)) in names.into_iter().enumerate() {
        let v = &vars[layer * 4..layer * 4 + 4];
        trained.insert(
            a_name,
            rows(&Tensor::cat(&[v[0].as_tensor(), v[2].as_tensor()], 0)?)?,
        );
        trained.insert(
            b_name,
            rows(&Tensor::cat(&[v[1].as_tensor(), v[3].as_tensor()], 0)?)?,
        );
    }
    Ok(Replayed { loss, trained })
}

/// Largest relative difference of the probe's loss from the replay's, over every step.
pub fn loss_difference(probe: &[f64], engine: &[f64]) -> f64 {
    if probe.len() != engine.len() {
        return f64::MAX;
    }
    probe
        .iter()
        .zip(engine)
        .map(|(p, e)| (p - e).abs() / e.abs().max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}

/// ‖probe update − engine update‖₂ / ‖engine update‖₂ over all LoRA parameters, updates being trained − initial.
/// A norm, not a maximum: AdamW moves every parameter by about the learning rate whatever its gradient's size, so
/// the few parameters whose gradient is near zero take either sign under float noise; they must not decide.
pub fn update_difference(
    run: &Replay,
    probe_trained: &BTreeMap<String, Vec<Vec<f32>>>,
    engine: &Replayed,
) -> f64 {
    let (mut difference, mut scale) = (0f64, 0f64);
    for (name, init) in &run.init {
        let (Some(probe), Some(ours)) = (probe_trained.get(name), engine.trained.get(name)) else {
            return f64::MAX;
        };
        let values = init
            .iter()
            .flatten()
            .zip(probe.iter().flatten())
            .zip(ours.iter().flatten());
        for ((i, p), o) in values {
            let (probe_update, engine_update) = (f64::from(p - i), f64::from(o - i));
            difference += (probe_update - engine_update).powi(2);
            scale += engine_update.powi(2);
        }
    }
    (difference / scale.max(f64::MIN_POSITIVE)).sqrt()
}

/// The two checks of a replayed training run: the loss at every step, and the LoRA update, within the tolerances.
pub fn check_training(
    output: &mut ProbeOutput,
    run: &Replay,
    engine: &Replayed,
    loss_tolerance: f64,
    update_tolerance: f64,
) {
    output.check(
        "training_loss_max_rel_diff",
        loss_difference(&run.loss, &engine.loss),
        loss_tolerance,
    );
    output.check(
        "lora_update_rel_diff",
        update_difference(run, &run.trained, engine),
        update_tolerance,
    );
}
