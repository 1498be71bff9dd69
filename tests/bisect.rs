//! `qcompat bisect` on the toy releases (fixtures/toy/README.md lists what each does), offline: skip, the fix
//! direction, endpoints that misbehave, another failure signature, k-ary rounds, resume after Ctrl-C, and the commit
//! listing on a git repository the test builds.

mod common;

use std::process::Command;

use common::{Scratch, assert_gone, stderr, wait_for};

const TOY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "3s"

[axes]
toyquant = ["1.0"]
"#;

/// `bisect ARGS --format json`, asserting the exit code; the report, and stderr.
fn bisect(scratch: &Scratch, args: &[&str], code: i32) -> (serde_json::Value, String) {
    let mut all = vec![
        "bisect", "--matrix", "toy.toml", "--axis", "toyquant", "--format", "json",
    ];
    all.extend_from_slice(args);
    let output = scratch.qcompat(&all);
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (report, stderr(&output))
}

fn scratch() -> Scratch {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    scratch
}

fn versions(report: &serde_json::Value, field: &str) -> Vec<String> {
    report[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_regression_is_found_with_unjudgeable_versions_skipped() {
    let scratch = scratch();
    // 1.1 has no CPU kernel (needs-cuda): skipped, never good or bad.
    let (report, _) = bisect(
        &scratch,
        &["--good", "1.0", "--bad", "1.2.1", "--jobs", "1"],
        0,
    );
    assert_eq!(report["direction"], "regression");
    assert_eq!(report["last_good"], "1.0");
    assert_eq!(report["first_bad"], "1.2");
    assert_eq!(versions(&report, "skipped"), ["1.1"]);
    assert_eq!(versions(&report, "undecided"), ["1.1"]);
    assert_eq!(
        report["signature"],
        "AttributeError: '_LazyTensor' object has no attribute 'data'"
    );
    // 4 candidates: 2 endpoint checks + at most ceil(log2 4) = 2 probes.
    assert_eq!(report["candidates"], 4);
    assert!(report["probe_runs"].as_u64().unwrap() <= 4);

    // Rerunning a finished bisect probes nothing: every step comes from the journal.
    let (again, _) = bisect(
        &scratch,
        &["--good", "1.0", "--bad", "1.2.1", "--jobs", "1"],
        0,
    );
    assert_eq!(again["probe_runs"], 0);
    assert_eq!(again["first_bad"], "1.2");
}

#[test]
fn two_jobs_take_fewer_rounds_than_one() {
    let (one, _) = bisect(
        &scratch(),
        &["--good", "1.0", "--bad", "1.2.1", "--jobs", "1"],
        0,
    );
    let (two, _) = bisect(
        &scratch(),
        &["--good", "1.0", "--bad", "1.2.1", "--jobs", "2"],
        0,
    );
    assert_eq!(two["first_bad"], one["first_bad"]);
    assert!(
        two["rounds"].as_u64() < one["rounds"].as_u64(),
        "{} rounds with 2 jobs, {} with 1",
        two["rounds"],
        one["rounds"]
    );
}

#[test]
fn good_newer_than_bad_finds_the_fix() {
    // From 1.6 back to 1.2.1: 1.5.5 is the newest that passes below the misbehaving 1.5.6 … 1.5.9; 1.5.4 … 1.3 crash,
    // hang, fail otherwise or do not resolve (skipped); 1.2.2 fails the way 1.2.1 does.
    let (report, _) = bisect(
        &scratch(),
        &["--good", "1.6", "--bad", "1.2.1", "--jobs", "2"],
        0,
    );
    assert_eq!(report["direction"], "fix");
    assert_eq!(report["last_bad"], "1.2.2");
    assert_eq!(report["first_good"], "1.5.5");
    let undecided = versions(&report, "undecided");
    for skipped in ["1.5.4", "1.5", "1.4", "1.3"] {
        assert!(undecided.contains(&skipped.to_string()), "{undecided:?}");
    }
}

#[test]
fn another_failure_is_skipped_unless_every_failure_counts() {
    let scratch = scratch();
    // Bad = the segfault of 1.5; 1.2's AttributeError is another failure.
    let (same, _) = bisect(
        &scratch,
        &["--good", "1.0", "--bad", "1.5", "--jobs", "2"],
        0,
    );
    assert_eq!(same["first_bad"], "1.5");
    assert!(versions(&same, "skipped").contains(&"1.2".to_string()));
    let (any, _) = bisect(
        &scratch,
        &[
            "--good",
            "1.0",
            "--bad",
            "1.5",
            "--jobs",
            "2",
            "--any-failure",
        ],
        0,
    );
    assert_eq!(any["first_bad"], "1.2");
}

#[test]
fn endpoints_that_misbehave_stop_with_what_they_did() {
    let scratch = scratch();
    let (_, text) = bisect(&scratch, &["--good", "1.2", "--bad", "1.2.1"], 2);
    assert!(
        text.contains("error: --good 1.2 does not pass: fail: AttributeError"),
        "{text}"
    );
    let (_, text) = bisect(&scratch, &["--good", "1.0", "--bad", "1.6"], 2);
    assert!(
        text.contains("error: --bad 1.6: every probe passed there"),
        "{text}"
    );
    // A corrupt wheel is an install that failed: the machine's or the index's to fix (exit 3), not the request's.
    let (_, text) = bisect(&scratch, &["--good", "1.7", "--bad", "1.2.1"], 3);
    assert!(
        text.contains("error: --good 1.7 cannot be installed (install-error:")
            && text.contains("the nearest installable version is 1.6"),
        "{text}"
    );
    let (_, text) = bisect(&scratch, &["--good", "0.9", "--bad", "1.2"], 2);
    assert!(
        text.contains("toyquant 0.9 is not published (nearest published: 1.0)"),
        "{text}"
    );
}

#[test]
fn ctrl_c_keeps_the_probed_versions_for_the_next_bisect() {
    let scratch = Scratch::new();
    scratch.write(
        "toy.toml",
        &TOY.replace("timeout = \"3s\"", "timeout = \"60s\""),
    );
    // From 1.0 to the segfault of 1.5, the versions between fail otherwise or do not resolve (skipped) until 1.4,
    // which hangs.
    let args = ["--good", "1.0", "--bad", "1.5", "--jobs", "1"];
    let mut command = vec!["bisect", "--matrix", "toy.toml", "--axis", "toyquant"];
    command.extend(args);
    let run = scratch
        .run_command(&command)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = scratch
        .cache()
        .join("runs/toy/toyquant=1.4/artifacts/grandchild.pid");
    let grandchild = wait_for(&pid_file, "the hanging release");
    // SAFETY: sends SIGINT to the qcompat process this test spawned.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    let output = run.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_gone(&grandchild);

    scratch.write("toy.toml", TOY);
    let (report, _) = bisect(&scratch, &args, 0);
    let ran: Vec<(&str, bool)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["version"].as_str().unwrap(), s["ran"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        ran[..2],
        [("1.0", false), ("1.5", false)],
        "endpoints come from the journal"
    );
    assert!(
        ran.contains(&("1.4", true)),
        "the interrupted version runs again: {ran:?}"
    );
    let interrupted = ran.iter().position(|(v, _)| *v == "1.4").unwrap();
    assert!(
        ran[..interrupted].iter().all(|(_, ran)| !ran),
        "every version that finished before Ctrl-C comes from the journal: {ran:?}"
    );
}

#[test]
fn repo_lists_the_commits_between_the_two_releases_that_touch_the_failing_files() {
    let scratch = scratch();
    let repo = scratch.path().join("toyquant-git");
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args([
                "-C",
                repo.to_str().unwrap(),
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
            ])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    let commit = |file: &str, message: &str| {
        let path = repo.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, message).unwrap();
        git(&["add", "."]);
        git(&["commit", "-q", "-m", message]);
    };
    std::fs::create_dir_all(&repo).unwrap();
    git(&["init", "-q"]);
    commit("src/toyquant/__init__.py", "initial");
    git(&["tag", "1.0"]);
    commit("docs/index.md", "docs only");
    commit("src/toyquant/__init__.py", "lazy tensors without data");
    git(&["tag", "1.2"]);
    commit("src/toyquant/__init__.py", "after the release");

    let (report, _) = bisect(
        &scratch,
        &[
            "--good",
            "1.0",
            "--bad",
            "1.2.1",
            "--repo",
            repo.to_str().unwrap(),
        ],
        0,
    );
    let subjects: Vec<&str> = report["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["lazy tensors without data"]);
}

/// The table names each step's outcome once: a crash's signature already says `crash:`.
#[test]
fn the_table_says_each_outcome_once() {
    let scratch = scratch();
    // From 1.5.5 back to the SIGABRT of 1.5.1: the releases between crash otherwise (skipped).
    let output = scratch.qcompat(&[
        "bisect", "--matrix", "toy.toml", "--axis", "toyquant", "--good", "1.5.5", "--bad",
        "1.5.1", "--jobs", "1",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = common::stdout(&output);
    assert!(!table.contains("crash: crash"), "{table}");
    insta::assert_snapshot!("bisect_table_crashes", table);
}
