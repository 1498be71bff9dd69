//! Runs a cell's probes in as few Python processes as possible.
//!
//! All probes go to one process (importing torch + lightning costs ~10 s, paid once). The process runs in its own
//! process group so that a timeout kills everything it started, grandchildren included. When a probe times out or
//! the process dies, the probes that had not started run again in a fresh process: one hung probe costs its own
//! result, never its neighbours'.
//!
//! A cell whose heavy packages a preloaded base holds byte-identical forks its probe process from that base
//! ([`super::preload`]); the forked process is just as much its own process group, and everything below treats it
//! alike.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::catalog::RUNNER;
use super::preload::{Base, Forked, SETUP_FAILED};
use super::protocol::{Event, ProbeInterpreter, ProbeRun, parse_events};
use super::spec::ProbeSpec;
use crate::error::{Error, Result};
use crate::process::capped_log;
use crate::process::child_env::ChildEnv;
use crate::process::supervisor::{self, Group};
use crate::sink::Sink;

const POLL: Duration = Duration::from_millis(50);
/// How long the log may take to receive the last output once the group is gone.
const LOG_DRAIN: Duration = Duration::from_secs(5);

pub struct ProbeJob<'a> {
    pub python: &'a Path,
    pub probes: &'a [Arc<ProbeSpec>],
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
    /// The preloaded base to fork from; `None` runs a fresh interpreter.
    pub base: Option<Arc<Base>>,
    /// Told when the log cannot be written.
    pub sink: &'a Arc<dyn Sink>,
}

/// A probe process: started fresh, or forked from a base.
pub(super) enum Process {
    Fresh(tokio::process::Child),
    Forked(Forked),
}

impl Process {
    pub(super) fn interpreter(&self) -> ProbeInterpreter {
        match self {
            Process::Fresh(_) => ProbeInterpreter::Fresh,
            Process::Forked(_) => ProbeInterpreter::Forked,
        }
    }

    pub(super) fn pid(&self) -> Option<u32> {
        match self {
            Process::Fresh(child) => child.id(),
            Process::Forked(forked) => Some(forked.pid as u32),
        }
    }

    /// The exit status; `None` when a forked process's base died first, so its status is lost.
    pub(super) async fn wait(&mut self) -> Result<Option<ExitStatus>> {
        use std::os::unix::process::ExitStatusExt;
        match self {
            Process::Fresh(child) => child
                .wait()
                .await
                .map(Some)
                .map_err(|e| Error::infra_caused("waiting for a probe process", e)),
            Process::Forked(forked) => Ok((&mut forked.exit).await.ok().map(ExitStatus::from_raw)),
        }
    }
}

/// The probe process `job` describes as a plain command for the foreground (`qcompat repro`: output on the
/// terminal, no timeout, no process group of its own): the interpreter, runner, probes and environment of a run's.
pub fn foreground_command(job: &ProbeJob<'_>) -> std::process::Command {
    let result_path = job.artifacts.join("results.jsonl");
    let mut command = std::process::Command::new(job.python);
    command
        .env_clear()
        .envs(probe_env(job, &result_path))
        .arg(job.scripts.join(RUNNER))
        .args(job.probes.iter().map(|p| &p.name));
    command
}

/// The whole environment of a probe process in `job`'s cell.
fn probe_env(job: &ProbeJob<'_>, result_path: &Path) -> Vec<(OsString, OsString)> {
    let mut vars = job.env.for_probe_in(job.python);
    // The first probe in an environment writes `.pyc` for what it imports; later runs load them (an import of
    // torch + lightning + bitsandbytes: 16 s compiling, 6 s from bytecode). Measured against compiling everything
    // at install (`uv --compile-bytecode`): same warm runs, ~17 s more CPU per new environment. The allow-listed
    // environment never carries this machine's PYTHONDONTWRITEBYTECODE.
    vars.extend(
        [
            ("QCOMPAT_RESULT", result_path.as_os_str()),
            ("QCOMPAT_FIXTURES", job.fixtures.as_os_str()),
            ("QCOMPAT_ARTIFACTS", job.artifacts.as_os_str()),
            ("QCOMPAT_DEVICE", job.device.as_ref()),
            ("PYTHONUNBUFFERED", "1".as_ref()),
        ]
        .map(|(name, value)| (name.into(), value.to_owned())),
    );
    vars
}

/// Starts one Python process over `probes` with its output going to `log`: forked from `base` when given (and it
/// forks), else fresh.
async fn start(
    job: &ProbeJob<'_>,
    probes: &[String],
    base: Option<&Base>,
    log: std::io::PipeWriter,
) -> Result<Process> {
    let result_path = job.artifacts.join("results.jsonl");
    std::fs::write(&result_path, b"").map_err(|e| Error::io(&result_path, e))?;
    let env = probe_env(job, &result_path);
    let mut argv = vec![job.scripts.join(RUNNER).into_os_string()];
    argv.extend(probes.iter().map(OsString::from));
    let launch = ForkLaunch {
        argv: &argv,
        cwd: None,
        module: None,
    };
    if let Some(forked) = fork(base, job.python, &launch, &env, &log).await {
        return Ok(Process::Forked(forked));
    }
    let log_err = log.try_clone().map_err(|e| Error::io(job.log, e))?;
    let mut command = Command::new(job.python);
    // SAFETY: the hook only calls prctl, which is async-signal-safe.
    unsafe { command.pre_exec(supervisor::die_with_parent) };
    let child = command
        .args(&argv)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::infra_caused(format!("starting {}", job.python.display()), e))?;
    // Dropping the command closes its copies of the log pipe's write ends: the pipe then ends when the probe's
    // processes are gone, instead of the drain waiting out its whole limit every time.
    drop(command);
    Ok(Process::Fresh(child))
}

/// What a forked process is to run: `sys.argv` (a script first, unless `module` is set, as `python -m` has it), in
/// `cwd` (the base's own when `None`).
pub(super) struct ForkLaunch<'a> {
    pub argv: &'a [OsString],
    pub cwd: Option<&'a Path>,
    pub module: Option<&'a str>,
}

/// Asks `base` to fork the process; `None` (run it fresh) without a base, with text the base cannot take as JSON
/// (non-UTF-8 paths or variables), or when it does not fork.
pub(super) async fn fork(
    base: Option<&Base>,
    python: &Path,
    launch: &ForkLaunch<'_>,
    env: &[(OsString, OsString)],
    log: &std::io::PipeWriter,
) -> Option<Forked> {
    use std::os::fd::AsRawFd;
    let base = base?;
    let text = |s: &OsString| s.to_str().map(str::to_string);
    let argv: Vec<String> = launch.argv.iter().map(text).collect::<Option<_>>()?;
    let cwd = match launch.cwd {
        Some(cwd) => Some(cwd.to_str()?),
        None => None,
    };
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(name, value)| Some((text(name)?, text(value)?)))
        .collect::<Option<_>>()?;
    // The base opens the log pipe through this process's fd table, so the fork writes where a fresh process would.
    let log = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        log.as_raw_fd()
    ));
    base.fork(python, &argv, (cwd, launch.module), &env, &log)
        .await
}

/// One Python process over `probes`; returns the probes it settled (at least one, so the caller progresses) and
/// the interpreter that ran them, or `None` when a forked process could not become the cell's interpreter or lost
/// its base (the probes then rerun in a fresh process).
pub(super) async fn run_process(
    job: &ProbeJob<'_>,
    probes: &[String],
    base: Option<&Base>,
) -> Result<Option<(Vec<(String, ProbeRun)>, ProbeInterpreter)>> {
    let result_path = job.artifacts.join("results.jsonl");
    let (log, drain) = capped_log::open(job.log, Arc::clone(job.sink))?;
    let mut child = start(job, probes, base, log).await?;
    let interpreter = child.interpreter();
    // Killed (the whole tree) when this scope ends, however it ends: settled, timed out, or dropped mid-way
    // because the run was interrupted or another cell failed.
    let group = child.pid().map(Group::adopt);

    let mut watch = Watch::new(job.timeout);
    let status = loop {
        let exited = tokio::select! {
            status = child.wait() => Some(status?),
            _ = tokio::time::sleep(POLL) => None,
        };
        watch.absorb(read_events(&result_path), job.timeout);
        if let Some(status) = exited {
            break Some(status);
        }
        if Instant::now() >= watch.deadline {
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
        // The base died under a forked process: its outcome is unknowable, so the probes rerun fresh.
        Some(None) => return Ok(None),
        Some(Some(status)) if watch.seen == 0 && is_setup_failure(&child, &status) => {
            return Ok(None);
        }
        Some(Some(status)) => {
            let how = died(&status).unwrap_or_else(|| "exited without reporting".into());
            ProbeRun::Died(match watch.at {
                Some(place) => format!("{how} during {place}"),
                None => how,
            })
        }
    };
    Ok(Some((
        settled_or_blamed(watch.settled, watch.running, probes, ending),
        interpreter,
    )))
}

/// What a probe process has said so far through its result file.
struct Watch {
    settled: Vec<(String, ProbeRun)>,
    /// The probe that started and has not reported, and where it said it was.
    running: Option<String>,
    at: Option<String>,
    /// Each probe gets the whole timeout from its own start.
    deadline: Instant,
    /// Events read so far: the file only grows.
    seen: usize,
}

impl Watch {
    fn new(timeout: Duration) -> Self {
        Self {
            settled: Vec::new(),
            running: None,
            at: None,
            deadline: Instant::now() + timeout,
            seen: 0,
        }
    }

    /// Takes in the events of the file not seen before.
    fn absorb(&mut self, events: Vec<Event>, timeout: Duration) {
        for event in events.into_iter().skip(self.seen) {
            self.seen += 1;
            match event {
                Event::Start { probe } => {
                    self.running = Some(probe);
                    self.at = None;
                    self.deadline = Instant::now() + timeout;
                }
                Event::Progress { at: place, .. } => self.at = Some(place),
                Event::Result(report) => {
                    self.running = None;
                    self.at = None;
                    self.settled
                        .push((report.probe.clone(), ProbeRun::Reported(report)));
                }
            }
        }
    }
}

fn is_setup_failure(child: &Process, status: &ExitStatus) -> bool {
    matches!(child, Process::Forked(_)) && status.code() == Some(SETUP_FAILED)
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
pub(super) fn died(status: &std::process::ExitStatus) -> Option<String> {
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
