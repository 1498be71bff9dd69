//! One cell's probes, in order: the built-in ones in as few Python processes as possible (the runner), then each
//! command probe of the matrix in a process of its own (`command`). Above both, so neither imports the other's caller.

use std::time::Instant;

use super::command;
use super::protocol::{ProbeInterpreter, ProbeRun};
use super::runner::{self, ProbeJob};
use crate::error::Result;

/// Probe results in the order asked (each with the interpreter that ran it), plus the wall time of all processes.
pub struct CellRun {
    pub probes: Vec<(String, ProbeRun, ProbeInterpreter)>,
    pub process_s: f64,
}

/// Runs the cell's built-in probes in as few processes as possible, then each command probe in a process of its own.
pub async fn run_probes(job: &ProbeJob<'_>) -> Result<CellRun> {
    let mut results = Vec::new();
    let started = Instant::now();
    let mut remaining: Vec<String> = job
        .probes
        .iter()
        .filter(|p| p.command().is_none())
        .map(|p| p.name.clone())
        .collect();
    let mut base = job.base.clone();
    while !remaining.is_empty() {
        let Some((finished, interpreter)) =
            runner::run_process(job, &remaining, base.as_deref()).await?
        else {
            base = None; // the fork could not become this cell's interpreter: fresh from now on
            continue;
        };
        let done: Vec<String> = finished.iter().map(|(name, _)| name.clone()).collect();
        results.extend(finished.into_iter().map(|(n, r)| (n, r, interpreter)));
        remaining.retain(|p| !done.contains(p));
    }
    for spec in job.probes {
        if let Some(command) = spec.command() {
            let (run, interpreter) = command::run(job, spec, command, base.as_deref()).await?;
            results.push((spec.name.clone(), run, interpreter));
        }
    }
    Ok(CellRun {
        probes: results,
        process_s: started.elapsed().as_secs_f64(),
    })
}
