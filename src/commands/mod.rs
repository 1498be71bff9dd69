//! Command implementations, one module per command.

pub mod engine;
