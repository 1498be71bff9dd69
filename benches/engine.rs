//! Engine throughput: NF4 quantize/dequantize of a 4096x4096 f32 matrix, a plain copy of the same bytes, and one
//! LoRA training step of the fixture's tiny GPT. Prints `key value` lines that benches/engine.sh combines with
//! bitsandbytes' and torch's figures from the same run. The input is standard normal, as torch.randn draws it for
//! the other side, and every measurement is the best of `QCOMPAT_BENCH_RUNS` runs (default 5), as there.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use qcompat_engine::lora::SplitMix64;
use qcompat_engine::nf4;
use qcompat_engine::train::{CheckpointDir, TrainOptions, Trainer};

const SIDE: usize = 4096;

/// Runs per measurement, shared with benches/engine_torch.py through benches/engine.sh.
fn runs() -> usize {
    std::env::var("QCOMPAT_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(5)
}

/// A standard normal value (Box-Muller), the distribution torch.randn gives the bitsandbytes side.
fn normal(rng: &mut SplitMix64) -> f32 {
    let u1 = rng.uniform(f32::EPSILON, 1.0);
    let u2 = rng.uniform(0.0, 1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Best of `runs` timings after one warm-up: the least disturbed measurement on a shared 2-core machine.
fn best_of(runs: usize, mut work: impl FnMut()) -> Duration {
    work();
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    let elements = SIDE * SIDE;
    let mut rng = SplitMix64::new(42);
    let values: Vec<f32> = (0..elements).map(|_| normal(&mut rng)).collect();
    let runs = runs();
    let millions = elements as f64 / 1e6;

    let quantize = best_of(runs, || {
        black_box(nf4::quantize(black_box(&values), 64).unwrap());
    });
    let quantized = nf4::quantize(&values, 64).unwrap();
    let mut out = vec![0f32; elements];
    let dequantize = best_of(runs, || {
        nf4::dequantize_into(
            black_box(&quantized.packed),
            &quantized.absmax,
            64,
            black_box(&mut out),
        );
    });
    // The floor for dequantization: writing the same f32 output bytes from an f32 source.
    let copy = best_of(runs, || {
        black_box(&mut out).copy_from_slice(black_box(&values));
    });
    println!(
        "rust_quantize_melem_s {:.1}",
        millions / quantize.as_secs_f64()
    );
    println!(
        "rust_dequantize_melem_s {:.1}",
        millions / dequantize.as_secs_f64()
    );
    println!("rust_copy_melem_s {:.1}", millions / copy.as_secs_f64());

    let checkpoint_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/checkpoints/tiny-gpt");
    match CheckpointDir::load(&checkpoint_dir) {
        Ok(checkpoint) => {
            let mut trainer = Trainer::new(&checkpoint, &TrainOptions::default()).unwrap();
            let step = best_of(runs, || {
                black_box(trainer.step(&checkpoint.batch).unwrap());
            });
            println!("rust_lora_step_ms {:.3}", step.as_secs_f64() * 1e3);
        }
        Err(error) => eprintln!("skipping the training step: {error}"),
    }
}
