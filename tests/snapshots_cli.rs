//! Snapshots, `run --check`/`--update`, `diff` and `report`, through the real binary on the toy matrix (offline).

mod common;

use common::{Scratch, repo, stderr, stdout};

/// Four toyquant releases: pass, needs-cuda, a known failure (xfail) and a known issue fixed upstream (xpass).
const TOY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "3s"

[axes]
toyquant = ["1.0", "1.1", "1.2", "1.6"]

[[known]]
id = "toy-lazy-data"
signature = "AttributeError: '_LazyTensor' object has no attribute 'data'"
when = { toyquant = ">=1.2,<1.3" }

[[known]]
id = "toy-fixed-upstream"
signature = "AttributeError: '_LazyTensor' object has no attribute 'data'"
when = { toyquant = "==1.6" }
"#;

/// TOY as a pull request might change it: 1.6 excluded, a new pin that adds a package to every cell, 1.1 dropped,
/// 1.5 added, and the known issue behind 1.2's xfail deleted.
const CHANGED: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "3s"

[axes]
toyquant = ["1.0", "1.2", "1.6", "1.5"]

[pins]
toyhelper = "1.0"

[[exclude]]
toyquant = "1.6"

[[known]]
id = "toy-fixed-upstream"
signature = "AttributeError: '_LazyTensor' object has no attribute 'data'"
when = { toyquant = "==1.6" }
"#;

const SNAPSHOT: &str = "reports/toy.snap.toml";
const PENDING: &str = "reports/toy.snap.toml.new";

fn grid_fixture() -> std::path::PathBuf {
    repo().join("tests/fixtures/grid.snap.toml")
}

fn read(scratch: &Scratch, path: &str) -> String {
    std::fs::read_to_string(scratch.path().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `run --matrix toy.toml ARGS`, asserting its exit code; returns stdout and stderr without the progress lines
/// (their order and timings vary).
fn run(scratch: &Scratch, args: &[&str], code: i32) -> (String, String) {
    let mut all = vec!["run", "--matrix", "toy.toml", "--jobs", "4"];
    all.extend_from_slice(args);
    let output = scratch.qcompat(&all);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {err}");
    let quiet: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with('[') || !l.contains('/'))
        .collect();
    (stdout(&output), quiet.join("\n"))
}

/// `qcompat ARGS` for the commands that build nothing, asserting the exit code.
fn tool(scratch: &Scratch, args: &[&str], code: i32) -> String {
    let output = scratch.command(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}: {}",
        stderr(&output)
    );
    stdout(&output)
}

#[test]
fn update_writes_a_deterministic_snapshot_that_check_accepts() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let (_, err) = run(&scratch, &["--update"], 0);
    assert!(
        err.contains("updated reports/toy.snap.toml: 4 cells, 4 from this run"),
        "{err}"
    );
    let first = read(&scratch, SNAPSHOT);
    insta::assert_snapshot!("toy_snapshot_file", first);

    run(&scratch, &["--update"], 0);
    assert_eq!(
        read(&scratch, SNAPSHOT),
        first,
        "the same results give a byte-identical file"
    );

    let (_, err) = run(&scratch, &["--check"], 0);
    assert!(
        err.contains("the 4 cells that ran are as recorded"),
        "{err}"
    );
    assert!(!scratch.path().join(PENDING).exists());
}

#[test]
fn partial_runs_check_and_update_only_their_cells() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    run(&scratch, &["--update"], 0);
    let recorded = read(&scratch, SNAPSHOT);

    // A hand edit in 1.1's cell: checks of other cells do not see it, a check of 1.1 does.
    let edited = recorded.replacen("outcome = \"needs-cuda\"", "outcome = \"pass\"", 1);
    assert_ne!(edited, recorded);
    scratch.write(SNAPSHOT, &edited);
    run(&scratch, &["--check", "--filter", "toyquant=1.0"], 0);
    let (_, err) = run(&scratch, &["--check", "--filter", "toyquant=1.1"], 1);
    assert!(
        err.contains("toyquant=1.1  toy-load  pass  needs-cuda"),
        "{err}"
    );
    assert_eq!(
        read(&scratch, PENDING),
        recorded,
        "the .new file is the snapshot as this run would leave it"
    );

    // Updating 1.1 alone restores it, keeps the other cells, and retires the stale .new.
    run(&scratch, &["--update", "--filter", "toyquant=1.1"], 0);
    assert_eq!(read(&scratch, SNAPSHOT), recorded);
    assert!(!scratch.path().join(PENDING).exists());
}

#[test]
fn a_changed_pin_fails_the_check_and_diffs_readably() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    run(&scratch, &["--update"], 0);

    scratch.write("toy.toml", CHANGED);
    let (_, err) = run(&scratch, &["--check"], 1);
    insta::assert_snapshot!("check_mismatch", err);
    assert!(scratch.path().join(PENDING).exists());

    let markdown = tool(
        &scratch,
        &["diff", SNAPSHOT, PENDING, "--format", "markdown"],
        1,
    );
    insta::assert_snapshot!("diff_markdown", markdown);
    let table = tool(&scratch, &["diff", SNAPSHOT, PENDING], 1);
    insta::assert_snapshot!("diff_table", table);
    let json = tool(
        &scratch,
        &["diff", SNAPSHOT, PENDING, "--format", "json"],
        1,
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    insta::assert_json_snapshot!("diff_json", json);

    // Accepting the change the insta way makes the check pass.
    std::fs::rename(scratch.path().join(PENDING), scratch.path().join(SNAPSHOT)).unwrap();
    run(&scratch, &["--check"], 0);
}

#[test]
fn diffing_a_snapshot_with_itself_is_empty_and_a_fix_is_not_a_regression() {
    let scratch = Scratch::new();
    let grid = grid_fixture();
    let grid = grid.to_str().unwrap();
    let same = tool(&scratch, &["diff", grid, grid], 0);
    assert_eq!(same, "no changes: 22 cells as in the old snapshot\n");
    let same = tool(&scratch, &["diff", grid, grid, "--format", "markdown"], 0);
    assert!(
        same.ends_with("No changes: 22 cells as in the old snapshot.\n"),
        "{same}"
    );

    // The fixture's one `fail` now passes, and numpy moved under one key.
    let text = std::fs::read_to_string(grid).unwrap();
    let failing = "outcome = \"fail\"\nsignature = \"TypeError: _Linear4bit.quantize() got an unexpected keyword \
                   argument 'quant_storage'\"\nframe = \"lightning/fabric/plugins/precision/bitsandbytes.py:quantize\"";
    assert!(text.contains(failing));
    let fixed = text.replacen(failing, "outcome = \"pass\"", 1).replacen(
        "numpy = \"1.26.4\"",
        "numpy = \"2.0.1\"",
        1,
    );
    scratch.write("fixed.snap.toml", &fixed);
    let markdown = tool(
        &scratch,
        &["diff", grid, "fixed.snap.toml", "--format", "markdown"],
        0,
    );
    insta::assert_snapshot!("diff_markdown_fix", markdown);
}

#[test]
fn bad_snapshots_are_located_and_exit_2() {
    let scratch = Scratch::new();
    let cell = "[[cell]]\nkey = { toyquant = \"1.0\" }\n";
    let probe = "[[cell.probe]]\nname = \"toy-load\"\n";
    let cases = [
        (
            "syntax.snap.toml",
            "matrix = \"toy\"\n[[cell]\nkey = {}\n".to_string(),
        ),
        (
            "outcome.snap.toml",
            format!("matrix = \"toy\"\n{cell}{probe}outcome = \"passed\"\n"),
        ),
        (
            "duplicate.snap.toml",
            format!("matrix = \"toy\"\n{cell}{probe}outcome = \"pass\"\n{cell}"),
        ),
        (
            "field.snap.toml",
            format!("matrix = \"toy\"\n{cell}{probe}outcome = \"pass\"\nduration_s = 1.5\n"),
        ),
        (
            "probe.snap.toml",
            format!(
                "matrix = \"toy\"\n{cell}[[cell.probe]]\nname = \"toy-lod\"\noutcome = \"pass\"\n"
            ),
        ),
        ("nomatrix.snap.toml", cell.to_string()),
    ];
    let mut messages = String::new();
    for (name, text) in &cases {
        scratch.write(name, text);
        for command in [&["report", name][..], &["diff", name, name][..]] {
            let output = scratch.command(command).output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command:?}: {}",
                stderr(&output)
            );
            assert_eq!(
                stderr(&output).lines().count(),
                1,
                "{command:?}: one line: {}",
                stderr(&output)
            );
            if command[0] == "report" {
                messages.push_str(&stderr(&output));
            }
        }
    }
    let missing = scratch
        .command(&["report", "nowhere.snap.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    messages.push_str(&stderr(&missing));
    insta::assert_snapshot!("bad_snapshots", messages);
}

#[test]
fn a_snapshot_of_another_matrix_is_refused_before_anything_runs() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let grid = grid_fixture();
    let grid = grid.to_str().unwrap();
    let (_, err) = run(&scratch, &["--check", "--snapshot", grid], 2);
    assert!(err.ends_with("a snapshot of matrix `lightning`, not of `toy`: pass --snapshot FILE to use this matrix's own"), "{err}");
    assert!(
        !scratch.cache().exists(),
        "refused before the cache or any environment was touched"
    );

    std::fs::create_dir_all(scratch.path().join("reports")).unwrap();
    scratch.write(
        "reports/toy.snap.toml",
        "matrix = \"toy\"\n[[cell]]\nkey = 1\n",
    );
    let (_, err) = run(&scratch, &["--update"], 2);
    assert!(
        err.starts_with("error: reports/toy.snap.toml:3:7: "),
        "{err}"
    );

    scratch.write("toy.snap.toml", "matrix = \"toy\"\n");
    let output = scratch
        .command(&["diff", grid, "toy.snap.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("the snapshots are of different matrices (`lightning` and `toy`)"),
        "{}",
        stderr(&output)
    );

    let output = scratch
        .run_command(&["run", "--matrix", "toy.toml", "--snapshot", "x.snap.toml"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "--snapshot needs --check or --update"
    );
}

#[test]
fn run_reports_markdown_and_junit_and_fills_the_job_summary() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let (markdown, _) = run(&scratch, &["--format", "markdown"], 0);
    insta::assert_snapshot!("run_markdown", scratch.scrub(&markdown));

    let summary = scratch.path().join("summary.md");
    let output = scratch
        .run_command(&[
            "run",
            "--matrix",
            "toy.toml",
            "--format",
            "junit",
            "--output",
            "junit.xml",
        ])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        format!("{markdown}\n"),
        "the summary is the Markdown report"
    );
    let junit = read(&scratch, "junit.xml");
    insta::with_settings!({filters => vec![(r#" time="[0-9.]+""#, r#" time="[t]""#)]}, {
        insta::assert_snapshot!("run_junit", junit);
    });
}

#[test]
fn report_renders_a_snapshot_in_every_format() {
    let scratch = Scratch::new();
    let grid = grid_fixture();
    let grid = grid.to_str().unwrap();
    insta::assert_snapshot!("report_table", tool(&scratch, &["report", grid], 0));
    insta::assert_snapshot!(
        "report_markdown",
        tool(&scratch, &["report", grid, "--format", "markdown"], 0)
    );
    insta::assert_snapshot!(
        "report_junit",
        tool(&scratch, &["report", grid, "--format", "junit"], 0)
    );
    let json: serde_json::Value =
        serde_json::from_str(&tool(&scratch, &["report", grid, "--format", "json"], 0)).unwrap();
    assert_eq!(json["summary"]["xfail"], 11);

    tool(
        &scratch,
        &["report", grid, "--format", "html", "--output", "grid.html"],
        0,
    );
    let html = read(&scratch, "grid.html");
    assert_self_contained(&html);
    assert_eq!(
        html.matches("<button type=\"button\" class=\"chip ")
            .count(),
        44,
        "one chip per cell × probe"
    );
    assert_eq!(
        html.matches("<section class=\"grid-section\"").count(),
        2,
        "one section per torch version"
    );
    assert!(
        html.contains("<td class=\"empty\""),
        "the excluded combination is an empty grid cell"
    );
    assert!(html.contains("<section id=\"fixed-upstream\">"));
}

/// No network assets: no external script, style, image or font, so the page renders offline and from an artifact.
fn assert_self_contained(html: &str) {
    for needle in ["<link", " src=", "@import", "url(", "http://", "https://"] {
        assert!(!html.contains(needle), "the page references `{needle}`");
    }
}

/// A partial `--probe` run that added a cell leaves cells with different probe lists: each outcome stays under its
/// own probe's column, in every format.
#[test]
fn report_columns_follow_probe_names_when_cells_ran_different_probes() {
    let scratch = Scratch::new();
    scratch.write(
        "partial.snap.toml",
        r#"matrix = "toy"

[[cell]]
key = { lightning = "2.4.0" }

[[cell.probe]]
name = "checkpoint-load"
outcome = "pass"

[[cell.probe]]
name = "qlora-train"
outcome = "pass"

[[cell]]
key = { lightning = "2.3.0" }

[[cell.probe]]
name = "qlora-train"
outcome = "fail"
signature = "AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'"
"#,
    );
    insta::assert_snapshot!(
        "report_partial_table",
        tool(&scratch, &["report", "partial.snap.toml"], 0)
    );
    insta::assert_snapshot!(
        "report_partial_markdown",
        tool(
            &scratch,
            &["report", "partial.snap.toml", "--format", "markdown"],
            0
        )
    );
}

/// In the bitsandbytes matrix torch 2.4.1 comes only with bitsandbytes 0.50.2 (one `[[include]]` cell): the headline
/// says the two moved together instead of crediting either, in words and in the JSON report.
#[test]
fn the_headline_credits_no_axis_that_only_moved_with_another() {
    let scratch = Scratch::new();
    let snapshot = repo().join("reports/bitsandbytes.snap.toml");
    let snapshot = snapshot.to_str().unwrap();
    let table = tool(&scratch, &["report", snapshot], 0);
    let headline: Vec<&str> = table
        .lines()
        .skip_while(|l| *l != "along each axis:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(
        headline,
        [
            "    bitsandbytes: no verdict up to 0.45.5, fails in some cells from 0.46.0 (known bnb-cpu-odd-element-count, \
             bnb-cpu-half-codes); 0.50.2 passes, but only ever with torch 2.4.1 (confounded: either may be why)",
            "    torch: fails in some cells at 2.3.0 (known bnb-cpu-odd-element-count, bnb-cpu-half-codes); 2.4.1 \
             passes, but only ever with bitsandbytes 0.50.2 (confounded: either may be why)",
        ]
    );

    let json: serde_json::Value = serde_json::from_str(&tool(
        &scratch,
        &["report", snapshot, "--format", "json"],
        0,
    ))
    .unwrap();
    let torch = &json["headline"][1];
    assert_eq!(torch["axis"], "torch");
    assert_eq!(torch["text"], headline[1].trim_start());
    assert_eq!(
        torch["segments"],
        serde_json::json!([{"verdict": "mixed", "from": "2.3.0", "to": "2.3.0",
                            "known": ["bnb-cpu-odd-element-count", "bnb-cpu-half-codes"]}])
    );
    assert_eq!(
        torch["confounded"],
        serde_json::json!([{"version": "2.4.1", "verdict": "pass", "known": [],
                            "with": {"bitsandbytes": "0.50.2"}}])
    );
    assert_eq!(json["quantization_contrast"], serde_json::json!([]));
}

/// `run --format json` carries the quantization contrast the other formats print (toy-load fails where the
/// unquantized toy-plain passes).
#[test]
fn the_json_report_carries_the_quantization_contrast() {
    let scratch = Scratch::new();
    scratch.write(
        "toy.toml",
        r#"
name = "toy"
probes = ["toy-load", "toy-plain"]
timeout = "3s"

[axes]
toyquant = ["1.0", "1.2"]
"#,
    );
    let (text, _) = run(&scratch, &["--format", "json"], 1);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["quantization_contrast"],
        serde_json::json!([{"cell": {"toyquant": "1.2"}, "failing": ["toy-load"],
                            "controls": ["toy-plain"]}])
    );
    assert_eq!(
        json["headline"][0]["text"],
        "toyquant: passes up to 1.0, fails in some cells from 1.2"
    );
    assert_eq!(json["summary"]["fail"], 1, "the report's own fields stay");
}

/// An outcome wider than its column (`install-error [2]`) widens the column, so the next column stays in line; a
/// crash's signature names its outcome once.
#[test]
fn a_wide_outcome_widens_its_column() {
    let scratch = Scratch::new();
    scratch.write(
        "wide.snap.toml",
        r#"matrix = "toy"

[[cell]]
key = { lightning = "2.2.5" }

[[cell.probe]]
name = "checkpoint-load"
outcome = "crash"
signature = "crash: SIGSEGV"

[[cell.probe]]
name = "qlora-train"
outcome = "pass"

[[cell]]
key = { lightning = "2.3.0" }

[[cell.probe]]
name = "checkpoint-load"
outcome = "install-error"
signature = "Failed to download `torch==2.2.2`"

[[cell.probe]]
name = "qlora-train"
outcome = "timeout"
signature = "timeout after 10m"
"#,
    );
    insta::assert_snapshot!(
        "report_wide_outcomes",
        tool(&scratch, &["report", "wide.snap.toml"], 0)
    );
}
