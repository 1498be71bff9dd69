//! Every command a report prints runs as printed. In toy scenarios (offline, toy wheels), the commands the real
//! binary printed are taken from its output and run with bash in the same folder, the way a reader pastes them, with
//! `qcompat` being the binary under test: each side's `uv` lines, the boundary's `qcompat bisect` and the command that
//! found it (`bisect` and `monitor` Markdown), `repro`'s `uv` lines and probe command, and the hints of `run --check`
//! and `repro`. Each must exit as the working command it is: never 2 (bad input or usage).
//!
//! The bisect property draws the matrix file's name (spaces, quotes, `$`), the held axis's value, the window, and
//! the search flags; every case builds real environments, so it runs a handful of cases whatever `PROPTEST_CASES`
//! says.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use common::{Scratch, stderr, stdout, toy_wheels};
use proptest::prelude::*;

/// `line` run by bash in the scratch folder, `qcompat` on PATH being the binary under test, installing from `links`
/// only and caching in `cache`.
fn run_printed(dir: &Path, cache: &Path, links: &Path, line: &str) -> Output {
    let bin = dir.join("bin");
    if !bin.join("qcompat").exists() {
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_qcompat"), bin.join("qcompat")).unwrap();
    }
    Command::new("bash")
        .args(["-c", line])
        .current_dir(dir)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("UV_FIND_LINKS", links)
        .env("UV_NO_INDEX", "1")
        .env("QCOMPAT_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Asserts that `line` exits with `code`.
fn assert_runs(dir: &Path, cache: &Path, links: &Path, line: &str, code: i32) {
    let output = run_printed(dir, cache, links, line);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{line}\n{}{}",
        stdout(&output),
        stderr(&output)
    );
}

/// The lines of every ```sh block of a Markdown report.
fn fenced_commands(markdown: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut inside = false;
    for line in markdown.lines() {
        match line {
            "```sh" => inside = true,
            "```" => inside = false,
            _ if inside => commands.push(line.to_string()),
            _ => {}
        }
    }
    commands
}

const HELD: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "3s"

[axes]
toyquant = ["1.0"]
toyheavy = ["1.0", "2.0"]
"#;

/// `(good, bad)` pairs with a boundary between them (fixtures/toy/README.md): regressions, a fix across a release
/// that hangs, and a fix across releases that crash otherwise.
const WINDOWS: [(&str, &str); 4] = [
    ("1.0", "1.2"),
    ("1.0", "1.2.1"),
    ("1.6", "1.5.8"),
    ("1.5.5", "1.5.1"),
];

/// One cache for every case: the environments of the toy releases are built once.
fn shared_cache() -> &'static Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5, ..ProptestConfig::default() })]

    #[test]
    fn every_command_of_a_bisect_report_runs_as_printed(
        name in "[a-z]{1,5}( |'|\\$|\"|é)?[a-z]{1,5}",
        held in prop::sample::select(vec!["1.0", "2.0"]),
        (good, bad) in prop::sample::select(WINDOWS.to_vec()),
        any_failure in any::<bool>(),
        pre in any::<bool>(),
    ) {
        let scratch = Scratch::new();
        let matrix = format!("{name}.toml");
        scratch.write(&matrix, HELD);
        let filter = format!("toyheavy={held}");
        let mut args = vec![
            "bisect", "--matrix", &matrix, "--axis", "toyquant", "--good", good, "--bad", bad, "--filter", &filter,
            "--format", "markdown",
        ];
        args.extend(any_failure.then_some("--any-failure"));
        args.extend(pre.then_some("--pre"));
        let output = scratch
            .command(&args)
            .arg("--cache-dir")
            .arg(shared_cache())
            .env("UV_FIND_LINKS", toy_wheels())
            .env("UV_NO_INDEX", "1")
            .output()
            .unwrap();
        prop_assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let report = stdout(&output);
        let commands = fenced_commands(&report);
        for line in &commands {
            assert_runs(scratch.path(), shared_cache(), toy_wheels(), line, 0);
        }
        // Two `uv` lines per side, the boundary's bisect, the command that found it.
        prop_assert_eq!(commands.len(), 6, "{}", report);
    }
}

/// Copies a toy wheel into the index folder, dated `days` after 2024-01-01 (its mtime stands in for the upload time).
fn publish(index: &Path, wheel: &str, days: u64) {
    let target = index.join(wheel);
    std::fs::copy(toy_wheels().join(wheel), &target).unwrap();
    let jan_2024 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    let file = std::fs::File::options().write(true).open(&target).unwrap();
    file.set_modified(jan_2024 + Duration::from_secs(days * 86_400))
        .unwrap();
}

#[test]
fn every_command_of_a_monitor_report_runs_as_printed() {
    let scratch = Scratch::new();
    scratch.write(
        "toy.toml",
        "name = \"toy\"\nprobes = [\"toy-load\"]\ntimeout = \"3s\"\n\n[axes]\ntoyquant = { versions = \">=1.0\", pre = true }\n",
    );
    let index = scratch.path().join("index");
    std::fs::create_dir(&index).unwrap();
    publish(&index, "toyquant-1.0-py3-none-any.whl", 0);
    publish(&index, "toyquant-1.1-py3-none-any.whl", 30);
    let monitor = |args: &[&str]| {
        scratch
            .command(&[&["monitor", "--matrix", "toy.toml"], args].concat())
            .arg("--cache-dir")
            .arg(scratch.cache())
            .env("UV_FIND_LINKS", &index)
            .env("UV_NO_INDEX", "1")
            .output()
            .unwrap()
    };
    assert_eq!(monitor(&["--update"]).status.code(), Some(0));
    publish(&index, "toyquant-1.2-py3-none-any.whl", 152);
    let output = monitor(&["--format", "markdown"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = stdout(&output);
    let commands = fenced_commands(&report);
    let (found_with, commands) = commands.split_last().unwrap();
    for line in commands {
        assert_runs(scratch.path(), &scratch.cache(), &index, line, 0);
    }
    // The monitor itself, again: 1.2 is still new (nothing was recorded) and still a regression.
    assert_runs(scratch.path(), &scratch.cache(), &index, found_with, 1);
    assert_eq!(commands.len(), 5, "{report}");
}

const TOY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "3s"

[axes]
toyquant = ["1.0", "1.2"]
"#;

#[test]
fn repro_prints_uv_lines_and_a_probe_command_that_run() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let output = scratch.qcompat(&["repro", "--matrix", "toy.toml", "--cell", "toyquant=1.2"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let printed = stdout(&output);
    let after = |heading: &str, count: usize| -> Vec<String> {
        printed
            .lines()
            .skip_while(|l| !l.starts_with(heading))
            .skip(1)
            .take(count)
            .map(String::from)
            .collect()
    };
    let mut commands = after("# the environment", 2);
    commands.extend(after("# the probes", 1));
    assert!(commands[0].contains(" venv "), "{printed}");
    assert!(commands[1].contains(" pip install "), "{printed}");
    for line in &commands {
        assert_runs(scratch.path(), &scratch.cache(), toy_wheels(), line, 0);
    }

    // A cell the matrix does not have is refused with the command that lists the cells.
    let output = scratch.qcompat(&["repro", "--matrix", "toy.toml", "--cell", "toyquant=9"]);
    assert_eq!(output.status.code(), Some(2));
    let hint = stderr(&output);
    let listed = hint.split('`').find(|s| s.starts_with("qcompat run"));
    let listed = listed.unwrap_or_else(|| panic!("{hint}"));
    assert_runs(scratch.path(), &scratch.cache(), toy_wheels(), listed, 0);
}

#[test]
fn the_hints_of_a_check_mismatch_run_as_printed() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", &TOY.replace("[\"1.0\", \"1.2\"]", "[\"1.0\"]"));
    assert_eq!(
        scratch
            .qcompat(&["run", "--matrix", "toy.toml", "--update"])
            .status
            .code(),
        Some(0)
    );
    scratch.write("toy.toml", TOY);
    let check = scratch.qcompat(&["run", "--matrix", "toy.toml", "--check"]);
    assert_eq!(check.status.code(), Some(1));
    let hints = stderr(&check);
    let hint = |label: &str| -> String {
        let line = hints.lines().find_map(|l| l.trim().strip_prefix(label));
        let line = line.unwrap_or_else(|| panic!("no `{label}` in:\n{hints}"));
        line.split("   (").next().unwrap().to_string()
    };
    let cache = scratch.cache();
    // The new cell 1.2 fails: the diff shows a regression (exit 1); accepting makes the check pass.
    assert_runs(scratch.path(), &cache, toy_wheels(), &hint("review: "), 1);
    assert_runs(scratch.path(), &cache, toy_wheels(), &hint("accept: "), 0);
    let again = scratch.qcompat(&["run", "--matrix", "toy.toml", "--check"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}
