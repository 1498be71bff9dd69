//! `qcompat run`: plan the matrix, run the selected cells, report, and exit by what was found.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::files::write_atomically;
use qcompat::harness::{CellObserver, Harness};
use qcompat::journal::{self, Journal};
use qcompat::matrix::Cell;
use qcompat::plan::Plan;
use qcompat::progress::Progress;
use qcompat::recipe::ResolverNote;
use qcompat::report::{self, Format, view::View};
use qcompat::results::{CellResult, RunReport};
use qcompat::snapshot::Baseline;
use qcompat::supervisor::Supervisor;

use crate::settings::RunSettings;

pub fn run(mut settings: RunSettings) -> Result<ExitStatus> {
    let (plan, part) = super::plan::for_run(&mut settings)?;
    let baseline = settings
        .snapshot
        .clone()
        .map(|(mode, path)| Baseline::open(mode, path, &plan.matrix.name))
        .transpose()?;
    if settings.list {
        return list(&plan, settings.format);
    }
    let harness = Arc::new(Harness::new(&plan.matrix, settings.harness)?);
    // Before any cell: a fixture the engine cannot reproduce must stop the run, not be blamed on the stack.
    let reference = harness.reference_row(&plan.probes)?;

    let (journal, earlier) = Journal::open(
        harness.runs_dir(),
        &plan.journal_name(),
        settings.resume,
        &plan.probes,
    )?;
    let (done, todo): (Vec<Cell>, Vec<Cell>) = plan.cells.iter().cloned().partition(|c| {
        let hash = harness.env_hash(c);
        earlier.iter().any(|e| journal::reusable(e, c, &hash))
    });
    if !done.is_empty() {
        eprintln!(
            "resuming: {} of {} cells already done",
            done.len(),
            plan.cells.len()
        );
    }
    let observer: Arc<dyn CellObserver> = Arc::new(Bookkeeping {
        progress: Progress::new(todo.len())
            .naming_by(&todo.iter().map(Cell::key).collect::<Vec<_>>())
            .detail(settings.detail),
        journal,
        probes: plan.probes.clone(),
        resolver_note: ResolverNote::new(&plan.matrix),
    });
    let supervisor = Supervisor::new()?;
    let fresh = harness.run_cells(&supervisor, todo, &plan.probes, settings.jobs, &observer);
    drop(observer);
    let fresh = fresh?;

    // Matrix order, whichever run produced each cell.
    let results: Vec<CellResult> = plan
        .cells
        .iter()
        .filter_map(|c| {
            let key = c.key();
            fresh.iter().chain(&earlier).find(|r| r.key == key).cloned()
        })
        .collect();
    for warning in qcompat::lint::unmatched_known(&plan.matrix, &results) {
        eprintln!("warning: {warning}");
    }
    let mut report = RunReport::new(plan.matrix.name.clone(), results);
    report.reference = reference;
    let text = report::render(&View::of(&report), settings.format, settings.color);
    emit(&text, settings.output.as_deref())?;
    if let Some(part) = part {
        part.write(&report, &plan)?;
    }
    if let Some(summary) = &settings.step_summary {
        append_step_summary(summary, &report)?;
    }
    // With --check the snapshot decides the exit status: a recorded failure that reproduces is as expected.
    let checked = match baseline {
        Some(baseline) => baseline.settle(&report, &plan)?,
        None => None,
    };
    Ok(checked.unwrap_or(ExitStatus::findings_if(report.regressions() > 0)))
}

/// `run --list`: the selected cells, one key a line, or the whole plan as JSON.
fn list(plan: &Plan, format: Format) -> Result<ExitStatus> {
    if format == Format::Json {
        print!("{}", plan.to_json());
    } else {
        for cell in &plan.cells {
            println!("{}", cell.key());
        }
        eprintln!(
            "{} cells, probes: {}",
            plan.cells.len(),
            plan.probes.join(", ")
        );
    }
    Ok(ExitStatus::Success)
}

/// Progress display and resume journal, told of each cell as it finishes.
struct Bookkeeping {
    progress: Progress,
    journal: Journal,
    probes: Vec<String>,
    resolver_note: ResolverNote,
}

impl CellObserver for Bookkeeping {
    fn started(&self, cell: &Cell) {
        self.progress.started(&cell.key().to_string());
    }

    fn finished(&self, cell: &CellResult) {
        self.journal.record(&self.probes, cell);
        self.resolver_note.tell(cell, &self.progress);
        self.progress.finished(cell);
    }
}

impl Drop for Bookkeeping {
    fn drop(&mut self) {
        self.progress.clear();
    }
}

fn emit(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => write_atomically(path, text),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Appends the Markdown summary to GitHub Actions' job summary, so a CI run shows it without a step of its own.
fn append_step_summary(path: &Path, report: &RunReport) -> Result<()> {
    let text = report::render(&View::of(report), Format::Markdown, false);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(format!("{text}\n").as_bytes())
        .map_err(|e| Error::io(path, e))
}
