//! The engine as the `builtin` reference row: its own metrics for the probes it implements, and numeric checks
//! of an external cell's metrics and artifacts against them.
//!
//! `fixtures` is the directory holding `tiny-gpt/` (the repository's `fixtures/checkpoints`).

pub mod evidence;
pub mod finetune;
pub mod generate;
pub mod kernels;
pub mod mlp_replay;
pub mod replay;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use self::evidence::ProbeOutput;
use crate::EngineError;
use crate::model::{BaseWeights, LoraConfig, linear_weight_names};
use crate::nf4::DEFAULT_BLOCKSIZE;
use crate::state_dict::Params4bit;
use crate::train::{self, CheckpointDir, TrainOptions};

pub const CHECKPOINT_LOAD: &str = "checkpoint-load";
pub const LITGPT_QLORA: &str = "litgpt-qlora";
pub const LITGPT_GENERATE: &str = "litgpt-generate";
pub const BNB_KERNELS: &str = "bnb-kernels";
pub const BNB_KERNELS_ODD: &str = "bnb-kernels-odd";
pub const LITGPT_FINETUNE: &str = "litgpt-finetune";
pub const LITGPT_FINETUNE_CONFIG: &str = "litgpt-finetune-config";
pub const QLORA_TRAIN: &str = "qlora-train";
/// The probes the engine has a counterpart for (checks, and for some a reference row entry).
pub const IMPLEMENTED: [&str; 8] = [
    CHECKPOINT_LOAD,
    LITGPT_QLORA,
    LITGPT_GENERATE,
    BNB_KERNELS,
    BNB_KERNELS_ODD,
    LITGPT_FINETUNE,
    LITGPT_FINETUNE_CONFIG,
    QLORA_TRAIN,
];

/// The litgpt-qlora probe's schedule (6 AdamW steps, lr 1e-2, LoRA r=8, alpha=16), mirrored so curves line up.
const QLORA_STEPS: usize = 6;
const QLORA_LEARNING_RATE: f64 = 1e-2;

/// The probes that quantize through Lightning's plugin get weights cast to float16 first.
pub(super) const PLUGIN_INPUT_DTYPE: DType = DType::F16;

/// Codes may differ only where bitsandbytes' CPU backend breaks an exact f32 tie differently from the CUDA tree.
/// On the fixture's ~54k code bytes that is a handful at most: 1e-4 allows five bytes and catches any real bug
/// (a wrong threshold or nibble order changes thousands).
const CODE_BYTES_DIFFERING_TOLERANCE: f64 = 1e-4;
/// absmax is a max of exactly representable values: every correct implementation gets it bit for bit.
const ABSMAX_TOLERANCE: f64 = 0.0;
/// Same codes and absmax give the same dequantized values, so the probe's max error should match to rounding.
const MAX_ABS_ERR_RELATIVE_TOLERANCE: f64 = 1e-3;
/// Double quantization's mean and 8-bit codes differ between implementations (bitsandbytes 0.47 vs 0.49 already
/// differ by 0.3% here); 2% still catches a missing or broken second quantization.
const MAX_ABS_ERR_DQ_RELATIVE_TOLERANCE: f64 = 0.02;
/// Forward parity of unquantized f32 logits (the bound).
const LOGITS_TOLERANCE: f64 = 1e-4;

/// One numeric comparison with the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericCheck {
    pub name: String,
    pub value: f64,
    pub tolerance: f64,
    pub ok: bool,
}

/// How the name of a check that could not be made begins (and, after `numeric: `, its signature).
const NO_ARTIFACT: &str = "no artifact";

impl NumericCheck {
    pub fn new(name: &str, value: f64, tolerance: f64) -> Self {
        NumericCheck {
            name: name.to_string(),
            value,
            tolerance,
            ok: value <= tolerance,
        }
    }

    /// A check that could not be made because `what` (an artifact file, `metric NAME`) is missing or unreadable:
    /// one thing missing (value 1, tolerance 0), never ok. Finite, so the JSON report keeps the number.
    pub fn no_artifact(what: &str, why: &str) -> Self {
        NumericCheck {
            name: format!("{NO_ARTIFACT} {what} ({why})"),
            value: 1.0,
            tolerance: 0.0,
            ok: false,
        }
    }

    /// The signature of a probe this failing check turns into a `fail`.
    pub fn signature(&self) -> String {
        if self.name.starts_with(NO_ARTIFACT) {
            format!("numeric: {}", self.name)
        } else {
            format!(
                "numeric: {} beyond tolerance {} of the built-in reference",
                self.name, self.tolerance
            )
        }
    }
}

/// The fixture checkpoint the probes load: `fixtures/tiny-gpt/`. Load it once and pass it to
/// [`reference_metrics`] and [`compare`] (a matrix run compares every cell against the same one).
pub fn fixture_checkpoint(fixtures: &Path) -> Result<CheckpointDir, EngineError> {
    CheckpointDir::load(&fixtures.join("tiny-gpt"))
}

/// The engine's NF4 state for every linear weight of the checkpoint (the embedding is not a Linear and is skipped),
/// quantized from the weights cast to `dtype`.
pub(super) fn quantize_linear_weights(
    checkpoint: &CheckpointDir,
    dtype: DType,
    blocksize: usize,
    double_quant: bool,
) -> Result<Vec<(String, Params4bit, Tensor)>, EngineError> {
    linear_weight_names(&checkpoint.config)
        .into_iter()
        .map(|name| {
            let original =
                checkpoint
                    .tensors
                    .get(&name)
                    .ok_or_else(|| EngineError::MissingTensor {
                        tensor: name.clone(),
                        path: checkpoint.weights_path.clone(),
                    })?;
            let params =
                Params4bit::quantize(&name, &original.to_dtype(dtype)?, blocksize, double_quant)?;
            Ok((name, params, original.to_dtype(DType::F32)?))
        })
        .collect()
}

/// Largest |dequantized - original| over the weights, as the checkpoint-load probe measures it.
fn max_abs_err(weights: &[(String, Params4bit, Tensor)]) -> Result<f64, EngineError> {
    let mut worst = 0f64;
    for (_, params, original) in weights {
        let restored = params
            .dequantize(&candle_core::Device::Cpu)?
            .to_dtype(DType::F32)?;
        let err = (restored - original)?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_scalar::<f32>()?;
        worst = worst.max(f64::from(err));
    }
    Ok(worst)
}

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

/// The builtin row's metrics, keyed by probe name.
pub fn reference_metrics(
    checkpoint: &CheckpointDir,
) -> Result<BTreeMap<String, Value>, EngineError> {
    let plain = quantize_linear_weights(checkpoint, PLUGIN_INPUT_DTYPE, DEFAULT_BLOCKSIZE, false)?;
    let nested = quantize_linear_weights(checkpoint, PLUGIN_INPUT_DTYPE, DEFAULT_BLOCKSIZE, true)?;
    let mut metrics = BTreeMap::new();
    metrics.insert(
        CHECKPOINT_LOAD.to_string(),
        json!({
            "max_abs_err": max_abs_err(&plain)?,
            "max_abs_err_dq": max_abs_err(&nested)?,
            "quantized_weights": plain.len(),
        }),
    );
    let curve = train::train(checkpoint, &qlora_options())?;
    let dense = checkpoint.model(BaseWeights::Dense, None)?;
    let ref_loss = train::loss(&dense, &checkpoint.batch)?.to_scalar::<f32>()?;
    metrics.insert(
        LITGPT_QLORA.to_string(),
        json!({ "loss": curve[..QLORA_STEPS], "ref_loss_f32": ref_loss }),
    );
    metrics.insert(
        QLORA_TRAIN.to_string(),
        json!({ "initial_loss": self::mlp_replay::initial_loss(checkpoint)? }),
    );
    Ok(metrics)
}

/// Numeric checks of a passing probe's metrics and artifacts against the engine; empty for probes it does not
/// implement. Never skips silently: a missing or unreadable metric or artifact, or an error while checking it, is a
/// failing `no artifact …` check.
pub fn compare(
    probe: &str,
    checkpoint: &CheckpointDir,
    artifacts: &Path,
    metrics: &Value,
) -> Vec<NumericCheck> {
    let mut output = ProbeOutput::new(artifacts, metrics);
    let compared = match probe {
        CHECKPOINT_LOAD => compare_checkpoint_load(checkpoint, &mut output),
        LITGPT_QLORA => compare_litgpt_qlora(checkpoint, &mut output),
        QLORA_TRAIN => self::mlp_replay::compare(checkpoint, &mut output),
        LITGPT_GENERATE => self::generate::compare(checkpoint, &mut output),
        BNB_KERNELS | BNB_KERNELS_ODD => self::kernels::compare(probe, &mut output),
        LITGPT_FINETUNE | LITGPT_FINETUNE_CONFIG => {
            self::finetune::compare(probe, checkpoint, &mut output)
        }
        _ => Ok(()),
    };
    if let Err(error) = compared {
        output.unchecked(&error);
    }
    output.checks
}

pub(super) fn relative_diff(probe: f64, engine: f64) -> f64 {
    (probe - engine).abs() / engine.abs().max(f64::MIN_POSITIVE)
}

/// The probe's packed NF4 codes and absmax per weight against the engine's: (weights unmatched, fraction of code
/// bytes differing, largest absmax difference).
fn nf4_agreement(
    plain: &[(String, Params4bit, Tensor)],
    probe: &HashMap<String, Tensor>,
) -> Result<(usize, f64, f64), EngineError> {
    let (mut differing, mut total, mut missing, mut absmax_diff) = (0usize, 0usize, 0usize, 0f64);
    for (name, params, _) in plain {
        let (Some(codes), Some(absmax)) = (probe.get(name), probe.get(&format!("{name}.absmax")))
        else {
            missing += 1;
            continue;
        };
        let codes = codes.flatten_all()?.to_dtype(DType::U8)?.to_vec1::<u8>()?;
        let absmax = absmax
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?;
        let engine_absmax = params.absmax_values();
        if codes.len() != params.packed.len() || absmax.len() != engine_absmax.len() {
            missing += 1;
            continue;
        }
        total += codes.len();
        differing += codes
            .iter()
            .zip(&params.packed)
            .filter(|(left, right)| left != right)
            .count();
        for (left, right) in absmax.iter().zip(&engine_absmax) {
            absmax_diff = absmax_diff.max(f64::from((left - right).abs()));
        }
    }
    let extra = probe
        .keys()
        .filter(|key| !key.ends_with(".absmax") && !plain.iter().any(|(name, ..)| name == *key));
    missing += extra.count();
    let fraction = if total == 0 {
        1.0
    } else {
        differing as f64 / total as f64
    };
    Ok((missing, fraction, absmax_diff))
}

/// The probe's NF4 codes and absmax (`file`, a `torch.save`d dict by checkpoint name) against the engine's `plain`.
pub(super) fn check_nf4_codes(
    plain: &[(String, Params4bit, Tensor)],
    file: &str,
    output: &mut ProbeOutput,
) -> Result<(), EngineError> {
    if let Some(probe) = output.pth(file) {
        let (missing, fraction, absmax_diff) = nf4_agreement(plain, &probe)?;
        output.check("nf4_weights_unmatched", missing as f64, 0.0);
        output.check(
            "nf4_code_bytes_differing_fraction",
            fraction,
            CODE_BYTES_DIFFERING_TOLERANCE,
        );
        output.check("nf4_absmax_max_abs_diff", absmax_diff, ABSMAX_TOLERANCE);
    }
    Ok(())
}

fn compare_checkpoint_load(
    checkpoint: &CheckpointDir,
    output: &mut ProbeOutput,
) -> Result<(), EngineError> {
    let info = output
        .json("checkpoint-load.nf4.json")
        .unwrap_or(Value::Null);
    let dtype = match info["input_dtype"].as_str() {
        Some("float32") => DType::F32,
        Some("bfloat16") => DType::BF16,
        _ => PLUGIN_INPUT_DTYPE,
    };
    let blocksize = info["blocksize"]
        .as_u64()
        .map_or(DEFAULT_BLOCKSIZE, |size| size as usize);
    let plain = quantize_linear_weights(checkpoint, dtype, blocksize, false)?;

    check_nf4_codes(&plain, "checkpoint-load.nf4.pth", output)?;
    if let Some(probe_err) = output.number("max_abs_err") {
        let value = relative_diff(probe_err, max_abs_err(&plain)?);
        output.check(
            "max_abs_err_rel_diff",
            value,
            MAX_ABS_ERR_RELATIVE_TOLERANCE,
        );
    }
    if let Some(probe_err) = output.number("max_abs_err_dq") {
        let nested = quantize_linear_weights(checkpoint, dtype, blocksize, true)?;
        let value = relative_diff(probe_err, max_abs_err(&nested)?);
        output.check(
            "max_abs_err_dq_rel_diff",
            value,
            MAX_ABS_ERR_DQ_RELATIVE_TOLERANCE,
        );
    }
    Ok(())
}

fn compare_litgpt_qlora(
    checkpoint: &CheckpointDir,
    output: &mut ProbeOutput,
) -> Result<(), EngineError> {
    self::replay::compare(checkpoint, output)?;
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
