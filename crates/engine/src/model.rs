//! LitGPT's `GPT` (GPT-NeoX style: LayerNorm, parallel residual, partial rotary embeddings, fused `attn.attn`,
//! GELU MLP) following LitGPT 0.4's parameter names and forward, in f32 with candle, with optional NF4 base
//! weights and LoRA on the query and value parts of the fused attention projection.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use serde::Deserialize;

use crate::EngineError;
use crate::fused;
use crate::linear4bit::FrozenLinear;
use crate::lora::{LoraAdapter, SplitMix64};
use crate::nf4::DEFAULT_BLOCKSIZE;
use crate::state_dict::Params4bit;

/// The fields of LitGPT's config the forward depends on (`config.json`, the full `Config` as a dict).
#[derive(Debug, Clone, Deserialize)]
pub struct GptConfig {
    pub block_size: usize,
    pub padded_vocab_size: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_embd: usize,
    pub head_size: usize,
    pub n_query_groups: usize,
    pub intermediate_size: usize,
    pub rotary_percentage: f64,
    pub rope_base: f64,
    #[serde(default = "one")]
    pub rope_condense_ratio: f64,
    pub bias: bool,
    pub lm_head_bias: bool,
    pub norm_eps: f64,
    pub parallel_residual: bool,
    pub shared_attention_norm: bool,
    pub gelu_approximate: String,
    pub mlp_class_name: String,
    pub norm_class_name: String,
    pub scale_embeddings: bool,
}

fn one() -> f64 {
    1.0
}

impl GptConfig {
    pub fn load(path: &Path) -> Result<Self, EngineError> {
        let text = std::fs::read_to_string(path).map_err(EngineError::io(path))?;
        let config: GptConfig =
            serde_json::from_str(&text).map_err(|error| EngineError::InvalidConfig {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })?;
        config
            .check()
            .map_err(|reason| EngineError::InvalidConfig {
                path: path.to_path_buf(),
                reason,
            })?;
        Ok(config)
    }

    /// The engine implements the GPT-NeoX family the fixture uses; anything else is refused, not approximated.
    fn check(&self) -> Result<(), String> {
        if self.mlp_class_name != "GptNeoxMLP" {
            return Err(format!(
                "mlp_class_name {:?} (only GptNeoxMLP)",
                self.mlp_class_name
            ));
        }
        if self.norm_class_name != "LayerNorm" {
            return Err(format!(
                "norm_class_name {:?} (only LayerNorm)",
                self.norm_class_name
            ));
        }
        if self.n_query_groups != self.n_head {
            return Err(
                "grouped-query attention (n_query_groups != n_head) is not supported".into(),
            );
        }
        if !matches!(self.gelu_approximate.as_str(), "none" | "tanh") {
            return Err(format!("gelu_approximate {:?}", self.gelu_approximate));
        }
        if !self.rope_n_elem().is_multiple_of(2) {
            return Err("rotary dimensions must be even".into());
        }
        Ok(())
    }

    /// LitGPT: `int(rotary_percentage * head_size)`.
    pub fn rope_n_elem(&self) -> usize {
        (self.rotary_percentage * self.head_size as f64) as usize
    }
}

/// How the base weights are held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BaseWeights {
    Dense,
    Nf4 {
        blocksize: usize,
        double_quant: bool,
    },
}

impl BaseWeights {
    /// NF4 as Lightning's bitsandbytes plugin quantizes (bitsandbytes' default blocksize, no double quantization):
    /// the base every probe's numbers are checked against.
    pub const PLUGIN_NF4: BaseWeights = BaseWeights::Nf4 {
        blocksize: DEFAULT_BLOCKSIZE,
        double_quant: false,
    };
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    pub seed: u64,
}

pub(super) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub(super) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        fused::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

/// LoRA on the query and value rows of the fused projection (LitGPT `lora_query=True, lora_value=True`).
struct QkvLora {
    query: LoraAdapter,
    value: LoraAdapter,
}

impl QkvLora {
    fn new(c: &GptConfig, lora: LoraConfig, rng: &mut SplitMix64) -> Result<Self, EngineError> {
        let query = LoraAdapter::new(c.n_embd, c.n_head * c.head_size, lora.rank, lora.alpha, rng)?;
        let value_out = c.n_query_groups * c.head_size;
        let value = LoraAdapter::new(c.n_embd, value_out, lora.rank, lora.alpha, rng)?;
        Ok(QkvLora { query, value })
    }
}

struct Block {
    norm_1: LayerNorm,
    norm_2: Option<LayerNorm>,
    attn: FrozenLinear,
    attn_lora: Option<QkvLora>,
    proj: FrozenLinear,
    fc: FrozenLinear,
    mlp_proj: FrozenLinear,
}

pub struct Gpt {
    pub config: GptConfig,
    wte: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    lm_head: FrozenLinear,
    rope: Rope,
}

/// The names of every linear weight, in the order LitGPT's state dict lists them per block.
pub fn linear_weight_names(config: &GptConfig) -> Vec<String> {
    let mut names = Vec::new();
    for layer in 0..config.n_layer {
        for part in ["attn.attn", "attn.proj", "mlp.fc", "mlp.proj"] {
            names.push(format!("transformer.h.{layer}.{part}.weight"));
        }
    }
    names.push("lm_head.weight".to_string());
    names
}

struct Weights<'a> {
    tensors: &'a HashMap<String, Tensor>,
    path: &'a Path,
    base: BaseWeights,
}

impl Weights<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, EngineError> {
        let tensor = self
            .tensors
            .get(name)
            .ok_or_else(|| EngineError::MissingTensor {
                tensor: name.to_string(),
                path: self.path.to_path_buf(),
            })?;
        if tensor.dims() != shape {
            return Err(EngineError::ShapeMismatch {
                tensor: name.to_string(),
                expected: shape.to_vec(),
                found: tensor.dims().to_vec(),
            });
        }
        if !matches!(tensor.dtype(), DType::F32 | DType::F16 | DType::BF16) {
            return Err(EngineError::UnsupportedDtype {
                tensor: name.to_string(),
                dtype: format!("{:?}", tensor.dtype()),
                expected: "float32, float16 or bfloat16",
            });
        }
        Ok(tensor.to_dtype(DType::F32)?)
    }

    fn layer_norm(&self, prefix: &str, size: usize, eps: f64) -> Result<LayerNorm, EngineError> {
        Ok(LayerNorm {
            weight: self.get(&format!("{prefix}.weight"), &[size])?,
            bias: self.get(&format!("{prefix}.bias"), &[size])?,
            eps,
        })
    }

    fn linear(
        &self,
        prefix: &str,
        out: usize,
        inp: usize,
        bias: bool,
    ) -> Result<FrozenLinear, EngineError> {
        let weight_name = format!("{prefix}.weight");
        let bias = if bias {
            Some(self.get(&format!("{prefix}.bias"), &[out])?)
        } else {
            None
        };
        match self.base {
            BaseWeights::Dense => Ok(FrozenLinear::dense(
                self.get(&weight_name, &[out, inp])?,
                bias,
            )),
            BaseWeights::Nf4 {
                blocksize,
                double_quant,
            } => {
                // Quantize the checkpoint's own values (in their stored dtype), as bitsandbytes would.
                self.get(&weight_name, &[out, inp])?;
                let params = Params4bit::quantize(
                    &weight_name,
                    &self.tensors[&weight_name],
                    blocksize,
                    double_quant,
                )?;
                FrozenLinear::from_nf4(params, bias)
            }
        }
    }

    /// Block `layer` of LitGPT's GPT, with `attn_lora` on its fused QKV.
    fn block(
        &self,
        c: &GptConfig,
        layer: usize,
        attn_lora: Option<QkvLora>,
    ) -> Result<Block, EngineError> {
        let prefix = format!("transformer.h.{layer}");
        let qkv_size = (c.n_head + 2 * c.n_query_groups) * c.head_size;
        let norm = |name: &str| self.layer_norm(&format!("{prefix}.{name}"), c.n_embd, c.norm_eps);
        let linear =
            |name: &str, out, inp| self.linear(&format!("{prefix}.{name}"), out, inp, c.bias);
        Ok(Block {
            norm_1: norm("norm_1")?,
            norm_2: if c.shared_attention_norm {
                None
            } else {
                Some(norm("norm_2")?)
            },
            attn: linear("attn.attn", qkv_size, c.n_embd)?,
            attn_lora,
            proj: linear("attn.proj", c.n_embd, c.n_head * c.head_size)?,
            fc: linear("mlp.fc", c.intermediate_size, c.n_embd)?,
            mlp_proj: linear("mlp.proj", c.n_embd, c.intermediate_size)?,
        })
    }
}

impl Gpt {
    pub fn from_tensors(
        config: GptConfig,
        tensors: &HashMap<String, Tensor>,
        path: &Path,
        base: BaseWeights,
        lora: Option<LoraConfig>,
    ) -> Result<Self, EngineError> {
        let weights = Weights {
            tensors,
            path,
            base,
        };
        let c = &config;
        let mut rng = lora.map(|lora| SplitMix64::new(lora.seed));
        let mut blocks = Vec::with_capacity(c.n_layer);
        for layer in 0..c.n_layer {
            // Adapters draw from one generator, layer by layer, query before value.
            let attn_lora = match (lora, rng.as_mut()) {
                (Some(lora), Some(rng)) => Some(QkvLora::new(c, lora, rng)?),
                _ => None,
            };
            blocks.push(weights.block(c, layer, attn_lora)?);
        }
        let rope = Rope::new(c)?;
        Ok(Gpt {
            wte: weights.get("transformer.wte.weight", &[c.padded_vocab_size, c.n_embd])?,
            ln_f: weights.layer_norm("transformer.ln_f", c.n_embd, c.norm_eps)?,
            lm_head: weights.linear("lm_head", c.padded_vocab_size, c.n_embd, c.lm_head_bias)?,
            blocks,
            rope,
            config,
        })
    }

    /// The trainable LoRA parameters (empty without LoRA).
    pub fn lora_vars(&self) -> Vec<Var> {
        self.blocks
            .iter()
            .filter_map(|block| block.attn_lora.as_ref())
            .flat_map(|lora| lora.query.vars().into_iter().chain(lora.value.vars()))
            .collect()
    }

    /// The frozen linear layers with their state-dict weight names.
    pub fn linear_layers(&self) -> Vec<(String, &FrozenLinear)> {
        let mut layers = Vec::new();
        for (index, block) in self.blocks.iter().enumerate() {
            for (part, layer) in [
                ("attn.attn", &block.attn),
                ("attn.proj", &block.proj),
                ("mlp.fc", &block.fc),
                ("mlp.proj", &block.mlp_proj),
            ] {
                layers.push((format!("transformer.h.{index}.{part}.weight"), layer));
            }
        }
        layers.push(("lm_head.weight".to_string(), &self.lm_head));
        layers
    }

    /// Logits `(batch, time, padded_vocab_size)` for token ids `(batch, time)` (u32).
    pub fn forward(&self, tokens: &Tensor) -> candle_core::Result<Tensor> {
        let (_, time) = tokens.dims2()?;
        if time > self.config.block_size {
            candle_core::bail!(
                "sequence length {time} exceeds block_size {}",
                self.config.block_size
            );
        }
        let mut x = self.embed(tokens)?;
        let cos = self.rope.cos.narrow(0, 0, time)?;
        let sin = self.rope.sin.narrow(0, 0, time)?;
        for block in &self.blocks {
            x = self.block_forward(block, &x, &cos, &sin)?;
        }
        self.head(&x)
    }

    /// Token embeddings `(batch, time, n_embd)` for token ids `(batch, time)`.
    pub(super) fn embed(&self, tokens: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, time) = tokens.dims2()?;
        let x = self.wte.index_select(&tokens.flatten_all()?, 0)?.reshape((
            batch,
            time,
            self.config.n_embd,
        ))?;
        if self.config.scale_embeddings {
            x * (self.config.n_embd as f64).sqrt()
        } else {
            Ok(x)
        }
    }

    /// Logits from the last block's output: `lm_head(ln_f(x))`.
    pub(super) fn head(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.lm_head.forward(&self.ln_f.forward(x)?)
    }

    /// Each block's MLP layers, `(norm_2, mlp.fc, mlp.proj)`; `norm_2` is `None` where the config shares norm_1.
    pub(super) fn mlp_layers(
        &self,
    ) -> impl Iterator<Item = (Option<&LayerNorm>, &FrozenLinear, &FrozenLinear)> {
        self.blocks
            .iter()
            .map(|block| (block.norm_2.as_ref(), &block.fc, &block.mlp_proj))
    }

    fn block_forward(
        &self,
        block: &Block,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let x_normed = block.norm_1.forward(x)?;
        let attention = self.attention(block, &x_normed, cos, sin)?;
        if self.config.parallel_residual {
            let mlp_input = match &block.norm_2 {
                Some(norm_2) => norm_2.forward(x)?,
                None => x_normed,
            };
            (self.mlp(block, &mlp_input)? + attention)? + x
        } else {
            let x = (attention + x)?;
            let normed = block
                .norm_2
                .as_ref()
                .map_or_else(|| Ok(x.clone()), |norm| norm.forward(&x))?;
            self.mlp(block, &normed)? + x
        }
    }

    fn mlp(&self, block: &Block, x: &Tensor) -> candle_core::Result<Tensor> {
        let hidden = block.fc.forward(x)?;
        let activated = if self.config.gelu_approximate == "tanh" {
            hidden.gelu()?
        } else {
            hidden.gelu_erf()?
        };
        block.mlp_proj.forward(&activated)
    }

    fn attention(
        &self,
        block: &Block,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let (batch, time, _) = x.dims3()?;
        let mut qkv = block.attn.forward(x)?;
        if let Some(lora) = &block.attn_lora {
            qkv = (qkv + qkv_lora_delta(lora, x, c)?)?;
        }
        // LitGPT 0.4 interleaves the fused projection per query group: [q (q_per_kv heads), k, v] per group.
        let q_per_kv = c.n_head / c.n_query_groups;
        let qkv = qkv
            .reshape((batch, time, c.n_query_groups, q_per_kv + 2, c.head_size))?
            .permute((0, 2, 3, 1, 4))?;
        let heads = |start: usize, len: usize| -> candle_core::Result<Tensor> {
            qkv.narrow(2, start, len)?
                .contiguous()?
                .reshape((batch, (), time, c.head_size))
        };
        let q = heads(0, q_per_kv)?;
        let k = heads(q_per_kv, 1)?;
        let v = heads(q_per_kv + 1, 1)?;
        // candle's matmul wants contiguous operands; a cat along the last dim is not.
        let q = self.rope.apply(&q, cos, sin)?;
        let k = self.rope.apply(&k, cos, sin)?.t()?.contiguous()?;
        let scale = 1.0 / (c.head_size as f64).sqrt();
        let weights = fused::causal_softmax(&q.matmul(&k)?, scale)?;
        let y = weights
            .matmul(&v.contiguous()?)?
            .transpose(1, 2)?
            .reshape((batch, time, c.n_head * c.head_size))?;
        block.proj.forward(&y)
    }
}

/// The LoRA delta of the fused projection: query and value adapters, zeros for the keys, laid out like `qkv`.
fn qkv_lora_delta(lora: &QkvLora, x: &Tensor, c: &GptConfig) -> candle_core::Result<Tensor> {
    let (batch, time, features) = x.dims3()?;
    let rows = x.reshape((batch * time, features))?;
    let q_per_kv = c.n_head / c.n_query_groups;
    let group = |delta: Tensor, per_group: usize| {
        delta.reshape((batch * time, c.n_query_groups, per_group, c.head_size))
    };
    let query = group(lora.query.delta(&rows)?, q_per_kv)?;
    let value = group(lora.value.delta(&rows)?, 1)?;
    let key = value.zeros_like()?;
    Tensor::cat(&[query, key, value], 2)?.reshape((
        batch,
        time,
        (c.n_head + 2 * c.n_query_groups) * c.head_size,
    ))
}

/// Rotary embedding on the first `rope_n_elem` dims of each head, as LitGPT's `build_rope_cache` + `apply_rope`
/// (`theta_i = 1 / base^(2i/n)`, angles repeated twice, rotate-half `(-x2, x1)`), expressed over the whole head:
/// `x * cos + (x @ rotate) * sin` with `cos = 1`, `sin = 0` past the rotary dims and `rotate` a signed permutation.
/// Every product has a single non-zero term, so this is exactly LitGPT's arithmetic, in four ops instead of eleven.
struct Rope {
    /// `(block_size, head_size)`.
    cos: Tensor,
    sin: Tensor,
    /// `(head_size, head_size)`: column `j < n/2` takes `-x[j + n/2]`, column `n/2 <= j < n` takes `x[j - n/2]`.
    rotate: Tensor,
}

impl Rope {
    fn new(c: &GptConfig) -> Result<Self, EngineError> {
        let n_elem = c.rope_n_elem();
        let head_size = c.head_size;
        let theta: Vec<f32> = (0..n_elem / 2)
            .map(|i| 1.0 / (c.rope_base as f32).powf((2 * i) as f32 / n_elem as f32))
            .collect();
        let mut cos = Vec::with_capacity(c.block_size * head_size);
        let mut sin = Vec::with_capacity(c.block_size * head_size);
        for position in 0..c.block_size {
            let position = position as f32 / c.rope_condense_ratio as f32;
            for dim in 0..head_size {
                if dim < n_elem {
                    let angle = position * theta[dim % (n_elem / 2)];
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                } else {
                    cos.push(1.0);
                    sin.push(0.0);
                }
            }
        }
        let mut rotate = vec![0f32; head_size * head_size];
        let half = n_elem / 2;
        for column in 0..half {
            rotate[(column + half) * head_size + column] = -1.0;
            rotate[column * head_size + column + half] = 1.0;
        }
        let cpu = Device::Cpu;
        Ok(Rope {
            cos: Tensor::from_vec(cos, (c.block_size, head_size), &cpu)?,
            sin: Tensor::from_vec(sin, (c.block_size, head_size), &cpu)?,
            rotate: Tensor::from_vec(rotate, (head_size, head_size), &cpu)?,
        })
    }

    fn apply(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
        let rotated = x.broadcast_matmul(&self.rotate)?;
        x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
    }
}
