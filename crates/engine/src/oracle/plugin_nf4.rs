//! The fixture's linear weights as Lightning's plugin quantizes them, and a probe's NF4 codes and absmax checked
//! against the engine's: what the checkpoint-load and finetune oracles share.

use std::collections::HashMap;

use candle_core::{DType, Tensor};

use super::evidence::ProbeOutput;
use crate::EngineError;
use crate::model::linear_weight_names;
use crate::state_dict::Params4bit;
use crate::train::CheckpointDir;

/// The probes that quantize through Lightning's plugin get weights cast to float16 first.
pub const PLUGIN_INPUT_DTYPE: DType = DType::F16;

/// Codes may differ only where bitsandbytes' CPU backend breaks an exact f32 tie differently from the CUDA tree.
/// On the fixture's ~54k code bytes that is a handful at most: 1e-4 allows five bytes and catches any real bug
/// (a wrong threshold or nibble order changes thousands).
const CODE_BYTES_DIFFERING_TOLERANCE: f64 = 1e-4;
/// absmax is a max of exactly representable values: every correct implementation gets it bit for bit.
const ABSMAX_TOLERANCE: f64 = 0.0;

/// The engine's NF4 state for every linear weight of the checkpoint (the embedding is not a Linear and is skipped),
/// quantized from the weights cast to `dtype`.
pub fn quantize_linear_weights(
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
pub fn check_nf4_codes(
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
