//! qcompat as a library: the built-in QLoRA engine, shared by the binary and the engine's integration tests.

pub mod engine;
