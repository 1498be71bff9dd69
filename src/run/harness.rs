//! Runs cells: provision the environment, run the probes, classify. Shared by `run` and the commands built on it.
//!
//! A [`Harness`] holds what every cell of one matrix needs and does not depend on the cell: the [`Toolchain`]
//! (cache, interpreter, uv, index), the matrix's [`CellPolicy`] (pins, known issues, timeout), the device, where
//! probes and per-cell outputs live, and the built-in reference. Concurrency, signals and child processes belong
//! to the [`Supervisor`] the caller passes in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use qcompat_engine::EngineError;
use qcompat_engine::oracle::{self, NumericCheck};
use qcompat_engine::train::CheckpointDir;
use tokio::task::JoinSet;

use crate::env::project::ProjectInstall;
use crate::env::{Cache, Env, EnvFailure, EnvSpec, Interpreter, Interpreters, PythonSearch, Uv};
use crate::error::{Error, Result};
use crate::index::IndexSettings;
use crate::matrix::{Cell, Known, Matrix, PYTHON_AXIS};
use crate::outcome::{self, Outcome, Verdict};
use crate::probe::catalog::{self, Materialized};
use crate::probe::cell::{CellRun, run_probes};
use crate::probe::command;
use crate::probe::preload::{Base, Preloader};
use crate::probe::protocol::{ProbeRun, TestResult};
use crate::probe::runner::{ProbeJob, foreground_command};
use crate::probe::spec::{ProbeSpec, Role};
use crate::process::child_env::ChildEnv;
use crate::process::supervisor::Supervisor;
use crate::results::{CellResult, EnvInfo, ProbeResult, Reference};
use crate::sink::Sink;

/// Told as cells start and finish (progress display, the resume journal).
pub trait CellObserver: Send + Sync {
    fn started(&self, cell: &Cell);
    fn finished(&self, cell: &CellResult);
}

/// What the harness needs from the settings: where the cache is, where packages come from, which device to use.
#[derive(Clone)]
pub struct HarnessSettings {
    pub cache_root: PathBuf,
    pub index: IndexSettings,
    /// `auto`, `cpu` or `cuda`: handed to the probes (QCOMPAT_DEVICE).
    pub device: String,
    /// The allow-listed environment uv and the probes get (never qcompat's own: CI secrets stay here).
    pub child_env: ChildEnv,
    /// Fork probe processes from shared preloaded interpreters where cells allow (false: `--isolate`).
    pub preload: bool,
    /// Where interpreters are looked for, and whether uv may download one.
    pub python_search: PythonSearch,
}

/// The machine's side of a cell: where environments are cached, and what builds them.
pub struct Toolchain {
    pub cache: Cache,
    /// The interpreter of each Python the matrix asks for.
    pub interpreters: Interpreters,
    pub uv: Uv,
    pub index: IndexSettings,
    /// The project under test as each interpreter's environments install it (by the interpreter's path).
    pub project: Vec<(PathBuf, ProjectInstall)>,
}

impl Toolchain {
    /// The cache, uv, every interpreter the matrix asks for (one not found is exit 3) and the project built for
    /// each (a build that fails is exit 2): all before any cell runs.
    fn new(matrix: &Matrix, settings: &HarnessSettings, sink: &dyn Sink) -> Result<Self> {
        let cache = Cache::open(settings.cache_root.clone())?;
        let requests = matrix.python_requests();
        let search = &settings.python_search;
        let bootstrap = || Interpreter::find(requests[0].as_deref(), search, None).map(|i| i.path);
        let uv = Uv::find_or_bootstrap(&cache.root, bootstrap, settings.child_env.clone(), sink)?;
        let interpreters = Interpreters::find(&requests, search, &uv)?;
        let mut index = settings.index.clone();
        if let Some(as_of) = &mut index.as_of {
            as_of.exempt = crate::matrix::explicit_axes(matrix);
        }
        let project = match &matrix.project {
            Some(project) => {
                let skip = [matrix.source.clone(), cache.root.clone()];
                let python = interpreters.distinct();
                crate::env::project::prepare(project, &skip, &uv, &index, &cache.root, &python)?
            }
            None => Vec::new(),
        };
        Ok(Self {
            cache,
            interpreters,
            uv,
            index,
            project,
        })
    }
}

/// The matrix's rules for every cell.
pub struct CellPolicy {
    pins: Vec<String>,
    known: Vec<Known>,
    timeout: Duration,
}

/// A cell's environment, or why it has none (its outcome for every probe, and the resolver's or installer's words).
pub enum Provision {
    Ready(Env),
    Failed {
        outcome: Outcome,
        signature: String,
        /// uv's whole explanation.
        message: String,
    },
}

pub struct Harness {
    toolchain: Toolchain,
    policy: CellPolicy,
    device: String,
    probes_dir: Materialized,
    /// `<cache>/runs/<matrix>`: per-cell logs and artifacts, and the resume journals.
    runs_dir: PathBuf,
    /// The fixture checkpoint as the built-in engine reads it, loaded once when the matrix runs a probe the engine
    /// implements; every passing cell is checked against it.
    reference: Option<Arc<CheckpointDir>>,
    /// Shared preloaded interpreters to fork probe processes from; `None` (`--isolate`) runs every probe fresh.
    preloader: Option<Preloader>,
    sink: Arc<dyn Sink>,
}

impl Harness {
    /// Sets up the cache, interpreter, uv and probes for `matrix`; every failure here is exit 3. `sink` hears
    /// what goes wrong without stopping the work (a log that cannot be written).
    pub fn new(matrix: &Matrix, settings: HarnessSettings, sink: Arc<dyn Sink>) -> Result<Self> {
        let toolchain = Toolchain::new(matrix, &settings, &*sink)?;
        let probes_dir = catalog::materialize(&toolchain.cache.root)?;
        let runs_dir = toolchain.cache.root.join("runs").join(&matrix.name);
        std::fs::create_dir_all(&runs_dir).map_err(|e| Error::io(&runs_dir, e))?;
        let checked = matrix.probes.iter().any(|p| p.oracle.is_some());
        // A fixture the engine cannot read is a broken fixture, not a broken dependency: stop before any cell.
        let reference = if checked {
            let checkpoint = oracle::fixture_checkpoint(&probes_dir.fixtures).map_err(|e| {
                Error::infra_caused(
                    "the built-in reference cannot read the fixture checkpoint",
                    e,
                )
            })?;
            Some(Arc::new(checkpoint))
        } else {
            None
        };
        let preload: &[String] = if settings.preload {
            &matrix.preload
        } else {
            &[]
        };
        let preloader = Preloader::new(
            preload,
            &probes_dir.scripts,
            matrix.timeout,
            runs_dir.join("preload.log"),
            toolchain.uv.env.clone(),
            Arc::clone(&sink),
        );
        Ok(Self {
            toolchain,
            policy: CellPolicy {
                pins: requirements_beside_axes(matrix),
                known: matrix.known.clone(),
                timeout: matrix.timeout,
            },
            device: settings.device,
            probes_dir,
            runs_dir,
            reference,
            preloader,
            sink,
        })
    }

    pub fn runs_dir(&self) -> &Path {
        &self.runs_dir
    }

    /// The cache, interpreter, uv and index every cell uses (`bisect --repo` builds wheels with them).
    pub fn toolchain(&self) -> &Toolchain {
        &self.toolchain
    }

    /// The built-in engine's metrics for the probes it implements, computed once on the same fixture the probes
    /// load. An engine failure here means a broken fixture, not a broken dependency: the run stops before blaming
    /// any cell.
    pub fn reference_row(&self, probes: &[Arc<ProbeSpec>]) -> Result<Option<Reference>> {
        let Some(checkpoint) = &self.reference else {
            return Ok(None);
        };
        if !probes.iter().any(|p| p.oracle.is_some()) {
            return Ok(None);
        }
        let metrics = reference_metrics(probes, checkpoint).map_err(|e| {
            Error::infra_caused("the built-in reference failed on the fixture checkpoint", e)
        })?;
        Ok(Some(Reference {
            engine: format!("builtin (qcompat {})", env!("CARGO_PKG_VERSION")),
            metrics,
        }))
    }

    /// The hash naming the environment `cell` gets now: same hash, same interpreter, requirements and index.
    pub fn env_hash(&self, cell: &Cell) -> String {
        Cache::hash(&self.env_spec(cell))
    }

    /// What `cell`'s environment is built from: its interpreter (the Python axis's value, else the matrix's one),
    /// requirements, overrides, index and the project under test.
    pub fn env_spec(&self, cell: &Cell) -> EnvSpec {
        let toolchain = &self.toolchain;
        let python = toolchain
            .interpreters
            .get(cell.key().get(PYTHON_AXIS))
            .clone();
        let project = toolchain.project.iter().find(|(p, _)| *p == python.path);
        EnvSpec {
            requirements: cell.requirements(&self.policy.pins),
            overrides: cell.override_requirements(),
            index: toolchain.index.clone(),
            project: project.map(|(_, install)| install.clone()),
            python,
        }
    }

    /// Where `cell`'s environment lives, and the commands that build it there by hand (`qcompat repro`).
    pub fn rebuild_commands(&self, cell: &Cell) -> (PathBuf, String) {
        let spec = self.env_spec(cell);
        let venv = self.toolchain.cache.env_dir(&spec);
        let commands = spec.rebuild_commands(
            &self.toolchain.uv.path.display().to_string(),
            &spec.python.path.display().to_string(),
            &venv.display().to_string(),
        );
        (venv, commands.join("\n"))
    }

    /// `cell`'s probe process for the foreground (`qcompat repro`: the output on the terminal, no timeout), with
    /// the result file it will write, in a fresh `runs/<matrix>/<cell>/repro/`.
    pub fn foreground_probes(
        &self,
        cell: &Cell,
        python: &Path,
        probes: &[Arc<ProbeSpec>],
    ) -> Result<(std::process::Command, PathBuf)> {
        let artifacts = self.repro_dir(cell)?;
        // The log is not written: the output goes to the terminal.
        let log = artifacts.join("probes.log");
        let job = self.probe_job(python, probes, &artifacts, &log, None);
        Ok((foreground_command(&job), artifacts.join("results.jsonl")))
    }

    /// A command probe of `cell` for the foreground, as `run` starts it (same program, arguments, environment, a
    /// fresh copy of its `dir` under `runs/<matrix>/<cell>/repro/`); `Err(program)` when the cell has no such program.
    pub fn foreground_command_probe(
        &self,
        cell: &Cell,
        python: &Path,
        spec: &Arc<ProbeSpec>,
    ) -> Result<std::result::Result<(std::process::Command, command::Place), String>> {
        let command = spec
            .command()
            .ok_or_else(|| Error::infra(format!("probe `{}` is not a command probe", spec.name)))?;
        let artifacts = self.runs_dir.join(cell.key().slug()).join("repro");
        let log = artifacts.join("probes.log");
        let probes = std::slice::from_ref(spec);
        let job = self.probe_job(python, probes, &artifacts, &log, None);
        command::foreground(&job, spec, command)
    }

    /// A fresh `runs/<matrix>/<cell>/repro/`.
    fn repro_dir(&self, cell: &Cell) -> Result<PathBuf> {
        let artifacts = self.runs_dir.join(cell.key().slug()).join("repro");
        if artifacts.exists() {
            std::fs::remove_dir_all(&artifacts).map_err(|e| Error::io(&artifacts, e))?;
        }
        std::fs::create_dir_all(&artifacts).map_err(|e| Error::io(&artifacts, e))?;
        Ok(artifacts)
    }

    /// Runs `cells` with at most `jobs` at once under `supervisor`, starting them in order; results come back in
    /// cell order. The first error stops the run; the supervisor then kills every child still running.
    pub fn run_cells(
        self: &Arc<Self>,
        supervisor: &Supervisor,
        cells: Vec<Cell>,
        probes: &[Arc<ProbeSpec>],
        jobs: usize,
        observer: &Arc<dyn CellObserver>,
    ) -> Result<Vec<CellResult>> {
        supervisor.block_on(async {
            let count = cells.len();
            let mut running = JoinSet::new();
            let mut results: Vec<Option<CellResult>> = vec![None; count];
            let interruption = supervisor.interruption();
            let company = self.expect_company(&cells);
            // Cells start in the order given (a task pool would start them in whatever order its tasks were first
            // polled); the first error ends the run at once, and dropping the set aborts the cells still running.
            for (i, (cell, company)) in cells.into_iter().zip(company).enumerate() {
                while running.len() >= jobs.max(1) {
                    settle(&mut running, &mut results).await?;
                }
                let (harness, observer) = (Arc::clone(self), Arc::clone(observer));
                let (probes, interruption) = (probes.to_vec(), interruption.clone());
                running.spawn(async move {
                    observer.started(&cell);
                    let result = harness.run_cell(&cell, &probes, company).await?;
                    // A cell whose probe the interrupt killed is not finished: never record it.
                    interruption.check()?;
                    observer.finished(&result);
                    Ok::<_, Error>((i, result))
                });
            }
            while !running.is_empty() {
                settle(&mut running, &mut results).await?;
            }
            Ok(results.into_iter().flatten().collect())
        })
    }

    /// Per cell: whether another of `cells` probably shares its preloadable packages (see [`Preloader`]).
    fn expect_company(&self, cells: &[Cell]) -> Vec<bool> {
        let keys: Vec<_> = cells.iter().map(Cell::key).collect();
        match &self.preloader {
            Some(preloader) => preloader.expect_company(&keys),
            None => vec![false; cells.len()],
        }
    }

    /// `company`: another cell of this run probably shares the cell's preloadable packages.
    async fn run_cell(
        self: &Arc<Self>,
        cell: &Cell,
        probes: &[Arc<ProbeSpec>],
        company: bool,
    ) -> Result<CellResult> {
        let env = match self.provision(cell).await? {
            Provision::Ready(env) => env,
            Provision::Failed {
                outcome, signature, ..
            } => {
                return Ok(unprovisioned(cell, probes, outcome, signature));
            }
        };
        check_needs(cell, probes, &env.resolved)?;
        // Another run of this matrix on this cache may be running this very cell: one at a time in its folder.
        let _folder = self.lock_cell(cell).await?;
        let (artifacts, log) = self.cell_outputs(cell)?;
        let base = match &self.preloader {
            Some(preloader) => preloader.base_for(&env.python, company).await,
            None => None,
        };
        let job = self.probe_job(&env.python, probes, &artifacts, &log, base);
        let run = run_probes(&job).await?;
        let (results, import_s, probe_s) = self
            .verdicts(cell, probes, &run, &env.resolved, &artifacts, &log)
            .await?;
        Ok(CellResult {
            key: cell.key(),
            resolved: env.resolved,
            env: Some(EnvInfo {
                hash: env.hash,
                created: env.created,
            }),
            process_s: round(run.process_s),
            import_s: round(import_s),
            probe_s: round(probe_s),
            probes: results,
        })
    }

    /// Each probe's verdict (classified, checked against the engine, known issues applied), in the order asked
    /// whatever order the processes settled them in; with the seconds spent importing and probing.
    async fn verdicts(
        &self,
        cell: &Cell,
        probes: &[Arc<ProbeSpec>],
        run: &CellRun,
        resolved: &BTreeMap<String, String>,
        artifacts: &Path,
        log: &Path,
    ) -> Result<(Vec<ProbeResult>, f64, f64)> {
        let (mut import_s, mut probe_s) = (0.0, 0.0);
        let mut results = Vec::new();
        for spec in probes {
            let Some((_, probe_run, interpreter)) =
                run.probes.iter().find(|(n, _, _)| *n == spec.name)
            else {
                continue;
            };
            let checks = self.reference_checks(spec, probe_run, artifacts).await?;
            let verdict = outcome::apply_reference(outcome::classify(probe_run), &checks);
            let known = &self.policy.known;
            let verdict = outcome::apply_known(verdict, &spec.name, cell, resolved, known);
            if let ProbeRun::Reported(report) = probe_run {
                let (import, rest) = report.time_split();
                import_s += import;
                probe_s += rest;
            }
            let evidence = Evidence::of(probe_run, checks);
            results.push(ProbeResult {
                interpreter: Some(*interpreter),
                role: declared_role(spec),
                ..probe_result(&spec.name, verdict, evidence, Some(log))
            });
        }
        Ok((results, import_s, probe_s))
    }

    /// The cell's environment, from the cache or built now. A machine fault (disk, lock, uv itself) says nothing
    /// about the stack: it stops the run and is never recorded; a resolver or install failure is the cell's outcome.
    pub async fn provision(self: &Arc<Self>, cell: &Cell) -> Result<Provision> {
        let spec = self.env_spec(cell);
        let harness = Arc::clone(self);
        let provisioned = tokio::task::spawn_blocking(move || {
            let toolchain = &harness.toolchain;
            toolchain.cache.provision(&toolchain.uv, &spec)
        })
        .await
        .map_err(|e| Error::infra_caused("the environment task panicked", e))?;
        Ok(match provisioned {
            Ok(env) => Provision::Ready(env),
            Err(EnvFailure::Infra(error)) => {
                return Err(Error::infra_caused(
                    format!("building the environment of {}", cell.key()),
                    error,
                ));
            }
            Err(EnvFailure::Unresolvable(message)) => Provision::Failed {
                outcome: Outcome::Unresolvable,
                signature: outcome::resolver_signature(&message),
                message,
            },
            Err(EnvFailure::InstallError(message)) => Provision::Failed {
                outcome: Outcome::InstallError,
                signature: outcome::normalize(message.trim_start_matches("error: ")),
                message,
            },
        })
    }

    fn probe_job<'a>(
        &'a self,
        python: &'a Path,
        probes: &'a [Arc<ProbeSpec>],
        artifacts: &'a Path,
        log: &'a Path,
        base: Option<Arc<Base>>,
    ) -> ProbeJob<'a> {
        ProbeJob {
            python,
            probes,
            scripts: &self.probes_dir.scripts,
            fixtures: &self.probes_dir.fixtures,
            artifacts,
            log,
            timeout: self.policy.timeout,
            device: &self.device,
            env: &self.toolchain.uv.env,
            base,
            sink: &self.sink,
        }
    }

    /// An exclusive lock on the cell's folder, held until the returned file is dropped.
    async fn lock_cell(&self, cell: &Cell) -> Result<std::fs::File> {
        let path = self.runs_dir.join(format!("{}.lock", cell.key().slug()));
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
            fs4::fs_std::FileExt::lock_exclusive(&file).map_err(|e| Error::io(&path, e))?;
            Ok(file)
        })
        .await
        .map_err(|e| Error::infra_caused("locking a cell's folder panicked", e))?
    }

    /// The cell's fresh artifacts folder and empty log, under `runs/<matrix>/<cell>/`.
    fn cell_outputs(&self, cell: &Cell) -> Result<(PathBuf, PathBuf)> {
        let cell_dir = self.runs_dir.join(cell.key().slug());
        let artifacts = cell_dir.join("artifacts");
        // Artifacts of an earlier run must not be mistaken for this one's.
        if artifacts.exists() {
            std::fs::remove_dir_all(&artifacts).map_err(|e| Error::io(&artifacts, e))?;
        }
        std::fs::create_dir_all(&artifacts).map_err(|e| Error::io(&artifacts, e))?;
        let log = cell_dir.join("probes.log");
        std::fs::write(&log, b"").map_err(|e| Error::io(&log, e))?;
        Ok((artifacts, log))
    }

    /// The built-in engine's checks of a probe that passed: its reported metrics and artifacts against the
    /// engine's own quantization and training of the same fixture. A failure already says enough; no checks.
    async fn reference_checks(
        &self,
        probe: &ProbeSpec,
        run: &ProbeRun,
        artifacts: &Path,
    ) -> Result<Vec<NumericCheck>> {
        let ProbeRun::Reported(report) = run else {
            return Ok(Vec::new());
        };
        if outcome::classify(run).outcome != Outcome::Pass {
            return Ok(Vec::new());
        }
        let (Some(oracle), Some(checkpoint)) = (probe.oracle, self.reference.clone()) else {
            return Ok(Vec::new());
        };
        let artifacts = artifacts.to_path_buf();
        let metrics = serde_json::Value::Object(report.metrics.clone());
        tokio::task::spawn_blocking(move || {
            oracle::compare(oracle, &checkpoint, &artifacts, &metrics)
        })
        .await
        .map_err(|e| Error::infra_caused("a reference check panicked", e))
    }
}

/// What every cell installs beside its axes: the pins, and the `deps` of the probes the matrix runs (one
/// environment per cell whatever `--probe` selects, so a journal or cache entry serves every selection).
fn requirements_beside_axes(matrix: &Matrix) -> Vec<String> {
    let deps = matrix.probes.iter().filter_map(|p| p.command());
    let mut requirements = matrix.pins.clone();
    for dep in deps.flat_map(|c| &c.deps) {
        if !requirements.contains(dep) {
            requirements.push(dep.clone());
        }
    }
    requirements
}

/// The builtin row's metrics for those of `probes` whose oracle has any, by probe name.
pub fn reference_metrics(
    probes: &[Arc<ProbeSpec>],
    checkpoint: &CheckpointDir,
) -> Result<BTreeMap<String, serde_json::Value>, EngineError> {
    let mut metrics = BTreeMap::new();
    for probe in probes {
        let Some(oracle) = probe.oracle else {
            continue;
        };
        if let Some(value) = oracle::reference_metrics(oracle, checkpoint)? {
            metrics.insert(probe.name.clone(), value);
        }
    }
    Ok(metrics)
}

/// Every probe's needs must be in the cell's environment, or its verdict would say nothing about the versions (a
/// `checkpoint-load` without torch fails on the import, whatever the stack does): that is the matrix's to fix, found
/// before any probe runs.
fn check_needs(
    cell: &Cell,
    probes: &[Arc<ProbeSpec>],
    resolved: &BTreeMap<String, String>,
) -> Result<()> {
    for probe in probes {
        let missing: Vec<&str> = probe
            .needs
            .iter()
            .filter(|need| !resolved.contains_key(&crate::index::normalize(need)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::BadInput(format!(
                "probe `{}` needs {}, which the environment of {} does not install: add {} as an axis or a \
                 [pins] entry, or run another probe",
                probe.name,
                missing.join(", "),
                cell.key(),
                if missing.len() == 1 { "it" } else { "them" },
            )));
        }
    }
    Ok(())
}

/// Waits for the next cell of `running` to finish and files its result.
async fn settle(
    running: &mut JoinSet<Result<(usize, CellResult)>>,
    results: &mut [Option<CellResult>],
) -> Result<()> {
    if let Some(joined) = running.join_next().await {
        let (i, result) =
            joined.map_err(|e| Error::infra_caused("a cell's task panicked", e))??;
        results[i] = Some(result);
    }
    Ok(())
}

/// A cell whose environment could not be built: every probe carries the environment's outcome.
fn unprovisioned(
    cell: &Cell,
    probes: &[Arc<ProbeSpec>],
    outcome: Outcome,
    signature: String,
) -> CellResult {
    let probes = probes
        .iter()
        .map(|spec| {
            let verdict = Verdict::new(outcome, Some(signature.clone()));
            probe_result(&spec.name, verdict, Evidence::default(), None)
        })
        .collect();
    CellResult {
        key: cell.key(),
        resolved: Default::default(),
        env: None,
        process_s: 0.0,
        import_s: 0.0,
        probe_s: 0.0,
        probes,
    }
}

/// What one probe produced besides its verdict.
#[derive(Default)]
struct Evidence {
    duration_s: f64,
    metrics: serde_json::Map<String, serde_json::Value>,
    substitutions: Vec<String>,
    checks: Vec<NumericCheck>,
    frames: Vec<String>,
    tests: Vec<TestResult>,
}

impl Evidence {
    fn of(run: &ProbeRun, checks: Vec<NumericCheck>) -> Self {
        match run {
            ProbeRun::Reported(report) => {
                let (import, rest) = report.time_split();
                Evidence {
                    duration_s: import + rest,
                    metrics: report.metrics.clone(),
                    substitutions: report.substitutions.clone(),
                    checks,
                    frames: outcome::failing_frames(run),
                    tests: Vec::new(),
                }
            }
            ProbeRun::TimedOut(after) => Evidence {
                duration_s: after.as_secs_f64(),
                ..Evidence::default()
            },
            ProbeRun::Died(_) => Evidence::default(),
            ProbeRun::Command(report) => Evidence {
                duration_s: report.duration_s,
                substitutions: report.substitutions.clone(),
                frames: outcome::failing_frames(run),
                tests: report.tests.clone().unwrap_or_default(),
                ..Evidence::default()
            },
        }
    }
}

/// The role a declared probe says it has, recorded on its results so every report's contrast can place it; none for
/// a built-in probe (the catalogue knows its role) or a declared one outside the contrast.
fn declared_role(spec: &ProbeSpec) -> Option<Role> {
    (spec.command().is_some() && spec.role != Role::Neither).then_some(spec.role)
}

fn probe_result(
    name: &str,
    verdict: Verdict,
    evidence: Evidence,
    log: Option<&Path>,
) -> ProbeResult {
    ProbeResult {
        name: name.to_string(),
        outcome: verdict.outcome,
        hint: verdict
            .signature
            .as_deref()
            .and_then(crate::env::recipe::hint),
        signature: verdict.signature,
        frame: verdict.frame,
        frames: evidence.frames,
        known: verdict.known,
        duration_s: round(evidence.duration_s),
        metrics: evidence.metrics,
        substitutions: evidence.substitutions,
        checks: evidence.checks,
        log: log.map(|l| l.display().to_string()),
        interpreter: None,
        tests: evidence.tests,
        role: None,
    }
}

fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
