//! The pull-request workflow (.github/workflows/compat-pr.yml): it parses, triggers on what it should, and every
//! `qcompat` command line in it uses a subcommand and flags the binary really has.

mod common;

use std::process::Command;

use common::{repo, stdout};

fn workflow() -> serde_yaml::Value {
    let path = repo().join(".github/workflows/compat-pr.yml");
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
    for line in &lines {
        let mut words = line.split_whitespace().skip(1);
        let subcommand = words.next().unwrap();
        let help = help(subcommand);
        for flag in words.filter(|w| w.starts_with("--")) {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{line}: {flag}"
            );
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
