//! `plan --shards`, `run --plan --shard`, `merge` on the toy releases (fixtures/toy/README.md), offline: the merged
//! parts are byte for byte the snapshot of one whole run, CUDA cells go to the GPU label, and every refusal.

mod common;

use common::{Scratch, stderr, stdout};

const TOY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "3s"

[axes]
toyquant = ["1.0", "1.1", "1.2", "1.6", "1.8.dev1"]
"#;

fn ok(output: std::process::Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

fn refused(output: std::process::Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    stderr(&output)
}

/// Plans the toy matrix in 2 shards and runs both into `p1.snap.toml`, `p2.snap.toml`.
fn sharded_run(scratch: &Scratch) {
    let github = ok(scratch.qcompat(&[
        "plan",
        "--matrix",
        "toy.toml",
        "--shards",
        "2",
        "--format",
        "github",
        "--output",
        "plan.json",
    ]));
    let github: serde_json::Value = serde_json::from_str(&github).unwrap();
    assert_eq!(
        github,
        serde_json::json!({"include": [
            {"shard": "1/2", "runs-on": "ubuntu-latest", "cells": 3},
            {"shard": "2/2", "runs-on": "ubuntu-latest", "cells": 2},
        ]})
    );
    for k in ["1", "2"] {
        let shard = format!("{k}/2");
        let part = format!("p{k}.snap.toml");
        let output = scratch.qcompat(&[
            "run",
            "--plan",
            "plan.json",
            "--shard",
            &shard,
            "--part",
            &part,
            "--format",
            "json",
        ]);
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["cells"].as_array().unwrap().len(),
            if k == "1" { 3 } else { 2 }
        );
    }
}

#[test]
fn merged_shards_are_byte_identical_to_one_whole_run() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    sharded_run(&scratch);
    let p1 = std::fs::read_to_string(scratch.path().join("p1.snap.toml")).unwrap();
    assert!(
        p1.contains("\nshard = \"1/2\"\npositions = [0, 2, 4]\n"),
        "{p1}"
    );

    ok(scratch
        .command(&[
            "merge",
            "p2.snap.toml",
            "p1.snap.toml",
            "--output",
            "merged.snap.toml",
        ])
        .output()
        .unwrap());
    let whole = scratch.qcompat(&[
        "run",
        "--matrix",
        "toy.toml",
        "--update",
        "--snapshot",
        "whole.snap.toml",
    ]);
    assert_eq!(
        whole.status.code(),
        Some(1),
        "1.2 fails: {}",
        stderr(&whole)
    );
    let read = |name: &str| std::fs::read_to_string(scratch.path().join(name)).unwrap();
    assert_eq!(read("merged.snap.toml"), read("whole.snap.toml"));
    assert!(!read("whole.snap.toml").contains("plan ="));

    // The whole run's needs-cuda cell (1.1) gets a GPU shard of its own when a GPU label is given.
    let github = ok(scratch.qcompat(&[
        "plan",
        "--matrix",
        "toy.toml",
        "--shards",
        "2",
        "--gpu-label",
        "gpu",
        "--snapshot",
        "whole.snap.toml",
        "--format",
        "github",
    ]));
    let github: serde_json::Value = serde_json::from_str(&github).unwrap();
    assert_eq!(
        github["include"][1],
        serde_json::json!({"shard": "2/2", "runs-on": "gpu", "cells": 1})
    );
    assert_eq!(github["include"][0]["cells"], 4);
}

#[test]
fn merge_refuses_missing_repeated_foreign_and_overlapping_parts() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    sharded_run(&scratch);
    let merge = |parts: &[&str]| {
        let mut args = vec!["merge"];
        args.extend_from_slice(parts);
        args.extend_from_slice(&["--output", "merged.snap.toml"]);
        refused(scratch.command(&args).output().unwrap())
    };
    let p1 = std::fs::read_to_string(scratch.path().join("p1.snap.toml")).unwrap();
    let hash = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(scratch.path().join("plan.json")).unwrap(),
    )
    .unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_string();

    assert!(merge(&["p1.snap.toml"]).contains(&format!("plan {hash}: missing shards 2/2")));
    assert!(merge(&["p1.snap.toml", "p1.snap.toml"]).contains("are both shard 1/2"));
    scratch.write(
        "foreign.snap.toml",
        &p1.replace(&hash, "0123456789abcdef").replace("1/2", "2/2"),
    );
    let foreign = merge(&["p1.snap.toml", "foreign.snap.toml"]);
    assert!(
        foreign.contains("foreign.snap.toml: a part of plan 0123456789abcdef"),
        "{foreign}"
    );
    scratch.write(
        "overlap.snap.toml",
        &p1.replace("shard = \"1/2\"", "shard = \"2/2\""),
    );
    assert!(
        merge(&["p1.snap.toml", "overlap.snap.toml"]).contains("cell `toyquant=1.0` is in both")
    );
    scratch.write("whole.snap.toml", "matrix = \"toy\"\n");
    assert!(merge(&["p1.snap.toml", "whole.snap.toml"]).contains("not a partial snapshot"));
}

#[test]
fn a_plan_whose_matrix_changed_is_refused() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    ok(scratch.qcompat(&["plan", "--matrix", "toy.toml", "--output", "plan.json"]));
    let plan = std::fs::read_to_string(scratch.path().join("plan.json")).unwrap();
    let edited = plan.replace("\"1.8.dev1\"\n    ]", "\"1.8.dev1\", \"1.9\"\n    ]");
    assert_ne!(plan, edited, "{plan}");
    scratch.write("edited.json", &edited);
    let error = refused(scratch.qcompat(&["run", "--plan", "edited.json"]));
    assert!(
        error.contains("edited.json: its hash does not match its content"),
        "{error}"
    );

    scratch.write("toy.toml", &format!("{TOY}# edited\n"));
    let error = refused(scratch.qcompat(&["run", "--plan", "plan.json", "--shard", "1/1"]));
    assert!(
        error.contains("toy.toml changed since this plan was made"),
        "{error}"
    );
    let error = refused(scratch.qcompat(&["run", "--plan", "plan.json", "--shard", "1/3"]));
    assert!(error.contains("changed since"), "{error}");
}

#[test]
fn a_query_axis_plan_merges_to_what_one_process_running_it_writes() {
    let scratch = Scratch::new();
    // 1.5 crashes, 1.6 passes, 1.7 does not install, 1.8.dev1 passes: a listed axis, several outcome classes.
    scratch.write(
        "toy.toml",
        &TOY.replace(
            r#"["1.0", "1.1", "1.2", "1.6", "1.8.dev1"]"#,
            r#"{ versions = ">=1.5", pre = true }"#,
        ),
    );
    ok(scratch.qcompat(&[
        "plan",
        "--matrix",
        "toy.toml",
        "--shards",
        "3",
        "--output",
        "plan.json",
    ]));
    let mut parts = Vec::new();
    for k in 1..=3 {
        let part = format!("p{k}.snap.toml");
        let shard = format!("{k}/3");
        scratch.qcompat(&[
            "run",
            "--plan",
            "plan.json",
            "--shard",
            &shard,
            "--part",
            &part,
        ]);
        parts.push(part);
    }
    let mut merge = vec!["merge"];
    merge.extend(parts.iter().rev().map(String::as_str));
    merge.extend(["--output", "merged.snap.toml"]);
    ok(scratch.command(&merge).output().unwrap());
    scratch.qcompat(&[
        "run",
        "--plan",
        "plan.json",
        "--update",
        "--snapshot",
        "whole.snap.toml",
    ]);
    let read = |name: &str| std::fs::read_to_string(scratch.path().join(name)).unwrap();
    let whole = read("whole.snap.toml");
    assert_eq!(read("merged.snap.toml"), whole);
    assert!(whole.contains("\nlisted = \""), "{whole}");
    let plan: serde_json::Value = serde_json::from_str(&read("plan.json")).unwrap();
    let planned = plan["cells"].as_array().unwrap().len();
    assert!(planned >= 4, "{plan}");
    assert_eq!(whole.matches("\n[[cell]]\n").count(), planned, "{whole}");
}
