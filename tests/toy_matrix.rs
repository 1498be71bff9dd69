//! End-to-end runs of the real binary on the toy matrix: real uv environments, real probe processes, offline.

mod common;

use common::{
    Scratch, assert_gone, assert_reasons_name, outcome_lines, stderr, stdout, uv_reasons,
};

const TOY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "3s"

[axes]
toyquant = ["1.0", "1.1", "1.2", "1.2.1", "1.3", "1.4", "1.5", "1.6", "1.7"]

[[known]]
id = "toy-lazy-data"
signature = "AttributeError: '_LazyTensor' object has no attribute 'data'"
when = { toyquant = "==1.2" }

[[known]]
id = "toy-fixed-upstream"
signature = "AttributeError: '_LazyTensor' object has no attribute 'data'"
when = { toyquant = "==1.6" }
"#;

fn json(
    scratch: &Scratch,
    matrix: &str,
    extra: &[&str],
) -> (serde_json::Value, std::process::Output) {
    let mut args = vec!["run", "--matrix", matrix, "--format", "json", "--jobs", "4"];
    args.extend_from_slice(extra);
    let output = scratch.qcompat(&args);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    (report, output)
}

/// The outcome lines with uv's words left out where uv words them (see `common::uv_reasons`), after checking that
/// they name what any wording must: 1.3's missing `toyhelper>=9`, 1.7's broken wheel.
fn without_uv_wording(report: &serde_json::Value) -> String {
    let (lines, reasons) = uv_reasons(&outcome_lines(report));
    assert_reasons_name(&reasons, &["toyquant==1.3", "toyhelper>=9"]);
    let broken = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"]["toyquant"] == "1.7")
        .and_then(|c| c["probes"][0]["signature"].as_str())
        .expect("1.7 has a signature");
    assert!(
        broken.contains("toyquant") && broken.contains("1.7"),
        "{broken}"
    );
    lines.replace(broken, "<uv's message>")
}

#[test]
fn every_outcome_class_and_a_warm_rerun_that_builds_nothing() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let (report, output) = json(&scratch, "toy.toml", &[]);
    // A timeout and a crash are regressions: exit 1.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    insta::assert_snapshot!("toy_outcomes", without_uv_wording(&report));
    insta::assert_json_snapshot!("toy_summary", report["summary"]);

    let built = |report: &serde_json::Value| -> Vec<bool> {
        report["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["env"]["created"].as_bool())
            .collect()
    };
    assert_eq!(
        built(&report),
        vec![true; 7],
        "seven toyquant releases install"
    );

    let (again, _) = json(&scratch, "toy.toml", &[]);
    assert_eq!(
        built(&again),
        vec![false; 7],
        "the second run reuses every environment"
    );
    assert_eq!(outcome_lines(&again), outcome_lines(&report));
    let resolved = &again["cells"][0]["resolved"];
    assert_eq!(resolved["toyquant"], "1.0");
}

#[test]
fn a_timeout_kills_the_probes_grandchildren() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let (report, _) = json(&scratch, "toy.toml", &["--filter", "toyquant=1.4"]);
    assert_eq!(report["cells"][0]["probes"][0]["outcome"], "timeout");
    let pid_file = scratch
        .cache()
        .join("runs/toy/toyquant=1.4/artifacts/grandchild.pid");
    let pid =
        std::fs::read_to_string(&pid_file).expect("the hanging release wrote its grandchild's pid");
    assert_gone(&pid);
}

#[test]
fn ctrl_c_stops_the_run_and_every_probe_process() {
    let scratch = Scratch::new();
    scratch.write(
        "toy.toml",
        &TOY.replace("timeout = \"3s\"", "timeout = \"60s\""),
    );
    let run = scratch
        .run_command(&["run", "--matrix", "toy.toml", "--filter", "toyquant=1.4"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The hanging release writes its grandchild's pid once the probe is well under way.
    let pid_file = scratch
        .cache()
        .join("runs/toy/toyquant=1.4/artifacts/grandchild.pid");
    let started = std::time::Instant::now();
    while !pid_file.exists() {
        assert!(started.elapsed().as_secs() < 30, "the probe never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: sends SIGINT to the qcompat process this test spawned.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    let output = run.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("interrupted by SIGINT"),
        "{}",
        stderr(&output)
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "qcompat stopped promptly, long before the 60 s timeout"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_gone(&pid);
}

#[test]
fn expected_outcomes_exit_zero_and_the_table_groups_signatures() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let output = scratch.qcompat(&["run", "--matrix", "toy.toml", "--filter", "toyquant=1.2"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "an xfail is expected: {}",
        stderr(&output)
    );
    insta::assert_snapshot!("toy_table_xfail", scratch.scrub(&stdout(&output)));
}

#[test]
fn query_axes_list_versions_from_find_links() {
    let scratch = Scratch::new();
    let matrix = |pre: bool| {
        format!(
            "probes = [\"toy-load\"]\ntimeout = \"10s\"\n[axes]\ntoyquant = {{ versions = \">=1.6\", pre = {pre} }}\n"
        )
    };
    scratch.write("stable.toml", &matrix(false));
    scratch.write("nightly.toml", &matrix(true));
    let keys = |report: &serde_json::Value| -> Vec<String> {
        report["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"]["toyquant"].as_str().unwrap().to_string())
            .collect()
    };
    let (stable, _) = json(&scratch, "stable.toml", &["--probe", "toy-load"]);
    assert_eq!(keys(&stable), ["1.6", "1.7"]);
    let (nightly, _) = json(&scratch, "nightly.toml", &[]);
    assert_eq!(keys(&nightly), ["1.6", "1.7", "1.8.dev1"]);
    assert_eq!(nightly["cells"][2]["probes"][0]["outcome"], "pass");
    // Filters on one axis are alternatives.
    let filters = ["--filter", "toyquant=1.6", "--filter", "toyquant=1.8.dev1"];
    let (picked, _) = json(&scratch, "nightly.toml", &filters);
    assert_eq!(keys(&picked), ["1.6", "1.8.dev1"]);
}

#[test]
fn resume_reuses_finished_cells() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let (first, _) = json(&scratch, "toy.toml", &["--filter", "toyquant=1.0"]);
    assert_eq!(first["cells"].as_array().unwrap().len(), 1);
    assert_eq!(first["cells"][0]["probes"][0]["outcome"], "pass");
    // The journal now holds toyquant=1.0; a resumed run of the same filter runs nothing.
    let (resumed, output) = json(
        &scratch,
        "toy.toml",
        &["--filter", "toyquant=1.0", "--resume"],
    );
    assert!(
        stderr(&output).contains("resuming: 1 of 1 cells already done"),
        "{}",
        stderr(&output)
    );
    assert_eq!(resumed["cells"], first["cells"]);

    // Another run of the same matrix (another selection) keeps its own journal: 1.0's entry survives it.
    json(&scratch, "toy.toml", &["--filter", "toyquant=1.1"]);
    let (_, output) = json(
        &scratch,
        "toy.toml",
        &["--filter", "toyquant=1.0", "--resume"],
    );
    assert!(
        stderr(&output).contains("resuming: 1 of 1 cells already done"),
        "{}",
        stderr(&output)
    );

    // An edited pin changes the cell's environment: its journal entry no longer applies.
    scratch.write("toy.toml", &format!("{TOY}\n[pins]\ntoyhelper = \"1.0\"\n"));
    let (_, output) = json(
        &scratch,
        "toy.toml",
        &["--filter", "toyquant=1.0", "--resume"],
    );
    assert!(!stderr(&output).contains("resuming"), "{}", stderr(&output));
}

#[test]
fn list_prints_the_plan_and_runs_nothing() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let filters = ["--filter", "toyquant=1.0", "--filter", "toyquant=1.2"];
    let mut args = vec!["run", "--matrix", "toy.toml", "--list"];
    args.extend(filters);
    let output = scratch.qcompat(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "toyquant=1.0\ntoyquant=1.2\n");
    args.extend(["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&scratch.qcompat(&args).stdout).unwrap();
    assert_eq!(
        plan["cells"],
        serde_json::json!([{"toyquant": "1.0"}, {"toyquant": "1.2"}])
    );
    assert_eq!(plan["probes"], serde_json::json!(["toy-load"]));
    assert_eq!(plan["axes"]["toyquant"].as_array().unwrap().len(), 9);
    assert_eq!(plan["hash"].as_str().unwrap().len(), 16);
    assert!(
        !scratch.cache().join("envs").exists(),
        "listing builds no environment"
    );
}

#[test]
fn a_load_path_broken_before_the_missing_kernel_is_a_failure() {
    // toyquant 1.2.2 has no CPU kernel *and* the lazy-load bug: the load breaks before the kernel is reached, so the
    // bug must show as a failure, not hide behind needs-cuda. 1.1 reaches the kernel it lacks: needs-cuda.
    let scratch = Scratch::new();
    scratch.write(
        "kernel.toml",
        "probes = [\"toy-load\"]\ntimeout = \"20s\"\n[axes]\ntoyquant = [\"1.1\", \"1.2.2\"]\n",
    );
    let (report, output) = json(&scratch, "kernel.toml", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let outcome = |i: usize| report["cells"][i]["probes"][0].clone();
    assert_eq!(outcome(0)["outcome"], "needs-cuda");
    assert_eq!(
        outcome(0)["signature"],
        "toyquant has no CPU kernel (NotImplementedError: Device type not supported for toy quantization: cpu)"
    );
    assert_eq!(outcome(1)["outcome"], "fail");
    assert_eq!(
        outcome(1)["signature"],
        "AttributeError: '_LazyTensor' object has no attribute 'data'"
    );
}

/// The quantization contrast in miniature: on toyquant 1.2.1 the quantized load (toy-load) fails while the eager,
/// unquantized control (toy-plain) passes, and every report says the failure is specific to quantization. A release
/// whose quantized path only lacks a kernel (1.1, needs-cuda) or works (1.0) is not listed.
#[test]
fn a_failure_only_the_quantized_path_shows_is_reported_as_specific_to_quantization() {
    let scratch = Scratch::new();
    scratch.write(
        "contrast.toml",
        "name = \"contrast\"\nprobes = [\"toy-load\", \"toy-plain\"]\n\n[axes]\ntoyquant = [\"1.0\", \"1.1\", \"1.2.1\"]\n",
    );
    let (report, output) = json(&scratch, "contrast.toml", &["--update"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    insta::assert_snapshot!("contrast_outcomes", outcome_lines(&report));

    let report_as = |format: &str| {
        let output = scratch
            .command(&["report", "reports/contrast.snap.toml", "--format", format])
            .output()
            .expect("qcompat runs");
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let table = report_as("table");
    let section = table
        .split("specific to quantization")
        .nth(1)
        .unwrap_or_else(|| panic!("no contrast section in:\n{table}"));
    assert_eq!(
        section
            .lines()
            .filter(|l| l.starts_with("    "))
            .collect::<Vec<_>>(),
        ["    toyquant=1.2.1: toy-load fails while toy-plain passes"],
        "{table}"
    );
    let markdown = report_as("markdown");
    assert!(
        markdown.contains("**Specific to quantization.**")
            && markdown.contains("- `toyquant=1.2.1`: toy-load fails while toy-plain passes"),
        "{markdown}"
    );
    let html = report_as("html");
    assert!(
        html.contains("<section id=\"quantization-contrast\">")
            && html.contains("<li>toyquant=1.2.1: toy-load fails while toy-plain passes</li>")
            && !html.contains("<li>toyquant=1.1:"),
        "{html}"
    );
}

/// A cell is done when its probe process is: nothing in qcompat keeps the log pipe open behind it. (The spawning
/// command used to hold the pipe's write ends, so every cell waited out the 5 s drain limit after its probe exited:
/// half of a warm lightning cell's time.)
#[test]
fn a_cell_ends_when_its_probe_process_does() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let (report, output) = json(&scratch, "toy.toml", &["--filter", "toyquant=1.0"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let process_s = report["cells"][0]["process_s"].as_f64().unwrap();
    assert!(process_s < 4.0, "the toy probe process took {process_s} s");
}
