//! The real stack: real torch, lightning and bitsandbytes from the package index, in real uv environments.
//!
//! These need the registry (and ~5 GB of torch in uv's cache on a cold machine), so they are `#[ignore]`d in plain
//! `cargo test`; CI runs them with `cargo test -- --include-ignored`. The expectations are what qcompat measured on
//! CPU (see reports/): the last good nightly passes, the regression fails with the exact signature and frame from
//! the user's report, the fixed release passes, and a bitsandbytes without a CPU kernel is `needs-cuda`; LitGPT's own
//! finetune command fails where Lightning moves a quantized model, while plain LoRA keeps working.

mod common;

use std::process::{Command, Output};

use common::{Scratch, repo, stderr};

fn qcompat(scratch: &Scratch, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qcompat"))
        .args(args)
        .arg("--cache-dir")
        .arg(scratch.cache())
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("qcompat runs")
}

fn probe<'a>(report: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    &cell(report, key)["probes"][0]
}

fn cell<'a>(report: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            let k: Vec<String> = c["key"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(a, v)| format!("{a}={}", v.as_str().unwrap()))
                .collect();
            k.join(",") == key
        })
        .unwrap_or_else(|| panic!("no cell {key}"))
}

/// The probe `name` of the cell `key`.
fn probe_named<'a>(report: &'a serde_json::Value, key: &str, name: &str) -> &'a serde_json::Value {
    cell(report, key)["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no probe {name} in {key}"))
}

const SIGNATURE: &str = "AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'";
const FRAME: &str = "lightning/fabric/utilities/load.py:__getattr__";

#[test]
#[ignore = "needs the package registry: real torch, lightning and bitsandbytes"]
fn smoke_matrix_reproduces_the_regression_window() {
    let scratch = Scratch::new();
    let output = qcompat(
        &scratch,
        &[
            "run",
            "--matrix",
            "matrices/smoke.toml",
            "--format",
            "json",
            "--jobs",
            "2",
        ],
    );
    // Everything as expected: the regression is a declared known issue.
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let good = probe(
        &report,
        "lightning=2.3.0.dev20240428,bitsandbytes=0.49.2,torch=2.3.0",
    );
    assert_eq!(good["outcome"], "pass");
    // On a CPU machine the pass needed exactly one swap, and says so.
    assert_eq!(good["substitutions"].as_array().unwrap().len(), 1, "{good}");
    assert!(good["metrics"]["max_abs_err"].as_f64().unwrap() > 0.0);
    // The built-in engine checked the pass: same NF4 codes and absmax as real bitsandbytes.
    let checks = good["checks"]
        .as_array()
        .expect("a passing checkpoint-load is checked against the engine");
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "nf4_code_bytes_differing_fraction")
    );
    assert!(
        report["reference"]["metrics"]["checkpoint-load"]["max_abs_err"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    let broken = probe(&report, "lightning=2.3.0,bitsandbytes=0.49.2,torch=2.3.0");
    assert_eq!(broken["outcome"], "xfail");
    assert_eq!(broken["signature"], SIGNATURE);
    assert_eq!(broken["frame"], FRAME);
    assert_eq!(broken["known"], "lightning-20119");

    assert_eq!(
        probe(&report, "lightning=2.4.0,bitsandbytes=0.49.2,torch=2.3.0")["outcome"],
        "pass"
    );

    let old_bnb = probe(&report, "lightning=2.4.0,bitsandbytes=0.42.0,torch=2.3.0");
    assert_eq!(old_bnb["outcome"], "needs-cuda", "{old_bnb}");
    assert_eq!(
        report["summary"]["fail"],
        serde_json::Value::Null,
        "no regression on the smoke matrix"
    );

    // Without the known issue the same cell is a plain failure, and the run exits 1.
    let bare = scratch.write(
        "bare.toml",
        "probes = [\"checkpoint-load\"]\n[axes]\nlightning = [\"2.3.0\"]\nbitsandbytes = [\"0.49.2\"]\ntorch = [\"2.3.0\"]\n\
         [pins]\nnumpy = \"<2\"\nsetuptools = \"<70\"\n",
    );
    let output = qcompat(
        &scratch,
        &[
            "run",
            "--matrix",
            bare.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let cell = &report["cells"][0];
    assert_eq!(
        cell["env"]["created"], false,
        "same requirements as the smoke cell: the environment is reused"
    );
    assert_eq!(cell["resolved"]["lightning"], "2.3.0");
    assert_eq!(cell["probes"][0]["outcome"], "fail");
    assert_eq!(cell["probes"][0]["signature"], SIGNATURE);
    assert!(
        cell["import_s"].as_f64().unwrap() > 0.0,
        "the JSON splits import time from probe time"
    );
}

#[test]
#[ignore = "needs the package registry: real torch, lightning and bitsandbytes"]
fn monitor_as_of_june_2024_finds_and_bisects_the_regression_against_may() {
    let scratch = Scratch::new();
    let matrix = scratch.write(
        "window.toml",
        &std::fs::read_to_string(repo().join("matrices/lightning-window.toml"))
            .unwrap()
            .replace(">=2.3.0.dev20240428", ">=2.3.0.dev20240519"),
    );
    let matrix = matrix.to_str().unwrap();
    let snapshot = scratch.path().join("may.snap.toml");
    let snapshot = snapshot.to_str().unwrap();
    let monitor = |extra: &[&str]| {
        let mut args = vec![
            "monitor",
            "--matrix",
            matrix,
            "--snapshot",
            snapshot,
            "--format",
            "json",
            "--jobs",
            "2",
        ];
        args.extend_from_slice(extra);
        let output = qcompat(&scratch, &args);
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
        (report, output.status.code())
    };
    // As of 2024-05-20 the window holds one nightly, which works: the baseline.
    let (may, code) = monitor(&["--update", "--as-of", "2024-05-20"]);
    assert_eq!(code, Some(0), "{may}");
    assert_eq!(
        may["cells_run"],
        serde_json::json!(["lightning=2.3.0.dev20240519,bitsandbytes=0.49.2,torch=2.3.0"])
    );
    // As of 2024-06-01 the 05-26 nightly is out, and breaks loading a checkpoint into an NF4 model.
    let (june, code) = monitor(&["--as-of", "2024-06-01"]);
    assert_eq!(code, Some(1), "{june}");
    assert_eq!(
        june["new_versions"],
        serde_json::json!({"lightning": ["2.3.0.dev20240526"]})
    );
    let bisection = &june["bisections"][0];
    assert_eq!(bisection["last_good"], "2.3.0.dev20240519");
    assert_eq!(bisection["first_bad"], "2.3.0.dev20240526");
    assert_eq!(bisection["signature"], SIGNATURE);
    assert_eq!(bisection["frame"], FRAME);
}

const OLD_LITGPT: &str = "litgpt=0.4.5,bitsandbytes=0.49.2,torch=2.3.0";
const NEW_LITGPT: &str = "litgpt=0.5.5,bitsandbytes=0.50.2,torch=2.5.1";

#[test]
#[ignore = "needs the package registry: real torch, lightning, bitsandbytes and litgpt"]
fn litgpt_finetune_command_fails_where_quantization_breaks_and_plain_lora_keeps_working() {
    let scratch = Scratch::new();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--matrix",
            "matrices/litgpt.toml",
            "--filter",
            "litgpt=0.4.5",
            "--filter",
            "litgpt=0.5.5",
            "--jobs",
            "2",
        ];
        args.extend_from_slice(extra);
        let output = qcompat(&scratch, &args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        output.stdout
    };
    let report: serde_json::Value = serde_json::from_slice(&run(&["--format", "json"])).unwrap();

    // litgpt 0.4.5 pins Lightning 2.3.3: the library-level probes hit the lazy-load bug, the user's command fails
    // earlier, when Fabric moves the quantized model, and plain LoRA (no --quantize, nothing swapped) passes.
    let qlora = probe_named(&report, OLD_LITGPT, "litgpt-qlora");
    assert_eq!(qlora["known"], "lightning-20119", "{qlora}");
    for name in ["litgpt-finetune", "litgpt-finetune-config"] {
        let finetune = probe_named(&report, OLD_LITGPT, name);
        assert_eq!(finetune["outcome"], "xfail", "{finetune}");
        assert_eq!(finetune["known"], "litgpt-1325");
        assert_eq!(
            finetune["signature"],
            "RuntimeError: Blockwise 4bit quantization only supports 16/32-bit floats, but got torch.uint8"
        );
    }
    let control = probe_named(&report, OLD_LITGPT, "lora-train");
    assert_eq!(control["outcome"], "pass", "{control}");
    assert_eq!(control["substitutions"], serde_json::json!([]));

    // litgpt 0.5.5 with Lightning 2.5 and bitsandbytes 0.50: the command runs to the end on the CPU, and the engine
    // agrees with its NF4 codes and its step-0 loss.
    for name in [
        "litgpt-qlora",
        "litgpt-generate",
        "litgpt-finetune",
        "litgpt-finetune-config",
        "lora-train",
    ] {
        assert_eq!(
            probe_named(&report, NEW_LITGPT, name)["outcome"],
            "pass",
            "{name}"
        );
    }
    let finetune = probe_named(&report, NEW_LITGPT, "litgpt-finetune");
    let checks: Vec<&str> = finetune["checks"]
        .as_array()
        .expect("a passing litgpt-finetune is checked against the engine")
        .iter()
        .filter(|c| c["ok"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"step0_loss_rel_diff")
            && checks.contains(&"nf4_code_bytes_differing_fraction"),
        "{finetune}"
    );
    assert!(
        finetune["substitutions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("Fabric's CUDA-only check")),
        "{finetune}"
    );

    // The Markdown report (from the finished cells, nothing rerun) says the old cell's failure is quantization's.
    let markdown = String::from_utf8(run(&["--resume", "--format", "markdown"])).unwrap();
    let contrast = markdown
        .split("**Specific to quantization.**")
        .nth(1)
        .unwrap_or_else(|| panic!("no contrast in:\n{markdown}"));
    assert!(contrast.contains(&format!("`{OLD_LITGPT}`")), "{markdown}");
    assert!(!contrast.contains(NEW_LITGPT), "{markdown}");
}

/// The user's own code as probes (examples/): a QLoRA training script and a pytest suite, run with `cpu-swaps` on the
/// last good and first bad nightlies, agree with `checkpoint-load` in both cells, fail with the user's report's
/// signature, and record the swaps that fired inside the user's process.
#[test]
#[ignore = "needs the package registry: real torch, lightning and bitsandbytes"]
fn example_user_probes_find_the_regression_as_checkpoint_load_does() {
    let scratch = Scratch::new();
    for (example, probe) in [
        ("qlora-script", "qlora-script"),
        ("quant-tests", "quant-tests"),
    ] {
        let matrix = format!("examples/{example}/matrix.toml");
        let output = qcompat(
            &scratch,
            &[
                "run",
                "--matrix",
                &matrix,
                "--format",
                "json",
                "--jobs",
                "2",
                "--filter",
                "lightning=2.3.0.dev20240519",
                "--filter",
                "lightning=2.3.0.dev20240526",
            ],
        );
        // The first bad nightly is a regression (the examples declare no known issue).
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        for (nightly, outcome) in [("2.3.0.dev20240519", "pass"), ("2.3.0.dev20240526", "fail")] {
            let key = format!("lightning={nightly},bitsandbytes=0.49.2,torch=2.3.0");
            let user = probe_named(&report, &key, probe);
            let builtin = probe_named(&report, &key, "checkpoint-load");
            assert_eq!(user["outcome"], outcome, "{example} {nightly}: {user}");
            assert_eq!(builtin["outcome"], outcome, "{nightly}: {builtin}");
            let swaps = user["substitutions"].as_array().unwrap();
            assert!(
                swaps
                    .iter()
                    .any(|s| s.as_str().unwrap().contains("_Linear4bit.quantize")),
                "{example} {nightly}: the quantize step ran on bitsandbytes' CPU kernel: {swaps:?}"
            );
            if outcome == "fail" {
                // pytest's signature is the first failing test's, its id first.
                let signature = user["signature"].as_str().unwrap();
                assert!(signature.ends_with(SIGNATURE), "{example}: {signature}");
                assert!(
                    user["frame"]
                        .as_str()
                        .unwrap()
                        .starts_with("lightning/fabric/"),
                    "{example}: {user}"
                );
            }
        }
    }
}
