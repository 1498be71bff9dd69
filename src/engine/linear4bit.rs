//! Frozen linear layers: dense f32 or NF4 (`Linear4bit`), computed in f32 on CPU.
//!
//! A 4-bit layer keeps its packed state and dequantizes it once to f32: the base is frozen during LoRA training,
//! so the f32 copy is exactly what bitsandbytes' per-call dequantization would produce, without redoing it.

use candle_core::{Device, Tensor};

use super::EngineError;
use super::state_dict::Params4bit;

#[derive(Debug, Clone)]
pub struct FrozenLinear {
    /// `(out, in)` in f32, as PyTorch stores it.
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    /// The NF4 state the weight came from, if quantized.
    pub nf4: Option<Params4bit>,
}

impl FrozenLinear {
    pub fn dense(weight: Tensor, bias: Option<Tensor>) -> Self {
        FrozenLinear {
            weight,
            bias,
            nf4: None,
        }
    }

    pub fn from_nf4(params: Params4bit, bias: Option<Tensor>) -> Result<Self, EngineError> {
        let weight = Tensor::from_vec(
            params.dequantize_f32(),
            params.shape.as_slice(),
            &Device::Cpu,
        )?;
        Ok(FrozenLinear {
            weight,
            bias,
            nf4: Some(params),
        })
    }

    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }

    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// `x @ W^T + b` for `x` of shape `(..., in)`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let dims = x.dims().to_vec();
        let (leading, features) = dims.split_at(dims.len() - 1);
        let rows: usize = leading.iter().product();
        let flat = x.reshape((rows, features[0]))?;
        let mut out = flat.matmul(&self.weight.t()?)?;
        if let Some(bias) = &self.bias {
            out = out.broadcast_add(bias)?;
        }
        let mut out_dims = leading.to_vec();
        out_dims.push(self.out_features());
        out.reshape(out_dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::nf4::NF4_CODEBOOK;

    #[test]
    fn codebook_weights_survive_quantization_exactly() {
        let cpu = Device::Cpu;
        let code = |index: usize| NF4_CODEBOOK[index];
        let rows = [
            [code(13), code(0), code(10), code(7)],
            [code(15), code(14), code(2), code(8)],
        ];
        let weight = Tensor::new(&rows, &cpu).unwrap();
        let params = Params4bit::quantize("w", &weight, 64, false).unwrap();
        let layer =
            FrozenLinear::from_nf4(params, Some(Tensor::new(&[1f32, 2.0], &cpu).unwrap())).unwrap();
        let x = Tensor::new(&[[[1f32, 1.0, 1.0, 1.0]]], &cpu).unwrap();
        let y: Vec<f32> = layer
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let expected: Vec<f32> = rows
            .iter()
            .zip([1f32, 2.0])
            .map(|(row, bias)| row.iter().sum::<f32>() + bias)
            .collect();
        assert_eq!(y, expected);
    }
}
