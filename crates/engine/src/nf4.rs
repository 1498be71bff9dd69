//! NF4 blockwise quantization, bit-exact with bitsandbytes' CUDA kernel.
//!
//! Per block of `blocksize` elements (the last block may be partial and uses its own absmax):
//! `absmax = max |x|` in f32, `scaled = x * (1 / absmax)` in f32, and the code is the one bitsandbytes'
//! `dQuantizeNF4` decision tree picks with strict `>` against its compiled f32 midpoints. Two codes per byte, the
//! even element in the high nibble; an odd element count leaves the last low nibble 0 (as the CUDA kernel does).
//! Dequantization is `codebook[code] * absmax` in f32 followed by one rounding to the output dtype.
//!
//! An all-zero block has absmax 0, so every scaled value is `0 * inf = NaN`; NaN fails every `>` of the tree and
//! takes code 0 (-1.0), which dequantizes to `-1.0 * 0 = -0.0`. bitsandbytes 0.49.2's CPU backend gives the same
//! codes (its argmin meets NaN first at index 0); other backends may not, which is why golden data records it.

use half::{bf16, f16};
use rayon::prelude::*;

use crate::nf4_code::{NF4_CODEBOOK, code_lane};

/// Block sizes bitsandbytes accepts for 4-bit quantization.
pub const BLOCK_SIZES: [usize; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

/// bitsandbytes' default 4-bit block size.
pub const DEFAULT_BLOCKSIZE: usize = 64;

/// Blocks handed to one rayon task: large enough that scheduling costs nothing next to the work.
const BLOCKS_PER_TASK_ELEMENTS: usize = 1 << 16;

/// Floating-point dtypes a weight may have; names follow torch (`str(dtype)` without `torch.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatDtype {
    F32,
    F16,
    Bf16,
}

impl FloatDtype {
    pub fn torch_name(self) -> &'static str {
        match self {
            FloatDtype::F32 => "float32",
            FloatDtype::F16 => "float16",
            FloatDtype::Bf16 => "bfloat16",
        }
    }

    pub fn from_torch_name(name: &str) -> Option<Self> {
        match name {
            "float32" => Some(FloatDtype::F32),
            "float16" => Some(FloatDtype::F16),
            "bfloat16" => Some(FloatDtype::Bf16),
            _ => None,
        }
    }
}

/// An element type the quantizer reads and the dequantizer writes.
pub trait Nf4Element: Copy + Default + Send + Sync + 'static {
    const DTYPE: FloatDtype;
    /// Widens one block to f32 (exact for all three types); f32 itself is returned without a copy.
    fn widen<'a>(block: &'a [Self], scratch: &'a mut [f32]) -> &'a [f32];
    /// Rounds an f32 to this type, to nearest even.
    fn narrow(value: f32) -> Self;
}

impl Nf4Element for f32 {
    const DTYPE: FloatDtype = FloatDtype::F32;
    fn widen<'a>(block: &'a [f32], _scratch: &'a mut [f32]) -> &'a [f32] {
        block
    }
    fn narrow(value: f32) -> f32 {
        value
    }
}

impl Nf4Element for f16 {
    const DTYPE: FloatDtype = FloatDtype::F16;
    fn widen<'a>(block: &'a [f16], scratch: &'a mut [f32]) -> &'a [f32] {
        let scratch = &mut scratch[..block.len()];
        for (wide, value) in scratch.iter_mut().zip(block) {
            *wide = value.to_f32();
        }
        scratch
    }
    fn narrow(value: f32) -> f16 {
        f16::from_f32(value)
    }
}

impl Nf4Element for bf16 {
    const DTYPE: FloatDtype = FloatDtype::Bf16;
    fn widen<'a>(block: &'a [bf16], scratch: &'a mut [f32]) -> &'a [f32] {
        let scratch = &mut scratch[..block.len()];
        for (wide, value) in scratch.iter_mut().zip(block) {
            *wide = f32::from_bits(u32::from(value.to_bits()) << 16);
        }
        scratch
    }
    fn narrow(value: f32) -> bf16 {
        bf16::from_f32(value)
    }
}

/// A quantized tensor: packed codes and one absmax per block, for `len` elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Nf4Tensor {
    pub packed: Vec<u8>,
    pub absmax: Vec<f32>,
    pub len: usize,
    pub blocksize: usize,
}

/// The first NaN or infinity met while quantizing (by flat index).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFiniteValue {
    pub index: usize,
    pub value: f32,
}

pub fn packed_len(len: usize) -> usize {
    len.div_ceil(2)
}

pub fn block_count(len: usize, blocksize: usize) -> usize {
    len.div_ceil(blocksize)
}

/// Quantizes `values` blockwise. `blocksize` must be one of [`BLOCK_SIZES`] (checked by the caller's parser;
/// here any even size works).
pub fn quantize<T: Nf4Element>(
    values: &[T],
    blocksize: usize,
) -> Result<Nf4Tensor, NonFiniteValue> {
    debug_assert!(blocksize >= 2 && blocksize.is_multiple_of(2));
    let len = values.len();
    let mut packed = vec![0u8; packed_len(len)];
    let mut absmax = vec![0f32; block_count(len, blocksize)];
    let blocks_per_task = (BLOCKS_PER_TASK_ELEMENTS / blocksize).max(1);
    let first_bad = values
        .par_chunks(blocks_per_task * blocksize)
        .zip(packed.par_chunks_mut(blocks_per_task * blocksize / 2))
        .zip(absmax.par_chunks_mut(blocks_per_task))
        .enumerate()
        .filter_map(|(task, ((task_values, task_packed), task_absmax))| {
            quantize_task(task_values, task_packed, task_absmax, blocksize).map(|bad| {
                NonFiniteValue {
                    index: task * blocks_per_task * blocksize + bad.index,
                    value: bad.value,
                }
            })
        })
        .min_by_key(|bad| bad.index);
    match first_bad {
        Some(bad) => Err(bad),
        None => Ok(Nf4Tensor {
            packed,
            absmax,
            len,
            blocksize,
        }),
    }
}

/// Runs the task with the widest vector instructions the CPU has: the threshold count is 15 compares per element,
/// which the compiler vectorizes 8 (AVX2) instead of 4 (baseline SSE2) lanes wide; the results are identical.
fn quantize_task<T: Nf4Element>(
    values: &[T],
    packed: &mut [u8],
    absmax: &mut [f32],
    blocksize: usize,
) -> Option<NonFiniteValue> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { quantize_task_avx512(values, packed, absmax, blocksize) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { quantize_task_avx2(values, packed, absmax, blocksize) };
    }
    quantize_task_portable(values, packed, absmax, blocksize, encode_portable)
}

/// With AVX-512, whole blocks of 16-multiples (every bitsandbytes block size) take the bucket-table encoder, which
/// needs a handful of instructions per 16 values instead of 15 compares per 8; a partial last block the portable one.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn quantize_task_avx512<T: Nf4Element>(
    values: &[T],
    packed: &mut [u8],
    absmax: &mut [f32],
    blocksize: usize,
) -> Option<NonFiniteValue> {
    let tables = crate::nf4_avx512::BucketTables::new();
    let encode = |wide: &[f32], reciprocal: f32, codes: &mut [u32], out: &mut [u8]| {
        if wide.len().is_multiple_of(16) {
            // SAFETY: this function only runs where AVX-512F is available.
            unsafe { tables.encode(wide, reciprocal, out) }
        } else {
            encode_portable(wide, reciprocal, codes, out)
        }
    };
    quantize_task_portable(values, packed, absmax, blocksize, encode)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_task_avx2<T: Nf4Element>(
    values: &[T],
    packed: &mut [u8],
    absmax: &mut [f32],
    blocksize: usize,
) -> Option<NonFiniteValue> {
    quantize_task_portable(values, packed, absmax, blocksize, encode_portable)
}

/// Codes of one block's values scaled by `reciprocal`, packed into `out` (`codes` is scratch of the block's length).
#[inline(always)]
fn encode_portable(wide: &[f32], reciprocal: f32, codes: &mut [u32], out: &mut [u8]) {
    let codes = &mut codes[..wide.len()];
    for (code, value) in codes.iter_mut().zip(wide) {
        *code = code_lane(value * reciprocal);
    }
    pack_codes(codes, out);
}

#[inline(always)]
fn quantize_task_portable<T: Nf4Element>(
    values: &[T],
    packed: &mut [u8],
    absmax: &mut [f32],
    blocksize: usize,
    encode: impl Fn(&[f32], f32, &mut [u32], &mut [u8]),
) -> Option<NonFiniteValue> {
    let mut scratch = vec![0f32; blocksize];
    let mut codes = vec![0u32; blocksize];
    for (block_index, ((block, out), block_absmax)) in values
        .chunks(blocksize)
        .zip(packed.chunks_mut(blocksize / 2))
        .zip(absmax.iter_mut())
        .enumerate()
    {
        let wide = T::widen(block, &mut scratch);
        // Max of the magnitude bits: exact for finite floats, and NaN/inf (exponent all ones) sort above them,
        // so one integer pass both finds absmax and detects bad values.
        let magnitude_bits = wide
            .iter()
            .fold(0u32, |max, value| max.max(value.to_bits() & 0x7fff_ffff));
        if magnitude_bits >= 0x7f80_0000 {
            let offset = wide
                .iter()
                .position(|value| !value.is_finite())
                .unwrap_or(0);
            return Some(NonFiniteValue {
                index: block_index * blocksize + offset,
                value: wide[offset],
            });
        }
        let block_max = f32::from_bits(magnitude_bits);
        *block_absmax = block_max;
        encode(wide, 1.0 / block_max, &mut codes, out);
    }
    None
}

/// Packs codes two per byte, even index in the high nibble; an odd tail leaves the low nibble 0.
#[inline(always)]
fn pack_codes(codes: &[u32], out: &mut [u8]) {
    let pairs = codes.len() / 2;
    for (byte, pair) in out[..pairs].iter_mut().zip(codes.chunks_exact(2)) {
        *byte = ((pair[0] << 4) | pair[1]) as u8;
    }
    if codes.len() % 2 == 1 {
        out[pairs] = (codes[codes.len() - 1] << 4) as u8;
    }
}

/// Unpacks `len` codes (for tests and comparisons).
pub fn unpack_codes(packed: &[u8], len: usize) -> Vec<u8> {
    packed
        .iter()
        .flat_map(|byte| [byte >> 4, byte & 0x0f])
        .take(len)
        .collect()
}

/// Dequantizes into `out` (`out.len()` elements) with the given per-block absmax.
pub fn dequantize_into<T: Nf4Element>(
    packed: &[u8],
    absmax: &[f32],
    blocksize: usize,
    out: &mut [T],
) {
    let blocks_per_task = (BLOCKS_PER_TASK_ELEMENTS / blocksize).max(1);
    out.par_chunks_mut(blocks_per_task * blocksize)
        .zip(packed.par_chunks(blocks_per_task * blocksize / 2))
        .zip(absmax.par_chunks(blocks_per_task))
        .for_each(|((task_out, task_packed), task_absmax)| {
            for ((block_out, block_packed), &block_max) in task_out
                .chunks_mut(blocksize)
                .zip(task_packed.chunks(blocksize / 2))
                .zip(task_absmax)
            {
                dequantize_block(block_packed, block_max, block_out);
            }
        });
}

/// One block: the 16 possible outputs are computed (and rounded) once, then every element is a table lookup.
/// This is exact because each output is `narrow(codebook[code] * absmax)` whichever element it lands on.
fn dequantize_block<T: Nf4Element>(packed: &[u8], block_max: f32, out: &mut [T]) {
    let table: [T; 16] = std::array::from_fn(|code| T::narrow(NF4_CODEBOOK[code] * block_max));
    let pairs = out.len() / 2;
    let (out_pairs, tail) = out.split_at_mut(pairs * 2);
    for (pair, &byte) in out_pairs.chunks_exact_mut(2).zip(packed) {
        pair[0] = table[usize::from(byte >> 4)];
        pair[1] = table[usize::from(byte & 0x0f)];
    }
    if let Some(last) = tail.first_mut() {
        *last = table[usize::from(packed[pairs] >> 4)];
    }
}

pub fn dequantize<T: Nf4Element>(tensor: &Nf4Tensor) -> Vec<T> {
    let mut out = vec![T::default(); tensor.len];
    dequantize_into(&tensor.packed, &tensor.absmax, tensor.blocksize, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_length_and_partial_block_round_trip_exactly_on_codebook_values() {
        let values: Vec<f32> = (0..131).map(|i| NF4_CODEBOOK[i % 16] * 3.0).collect();
        let quantized = quantize(&values, 64).unwrap();
        assert_eq!(quantized.packed.len(), 66);
        assert_eq!(quantized.absmax, vec![3.0, 3.0, 3.0]);
        assert_eq!(
            quantized.packed[65] & 0x0f,
            0,
            "odd tail leaves the low nibble 0"
        );
        assert_eq!(dequantize::<f32>(&quantized), values);
    }

    #[test]
    fn all_zero_block_takes_code_zero_and_dequantizes_to_negative_zero() {
        let mut values = vec![0.5f32; 192];
        values[64..128].fill(0.0);
        let quantized = quantize(&values, 64).unwrap();
        assert_eq!(quantized.absmax[1], 0.0);
        assert!(quantized.packed[32..64].iter().all(|&byte| byte == 0));
        let restored = dequantize::<f32>(&quantized);
        assert!(
            restored[64..128]
                .iter()
                .all(|value| *value == 0.0 && value.is_sign_negative())
        );
    }

    #[test]
    fn non_finite_values_are_reported_by_flat_index() {
        let mut values = vec![0.25f32; 300];
        values[77] = f32::INFINITY;
        values[250] = f32::NAN;
        let error = quantize(&values, 64).unwrap_err();
        assert_eq!(error.index, 77);
    }

    #[test]
    fn half_precision_outputs_are_rounded_once_from_f32() {
        let values: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin() * 1.7).collect();
        let quantized = quantize(&values, 64).unwrap();
        let wide = dequantize::<f32>(&quantized);
        let narrow = dequantize::<bf16>(&quantized);
        for (w, n) in wide.iter().zip(&narrow) {
            assert_eq!(bf16::from_f32(*w), *n);
        }
    }
}
