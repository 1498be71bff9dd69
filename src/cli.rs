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
    /// Compare two snapshots: cells added and removed, outcome and signature changes, resolved-version drift.
    Diff(DiffArgs),
    /// Render a snapshot as a report: a terminal table, JSON, Markdown, JUnit XML or an HTML grid.
    Report(ReportArgs),
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
    /// Only cells with this axis value (repeatable; AXIS=VERSION; several on one axis are alternatives).
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
    pub snapshot: SnapshotArgs,
    #[command(flatten)]
    pub env: EnvArgs,
}

/// Comparing a run with its committed snapshot, or recording it there.
#[derive(Args)]
pub struct SnapshotArgs {
    /// Compare the cells that ran with the snapshot: exit 1, print the diff and write SNAPSHOT.new on any difference.
    #[arg(long, group = "snapshot_mode")]
    pub check: bool,
    /// Merge the cells that ran into the snapshot (created when missing), keeping the others.
    #[arg(long, group = "snapshot_mode")]
    pub update: bool,
    /// The snapshot for --check and --update (default: reports/<matrix name>.snap.toml).
    #[arg(long, value_name = "FILE", requires = "snapshot_mode")]
    pub snapshot: Option<PathBuf>,
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

#[derive(Args)]
pub struct DiffArgs {
    /// The snapshot before (usually the committed one).
    pub old: PathBuf,
    /// The snapshot after (a fresh run's, or a branch's).
    pub new: PathBuf,
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    pub format: DiffFormat,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The snapshot to render (reports/NAME.snap.toml).
    pub snapshot: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// What `run` prints.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Junit,
}

/// What `report` renders: everything `run` prints, and the HTML grid.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Markdown,
    Junit,
    Html,
}

impl From<Format> for ReportFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Table => ReportFormat::Table,
            Format::Json => ReportFormat::Json,
            Format::Markdown => ReportFormat::Markdown,
            Format::Junit => ReportFormat::Junit,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Table,
    Markdown,
    Json,
}
