//! Command-line arguments: one clap struct per command (the contract is in DESIGN.md).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "qcompat",
    version,
    about = "Which versions of a QLoRA stack work together, and which release broke it"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Build one environment per matrix cell, run the probes, classify the outcomes.
    Run(RunArgs),
    /// List the probe catalogue and what each probe needs.
    Probes,
    /// The built-in QLoRA engine (the reference row): quantize, dequantize, train, reference.
    Engine(crate::commands::engine::EngineArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The matrix file (TOML or YAML).
    #[arg(long)]
    pub matrix: PathBuf,
    /// Cells run at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Only cells with this axis value (repeatable; AXIS=VERSION).
    #[arg(long = "filter", value_name = "AXIS=VALUE")]
    pub filters: Vec<String>,
    /// Only these probes (repeatable).
    #[arg(long = "probe", value_name = "NAME")]
    pub probes: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Reuse the results of cells that a previous, interrupted run of this matrix finished.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

/// Where environments live and where packages come from.
#[derive(Args)]
pub struct EnvArgs {
    /// Cache root for environments, probes and logs (else QCOMPAT_CACHE_DIR, else ~/.cache/qcompat).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Use only uv's cache and local find-links folders.
    #[arg(long)]
    pub offline: bool,
    /// A folder of wheels/sdists to install from, in addition to the index (repeatable).
    #[arg(long = "find-links", value_name = "DIR")]
    pub find_links: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}
