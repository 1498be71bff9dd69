//! `qcompat engine`: the built-in QLoRA engine's command line (quantize, dequantize, train, reference).

use std::path::Path;

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::probe::catalog::Catalog;
use qcompat_engine::EngineError;
use qcompat_engine::checkpoint;
use qcompat_engine::model::{BaseWeights, LoraConfig};
use qcompat_engine::oracle;
use qcompat_engine::state_dict::QuantizedStateDict;
use qcompat_engine::stream;
use qcompat_engine::train::{self, CheckpointDir, TrainOptions};

use crate::cli::{EngineArgs, EngineCommand};

pub fn run(args: &EngineArgs) -> Result<ExitStatus> {
    match &args.command {
        EngineCommand::Quantize {
            input,
            output,
            double_quant,
            blocksize,
            skip,
        } => quantize(input, output, *blocksize, *double_quant, skip)?,
        EngineCommand::Dequantize { input, output, f32 } => dequantize(input, output, *f32)?,
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
            train_and_print(checkpoint, *blocksize, &options)?
        }
        EngineCommand::Reference { fixtures } => {
            let every: Vec<_> = Catalog::builtin().iter().cloned().collect();
            let checkpoint = oracle::fixture_checkpoint(fixtures)?;
            let metrics = qcompat::run::harness::reference_metrics(&every, &checkpoint)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&metrics).expect("metrics serialize")
            );
        }
    }
    Ok(ExitStatus::Success)
}

fn quantize(
    input: &Path,
    output: &Path,
    blocksize: usize,
    double_quant: bool,
    skip: &[String],
) -> Result<(), EngineError> {
    // A safetensors input streams through a memory map; a .pth (a zip of pickles) is read whole.
    let (quantized, unchanged) = if input.extension().is_some_and(|ext| ext == "safetensors") {
        let streamed = stream::quantize_file(input, output, blocksize, double_quant, skip)?;
        (streamed.quantized, streamed.passthrough)
    } else {
        let tensors = checkpoint::load_tensors(input)?;
        let quantized = QuantizedStateDict::quantize(tensors, blocksize, double_quant, skip)?;
        quantized.save(output)?;
        (quantized.quantized.len(), quantized.passthrough.len())
    };
    println!(
        "quantized {quantized} weights (blocksize {blocksize}{}), {unchanged} tensors unchanged -> {}",
        if double_quant { ", double quant" } else { "" },
        output.display()
    );
    Ok(())
}

fn dequantize(input: &Path, output: &Path, f32: bool) -> Result<(), EngineError> {
    let quantized = QuantizedStateDict::load(input)?;
    quantized.save_dequantized(output, f32)?;
    println!(
        "dequantized {} weights -> {}",
        quantized.quantized.len(),
        output.display()
    );
    Ok(())
}

fn train_and_print(
    checkpoint: &Path,
    blocksize: usize,
    options: &TrainOptions,
) -> Result<(), EngineError> {
    qcompat_engine::state_dict::check_blocksize(blocksize)?;
    let checkpoint = CheckpointDir::load(checkpoint)?;
    let curve = train::train(&checkpoint, options)?;
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
