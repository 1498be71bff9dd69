//! Golden tests: the engine's NF4 against files written by real bitsandbytes 0.49.2 (fixtures/golden/generate.py).
//!
//! Codes and absmax must match bit for bit. The golden inputs avoid the values on which bitsandbytes' CPU backend
//! (argmin, ties to the first index) and its CUDA tree (which the engine implements) disagree; the `ties` case
//! keeps them and checks the engine follows the tree there. Double-quantization state is compared within stated
//! tolerances because the mean of absmax is summed in a different order. Every loop over cases counts them against
//! the manifest's numbers, so a filter that matches nothing cannot pass.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use qcompat_engine::double_quant::signed_dynamic_map;
use qcompat_engine::lora::SplitMix64;
use qcompat_engine::nf4;
use qcompat_engine::nf4_code::NF4_CODEBOOK;
use qcompat_engine::state_dict::{AbsmaxState, Params4bit, QuantizedStateDict};
use serde_json::Value;

/// Relative tolerance for the nested offset (a mean of up to 300 values: a few ulps of reordering).
const OFFSET_RELATIVE_TOLERANCE: f32 = 1e-6;
/// Nested absmax = max |absmax - offset|: inherits the offset's difference, relative to its own size.
const NESTED_ABSMAX_RELATIVE_TOLERANCE: f32 = 1e-5;
/// The ordinary cases (bitsandbytes' own output without CPU-vs-CUDA ties): 3 dtypes x 6 shapes x with and without
/// double quantization, 7 other block sizes (one of them double-quantized) and one case of 300 blocks.
const ORDINARY_CASES: usize = 45;
/// Of those, the double-quantized ones.
const NESTED_CASES: usize = 20;

struct Golden {
    tensors: HashMap<String, Tensor>,
    cases: Vec<Value>,
}

fn golden() -> Golden {
    let tensors = candle_core::safetensors::load(
        common::golden().join("nf4_golden.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(common::golden().join("manifest.json")).unwrap(),
    )
    .unwrap();
    Golden {
        tensors,
        cases: manifest["cases"].as_array().unwrap().clone(),
    }
}

impl Golden {
    fn tensor(&self, case: &str, key: &str) -> &Tensor {
        self.tensors
            .get(&format!("{case}.{key}"))
            .unwrap_or_else(|| panic!("{case}.{key} missing"))
    }

    fn bytes(&self, case: &str, key: &str) -> Vec<u8> {
        self.tensor(case, key)
            .flatten_all()
            .unwrap()
            .to_vec1::<u8>()
            .unwrap()
    }

    fn floats(&self, case: &str, key: &str) -> Vec<f32> {
        self.tensor(case, key)
            .flatten_all()
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    }

    /// The ordinary cases: bitsandbytes' own output, generated without CPU-vs-CUDA ties.
    fn bnb_cases(&self) -> impl Iterator<Item = &Value> {
        self.cases
            .iter()
            .filter(|case| case["cpu_tree_mismatches"] == 0 && case["source"].is_null())
    }
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|value| value.to_bits()).collect()
}

fn quantize_case(golden: &Golden, case: &Value) -> Params4bit {
    let name = case["name"].as_str().unwrap();
    let blocksize = case["blocksize"].as_u64().unwrap() as usize;
    let double_quant = case["double_quant"].as_bool().unwrap_or(false);
    Params4bit::quantize(name, golden.tensor(name, "input"), blocksize, double_quant).unwrap()
}

#[test]
fn codes_match_bitsandbytes_bit_for_bit() {
    let golden = golden();
    let mut checked = 0;
    for case in golden.bnb_cases() {
        let name = case["name"].as_str().unwrap();
        let params = quantize_case(&golden, case);
        assert_eq!(
            params.packed,
            golden.bytes(name, "weight"),
            "{name}: packed codes"
        );
        assert_eq!(
            params.shape,
            golden.tensor(name, "input").dims(),
            "{name}: shape"
        );
        checked += 1;
    }
    assert_eq!(
        checked, ORDINARY_CASES,
        "every ordinary golden case was checked"
    );
}

#[test]
fn plain_absmax_matches_bit_for_bit() {
    let golden = golden();
    let mut cases = 0;
    for case in golden
        .bnb_cases()
        .filter(|case| case["double_quant"] == false)
    {
        let name = case["name"].as_str().unwrap();
        let params = quantize_case(&golden, case);
        let AbsmaxState::Plain(absmax) = &params.absmax else {
            panic!("{name}: expected plain absmax")
        };
        assert_eq!(
            bits(absmax),
            bits(&golden.floats(name, "absmax")),
            "{name}: absmax"
        );
        cases += 1;
    }
    assert_eq!(cases, ORDINARY_CASES - NESTED_CASES);
}

#[test]
fn nested_state_matches_within_tolerance() {
    let golden = golden();
    let mut cases = 0;
    for case in golden
        .bnb_cases()
        .filter(|case| case["double_quant"] == true)
    {
        let name = case["name"].as_str().unwrap();
        let params = quantize_case(&golden, case);
        let AbsmaxState::Nested(nested) = &params.absmax else {
            panic!("{name}: expected nested absmax")
        };
        let json: Value =
            serde_json::from_slice(&golden.bytes(name, "quant_state.bitsandbytes__nf4")).unwrap();
        let bnb_offset = json["nested_offset"].as_f64().unwrap() as f32;
        assert!(
            (nested.offset - bnb_offset).abs() <= OFFSET_RELATIVE_TOLERANCE * bnb_offset.abs(),
            "{name}: offset"
        );
        for (ours, theirs) in nested
            .nested_absmax
            .iter()
            .zip(golden.floats(name, "nested_absmax"))
        {
            assert!(
                (ours - theirs).abs() <= NESTED_ABSMAX_RELATIVE_TOLERANCE * theirs.abs(),
                "{name}: nested absmax"
            );
        }
        // 8-bit codes: equal, or a neighbour where the reordered mean moved a value across a midpoint.
        let bnb_codes = golden.bytes(name, "absmax");
        assert_eq!(nested.codes.len(), bnb_codes.len());
        for (ours, theirs) in nested.codes.iter().zip(&bnb_codes) {
            assert!(
                ours.abs_diff(*theirs) <= 1,
                "{name}: 8-bit absmax code {ours} vs {theirs}"
            );
        }
        cases += 1;
    }
    assert_eq!(cases, NESTED_CASES);
}

#[test]
fn dynamic_map_and_codebook_equal_bitsandbytes() {
    let golden = golden();
    // bitsandbytes' CPU kernel overwrites entry 0 (-0.99296875) with -1.0 in place before quantizing; CUDA does not.
    let ours = signed_dynamic_map();
    let theirs = golden.floats("float32_64x64_b64_dq", "nested_quant_map");
    assert_eq!(theirs[0], -1.0);
    assert_eq!(bits(&ours[1..]), bits(&theirs[1..]));
    assert_eq!(
        bits(&NF4_CODEBOOK),
        bits(&golden.floats("float32_64x64_b64", "quant_map"))
    );
}

/// The case's bitsandbytes entries as a state dict for a weight named `w` (`w`, `w.absmax`, ...).
fn state_dict_of(golden: &Golden, name: &str) -> HashMap<String, Tensor> {
    const GOLDEN_ONLY: [&str; 4] = ["input", "dequant", "dequant_rounded_once", "tree_codes"];
    golden
        .tensors
        .iter()
        .filter_map(|(key, tensor)| {
            let suffix = key.strip_prefix(&format!("{name}."))?;
            if GOLDEN_ONLY.contains(&suffix) {
                return None;
            }
            let renamed = if suffix == "weight" {
                "w".to_string()
            } else {
                format!("w.{suffix}")
            };
            Some((renamed, tensor.clone()))
        })
        .collect()
}

/// bitsandbytes 0.49.2's native CPU dequantizer cannot take an odd last dimension and falls back to a PyTorch path
/// that casts the codebook to the output dtype before multiplying: two roundings for float16 and bfloat16. The engine
/// rounds once, as CUDA does: for those dtypes the golden file records bitsandbytes' float32 dequantization rounded
/// once by torch (`dequant_rounded_once`, equal to `dequant` wherever bitsandbytes rounds once itself).
#[test]
fn reading_bitsandbytes_state_reproduces_its_dequantization() {
    let golden = golden();
    let mut cases = 0;
    for case in golden.bnb_cases() {
        let name = case["name"].as_str().unwrap();
        let params =
            Params4bit::from_state_dict("w", &state_dict_of(&golden, name), Path::new(name))
                .unwrap();
        let ours = params.dequantize(&Device::Cpu).unwrap();
        let expected = if case["dtype"] == "float32" {
            "dequant"
        } else {
            "dequant_rounded_once"
        };
        assert_eq!(
            ours.dtype(),
            golden.tensor(name, expected).dtype(),
            "{name}"
        );
        let ours = ours
            .flatten_all()
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(
            bits(&ours),
            bits(&golden.floats(name, expected)),
            "{name}: dequantized values"
        );
        cases += 1;
    }
    assert_eq!(cases, ORDINARY_CASES);
}

#[test]
fn written_entries_have_bitsandbytes_keys_and_values() {
    let golden = golden();
    for name in ["bfloat16_5x130_b64", "float16_34x17_b64_dq"] {
        let case = golden
            .cases
            .iter()
            .find(|case| case["name"] == name)
            .unwrap();
        let params = quantize_case(&golden, case);
        let ours: HashMap<String, Tensor> = params
            .state_dict_entries("w")
            .unwrap()
            .into_iter()
            .collect();
        let theirs = state_dict_of(&golden, name);
        let mut our_keys: Vec<&String> = ours.keys().collect();
        let mut their_keys: Vec<&String> = theirs.keys().collect();
        our_keys.sort();
        their_keys.sort();
        assert_eq!(our_keys, their_keys, "{name}");
        for (key, tensor) in &ours {
            assert_eq!(tensor.dtype(), theirs[key].dtype(), "{name}: {key} dtype");
            assert_eq!(tensor.dims(), theirs[key].dims(), "{name}: {key} shape");
            assert_entry_matches(&format!("{name}: {key}"), key, tensor, &theirs[key]);
        }
    }
}

/// One written entry against bitsandbytes' own: bit for bit, except where double quantization's reordered mean
/// may move a value (see the tolerances) and the nested map's first entry, which bitsandbytes' CPU kernel
/// overwrites with -1.0 in place (see `dynamic_map_and_codebook_equal_bitsandbytes`).
fn assert_entry_matches(label: &str, key: &str, ours: &Tensor, theirs: &Tensor) {
    let floats = |t: &Tensor| {
        t.to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    let bytes = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<u8>().unwrap();
    match (key, ours.dtype()) {
        ("w.quant_state.bitsandbytes__nf4", _) => {
            let json = |t: &Tensor| serde_json::from_slice::<Value>(&bytes(t)).unwrap();
            let (ours, theirs) = (json(ours), json(theirs));
            for field in [
                "quant_type",
                "blocksize",
                "dtype",
                "shape",
                "nested_blocksize",
                "nested_dtype",
            ] {
                assert_eq!(ours[field], theirs[field], "{label}: {field}");
            }
            let offsets = (
                ours["nested_offset"].as_f64(),
                theirs["nested_offset"].as_f64(),
            );
            if let (Some(ours), Some(theirs)) = offsets {
                let tolerance = f64::from(OFFSET_RELATIVE_TOLERANCE) * theirs.abs();
                assert!(
                    (ours - theirs).abs() <= tolerance,
                    "{label}: nested_offset {ours} vs {theirs}"
                );
            } else {
                assert_eq!(offsets.0, offsets.1, "{label}: nested_offset");
            }
        }
        ("w.absmax", DType::U8) => {
            for (o, t) in bytes(ours).iter().zip(bytes(theirs)) {
                assert!(o.abs_diff(t) <= 1, "{label}: 8-bit absmax code {o} vs {t}");
            }
        }
        ("w.nested_absmax", _) => {
            for (o, t) in floats(ours).iter().zip(floats(theirs)) {
                assert!(
                    (o - t).abs() <= NESTED_ABSMAX_RELATIVE_TOLERANCE * t.abs(),
                    "{label}: {o} vs {t}"
                );
            }
        }
        ("w.nested_quant_map", _) => {
            let (ours, theirs) = (floats(ours), floats(theirs));
            assert_eq!(
                (ours[0], theirs[0]),
                (-0.992_968_75, -1.0),
                "{label}: entry 0"
            );
            assert_eq!(bits(&ours[1..]), bits(&theirs[1..]), "{label}");
        }
        (_, DType::U8) => assert_eq!(bytes(ours), bytes(theirs), "{label}"),
        _ => assert_eq!(bits(&floats(ours)), bits(&floats(theirs)), "{label}"),
    }
}

#[test]
fn engine_follows_the_cuda_tree_on_cpu_ties() {
    let golden = golden();
    let case = golden
        .cases
        .iter()
        .find(|case| case["name"] == "ties")
        .unwrap();
    let params = quantize_case(&golden, case);
    let len = params.len();
    assert_eq!(params.codes(), golden.bytes("ties", "tree_codes"));
    let cpu_codes = nf4::unpack_codes(&golden.bytes("ties", "weight"), len);
    let differing = params
        .codes()
        .iter()
        .zip(&cpu_codes)
        .filter(|(ours, theirs)| ours != theirs)
        .count();
    assert_eq!(
        differing as u64,
        case["cpu_tree_mismatches"].as_u64().unwrap()
    );
    assert!(
        differing > 0,
        "the ties case exercises CPU-vs-CUDA disagreements"
    );
}

#[test]
fn all_zero_block_matches_the_cpu_backend() {
    let golden = golden();
    let case = golden
        .cases
        .iter()
        .find(|case| case["name"] == "zero_block")
        .unwrap();
    let params = quantize_case(&golden, case);
    assert_eq!(params.packed, golden.bytes("zero_block", "weight"));
    assert_eq!(params.absmax_values()[1], 0.0);
    assert!(
        params.codes()[64..128].iter().all(|&code| code == 0),
        "NaN scaled values take code 0"
    );
}

#[test]
fn odd_length_follows_the_cuda_layout() {
    let golden = golden();
    let params =
        Params4bit::quantize("odd", golden.tensor("odd_33x17", "input"), 64, false).unwrap();
    assert_eq!(params.packed, golden.bytes("odd_33x17", "weight"));
    assert_eq!(
        bits(&params.absmax_values()),
        bits(&golden.floats("odd_33x17", "absmax"))
    );
}

#[test]
fn reads_a_real_linear4bit_state_dict() {
    let state = QuantizedStateDict::load(&common::golden().join("linear4bit.safetensors")).unwrap();
    let weight = &state.quantized["weight"];
    assert_eq!(weight.shape, vec![24, 48]);
    assert!(matches!(weight.absmax, AbsmaxState::Nested(_)));
    assert_eq!(state.passthrough.keys().collect::<Vec<_>>(), vec!["bias"]);
    // bitsandbytes' own dequantization of the same layer (float32), bit for bit.
    let theirs = candle_core::safetensors::load(
        common::golden().join("linear4bit_dequant.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let theirs = &theirs["weight"];
    let ours = weight.dequantize(&Device::Cpu).unwrap();
    assert_eq!((ours.dtype(), ours.dims()), (theirs.dtype(), theirs.dims()));
    let values = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(bits(&values(&ours)), bits(&values(theirs)));
}

/// bitsandbytes' test anchor: NF4, block 64, on a 1024x1024 standard normal has mean absolute error ~0.072798.
#[test]
fn mean_abs_error_on_standard_normal_matches_the_bitsandbytes_anchor() {
    let mut rng = SplitMix64::new(1234);
    let values: Vec<f32> = (0..1024 * 1024 / 2)
        .flat_map(|_| {
            // Box-Muller: two independent standard normals from two uniforms.
            let u1 = 1.0 - f64::from(rng.uniform(0.0, 1.0));
            let u2 = f64::from(rng.uniform(0.0, 1.0));
            let radius = (-2.0 * u1.ln()).sqrt();
            let angle = 2.0 * std::f64::consts::PI * u2;
            [(radius * angle.cos()) as f32, (radius * angle.sin()) as f32]
        })
        .collect();
    let quantized = nf4::quantize(&values, 64).unwrap();
    let restored = nf4::dequantize::<f32>(&quantized);
    let error: f64 = values
        .iter()
        .zip(&restored)
        .map(|(x, y)| f64::from((x - y).abs()))
        .sum::<f64>()
        / values.len() as f64;
    assert!((error - 0.072798).abs() < 5e-4, "mean abs error {error}");
}
