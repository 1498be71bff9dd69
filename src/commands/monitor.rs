//! `qcompat monitor`: run the cells of versions published since the snapshot, report their regressions and fixes,
//! and bisect each regression back to the last recorded version that passed.

use std::path::Path;
use std::sync::Arc;

use qcompat::bisect::drive::Job;
use qcompat::bisect::session::Session;
use qcompat::bisect::view::Context;
use qcompat::diff::SnapshotDiff;
use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::files::write_atomically;
use qcompat::index::IndexSettings;
use qcompat::matrix::{self, AxisValues};
use qcompat::monitor::{self, MonitorReport, view::MonitorView};
use qcompat::plan::{Plan, Selection};
use qcompat::results::RunReport;
use qcompat::run::pipeline::{JournalUse, Pipeline};
use qcompat::sink::Sink;
use qcompat::snapshot::{self, Snapshot};
use qcompat::{diff, render};

use crate::progress::{Detail, Terminal};
use crate::settings::MonitorSettings;

pub fn run(settings: MonitorSettings) -> Result<ExitStatus> {
    let matrix = matrix::load(&settings.args.matrix)?;
    let path = settings
        .args
        .snapshot
        .clone()
        .unwrap_or_else(|| snapshot::default_path(&matrix.name));
    let recorded = recorded(&path, &matrix.name)?;
    let plan = Plan::new(matrix, &Selection::default(), &settings.harness.index)?;
    let cells = monitor::new_cells(&plan, recorded.as_ref());
    let mut report = MonitorReport {
        matrix: plan.matrix.name.clone(),
        listed: plan.listed.clone(),
        since: recorded.as_ref().and_then(|s| s.listed.clone()),
        new_versions: monitor::new_versions(&plan, recorded.as_ref()),
        cells_run: cells.iter().map(|c| c.key().to_string()).collect(),
        diff: None,
        bisections: Vec::new(),
        bisect_errors: Vec::new(),
    };
    if cells.is_empty() {
        emit(&settings, &report, &plan)?;
        return Ok(ExitStatus::Success);
    }

    let index = settings.harness.index.clone();
    let sink: Arc<dyn Sink> = Arc::new(Terminal::new(Detail::Normal));
    super::say_warnings(&plan, &*sink);
    // The bisect command's journal: the bisections below reuse the new cells instead of probing them again.
    let journal = JournalUse::bisect(&plan);
    let harness = settings.harness.clone();
    let mut pipeline = Pipeline::open(&plan, harness, journal, settings.jobs, sink)?;
    let results = pipeline
        .results(&cells)?
        .into_iter()
        .map(|probed| probed.result)
        .collect();
    let ran = RunReport::new(plan.matrix.name.clone(), results);
    let nothing_tested = ran.nothing_tested();
    let mut fresh = Snapshot::from_report(&ran, &plan.matrix);
    fresh.listed = plan.listed.clone();
    let probes = plan.matrix.probe_names();
    let merged = Snapshot::merge(recorded.as_ref(), &fresh, &plan.all_cells, &probes);

    if let Some(old) = &recorded {
        let found = diff::diff(old, &merged)?;
        let mut session = Session::new(&mut pipeline);
        bisect_regressions(&mut session, &plan, &index, old, &found, &mut report)?;
        report.diff = Some(found);
    }
    if settings.args.update {
        write_atomically(&path, &snapshot::render(&merged))?;
        eprintln!(
            "updated {}: {} new cells recorded",
            path.display(),
            fresh.cells.len()
        );
    }
    emit(&settings, &report, &plan)?;
    if let Some(nothing) = nothing_tested {
        return Err(nothing.error());
    }
    Ok(ExitStatus::findings_if(report.regressions() > 0))
}

/// The snapshot so far; none before the first night. One of another matrix is refused.
fn recorded(path: &Path, matrix: &str) -> Result<Option<Snapshot>> {
    let recorded = path.exists().then(|| snapshot::read(path)).transpose()?;
    if let Some(other) = recorded.as_ref().filter(|s| s.matrix != matrix) {
        return Err(Error::BadInput(format!(
            "{}: a snapshot of matrix `{}`, not of `{matrix}`",
            path.display(),
            other.matrix,
        )));
    }
    Ok(recorded)
}

/// Bisects each regression of a new version back to the last recorded pass. An endpoint that no longer behaves as
/// recorded stops only its own bisection.
fn bisect_regressions(
    session: &mut Session<'_>,
    plan: &Plan,
    index: &IndexSettings,
    old: &Snapshot,
    found: &SnapshotDiff,
    report: &mut MonitorReport,
) -> Result<()> {
    for suspect in monitor::suspects(plan, old, found) {
        let job = Job {
            plan,
            pre: query_admits_pre(plan, &suspect.axis),
            axis: suspect.axis,
            base: suspect.base,
            index,
            any_failure: false,
            recurse: false,
            repo: None,
        };
        match job.run(session, &suspect.good, &suspect.bad) {
            Ok(bisection) => report.bisections.push(bisection),
            Err(Error::BadInput(message)) => report.bisect_errors.push(message),
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// A query axis that admits pre-releases (nightlies) bisects across them too.
fn query_admits_pre(plan: &Plan, axis: &str) -> bool {
    plan.matrix
        .axes
        .iter()
        .any(|a| a.name == axis && matches!(a.values, AxisValues::Query { pre: true, .. }))
}

fn emit(settings: &MonitorSettings, report: &MonitorReport, plan: &Plan) -> Result<()> {
    let probes = plan.probe_names();
    let context = Context {
        invocation: &settings.invocation,
        matrix: &settings.args.matrix,
        probes: &probes,
        as_of: plan.as_of.as_ref().map(|a| a.text.as_str()),
        repo: None,
    };
    let text = render::render(&MonitorView::of(report, &context), settings.args.format);
    settings.output.write(&text)
}
