//! LoRA adapters: `delta = (x @ A^T) @ B^T * (alpha / r)`, added to a frozen base output.
//!
//! Initialised as LitGPT does: A with PyTorch's `kaiming_uniform_(a=sqrt(5))`, i.e. uniform in
//! `±1/sqrt(in_features)`, and B zero, so the adapted model starts exactly at the base model. The scale multiplies
//! the delta only, never the base output.

use candle_core::{Device, Tensor, Var};

/// A small deterministic generator (SplitMix64) for adapter initialisation: reproducible runs without pulling in
/// a random-number crate for a few thousand draws.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        low + (high - low) * unit
    }
}

#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// `(r, in_features)`.
    pub a: Var,
    /// `(out_features, r)`.
    pub b: Var,
    pub scaling: f64,
}

impl LoraAdapter {
    pub fn new(
        in_features: usize,
        out_features: usize,
        rank: usize,
        alpha: f64,
        rng: &mut SplitMix64,
    ) -> candle_core::Result<Self> {
        let bound = 1.0 / (in_features as f32).sqrt();
        let a_values: Vec<f32> = (0..rank * in_features)
            .map(|_| rng.uniform(-bound, bound))
            .collect();
        let a = Var::from_tensor(&Tensor::from_vec(
            a_values,
            (rank, in_features),
            &Device::Cpu,
        )?)?;
        let b = Var::zeros((out_features, rank), candle_core::DType::F32, &Device::Cpu)?;
        Ok(LoraAdapter {
            a,
            b,
            scaling: alpha / rank as f64,
        })
    }

    /// The adapter's contribution for `x` of shape `(rows, in_features)`.
    pub fn delta(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.a.as_tensor().t()?)?
            .matmul(&self.b.as_tensor().t()?)?
            * self.scaling
    }

    pub fn vars(&self) -> [Var; 2] {
        [self.a.clone(), self.b.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_adapter_adds_nothing_and_a_is_bounded() {
        let mut rng = SplitMix64::new(7);
        let adapter = LoraAdapter::new(64, 32, 8, 16.0, &mut rng).unwrap();
        let x = Tensor::ones((3, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
        let delta: Vec<f32> = adapter
            .delta(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(delta.iter().all(|value| *value == 0.0));
        let a: Vec<f32> = adapter
            .a
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(a.iter().all(|value| value.abs() <= 0.125));
        assert_eq!(adapter.scaling, 2.0);
    }
}
