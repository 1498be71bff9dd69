//! qcompat as a library: the whole domain (matrices, plans, environments, probes, outcomes, snapshots and reports);
//! the built-in QLoRA engine it checks cells against is a crate of its own (`qcompat_engine`, `crates/engine/`).
//! The `qcompat` binary is a thin layer on top: it parses arguments, resolves settings and maps errors to exit codes.

pub mod as_of;
pub mod bisect;
pub mod cell_key;
pub mod child_env;
pub mod diff;
pub mod digest;
pub mod env;
pub mod error;
pub mod exit;
pub mod files;
pub mod harness;
pub mod index;
pub mod journal;
pub mod lint;
pub mod matrix;
pub mod monitor;
pub mod outcome;
pub mod pipeline;
pub mod plan;
pub mod probe;
pub mod published;
pub mod recipe;
pub mod render;
pub mod report;
pub mod results;
pub mod shard;
pub mod sink;
pub mod snapshot;
pub mod suggest;
pub mod supervisor;
pub mod version;
