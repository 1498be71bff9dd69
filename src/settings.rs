//! Settings: the command line, the environment and the defaults, resolved once per command into the library's own
//! types, and checked before any work starts: a flag that names a missing folder, an unwritable `--output` or a
//! combination that means nothing is refused here (exit 2 naming the flag), never discovered after an hour of
//! cells. The library reads no environment variable and takes no clap type; everything it needs is passed from here.

use std::path::{Path, PathBuf};

use qcompat::bisect::sets::{self, PinnedSet};
use qcompat::env::PythonSearch;
use qcompat::error::{Error, Result};
use qcompat::index::IndexSettings;
use qcompat::plan::{PlanFormat, Selection};
use qcompat::process::child_env::ChildEnv;
use qcompat::render::FindingsFormat;
use qcompat::report;
use qcompat::run::harness::HarnessSettings;
use qcompat::snapshot::Mode;

use crate::cli::{
    BisectArgs, DiffArgs, EnvArgs, InitArgs, MergeArgs, MonitorArgs, PlanArgs, ReportArgs,
    ReproArgs, RunArgs, SnapshotArgs,
};
use crate::output::{Output, check_writable};
use crate::progress::Detail;

/// Where `run` gets its plan: made from a matrix now, or read from a plan file (narrowed to one shard).
pub enum PlanSource {
    Matrix(PathBuf),
    File {
        path: PathBuf,
        /// `--shard K/N`, and `--part FILE` for its partial snapshot.
        shard: Option<(usize, usize)>,
        part: Option<PathBuf>,
    },
}

/// Everything `qcompat run` needs.
pub struct RunSettings {
    pub source: PlanSource,
    pub selection: Selection,
    pub jobs: usize,
    pub format: report::Format,
    pub output: Output,
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
    pub fn resolve(args: RunArgs) -> Result<Self> {
        let source = match (args.matrix, args.plan) {
            (_, Some(path)) => PlanSource::File {
                path,
                shard: args
                    .shard
                    .as_deref()
                    .map(qcompat::plan::shard::parse_id)
                    .transpose()?,
                part: args.part,
            },
            (Some(matrix), None) if args.shard.is_none() => PlanSource::Matrix(matrix),
            (Some(_), None) => {
                return Err(Error::BadInput(
                    "--shard K/N splits a plan: make one with `qcompat plan --matrix M --output PLAN.json` \
                     and run `qcompat run --plan PLAN.json --shard K/N`"
                        .into(),
                ));
            }
            (None, None) => unreachable!("clap requires --matrix or --plan"),
        };
        Ok(Self {
            source,
            selection: Selection {
                filters: args.filters,
                probes: args.probes,
            },
            jobs: args.jobs.unwrap_or_else(default_jobs),
            format: args.format,
            output: Output::resolve("--output", args.output)?,
            resume: args.resume,
            list: args.list,
            snapshot: snapshot_mode(args.snapshot),
            harness: harness_settings(&args.env, !args.isolate)?,
            step_summary: step_summary()?,
            detail: match (args.quiet, args.verbose) {
                (true, _) => Detail::Quiet,
                (_, true) => Detail::Verbose,
                _ => Detail::Normal,
            },
        })
    }
}

/// Everything `qcompat bisect` needs.
pub struct BisectSettings {
    pub args: BisectArgs,
    pub jobs: usize,
    pub harness: HarnessSettings,
    pub output: Output,
    /// The command line as typed, for the report's "found with".
    pub invocation: String,
    /// `--from`/`--to`, read and checked: two sets that differ.
    pub sets: Option<(PinnedSet, PinnedSet)>,
}

impl BisectSettings {
    pub fn resolve(args: BisectArgs) -> Result<Self> {
        if let Some(repo) = &args.repo {
            check_repo(repo)?;
        }
        let sets = match (&args.from, &args.to) {
            (Some(from), Some(to)) => Some(pinned_sets(from, to)?),
            _ => None,
        };
        Ok(Self {
            sets,
            jobs: args.jobs.unwrap_or_else(default_jobs),
            harness: harness_settings(&args.env, !args.isolate)?,
            output: Output::resolve("--output", args.output.clone())?,
            invocation: invocation(),
            args,
        })
    }
}

/// Everything `qcompat monitor` needs.
pub struct MonitorSettings {
    pub args: MonitorArgs,
    pub jobs: usize,
    pub harness: HarnessSettings,
    pub output: Output,
    /// The command line as typed, for the bisect report's "found with".
    pub invocation: String,
}

impl MonitorSettings {
    pub fn resolve(args: MonitorArgs) -> Result<Self> {
        Ok(Self {
            jobs: args.jobs.unwrap_or_else(default_jobs),
            harness: harness_settings(&args.env, !args.isolate)?,
            output: Output::resolve("--output", args.output.clone())?,
            invocation: invocation(),
            args,
        })
    }
}

/// Everything `qcompat plan` needs.
pub struct PlanSettings {
    pub args: PlanArgs,
    pub index: IndexSettings,
    /// `--output`: where the whole plan is also written.
    pub plan_file: Option<Output>,
    pub format: PlanFormat,
}

impl PlanSettings {
    pub fn resolve(args: PlanArgs) -> Result<Self> {
        let plan_file = match &args.output {
            Some(path) => Some(Output::resolve("--output", Some(path.clone()))?),
            None => None,
        };
        Ok(Self {
            index: harness_settings(&args.env, false)?.index,
            format: args.format,
            plan_file,
            args,
        })
    }
}

/// Everything `qcompat merge` needs.
pub struct MergeSettings {
    pub parts: Vec<PathBuf>,
    pub output: PathBuf,
}

impl MergeSettings {
    pub fn resolve(args: MergeArgs) -> Result<Self> {
        check_writable("--output", &args.output)?;
        Ok(Self {
            parts: args.parts,
            output: args.output,
        })
    }
}

/// Everything `qcompat diff` needs.
pub struct DiffSettings {
    pub old: PathBuf,
    pub new: PathBuf,
    pub format: FindingsFormat,
}

impl DiffSettings {
    pub fn resolve(args: DiffArgs) -> Result<Self> {
        Ok(Self {
            old: args.old,
            new: args.new,
            format: args.format,
        })
    }
}

/// Everything `qcompat report` needs.
pub struct ReportSettings {
    /// A snapshot; with `history`, a folder of nightly snapshots or a snapshot file under git.
    pub snapshot: PathBuf,
    pub format: report::Format,
    pub output: Output,
    /// `--history`: the nights' page, always HTML.
    pub history: bool,
}

impl ReportSettings {
    pub fn resolve(args: ReportArgs) -> Result<Self> {
        let format = match (args.history, args.format) {
            (false, format) => format.unwrap_or(report::Format::Table),
            (true, None | Some(report::Format::Html)) => report::Format::Html,
            (true, Some(_)) => {
                return Err(Error::BadInput(
                    "--history renders one HTML page: drop --format or give --format html".into(),
                ));
            }
        };
        if args.history && !args.snapshot.exists() {
            return Err(Error::BadInput(format!(
                "--history {}: no such folder of snapshots or snapshot file",
                args.snapshot.display()
            )));
        }
        Ok(Self {
            snapshot: args.snapshot,
            format,
            output: Output::resolve("--output", args.output)?,
            history: args.history,
        })
    }
}

/// Everything `qcompat init` needs: the request, with the freeze already read.
pub struct InitSettings {
    pub request: qcompat::init::Request,
}

impl InitSettings {
    pub fn resolve(args: InitArgs) -> Result<Self> {
        if !args.dir.is_dir() {
            return Err(Error::BadInput(format!(
                "--dir {}: no such folder",
                args.dir.display()
            )));
        }
        let action = args.action.unwrap_or_else(|| {
            format!(
                "{}@v{}",
                qcompat::init::ACTION_REPOSITORY,
                env!("CARGO_PKG_VERSION")
            )
        });
        let valid = action
            .split_once('@')
            .is_some_and(|(repo, reference)| repo.contains('/') && !reference.is_empty());
        if !valid {
            return Err(Error::BadInput(format!(
                "--action {action}: name it OWNER/REPO@REF"
            )));
        }
        let mut index = index_settings(&args.find_links, args.offline)?;
        // init lists versions and installs nothing: offline, only the find-links folders can answer, so the index is
        // not asked (`run --offline` still has uv's cache to install from; a listing has nothing of the kind).
        index.no_index |= index.offline;
        Ok(Self {
            request: qcompat::init::Request {
                project: args.dir,
                freeze: args.freeze.as_deref().map(read_freeze).transpose()?,
                index,
                action,
                force: args.force,
            },
        })
    }
}

/// `--freeze FILE`, or `-` for standard input, read now: a missing file is bad input, not a late surprise.
fn read_freeze(path: &Path) -> Result<qcompat::init::Freeze> {
    let refuse = |e: std::io::Error| Error::BadInput(format!("--freeze {}: {e}", path.display()));
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(refuse)?;
        return Ok(qcompat::init::Freeze {
            origin: "the freeze on standard input".into(),
            text,
        });
    }
    Ok(qcompat::init::Freeze {
        origin: path.display().to_string(),
        text: std::fs::read_to_string(path).map_err(refuse)?,
    })
}

/// Everything `qcompat repro` needs: it runs as a user would, in a fresh interpreter.
pub struct ReproSettings {
    pub args: ReproArgs,
    pub harness: HarnessSettings,
}

impl ReproSettings {
    pub fn resolve(args: ReproArgs) -> Result<Self> {
        Ok(Self {
            harness: harness_settings(&args.env, false)?,
            args,
        })
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

fn snapshot_mode(args: SnapshotArgs) -> Option<(Mode, Option<PathBuf>)> {
    let mode = match (args.check, args.update) {
        (true, _) => Mode::Check,
        (_, true) => Mode::Update,
        _ => return None,
    };
    Some((mode, args.snapshot))
}

/// `$GITHUB_STEP_SUMMARY`, checked now: a summary that cannot be appended to fails the job before its cells run.
fn step_summary() -> Result<Option<PathBuf>> {
    let Some(path) = var("GITHUB_STEP_SUMMARY").map(PathBuf::from) else {
        return Ok(None);
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| {
            Error::BadInput(format!(
                "GITHUB_STEP_SUMMARY={}: cannot append to it: {e}",
                path.display()
            ))
        })?;
    Ok(Some(path))
}

/// `--repo`: a git work tree or repository, checked before any probe runs.
/// Both sides of `--from`/`--to`, read; they must differ and be locked for Pythons that overlap.
fn pinned_sets(from: &str, to: &str) -> Result<(PinnedSet, PinnedSet)> {
    let (good, bad) = (sets::read(from)?, sets::read(to)?);
    if good.pins == bad.pins {
        return Err(Error::BadInput(format!(
            "--from {from} and --to {to} pin the same versions: nothing changed between them"
        )));
    }
    if let (Some(a), Some(b)) = (&good.requires_python, &bad.requires_python)
        && a != b
    {
        return Err(Error::BadInput(format!(
            "--from {from} is locked for Python {a}, --to {to} for Python {b}: compare sets of one interpreter"
        )));
    }
    Ok((good, bad))
}

fn check_repo(repo: &Path) -> Result<()> {
    let is_repo = repo.join(".git").exists() || repo.join("HEAD").is_file();
    if is_repo {
        return Ok(());
    }
    let why = if repo.is_dir() {
        "not a git clone (no .git)"
    } else {
        "no such folder"
    };
    Err(Error::BadInput(format!("--repo {}: {why}", repo.display())))
}

/// `preload`: fork probe processes from shared preloaded interpreters where cells allow (off: `--isolate`).
pub fn harness_settings(args: &EnvArgs, preload: bool) -> Result<HarnessSettings> {
    Ok(HarnessSettings {
        cache_root: args.cache_dir.clone().unwrap_or_else(default_cache_root),
        index: IndexSettings {
            as_of: args.as_of.clone(),
            ..index_settings(&args.find_links, args.offline)?
        },
        device: var("QCOMPAT_DEVICE").unwrap_or_else(|| "auto".into()),
        child_env: ChildEnv::from_vars(std::env::vars_os()),
        preload,
        python_search: PythonSearch {
            version_folders: version_folders(),
            downloads: args.allow_python_downloads,
        },
    })
}

/// pyenv's folders of installed versions: `$PYENV_ROOT/versions`, else `~/.pyenv/versions`.
fn version_folders() -> Vec<PathBuf> {
    let root = var("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".pyenv")));
    root.map(|r| r.join("versions")).into_iter().collect()
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
/// will install from; `--find-links` and `--offline` from the command line are added. A find-links folder that
/// does not exist would make every cell unresolvable: it is refused, naming where it was given.
fn index_settings(find_links: &[String], offline: bool) -> Result<IndexSettings> {
    let truthy = |v: Option<(&str, String)>| {
        v.is_some_and(|(_, v)| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    };
    let mut links: Vec<(String, String)> = Vec::new();
    if let Some((name, value)) = first(&["UV_FIND_LINKS", "PIP_FIND_LINKS"]) {
        let given = value.split([' ', ',']).filter(|s| !s.is_empty());
        links.extend(given.map(|link| (name.to_string(), link.to_string())));
    }
    links.extend(
        find_links
            .iter()
            .map(|l| ("--find-links".into(), l.clone())),
    );
    for (origin, link) in &links {
        check_find_links(origin, link)?;
    }
    Ok(IndexSettings {
        index_url: first(&["UV_INDEX_URL", "UV_DEFAULT_INDEX", "PIP_INDEX_URL"]).map(|(_, v)| v),
        find_links: links.into_iter().map(|(_, link)| link).collect(),
        no_index: truthy(first(&["UV_NO_INDEX", "PIP_NO_INDEX"])),
        offline: offline || truthy(first(&["UV_OFFLINE"])),
        timeout: index_timeout()?,
        as_of: None,
    })
}

/// A find-links location: a URL is the index's business; a path must be a folder of packages.
fn check_find_links(origin: &str, link: &str) -> Result<()> {
    if link.contains("://") && !link.starts_with("file://") {
        return Ok(());
    }
    let path = Path::new(link.strip_prefix("file://").unwrap_or(link));
    if path.is_dir() {
        return Ok(());
    }
    let why = if path.exists() {
        "not a folder"
    } else {
        "no such folder"
    };
    let given = if origin.starts_with('-') {
        format!("{origin} {link}")
    } else {
        format!("{origin}={link}")
    };
    Err(Error::BadInput(format!(
        "{given}: {why}; find-links names a folder of wheels and source archives"
    )))
}

/// `QCOMPAT_INDEX_TIMEOUT`: a duration (`30s`); one that does not parse is refused, not ignored.
fn index_timeout() -> Result<Option<std::time::Duration>> {
    var("QCOMPAT_INDEX_TIMEOUT")
        .map(|text| {
            humantime::parse_duration(&text)
                .map_err(|e| Error::BadInput(format!("QCOMPAT_INDEX_TIMEOUT={text}: {e}")))
        })
        .transpose()
}

/// The first of `names` that is set, with its value.
fn first(names: &[&'static str]) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| var(n).map(|v| (*n, v)))
}

/// A set, non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
