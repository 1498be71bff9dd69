//! `qcompat run`: expand the matrix, run every cell, report, and exit by what was found.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{Format, RunArgs};
use crate::engine::reference;
use crate::env::Cache;
use crate::error::{Error, Result};
use crate::harness::{CellObserver, Harness};
use crate::index::{self, IndexSettings};
use crate::journal::Journal;
use crate::matrix::{self, AxisValues, Cell, Matrix};
use crate::progress::Progress;
use crate::report;
use crate::results::{CellResult, Reference, RunReport};
use crate::snapshot::Baseline;
use crate::version::{self, Version};
use crate::{probe, suggest};

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let matrix = matrix::load(&args.matrix)?;
    let probes = selected_probes(&matrix, &args.probes)?;
    let filters = parse_filters(&matrix, &args.filters)?;
    let baseline = Baseline::open(&args.snapshot, &matrix)?;
    let index = IndexSettings::from_env(&args.env.find_links, args.env.offline);
    let cache_root = args
        .env
        .cache_dir
        .clone()
        .unwrap_or_else(Cache::default_root);
    let harness = Arc::new(Harness::new(&matrix, cache_root, index)?);
    // Before any cell: a fixture the engine cannot reproduce must stop the run, not be blamed on the stack.
    let reference = reference_row(&probes, &harness)?;

    let all_cells = cells(&matrix, &harness.index)?;
    let cells: Vec<Cell> = all_cells
        .iter()
        .filter(|c| matches_filters(c, &filters))
        .cloned()
        .collect();
    if cells.is_empty() {
        return Err(Error::BadInput(format!(
            "{}: no cell matches the filters",
            args.matrix.display()
        )));
    }

    let (journal, earlier) = Journal::open(&harness.runs_dir, args.resume, &probes)?;
    let (done, todo): (Vec<Cell>, Vec<Cell>) = cells
        .iter()
        .cloned()
        .partition(|c| earlier.iter().any(|e| resumable(e, c, &harness)));
    if !done.is_empty() {
        eprintln!(
            "resuming: {} of {} cells already done",
            done.len(),
            cells.len()
        );
    }
    let observer: Arc<dyn CellObserver> = Arc::new(Bookkeeping {
        progress: Progress::new(todo.len()),
        journal,
        probes: probes.clone(),
    });
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let fresh = harness.run_cells(todo, &probes, jobs, &observer)?;
    drop(observer);

    // Matrix order, whichever run produced each cell.
    let results: Vec<CellResult> = cells
        .iter()
        .filter_map(|c| {
            let key = c.key_string();
            fresh
                .iter()
                .chain(&earlier)
                .find(|r| r.key_string() == key)
                .cloned()
        })
        .collect();
    let mut report = RunReport::new(matrix.name.clone(), results);
    report.reference = reference;
    emit(&report, args.format, args.output.as_deref())?;
    report::markdown::append_to_step_summary(&report)?;
    // With --check the snapshot decides the exit code: a recorded failure that reproduces is as expected.
    let checked = match baseline {
        Some(baseline) => baseline.settle(&report, &matrix, &all_cells)?,
        None => None,
    };
    Ok(checked.unwrap_or(if report.has_regression() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }))
}

/// A journal entry stands for `cell` only if it ran in the environment the cell would get now: same key, and the
/// same requirements, interpreter and index (an edited pin must not resume a stale result). Cells that got no
/// environment are cheap to retry and always run again.
fn resumable(entry: &CellResult, cell: &Cell, harness: &Harness) -> bool {
    entry.key_string() == cell.key_string()
        && entry
            .env
            .as_ref()
            .is_some_and(|env| env.hash == Cache::hash(&harness.env_spec(cell)))
}

/// Progress display and resume journal, told of each cell as it finishes.
struct Bookkeeping {
    progress: Progress,
    journal: Journal,
    probes: Vec<String>,
}

impl CellObserver for Bookkeeping {
    fn started(&self, key: &str) {
        self.progress.started(key);
    }

    fn finished(&self, cell: &CellResult) {
        self.journal.record(&self.probes, cell);
        self.progress.finished(cell);
    }
}

impl Drop for Bookkeeping {
    fn drop(&mut self) {
        self.progress.clear();
    }
}

/// The matrix's probes, or the subset asked with `--probe`, in catalogue order.
fn selected_probes(matrix: &Matrix, asked: &[String]) -> Result<Vec<String>> {
    for name in asked {
        if !matrix.probes.contains(name) {
            let hint = suggest::hint(name, matrix.probes.iter().map(String::as_str));
            return Err(Error::BadInput(format!(
                "--probe {name}: the matrix does not run this probe{hint}"
            )));
        }
    }
    Ok(probe::catalog::names()
        .filter(|p| {
            matrix.probes.iter().any(|m| m == p)
                && (asked.is_empty() || asked.iter().any(|a| a == p))
        })
        .map(String::from)
        .collect())
}

/// Filters on one axis are alternatives (`--filter bitsandbytes=0.42.0 --filter bitsandbytes=0.45.5`), filters on
/// different axes must all hold.
fn matches_filters(cell: &Cell, filters: &[(String, Version)]) -> bool {
    filters.iter().all(|(axis, _)| {
        let version = cell.version_of(axis);
        filters.iter().any(|(a, v)| a == axis && version == Some(v))
    })
}

fn parse_filters(matrix: &Matrix, filters: &[String]) -> Result<Vec<(String, Version)>> {
    filters
        .iter()
        .map(|filter| {
            let (axis, value) = filter.split_once('=').ok_or_else(|| {
                Error::BadInput(format!("--filter {filter}: expected AXIS=VERSION"))
            })?;
            if !matrix.axes.iter().any(|a| a.name == axis) {
                let hint = suggest::hint(axis, matrix.axes.iter().map(|a| a.name.as_str()));
                return Err(Error::BadInput(format!(
                    "--filter {filter}: unknown axis `{axis}`{hint}"
                )));
            }
            let version = version::parse_version(value)
                .map_err(|e| Error::BadInput(format!("--filter {filter}: {e}")))?;
            Ok((axis.to_string(), version))
        })
        .collect()
}

/// Expands the matrix, asking the index for the versions of query axes.
pub fn cells(matrix: &Matrix, settings: &IndexSettings) -> Result<Vec<Cell>> {
    let axis_versions = matrix
        .axes
        .iter()
        .map(|axis| match &axis.values {
            AxisValues::Explicit(versions) => Ok(versions.clone()),
            AxisValues::Query { specifiers, pre } => {
                let listed = index::list_versions(&axis.name, settings)?;
                let matching: Vec<Version> = listed
                    .into_iter()
                    .filter(|v| version::admits(specifiers, v, *pre))
                    .collect();
                if matching.is_empty() {
                    return Err(Error::BadInput(format!(
                        "axis `{}`: no published version matches `{specifiers}`{}",
                        axis.name,
                        if *pre {
                            ""
                        } else {
                            " (pre-releases excluded: add pre = true)"
                        }
                    )));
                }
                Ok(matching)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(matrix::expand(matrix, &axis_versions))
}

/// The built-in engine's metrics for the probes it implements, computed once on the same fixture the probes load.
/// An engine failure here means a broken fixture, not a broken dependency: the run stops before blaming any cell.
fn reference_row(probes: &[String], harness: &Harness) -> Result<Option<Reference>> {
    let Some(checkpoint) = &harness.reference else {
        return Ok(None);
    };
    if !probes
        .iter()
        .any(|p| reference::IMPLEMENTED.contains(&p.as_str()))
    {
        return Ok(None);
    }
    let metrics = reference::reference_metrics(checkpoint).map_err(|e| {
        Error::Infra(format!(
            "the built-in reference failed on the fixture checkpoint: {e}"
        ))
    })?;
    Ok(Some(Reference {
        engine: format!("builtin (qcompat {})", env!("CARGO_PKG_VERSION")),
        metrics: metrics
            .into_iter()
            .filter(|(probe, _)| probes.contains(probe))
            .collect(),
    }))
}

fn emit(report: &RunReport, format: Format, output: Option<&Path>) -> Result<()> {
    let to_terminal = output.is_none() && std::io::stdout().is_terminal();
    let text = report::render(
        report,
        format.into(),
        to_terminal && std::env::var_os("NO_COLOR").is_none(),
    );
    match output {
        Some(path) => write_atomically(path, &text),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a report.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(path, e))?;
    file.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
