//! Fused CPU ops with hand-written backward passes for the parts of the GPT whose parameters are frozen.
//!
//! Composed from candle's primitives, a layer norm is eight ops and a masked softmax six, each allocating, and
//! candle's autograd also computes a gradient for every operand of a tracked op, frozen or constant (norm weights,
//! the causal mask), only to drop it. On the tiny GPT's LoRA step, where every tensor is a few KB, that per-op
//! overhead was most of the time. Here each is one op forward and one op backward, giving the input's gradient only.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Storage, Tensor};

/// LayerNorm over the last dim with frozen `weight` and `bias`, as PyTorch's (biased variance, `eps` inside the
/// square root).
pub fn layer_norm(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(LayerNorm {
        weight: weight.contiguous()?,
        bias: bias.contiguous()?,
        eps: eps as f32,
    })
}

/// `softmax(x * scale + causal_mask)` over the last dim of `(..., time, time)` scores: query `i` sees keys `<= i`.
pub fn causal_softmax(scores: &Tensor, scale: f64) -> candle_core::Result<Tensor> {
    scores.contiguous()?.apply_op1(CausalSoftmax {
        scale: scale as f32,
    })
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

/// One row's `(x - mean) / sqrt(var + eps)` into `normalized`; returns `1 / sqrt(var + eps)`.
fn normalize_row(x: &[f32], eps: f32, normalized: &mut [f32]) -> f32 {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let variance = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv_std = 1.0 / (variance + eps).sqrt();
    for (out, v) in normalized.iter_mut().zip(x) {
        *out = (v - mean) * inv_std;
    }
    inv_std
}

impl CustomOp1 for LayerNorm {
    fn name(&self) -> &'static str {
        "layer-norm-frozen"
    }

    fn cpu_fwd(&self, x: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(x, layout)?;
        let mut y = vec![0f32; x.len()];
        with_f32(&self.weight, |weight| {
            with_f32(&self.bias, |bias| {
                for (x, y) in x
                    .chunks_exact(weight.len())
                    .zip(y.chunks_exact_mut(weight.len()))
                {
                    normalize_row(x, self.eps, y);
                    for ((y, w), b) in y.iter_mut().zip(weight).zip(bias) {
                        *y = *y * w + b;
                    }
                }
                Ok(())
            })
        })?;
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let input_grad = LayerNormInputGrad {
            weight: self.weight.clone(),
            eps: self.eps,
        };
        Ok(Some(x.apply_op2_no_bwd(&grad.contiguous()?, &input_grad)?))
    }
}

/// `dx = inv_std * (g' - mean(g') - x_hat * mean(g' * x_hat))` with `g' = grad * weight`, per row.
struct LayerNormInputGrad {
    weight: Tensor,
    eps: f32,
}

impl CustomOp2 for LayerNormInputGrad {
    fn name(&self) -> &'static str {
        "layer-norm-frozen-input-grad"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(x, x_layout)?;
        let grad = contiguous_f32(grad, grad_layout)?;
        let mut dx = vec![0f32; x.len()];
        with_f32(&self.weight, |weight| {
            let n = weight.len();
            let mut x_hat = vec![0f32; n];
            let mut scaled = vec![0f32; n];
            for ((x, grad), dx) in x
                .chunks_exact(n)
                .zip(grad.chunks_exact(n))
                .zip(dx.chunks_exact_mut(n))
            {
                let inv_std = normalize_row(x, self.eps, &mut x_hat);
                for ((s, g), w) in scaled.iter_mut().zip(grad).zip(weight) {
                    *s = g * w;
                }
                let mean_scaled = scaled.iter().sum::<f32>() / n as f32;
                let mean_dot =
                    scaled.iter().zip(&x_hat).map(|(s, h)| s * h).sum::<f32>() / n as f32;
                for ((dx, s), h) in dx.iter_mut().zip(&scaled).zip(&x_hat) {
                    *dx = inv_std * (s - mean_scaled - h * mean_dot);
                }
            }
            Ok(())
        })?;
        Ok((CpuStorage::F32(dx), x_layout.shape().clone()))
    }
}

struct CausalSoftmax {
    scale: f32,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(
        &self,
        scores: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let time = layout.shape().dims().last().copied().unwrap_or(0);
        let scores = contiguous_f32(scores, layout)?;
        let mut probs = vec![0f32; scores.len()];
        for (row, (scores, probs)) in scores
            .chunks_exact(time)
            .zip(probs.chunks_exact_mut(time))
            .enumerate()
        {
            // Keys past the query are masked out: probability exactly 0, as `exp(-inf)`.
            let visible = row % time + 1;
            let max = scores[..visible]
                .iter()
                .fold(f32::NEG_INFINITY, |m, &s| m.max(s));
            for (p, s) in probs[..visible].iter_mut().zip(scores) {
                *p = ((s - max) * self.scale).exp();
            }
            let sum: f32 = probs[..visible].iter().sum();
            probs[..visible].iter_mut().for_each(|p| *p /= sum);
        }
        Ok((CpuStorage::F32(probs), layout.shape().clone()))
    }

    fn bwd(
        &self,
        _scores: &Tensor,
        probs: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(probs.apply_op2_no_bwd(
            &grad.contiguous()?,
            &CausalSoftmaxGrad { scale: self.scale },
        )?))
    }
}

/// `d scores = scale * p * (g - sum(g * p))` per row; masked entries have `p = 0` and get 0.
struct CausalSoftmaxGrad {
    scale: f32,
}

impl CustomOp2 for CausalSoftmaxGrad {
    fn name(&self) -> &'static str {
        "causal-softmax-grad"
    }

    fn cpu_fwd(
        &self,
        probs: &CpuStorage,
        probs_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let time = probs_layout.shape().dims().last().copied().unwrap_or(0);
        let probs = contiguous_f32(probs, probs_layout)?;
        let grad = contiguous_f32(grad, grad_layout)?;
        let mut d_scores = vec![0f32; probs.len()];
        for ((p, g), d) in probs
            .chunks_exact(time)
            .zip(grad.chunks_exact(time))
            .zip(d_scores.chunks_exact_mut(time))
        {
            let dot: f32 = p.iter().zip(g).map(|(p, g)| p * g).sum();
            for ((d, p), g) in d.iter_mut().zip(p).zip(g) {
                *d = self.scale * p * (g - dot);
            }
        }
        Ok((CpuStorage::F32(d_scores), probs_layout.shape().clone()))
    }
}

pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<f32>()?[start..end]),
        None => candle_core::bail!("fused ops expect contiguous operands"),
    }
}

/// Runs `work` on a contiguous f32 CPU tensor's values.
pub(crate) fn with_f32<R>(
    tensor: &Tensor,
    work: impl FnOnce(&[f32]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let (storage, layout) = tensor.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => work(contiguous_f32(cpu, layout)?),
        _ => candle_core::bail!("fused ops run on CPU"),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{D, Device, Var};

    use super::*;

    fn ramp(shape: &[usize], step: f32) -> Tensor {
        let count: usize = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * step)
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    /// Value and input gradient of `sum(f(x) * probe)`, for comparing a fused op with its composed form.
    fn value_and_grad(x: &Tensor, f: impl Fn(&Tensor) -> Tensor) -> (Vec<f32>, Vec<f32>) {
        let var = Var::from_tensor(x).unwrap();
        let y = f(var.as_tensor());
        let probe = ramp(y.dims(), 0.3);
        let grads = (&y * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        (flat(&y), flat(grads.get(var.as_tensor()).unwrap()))
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(b) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn layer_norm_matches_the_composed_form_and_its_gradient() {
        let (weight, bias) = (ramp(&[8], 0.2), ramp(&[8], 0.1));
        let composed = |x: &Tensor| {
            let centered = x
                .broadcast_sub(&x.mean_keepdim(D::Minus1).unwrap())
                .unwrap();
            let variance = centered.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
            let std = (variance + 1e-5).unwrap().sqrt().unwrap();
            let normalized = centered.broadcast_div(&std).unwrap();
            normalized
                .broadcast_mul(&weight)
                .unwrap()
                .broadcast_add(&bias)
                .unwrap()
        };
        let x = ramp(&[2, 3, 8], 0.5);
        let (y, dx) = value_and_grad(&x, |x| layer_norm(x, &weight, &bias, 1e-5).unwrap());
        let (expected_y, expected_dx) = value_and_grad(&x, composed);
        assert_close(&y, &expected_y);
        assert_close(&dx, &expected_dx);
    }

    #[test]
    fn causal_softmax_matches_the_masked_softmax_and_its_gradient() {
        let time = 5;
        let mask: Vec<f32> = (0..time * time)
            .map(|i| {
                if i % time > i / time {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (time, time), &Device::Cpu).unwrap();
        let composed = |x: &Tensor| {
            let scores = (x * 0.25).unwrap().broadcast_add(&mask).unwrap();
            candle_nn::ops::softmax(&scores, D::Minus1).unwrap()
        };
        let x = ramp(&[2, 3, time, time], 0.7);
        let (p, dx) = value_and_grad(&x, |x| causal_softmax(x, 0.25).unwrap());
        let (expected_p, expected_dx) = value_and_grad(&x, composed);
        assert_close(&p, &expected_p);
        assert_close(&dx, &expected_dx);
    }
}
