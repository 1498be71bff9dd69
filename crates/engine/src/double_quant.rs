//! Double quantization of NF4 absmax values (`compress_statistics=True` in bitsandbytes).
//!
//! `offset = mean(absmax)`; `absmax - offset` is quantized blockwise (block 256) to 8 bits with bitsandbytes'
//! signed dynamic map, each code chosen as bitsandbytes' CUDA `dQuantize<0>` does (binary search, then the nearer
//! neighbour by midpoint). Restoring is `map[code] * nested_absmax + offset` in f32. The mean's summation order
//! differs between implementations (and so, by an ulp, may every value after it), so this state is compared with
//! bitsandbytes' within a tolerance, not bit for bit.

/// bitsandbytes quantizes the absmax statistics with this block size.
pub const NESTED_BLOCKSIZE: usize = 256;

/// The 8-bit state that replaces a plain absmax vector.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedAbsmax {
    pub codes: Vec<u8>,
    pub nested_absmax: Vec<f32>,
    pub quant_map: Vec<f32>,
    pub offset: f32,
    pub blocksize: usize,
}

/// bitsandbytes' `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`, evaluated in f32 the way
/// torch evaluates it (`linspace` from both ends, means of neighbours, times the power of ten rounded to f32).
/// Its first entry is -0.99296875 as CUDA uses it; bitsandbytes' CPU kernel overwrites it in place with -1.0.
pub fn signed_dynamic_map() -> Vec<f32> {
    const MAX_EXPONENT_BITS: i32 = 7;
    let mut map = Vec::with_capacity(256);
    for exponent in 0..MAX_EXPONENT_BITS {
        let boundaries = torch_linspace(0.1, 1.0, (1usize << exponent) + 1);
        let scale = 10f64.powi(exponent - (MAX_EXPONENT_BITS - 1)) as f32;
        for pair in boundaries.windows(2) {
            let mean = (pair[0] + pair[1]) / 2.0;
            map.push(scale * mean);
            map.push(-(scale * mean));
        }
    }
    map.push(0.0);
    map.push(1.0);
    map.resize(256, 0.0);
    map.sort_by(f32::total_cmp);
    map
}

/// torch.linspace for f32 on CPU: the first half counts up from `start`, the second half down from `end`, each a
/// fused multiply-add (torch's vectorized kernel is compiled with FMA; plain mul-then-add differs in 12 entries).
fn torch_linspace(start: f32, end: f32, steps: usize) -> Vec<f32> {
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|index| {
            if index < halfway {
                step.mul_add(index as f32, start)
            } else {
                (-step).mul_add((steps - index - 1) as f32, end)
            }
        })
        .collect()
}

/// bitsandbytes' CUDA `dQuantize<0>` on a sorted 256-entry map.
fn dynamic_code(map: &[f32], x: f32) -> u8 {
    let mut pivot = 127usize;
    let mut upper_pivot = 255usize;
    let mut lower_pivot = 0usize;
    let mut lower = -1.0f32;
    let mut upper = 1.0f32;
    let mut value = map[pivot];
    let mut step = 64usize;
    while step > 0 {
        if x > value {
            lower_pivot = pivot;
            lower = value;
            pivot += step;
        } else {
            upper_pivot = pivot;
            upper = value;
            pivot -= step;
        }
        value = map[pivot];
        step >>= 1;
    }
    if upper_pivot == 255 {
        upper = map[upper_pivot];
    }
    if lower_pivot == 0 {
        lower = map[lower_pivot];
    }
    let chosen = if x > value {
        if x > (upper + value) * 0.5 {
            upper_pivot
        } else {
            pivot
        }
    } else if x < (lower + value) * 0.5 {
        lower_pivot
    } else {
        pivot
    };
    chosen as u8
}

impl NestedAbsmax {
    pub fn compress(absmax: &[f32]) -> Self {
        let quant_map = signed_dynamic_map();
        // f64 accumulation gives the correctly rounded mean; torch's f32 pairwise sum may differ by an ulp.
        let offset = (absmax.iter().map(|&value| f64::from(value)).sum::<f64>()
            / absmax.len().max(1) as f64) as f32;
        let centered: Vec<f32> = absmax.iter().map(|&value| value - offset).collect();
        let mut codes = Vec::with_capacity(centered.len());
        let mut nested_absmax = Vec::with_capacity(centered.len().div_ceil(NESTED_BLOCKSIZE));
        for block in centered.chunks(NESTED_BLOCKSIZE) {
            let block_max = block.iter().fold(0f32, |max, value| max.max(value.abs()));
            let reciprocal = 1.0 / block_max;
            codes.extend(
                block
                    .iter()
                    .map(|&value| dynamic_code(&quant_map, value * reciprocal)),
            );
            nested_absmax.push(block_max);
        }
        NestedAbsmax {
            codes,
            nested_absmax,
            quant_map,
            offset,
            blocksize: NESTED_BLOCKSIZE,
        }
    }

    /// The absmax values the 4-bit dequantizer uses.
    pub fn restore(&self) -> Vec<f32> {
        self.codes
            .chunks(self.blocksize)
            .zip(&self.nested_absmax)
            .flat_map(|(block, &block_max)| {
                block
                    .iter()
                    .map(move |&code| self.quant_map[usize::from(code)] * block_max + self.offset)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_map_is_sorted_with_both_ends() {
        let map = signed_dynamic_map();
        assert_eq!(map.len(), 256);
        assert!(map.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(map[255], 1.0);
        assert!(map[0] > -1.0 && map[0] < -0.99, "{}", map[0]);
    }

    #[test]
    fn codes_are_nearest_entries() {
        let map = signed_dynamic_map();
        for step in 0..=2000 {
            let x = -1.0 + step as f32 * 1e-3;
            let code = usize::from(dynamic_code(&map, x));
            let best = map
                .iter()
                .map(|entry| (entry - x).abs())
                .fold(f32::INFINITY, f32::min);
            assert!(((map[code] - x).abs() - best).abs() <= 1e-7, "x = {x}");
        }
    }

    #[test]
    fn restore_is_close_to_the_original() {
        let absmax: Vec<f32> = (0..600)
            .map(|i| 1.0 + (i as f32 * 0.7).sin().abs())
            .collect();
        let nested = NestedAbsmax::compress(&absmax);
        assert_eq!(nested.nested_absmax.len(), 3);
        for (original, restored) in absmax.iter().zip(nested.restore()) {
            assert!(
                (original - restored).abs() < 0.01 * original,
                "{original} vs {restored}"
            );
        }
    }
}
