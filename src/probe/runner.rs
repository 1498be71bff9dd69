//! Runs a cell's probes in as few Python processes as possible.
//!
//! All probes go to one process (importing torch + lightning costs ~10 s, paid once). The process runs in its own
//! process group so that a timeout kills everything it started, grandchildren included. When a probe times out or
//! the process dies, the probes that had not started run again in a fresh process: one hung probe costs its own
//! result, never its neighbours'.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::capped_log;
use super::catalog::RUNNER;
use super::protocol::{Event, ProbeReport, parse_events};
use crate::child_env::ChildEnv;
use crate::error::{Error, Result};
use crate::supervisor::{self, Group};

const POLL: Duration = Duration::from_millis(50);
/// How long the log may take to receive the last output once the group is gone.
const LOG_DRAIN: Duration = Duration::from_secs(5);

pub struct ProbeJob<'a> {
    pub python: &'a Path,
    pub probes: &'a [String],
    pub scripts: &'a Path,
    pub fixtures: &'a Path,
    /// Per-cell folder for artifacts and the result file.
    pub artifacts: &'a Path,
    /// stdout and stderr of every probe process, appended.
    pub log: &'a Path,
    pub timeout: Duration,
    pub device: &'a str,
    /// The allow-listed environment: the code under test never sees qcompat's own (CI secrets).
    pub env: &'a ChildEnv,
}

/// How one probe ended, as far as the process is concerned.
#[derive(Debug, Clone)]
pub enum ProbeRun {
    Reported(ProbeReport),
    TimedOut(Duration),
    /// Killed by a signal (named), or exited without reporting (`exit code N`).
    Died(String),
}

/// Probe results in the order asked, plus the wall time of all processes together.
pub struct CellRun {
    pub probes: Vec<(String, ProbeRun)>,
    pub process_s: f64,
}

pub async fn run_probes(job: &ProbeJob<'_>) -> Result<CellRun> {
    let mut results: Vec<(String, ProbeRun)> = Vec::new();
    let mut remaining: Vec<String> = job.probes.to_vec();
    let started = Instant::now();
    while !remaining.is_empty() {
        let finished = run_process(job, &remaining).await?;
        let done: Vec<String> = finished.iter().map(|(name, _)| name.clone()).collect();
        results.extend(finished);
        remaining.retain(|p| !done.contains(p));
    }
    Ok(CellRun {
        probes: results,
        process_s: started.elapsed().as_secs_f64(),
    })
}

/// One Python process over `probes`; returns the probes it settled (at least one, so the caller progresses).
async fn run_process(job: &ProbeJob<'_>, probes: &[String]) -> Result<Vec<(String, ProbeRun)>> {
    let result_path = job.artifacts.join("results.jsonl");
    std::fs::write(&result_path, b"").map_err(|e| Error::io(&result_path, e))?;
    let (log, log_err, drain) = capped_log::open(job.log)?;

    let mut command = Command::new(job.python);
    // SAFETY: the hook only calls prctl, which is async-signal-safe.
    unsafe { command.pre_exec(supervisor::die_with_parent) };
    let mut child = command
        .arg(job.scripts.join(RUNNER))
        .args(probes)
        .env_clear()
        .envs(job.env.for_probe_in(job.python))
        .env("QCOMPAT_RESULT", &result_path)
        .env("QCOMPAT_FIXTURES", job.fixtures)
        .env("QCOMPAT_ARTIFACTS", job.artifacts)
        .env("QCOMPAT_DEVICE", job.device)
        .env("PYTHONUNBUFFERED", "1")
        // The first probe in an environment writes `.pyc` for what it imports; later runs load them (an import of
        // torch + lightning + bitsandbytes: 16 s compiling, 6 s from bytecode). Measured against compiling
        // everything at install (`uv --compile-bytecode`): same warm runs, ~17 s more CPU per new environment. The
        // allow-listed environment never carries this machine's PYTHONDONTWRITEBYTECODE.
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::infra_caused(format!("starting {}", job.python.display()), e))?;
    // The command keeps its copies of the log pipe's write ends for as long as it lives: dropped now, the pipe ends
    // when the probe's processes are gone, instead of the drain below waiting out its whole limit every time.
    drop(command);
    // Killed (the whole tree) when this scope ends, however it ends: settled, timed out, or dropped mid-way
    // because the run was interrupted or another cell failed.
    let group = child.id().map(Group::adopt);

    let mut settled: Vec<(String, ProbeRun)> = Vec::new();
    let mut running: Option<String> = None;
    let mut at: Option<String> = None;
    let mut deadline = Instant::now() + job.timeout;
    let mut seen = 0;
    let status = loop {
        let exited = tokio::select! {
            status = child.wait() => Some(status.map_err(|e| Error::infra_caused("waiting for a probe process", e))?),
            _ = tokio::time::sleep(POLL) => None,
        };
        let events = read_events(&result_path);
        for event in events.into_iter().skip(seen) {
            seen += 1;
            match event {
                Event::Start { probe } => {
                    running = Some(probe);
                    at = None;
                    deadline = Instant::now() + job.timeout;
                }
                Event::Progress { at: place, .. } => at = Some(place),
                Event::Result(report) => {
                    running = None;
                    at = None;
                    settled.push((report.probe.clone(), ProbeRun::Reported(report)));
                }
            }
        }
        if let Some(status) = exited {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
    };
    // Always clear the group: a probe may leave helpers behind even when it exits cleanly.
    drop(group);
    drain.finish(LOG_DRAIN).await;
    let ending = match status {
        None => {
            child.wait().await.ok();
            ProbeRun::TimedOut(job.timeout)
        }
        Some(status) => {
            let how = died(&status).unwrap_or_else(|| "exited without reporting".into());
            ProbeRun::Died(match at {
                Some(place) => format!("{how} during {place}"),
                None => how,
            })
        }
    };
    Ok(settled_or_blamed(settled, running, probes, ending))
}

/// Adds the probe that was running (or, if none had started, the first one asked) with `ending` — unless every
/// probe already reported, in which case there is nothing to blame.
fn settled_or_blamed(
    mut settled: Vec<(String, ProbeRun)>,
    running: Option<String>,
    probes: &[String],
    ending: ProbeRun,
) -> Vec<(String, ProbeRun)> {
    let unsettled = |p: &String| !settled.iter().any(|(name, _)| name == p);
    let blamed = running.or_else(|| probes.iter().find(|p| unsettled(p)).cloned());
    if let Some(probe) = blamed.filter(|p| unsettled(p)) {
        settled.push((probe, ending));
    }
    settled
}

fn read_events(path: &PathBuf) -> Vec<Event> {
    std::fs::read_to_string(path)
        .map(|t| parse_events(&t))
        .unwrap_or_default()
}

/// `Some(description)` when the process did not exit normally with status 0.
fn died(status: &std::process::ExitStatus) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    match (status.signal(), status.code()) {
        (Some(signal), _) => Some(signal_name(signal)),
        (None, Some(0)) => None,
        (None, Some(code)) => Some(format!("exit code {code}")),
        (None, None) => Some("unknown exit".into()),
    }
}

pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGPIPE => "SIGPIPE",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}
