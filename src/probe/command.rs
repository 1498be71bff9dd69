//! A command probe (`[probe.NAME]` of a matrix) run in a cell: a process of its own, in its own process group, in a
//! fresh copy of the probe's `dir`, with the cell's environment activated.
//!
//! The command is what the user would type in the activated environment: `python …` is the cell's interpreter,
//! another program is looked up on the cell's PATH (the environment's `bin/` first). `python SCRIPT …`,
//! `python -m MODULE …` and a console script of the environment (`pytest …`) may fork from the cell's preloaded base
//! like the built-in probes; the fork starts as the fresh process would (same `sys.argv`, working directory,
//! environment, `sys.path`).

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::catalog::SWAPS_DIR;
use super::preload::{Base, SETUP_FAILED};
use super::protocol::{CommandEnding, CommandReport, ProbeInterpreter, ProbeRun, TestResult};
use super::pytest;
use super::runner::{ForkLaunch, ProbeJob, Process, fork, signal_name};
use super::spec::{CommandProbe, ProbeSpec};
use super::traceback;
use crate::error::{Error, Result};
use crate::process::capped_log;
use crate::process::supervisor::{self, Group};

/// How long the log may take to receive the last output once the group is gone.
const LOG_DRAIN: Duration = Duration::from_secs(5);
/// The end of the output that is searched for a traceback (the log keeps its head and tail).
const OUTPUT_READ: u64 = capped_log::TAIL as u64;
/// The swaps file's name inside the probe's artifacts.
pub const SWAPS_FILE: &str = "swaps.jsonl";

/// Where one command probe runs in a cell: a copy of its `dir`, the folder it may write artifacts to, and whether
/// the device it runs on has CUDA (which decides whether a failure that names CUDA is the device's or the code's).
pub struct Place {
    pub work: PathBuf,
    pub artifacts: PathBuf,
    pub cuda: bool,
}

impl Place {
    /// `<cell artifacts>/declared/<probe>/work` and `…/artifacts`, made afresh: no two cells or runs share files,
    /// and no name of a declared probe meets a file of the built-in probes' artifacts.
    pub fn prepare(job: &ProbeJob<'_>, spec: &ProbeSpec, command: &CommandProbe) -> Result<Self> {
        let root = job.artifacts.join("declared").join(&spec.name);
        if root.exists() {
            std::fs::remove_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        }
        let place = Place {
            work: root.join("work"),
            artifacts: root.join("artifacts"),
            cuda: has_cuda(job.device),
        };
        let work = std::path::absolute(&place.work).map_err(|e| Error::io(&place.work, e))?;
        copy_dir(&command.dir, &place.work, &work)?;
        std::fs::create_dir_all(&place.artifacts).map_err(|e| Error::io(&place.artifacts, e))?;
        Ok(place)
    }
}

/// The command as it starts: the program, its arguments, and how a base may fork it instead.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    fork: Option<ForkAs>,
}

enum ForkAs {
    /// `sys.argv` of a script run by the interpreter.
    Script(Vec<String>),
    /// `python -m MODULE ARGS`: the module and `["-m", ARGS…]`.
    Module(String, Vec<String>),
}

/// The program `command` names in the cell, with pytest's arguments added; `Err(program)` when the cell has none.
pub fn launch(
    command: &CommandProbe,
    python: &Path,
    path_var: Option<&std::ffi::OsStr>,
    place: &Place,
) -> std::result::Result<Launch, String> {
    let mut argv = command.argv.clone();
    if command.is_pytest() {
        let at = if argv[0] == "python" { 3 } else { 1 };
        argv.splice(at..at, pytest::arguments(&place.artifacts));
    }
    let (first, rest) = argv
        .split_first()
        .expect("a validated command is not empty");
    let rest = rest.to_vec();
    if first == "python" {
        let fork = match rest.as_slice() {
            [flag, module, args @ ..] if flag == "-m" => {
                let argv = std::iter::once("-m".to_string()).chain(args.iter().cloned());
                Some(ForkAs::Module(module.clone(), argv.collect()))
            }
            [script, ..] if !script.starts_with('-') => Some(ForkAs::Script(rest.clone())),
            _ => None,
        };
        return Ok(Launch {
            program: python.to_path_buf(),
            args: rest,
            fork,
        });
    }
    let program = if first.contains('/') {
        Some(place.work.join(first)).filter(|p| is_executable(p))
    } else {
        which::which_in(first, path_var, &place.work).ok()
    };
    let program = program.ok_or_else(|| first.clone())?;
    // A console script of the cell's environment is a Python script its interpreter runs.
    let fork = is_python_script(&program, python).then(|| {
        let argv = std::iter::once(program.display().to_string()).chain(rest.iter().cloned());
        ForkAs::Script(argv.collect())
    });
    Ok(Launch {
        program,
        args: rest,
        fork,
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `spec` in `job`'s cell as a plain command for the foreground (`qcompat repro`: output on the terminal, no
/// timeout, no process group of its own), in a fresh copy of its `dir`; `Err(program)` when the cell has no such
/// program.
pub fn foreground(
    job: &ProbeJob<'_>,
    spec: &ProbeSpec,
    command: &CommandProbe,
) -> Result<std::result::Result<(std::process::Command, Place), String>> {
    let place = Place::prepare(job, spec, command)?;
    let env = environment(job, command, &place);
    let path_var = env
        .iter()
        .find(|(n, _)| n == "PATH")
        .map(|(_, v)| v.as_os_str());
    let launch = match launch(command, job.python, path_var, &place) {
        Ok(launch) => launch,
        Err(program) => return Ok(Err(program)),
    };
    let mut foreground = std::process::Command::new(&launch.program);
    foreground
        .args(&launch.args)
        .current_dir(&place.work)
        .env_clear()
        .envs(env);
    Ok(Ok((foreground, place)))
}

/// What a command that ended with `code` says: its `output` (the end of it), its JUnit XML and swaps.
pub fn ended(command: &CommandProbe, place: &Place, code: i32, output: &str) -> ProbeRun {
    let tests = command
        .is_pytest()
        .then(|| pytest::read(&place.artifacts.join(pytest::JUNIT_FILE), output))
        .flatten();
    let swaps = read_swaps(&place.artifacts.join(SWAPS_FILE));
    let mut report = report(CommandEnding::Exited(code), output, tests, swaps, 0.0);
    report.cuda = place.cuda;
    ProbeRun::Command(report)
}

/// Whether the run's device (`QCOMPAT_DEVICE`) has CUDA: `auto` asks the kernel whether NVIDIA's driver is loaded,
/// which is what torch needs before it can see a GPU.
fn has_cuda(device: &str) -> bool {
    match device {
        "cuda" => true,
        "cpu" => false,
        _ => Path::new("/proc/driver/nvidia/version").exists(),
    }
}

/// A script in the interpreter's own `bin/` that this interpreter runs: its `#!` line names it, or it is the
/// launcher uv writes into a relocatable environment (`#!/bin/sh`, then `'''exec' "$(dirname …)"/'python' "$0" "$@"`:
/// the `python` beside it runs the file itself with `sys.argv[0]` the script's path).
fn is_python_script(program: &Path, python: &Path) -> bool {
    if program.parent() != python.parent() {
        return false;
    }
    let mut head = [0u8; 512];
    let read = std::fs::File::open(program).and_then(|mut f| f.read(&mut head));
    let Ok(read) = read else { return false };
    let text = String::from_utf8_lossy(&head[..read]);
    let mut lines = text.lines();
    let shebang = lines.next().unwrap_or_default();
    if shebang
        .strip_prefix("#!")
        .is_some_and(|i| Path::new(i.trim()) == python)
    {
        return true;
    }
    let beside = python
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("python");
    let launcher = lines.next().unwrap_or_default();
    shebang == "#!/bin/sh"
        && launcher.starts_with("'''exec' ")
        && launcher.contains(&format!("/'{beside}' \"$0\" \"$@\""))
}

/// Runs `spec` in `job`'s cell (forked from `base` where it can); what its exit, output, JUnit XML and swaps say. A
/// fork that could not become the cell's interpreter, or lost its base, runs again fresh.
pub async fn run(
    job: &ProbeJob<'_>,
    spec: &ProbeSpec,
    command: &CommandProbe,
    base: Option<&Base>,
) -> Result<(ProbeRun, ProbeInterpreter)> {
    if base.is_some()
        && let Some(ran) = run_once(job, spec, command, base).await?
    {
        return Ok(ran);
    }
    let ran = run_once(job, spec, command, None).await?;
    Ok(ran.expect("a fresh process always settles"))
}

/// One run in a fresh copy of `dir`; `None` when a forked process could not become the cell's interpreter or lost
/// its base.
async fn run_once(
    job: &ProbeJob<'_>,
    spec: &ProbeSpec,
    command: &CommandProbe,
    base: Option<&Base>,
) -> Result<Option<(ProbeRun, ProbeInterpreter)>> {
    use std::os::unix::process::ExitStatusExt;
    let place = Place::prepare(job, spec, command)?;
    let env = environment(job, command, &place);
    let path_var = env
        .iter()
        .find(|(n, _)| n == "PATH")
        .map(|(_, v)| v.as_os_str());
    let launch = match launch(command, job.python, path_var, &place) {
        Ok(launch) => launch,
        Err(program) => {
            let report = not_found(program);
            return Ok(Some((ProbeRun::Command(report), ProbeInterpreter::Fresh)));
        }
    };
    let offset = std::fs::metadata(job.log).map_or(0, |m| m.len());
    let (log, drain) = capped_log::open(job.log, std::sync::Arc::clone(job.sink))?;
    let started = Instant::now();
    let mut child = match start(job, &launch, &place, &env, base, log).await? {
        Ok(child) => child,
        Err(reason) => {
            let report = report(
                CommandEnding::Unstartable(reason),
                "",
                None,
                Vec::new(),
                0.0,
            );
            return Ok(Some((ProbeRun::Command(report), ProbeInterpreter::Fresh)));
        }
    };
    let interpreter = child.interpreter();
    let group = child.pid().map(Group::adopt);
    let limit = command.timeout.unwrap_or(job.timeout);
    let status = tokio::time::timeout(limit, child.wait()).await;
    drop(group);
    drain.finish(LOG_DRAIN).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = match status {
        Err(_) => {
            child.wait().await.ok();
            return Ok(Some((ProbeRun::TimedOut(limit), interpreter)));
        }
        Ok(status) => status?,
    };
    let forked = interpreter == ProbeInterpreter::Forked;
    let ending = match status.map(|s| (s.signal(), s.code())) {
        None => return Ok(None),
        Some((None, Some(SETUP_FAILED))) if forked => return Ok(None),
        Some((Some(signal), _)) => ProbeRun::Died(signal_name(signal)),
        Some((None, Some(code))) => {
            let mut ending = ended(command, &place, code, &read_from(job.log, offset));
            if let ProbeRun::Command(report) = &mut ending {
                report.duration_s = elapsed;
            }
            ending
        }
        Some((None, None)) => ProbeRun::Died("unknown exit".into()),
    };
    Ok(Some((ending, interpreter)))
}

/// A command whose program the cell does not have.
pub fn not_found(program: String) -> CommandReport {
    report(CommandEnding::NotFound(program), "", None, Vec::new(), 0.0)
}

fn report(
    ending: CommandEnding,
    output: &str,
    tests: Option<Vec<TestResult>>,
    substitutions: Vec<String>,
    duration_s: f64,
) -> CommandReport {
    CommandReport {
        ending,
        traceback: traceback::last_traceback(output),
        last_line: traceback::last_line(output),
        tests,
        substitutions,
        duration_s,
        cuda: true,
    }
}

/// The cell's activated environment, the run's `QCOMPAT_*` settings, the probe's own variables, and the CPU swaps
/// when asked and the run's device is not CUDA.
pub fn environment(
    job: &ProbeJob<'_>,
    command: &CommandProbe,
    place: &Place,
) -> Vec<(OsString, OsString)> {
    let mut vars = job.env.for_probe_in(job.python);
    let mut set = |name: &str, value: OsString| {
        vars.retain(|(n, _)| n != name);
        vars.push((name.into(), value));
    };
    // As a shell in the copy of `dir` has it (and uv's console-script launcher, a shell script, exports it).
    set("PWD", place.work.clone().into());
    set("QCOMPAT_ARTIFACTS", place.artifacts.clone().into());
    set("QCOMPAT_DEVICE", job.device.into());
    set("PYTHONUNBUFFERED", "1".into());
    let mut pythonpath: Vec<OsString> = Vec::new();
    if command.cpu_swaps && job.device != "cuda" {
        pythonpath.push(job.scripts.join(SWAPS_DIR).into());
        set("QCOMPAT_CPU_SWAPS", "1".into());
        set(
            "QCOMPAT_SWAPS_FILE",
            place.artifacts.join(SWAPS_FILE).into(),
        );
    }
    for (name, value) in &command.env {
        if name == "PYTHONPATH" {
            pythonpath.push(value.into());
        } else {
            set(name, value.into());
        }
    }
    if !pythonpath.is_empty() {
        set(
            "PYTHONPATH",
            std::env::join_paths(&pythonpath).unwrap_or_default(),
        );
    }
    vars
}

/// The process, forked or fresh; `Err(reason)` when the program found cannot be started (not executable, no
/// interpreter for its `#!` line): the probe's failure, not the machine's.
async fn start(
    job: &ProbeJob<'_>,
    launch: &Launch,
    place: &Place,
    env: &[(OsString, OsString)],
    base: Option<&Base>,
    log: std::io::PipeWriter,
) -> Result<std::result::Result<Process, String>> {
    if let Some(how) = &launch.fork {
        let (argv, module) = match how {
            ForkAs::Script(argv) => (argv, None),
            ForkAs::Module(module, argv) => (argv, Some(module.as_str())),
        };
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        let request = ForkLaunch {
            argv: &argv,
            cwd: Some(&place.work),
            module,
        };
        if let Some(forked) = fork(base, job.python, &request, env, &log).await {
            return Ok(Ok(Process::Forked(forked)));
        }
    }
    let log_err = log.try_clone().map_err(|e| Error::io(job.log, e))?;
    let mut command = Command::new(&launch.program);
    // SAFETY: the hook only calls prctl, which is async-signal-safe.
    unsafe { command.pre_exec(supervisor::die_with_parent) };
    let child = command
        .args(&launch.args)
        .current_dir(&place.work)
        .env_clear()
        .envs(env.iter().map(|(n, v)| (n, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .kill_on_drop(true)
        .spawn();
    drop(command);
    Ok(match child {
        Ok(child) => Ok(Process::Fresh(child)),
        // Its name only: the folder differs between cells, the failure does not.
        Err(e) => {
            let name = launch.program.file_name().unwrap_or_default();
            Err(format!("`{}`: {e}", name.to_string_lossy()))
        }
    })
}

/// The output the command appended to the log, at most its last [`OUTPUT_READ`] bytes.
fn read_from(log: &Path, offset: u64) -> String {
    let Ok(mut file) = std::fs::File::open(log) else {
        return String::new();
    };
    let end = file.metadata().map_or(offset, |m| m.len());
    let start = offset.max(end.saturating_sub(OUTPUT_READ));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_ok() {
        file.read_to_end(&mut bytes).ok();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Each `{"swap": DESCRIPTION}` line of the swaps file, once each, in order; lines of any other shape are ignored.
fn read_swaps(path: &Path) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Line {
        swap: String,
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut swaps: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Ok(Line { swap }) = serde_json::from_str(line)
            && !swaps.contains(&swap)
        {
            swaps.push(swap);
        }
    }
    swaps
}

/// Copies `from` into `to` (created), files and folders; symbolic links are copied as links. A folder of `from`
/// that holds `root` (the whole copy's absolute folder: a cache inside the probe's `dir`) is left out, or the copy
/// would copy itself.
fn copy_dir(from: &Path, to: &Path, root: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| Error::io(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if root.starts_with(&source) {
            continue;
        }
        let kind = entry.file_type().map_err(|e| Error::io(&source, e))?;
        if kind.is_dir() {
            copy_dir(&source, &target, root)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(|e| Error::io(&source, e))?;
            std::os::unix::fs::symlink(link, &target).map_err(|e| Error::io(&target, e))?;
        } else {
            std::fs::copy(&source, &target).map_err(|e| Error::io(&target, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_leaves_out_the_folder_it_is_written_into() {
        let project = tempfile::tempdir().unwrap();
        std::fs::write(project.path().join("train.py"), "print(1)\n").unwrap();
        std::fs::create_dir_all(project.path().join("tests")).unwrap();
        std::fs::write(project.path().join("tests/test_a.py"), "").unwrap();
        std::os::unix::fs::symlink("train.py", project.path().join("link.py")).unwrap();
        // A cache inside the project: the copy goes under it.
        let work = project
            .path()
            .join(".cache/runs/m/cell/artifacts/declared/p/work");
        copy_dir(project.path(), &work, &work).unwrap();
        assert_eq!(
            std::fs::read_to_string(work.join("train.py")).unwrap(),
            "print(1)\n"
        );
        assert!(work.join("tests/test_a.py").is_file());
        assert_eq!(
            std::fs::read_link(work.join("link.py")).unwrap(),
            Path::new("train.py")
        );
        assert!(!work.join(".cache").exists());
    }

    #[test]
    fn swaps_are_read_once_each_and_odd_lines_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SWAPS_FILE);
        let lines =
            "{\"swap\": \"a\"}\nnot json\n{\"other\": 1}\n{\"swap\": \"b\"}\n{\"swap\": \"a\"}\n";
        std::fs::write(&path, lines).unwrap();
        assert_eq!(read_swaps(&path), ["a", "b"]);
        assert!(read_swaps(&dir.path().join("missing")).is_empty());
    }
}
