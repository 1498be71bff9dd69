//! One module per command.

pub mod diff;
pub mod probes;
pub mod report;
pub mod run;
