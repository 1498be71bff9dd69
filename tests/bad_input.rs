//! Bad input: each case gets one clear line naming file:line:column, the contract's exit code, and leaves nothing
//! half-written behind.

mod common;

use common::{Scratch, stderr};

const GOOD_HEAD: &str = "probes = [\"toy-load\"]\n";

/// Runs `qcompat run` on `matrix` (written as `name`) and returns (exit code, stderr).
fn run(name: &str, matrix: &str) -> (Option<i32>, String) {
    let scratch = Scratch::new();
    scratch.write(name, matrix);
    let output = scratch.qcompat(&["run", "--matrix", name, "--output", "report.json"]);
    assert!(
        !scratch.path().join("report.json").exists(),
        "no report is written on bad input"
    );
    (output.status.code(), stderr(&output))
}

#[test]
fn matrix_errors_are_located_and_exit_2() {
    let cases = [
        ("malformed.toml", "probes = [\"toy-load\"\n[axes]\n"),
        ("unknown-key.toml", "probes = [\"toy-load\"]\naxs = {}\n"),
        (
            "empty-axis.toml",
            "probes = [\"toy-load\"]\n[axes]\ntoyquant = []\n",
        ),
        (
            "bad-version.toml",
            "probes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\", \"1.x\"]\n",
        ),
        (
            "bad-specifier.toml",
            "probes = [\"toy-load\"]\n[axes]\ntoyquant = { versions = \">=>1\" }\n",
        ),
        (
            "unknown-probe.toml",
            "probes = [\"toy-lod\"]\n[axes]\ntoyquant = [\"1.0\"]\n",
        ),
        (
            "include-axis.toml",
            "probes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\"]\n[[include]]\ntoyqant = \"1.1\"\n",
        ),
        (
            "bad-pin.toml",
            "probes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\"]\n[pins]\nnumpy = \"<<2\"\n",
        ),
        (
            "unknown-key.yaml",
            "probes: [toy-load]\naxes:\n  toyquant: [\"1.0\"]\nexlude: []\n",
        ),
        ("malformed.yaml", "probes: [toy-load\naxes: {}\n"),
        ("matrix.json", "{}"),
    ];
    let mut report = String::new();
    for (name, text) in cases {
        let (code, stderr) = run(name, text);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        report.push_str(&stderr);
    }
    insta::assert_snapshot!(report);
}

#[test]
fn missing_interpreter_and_unwritable_cache_exit_3() {
    let (code, stderr) = run(
        "old-python.toml",
        &format!("{GOOD_HEAD}python = \"2.5\"\n[axes]\ntoyquant = [\"1.0\"]\n"),
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("python 2.5 is not installed"), "{stderr}");

    let scratch = Scratch::new();
    scratch.write(
        "m.toml",
        &format!("{GOOD_HEAD}[axes]\ntoyquant = [\"1.0\"]\n"),
    );
    // A file where the cache folder should be: unusable for root too, unlike a read-only folder.
    std::fs::write(scratch.cache(), "not a folder").unwrap();
    let output = scratch.qcompat(&["run", "--matrix", "m.toml"]);
    assert_eq!(output.status.code(), Some(3), "{}", common::stderr(&output));
    assert!(
        common::stderr(&output).contains("is not writable"),
        "{}",
        common::stderr(&output)
    );
}

#[test]
fn bad_flags_exit_2() {
    let scratch = Scratch::new();
    scratch.write(
        "m.toml",
        &format!("{GOOD_HEAD}[axes]\ntoyquant = [\"1.0\"]\n"),
    );
    for (args, expected) in [
        (
            &["--filter", "toyqant=1.0"][..],
            "unknown axis `toyqant` (did you mean `toyquant`?)",
        ),
        (&["--filter", "toyquant"][..], "expected AXIS=VERSION"),
        (
            &["--probe", "checkpoint-load"][..],
            "the matrix does not run this probe",
        ),
        (
            &["--filter", "toyquant=9.9"][..],
            "no cell matches the filters",
        ),
    ] {
        let mut all = vec!["run", "--matrix", "m.toml"];
        all.extend_from_slice(args);
        let output = scratch.qcompat(&all);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let missing = scratch.qcompat(&["run", "--matrix", "nowhere.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("nowhere.toml: no such matrix file"));
}
