//! The checks of the checkpoint-load probe (Lightning's plugin quantizing the fixture, nf4 and nf4-dq): its NF4 codes
//! and absmax against the engine's, and its dequantization error against the engine's; and the builtin row's
//! metrics for it.

use candle_core::{DType, Tensor};
use serde_json::{Value, json};

use super::check::relative_diff;
use super::evidence::ProbeOutput;
use super::plugin_nf4::{PLUGIN_INPUT_DTYPE, check_nf4_codes, quantize_linear_weights};
use crate::EngineError;
use crate::nf4::DEFAULT_BLOCKSIZE;
use crate::state_dict::Params4bit;
use crate::train::CheckpointDir;

/// Same codes and absmax give the same dequantized values, so the probe's max error should match to rounding.
const MAX_ABS_ERR_RELATIVE_TOLERANCE: f64 = 1e-3;
/// Double quantization's mean and 8-bit codes differ between implementations (bitsandbytes 0.47 vs 0.49 already
/// differ by 0.3% here); 2% still catches a missing or broken second quantization.
const MAX_ABS_ERR_DQ_RELATIVE_TOLERANCE: f64 = 0.02;

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

/// The builtin row's metrics: the engine's own dequantization errors, nf4 and nf4-dq, and the weights quantized.
pub fn reference_metrics(checkpoint: &CheckpointDir) -> Result<Value, EngineError> {
    let plain = quantize_linear_weights(checkpoint, PLUGIN_INPUT_DTYPE, DEFAULT_BLOCKSIZE, false)?;
    let nested = quantize_linear_weights(checkpoint, PLUGIN_INPUT_DTYPE, DEFAULT_BLOCKSIZE, true)?;
    Ok(json!({
        "max_abs_err": max_abs_err(&plain)?,
        "max_abs_err_dq": max_abs_err(&nested)?,
        "quantized_weights": plain.len(),
    }))
}

/// The checks of a checkpoint-load probe that passed, with the quantization its `checkpoint-load.nf4.json` names.
pub fn compare(checkpoint: &CheckpointDir, output: &mut ProbeOutput) -> Result<(), EngineError> {
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
