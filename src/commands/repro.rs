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

use qcompat::env::{Cache, EnvFailure, EnvSpec, Interpreter, Uv, quote};
use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;
use qcompat::harness::HarnessSettings;
use qcompat::matrix::{self, Cell};
use qcompat::outcome::{self, Outcome};
use qcompat::plan::{Plan, Selection};
use qcompat::probe::catalog::{self, RUNNER};
use qcompat::probe::protocol::{Event, parse_events};
use qcompat::probe::runner::ProbeRun;
use qcompat::render::outcome_text;
use qcompat::supervisor::Supervisor;
use qcompat::{suggest, version};

use crate::cli::ReproArgs;

pub fn run(args: ReproArgs, settings: HarnessSettings) -> Result<ExitStatus> {
    let matrix = matrix::load(&args.matrix)?;
    let selection = Selection {
        filters: Vec::new(),
        probes: args.probes.clone(),
    };
    let plan = Plan::new(matrix, &selection, &settings.index)?;
    let cell = find_cell(&plan, &args.cell)?;

    let cache = Cache::open(settings.cache_root)?;
    let python = Interpreter::find(plan.matrix.python.as_deref())?;
    let uv = Uv::find_or_bootstrap(&cache.root, &python.path, settings.child_env.clone())?;
    let probes_dir = catalog::materialize(&cache.root)?;
    let spec = EnvSpec {
        python,
        requirements: cell.requirements(&plan.matrix.pins),
        overrides: cell.override_requirements(),
        index: settings.index,
    };
    let venv = cache.root.join("envs").join(Cache::hash(&spec));
    println!("# the environment ({}):", venv.display());
    let rebuild = spec.rebuild_commands(
        &uv.path.display().to_string(),
        &spec.python.path.display().to_string(),
        &venv.display().to_string(),
    );
    println!("{}", rebuild.join("\n"));

    let python = provision(&cache, &uv, &spec, &cell)?;
    let artifacts = cache
        .root
        .join("runs")
        .join(&plan.matrix.name)
        .join(cell.key().slug())
        .join("repro");
    recreate(&artifacts)?;
    let results = artifacts.join("results.jsonl");
    let mut probe = Command::new(&python);
    // The same allow-listed environment as `run`'s probes: what reproduces there reproduces here.
    probe
        .env_clear()
        .envs(settings.child_env.for_probe_in(&python))
        .arg(probes_dir.scripts.join(RUNNER))
        .args(&plan.probes)
        .env("QCOMPAT_RESULT", &results)
        .env("QCOMPAT_FIXTURES", &probes_dir.fixtures)
        .env("QCOMPAT_ARTIFACTS", &artifacts)
        .env("QCOMPAT_DEVICE", &settings.device)
        .env("PYTHONUNBUFFERED", "1");
    println!("# the probes, tracebacks on the terminal:");
    println!("{}", shown(&probe));
    let status = probe
        .status()
        .map_err(|e| Error::infra_caused(format!("starting {}", python.display()), e))?;
    let outcomes = settle(&results, &plan.probes, &status);
    Ok(ExitStatus::findings_if(
        outcomes.iter().any(|o| *o != Outcome::Pass),
    ))
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

/// The environment's interpreter, from the cache or built now; a cell that cannot get one is reported as its outcome.
fn provision(cache: &Cache, uv: &Uv, spec: &EnvSpec, cell: &Cell) -> Result<PathBuf> {
    let supervisor = Supervisor::new()?;
    let (cache, uv, spec) = (
        Cache {
            root: cache.root.clone(),
        },
        uv.clone(),
        spec.clone(),
    );
    // Under the supervisor, so Ctrl-C stops a uv install at once.
    let built = supervisor.block_on(async move {
        tokio::task::spawn_blocking(move || cache.provision(&uv, &spec))
            .await
            .map_err(|e| Error::infra_caused("the environment task panicked", e))
    })?;
    match built {
        Ok(env) => Ok(env.python),
        Err(EnvFailure::Infra(error)) => Err(Error::infra_caused(
            format!("building the environment of {}", cell.key()),
            error,
        )),
        Err(EnvFailure::Unresolvable(message) | EnvFailure::InstallError(message)) => {
            Err(Error::infra(format!(
                "the environment of {} cannot be built:\n{message}",
                cell.key()
            )))
        }
    }
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

fn recreate(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
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
