//! qcompat as a library: the whole domain (matrices, plans, environments, probes, outcomes, snapshots, reports and
//! the built-in QLoRA engine). The `qcompat` binary is a thin layer on top: it parses arguments, resolves settings
//! and maps errors to exit codes; the integration tests reach the engine through here.

pub mod as_of;
pub mod bisect;
pub mod cell_key;
pub mod child_env;
pub mod diff;
pub mod engine;
pub mod env;
pub mod error;
pub mod exit;
pub mod files;
pub mod harness;
pub mod index;
pub mod init;
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
pub mod report;
pub mod results;
pub mod shard;
pub mod sink;
pub mod snapshot;
pub mod suggest;
pub mod supervisor;
pub mod version;
