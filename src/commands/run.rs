//! `qcompat run`: plan the matrix, run the selected cells, report, and exit by what was found.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::plan::Plan;
use qcompat::report::{self, Format, view::View};
use qcompat::results::{CellResult, RunReport};
use qcompat::run::pipeline::{JournalUse, Pipeline};
use qcompat::sink::Sink;
use qcompat::snapshot::Baseline;

use crate::output::Output;
use crate::progress::Terminal;
use crate::settings::RunSettings;

pub fn run(mut settings: RunSettings) -> Result<ExitStatus> {
    let (plan, part) = super::plan::for_run(&mut settings)?;
    let sink: Arc<dyn Sink> = Arc::new(Terminal::new(settings.detail));
    super::say_warnings(&plan, &*sink);
    let baseline = settings
        .snapshot
        .clone()
        .map(|(mode, path)| Baseline::open(mode, path, &plan.matrix.name))
        .transpose()?;
    if settings.list {
        return list(&plan, settings.format, &settings.output);
    }
    let journal = JournalUse {
        name: plan.journal_name(),
        resume: settings.resume,
        unresolvable_too: false,
    };
    let mut pipeline = Pipeline::open(&plan, settings.harness, journal, settings.jobs, sink)?;
    // Before any cell: a fixture the engine cannot reproduce must stop the run, not be blamed on the stack.
    let reference = pipeline.reference_row()?;
    let done = pipeline.remembered_count(&plan.cells);
    if done > 0 {
        let total = plan.cells.len();
        pipeline
            .sink()
            .note(&format!("resuming: {done} of {total} cells already done"));
    }
    let results: Vec<CellResult> = pipeline
        .results(&plan.cells)?
        .into_iter()
        .map(|probed| probed.result)
        .collect();
    for warning in qcompat::run::lint::unmatched_known(&plan.matrix, &results) {
        pipeline.sink().warn(&warning);
    }
    let mut report = RunReport::new(plan.matrix.name.clone(), results);
    report.reference = reference;
    let color = settings.output.color();
    let text = report::render(&View::of(&report), settings.format, color);
    settings.output.write(&text)?;
    if let Some(part) = part {
        part.write(&report, &plan)?;
    }
    if let Some(summary) = &settings.step_summary {
        append_step_summary(summary, &report)?;
    }
    // With --check the snapshot decides the exit status: a recorded failure that reproduces is as expected.
    let checked = match baseline {
        Some(baseline) => {
            let settled = baseline.settle(&report, &plan)?;
            eprintln!("{}", settled.message);
            settled.status
        }
        None => None,
    };
    // Whatever the snapshot says, a run that tested nothing is not green.
    if let Some(nothing) = report.nothing_tested() {
        return Err(nothing.error());
    }
    Ok(checked.unwrap_or(ExitStatus::findings_if(report.regressions() > 0)))
}

/// `run --list`: the selected cells, one key a line, or the whole plan as JSON.
fn list(plan: &Plan, format: Format, output: &Output) -> Result<ExitStatus> {
    if format == Format::Json {
        output.write(&plan.to_json())?;
    } else {
        let keys: String = plan
            .cells
            .iter()
            .map(|c| format!("{}\n", c.key()))
            .collect();
        output.write(&keys)?;
        eprintln!(
            "{} cells, probes: {}",
            plan.cells.len(),
            plan.probe_names().join(", ")
        );
    }
    Ok(ExitStatus::Success)
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
