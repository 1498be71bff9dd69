//! The NF4 code of one value: the 16 NF4 values and the thresholds of bitsandbytes' CUDA decision tree, which both the
//! portable quantizer ([`crate::nf4`]) and the AVX-512 one choose codes with.

/// The 16 NF4 values, indexed by code.
pub const NF4_CODEBOOK: [f32; 16] = [
    -1.0,
    -0.696_192_8,
    -0.525_073_05,
    -0.394_917_5,
    -0.284_441_38,
    -0.184_773_43,
    -0.091_050_036,
    0.0,
    0.079_580_3,
    0.160_930_2,
    0.246_112_3,
    0.337_915_24,
    0.440_709_83,
    0.562_617,
    0.722_956_84,
    1.0,
];

/// The f32 literals of bitsandbytes' CUDA `dQuantizeNF4` tree, sorted ascending. The tree is a balanced binary
/// search over exactly these values with strict `>`, so its result equals the number of thresholds below `x`.
/// They are the literals as written in `csrc/kernels.cu`, rounded once to f32 as a C++ compiler rounds a `...f`
/// literal. Four of them lie exactly halfway between two f32 values once read as f64, so rounding through f64
/// (as `np.float32(float(text))` does) would land one ulp away; only exact ties can tell the difference.
#[allow(clippy::excessive_precision)]
pub const CUDA_TREE_THRESHOLDS: [f32; 15] = [
    -0.8480964004993439,
    -0.6106329262256622,
    -0.4599952697753906,
    -0.33967943489551544,
    -0.23460740596055984,
    -0.13791173323988914,
    -0.045525018125772476,
    0.03979014977812767,
    0.1202552504837513,
    0.2035212516784668,
    0.2920137718319893,
    0.3893125355243683,
    0.5016634166240692,
    0.6427869200706482,
    0.8614784181118011,
];

/// The code bitsandbytes' CUDA tree assigns to an already scaled value (NaN gives 0).
#[inline(always)]
pub fn code_of_scaled(scaled: f32) -> u8 {
    code_lane(scaled) as u8
}

/// The threshold count in 32-bit lanes, the width of an f32 compare mask, so the loop vectorizes without repacking.
#[inline(always)]
pub(crate) fn code_lane(scaled: f32) -> u32 {
    let mut code = 0u32;
    for threshold in CUDA_TREE_THRESHOLDS {
        code += u32::from(scaled > threshold);
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bitsandbytes' `dQuantizeNF4` written as the nested branches of `csrc/kernels.cu`.
    #[allow(clippy::excessive_precision)]
    fn cuda_tree(x: f32) -> u8 {
        if x > 0.03979014977812767 {
            if x > 0.3893125355243683 {
                if x > 0.6427869200706482 {
                    if x > 0.8614784181118011 { 15 } else { 14 }
                } else if x > 0.5016634166240692 {
                    13
                } else {
                    12
                }
            } else if x > 0.2035212516784668 {
                if x > 0.2920137718319893 { 11 } else { 10 }
            } else if x > 0.1202552504837513 {
                9
            } else {
                8
            }
        } else if x > -0.33967943489551544 {
            if x > -0.13791173323988914 {
                if x > -0.045525018125772476 { 7 } else { 6 }
            } else if x > -0.23460740596055984 {
                5
            } else {
                4
            }
        } else if x > -0.6106329262256622 {
            if x > -0.4599952697753906 { 3 } else { 2 }
        } else if x > -0.8480964004993439 {
            1
        } else {
            0
        }
    }

    #[test]
    fn threshold_count_equals_the_cuda_tree() {
        let mut probes = vec![f32::NAN, 0.0, -0.0, 1.0, -1.0, 2.0, -2.0];
        for threshold in CUDA_TREE_THRESHOLDS {
            probes.extend([threshold, threshold.next_up(), threshold.next_down()]);
        }
        probes.extend((0..=20_000).map(|step| -1.0 + step as f32 * 1e-4));
        for x in probes {
            assert_eq!(code_of_scaled(x), cuda_tree(x), "x = {x:e}");
        }
    }

    #[test]
    fn thresholds_sit_between_neighbouring_codes() {
        for (index, threshold) in CUDA_TREE_THRESHOLDS.iter().enumerate() {
            assert!(NF4_CODEBOOK[index] < *threshold && *threshold < NF4_CODEBOOK[index + 1]);
        }
    }
}
