//! LoRA training on an NF4 (or dense) base: full-batch steps of AdamW on the adapters, base frozen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use serde::Deserialize;

use crate::EngineError;
use crate::checkpoint;
use crate::model::{BaseWeights, Gpt, GptConfig, LoraConfig};

/// The fixture's `train_tokens.json`: `tokens` are sequences; inputs are `[:-1]`, targets `[1:]`.
#[derive(Debug, Deserialize)]
struct TrainTokensFile {
    tokens: Vec<Vec<u32>>,
}

/// Inputs and targets, each `(batch, time)` u32.
pub struct TrainingBatch {
    pub inputs: Tensor,
    pub targets: Tensor,
}

impl TrainingBatch {
    pub fn load(path: &Path, vocab_size: usize) -> Result<Self, EngineError> {
        let invalid = |reason: String| EngineError::InvalidTrainingData {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(EngineError::io(path))?;
        let file: TrainTokensFile =
            serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
        let length = file.tokens.first().map_or(0, Vec::len);
        if length < 2 || file.tokens.iter().any(|sequence| sequence.len() != length) {
            return Err(invalid(
                "sequences must all have the same length, at least 2".into(),
            ));
        }
        if let Some(token) = file
            .tokens
            .iter()
            .flatten()
            .find(|&&token| token as usize >= vocab_size)
        {
            return Err(invalid(format!(
                "token {token} is outside the vocabulary ({vocab_size})"
            )));
        }
        let batch = file.tokens.len();
        let inputs: Vec<u32> = file
            .tokens
            .iter()
            .flat_map(|sequence| sequence[..length - 1].to_vec())
            .collect();
        let targets: Vec<u32> = file
            .tokens
            .iter()
            .flat_map(|sequence| sequence[1..].to_vec())
            .collect();
        let cpu = Device::Cpu;
        Ok(TrainingBatch {
            inputs: Tensor::from_vec(inputs, (batch, length - 1), &cpu)?,
            targets: Tensor::from_vec(targets, (batch, length - 1), &cpu)?,
        })
    }
}

/// Everything a run needs besides the checkpoint directory.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    pub steps: usize,
    pub base: BaseWeights,
    pub lora: LoraConfig,
    pub learning_rate: f64,
}

impl Default for TrainOptions {
    /// LitGPT's LoRA defaults for rank and alpha (r=8, alpha=16); a learning rate that moves a tiny model visibly.
    fn default() -> Self {
        TrainOptions {
            steps: 10,
            base: BaseWeights::PLUGIN_NF4,
            lora: LoraConfig {
                rank: 8,
                alpha: 16.0,
                seed: 0,
            },
            learning_rate: 1e-2,
        }
    }
}

/// A checkpoint directory: `lit_model.pth`, `config.json`, `train_tokens.json`.
pub struct CheckpointDir {
    pub config: GptConfig,
    pub tensors: HashMap<String, Tensor>,
    pub weights_path: PathBuf,
    pub batch: TrainingBatch,
}

impl CheckpointDir {
    pub fn load(dir: &Path) -> Result<Self, EngineError> {
        let config = GptConfig::load(&dir.join("config.json"))?;
        let weights_path = dir.join("lit_model.pth");
        let tensors = checkpoint::load_tensors(&weights_path)?
            .into_iter()
            .collect();
        let batch = TrainingBatch::load(&dir.join("train_tokens.json"), config.padded_vocab_size)?;
        Ok(CheckpointDir {
            config,
            tensors,
            weights_path,
            batch,
        })
    }

    pub fn model(&self, base: BaseWeights, lora: Option<LoraConfig>) -> Result<Gpt, EngineError> {
        Gpt::from_tensors(
            self.config.clone(),
            &self.tensors,
            &self.weights_path,
            base,
            lora,
        )
    }
}

/// Mean cross-entropy of the model's next-token predictions.
pub fn loss(model: &Gpt, batch: &TrainingBatch) -> candle_core::Result<Tensor> {
    let logits = model.forward(&batch.inputs)?;
    let vocab = logits.dim(2)?;
    candle_nn::loss::cross_entropy(
        &logits.flatten_to(1)?.reshape(((), vocab))?,
        &batch.targets.flatten_all()?,
    )
}

/// A model with LoRA adapters and its optimizer, ready to step.
pub struct Trainer {
    pub model: Gpt,
    optimizer: AdamW,
}

impl Trainer {
    pub fn new(checkpoint: &CheckpointDir, options: &TrainOptions) -> Result<Self, EngineError> {
        let model = checkpoint.model(options.base, Some(options.lora))?;
        let params = ParamsAdamW {
            lr: options.learning_rate,
            ..ParamsAdamW::default()
        };
        let optimizer = AdamW::new(model.lora_vars(), params)?;
        Ok(Trainer { model, optimizer })
    }

    /// One step; returns the loss before the update.
    pub fn step(&mut self, batch: &TrainingBatch) -> Result<f32, EngineError> {
        let loss = loss(&self.model, batch)?;
        let value = loss.to_scalar::<f32>()?;
        self.optimizer.backward_step(&loss)?;
        Ok(value)
    }
}

/// Runs `steps` steps and returns the loss curve: the loss before each step, then the loss after the last one.
pub fn train(checkpoint: &CheckpointDir, options: &TrainOptions) -> Result<Vec<f32>, EngineError> {
    let mut trainer = Trainer::new(checkpoint, options)?;
    let mut curve = Vec::with_capacity(options.steps + 1);
    for _ in 0..options.steps {
        curve.push(trainer.step(&checkpoint.batch)?);
    }
    curve.push(loss(&trainer.model, &checkpoint.batch)?.to_scalar::<f32>()?);
    Ok(curve)
}
