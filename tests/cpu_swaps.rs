//! The CPU swaps in a user's own process (`fixtures/probes/usercustomize/`): a real interpreter runs a user's code
//! against stand-ins for torch, bitsandbytes and Lightning (`tests/fixtures/swaps/`), offline. A swap is recorded
//! once when it fires, in whichever process; one that is installed and never called is not; nothing happens
//! without QCOMPAT_CPU_SWAPS; `install` in a process that imported Lightning first (a fork) patches it; the
//! environment's own sitecustomize still runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const QUANTIZE: &str = "lightning _Linear4bit.quantize -> bitsandbytes CPU quantize_4bit";
const FABRIC_CHECK: &str =
    "lightning Fabric's CUDA-only check of BitsandbytesPrecision -> skipped on CPU";
const INIT_QUANTIZE: &str =
    "lightning _Linear4bit.__init__ quantizes on the CPU where it would on CUDA";
const NO_CPU_REPACK: &str = "bitsandbytes Linear4bit CPU-only weight repacking (support_avx512bf16_for_cpu) -> off, as on CUDA";

fn fixtures() -> PathBuf {
    common::repo().join("tests/fixtures/swaps")
}

/// What one run of `user_code.py SCENARIO` left: its JSON report, the swaps file's lines, the prior sitecustomize's
/// marks.
struct Run {
    report: serde_json::Value,
    swaps: Option<Vec<String>>,
    prior_marks: usize,
}

/// Runs the user's code as qcompat would with `cpu-swaps` (the swaps folder first on PYTHONPATH, then an
/// environment with its own sitecustomize and the stand-in stack); `swaps_on` sets QCOMPAT_CPU_SWAPS=1.
fn run_user_code(scenario: &str, swaps_on: bool) -> Run {
    let scratch = tempfile::tempdir().unwrap();
    let swaps_file = scratch.path().join("swaps.jsonl");
    let mark = scratch.path().join("prior.mark");
    let path = std::env::join_paths([
        common::repo().join("fixtures/probes/usercustomize"),
        fixtures().join("prior"),
        fixtures().join("stack"),
    ])
    .unwrap();
    let mut command = Command::new("python3");
    command
        .arg(fixtures().join("user_code.py"))
        .arg(scenario)
        .current_dir(scratch.path())
        .env("PYTHONPATH", path)
        .env("QCOMPAT_SWAPS_FILE", &swaps_file)
        .env("QCOMPAT_TEST_PRIOR_MARK", &mark)
        .env_remove("QCOMPAT_CPU_SWAPS")
        .env_remove("PYTHONNOUSERSITE")
        .env_remove("PYTHONSTARTUP");
    if swaps_on {
        command.env("QCOMPAT_CPU_SWAPS", "1");
    }
    let output = command.output().expect("python3 runs");
    assert!(
        output.status.success(),
        "user_code.py {scenario} failed:\n{}",
        common::stderr(&output)
    );
    let report = serde_json::from_str(common::stdout(&output).trim()).unwrap();
    Run {
        report,
        swaps: read_swaps(&swaps_file),
        prior_marks: read_lines(&mark).map_or(0, |lines| lines.len()),
    }
}

fn read_lines(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.lines().map(str::to_string).collect())
}

/// Each line of the swaps file must be `{"swap": "<description>"}`.
fn read_swaps(path: &Path) -> Option<Vec<String>> {
    let lines = read_lines(path)?;
    Some(
        lines
            .iter()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                value["swap"].as_str().expect("a swap line").to_string()
            })
            .collect(),
    )
}

#[test]
fn each_swap_that_fires_is_recorded_once_across_processes() {
    let run = run_user_code("use", true);
    let mut swaps = run.swaps.expect("the swaps file was written");
    swaps.sort();
    let mut expected = vec![QUANTIZE, FABRIC_CHECK, INIT_QUANTIZE, NO_CPU_REPACK];
    expected.sort();
    // Three quantizations, two layers built, and a child process that builds another: still one line each.
    assert_eq!(swaps, expected);
    let report = &run.report;
    assert_eq!(
        report["torch_at_start"], false,
        "sitecustomize imported torch"
    );
    assert_eq!(report["hook"], true);
    // bitsandbytes' CPU kernel ran on the half-precision weight, under float32 as the default dtype.
    assert_eq!(
        report["quant_state"],
        serde_json::json!({"quant_type": "nf4", "input_dtype": "float16", "default_dtype": "float32"})
    );
    assert_eq!(report["repacking"], serde_json::json!([false, false]));
    // Fabric's check fired only in the child: it inherited the hook through the environment.
    assert_eq!(report["child"]["hook"], true);
    assert_eq!(report["child"]["precision"], true);
}

#[test]
fn a_swap_installed_but_never_called_is_not_recorded() {
    let run = run_user_code("idle", true);
    assert_eq!(
        run.report["installed"],
        serde_json::json!([true, true, true]),
        "the swaps are in place"
    );
    assert_eq!(run.swaps, None, "nothing fired, so nothing is recorded");
}

#[test]
fn without_qcompat_cpu_swaps_nothing_is_swapped() {
    let run = run_user_code("plain", false);
    assert_eq!(run.report["hook"], false);
    assert_eq!(
        run.report["error"], "Found no NVIDIA driver on your system.",
        "Lightning's own quantize ran"
    );
    assert_eq!(run.swaps, None);
}

#[test]
fn install_patches_modules_imported_before_it() {
    let run = run_user_code("late", false);
    assert_eq!(run.report["hook"], true);
    let mut swaps = run.swaps.expect("the swaps file was written");
    swaps.sort();
    assert_eq!(swaps, [NO_CPU_REPACK, INIT_QUANTIZE, QUANTIZE]);
}

#[test]
fn the_environments_own_sitecustomize_still_runs() {
    assert_eq!(run_user_code("plain", false).prior_marks, 1);
    assert_eq!(run_user_code("idle", true).prior_marks, 1);
    // The parent and its child process, each once.
    assert_eq!(run_user_code("use", true).prior_marks, 2);
}
