//! Greedy decoding on the engine's NF4 model, the counterpart of the litgpt-generate probe.
//!
//! The probe decodes with `top_k=1` in bfloat16; the engine in float32 without a KV cache (the whole sequence each
//! step: the same logits, for a handful of tokens). Tokens are compared in order. Where they first differ, the
//! difference is forgiven only if the engine itself was torn: its logit for the probe's token is within
//! [`TIE_MARGIN`] of its best. Later tokens are not compared (the two continue from different contexts).

use candle_core::{Device, IndexOp, Tensor};
use serde::Deserialize;

use super::evidence::ProbeOutput;
use crate::EngineError;
use crate::model::{BaseWeights, Gpt};
use crate::train::CheckpointDir;

pub const GENERATE_FILE: &str = "litgpt-generate.json";

/// bfloat16 keeps 8 significant bits: logits of a few units carry ~0.02 of rounding, compounded through two blocks;
/// 0.1 covers that, while a real disagreement (a broken base, a wrong position encoding) moves the winner by more.
const TIE_MARGIN: f32 = 0.1;

#[derive(Debug, Deserialize)]
struct Generated {
    prompt: Vec<u32>,
    tokens: Vec<u32>,
}

/// The engine's greedy continuation of `prompt`: `count` tokens, and each step's logits.
pub fn greedy(
    model: &Gpt,
    prompt: &[u32],
    count: usize,
) -> Result<Vec<(u32, Vec<f32>)>, EngineError> {
    let mut sequence = prompt.to_vec();
    let mut steps = Vec::with_capacity(count);
    for _ in 0..count {
        let input = Tensor::new(sequence.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        let logits = model
            .forward(&input)?
            .i((0, sequence.len() - 1))?
            .to_vec1::<f32>()?;
        let best = logits
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                if v > best.1 { (i, v) } else { best }
            })
            .0 as u32;
        sequence.push(best);
        steps.push((best, logits));
    }
    Ok(steps)
}

/// Tokens the probe produced that the engine's greedy decode contradicts (0 or 1: comparison stops at the first
/// difference).
pub fn unexplained_differences(steps: &[(u32, Vec<f32>)], tokens: &[u32]) -> usize {
    if steps.len() != tokens.len() {
        return 1;
    }
    for ((ours, logits), theirs) in steps.iter().zip(tokens) {
        if ours == theirs {
            continue;
        }
        let theirs_logit = logits
            .get(*theirs as usize)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        // A NaN margin is no tie.
        let torn = logits[*ours as usize] - theirs_logit <= TIE_MARGIN;
        return usize::from(!torn);
    }
    0
}

/// The check of a litgpt-generate probe that passed.
pub fn compare(checkpoint: &CheckpointDir, output: &mut ProbeOutput) -> Result<(), EngineError> {
    let Some(run) = output.json_as::<Generated>(GENERATE_FILE, "{prompt, tokens}") else {
        return Ok(());
    };
    let model = checkpoint.model(BaseWeights::PLUGIN_NF4, None)?;
    let steps = greedy(&model, &run.prompt, run.tokens.len())?;
    output.check(
        "greedy_tokens_contradicted",
        unexplained_differences(&steps, &run.tokens) as f64,
        0.0,
    );
    Ok(())
}
