//! One module per command.

pub mod bisect;
pub mod completions;
pub mod diff;
pub mod engine;
pub mod merge;
pub mod monitor;
pub mod plan;
pub mod probes;
pub mod report;
pub mod repro;
pub mod run;
