//! Command-line arguments: one clap struct per command (the contract is docs/cli.md). Nothing here is read by the
//! library: `settings` turns these into the domain's own types.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use qcompat::plan::PlanFormat;
use qcompat::render::FindingsFormat;
use qcompat::report::Format;
use qcompat_engine::nf4::DEFAULT_BLOCKSIZE;

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
    /// Find the first bad (or first fixed) release of one axis among every published version between two endpoints.
    Bisect(BisectArgs),
    /// Plan a matrix once (versions fixed) and split its cells into shards for parallel CI jobs.
    Plan(PlanArgs),
    /// Merge the partial snapshots of a plan's shards (`run --shard K/N --part FILE`) into one snapshot.
    Merge(MergeArgs),
    /// Watch the index: run only the cells of versions published since the snapshot, report and bisect regressions.
    Monitor(MonitorArgs),
    /// Compare two snapshots: cells added and removed, outcome and signature changes, resolved-version drift.
    Diff(DiffArgs),
    /// Render a snapshot as a report: a terminal table, JSON, Markdown, JUnit XML or an HTML grid.
    Report(ReportArgs),
    /// List the probe catalogue and what each probe needs, with a matrix's own probes after it.
    Probes {
        /// A matrix file whose `[probe.NAME]` tables are listed after the built-in probes.
        #[arg(long, value_name = "FILE")]
        matrix: Option<std::path::PathBuf>,
    },
    /// Rebuild one cell's environment and rerun its probes with full tracebacks on the terminal.
    Repro(ReproArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// The built-in QLoRA engine (the reference row): quantize, dequantize, train, reference.
    Engine(EngineArgs),
    /// Start a project with qcompat: a matrix of the stack it depends on, CI workflows that use the action, a README
    /// snippet.
    Init(InitArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The matrix file (TOML or YAML).
    #[arg(long, required_unless_present = "plan")]
    pub matrix: Option<PathBuf>,
    /// Run a plan written by `qcompat plan --output` (versions fixed in it: the index is not asked).
    #[arg(long, value_name = "PLAN.json", conflicts_with_all = ["matrix", "filters", "probes"])]
    pub plan: Option<PathBuf>,
    /// Run only shard K of N of the plan.
    #[arg(long, value_name = "K/N", requires = "plan")]
    pub shard: Option<String>,
    /// Write the shard's partial snapshot here, for `qcompat merge`.
    #[arg(long, value_name = "FILE", requires = "shard")]
    pub part: Option<PathBuf>,
    /// Cells run at once (default: the number of cores).
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Only cells with this axis value (repeatable; AXIS=VERSION; several on one axis are alternatives).
    #[arg(long = "filter", value_name = "AXIS=VALUE")]
    pub filters: Vec<String>,
    /// Only these probes (repeatable).
    #[arg(long = "probe", value_name = "NAME")]
    pub probes: Vec<String>,
    #[arg(long, default_value = "table", value_parser = run_formats())]
    pub format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Reuse the results of cells that a previous, interrupted run of this matrix finished.
    #[arg(long)]
    pub resume: bool,
    /// Print the plan (the selected cells; with --format json, the whole plan) and run nothing.
    #[arg(long, conflicts_with_all = ["resume", "check", "update"])]
    pub list: bool,
    /// Print nothing while running but warnings and errors (no progress, no notes).
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Name each finished cell's environment and log.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Run every probe in a fresh interpreter, never forked from a shared preloaded one.
    #[arg(long)]
    pub isolate: bool,
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
    /// Resolve the world as of this date (YYYY-MM-DD, midnight UTC) or UTC timestamp: only what was uploaded by then
    /// is listed and installed.
    #[arg(long, value_name = "DATE", value_parser = qcompat::index::as_of::AsOf::parse)]
    pub as_of: Option<qcompat::index::as_of::AsOf>,
    /// Let uv download a Python the matrix asks for that is installed nowhere on this machine (never by default).
    #[arg(long)]
    pub allow_python_downloads: bool,
}

#[derive(Args)]
pub struct PlanArgs {
    /// The matrix file (TOML or YAML).
    #[arg(long)]
    pub matrix: PathBuf,
    /// Split the selected cells into this many shards.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Runner label for the shards of cells that need CUDA (recorded `needs-cuda` in the snapshot); without it they
    /// stay on CPU runners.
    #[arg(long, value_name = "LABEL")]
    pub gpu_label: Option<String>,
    /// Runner label for every other shard.
    #[arg(long, value_name = "LABEL", default_value = "ubuntu-latest")]
    pub cpu_label: String,
    /// The snapshot that says which cells need CUDA (default: reports/<matrix name>.snap.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Only cells with this axis value (repeatable; AXIS=VERSION).
    #[arg(long = "filter", value_name = "AXIS=VALUE")]
    pub filters: Vec<String>,
    /// Only these probes (repeatable).
    #[arg(long = "probe", value_name = "NAME")]
    pub probes: Vec<String>,
    /// `github`: `{"include": [{"shard", "runs-on", "cells"}]}` for a dynamic job matrix; `json`: the whole plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Json)]
    pub format: PlanFormat,
    /// Also write the whole plan (JSON, for `run --plan`) to this file.
    #[arg(long, value_name = "PLAN.json")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Args)]
pub struct MergeArgs {
    /// The partial snapshots, one per shard, in any order.
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<PathBuf>,
    /// The merged snapshot.
    #[arg(long)]
    pub output: PathBuf,
}

#[derive(Args)]
pub struct MonitorArgs {
    /// The matrix file: its query axes (`{ versions = "...", pre = true }`) are the ones watched.
    #[arg(long)]
    pub matrix: PathBuf,
    /// The snapshot of what was seen so far (default: reports/<matrix name>.snap.toml).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Table)]
    pub format: FindingsFormat,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Record the new cells in the snapshot.
    #[arg(long)]
    pub update: bool,
    /// Cells and bisection probes run at once (default: the number of cores).
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Run every probe in a fresh interpreter, never forked from a shared preloaded one.
    #[arg(long)]
    pub isolate: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Args)]
pub struct BisectArgs {
    /// The matrix file (TOML or YAML): its pins, probes and known issues apply.
    #[arg(long)]
    pub matrix: PathBuf,
    /// The axis to bisect (a package of the matrix's axes).
    #[arg(long, required_unless_present = "from")]
    pub axis: Option<String>,
    /// A complete set of exact versions that works (a `uv pip freeze`/requirements file, `pylock.toml`, `uv.lock`,
    /// or SNAPSHOT#CELL): find which changed package, release and commit turn it into --to.
    #[arg(long, value_name = "SET", requires = "to", conflicts_with_all = ["axis", "good", "snapshot", "recurse", "filters"])]
    pub from: Option<String>,
    /// The set of exact versions that fails (same forms as --from).
    #[arg(long, value_name = "SET", requires = "from")]
    pub to: Option<String>,
    /// A version that works. Newer than --bad: find the fix (last bad, first good).
    #[arg(long, requires = "bad")]
    pub good: Option<String>,
    /// A version that fails; "bad" means failing the way it does (same signature).
    #[arg(long, requires = "good")]
    pub bad: Option<String>,
    /// Only these probes (repeatable).
    #[arg(long = "probe", value_name = "NAME")]
    pub probes: Vec<String>,
    /// Fix the other axes (repeatable; AXIS=VERSION); an axis with one value needs none.
    #[arg(long = "filter", value_name = "AXIS=VALUE")]
    pub filters: Vec<String>,
    /// Versions probed at once per round (default: the number of cores).
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Count every failure as bad, not only the bad endpoint's signature.
    #[arg(long)]
    pub any_failure: bool,
    /// Include pre-releases and dev builds between the endpoints even when neither endpoint is one.
    #[arg(long)]
    pub pre: bool,
    /// Bisect the dependency the failing frame lives in when it changed with the first bad release.
    #[arg(long)]
    pub recurse: bool,
    /// A git clone of the first bad package. With --from/--to: build and probe its commits between the culprit's two
    /// releases to the first bad commit; with --axis: list the commits between them touching the failing files.
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// Without --good/--bad: the snapshot whose pass/fail transitions along the axis are bisected (default:
    /// reports/<matrix name>.snap.toml).
    #[arg(long, value_name = "FILE", conflicts_with = "good")]
    pub snapshot: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Table)]
    pub format: FindingsFormat,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Run every probe in a fresh interpreter, never forked from a shared preloaded one.
    #[arg(long)]
    pub isolate: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Args)]
pub struct ReproArgs {
    /// The matrix file (TOML or YAML).
    #[arg(long)]
    pub matrix: PathBuf,
    /// The cell, as reports print it: AXIS=VERSION,AXIS=VERSION (every axis).
    #[arg(long, value_name = "KEY")]
    pub cell: String,
    /// Only these probes (repeatable; default: the matrix's).
    #[arg(long = "probe", value_name = "NAME")]
    pub probes: Vec<String>,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Args)]
pub struct DiffArgs {
    /// The snapshot before (usually the committed one).
    pub old: PathBuf,
    /// The snapshot after (a fresh run's, or a branch's).
    pub new: PathBuf,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Table)]
    pub format: FindingsFormat,
}

#[derive(Args)]
pub struct InitArgs {
    /// The project's root: its pyproject.toml and requirements*.txt are read, the new files written there.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The output of `uv pip freeze` (or `pip freeze`; `-` reads standard input): the versions installed now.
    #[arg(long, value_name = "FILE")]
    pub freeze: Option<PathBuf>,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
    /// The action the workflows use, OWNER/REPO@REF (default: this release of qcompat's).
    #[arg(long, value_name = "OWNER/REPO@REF")]
    pub action: Option<String>,
    /// Use only local find-links folders to list a package named without a version.
    #[arg(long)]
    pub offline: bool,
    /// A folder of wheels to list versions from, in addition to the index (repeatable).
    #[arg(long = "find-links", value_name = "DIR")]
    pub find_links: Vec<String>,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The snapshot to render (reports/NAME.snap.toml); with --history, a folder of nightly snapshots or a snapshot
    /// file whose git history holds the nights.
    pub snapshot: PathBuf,
    /// Default: table (html with --history, the only format it has).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Render the history of many nights as one HTML page: per axis version, its outcome night after night.
    #[arg(long)]
    pub history: bool,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// What `run` prints: every report format but the HTML grid (`report` renders that from a snapshot).
fn run_formats() -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(["table", "json", "markdown", "junit"])
        .map(|name| Format::from_str(&name, false).expect("every listed name is a format"))
}

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    #[command(subcommand)]
    pub command: EngineCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EngineCommand {
    /// NF4-quantize every 2-D weight of a checkpoint into a bitsandbytes-layout safetensors state dict.
    Quantize {
        /// A `.pth` (zip-format torch.save) or `.safetensors` state dict.
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Quantize the absmax statistics too (bitsandbytes `compress_statistics`).
        #[arg(long)]
        double_quant: bool,
        /// Elements per absmax block: 32, 64, 128, 256, 512, 1024, 2048 or 4096.
        #[arg(long, default_value_t = DEFAULT_BLOCKSIZE)]
        blocksize: usize,
        /// Leave this weight unquantized (repeatable), e.g. an embedding.
        #[arg(long)]
        skip: Vec<String>,
    },
    /// Restore a quantized safetensors state dict to floating point (each weight in its original dtype).
    Dequantize {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Write every restored weight as float32 instead of its original dtype.
        #[arg(long)]
        f32: bool,
    },
    /// LoRA-train the checkpoint's GPT on its NF4-quantized base and print the loss curve.
    Train {
        /// Directory with lit_model.pth, config.json and train_tokens.json.
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, default_value_t = 10)]
        steps: usize,
        #[arg(long, default_value_t = 1e-2)]
        lr: f64,
        #[arg(long, default_value_t = 8)]
        rank: usize,
        #[arg(long, default_value_t = 16.0)]
        alpha: f64,
        /// Train on the unquantized f32 base instead of NF4.
        #[arg(long)]
        dense: bool,
        #[arg(long)]
        double_quant: bool,
        #[arg(long, default_value_t = DEFAULT_BLOCKSIZE)]
        blocksize: usize,
    },
    /// Print the builtin reference row's metrics (JSON) for the fixtures directory holding `tiny-gpt/`.
    Reference {
        #[arg(long)]
        fixtures: PathBuf,
    },
}

/// A count that zero makes meaningless (`--jobs 0` would run nothing and wait for ever).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
