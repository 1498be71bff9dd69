//! One module per command.

pub mod engine;
pub mod probes;
pub mod run;
