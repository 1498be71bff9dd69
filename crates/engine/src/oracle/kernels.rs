//! Checks of the bnb-kernels probes: each case's bitsandbytes round trip against the engine, byte for byte.
//!
//! Per case the engine quantizes the same input. Codes must be equal except where bitsandbytes' CPU backend breaks
//! an exact tie differently from the CUDA tree the engine follows: a differing code is forgiven only when the scaled
//! value lies within f32 rounding of a tree threshold. absmax must be equal bit for bit (with double quantization,
//! the restored absmax within [`NESTED_ABSMAX_RELATIVE_TOLERANCE`], as the mean's reduction order differs).
//! bitsandbytes' dequantized values must equal the engine's dequantization of bitsandbytes' own codes and absmax,
//! bit for bit. Each check names the first case that broke it, so a signature carries the shape.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use half::{bf16, f16};
use serde_json::Value;

use super::evidence::ProbeOutput;
use crate::EngineError;
use crate::double_quant::{NESTED_BLOCKSIZE, signed_dynamic_map};
use crate::nf4::{self, Nf4Element};
use crate::nf4_code::CUDA_TREE_THRESHOLDS;
use crate::state_dict::Params4bit;

/// How far (in scaled units) from a threshold a code may differ: a few f32 ulps of values below 1.
const TIE_WINDOW: f32 = 1e-6;
/// The nested absmax's offset is a mean whose reduction order differs between implementations; an ulp there can
/// move an 8-bit code by one step of the dynamic map (under 1% of the value); 2% still catches a broken one.
const NESTED_ABSMAX_RELATIVE_TOLERANCE: f64 = 0.02;

/// One case's agreement with the engine.
struct CaseResult {
    codes_differing: usize,
    absmax_diff: f64,
    dequant_diff: f64,
}

/// Worst value of one check over the cases, and the first case over its tolerance.
struct Worst {
    value: f64,
    first_bad: Option<String>,
}

impl Worst {
    fn new() -> Self {
        Worst {
            value: 0.0,
            first_bad: None,
        }
    }

    fn add(&mut self, case: &str, value: f64, tolerance: f64) {
        self.value = self.value.max(value);
        // NaN counts as over the tolerance.
        let within = value <= tolerance;
        if !within && self.first_bad.is_none() {
            self.first_bad = Some(case.to_string());
        }
    }

    fn check(self, output: &mut ProbeOutput, name: &str, tolerance: f64) {
        let name = match self.first_bad {
            Some(case) => format!("{name} (first at {case})"),
            None => name.to_string(),
        };
        output.check(&name, self.value, tolerance);
    }
}

/// The checks of a bnb-kernels probe that passed; its artifacts and checks are named after `prefix` (the probe's name).
pub fn compare(prefix: &str, output: &mut ProbeOutput) -> Result<(), EngineError> {
    let (Some(info), Some(tensors)) = (
        output.json(&format!("{prefix}.json")),
        output.pth(&format!("{prefix}.pth")),
    ) else {
        return Ok(());
    };
    let Some(cases) = info["cases"].as_array().filter(|cases| !cases.is_empty()) else {
        output.missing(&format!("{prefix}.json"), "no cases");
        return Ok(());
    };
    compare_cases(prefix, cases, &tensors, output)
}

/// The checks of `cases` (the probe's JSON list) against their tensors (`{i}.input`, `{i}.packed`, …).
fn compare_cases(
    prefix: &str,
    cases: &[Value],
    tensors: &HashMap<String, Tensor>,
    output: &mut ProbeOutput,
) -> Result<(), EngineError> {
    let (mut codes, mut absmax, mut nested) = (Worst::new(), Worst::new(), Worst::new());
    let (mut dequant, mut nested_dequant) = (Worst::new(), Worst::new());
    for (index, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap_or("?").to_string();
        let Some(result) = compare_case(index, case, tensors)? else {
            output.missing(&format!("{prefix}.pth case {name}"), "tensors missing");
            continue;
        };
        codes.add(&name, result.codes_differing as f64, 0.0);
        if case["double_quant"] == true {
            nested.add(&name, result.absmax_diff, NESTED_ABSMAX_RELATIVE_TOLERANCE);
        } else {
            absmax.add(&name, result.absmax_diff, 0.0);
        }
        if case["double_quant"] == true {
            nested_dequant.add(&name, result.dequant_diff, NESTED_ABSMAX_RELATIVE_TOLERANCE);
        } else {
            dequant.add(&name, result.dequant_diff, 0.0);
        }
    }
    codes.check(
        output,
        &format!("{prefix} codes differing outside ties"),
        0.0,
    );
    absmax.check(output, &format!("{prefix} absmax max abs diff"), 0.0);
    nested.check(
        output,
        &format!("{prefix} nested absmax relative diff"),
        NESTED_ABSMAX_RELATIVE_TOLERANCE,
    );
    dequant.check(output, &format!("{prefix} dequantized max abs diff"), 0.0);
    nested_dequant.check(
        output,
        &format!("{prefix} nested dequantized max diff relative to absmax"),
        NESTED_ABSMAX_RELATIVE_TOLERANCE,
    );
    Ok(())
}

fn f32s(tensor: &Tensor) -> Result<Vec<f32>, EngineError> {
    Ok(tensor
        .flatten_all()?
        .to_dtype(DType::F32)?
        .to_vec1::<f32>()?)
}

/// One case, or `None` when its tensors are missing.
fn compare_case(
    index: usize,
    case: &Value,
    tensors: &HashMap<String, Tensor>,
) -> Result<Option<CaseResult>, EngineError> {
    let get = |suffix: &str| tensors.get(&format!("{index}.{suffix}"));
    let (Some(input), Some(packed), Some(absmax), Some(dequant)) =
        (get("input"), get("packed"), get("absmax"), get("dequant"))
    else {
        return Ok(None);
    };
    let blocksize = case["blocksize"].as_u64().unwrap_or(64) as usize;
    let double_quant = case["double_quant"] == true;
    let engine = Params4bit::quantize("case", &input.flatten_all()?, blocksize, double_quant)?;
    let theirs_packed = packed.flatten_all()?.to_dtype(DType::U8)?.to_vec1::<u8>()?;
    let values = f32s(input)?;
    let theirs_absmax = if double_quant {
        let (Some(nested), Some(offset)) = (get("nested_absmax"), case["nested_offset"].as_f64())
        else {
            return Ok(None);
        };
        restore_nested(
            &absmax.flatten_all()?.to_dtype(DType::U8)?.to_vec1::<u8>()?,
            &f32s(nested)?,
            offset as f32,
        )
    } else {
        f32s(absmax)?
    };
    let ours_absmax = engine.absmax_values();
    if theirs_packed.len() != engine.packed.len() || theirs_absmax.len() != ours_absmax.len() {
        return Ok(Some(CaseResult {
            codes_differing: values.len(),
            absmax_diff: f64::MAX,
            dequant_diff: f64::MAX,
        }));
    }
    let absmax_diff = ours_absmax
        .iter()
        .zip(&theirs_absmax)
        .map(|(ours, theirs)| {
            let diff = f64::from((ours - theirs).abs());
            if double_quant {
                diff / f64::from(ours.abs()).max(f64::MIN_POSITIVE)
            } else {
                diff
            }
        })
        .fold(0.0, f64::max);
    Ok(Some(CaseResult {
        codes_differing: codes_differing(&values, &engine, &theirs_packed),
        absmax_diff,
        dequant_diff: dequant_diff(
            &theirs_packed,
            &theirs_absmax,
            blocksize,
            dequant,
            double_quant,
        )?,
    }))
}

/// Differing codes not explained by a tie: the engine's scaled value is not within rounding of a threshold.
fn codes_differing(values: &[f32], engine: &Params4bit, theirs: &[u8]) -> usize {
    let ours = nf4::unpack_codes(&engine.packed, values.len());
    let theirs = nf4::unpack_codes(theirs, values.len());
    (0..values.len())
        .filter(|&i| ours[i] != theirs[i])
        .filter(|&i| {
            // Codes are chosen with the block's own absmax (a nested state only stores it afterwards).
            let block_max = block_absmax(values, i, engine.blocksize);
            let scaled = values[i] * (1.0 / block_max);
            !CUDA_TREE_THRESHOLDS
                .iter()
                .any(|t| (scaled - t).abs() <= TIE_WINDOW)
        })
        .count()
}

fn block_absmax(values: &[f32], index: usize, blocksize: usize) -> f32 {
    let start = index / blocksize * blocksize;
    values[start..(start + blocksize).min(values.len())]
        .iter()
        .fold(0f32, |max, value| max.max(value.abs()))
}

/// bitsandbytes' absmax from its double-quantized state: dynamic-map code × nested absmax + offset, in f32.
fn restore_nested(codes: &[u8], nested_absmax: &[f32], offset: f32) -> Vec<f32> {
    let map = signed_dynamic_map();
    codes
        .iter()
        .enumerate()
        .map(|(i, &code)| {
            let block_max = nested_absmax
                .get(i / NESTED_BLOCKSIZE)
                .copied()
                .unwrap_or(f32::NAN);
            map[usize::from(code)] * block_max + offset
        })
        .collect()
}

/// Largest |bitsandbytes' dequantized value − the engine's dequantization of bitsandbytes' codes and absmax|, in
/// the output dtype.
fn dequant_diff(
    packed: &[u8],
    absmax: &[f32],
    blocksize: usize,
    dequant: &Tensor,
    relative: bool,
) -> Result<f64, EngineError> {
    fn ours<T: Nf4Element>(packed: &[u8], absmax: &[f32], blocksize: usize, len: usize) -> Vec<T> {
        let mut out = vec![T::default(); len];
        nf4::dequantize_into(packed, absmax, blocksize, &mut out);
        out
    }
    let theirs = f32s(dequant)?;
    let len = theirs.len();
    let ours: Vec<f32> = match dequant.dtype() {
        DType::F16 => ours::<f16>(packed, absmax, blocksize, len)
            .iter()
            .map(|v| v.to_f32())
            .collect(),
        DType::BF16 => ours::<bf16>(packed, absmax, blocksize, len)
            .iter()
            .map(|v| v.to_f32())
            .collect(),
        _ => ours::<f32>(packed, absmax, blocksize, len),
    };
    Ok(ours
        .iter()
        .zip(&theirs)
        .enumerate()
        .map(|(i, (o, t))| {
            let diff = f64::from((o - t).abs());
            if o.to_bits() == t.to_bits() {
                0.0
            } else if relative {
                diff / f64::from(absmax[i / blocksize].abs()).max(f64::MIN_POSITIVE)
            } else {
                // Bit for bit: even a sign of zero counts.
                diff.max(f64::MIN_POSITIVE)
            }
        })
        .fold(0.0, f64::max))
}

#[cfg(test)]
mod tests {
    use candle_core::Device;
    use serde_json::json;

    use super::*;
    use crate::oracle::check::NumericCheck;

    /// One float16 case with the engine's own round trip standing in for bitsandbytes'.
    fn agreeing_case() -> (Vec<Value>, HashMap<String, Tensor>) {
        let values: Vec<f32> = (0..3000)
            .map(|i| ((i * 7919 % 2003) as f32 / 1001.0 - 1.0) * 3.0)
            .collect();
        let input = Tensor::from_vec(values, (3, 1000), &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F16)
            .unwrap();
        let params = Params4bit::quantize("w", &input.flatten_all().unwrap(), 128, false).unwrap();
        let mut tensors = HashMap::new();
        let packed =
            Tensor::from_vec(params.packed.clone(), params.packed.len(), &Device::Cpu).unwrap();
        tensors.insert("0.packed".to_string(), packed);
        tensors.insert(
            "0.absmax".to_string(),
            Tensor::new(params.absmax_values().as_slice(), &Device::Cpu).unwrap(),
        );
        tensors.insert(
            "0.dequant".to_string(),
            params.dequantize(&Device::Cpu).unwrap(),
        );
        tensors.insert("0.input".to_string(), input);
        let case = json!({ "name": "3x1000 float16 b128", "shape": [3, 1000], "dtype": "float16", "blocksize": 128,
                           "double_quant": false });
        (vec![case], tensors)
    }

    fn failed(cases: &[Value], tensors: &HashMap<String, Tensor>) -> Vec<String> {
        let (dir, metrics) = (std::path::Path::new("."), json!({}));
        let mut output = ProbeOutput::new(dir, &metrics);
        compare_cases("bnb-kernels", cases, tensors, &mut output).unwrap();
        output
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(NumericCheck::signature)
            .collect()
    }

    #[test]
    fn agreement_passes_and_each_disagreement_names_the_case() {
        let (cases, tensors) = agreeing_case();
        assert_eq!(failed(&cases, &tensors), Vec::<String>::new());

        let mut flipped = tensors.clone();
        let mut packed = flipped["0.packed"].to_vec1::<u8>().unwrap();
        packed[100] ^= 0x30; // one code, far from any tie
        flipped.insert(
            "0.packed".into(),
            Tensor::from_vec(packed, 1500, &Device::Cpu).unwrap(),
        );
        let signatures = failed(&cases, &flipped);
        assert_eq!(
            signatures[0],
            "numeric: bnb-kernels codes differing outside ties (first at 3x1000 float16 b128) beyond tolerance 0 \
             of the built-in reference"
        );

        let mut shifted = tensors.clone();
        let dequant = (&shifted["0.dequant"] * 1.5).unwrap();
        shifted.insert("0.dequant".into(), dequant);
        assert_eq!(
            failed(&cases, &shifted),
            [
                "numeric: bnb-kernels dequantized max abs diff (first at 3x1000 float16 b128) beyond tolerance 0 of \
              the built-in reference"
            ]
        );
    }
}
