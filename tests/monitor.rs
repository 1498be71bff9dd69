//! `qcompat monitor` against a local find-links folder that changes between runs (fixtures/toy/README.md lists what
//! each toy release does): the first run records, a new breaking release is found, only its cell runs, the
//! regression is bisected back to the last recorded pass, and `--as-of` before its upload does not see it; `run` and
//! `bisect` as of a date list only what was uploaded by then.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Scratch, stderr, toy_wheels};

const TOY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "3s"

[axes]
toyquant = { versions = ">=1.0", pre = true }
"#;

/// Copies a toy wheel into the index folder, dated `days` after 2024-01-01 (its mtime stands in for the upload time).
fn publish(index: &Path, wheel: &str, days: u64) {
    let target = index.join(wheel);
    std::fs::copy(toy_wheels().join(wheel), &target).unwrap();
    let jan_2024 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    let file = std::fs::File::options().write(true).open(&target).unwrap();
    file.set_modified(jan_2024 + Duration::from_secs(days * 86_400))
        .unwrap();
}

/// `monitor ARGS --format json` over the scratch's index folder only; the report and the exit code.
fn monitor(scratch: &Scratch, args: &[&str]) -> (serde_json::Value, i32) {
    let mut all = vec!["monitor", "--matrix", "toy.toml", "--format", "json"];
    all.extend_from_slice(args);
    qcompat(scratch, &all)
}

/// `qcompat ARGS` (printing JSON) over the scratch's index folder only; the JSON and the exit code.
fn qcompat(scratch: &Scratch, all: &[&str]) -> (serde_json::Value, i32) {
    let output = scratch
        .command(all)
        .arg("--cache-dir")
        .arg(scratch.cache())
        .env("UV_FIND_LINKS", scratch.path().join("index"))
        .env("UV_NO_INDEX", "1")
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    (report, output.status.code().unwrap())
}

#[test]
fn a_new_breaking_release_is_run_alone_bisected_and_fails_the_night() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let index = scratch.path().join("index");
    std::fs::create_dir(&index).unwrap();
    publish(&index, "toyquant-1.0-py3-none-any.whl", 0);
    publish(&index, "toyquant-1.1-py3-none-any.whl", 30);

    // Night 1: no snapshot yet; both releases run and become the baseline.
    let (first, code) = monitor(&scratch, &["--update"]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(
        first["cells_run"],
        serde_json::json!(["toyquant=1.0", "toyquant=1.1"])
    );
    assert!(first["diff"].is_null());
    let recorded = std::fs::read_to_string(scratch.path().join("reports/toy.snap.toml")).unwrap();
    assert!(recorded.contains("\nlisted = \""), "{recorded}");

    // 1.2 (the lazy-loading bug) is uploaded on 2024-06-01: as of March it does not exist yet.
    publish(&index, "toyquant-1.2-py3-none-any.whl", 152);
    let (march, code) = monitor(&scratch, &["--as-of", "2024-03-01"]);
    assert_eq!(code, 0, "{march}");
    assert_eq!(march["listed"], "2024-03-01T00:00:00Z");
    assert_eq!(march["new_versions"], serde_json::json!({"toyquant": []}));
    assert_eq!(march["cells_run"], serde_json::json!([]));

    // Night 2: only 1.2 runs; it fails where 1.0 passed, with 1.1 (needs-cuda) between them.
    let (second, code) = monitor(&scratch, &[]);
    assert_eq!(code, 1, "{second}");
    assert_eq!(
        second["new_versions"],
        serde_json::json!({"toyquant": ["1.2"]})
    );
    assert_eq!(second["cells_run"], serde_json::json!(["toyquant=1.2"]));
    assert_eq!(second["diff"]["summary"]["regressions"], 1);
    let bisection = &second["bisections"][0];
    assert_eq!(bisection["last_good"], "1.0");
    assert_eq!(bisection["first_bad"], "1.2");
    assert_eq!(bisection["skipped"], serde_json::json!(["1.1"]));
    assert_eq!(
        bisection["signature"],
        "AttributeError: '_LazyTensor' object has no attribute 'data'"
    );
    // Every cell the bisection needed had already run tonight or last night.
    assert_eq!(bisection["probe_runs"], 0);

    // What the night's log shows (as of a fixed moment, so the headline is stable).
    let output = scratch
        .command(&["monitor", "--matrix", "toy.toml", "--as-of", "2024-12-31"])
        .arg("--cache-dir")
        .arg(scratch.cache())
        .env("UV_FIND_LINKS", &index)
        .env("UV_NO_INDEX", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    insta::assert_snapshot!("monitor_failing_night", common::stdout(&output));
}

#[test]
fn nothing_new_is_said_plainly() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let index = scratch.path().join("index");
    std::fs::create_dir(&index).unwrap();
    publish(&index, "toyquant-1.0-py3-none-any.whl", 0);
    assert_eq!(monitor(&scratch, &["--update"]).1, 0);
    let output = scratch
        .command(&["monitor", "--matrix", "toy.toml"])
        .arg("--cache-dir")
        .arg(scratch.cache())
        .env("UV_FIND_LINKS", &index)
        .env("UV_NO_INDEX", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with("no new versions of toyquant since the snapshot (listed as of "),
        "{text}"
    );
}

#[test]
fn a_new_failure_a_known_issue_covers_does_not_fail_the_night() {
    let scratch = Scratch::new();
    let known = "\n[[known]]\nid = \"toy-lazy\"\nsignature = \"AttributeError: '_LazyTensor' object has no attribute 'data'\"\nwhen = { toyquant = \">=1.2\" }\n";
    scratch.write("toy.toml", &format!("{TOY}{known}"));
    let index = scratch.path().join("index");
    std::fs::create_dir(&index).unwrap();
    publish(&index, "toyquant-1.0-py3-none-any.whl", 0);
    assert_eq!(monitor(&scratch, &["--update"]).1, 0);
    publish(&index, "toyquant-1.2-py3-none-any.whl", 152);
    let (report, code) = monitor(&scratch, &["--update"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["cells_run"], serde_json::json!(["toyquant=1.2"]));
    assert_eq!(report["diff"]["summary"]["regressions"], 0);
    let recorded = std::fs::read_to_string(scratch.path().join("reports/toy.snap.toml")).unwrap();
    assert!(recorded.contains("known = \"toy-lazy\""), "{recorded}");
}

#[test]
fn run_and_bisect_as_of_a_date_list_only_what_was_uploaded_by_then() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let index = scratch.path().join("index");
    std::fs::create_dir(&index).unwrap();
    publish(&index, "toyquant-1.0-py3-none-any.whl", 0);
    publish(&index, "toyquant-1.1-py3-none-any.whl", 30);
    publish(&index, "toyquant-1.2.1-py3-none-any.whl", 152);
    // A release of the older line uploaded later (a backfill): as of June it did not exist.
    publish(&index, "toyquant-1.2-py3-none-any.whl", 190);

    let (plan, code) = qcompat(
        &scratch,
        &[
            "run",
            "--matrix",
            "toy.toml",
            "--as-of",
            "2024-03-01",
            "--list",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{plan}");
    assert_eq!(plan["axes"]["toyquant"], serde_json::json!(["1.0", "1.1"]));
    assert_eq!(plan["as_of"], "2024-03-01T00:00:00Z");
    assert_eq!(plan["listed"], "2024-03-01T00:00:00Z");

    let (_, code) = qcompat(
        &scratch,
        &[
            "run",
            "--matrix",
            "toy.toml",
            "--as-of",
            "2024-03-01",
            "--update",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0);
    let recorded = std::fs::read_to_string(scratch.path().join("reports/toy.snap.toml")).unwrap();
    assert!(
        recorded.contains("\nlisted = \"2024-03-01T00:00:00Z\"\n"),
        "{recorded}"
    );

    let bisect = |as_of: &[&str]| {
        let mut args = vec![
            "bisect", "--matrix", "toy.toml", "--axis", "toyquant", "--good", "1.0", "--bad",
            "1.2.1", "--format", "json", "--jobs", "1",
        ];
        args.extend_from_slice(as_of);
        let (report, code) = qcompat(&scratch, &args);
        assert_eq!(code, 0, "{report}");
        report
    };
    assert_eq!(bisect(&["--as-of", "2024-06-30"])["first_bad"], "1.2.1");
    assert_eq!(bisect(&[])["first_bad"], "1.2");

    // The report's commands reproduce the same world.
    let markdown = scratch
        .command(&[
            "bisect",
            "--matrix",
            "toy.toml",
            "--axis",
            "toyquant",
            "--good",
            "1.0",
            "--bad",
            "1.2.1",
            "--format",
            "markdown",
            "--as-of",
            "2024-06-30",
        ])
        .arg("--cache-dir")
        .arg(scratch.cache())
        .env("UV_FIND_LINKS", &index)
        .env("UV_NO_INDEX", "1")
        .output()
        .unwrap();
    let text = common::stdout(&markdown);
    assert!(
        text.contains("\nqcompat bisect --matrix toy.toml --axis toyquant --good 1.0 --bad 1.2.1 --probe toy-load --as-of 2024-06-30T00:00:00Z\n"),
        "{text}"
    );
    assert!(
        text.contains(" --exclude-newer 2024-06-30T00:00:00Z toyquant==1.2.1\n"),
        "{text}"
    );
}
