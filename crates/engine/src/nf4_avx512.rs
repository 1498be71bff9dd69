//! The NF4 code step with AVX-512, bit for bit the CUDA tree's answer.
//!
//! The tree's answer is the number of its thresholds below the scaled value `x` (strict `>`). Cut [-1, 1) into 32
//! buckets of width 1/16: the thresholds are at least 0.08 apart, so a bucket holds at most one, and each lies more
//! than 1e-3 from a bucket edge. So `count = below[b] + (x > inside[b])` with `b = trunc((x + 1) * 16)` clamped to
//! 0..=31: the rounding of `(x + 1) * 16` (~1e-7) can move `x` to a neighbouring bucket only near an edge, where no
//! threshold lies, and the one threshold that matters is compared exactly. Values outside [-1, 1] (a scaled value
//! may round just past ±1) land in the end buckets, which hold no threshold; NaN (an all-zero block) makes `trunc`
//! return `i32::MIN`, clamped to bucket 0, and fails the compare: code 0, as the tree gives. Both 32-entry tables
//! fit two registers, so a lookup is one `vpermt2d`/`vpermt2ps` for 16 values.

use std::arch::x86_64::*;

use crate::nf4_code::CUDA_TREE_THRESHOLDS;

const BUCKETS: usize = 32;

pub struct BucketTables {
    /// Thresholds below the bucket's lower edge.
    below: [i32; BUCKETS],
    /// The threshold inside the bucket, or +inf.
    inside: [f32; BUCKETS],
}

impl BucketTables {
    pub fn new() -> Self {
        let mut tables = BucketTables {
            below: [0; BUCKETS],
            inside: [f32::INFINITY; BUCKETS],
        };
        for bucket in 0..BUCKETS {
            let lower = bucket as f32 / 16.0 - 1.0;
            let upper = lower + 1.0 / 16.0;
            tables.below[bucket] =
                CUDA_TREE_THRESHOLDS.iter().filter(|t| **t < lower).count() as i32;
            if let Some(t) = CUDA_TREE_THRESHOLDS
                .iter()
                .find(|t| lower <= **t && **t < upper)
            {
                tables.inside[bucket] = *t;
            }
        }
        tables
    }

    /// Packs the codes of `block * reciprocal` into `out`, two per byte, even element in the high nibble.
    /// `block.len()` must be a multiple of 16 and `out` hold half as many bytes.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn encode(&self, block: &[f32], reciprocal: f32, out: &mut [u8]) {
        debug_assert!(block.len().is_multiple_of(16) && out.len() >= block.len() / 2);
        // SAFETY: each table is 32 contiguous 4-byte values; two unaligned 64-byte loads read exactly them.
        let (below_lo, below_hi, inside_lo, inside_hi) = unsafe {
            (
                _mm512_loadu_si512(self.below.as_ptr().cast()),
                _mm512_loadu_si512(self.below.as_ptr().add(16).cast()),
                _mm512_loadu_ps(self.inside.as_ptr()),
                _mm512_loadu_ps(self.inside.as_ptr().add(16)),
            )
        };
        let (scale, one, sixteen) = (
            _mm512_set1_ps(reciprocal),
            _mm512_set1_ps(1.0),
            _mm512_set1_ps(16.0),
        );
        let (first, last, step) = (
            _mm512_setzero_si512(),
            _mm512_set1_epi32(BUCKETS as i32 - 1),
            _mm512_set1_epi32(1),
        );
        for (chunk, bytes) in block.chunks_exact(16).zip(out.chunks_exact_mut(8)) {
            // SAFETY: `chunk` holds 16 f32.
            let x = _mm512_mul_ps(unsafe { _mm512_loadu_ps(chunk.as_ptr()) }, scale);
            let bucket = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_add_ps(x, one), sixteen));
            let bucket = _mm512_min_epi32(_mm512_max_epi32(bucket, first), last);
            let below = _mm512_permutex2var_epi32(below_lo, bucket, below_hi);
            let inside = _mm512_permutex2var_ps(inside_lo, bucket, inside_hi);
            let above = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, inside);
            let codes = _mm512_mask_add_epi32(below, above, below, step);
            // A 64-bit lane holds an (even, odd) pair of codes: even << 4 | odd lands in its low byte.
            let pairs = _mm512_or_si512(
                _mm512_slli_epi64::<4>(codes),
                _mm512_srli_epi64::<32>(codes),
            );
            // SAFETY: `bytes` holds 8 bytes, exactly the low half of the 128-bit result.
            unsafe { _mm_storel_epi64(bytes.as_mut_ptr().cast(), _mm512_cvtepi64_epi8(pairs)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nf4_code::code_of_scaled;

    /// Ignored by a plain `cargo test`, which a CPU without AVX-512 must be able to pass; `.ci/run` includes it
    /// (`--include-ignored`), and there it fails on such a CPU rather than pass without comparing anything.
    #[test]
    #[ignore = "needs a CPU with AVX-512F; .ci/run includes it"]
    fn bucket_codes_equal_the_threshold_count_everywhere_it_matters() {
        assert!(
            std::arch::is_x86_feature_detected!("avx512f"),
            "this CPU has no AVX-512F: the AVX-512 NF4 encoder cannot be tested here (the portable one runs instead)"
        );
        let mut xs = vec![
            f32::NAN,
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.0f32.next_up(),
            (-1.0f32).next_down(),
        ];
        for t in CUDA_TREE_THRESHOLDS {
            xs.extend([
                t,
                t.next_up(),
                t.next_down(),
                t.next_up().next_up(),
                t.next_down().next_down(),
            ]);
        }
        for bucket in 0..=BUCKETS {
            let edge = bucket as f32 / 16.0 - 1.0;
            xs.extend([edge, edge.next_up(), edge.next_down()]);
        }
        xs.extend((0..=200_000).map(|step| -1.0 + step as f32 * 1e-5));
        xs.resize(xs.len().next_multiple_of(16), 0.5);
        let tables = BucketTables::new();
        let mut packed = vec![0u8; xs.len() / 2];
        // SAFETY: AVX-512F asserted above.
        unsafe { tables.encode(&xs, 1.0, &mut packed) };
        for (i, x) in xs.iter().enumerate() {
            let code = if i % 2 == 0 {
                packed[i / 2] >> 4
            } else {
                packed[i / 2] & 0x0f
            };
            assert_eq!(code, code_of_scaled(*x), "x = {x:e}");
        }
    }
}
