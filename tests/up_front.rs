//! Inputs checked before any work, and runs that cannot pass for green: a bad flag, path or combination is refused
//! (exit 2 naming it) before a cell runs or a cache is made; output to a closed pipe ends quietly in every command;
//! a run in which nothing could be tested never exits 0.

mod common;

use std::process::Stdio;

use common::{Scratch, stderr, stdout};

const TOY: &str =
    "name = \"toy\"\nprobes = [\"toy-load\"]\ntimeout = \"10s\"\n[axes]\ntoyquant = [\"1.0\"]\n";

fn scratch() -> Scratch {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    scratch
}

/// Runs `args` (plus `env`), expecting exit 2 with `expected` in stderr and no cache made: nothing started.
fn refused(scratch: &Scratch, args: &[&str], env: &[(&str, &str)], expected: &str) {
    let mut command = scratch.run_command(args);
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(expected),
        "{args:?}: expected {expected:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !scratch.cache().exists(),
        "{args:?}: the cache was made: work had started"
    );
}

/// Arguments, environment variables, and what stderr must say.
type Case<'a> = (Vec<String>, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_flags_paths_and_combinations_are_refused_before_any_cell() {
    let scratch = scratch();
    std::fs::create_dir(scratch.path().join("folder")).unwrap();
    let run = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["run", "--matrix", "toy.toml"];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect()
    };
    let cases: [Case; 9] = [
        (
            run(&["--find-links", "/nonexistent/wheels"]),
            &[],
            "--find-links /nonexistent/wheels: no such folder",
        ),
        (
            run(&[]),
            &[("UV_FIND_LINKS", "/nonexistent/wheels")],
            "UV_FIND_LINKS=/nonexistent/wheels: no such folder",
        ),
        (
            run(&["--output", "folder"]),
            &[],
            "--output folder: a folder; name a file",
        ),
        (
            run(&["--output", "missing/report.json"]),
            &[],
            "--output missing/report.json: no folder missing",
        ),
        (
            run(&[]),
            &[("GITHUB_STEP_SUMMARY", "/nonexistent/summary.md")],
            "GITHUB_STEP_SUMMARY=/nonexistent/summary.md: cannot append",
        ),
        (run(&["--shard", "7/2"]), &[], "--shard K/N splits a plan"),
        (run(&["--jobs", "0"]), &[], "must be at least 1"),
        (run(&["--as-of", "2024-02-30"]), &[], "2024-02-30"),
        (
            [
                "bisect",
                "--matrix",
                "toy.toml",
                "--axis",
                "toyquant",
                "--good",
                "1.0",
                "--bad",
                "1.2",
                "--repo",
                "/nonexistent/repo",
            ]
            .map(String::from)
            .to_vec(),
            &[],
            "--repo /nonexistent/repo: no such folder",
        ),
    ];
    for (args, env, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&scratch, &args, env, expected);
    }
}

#[test]
fn inputs_that_are_folders_are_the_users_to_fix() {
    let scratch = scratch();
    std::fs::create_dir(scratch.path().join("folder")).unwrap();
    let snapshot = "matrix = \"toy\"\n";
    scratch.write("a.snap.toml", snapshot);
    for (args, expected) in [
        (
            vec!["diff", "a.snap.toml", "folder"],
            "folder: a folder, not a snapshot file",
        ),
        (
            vec!["report", "folder"],
            "folder: a folder, not a snapshot file",
        ),
        (
            vec!["merge", "a.snap.toml", "--output", "folder"],
            "--output folder: a folder",
        ),
    ] {
        let output = scratch.command(&args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn run_list_writes_the_file_output_names() {
    let scratch = scratch();
    let output = scratch.qcompat(&[
        "run", "--matrix", "toy.toml", "--list", "--output", "list.txt",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "", "the list goes to the file, not stdout");
    let list = std::fs::read_to_string(scratch.path().join("list.txt")).unwrap();
    assert_eq!(list, "toyquant=1.0\n");
}

/// `qcompat ARGS` with its standard output a pipe whose reader is gone before anything is written.
fn into_closed_pipe(scratch: &Scratch, args: &[&str]) -> std::process::Output {
    // Commands that reach an index get the scratch's cache and the toy wheels.
    let mut command = match args[0] {
        "run" | "bisect" | "plan" => scratch.run_command(args),
        _ => scratch.command(args),
    };
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn every_command_that_prints_ends_quietly_into_a_closed_pipe() {
    let scratch = scratch();
    // A snapshot to report and diff, from a real run.
    let recorded = scratch.qcompat(&[
        "run",
        "--matrix",
        "toy.toml",
        "--update",
        "--snapshot",
        "s.snap.toml",
    ]);
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    let commands: [(&[&str], i32); 9] = [
        (&["probes"], 0),
        (&["run", "--matrix", "toy.toml", "--list"], 0),
        (&["run", "--matrix", "toy.toml"], 0),
        (&["plan", "--matrix", "toy.toml"], 0),
        (&["plan", "--matrix", "toy.toml", "--format", "github"], 0),
        (&["diff", "s.snap.toml", "s.snap.toml"], 0),
        (&["report", "s.snap.toml", "--format", "html"], 0),
        (&["completions", "bash"], 0),
        (
            &[
                "bisect", "--matrix", "toy.toml", "--axis", "toyquant", "--good", "1.0", "--bad",
                "1.2", "--jobs", "1",
            ],
            0,
        ),
    ];
    for (args, code) in commands {
        let output = into_closed_pipe(&scratch, args);
        let err = stderr(&output);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        assert_eq!(output.status.code(), Some(code), "{args:?}: {err}");
    }
}

#[test]
fn a_run_that_tested_nothing_never_exits_0() {
    let scratch = Scratch::new();
    // 1.3 requires toyhelper>=9, which no index has: the matrix asks for what cannot be installed (exit 2).
    scratch.write("conflict.toml", &TOY.replace("[\"1.0\"]", "[\"1.3\"]"));
    let output = scratch.qcompat(&["run", "--matrix", "conflict.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("nothing was tested"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("unresolvable"),
        "the report is still printed"
    );

    // 1.7's wheel is corrupt: the install failed, the machine's or the index's to fix (exit 3).
    scratch.write("corrupt.toml", &TOY.replace("[\"1.0\"]", "[\"1.7\"]"));
    let output = scratch.qcompat(&["run", "--matrix", "corrupt.toml"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("nothing was tested"),
        "{}",
        stderr(&output)
    );

    // One cell that reached a verdict is enough: 1.0 passes beside the unresolvable 1.3.
    scratch.write(
        "mixed.toml",
        &TOY.replace("[\"1.0\"]", "[\"1.0\", \"1.3\"]"),
    );
    let output = scratch.qcompat(&["run", "--matrix", "mixed.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn bisect_holds_an_axis_whose_other_values_only_an_include_brings() {
    let scratch = Scratch::new();
    scratch.write(
        "inc.toml",
        "name = \"inc\"\nprobes = [\"toy-load\"]\ntimeout = \"10s\"\n[axes]\ntoyquant = [\"1.0\", \"1.2\"]\n\
         toyheavy = [\"1.0\"]\n[[include]]\ntoyquant = \"1.6\"\ntoyheavy = \"2.0\"\n",
    );
    let output = scratch.qcompat(&[
        "bisect", "--matrix", "inc.toml", "--axis", "toyquant", "--good", "1.0", "--bad", "1.2",
        "--jobs", "1", "--format", "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["first_bad"], "1.2", "{report}");
    // Two values on the axis's own grid still need a choice.
    scratch.write(
        "two.toml",
        "name = \"two\"\nprobes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\", \"1.2\"]\ntoyheavy = [\"1.0\", \"2.0\"]\n",
    );
    let output = scratch.qcompat(&[
        "bisect", "--matrix", "two.toml", "--axis", "toyquant", "--good", "1.0", "--bad", "1.2",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("hold it with --filter toyheavy=VERSION"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_probe_whose_packages_the_matrix_does_not_install_is_refused_before_it_runs() {
    let scratch = Scratch::new();
    scratch.write(
        "m.toml",
        "name = \"m\"\nprobes = [\"checkpoint-load\"]\n[axes]\ntoyquant = [\"1.0\"]\n",
    );
    let output = scratch.qcompat(&["run", "--matrix", "m.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("probe `checkpoint-load` needs torch, lightning, bitsandbytes, which the environment of toyquant=1.0 does not install"),
        "{err}"
    );
    assert!(
        !stdout(&output).contains("fail"),
        "no verdict is reported: {}",
        stdout(&output)
    );
}
