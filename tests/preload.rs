//! The shared preloaded interpreter: which cells fork from a base, and what a forked probe process can see.
//! Real uv environments from the toy wheels, offline; `toyheavy` stands in for torch.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Scratch, assert_gone, outcome_lines, repo, stderr, toy_wheels};

const HEAVY: &str = r#"
name = "heavy"
probes = ["toy-load"]
timeout = "3s"
preload = ["toyheavy"]

[axes]
toyquant = ["1.0", "1.1", "1.4", "1.5", "1.6"]
toyheavy = ["1.0"]

[[include]]
toyquant = "1.6"
toyheavy = "2.0"
"#;

fn run(scratch: &Scratch, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        "--matrix",
        "heavy.toml",
        "--format",
        "json",
        "--jobs",
        "1",
    ];
    args.extend_from_slice(extra);
    let output = scratch.qcompat(&args);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)))
}

/// (toyquant, toyheavy, interpreter) per cell.
fn interpreters(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let cells = report["cells"].as_array().unwrap();
    cells
        .iter()
        .map(|c| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
            let probe = &c["probes"][0];
            (
                text(&c["key"]["toyquant"]),
                text(&c["key"]["toyheavy"]),
                text(&probe["interpreter"]),
            )
        })
        .collect()
}

#[test]
fn cells_sharing_the_heavy_package_fork_and_behave_as_fresh_ones() {
    let scratch = Scratch::new();
    scratch.write("heavy.toml", HEAVY);
    let isolated = run(&scratch, &["--isolate"]);
    assert!(
        interpreters(&isolated).iter().all(|(_, _, i)| i == "fresh"),
        "--isolate forks nothing: {:?}",
        interpreters(&isolated)
    );
    let pid_file = scratch
        .cache()
        .join("runs/heavy/toyquant=1.4_toyheavy=1.0/artifacts/grandchild.pid");
    std::fs::remove_file(&pid_file).unwrap();

    let shared = run(&scratch, &[]);
    // The same outcomes, timeout and crash included, whatever interpreter ran them.
    assert_eq!(outcome_lines(&shared), outcome_lines(&isolated));
    let used = interpreters(&shared);
    let of = |heavy: &str, kind: &str| {
        used.iter()
            .filter(|(_, h, i)| h == heavy && i == kind)
            .count()
    };
    // The toyheavy 1.0 cells expect company: the first starts the base, every one of them forks from it.
    assert_eq!(
        (of("1.0", "fresh"), of("1.0", "forked")),
        (0, 5),
        "{used:?}"
    );
    // The odd one out differs in the preloaded package: no base is proven identical to it, and it is not worth one
    // of its own.
    assert_eq!(
        (of("2.0", "fresh"), of("2.0", "forked")),
        (1, 0),
        "{used:?}"
    );
    // A forked probe that times out loses its whole process group, grandchildren included.
    let pid = std::fs::read_to_string(&pid_file).expect("the hanging release ran again");
    assert_gone(&pid);

    // The table marks forked probes and says what the mark means.
    let table = scratch.qcompat(&[
        "run",
        "--matrix",
        "heavy.toml",
        "--jobs",
        "1",
        "--filter",
        "toyheavy=1.0",
    ]);
    let text = common::stdout(&table);
    assert!(text.contains("pass^"), "{text}");
    assert!(
        text.contains("probe run(s) forked from a shared preloaded interpreter"),
        "{text}"
    );
}

/// `uv venv` + the toy wheels given, offline; returns the environment's python.
fn venv(root: &Path, name: &str, wheels: &[&str]) -> std::path::PathBuf {
    let dir = root.join(name);
    let uv = |args: &[&str]| {
        let status = Command::new("uv")
            .args(args)
            .env("UV_FIND_LINKS", toy_wheels())
            .env("UV_NO_INDEX", "1")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "uv {args:?}");
    };
    uv(&[
        "venv",
        "--quiet",
        "--python",
        "python3",
        dir.to_str().unwrap(),
    ]);
    let python = dir.join("bin/python");
    let mut install = vec![
        "pip",
        "install",
        "--quiet",
        "--python",
        python.to_str().unwrap(),
    ];
    install.extend_from_slice(wheels);
    uv(&install);
    python
}

const SEES: &str = r#"
import importlib.util, json, os, sys
json.dump({
    "preloaded": "toyheavy" in sys.modules,
    "toyquant": importlib.util.find_spec("toyquant") is not None,
    "prefix": sys.prefix,
    "executable": sys.executable,
    "path": sys.path,
}, open(os.environ["OUT"], "w"))
"#;

#[test]
fn a_forked_process_sees_only_its_own_cells_packages() {
    let scratch = Scratch::new();
    let root = scratch.path();
    let base_python = venv(root, "base", &["toyheavy==1.0", "toyquant==1.0"]);
    let cell_python = venv(root, "cell", &["toyheavy==1.0"]);
    let script = scratch.write("sees.py", SEES);
    let out = root.join("sees.json");
    // The base opens the log it is given for writing, never creating it (qcompat gives it a pipe).
    let log = scratch.write("child.log", "");

    let mut base = Command::new(&base_python)
        .args(["-S", "-u"])
        .arg(repo().join("fixtures/probes/_forkserver.py"))
        .arg("toyheavy")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(base.stdout.take().unwrap()).lines();
    let mut next =
        || -> serde_json::Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    let ready = next();
    assert_eq!(ready["ready"], true, "{ready}");
    assert!(
        ready["dists"]
            .as_object()
            .unwrap()
            .contains_key("toyheavy-1.0.dist-info"),
        "{ready}"
    );
    let request = serde_json::json!({
        "python": cell_python, "argv": [script], "log": log,
        "env": {"OUT": out, "PATH": std::env::var("PATH").unwrap()},
    });
    let mut stdin = base.stdin.take().unwrap();
    writeln!(stdin, "{request}").unwrap();
    let forked = next()["forked"].as_i64().expect("a pid");
    let exit = next();
    assert_eq!(exit["exit"].as_i64(), Some(forked));
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(exit["status"], 0, "{log}");
    drop(stdin);
    base.wait().unwrap();

    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let cell = cell_python.parent().unwrap().parent().unwrap();
    assert_eq!(seen["preloaded"], true, "the fork kept the base's import");
    assert_eq!(
        seen["toyquant"], false,
        "installed only in the base's environment"
    );
    assert_eq!(seen["executable"], cell_python.to_str().unwrap());
    assert_eq!(seen["prefix"], cell.to_str().unwrap());
    let base_dir = base_python.parent().unwrap().parent().unwrap();
    let paths = seen["path"].as_array().unwrap();
    assert!(
        !paths
            .iter()
            .any(|p| p.as_str().unwrap().starts_with(base_dir.to_str().unwrap())),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.as_str().unwrap().starts_with(cell.to_str().unwrap())),
        "{paths:?}"
    );
}

/// Pids of the base interpreters `qcompat` started (its children running `_forkserver.py`; a fork keeps that
/// command line, but its parent is the base).
fn bases_of(qcompat: u32) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid …: the comm may hold spaces, so count from its closing parenthesis.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            (String::from_utf8_lossy(&cmdline).contains("_forkserver.py")
                && ppid == qcompat.to_string())
            .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

#[test]
fn ctrl_c_during_a_forked_probe_leaves_neither_the_probe_nor_its_base() {
    let scratch = Scratch::new();
    scratch.write(
        "heavy.toml",
        &HEAVY.replace("timeout = \"3s\"", "timeout = \"60s\""),
    );
    // Two cells sharing toyheavy 1.0: both fork; 1.4 hangs with a grandchild.
    let run = scratch
        .run_command(&[
            "run",
            "--matrix",
            "heavy.toml",
            "--jobs",
            "1",
            "--filter",
            "toyheavy=1.0",
            "--filter",
            "toyquant=1.0",
            "--filter",
            "toyquant=1.4",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = scratch
        .cache()
        .join("runs/heavy/toyquant=1.4_toyheavy=1.0/artifacts/grandchild.pid");
    let grandchild = common::wait_for(&pid_file, "the hanging release");
    let bases = bases_of(run.id());
    assert_eq!(bases.len(), 1, "one base serves both cells: {bases:?}");
    // SAFETY: sends SIGINT to the qcompat process this test spawned.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    let output = run.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_gone(&grandchild);
    assert_gone(&bases[0]);
}
