//! `qcompat engine`: the built-in QLoRA engine's command line (quantize, dequantize, train, reference).

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};

use crate::engine::EngineError;
use crate::engine::checkpoint;
use crate::engine::model::{BaseWeights, LoraConfig};
use crate::engine::nf4::DEFAULT_BLOCKSIZE;
use crate::engine::reference;
use crate::engine::state_dict::QuantizedStateDict;
use crate::engine::stream;
use crate::engine::train::{self, CheckpointDir, TrainOptions};

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    #[command(subcommand)]
    pub command: EngineCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EngineCommand {
    /// NF4-quantize every 2-D weight of a checkpoint into a bitsandbytes-layout safetensors state dict.
    Quantize {
        /// A `.pth` (zip-format torch.save) or `.safetensors` state dict.
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Quantize the absmax statistics too (bitsandbytes `compress_statistics`).
        #[arg(long)]
        double_quant: bool,
        /// Elements per absmax block: 32, 64, 128, 256, 512, 1024, 2048 or 4096.
        #[arg(long, default_value_t = DEFAULT_BLOCKSIZE)]
        blocksize: usize,
        /// Leave this weight unquantized (repeatable), e.g. an embedding.
        #[arg(long)]
        skip: Vec<String>,
    },
    /// Restore a quantized safetensors state dict to floating point (each weight in its original dtype).
    Dequantize {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Write every restored weight as float32 instead of its original dtype.
        #[arg(long)]
        f32: bool,
    },
    /// LoRA-train the checkpoint's GPT on its NF4-quantized base and print the loss curve.
    Train {
        /// Directory with lit_model.pth, config.json and train_tokens.json.
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, default_value_t = 10)]
        steps: usize,
        #[arg(long, default_value_t = 1e-2)]
        lr: f64,
        #[arg(long, default_value_t = 8)]
        rank: usize,
        #[arg(long, default_value_t = 16.0)]
        alpha: f64,
        /// Train on the unquantized f32 base instead of NF4.
        #[arg(long)]
        dense: bool,
        #[arg(long)]
        double_quant: bool,
        #[arg(long, default_value_t = DEFAULT_BLOCKSIZE)]
        blocksize: usize,
    },
    /// Print the builtin reference row's metrics (JSON) for the fixtures directory holding `tiny-gpt/`.
    Reference {
        #[arg(long)]
        fixtures: PathBuf,
    },
}

pub fn run(args: &EngineArgs) -> Result<(), EngineError> {
    match &args.command {
        EngineCommand::Quantize {
            input,
            output,
            double_quant,
            blocksize,
            skip,
        } => {
            // A safetensors input streams through a memory map; a .pth (a zip of pickles) is read whole.
            let counts = if input.extension().is_some_and(|ext| ext == "safetensors") {
                let streamed =
                    stream::quantize_file(input, output, *blocksize, *double_quant, skip)?;
                (streamed.quantized, streamed.passthrough)
            } else {
                let tensors = checkpoint::load_tensors(input)?;
                let quantized =
                    QuantizedStateDict::quantize(tensors, *blocksize, *double_quant, skip)?;
                quantized.save(output)?;
                (quantized.quantized.len(), quantized.passthrough.len())
            };
            println!(
                "quantized {} weights (blocksize {blocksize}{}), {} tensors unchanged -> {}",
                counts.0,
                if *double_quant { ", double quant" } else { "" },
                counts.1,
                output.display()
            );
            Ok(())
        }
        EngineCommand::Dequantize { input, output, f32 } => {
            let quantized = QuantizedStateDict::load(input)?;
            let mut tensors: HashMap<String, Tensor> =
                quantized.passthrough.clone().into_iter().collect();
            for (name, params) in &quantized.quantized {
                let restored = params.dequantize(&Device::Cpu)?;
                tensors.insert(
                    name.clone(),
                    if *f32 {
                        restored.to_dtype(DType::F32)?
                    } else {
                        restored
                    },
                );
            }
            candle_core::safetensors::save(&tensors, output).map_err(|error| match error {
                candle_core::Error::Io(source) => EngineError::Io {
                    path: output.clone(),
                    source,
                },
                other => EngineError::Compute(other),
            })?;
            println!(
                "dequantized {} weights -> {}",
                quantized.quantized.len(),
                output.display()
            );
            Ok(())
        }
        EngineCommand::Train {
            checkpoint,
            steps,
            lr,
            rank,
            alpha,
            dense,
            double_quant,
            blocksize,
        } => {
            crate::engine::state_dict::check_blocksize(*blocksize)?;
            let base = if *dense {
                BaseWeights::Dense
            } else {
                BaseWeights::Nf4 {
                    blocksize: *blocksize,
                    double_quant: *double_quant,
                }
            };
            let options = TrainOptions {
                steps: *steps,
                base,
                lora: LoraConfig {
                    rank: *rank,
                    alpha: *alpha,
                    seed: 0,
                },
                learning_rate: *lr,
            };
            let checkpoint = CheckpointDir::load(checkpoint)?;
            let curve = train::train(&checkpoint, &options)?;
            for (step, loss) in curve.iter().enumerate() {
                let label = if step < options.steps {
                    "step"
                } else {
                    "final"
                };
                println!("{label} {step:>4} loss {loss:.6}");
            }
            Ok(())
        }
        EngineCommand::Reference { fixtures } => {
            let metrics = reference::reference_metrics(&reference::fixture_checkpoint(fixtures)?)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&metrics).expect("metrics serialize")
            );
            Ok(())
        }
    }
}
