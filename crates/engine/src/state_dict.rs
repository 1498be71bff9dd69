//! bitsandbytes `Params4bit` state-dict entries, read from and written to safetensors.
//!
//! A 4-bit weight `W` is stored as `W` (packed uint8, shape `((n+1)/2, 1)`), `W.absmax`, `W.quant_map` (16 f32),
//! with double quantization also `W.nested_absmax` and `W.nested_quant_map` (256 f32, the absmax then being uint8
//! codes), and `W.quant_state.bitsandbytes__nf4`: the UTF-8 bytes of a JSON object with the non-tensor fields.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use half::{bf16, f16};
use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::double_quant::NestedAbsmax;
use crate::nf4::{self, BLOCK_SIZES, FloatDtype, Nf4Element, Nf4Tensor, NonFiniteValue};
use crate::nf4_code::NF4_CODEBOOK;

pub const QUANT_STATE_SUFFIX: &str = "quant_state.bitsandbytes__nf4";

/// How the per-block absmax values are stored.
#[derive(Debug, Clone, PartialEq)]
pub enum AbsmaxState {
    Plain(Vec<f32>),
    Nested(NestedAbsmax),
}

/// One NF4-quantized weight with everything needed to restore it.
#[derive(Debug, Clone, PartialEq)]
pub struct Params4bit {
    pub packed: Vec<u8>,
    pub absmax: AbsmaxState,
    pub shape: Vec<usize>,
    pub dtype: FloatDtype,
    pub blocksize: usize,
}

/// The JSON object bitsandbytes packs into `quant_state.bitsandbytes__nf4`, fields in its order.
#[derive(Debug, Serialize, Deserialize)]
struct QuantStateJson {
    quant_type: String,
    blocksize: usize,
    dtype: String,
    shape: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nested_blocksize: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nested_dtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nested_offset: Option<f64>,
}

pub fn check_blocksize(blocksize: usize) -> Result<(), EngineError> {
    if BLOCK_SIZES.contains(&blocksize) {
        Ok(())
    } else {
        Err(EngineError::InvalidBlocksize(blocksize))
    }
}

/// Reads a floating-point tensor's values in its own dtype and quantizes them.
fn quantize_values(
    name: &str,
    tensor: &Tensor,
    blocksize: usize,
) -> Result<(Nf4Tensor, FloatDtype), EngineError> {
    fn run<T: Nf4Element + candle_core::WithDType>(
        name: &str,
        tensor: &Tensor,
        blocksize: usize,
    ) -> Result<(Nf4Tensor, FloatDtype), EngineError> {
        let values = tensor.flatten_all()?.to_vec1::<T>()?;
        Ok((
            quantize_named(name, &values, blocksize)?,
            <T as Nf4Element>::DTYPE,
        ))
    }
    match tensor.dtype() {
        DType::F32 => run::<f32>(name, tensor, blocksize),
        DType::F16 => run::<f16>(name, tensor, blocksize),
        DType::BF16 => run::<bf16>(name, tensor, blocksize),
        other => Err(EngineError::UnsupportedDtype {
            tensor: name.to_string(),
            dtype: format!("{other:?}"),
            expected: "float32, float16 or bfloat16",
        }),
    }
}

fn quantize_named<T: Nf4Element>(
    name: &str,
    values: &[T],
    blocksize: usize,
) -> Result<Nf4Tensor, EngineError> {
    nf4::quantize(values, blocksize).map_err(|NonFiniteValue { index, value }| {
        EngineError::NonFinite {
            tensor: name.to_string(),
            index,
            value,
        }
    })
}

impl Params4bit {
    pub fn quantize(
        name: &str,
        tensor: &Tensor,
        blocksize: usize,
        double_quant: bool,
    ) -> Result<Self, EngineError> {
        check_blocksize(blocksize)?;
        let (quantized, dtype) = quantize_values(name, tensor, blocksize)?;
        Ok(Self::from_nf4(
            quantized,
            tensor.dims(),
            dtype,
            double_quant,
        ))
    }

    /// Quantizes the flat `values` of a tensor of `shape` (the streaming quantizer's entry: no candle tensor).
    pub fn quantize_slice<T: Nf4Element>(
        name: &str,
        values: &[T],
        shape: &[usize],
        blocksize: usize,
        double_quant: bool,
    ) -> Result<Self, EngineError> {
        check_blocksize(blocksize)?;
        let quantized = quantize_named(name, values, blocksize)?;
        Ok(Self::from_nf4(quantized, shape, T::DTYPE, double_quant))
    }

    fn from_nf4(
        quantized: Nf4Tensor,
        shape: &[usize],
        dtype: FloatDtype,
        double_quant: bool,
    ) -> Self {
        let absmax = if double_quant {
            AbsmaxState::Nested(NestedAbsmax::compress(&quantized.absmax))
        } else {
            AbsmaxState::Plain(quantized.absmax)
        };
        Params4bit {
            packed: quantized.packed,
            absmax,
            shape: shape.to_vec(),
            dtype,
            blocksize: quantized.blocksize,
        }
    }

    /// The bytes of the `quant_state.bitsandbytes__nf4` entry: bitsandbytes' JSON of the non-tensor fields.
    pub fn quant_state_json(&self) -> Vec<u8> {
        let mut json = QuantStateJson {
            quant_type: "nf4".to_string(),
            blocksize: self.blocksize,
            dtype: self.dtype.torch_name().to_string(),
            shape: self.shape.clone(),
            nested_blocksize: None,
            nested_dtype: None,
            nested_offset: None,
        };
        if let AbsmaxState::Nested(nested) = &self.absmax {
            json.nested_blocksize = Some(nested.blocksize);
            json.nested_dtype = Some("float32".to_string());
            json.nested_offset = Some(f64::from(nested.offset));
        }
        python_json(&json)
    }

    /// An upper bound of [`Self::quant_state_json`]'s length before quantizing: only the nested offset's digits
    /// are unknown, and no f64 prints longer than `-2.2250738585072014e-308`.
    pub fn quant_state_json_bound(
        shape: &[usize],
        dtype: FloatDtype,
        blocksize: usize,
        double_quant: bool,
    ) -> usize {
        let absmax = if double_quant {
            AbsmaxState::Nested(NestedAbsmax {
                codes: Vec::new(),
                nested_absmax: Vec::new(),
                quant_map: Vec::new(),
                offset: 0.0,
                blocksize: crate::double_quant::NESTED_BLOCKSIZE,
            })
        } else {
            AbsmaxState::Plain(Vec::new())
        };
        let probe = Params4bit {
            packed: Vec::new(),
            absmax,
            shape: shape.to_vec(),
            dtype,
            blocksize,
        };
        let widest_offset = "-2.2250738585072014e-308".len() - "0.0".len();
        probe.quant_state_json().len() + if double_quant { widest_offset } else { 0 }
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The absmax values dequantization uses (restored from the 8-bit state when nested).
    pub fn absmax_values(&self) -> Vec<f32> {
        match &self.absmax {
            AbsmaxState::Plain(values) => values.clone(),
            AbsmaxState::Nested(nested) => nested.restore(),
        }
    }

    pub fn codes(&self) -> Vec<u8> {
        nf4::unpack_codes(&self.packed, self.len())
    }

    pub fn dequantize_f32(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.len()];
        nf4::dequantize_into(
            &self.packed,
            &self.absmax_values(),
            self.blocksize,
            &mut out,
        );
        out
    }

    /// Dequantizes to the original dtype and shape.
    pub fn dequantize(&self, device: &Device) -> Result<Tensor, EngineError> {
        fn run<T: Nf4Element + candle_core::WithDType>(
            params: &Params4bit,
            device: &Device,
        ) -> Result<Tensor, EngineError> {
            let mut out = vec![T::default(); params.len()];
            nf4::dequantize_into(
                &params.packed,
                &params.absmax_values(),
                params.blocksize,
                &mut out,
            );
            Ok(Tensor::from_vec(out, params.shape.as_slice(), device)?)
        }
        match self.dtype {
            FloatDtype::F32 => run::<f32>(self, device),
            FloatDtype::F16 => run::<f16>(self, device),
            FloatDtype::Bf16 => run::<bf16>(self, device),
        }
    }

    /// The state-dict entries bitsandbytes writes for a weight named `weight_key`, in its order.
    pub fn state_dict_entries(
        &self,
        weight_key: &str,
    ) -> Result<Vec<(String, Tensor)>, EngineError> {
        let cpu = Device::Cpu;
        let key = |suffix: &str| format!("{weight_key}.{suffix}");
        let mut entries = vec![(
            weight_key.to_string(),
            Tensor::from_vec(self.packed.clone(), (self.packed.len(), 1), &cpu)?,
        )];
        match &self.absmax {
            AbsmaxState::Plain(absmax) => {
                entries.push((key("absmax"), Tensor::new(absmax.as_slice(), &cpu)?));
                entries.push((key("quant_map"), Tensor::new(&NF4_CODEBOOK, &cpu)?));
            }
            AbsmaxState::Nested(nested) => {
                entries.push((key("absmax"), Tensor::new(nested.codes.as_slice(), &cpu)?));
                entries.push((key("quant_map"), Tensor::new(&NF4_CODEBOOK, &cpu)?));
                entries.push((
                    key("nested_absmax"),
                    Tensor::new(nested.nested_absmax.as_slice(), &cpu)?,
                ));
                entries.push((
                    key("nested_quant_map"),
                    Tensor::new(nested.quant_map.as_slice(), &cpu)?,
                ));
            }
        }
        let json_bytes = self.quant_state_json();
        let json_len = json_bytes.len();
        entries.push((
            key(QUANT_STATE_SUFFIX),
            Tensor::from_vec(json_bytes, json_len, &cpu)?,
        ));
        Ok(entries)
    }

    /// Reads the entries of the weight `weight_key` from a state dict.
    pub fn from_state_dict(
        weight_key: &str,
        tensors: &HashMap<String, Tensor>,
        path: &Path,
    ) -> Result<Self, EngineError> {
        let entries = Entries {
            weight_key,
            tensors,
            path,
        };
        let (json, dtype) = entries.quant_state()?;
        let len: usize = json.shape.iter().product();
        let packed = u8_values(weight_key, entries.get(None)?)?;
        if packed.len() != nf4::packed_len(len) {
            return Err(
                entries.invalid(format!("{} packed bytes for {len} elements", packed.len()))
            );
        }
        let absmax = entries.absmax(&json, nf4::block_count(len, json.blocksize))?;
        let quant_map = f32_values(
            &format!("{weight_key}.quant_map"),
            entries.get(Some("quant_map"))?,
        )?;
        if quant_map != NF4_CODEBOOK {
            return Err(entries.invalid("quant_map is not the NF4 codebook".into()));
        }
        Ok(Params4bit {
            packed,
            absmax,
            shape: json.shape,
            dtype,
            blocksize: json.blocksize,
        })
    }
}

/// The state-dict entries of one 4-bit weight, read with errors that name the tensor and the file.
struct Entries<'a> {
    weight_key: &'a str,
    tensors: &'a HashMap<String, Tensor>,
    path: &'a Path,
}

impl Entries<'_> {
    /// The weight itself (`None`) or its entry `weight.SUFFIX`.
    fn get(&self, suffix: Option<&str>) -> Result<&Tensor, EngineError> {
        let name = suffix.map_or_else(
            || self.weight_key.to_string(),
            |suffix| format!("{}.{suffix}", self.weight_key),
        );
        self.tensors
            .get(&name)
            .ok_or_else(|| EngineError::MissingTensor {
                tensor: name,
                path: self.path.to_path_buf(),
            })
    }

    fn invalid(&self, reason: String) -> EngineError {
        EngineError::InvalidQuantState {
            tensor: self.weight_key.to_string(),
            reason,
        }
    }

    /// bitsandbytes' JSON of the non-tensor fields, checked: NF4, a supported block size, a float dtype.
    fn quant_state(&self) -> Result<(QuantStateJson, FloatDtype), EngineError> {
        let json_bytes = u8_values(self.weight_key, self.get(Some(QUANT_STATE_SUFFIX))?)?;
        let json: QuantStateJson = serde_json::from_slice(&json_bytes)
            .map_err(|error| self.invalid(format!("quant_state JSON: {error}")))?;
        if json.quant_type != "nf4" {
            return Err(self.invalid(format!(
                "quant_type {:?} (only nf4 is supported)",
                json.quant_type
            )));
        }
        check_blocksize(json.blocksize)?;
        let dtype = FloatDtype::from_torch_name(&json.dtype).ok_or_else(|| {
            self.invalid(format!(
                "dtype {:?} is not float32, float16 or bfloat16",
                json.dtype
            ))
        })?;
        Ok((json, dtype))
    }

    /// The per-block absmax of `blocks` blocks: plain f32, or double-quantized (8-bit codes, their own absmax and
    /// code map, an offset), as the JSON says.
    fn absmax(&self, json: &QuantStateJson, blocks: usize) -> Result<AbsmaxState, EngineError> {
        let key = |suffix: &str| format!("{}.{suffix}", self.weight_key);
        let absmax = self.get(Some("absmax"))?;
        match (json.nested_offset, self.tensors.get(&key("nested_absmax"))) {
            (Some(offset), Some(nested_absmax)) => {
                let nested_blocksize = json
                    .nested_blocksize
                    .ok_or_else(|| self.invalid("no nested_blocksize".into()))?;
                let nested = NestedAbsmax {
                    codes: u8_values(&key("absmax"), absmax)?,
                    nested_absmax: f32_values(&key("nested_absmax"), nested_absmax)?,
                    quant_map: f32_values(
                        &key("nested_quant_map"),
                        self.get(Some("nested_quant_map"))?,
                    )?,
                    offset: offset as f32,
                    blocksize: nested_blocksize,
                };
                if nested.codes.len() != blocks
                    || nested.quant_map.len() != 256
                    || nested.nested_absmax.len() != blocks.div_ceil(nested_blocksize.max(1))
                {
                    return Err(self.invalid("nested absmax sizes do not match the shape".into()));
                }
                Ok(AbsmaxState::Nested(nested))
            }
            (None, None) => {
                let absmax = f32_values(&key("absmax"), absmax)?;
                if absmax.len() != blocks {
                    return Err(self.invalid(format!(
                        "{} absmax values for {blocks} blocks",
                        absmax.len()
                    )));
                }
                Ok(AbsmaxState::Plain(absmax))
            }
            _ => Err(self.invalid("nested_offset and nested_absmax must come together".into())),
        }
    }
}

/// JSON with Python's `json.dumps` separators (`", "` and `": "`), so the bytes match what bitsandbytes writes.
fn python_json(value: &impl Serialize) -> Vec<u8> {
    struct PythonFormatter;
    /// `", "` before every item but the first, in arrays and objects alike.
    fn item_separator<W: ?Sized + std::io::Write>(
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    impl serde_json::ser::Formatter for PythonFormatter {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            item_separator(writer, first)
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            item_separator(writer, first)
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
        ) -> std::io::Result<()> {
            writer.write_all(b": ")
        }
    }
    let mut bytes = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, PythonFormatter);
    value
        .serialize(&mut serializer)
        .expect("quant state serializes");
    bytes
}

fn u8_values(name: &str, tensor: &Tensor) -> Result<Vec<u8>, EngineError> {
    if tensor.dtype() != DType::U8 {
        return Err(EngineError::UnsupportedDtype {
            tensor: name.to_string(),
            dtype: format!("{:?}", tensor.dtype()),
            expected: "uint8",
        });
    }
    Ok(tensor.flatten_all()?.to_vec1::<u8>()?)
}

fn f32_values(name: &str, tensor: &Tensor) -> Result<Vec<f32>, EngineError> {
    if tensor.dtype() != DType::F32 {
        return Err(EngineError::UnsupportedDtype {
            tensor: name.to_string(),
            dtype: format!("{:?}", tensor.dtype()),
            expected: "float32",
        });
    }
    Ok(tensor.flatten_all()?.to_vec1::<f32>()?)
}

fn save_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<(), EngineError> {
    candle_core::safetensors::save(tensors, path).map_err(|error| match error {
        candle_core::Error::Io(source) => EngineError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => EngineError::Compute(other),
    })
}

/// A state dict split into quantized weights and tensors that were stored as they are.
#[derive(Debug, Default)]
pub struct QuantizedStateDict {
    pub quantized: BTreeMap<String, Params4bit>,
    pub passthrough: BTreeMap<String, Tensor>,
}

impl QuantizedStateDict {
    /// Quantizes every 2-D floating-point tensor whose name ends in `weight` (except `skip`); the rest pass through.
    pub fn quantize(
        tensors: Vec<(String, Tensor)>,
        blocksize: usize,
        double_quant: bool,
        skip: &[String],
    ) -> Result<Self, EngineError> {
        check_blocksize(blocksize)?;
        let mut out = QuantizedStateDict::default();
        for (name, tensor) in tensors {
            let is_float = matches!(tensor.dtype(), DType::F32 | DType::F16 | DType::BF16);
            if tensor.rank() == 2 && is_float && name.ends_with("weight") && !skip.contains(&name) {
                let params = Params4bit::quantize(&name, &tensor, blocksize, double_quant)?;
                out.quantized.insert(name, params);
            } else {
                out.passthrough.insert(name, tensor);
            }
        }
        Ok(out)
    }

    pub fn save(&self, path: &Path) -> Result<(), EngineError> {
        let mut entries: HashMap<String, Tensor> = self.passthrough.clone().into_iter().collect();
        for (name, params) in &self.quantized {
            entries.extend(params.state_dict_entries(name)?);
        }
        save_safetensors(&entries, path)
    }

    /// Writes every weight dequantized (in its original dtype, or float32 with `as_f32`) beside the passthrough
    /// tensors: a plain checkpoint again.
    pub fn save_dequantized(&self, path: &Path, as_f32: bool) -> Result<(), EngineError> {
        let mut tensors: HashMap<String, Tensor> = self.passthrough.clone().into_iter().collect();
        for (name, params) in &self.quantized {
            let restored = params.dequantize(&Device::Cpu)?;
            let restored = if as_f32 {
                restored.to_dtype(DType::F32)?
            } else {
                restored
            };
            tensors.insert(name.clone(), restored);
        }
        save_safetensors(&tensors, path)
    }

    /// Reads a safetensors state dict, recognising 4-bit weights by their `quant_state.bitsandbytes__nf4` entry.
    pub fn load(path: &Path) -> Result<Self, EngineError> {
        let tensors = crate::checkpoint::load_safetensors(path)?;
        let weight_keys: Vec<String> = tensors
            .keys()
            .filter_map(|key| {
                key.strip_suffix(&format!(".{QUANT_STATE_SUFFIX}"))
                    .map(str::to_string)
            })
            .collect();
        let mut out = QuantizedStateDict::default();
        for key in &weight_keys {
            out.quantized.insert(
                key.clone(),
                Params4bit::from_state_dict(key, &tensors, path)?,
            );
        }
        let owned = |name: &str| {
            weight_keys.iter().any(|key| {
                name == key
                    || name
                        .strip_prefix(key.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            })
        };
        for (name, tensor) in tensors {
            if !owned(&name) {
                out.passthrough.insert(name, tensor);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dict_round_trip_with_and_without_double_quant() {
        let values: Vec<f32> = (0..24 * 48).map(|i| (i as f32 * 0.913).sin()).collect();
        let tensor = Tensor::from_vec(values, (24, 48), &Device::Cpu).unwrap();
        for double_quant in [false, true] {
            let params = Params4bit::quantize("w", &tensor, 64, double_quant).unwrap();
            let entries: HashMap<String, Tensor> = params
                .state_dict_entries("w")
                .unwrap()
                .into_iter()
                .collect();
            let read = Params4bit::from_state_dict("w", &entries, Path::new("memory")).unwrap();
            assert_eq!(read.packed, params.packed);
            assert_eq!(read.shape, vec![24, 48]);
            assert_eq!(read.absmax_values(), params.absmax_values());
        }
    }

    #[test]
    fn unsupported_dtype_names_the_tensor() {
        let tensor = Tensor::zeros((4, 4), DType::I64, &Device::Cpu).unwrap();
        let error = Params4bit::quantize("layer.weight", &tensor, 64, false).unwrap_err();
        assert!(error.to_string().contains("layer.weight"), "{error}");
        assert_eq!(error.fault(), crate::Fault::Input);
    }

    #[test]
    fn non_finite_weight_names_the_tensor() {
        let tensor = Tensor::new(&[[1f32, f32::NAN], [0.5, 0.25]], &Device::Cpu).unwrap();
        let error = Params4bit::quantize("fc.weight", &tensor, 64, false).unwrap_err();
        assert!(
            matches!(&error, EngineError::NonFinite { tensor, index: 1, .. } if tensor == "fc.weight")
        );
    }
}
