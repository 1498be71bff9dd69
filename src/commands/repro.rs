//! `qcompat repro`: one cell's environment and probes, by hand. Prints the `uv` commands that rebuild the
//! environment and the command that reruns the probes, then runs them with their output on the terminal: Python's
//! full traceback, with files and line numbers, where a report has only a signature.
//!
//! The environment is the one `run` uses (same cache, same hash), so a repro after a run builds nothing. The probe
//! process runs in qcompat's own process group with no timeout: Ctrl-C reaches it, as it would a command typed by
//! hand. Exit 0 when every probe passes, 1 when one does not, 2 for an unknown cell or probe, 3 when the
//! environment cannot be built.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use qcompat::env::quote;
use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::index::version;
use qcompat::matrix::{self, Cell};
use qcompat::outcome::{self, Outcome};
use qcompat::plan::{Plan, Selection};
use qcompat::probe;
use qcompat::probe::protocol::ProbeRun;
use qcompat::probe::protocol::{Event, parse_events};
use qcompat::probe::runner::signal_name;
use qcompat::probe::spec::ProbeSpec;
use qcompat::process::supervisor::Supervisor;
use qcompat::render::outcome_text;
use qcompat::run::harness::{Harness, Provision};
use qcompat::sink::Sink;
use qcompat::suggest;

use crate::output;
use crate::progress::{Detail, Terminal};
use crate::settings::ReproSettings;

pub fn run(settings: ReproSettings) -> Result<ExitStatus> {
    let args = &settings.args;
    let selection = Selection {
        filters: Vec::new(),
        probes: args.probes.clone(),
    };
    let plan = Plan::new(
        matrix::load(&args.matrix)?,
        &selection,
        &settings.harness.index,
    )?;
    let cell = find_cell(&plan, &args.cell)?;
    let sink: Arc<dyn Sink> = Arc::new(Terminal::new(Detail::Normal));
    super::say_warnings(&plan, &*sink);
    let harness = Arc::new(Harness::new(&plan.matrix, settings.harness, sink)?);

    let (venv, commands) = harness.rebuild_commands(&cell);
    say(&format!(
        "# the environment ({}):\n{commands}",
        venv.display()
    ))?;
    let python = provision(&harness, &cell)?;
    let (builtin, declared): (Vec<_>, Vec<_>) = plan
        .probes
        .iter()
        .cloned()
        .partition(|p| p.command().is_none());
    let mut outcomes = Vec::new();
    if !builtin.is_empty() {
        let (mut probe, results) = harness.foreground_probes(&cell, &python, &builtin)?;
        say(&format!(
            "# the probes, tracebacks on the terminal:\n{}",
            shown(&probe)
        ))?;
        let status = probe
            .status()
            .map_err(|e| Error::infra_caused(format!("starting {}", python.display()), e))?;
        let names: Vec<String> = builtin.iter().map(|p| p.name.clone()).collect();
        outcomes.extend(settle(&results, &names, &status));
    }
    for spec in &declared {
        outcomes.push(command_probe(&harness, &cell, &python, spec)?);
    }
    Ok(ExitStatus::findings_if(
        outcomes.iter().any(|o| *o != Outcome::Pass),
    ))
}

/// A command probe of the matrix: the exact command printed (with its folder), then run in the foreground.
fn command_probe(
    harness: &Harness,
    cell: &Cell,
    python: &Path,
    spec: &Arc<ProbeSpec>,
) -> Result<Outcome> {
    let command = spec.command().expect("a command probe");
    let run = match harness.foreground_command_probe(cell, python, spec)? {
        Ok((mut process, place)) => {
            say(&format!(
                "# probe {}, in a fresh copy of its dir:\ncd {} && {}",
                spec.name,
                quote(&place.work.display().to_string()),
                shown(&process)
            ))?;
            let (status, output) = run_teed(&mut process)?;
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (Some(code), _) => probe::command::ended(command, &place, code, &output),
                (None, signal) => ProbeRun::Died(signal.map_or("unknown exit".into(), signal_name)),
            }
        }
        Err(program) => ProbeRun::Command(probe::command::not_found(program)),
    };
    let verdict = outcome::classify(&run);
    let said = outcome_text(verdict.outcome, verdict.signature.as_deref());
    eprintln!("{}: {said}", spec.name);
    Ok(verdict.outcome)
}

fn say(text: &str) -> Result<()> {
    output::stdout(format!("{text}\n").as_bytes())
}

/// The cell `text` names (`axis=version,…`, every axis, versions compared as PEP 440 versions).
fn find_cell(plan: &Plan, text: &str) -> Result<Cell> {
    let asked: Vec<(&str, &str)> = text
        .split(',')
        .filter_map(|pair| pair.trim().split_once('='))
        .collect();
    let same = |cell: &Cell| {
        cell.values.len() == asked.len()
            && cell.values.iter().all(|(axis, version)| {
                asked.iter().any(|(a, v)| {
                    a == axis && version::parse_version(v).is_ok_and(|v| v == *version)
                })
            })
    };
    if let Some(cell) = plan.all_cells.iter().find(|c| same(c)) {
        return Ok(cell.clone());
    }
    let keys: Vec<String> = plan.all_cells.iter().map(|c| c.key().to_string()).collect();
    let hint = suggest::hint(text, keys.iter().map(String::as_str));
    Err(Error::BadInput(format!(
        "--cell {text}: no such cell in {}{hint}; `qcompat run --matrix {} --list` lists them",
        plan.matrix.source.display(),
        quote(&plan.matrix.source.display().to_string())
    )))
}

/// The environment's interpreter, from the cache or built now (under a supervisor, so Ctrl-C stops a uv install at
/// once); a cell that cannot get one stops the reproduction.
fn provision(harness: &Arc<Harness>, cell: &Cell) -> Result<PathBuf> {
    let supervisor = Supervisor::new()?;
    match supervisor.block_on(harness.provision(cell))? {
        Provision::Ready(env) => Ok(env.python),
        Provision::Failed { message, .. } => Err(Error::infra(format!(
            "the environment of {} cannot be built:\n{message}",
            cell.key()
        ))),
    }
}

/// Runs `process` with its output on the terminal as it comes, and kept: a command probe's verdict reads its last
/// traceback as `run` does. Its stdout's text, then its stderr's.
fn run_teed(process: &mut Command) -> Result<(std::process::ExitStatus, String)> {
    use std::io::{Read, Write};
    use std::process::Stdio;
    const KEPT: usize = 256 << 10;
    let program = process.get_program().to_owned();
    let mut child = process
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::infra_caused(format!("starting {}", program.display()), e))?;
    fn tee(
        mut from: impl Read + Send + 'static,
        mut to: impl Write + Send + 'static,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let (mut kept, mut buffer) = (Vec::new(), [0u8; 8192]);
            while let Ok(n @ 1..) = from.read(&mut buffer) {
                to.write_all(&buffer[..n]).ok();
                to.flush().ok();
                kept.extend_from_slice(&buffer[..n]);
                // Only the end is read for a traceback; a flood must not fill the memory.
                if kept.len() > 2 * KEPT {
                    kept.drain(..kept.len() - KEPT);
                }
            }
            kept
        })
    }
    let out = tee(child.stdout.take().expect("piped"), std::io::stdout());
    let err = tee(child.stderr.take().expect("piped"), std::io::stderr());
    let status = child
        .wait()
        .map_err(|e| Error::infra_caused("waiting for the probe", e))?;
    let mut output = out.join().unwrap_or_default();
    output.extend(err.join().unwrap_or_default());
    Ok((status, String::from_utf8_lossy(&output).into_owned()))
}

/// A command as a shell line: its environment variables, program and arguments.
fn shown(command: &Command) -> String {
    let vars = command.get_envs().filter_map(|(name, value)| {
        Some(format!(
            "{}={}",
            name.to_string_lossy(),
            quote(&value?.to_string_lossy())
        ))
    });
    let program = std::iter::once(quote(&command.get_program().to_string_lossy()));
    let args = command.get_args().map(|a| quote(&a.to_string_lossy()));
    vars.chain(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each probe's outcome, printed one a line, from the result file the process wrote.
fn settle(results: &Path, probes: &[String], status: &std::process::ExitStatus) -> Vec<Outcome> {
    let events = parse_events(&std::fs::read_to_string(results).unwrap_or_default());
    probes
        .iter()
        .map(|name| {
            let report = events.iter().find_map(|event| match event {
                Event::Result(report) if report.probe == *name => Some(report.clone()),
                _ => None,
            });
            let run = match report {
                Some(report) => ProbeRun::Reported(report),
                None => ProbeRun::Died(format!("process ended ({status}) before reporting")),
            };
            let verdict = outcome::classify(&run);
            let said = outcome_text(verdict.outcome, verdict.signature.as_deref());
            eprintln!("{name}: {said}");
            verdict.outcome
        })
        .collect()
}
