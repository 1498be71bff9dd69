//! Runs cells: provision the environment, run the probes, classify. Shared by `run` and the commands built on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tokio::sync::Semaphore;

use crate::engine::reference::{self, NumericCheck};
use crate::engine::train::CheckpointDir;
use crate::env::{Cache, EnvFailure, EnvSpec, Interpreter, Uv};
use crate::error::{Error, Result};
use crate::index::IndexSettings;
use crate::matrix::{Cell, Known, Matrix};
use crate::outcome::{self, Outcome, Verdict};
use crate::probe::catalog::{self, Materialized};
use crate::probe::runner::{ProbeJob, ProbeRun, kill_live_groups, run_probes};
use crate::results::{CellResult, EnvInfo, ProbeResult};

/// Resolves on Ctrl-C or SIGTERM (a cancelled CI job), naming the signal.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers the default actions stay in place; never resolve.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

/// Told as cells start and finish (progress display, the resume journal).
pub trait CellObserver: Send + Sync {
    fn started(&self, key: &str);
    fn finished(&self, cell: &CellResult);
}

/// Everything a cell needs that does not depend on the cell.
pub struct Harness {
    pub cache: Cache,
    pub uv: Uv,
    pub python: Interpreter,
    pub index: IndexSettings,
    pub probes_dir: Materialized,
    /// `<cache>/runs/<matrix>`: per-cell logs and artifacts.
    pub runs_dir: PathBuf,
    pub pins: Vec<String>,
    pub known: Vec<Known>,
    pub timeout: Duration,
    pub device: String,
    /// The fixture checkpoint as the built-in engine reads it, loaded once when the matrix runs a probe the engine
    /// implements; every passing cell is checked against it.
    pub reference: Option<Arc<CheckpointDir>>,
}

impl Harness {
    /// Sets up the cache, interpreter, uv and probes for `matrix`; every failure here is exit 3.
    pub fn new(matrix: &Matrix, cache_root: PathBuf, index: IndexSettings) -> Result<Self> {
        let cache = Cache::open(cache_root)?;
        let python = Interpreter::find(matrix.python.as_deref())?;
        let uv = Uv::find_or_bootstrap(&cache.root, &python.path)?;
        let probes_dir = catalog::materialize(&cache.root)?;
        let runs_dir = cache.root.join("runs").join(&matrix.name);
        std::fs::create_dir_all(&runs_dir).map_err(|e| Error::io(&runs_dir, e))?;
        let checked = matrix
            .probes
            .iter()
            .any(|p| reference::IMPLEMENTED.contains(&p.as_str()));
        // A fixture the engine cannot read is a broken fixture, not a broken dependency: stop before any cell.
        let reference = if checked {
            let checkpoint = reference::fixture_checkpoint(&probes_dir.fixtures).map_err(|e| {
                Error::Infra(format!(
                    "the built-in reference cannot read the fixture checkpoint: {e}"
                ))
            })?;
            Some(Arc::new(checkpoint))
        } else {
            None
        };
        Ok(Self {
            cache,
            uv,
            python,
            index,
            probes_dir,
            runs_dir,
            pins: matrix.pins.clone(),
            known: matrix.known.clone(),
            timeout: matrix.timeout,
            device: std::env::var("QCOMPAT_DEVICE").unwrap_or_else(|_| "auto".into()),
            reference,
        })
    }

    /// Runs `cells` with at most `jobs` at once; results come back in cell order.
    pub fn run_cells(
        self: &Arc<Self>,
        cells: Vec<Cell>,
        probes: &[String],
        jobs: usize,
        observer: &Arc<dyn CellObserver>,
    ) -> Result<Vec<CellResult>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Infra(format!("starting the async runtime: {e}")))?;
        runtime.block_on(async {
            let slots = Arc::new(Semaphore::new(jobs.max(1)));
            let tasks: Vec<_> = cells
                .into_iter()
                .map(|cell| {
                    let (harness, slots, observer) =
                        (Arc::clone(self), Arc::clone(&slots), Arc::clone(observer));
                    let probes = probes.to_vec();
                    tokio::spawn(async move {
                        let _slot = slots
                            .acquire_owned()
                            .await
                            .expect("semaphore is never closed");
                        observer.started(&cell.key_string());
                        let result = harness.run_cell(&cell, &probes).await;
                        if let Ok(result) = &result {
                            observer.finished(result);
                        }
                        result
                    })
                })
                .collect();
            let all = async {
                let mut results = Vec::new();
                for task in tasks {
                    results.push(
                        task.await
                            .map_err(|e| Error::Infra(format!("a cell task panicked: {e}")))??,
                    );
                }
                Ok(results)
            };
            tokio::select! {
                results = all => results,
                signal = interrupted() => {
                    kill_live_groups();
                    Err(Error::Interrupted(signal))
                }
            }
        })
    }

    /// What `cell`'s environment must contain; its hash names the environment.
    pub fn env_spec(&self, cell: &Cell) -> EnvSpec {
        EnvSpec {
            python: self.python.clone(),
            requirements: cell.requirements(&self.pins),
            index: self.index.clone(),
        }
    }

    pub async fn run_cell(self: &Arc<Self>, cell: &Cell, probes: &[String]) -> Result<CellResult> {
        let key: IndexMap<String, String> = cell
            .key
            .iter()
            .map(|(a, v)| (a.clone(), v.to_string()))
            .collect();
        let spec = self.env_spec(cell);
        let harness = Arc::clone(self);
        let provisioned =
            tokio::task::spawn_blocking(move || harness.cache.provision(&harness.uv, &spec))
                .await
                .map_err(|e| Error::Infra(format!("environment task panicked: {e}")))?;
        let env = match provisioned {
            Ok(env) => env,
            Err(failure) => return Ok(self.unprovisioned(key, probes, failure)),
        };

        let cell_dir = self.runs_dir.join(slug(&cell.key_string()));
        let artifacts = cell_dir.join("artifacts");
        // Artifacts of an earlier run must not be mistaken for this one's.
        if artifacts.exists() {
            std::fs::remove_dir_all(&artifacts).map_err(|e| Error::io(&artifacts, e))?;
        }
        std::fs::create_dir_all(&artifacts).map_err(|e| Error::io(&artifacts, e))?;
        let log = cell_dir.join("probes.log");
        std::fs::write(&log, b"").map_err(|e| Error::io(&log, e))?;
        let job = ProbeJob {
            python: &env.python,
            probes,
            scripts: &self.probes_dir.scripts,
            fixtures: &self.probes_dir.fixtures,
            artifacts: &artifacts,
            log: &log,
            timeout: self.timeout,
            device: &self.device,
        };
        let run = run_probes(&job).await?;

        let (mut import_s, mut probe_s) = (0.0, 0.0);
        let mut results = Vec::new();
        // Report in the order asked, whatever order the processes settled them in.
        for name in probes {
            let Some((_, probe_run)) = run.probes.iter().find(|(n, _)| n == name) else {
                continue;
            };
            let checks = self.reference_checks(name, probe_run, &artifacts).await?;
            let verdict = outcome::apply_reference(outcome::classify(probe_run), &checks);
            let verdict = outcome::apply_known(verdict, name, cell, &env.resolved, &self.known);
            let evidence = match probe_run {
                ProbeRun::Reported(report) => {
                    let (import, rest) = report.time_split();
                    import_s += import;
                    probe_s += rest;
                    Evidence {
                        duration_s: import + rest,
                        metrics: report.metrics.clone(),
                        substitutions: report.substitutions.clone(),
                        checks,
                    }
                }
                ProbeRun::TimedOut(after) => Evidence {
                    duration_s: after.as_secs_f64(),
                    ..Evidence::default()
                },
                ProbeRun::Died(_) => Evidence::default(),
            };
            results.push(probe_result(name, verdict, evidence, Some(&log)));
        }
        Ok(CellResult {
            key,
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

    /// The built-in engine's checks of a probe that passed: its reported metrics and artifacts against the
    /// engine's own quantization and training of the same fixture. A failure already says enough; no checks.
    async fn reference_checks(
        &self,
        probe: &str,
        run: &ProbeRun,
        artifacts: &Path,
    ) -> Result<Vec<NumericCheck>> {
        let ProbeRun::Reported(report) = run else {
            return Ok(Vec::new());
        };
        if outcome::classify(run).outcome != Outcome::Pass {
            return Ok(Vec::new());
        }
        let Some(checkpoint) = self.reference.clone() else {
            return Ok(Vec::new());
        };
        let (probe, artifacts) = (probe.to_string(), artifacts.to_path_buf());
        let metrics = serde_json::Value::Object(report.metrics.clone());
        tokio::task::spawn_blocking(move || {
            reference::compare(&probe, &checkpoint, &artifacts, &metrics)
        })
        .await
        .map_err(|e| Error::Infra(format!("reference check panicked: {e}")))
    }

    /// A cell whose environment could not be built: every probe carries the environment's outcome.
    fn unprovisioned(
        &self,
        key: IndexMap<String, String>,
        probes: &[String],
        failure: EnvFailure,
    ) -> CellResult {
        let (outcome, signature) = match failure {
            EnvFailure::Unresolvable(message) => {
                (Outcome::Unresolvable, outcome::resolver_signature(&message))
            }
            EnvFailure::InstallError(message) => (
                Outcome::InstallError,
                outcome::normalize(message.trim_start_matches("error: ")),
            ),
            EnvFailure::Infra(error) => (
                Outcome::InstallError,
                outcome::normalize(&error.to_string()),
            ),
        };
        let probes = probes
            .iter()
            .map(|name| {
                let verdict = Verdict::new(outcome, Some(signature.clone()));
                probe_result(name, verdict, Evidence::default(), None)
            })
            .collect();
        CellResult {
            key,
            resolved: Default::default(),
            env: None,
            process_s: 0.0,
            import_s: 0.0,
            probe_s: 0.0,
            probes,
        }
    }
}

/// What one probe produced besides its verdict.
#[derive(Default)]
struct Evidence {
    duration_s: f64,
    metrics: serde_json::Map<String, serde_json::Value>,
    substitutions: Vec<String>,
    checks: Vec<NumericCheck>,
}

fn probe_result(
    name: &str,
    verdict: Verdict,
    evidence: Evidence,
    log: Option<&std::path::Path>,
) -> ProbeResult {
    ProbeResult {
        name: name.to_string(),
        outcome: verdict.outcome,
        signature: verdict.signature,
        frame: verdict.frame,
        known: verdict.known,
        duration_s: round(evidence.duration_s),
        metrics: evidence.metrics,
        substitutions: evidence.substitutions,
        checks: evidence.checks,
        log: log.map(|l| l.display().to_string()),
    }
}

fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// A folder name for a cell key: `lightning=2.3.0,torch=2.3.0` → `lightning=2.3.0_torch=2.3.0`.
fn slug(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '=' | '-' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
