//! `qcompat bisect --from/--to` on toy updates (fixtures/toy/README.md), offline: one culprit among several changed
//! packages, an interaction pair, a mixed set that cannot be installed (skipped, never blamed), release then commit
//! stages on a toy package's git history with a commit that does not build, probe-run counts within the bounds
//! docs/cli.md states, a rerun that probes nothing, and every input refused before the first probe.

mod common;

use common::{Scratch, stderr, toy_history};

const TOY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "5s"

[axes]
toyquant = ["1.0"]
"#;

fn scratch(good: &str, bad: &str) -> Scratch {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    scratch.write("good.txt", good);
    scratch.write("bad.txt", bad);
    scratch
}

/// `bisect --from good.txt --to bad.txt ARGS --format json --jobs 1`, asserting the exit code.
fn culprit(scratch: &Scratch, args: &[&str], code: i32) -> (serde_json::Value, String) {
    let mut all = vec![
        "bisect", "--matrix", "toy.toml", "--from", "good.txt", "--to", "bad.txt", "--format",
        "json", "--jobs", "1",
    ];
    all.extend_from_slice(args);
    let output = scratch.qcompat(&all);
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (report, stderr(&output))
}

fn packages(report: &serde_json::Value) -> Vec<String> {
    let culprits = report["packages"]["culprits"].as_array().unwrap();
    culprits
        .iter()
        .map(|c| c["package"].as_str().unwrap().to_string())
        .collect()
}

fn runs(report: &serde_json::Value) -> u64 {
    report["packages"]["probe_runs"].as_u64().unwrap()
}

fn log2_ceil(n: u64) -> u64 {
    (n as f64).log2().ceil() as u64
}

#[test]
fn one_culprit_among_four_changes_then_its_release_window_and_a_rerun_probes_nothing() {
    let scratch = scratch(
        "toyalpha==1.0\ntoyheavy==1.0\ntoyplug==1.0\ntoyquant==1.0\n",
        "toyalpha==2.0\ntoyheavy==2.0\ntoyplug==2.0\ntoyquant==1.2\n",
    );
    let (report, _) = culprit(&scratch, &[], 0);
    assert_eq!(packages(&report), ["toyquant"]);
    assert_eq!(report["packages"]["culprits"][0]["from"], "1.0");
    assert_eq!(report["packages"]["culprits"][0]["to"], "1.2");
    // The two sides, then at most ceil(log2(n + 1)) + 1 mixed sets.
    assert!(runs(&report) <= 2 + log2_ceil(5) + 1, "{report:#}");
    let release = &report["releases"][0];
    assert_eq!(
        (release["last_good"].as_str(), release["first_bad"].as_str()),
        (Some("1.0"), Some("1.2"))
    );
    // 1.1 has no CPU kernel: skipped, so the window holds it undecided.
    assert_eq!(release["undecided"][0], "1.1");

    let (again, _) = culprit(&scratch, &[], 0);
    assert_eq!(runs(&again), 0, "a rerun reuses every probed set");
    assert_eq!(again["releases"][0]["probe_runs"], 0);
    assert_eq!(packages(&again), ["toyquant"]);
}

#[test]
fn two_changes_that_only_fail_together_are_reported_as_the_pair() {
    // toywire 2.0 swaps toyquant's loader for a broken one only when toyplug 2.0 asks for lazy loading.
    let scratch = scratch(
        "toyalpha==1.0\ntoyplug==1.0\ntoyquant==1.0\ntoywire==1.0\n",
        "toyalpha==2.0\ntoyplug==2.0\ntoyquant==1.0\ntoywire==2.0\n",
    );
    let (report, _) = culprit(&scratch, &[], 0);
    assert_eq!(packages(&report), ["toyplug", "toywire"]);
    let n = 3;
    assert!(
        runs(&report) <= 2 + log2_ceil(n + 1) + log2_ceil(n) + 2,
        "{report:#}"
    );
    assert_eq!(report["releases"].as_array().unwrap().len(), 2);
    assert_eq!(report["releases"][1]["first_bad"], "2.0");
}

#[test]
fn a_mixed_set_that_cannot_be_installed_is_skipped_and_named_never_blamed() {
    // toybeta 2.0 needs toycore>=2, toygamma 1.0 needs toycore<2: good + toybeta's update alone cannot resolve.
    let scratch = scratch(
        "toyalpha==1.0\ntoybeta==1.0\ntoygamma==1.0\ntoyquant==1.0\n",
        "toyalpha==2.0\ntoybeta==2.0\ntoygamma==2.0\ntoyquant==1.2\n",
    );
    let (report, _) = culprit(&scratch, &[], 0);
    assert_eq!(packages(&report), ["toyquant"]);
    let skipped = report["packages"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report:#}");
    assert_eq!(skipped[0], "toyalpha 1.0 -> 2.0, toybeta 1.0 -> 2.0");
    let unresolvable = report["packages"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["judgement"] == "skip")
        .unwrap();
    assert_eq!(unresolvable["outcome"], "unresolvable");
}

#[test]
fn release_then_commit_stages_find_the_first_bad_commit_stepping_over_one_that_does_not_build() {
    let scratch = scratch(
        "toyheavy==1.0\ntoyquant==1.0\n",
        "toyheavy==2.0\ntoyquant==1.2\n",
    );
    let repo = toy_history(scratch.path());
    let (report, _) = culprit(&scratch, &["--repo", repo.to_str().unwrap()], 0);
    assert_eq!(packages(&report), ["toyquant"]);
    let commits = &report["commits"];
    assert_eq!(
        commits["first_bad"]["title"], "lazy tensors without data",
        "{commits:#}"
    );
    assert_eq!(commits["last_good"]["title"], "mend the build");
    assert_eq!(commits["first_bad"]["date"], "2024-05-06");
    assert_eq!(commits["candidates"], 7);
    let skipped = commits["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{commits:#}");
    assert!(skipped[0].as_str().unwrap().ends_with(": does not build"));
    // Seven commits: the two endpoints and at most ceil(log2 7) more, one of them the broken build.
    assert!(
        commits["builds"].as_u64().unwrap() <= 2 + log2_ceil(7),
        "{commits:#}"
    );

    let (again, _) = culprit(&scratch, &["--repo", repo.to_str().unwrap()], 0);
    assert_eq!(
        again["commits"]["probe_runs"], 0,
        "a rerun probes no commit"
    );
    assert_eq!(again["commits"]["builds"], 0, "a rerun builds nothing");
}

#[test]
fn every_input_is_checked_before_the_first_probe() {
    let same = scratch("toyquant==1.0\n", "toyquant==1.0\n");
    let (_, said) = culprit(&same, &[], 2);
    assert!(
        said.contains("pin the same versions: nothing changed"),
        "{said}"
    );

    let range = scratch("toyquant==1.0\n", "toyheavy==1.0\ntoyquant>=1.2\n");
    let (_, said) = culprit(&range, &[], 2);
    assert!(
        said.contains("bad.txt:2:1: `toyquant>=1.2` is not an exact pin"),
        "{said}"
    );

    let no_repo = scratch("toyquant==1.0\n", "toyquant==1.2\n");
    let (_, said) = culprit(&no_repo, &["--repo", "nowhere"], 2);
    assert!(said.contains("--repo nowhere: no such folder"), "{said}");

    let recipe = scratch("toyquant==1.0\n", "toyquant==1.2\n");
    recipe.write(
        "toy.toml",
        &format!("{TOY}\n[build.toyquant]\nenv = {{ \"1X\" = \"y\" }}\npaths = [\"../up\"]\n"),
    );
    let (_, said) = culprit(&recipe, &[], 2);
    assert!(
        said.contains("toy.toml:10:9: \"1X\" is not an environment variable name"),
        "{said}"
    );
    assert!(
        said.contains("build path \"../up\" must be a path inside the repository"),
        "{said}"
    );

    for scratch in [&same, &range, &no_repo, &recipe] {
        let envs = scratch.cache().join("envs");
        let built = std::fs::read_dir(&envs).map_or(0, |d| d.count());
        assert_eq!(built, 0, "no environment was built");
    }
}

#[test]
fn when_no_commit_builds_the_commits_touching_the_failing_files_are_listed_instead() {
    let scratch = scratch("toyquant==1.0\n", "toyquant==1.2\n");
    // Exporting only the package folder leaves the build backend behind: no commit builds.
    scratch.write(
        "toy.toml",
        &format!("{TOY}\n[build.toyquant]\npaths = [\"toyquant\"]\n"),
    );
    let repo = toy_history(scratch.path());
    let (report, _) = culprit(&scratch, &["--repo", repo.to_str().unwrap()], 0);
    let commits = &report["commits"];
    let fallback = commits["fallback"].as_str().unwrap();
    assert!(fallback.contains("(1.0) does not build"), "{fallback}");
    assert!(commits.get("first_bad").is_none(), "{commits:#}");
    let listed: Vec<&str> = commits["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["lazy tensors without data"]);
}
