//! Hostile or broken input is refused with `file:line:column`, and nothing a probe or a matrix says can escape the
//! cache or break a record: matrix names and package names that would become paths or options, an artifact the
//! reference cannot read, ANSI escapes in a probe's message.

mod common;

use common::{Scratch, stderr};

fn refused(matrix: &str) -> String {
    let scratch = Scratch::new();
    scratch.write("m.toml", matrix);
    let output = scratch
        .command(&["run", "--matrix", "m.toml", "--list"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "accepted:\n{matrix}\n{}",
        stderr(&output)
    );
    stderr(&output)
}

const BODY: &str = "probes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\"]\n";

#[test]
fn matrix_names_that_would_leave_the_cache_are_refused_with_their_position() {
    for name in [
        "../../outside",
        "/tmp/abs",
        "a/b",
        "..",
        ".hidden",
        "nul\\u0000byte",
        "",
    ] {
        let text = refused(&format!("name = \"{name}\"\n{BODY}"));
        assert!(text.contains("m.toml:1:"), "{name}: {text}");
        assert!(text.contains("must be a plain file name"), "{name}: {text}");
    }
}

#[test]
fn package_names_that_are_not_names_are_refused_with_their_position() {
    for (section, line) in [
        ("[axes]\n\"../x\" = [\"1.0\"]\n", 4),
        ("[axes]\n\"--index-url=http://evil\" = [\"1.0\"]\n", 4),
        (
            "[axes]\ntoyquant = [\"1.0\"]\n[pins]\n\"-e/etc\" = \"1\"\n",
            6,
        ),
        (
            "[axes]\ntoyquant = [\"1.0\"]\n[[known]]\nid = \"k\"\nsignature = \"s\"\nwhen = { \"a b\" = \">1\" }\n",
            8,
        ),
    ] {
        let text = refused(&format!("name = \"m\"\nprobes = [\"toy-load\"]\n{section}"));
        assert!(text.contains(&format!("m.toml:{line}:")), "{text}");
        assert!(text.contains("is not a package name"), "{text}");
    }
}

#[test]
fn an_unreadable_artifact_check_round_trips_through_json_without_a_cache_path() {
    let checkpoint =
        qcompat_engine::oracle::fixture_checkpoint(&common::repo().join("fixtures/checkpoints"))
            .unwrap();
    let artifacts = tempfile::tempdir().unwrap();
    let checks = qcompat_engine::oracle::compare(
        qcompat_engine::oracle::Oracle::CheckpointLoad,
        &checkpoint,
        artifacts.path(),
        &serde_json::json!({}),
    );
    let failed: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
    assert!(
        !failed.is_empty(),
        "a pass without artifacts must not stay unchecked"
    );
    let root = artifacts.path().to_string_lossy().into_owned();
    for check in failed {
        assert!(!check.name.contains(&root), "{}", check.name);
        let json = serde_json::to_string(check).unwrap();
        let back: qcompat_engine::oracle::NumericCheck = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("a journal line must parse back ({e}): {json}"));
        assert_eq!(&back, check);
    }
}

#[test]
fn ansi_escapes_in_a_probe_message_leave_junit_valid_xml() {
    let scratch = Scratch::new();
    scratch.write(
        "toy.toml",
        "name = \"toy\"\nprobes = [\"toy-load\"]\ntimeout = \"60s\"\n[axes]\ntoyquant = [\"1.5.8\"]\n",
    );
    let output = scratch.qcompat(&[
        "run",
        "--matrix",
        "toy.toml",
        "--format",
        "junit",
        "--output",
        "junit.xml",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let junit = scratch.path().join("junit.xml");
    let parsed = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])",
        ])
        .arg(&junit)
        .output()
        .unwrap();
    assert!(parsed.status.success(), "invalid XML: {}", stderr(&parsed));
    let text = std::fs::read_to_string(&junit).unwrap();
    assert!(
        text.contains("RuntimeError: kernel failed at step 3"),
        "{text}"
    );
}
