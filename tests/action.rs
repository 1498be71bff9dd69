//! The GitHub Action's scripts run here as a job would run them (action.yml passes its inputs as QCOMPAT_* variables
//! and GitHub's files as GITHUB_*), offline with the toy wheels: install.sh puts this build of qcompat on the job's
//! PATH, run.sh runs `run --check`, sharded runs and their merge, and `monitor` with its history page, and leaves
//! what action.yml uploads.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Scratch, repo, stderr, stdout, toy_wheels};

const MATRIX: &str =
    "probes = [\"toy-load\"]\ntimeout = \"20s\"\n[axes]\ntoyquant = [\"1.0\", \"1.2\"]\n";

/// install.sh with a binary as `install`, into `scratch/bin`; returns the folder it appended to $GITHUB_PATH.
fn install(scratch: &Scratch) -> PathBuf {
    let github_path = scratch.path().join("github-path");
    let output = Command::new("bash")
        .arg(repo().join(".github/action/install.sh"))
        .env("QCOMPAT_INSTALL", env!("CARGO_BIN_EXE_qcompat"))
        .env("QCOMPAT_BIN_DIR", scratch.path().join("bin"))
        .env("GITHUB_PATH", &github_path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("qcompat "),
        "{}",
        stdout(&output)
    );
    PathBuf::from(std::fs::read_to_string(github_path).unwrap().trim())
}

/// run.sh in the scratch folder with these inputs, as a pull request's job; `bin` first on PATH.
fn action(scratch: &Scratch, bin: &Path, inputs: &[(&str, &str)]) -> Output {
    let event = scratch.write("event.json", "{\"pull_request\": {\"number\": 7}}");
    let mut command = Command::new("bash");
    command
        .arg(repo().join(".github/action/run.sh"))
        .current_dir(scratch.path())
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("QCOMPAT_CACHE_DIR", scratch.cache())
        .env("UV_FIND_LINKS", toy_wheels())
        .env("UV_NO_INDEX", "1")
        .env("NO_COLOR", "1")
        .env("GITHUB_STEP_SUMMARY", scratch.path().join("summary.md"))
        .env("GITHUB_OUTPUT", scratch.path().join("github-output"))
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", event);
    for (name, value) in inputs {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn read(scratch: &Scratch, file: &str) -> String {
    std::fs::read_to_string(scratch.path().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn run_check_leaves_junit_the_fresh_snapshot_and_the_diff_for_the_pull_request() {
    let scratch = Scratch::new();
    let bin = install(&scratch);
    scratch.write("toy.toml", MATRIX);
    // The committed snapshot knows only 1.0: the pull request adds 1.2, which fails.
    let recorded = scratch.qcompat(&[
        "run",
        "--matrix",
        "toy.toml",
        "--update",
        "--filter",
        "toyquant=1.0",
    ]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let committed = read(&scratch, "reports/toy.snap.toml");

    let inputs = [
        ("QCOMPAT_COMMAND", "run --check"),
        ("QCOMPAT_MATRIX", "toy.toml"),
        ("QCOMPAT_FAIL_ON", "regression"),
    ];
    let output = action(&scratch, &bin, &inputs);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a regression fails the step: {}",
        stderr(&output)
    );
    assert!(
        read(&scratch, "qcompat-out/diff.md").contains("regression"),
        "{}",
        read(&scratch, "qcompat-out/diff.md")
    );
    assert!(read(&scratch, "qcompat-out/junit/toy.xml").contains("<testcase"));
    assert_eq!(read(&scratch, "qcompat-out/pull-request").trim(), "7");
    let fresh = qcompat::snapshot::read(&scratch.path().join("qcompat-out/toy.snap.toml")).unwrap();
    assert_eq!(fresh.cells.len(), 2);
    assert_eq!(
        read(&scratch, "reports/toy.snap.toml"),
        committed,
        "the committed snapshot is left alone"
    );
    assert!(
        !scratch.path().join("reports/toy.snap.toml.new").exists(),
        "the fresh one went to the output folder"
    );
    let summary = read(&scratch, "summary.md");
    assert!(
        summary.contains("toyquant=1.2")
            && summary.contains(&read(&scratch, "qcompat-out/diff.md"))
    );
    let outputs = read(&scratch, "github-output");
    for line in [
        "exit-code=1",
        "artifact=qcompat-toy",
        "snapshot=qcompat-out/toy.snap.toml",
    ] {
        assert!(outputs.lines().any(|l| l == line), "{line} in:\n{outputs}");
    }

    // Accepted into the committed snapshot, the same check passes and says so.
    std::fs::copy(
        scratch.path().join("qcompat-out/toy.snap.toml"),
        scratch.path().join("reports/toy.snap.toml"),
    )
    .unwrap();
    let output = action(&scratch, &bin, &inputs);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        read(&scratch, "qcompat-out/diff.md"),
        "**toy**: the results match `reports/toy.snap.toml`.\n"
    );
}

#[test]
fn shards_of_one_plan_run_apart_and_merge_into_one_snapshot() {
    let scratch = Scratch::new();
    let bin = install(&scratch);
    scratch.write("toy.toml", MATRIX);
    let planned = action(
        &scratch,
        &bin,
        &[
            ("QCOMPAT_COMMAND", "plan"),
            ("QCOMPAT_MATRIX", "toy.toml"),
            ("QCOMPAT_SHARDS", "2"),
            ("QCOMPAT_OUT", "plan"),
        ],
    );
    assert_eq!(planned.status.code(), Some(0), "{}", stderr(&planned));
    let outputs = read(&scratch, "github-output");
    assert!(
        outputs.contains("shards={\"include\":[{\"shard\":\"1/2\""),
        "{outputs}"
    );
    assert!(
        outputs.contains("as-of=20"),
        "the plan's moment is an output: {outputs}"
    );

    for shard in ["1", "2/2"] {
        let out = format!("shard-{}", &shard[..1]);
        let output = action(
            &scratch,
            &bin,
            &[
                ("QCOMPAT_COMMAND", "run"),
                ("QCOMPAT_MATRIX", "toy.toml"),
                ("QCOMPAT_PLAN", "plan/plan.json"),
                ("QCOMPAT_SHARDS", "2"),
                ("QCOMPAT_SHARD", shard),
                ("QCOMPAT_FAIL_ON", "never"),
                ("QCOMPAT_OUT", &out),
            ],
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "fail-on never: {}",
            stderr(&output)
        );
    }
    assert!(read(&scratch, "github-output").contains("artifact=qcompat-toy-shard-2\n"));
    let merged = action(
        &scratch,
        &bin,
        &[
            ("QCOMPAT_COMMAND", "merge"),
            ("QCOMPAT_MATRIX", "toy.toml"),
            ("QCOMPAT_PARTS", "shard-*/parts/*.snap.toml"),
            ("QCOMPAT_OUT", "merged"),
        ],
    );
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    let snapshot = qcompat::snapshot::read(&scratch.path().join("merged/toy.snap.toml")).unwrap();
    let keys: Vec<String> = snapshot.cells.iter().map(|c| c.key.to_string()).collect();
    assert_eq!(keys, ["toyquant=1.0", "toyquant=1.2"]);
    assert!(read(&scratch, "merged/report.md").contains("toyquant=1.2"));
}

#[test]
fn monitor_records_each_night_and_renders_their_history() {
    let scratch = Scratch::new();
    let bin = install(&scratch);
    scratch.write(
        "watch.toml",
        "name = \"watch\"\nprobes = [\"toy-load\"]\ntimeout = \"20s\"\n[axes]\ntoyquant = { versions = \">=1.0,<1.2\" }\n",
    );
    let inputs = [
        ("QCOMPAT_COMMAND", "monitor"),
        ("QCOMPAT_MATRIX", "watch.toml"),
        ("QCOMPAT_SNAPSHOT", "last/watch.snap.toml"),
        ("QCOMPAT_HISTORY", "last/history"),
    ];
    for (night, as_of) in ["2030-01-01T03:00:00Z", "2030-01-02T03:00:00Z"]
        .iter()
        .enumerate()
    {
        let mut with_moment = inputs.to_vec();
        with_moment.push(("QCOMPAT_AS_OF", as_of));
        let output = action(&scratch, &bin, &with_moment);
        assert_eq!(
            output.status.code(),
            Some(0),
            "night {night}: {}",
            stderr(&output)
        );
    }
    let nights: Vec<_> = std::fs::read_dir(scratch.path().join("last/history"))
        .unwrap()
        .collect();
    assert_eq!(nights.len(), 2);
    assert!(read(&scratch, "qcompat-out/monitor.md").contains("no new versions of toyquant"));
    assert!(read(&scratch, "qcompat-out/history.html").contains("data-nights=\"2\""));
    assert!(read(&scratch, "github-output").contains("artifact=qcompat-watch-night\n"));
}

#[test]
fn inputs_that_mean_nothing_are_refused_before_any_work() {
    let scratch = Scratch::new();
    let bin = install(&scratch);
    scratch.write("toy.toml", MATRIX);
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[
                ("QCOMPAT_COMMAND", "bisect"),
                ("QCOMPAT_MATRIX", "toy.toml"),
            ],
            "command: `bisect` is none of",
        ),
        (
            &[
                ("QCOMPAT_COMMAND", "run --check"),
                ("QCOMPAT_MATRIX", "nope.toml"),
            ],
            "matrix: no such file `nope.toml`",
        ),
        (
            &[
                ("QCOMPAT_COMMAND", "run"),
                ("QCOMPAT_MATRIX", "toy.toml"),
                ("QCOMPAT_SHARDS", "2"),
                ("QCOMPAT_SHARD", "1"),
            ],
            "give `as-of` (or a `plan`)",
        ),
    ];
    for (inputs, message) in cases {
        let output = action(&scratch, &bin, inputs);
        assert_eq!(output.status.code(), Some(2), "{inputs:?}");
        assert!(stderr(&output).contains(message), "{}", stderr(&output));
    }
    let output = Command::new("bash")
        .arg(repo().join(".github/action/install.sh"))
        .env("QCOMPAT_INSTALL", scratch.path().join("nothing-here"))
        .env("QCOMPAT_BIN_DIR", scratch.path().join("bin2"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("is neither release, source, a wheel"));
}
