//! A newcomer's first hour (issue 14): wrong answers the tool used to give, and the places a new user got stuck.
//! Every case runs the real binary on the toy packages, offline.

mod common;

use common::{Scratch, stderr, stdout};

const ONE_CELL: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "20s"

[axes]
toyquant = ["1.0"]
"#;

/// An `--offline` run whose uv cache never saw the packages: no find-links, a fresh uv cache.
fn offline_cold(scratch: &Scratch, args: &[&str]) -> std::process::Output {
    let mut command = scratch.command(args);
    command
        .arg("--cache-dir")
        .arg(scratch.cache())
        .arg("--offline")
        .env("UV_CACHE_DIR", scratch.path().join("uv-cache"))
        .env_remove("UV_FIND_LINKS")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("UV_NO_INDEX");
    command.output().expect("qcompat runs")
}

#[test]
fn an_offline_cache_miss_is_an_infrastructure_error_never_a_finding() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", ONE_CELL);
    let recorded = scratch.qcompat(&["run", "--matrix", "toy.toml", "--update"]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let snapshot = scratch.path().join("reports/toy.snap.toml");
    let before = std::fs::read_to_string(&snapshot).unwrap();

    let output = offline_cold(&scratch, &["run", "--matrix", "toy.toml", "--check"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    insta::assert_snapshot!("offline_cache_miss", stderr(&output));
    assert!(
        !scratch.path().join("reports/toy.snap.toml.new").exists(),
        "a cache miss is never offered for acceptance"
    );
    let output = offline_cold(&scratch, &["run", "--matrix", "toy.toml", "--update"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&snapshot).unwrap(), before);
}

#[test]
fn explicit_versions_must_be_published_and_written_once() {
    let scratch = Scratch::new();
    let mut messages = String::new();
    for (name, axis) in [
        ("phantom.toml", r#"toyquant = ["1.0", "9.9.9"]"#),
        ("between.toml", r#"toyquant = ["1.2.5"]"#),
        (
            "twice.toml",
            "toyquant = [\n  \"1.0\",\n  \"1.1\",\n  \"1.0.0\",\n]",
        ),
    ] {
        scratch.write(name, &format!("probes = [\"toy-load\"]\n[axes]\n{axis}\n"));
        let output = scratch.qcompat(&["run", "--matrix", name]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        assert!(stdout(&output).is_empty());
        messages.push_str(&stderr(&output));
    }
    insta::assert_snapshot!("unpublished_versions", messages);
}
