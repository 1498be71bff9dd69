//! Frozen linear layers: dense f32 or NF4 (`Linear4bit`), computed in f32 on CPU.
//!
//! A 4-bit layer keeps its packed state and dequantizes it once to f32: the base is frozen during LoRA training,
//! so the f32 copy is exactly what bitsandbytes' per-call dequantization would produce, without redoing it.
//!
//! The layer runs as one candle op whose backward yields only the input's gradient `grad @ W`: candle's autograd
//! computes a gradient for every operand of a tracked op, so a plain `x.matmul(W^T) + b` would also compute (and
//! throw away) `x^T @ grad` and the bias' sum in every LoRA step, about as much work again as the forward.
//! Its products run single-threaded: the engine's shapes (a few hundred rows) are past gemm's threading threshold
//! yet too small to gain from a second thread; measured on the tiny GPT's step (2 cores), threading cost ~0.8 ms
//! of 5.3 ms.

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Shape, Tensor};
use gemm::{Parallelism, gemm};

use crate::EngineError;
use crate::fused::{contiguous_f32, with_f32};
use crate::state_dict::Params4bit;

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
        let op = FrozenMatmul {
            weight: self.weight.contiguous()?,
            bias: self.bias.as_ref().map(Tensor::contiguous).transpose()?,
        };
        let out = x
            .reshape((rows, features[0]))?
            .contiguous()?
            .apply_op1(op)?;
        let mut out_dims = leading.to_vec();
        out_dims.push(self.out_features());
        out.reshape(out_dims)
    }
}

/// `x @ W^T + b` for `x: (rows, in)`, differentiable in `x` only (the layer is frozen).
struct FrozenMatmul {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, x: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, features) = layout.shape().dims2()?;
        let out = self.weight.dim(0)?;
        let x = contiguous_f32(x, layout)?;
        let mut y = with_f32(&self.weight, |w| {
            Ok(matmul_serial(x, w, (rows, features, out), true))
        })?;
        if let Some(bias) = &self.bias {
            with_f32(bias, |bias| {
                for row in y.chunks_exact_mut(out) {
                    row.iter_mut().zip(bias).for_each(|(value, b)| *value += b);
                }
                Ok(())
            })?;
        }
        Ok((CpuStorage::F32(y), Shape::from((rows, out))))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let input_grad = InputGrad {
            weight: self.weight.clone(),
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&input_grad)?))
    }
}

/// `grad @ W` for `grad: (rows, out)`: the gradient of [`FrozenMatmul`]'s input.
struct InputGrad {
    weight: Tensor,
}

impl CustomOp1 for InputGrad {
    fn name(&self) -> &'static str {
        "frozen-linear-input-grad"
    }

    fn cpu_fwd(
        &self,
        grad: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, out) = layout.shape().dims2()?;
        let features = self.weight.dim(1)?;
        let grad = contiguous_f32(grad, layout)?;
        let x_grad = with_f32(&self.weight, |w| {
            Ok(matmul_serial(grad, w, (rows, out, features), false))
        })?;
        Ok((CpuStorage::F32(x_grad), Shape::from((rows, features))))
    }
}

/// `lhs (m, k) @ rhs` on one thread, `rhs` row-major `(k, n)`, or `(n, k)` when `rhs_transposed`.
fn matmul_serial(
    lhs: &[f32],
    rhs: &[f32],
    (m, k, n): (usize, usize, usize),
    rhs_transposed: bool,
) -> Vec<f32> {
    assert!(lhs.len() == m * k && rhs.len() == k * n);
    let mut dst = vec![0f32; m * n];
    let (rhs_rs, rhs_cs) = if rhs_transposed { (1, k) } else { (n, 1) };
    // SAFETY: the asserted lengths bound every index gemm reads ((m, k), (k, n) with the strides above) and
    // `dst` holds exactly (m, n) row-major.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nf4_code::NF4_CODEBOOK;

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
