//! `qcompat bisect`: the first bad (or first fixed) release of one axis, from the versions the index publishes.

use std::sync::Arc;

use qcompat::bisect::drive::Job;
use qcompat::bisect::session::Session;
use qcompat::bisect::view::{BisectView, Context};
use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::index::version::parse_version;
use qcompat::plan::{Plan, Selection};
use qcompat::run::pipeline::{JournalUse, Pipeline};
use qcompat::sink::Sink;
use qcompat::{matrix, render, snapshot};

use crate::progress::{Detail, Terminal};
use crate::settings::BisectSettings;

pub fn run(settings: BisectSettings) -> Result<ExitStatus> {
    let args = &settings.args;
    let matrix = matrix::load(&args.matrix)?;
    let selection = Selection {
        filters: args.filters.clone(),
        probes: args.probes.clone(),
    };
    let plan = Plan::new(matrix, &selection, &settings.harness.index)?;
    let index = settings.harness.index.clone();
    let mut job = Job::new(&plan, &args.axis, &index)?;
    job.any_failure = args.any_failure;
    job.pre = args.pre;
    job.recurse = args.recurse;
    job.repo = args.repo.as_deref();
    let pairs = match (&args.good, &args.bad) {
        (Some(good), Some(bad)) => vec![(version("--good", good)?, version("--bad", bad)?)],
        _ => {
            let path = args
                .snapshot
                .clone()
                .unwrap_or_else(|| snapshot::default_path(&plan.matrix.name));
            let pairs = job.transitions(&snapshot::read(&path)?);
            if pairs.is_empty() {
                eprintln!(
                    "{}: no pass/fail transition along `{}`: nothing to bisect",
                    path.display(),
                    args.axis
                );
                return Ok(ExitStatus::Success);
            }
            pairs
        }
    };

    let sink: Arc<dyn Sink> = Arc::new(Terminal::new(Detail::Normal));
    super::say_warnings(&plan, &*sink);
    let journal = JournalUse::bisect(&plan);
    let mut pipeline = Pipeline::open(&plan, settings.harness, journal, settings.jobs, sink)?;
    let mut session = Session::new(&mut pipeline);
    let found = pairs
        .iter()
        .map(|(good, bad)| job.run(&mut session, good, bad))
        .collect::<Result<Vec<_>>>()?;

    let probes = plan.probe_names();
    let context = Context {
        invocation: &settings.invocation,
        matrix: &args.matrix,
        probes: &probes,
        as_of: plan.as_of.as_ref().map(|a| a.text.as_str()),
        repo: args.repo.as_deref(),
    };
    let text = render::render(&BisectView::of(&found, &context), args.format);
    settings.output.write(&text)?;
    Ok(ExitStatus::Success)
}

fn version(flag: &str, text: &str) -> Result<qcompat::index::version::Version> {
    parse_version(text).map_err(|e| Error::BadInput(format!("{flag} {text}: {e}")))
}
