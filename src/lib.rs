//! qcompat as a library, in the order the data flows; the built-in QLoRA engine it checks cells against is a crate
//! of its own (`qcompat_engine`, `crates/engine/`). The `qcompat` binary is a thin layer on top: it parses arguments,
//! resolves and checks settings, prints, and maps errors to exit codes.

// What to test: a matrix file, the versions the index publishes, and the plan made of them.
pub mod index;
pub mod matrix;
pub mod plan;

// Running it: environments, processes, probes, and the pipeline that drives them cell by cell.
pub mod env;
pub mod probe;
pub mod process;
pub mod run;

// What came out: outcomes, results, snapshots, and every report of them.
pub mod diff;
pub mod outcome;
pub mod render;
pub mod report;
pub mod results;
pub mod snapshot;

// Built on runs: finding the culprit, watching the index; starting a project with all of it.
pub mod bisect;
pub mod init;
pub mod monitor;

// Shared by all.
pub mod digest;
pub mod error;
pub mod exit;
pub mod files;
pub mod sink;
pub mod suggest;
