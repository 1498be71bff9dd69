//! Built-in QLoRA engine: bit-exact NF4 (as bitsandbytes), LoRA training of LitGPT's GPT on CPU with candle.
//!
//! It is the reference row (`builtin`) of every qcompat matrix: it never depends on the versions under test, so a
//! silent numeric regression in a cell (wrong NF4 codes, skipped quantization, broken LoRA gradient) shows up as a
//! difference from it, and a broken fixture shows up here too. [`oracle`] holds the checks of a probe's evidence;
//! the other modules are the numerics they stand on.

pub mod checkpoint;
pub mod double_quant;
mod error;
pub mod fused;
pub mod linear4bit;
pub mod lora;
pub mod model;
pub mod nf4;
#[cfg(target_arch = "x86_64")]
mod nf4_avx512;
pub mod nf4_code;
pub mod oracle;
pub mod state_dict;
pub mod stream;
pub mod train;

pub use error::{EngineError, Fault};
