//! Settings: the command line, the environment and the defaults, resolved once into the library's own types. The
//! library reads no environment variable and takes no clap type; everything it needs is passed down from here.

use std::io::IsTerminal;
use std::path::PathBuf;

use qcompat::child_env::ChildEnv;
use qcompat::harness::HarnessSettings;
use qcompat::index::IndexSettings;
use qcompat::plan::Selection;
use qcompat::progress::Detail;
use qcompat::report;
use qcompat::snapshot::Mode;

use crate::cli::{BisectArgs, EnvArgs, MonitorArgs, RunArgs, SnapshotArgs};

/// Everything `qcompat run` needs.
pub struct RunSettings {
    /// `--matrix`, or else `--plan`.
    pub matrix: Option<PathBuf>,
    pub plan: Option<PathBuf>,
    /// `--shard K/N` and `--part FILE`.
    pub shard: Option<String>,
    pub part: Option<PathBuf>,
    pub selection: Selection,
    pub jobs: usize,
    pub format: report::Format,
    pub output: Option<PathBuf>,
    /// ANSI colors in the table: only on a terminal, and never with NO_COLOR.
    pub color: bool,
    pub resume: bool,
    pub list: bool,
    /// `--check` or `--update`, with the snapshot file when one was named.
    pub snapshot: Option<(Mode, Option<PathBuf>)>,
    pub harness: HarnessSettings,
    /// `$GITHUB_STEP_SUMMARY`: where GitHub Actions shows a job's Markdown summary.
    pub step_summary: Option<PathBuf>,
    /// `-q` / `-v`: what the run says on stderr while it runs.
    pub detail: Detail,
}

impl RunSettings {
    pub fn resolve(args: RunArgs) -> Self {
        let color = color_for(args.output.as_deref());
        Self {
            matrix: args.matrix,
            plan: args.plan,
            shard: args.shard,
            part: args.part,
            selection: Selection {
                filters: args.filters,
                probes: args.probes,
            },
            jobs: args.jobs.unwrap_or_else(default_jobs),
            format: args.format,
            output: args.output,
            color,
            resume: args.resume,
            list: args.list,
            snapshot: snapshot_mode(args.snapshot),
            harness: harness_settings(&args.env, !args.isolate),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            detail: match (args.quiet, args.verbose) {
                (true, _) => Detail::Quiet,
                (_, true) => Detail::Verbose,
                _ => Detail::Normal,
            },
        }
    }
}

/// Everything `qcompat bisect` needs.
pub struct BisectSettings {
    pub args: BisectArgs,
    pub jobs: usize,
    pub harness: HarnessSettings,
    /// The command line as typed, for the report's "found with".
    pub invocation: String,
}

impl BisectSettings {
    pub fn resolve(args: BisectArgs) -> Self {
        Self {
            jobs: args.jobs.unwrap_or_else(default_jobs),
            harness: harness_settings(&args.env, !args.isolate),
            invocation: invocation(),
            args,
        }
    }
}

/// Everything `qcompat monitor` needs.
pub struct MonitorSettings {
    pub args: MonitorArgs,
    pub jobs: usize,
    pub harness: HarnessSettings,
    /// The command line as typed, for the bisect report's "found with".
    pub invocation: String,
}

impl MonitorSettings {
    pub fn resolve(args: MonitorArgs) -> Self {
        Self {
            jobs: args.jobs.unwrap_or_else(default_jobs),
            harness: harness_settings(&args.env, !args.isolate),
            invocation: invocation(),
            args,
        }
    }
}

/// The command line as typed, each word quoted so that it runs as printed.
fn invocation() -> String {
    std::env::args()
        .map(|a| qcompat::env::quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Whether a table printed to standard output may carry ANSI colors.
pub fn color_for(output: Option<&std::path::Path>) -> bool {
    output.is_none() && std::io::stdout().is_terminal() && no_color_unset()
}

fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none()
}

fn snapshot_mode(args: SnapshotArgs) -> Option<(Mode, Option<PathBuf>)> {
    let mode = match (args.check, args.update) {
        (true, _) => Mode::Check,
        (_, true) => Mode::Update,
        _ => return None,
    };
    Some((mode, args.snapshot))
}

/// `preload`: fork probe processes from shared preloaded interpreters where cells allow (off: `--isolate`).
pub fn harness_settings(args: &EnvArgs, preload: bool) -> HarnessSettings {
    HarnessSettings {
        cache_root: args.cache_dir.clone().unwrap_or_else(default_cache_root),
        index: IndexSettings {
            as_of: args.as_of.clone(),
            ..index_settings(&args.find_links, args.offline)
        },
        device: var("QCOMPAT_DEVICE").unwrap_or_else(|| "auto".into()),
        child_env: ChildEnv::from_vars(std::env::vars_os()),
        preload,
    }
}

/// `--cache-dir`, else `QCOMPAT_CACHE_DIR`, else the user cache dir.
fn default_cache_root() -> PathBuf {
    if let Some(dir) = var("QCOMPAT_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("qcompat")
}

/// Index settings follow the user's own (`UV_*` first, then `PIP_*`), so qcompat sees the same versions that uv
/// will install from; `--find-links` and `--offline` from the command line are added.
fn index_settings(find_links: &[String], offline: bool) -> IndexSettings {
    let first = |names: &[&str]| names.iter().find_map(|n| var(n));
    let truthy = |v: Option<String>| {
        v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    };
    let mut links: Vec<String> = first(&["UV_FIND_LINKS", "PIP_FIND_LINKS"])
        .map(|v| {
            v.split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    links.extend(find_links.iter().cloned());
    IndexSettings {
        index_url: first(&["UV_INDEX_URL", "UV_DEFAULT_INDEX", "PIP_INDEX_URL"]),
        find_links: links,
        no_index: truthy(first(&["UV_NO_INDEX", "PIP_NO_INDEX"])),
        offline: offline || truthy(first(&["UV_OFFLINE"])),
        timeout: var("QCOMPAT_INDEX_TIMEOUT").and_then(|t| humantime::parse_duration(&t).ok()),
        as_of: None,
    }
}

/// A set, non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
