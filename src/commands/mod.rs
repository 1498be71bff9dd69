//! One module per command.

pub mod probes;
pub mod run;
