//! One module per command.

pub mod bisect;
pub mod completions;
pub mod diff;
pub mod engine;
pub mod init;
pub mod merge;
pub mod monitor;
pub mod plan;
pub mod probes;
pub mod report;
pub mod repro;
pub mod run;

use qcompat::plan::Plan;
use qcompat::sink::Sink;

/// What planning could not check, said before any cell runs.
fn say_warnings(plan: &Plan, sink: &dyn Sink) {
    for warning in &plan.warnings {
        sink.warn(warning);
    }
}
