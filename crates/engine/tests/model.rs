//! The engine's model, training and reference row on the fixture checkpoint (`fixtures/checkpoints/tiny-gpt`),
//! against golden data from LitGPT 0.4.0 and bitsandbytes 0.49.2 (fixtures/golden/tiny_gpt_reference.py).

mod common;

use std::path::Path;

use qcompat_engine::model::BaseWeights;
use qcompat_engine::oracle::replay::{self, Deviation, Replay};
use qcompat_engine::oracle::{self, CheckKind, NumericCheck, Oracle};
use qcompat_engine::train::{self, CheckpointDir, TrainOptions};
use serde_json::{Value, json};

fn checkpoint() -> CheckpointDir {
    oracle::fixture_checkpoint(&common::checkpoints()).unwrap()
}

fn golden_logits() -> Value {
    let path = common::golden().join("tiny_gpt_logits.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_all_ok(checks: &[NumericCheck], expected: usize) {
    assert_eq!(checks.len(), expected, "{checks:?}");
    for check in checks {
        assert!(check.ok, "{check:?}");
    }
}

#[test]
fn forward_matches_litgpt_within_1e_4() {
    let checkpoint = CheckpointDir::load(&common::checkpoints().join("tiny-gpt")).unwrap();
    let golden = golden_logits();
    let theirs: Vec<f64> = golden["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|value| value.as_f64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let ours = oracle::litgpt_qlora::first_sequence_logits(&checkpoint).unwrap();
    assert_eq!(ours.len(), theirs.len());
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(o, t)| (f64::from(*o) - t).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-4, "max |logit difference| {worst}");
    let dense = checkpoint.model(BaseWeights::Dense, None).unwrap();
    let loss = train::loss(&dense, &checkpoint.batch)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        (f64::from(loss) - golden["loss"].as_f64().unwrap()).abs() < 1e-5,
        "loss {loss}"
    );
}

#[test]
fn lora_training_on_the_nf4_base_lowers_the_loss() {
    let checkpoint = CheckpointDir::load(&common::checkpoints().join("tiny-gpt")).unwrap();
    let options = TrainOptions {
        steps: 6,
        ..TrainOptions::default()
    };
    let curve = train::train(&checkpoint, &options).unwrap();
    assert_eq!(curve.len(), 7);
    assert!(curve.windows(2).all(|pair| pair[1] < pair[0]), "{curve:?}");
}

/// The checkpoint-load probe's output as bitsandbytes 0.49.2 made it: its NF4 codes and absmax
/// (fixtures/golden/tiny_gpt_nf4.pth) and the metrics the probe reported on lightning 2.4.0 + bitsandbytes 0.49.2 +
/// torch 2.3.0 on CPU (tests/fixtures/checkpoint-load.metrics.json).
fn checkpoint_load_output(artifacts: &Path) -> Value {
    std::fs::copy(
        common::golden().join("tiny_gpt_nf4.pth"),
        artifacts.join("checkpoint-load.nf4.pth"),
    )
    .unwrap();
    let info = json!({ "quant_type": "nf4", "blocksize": 64, "input_dtype": "float16" });
    std::fs::write(artifacts.join("checkpoint-load.nf4.json"), info.to_string()).unwrap();
    let metrics = common::recorded("checkpoint-load.metrics.json");
    serde_json::from_str(&std::fs::read_to_string(metrics).unwrap()).unwrap()
}

fn checkpoint_load_checks(artifacts: &Path, metrics: &Value) -> Vec<NumericCheck> {
    oracle::compare(Oracle::CheckpointLoad, &checkpoint(), artifacts, metrics)
}

/// (kind, name, value) of each check, in order, the value rounded to 1e-12: the probe's metrics are f32 values that
/// pass through JSON, whose parser may land an ulp of f64 away.
fn measured(checks: &[NumericCheck]) -> Vec<(CheckKind, &str, f64)> {
    checks
        .iter()
        .map(|c| (c.kind, c.name.as_str(), (c.value * 1e12).round() / 1e12))
        .collect()
}

/// Codes and absmax bit for bit, and the engine's dequantization error equal to the one bitsandbytes measured, for
/// plain and double-quantized NF4 (the fixture's worst element is the same in both).
#[test]
fn bitsandbytes_checkpoint_artifacts_agree_with_the_engine() {
    let artifacts = tempfile::tempdir().unwrap();
    let metrics = checkpoint_load_output(artifacts.path());
    let checks = checkpoint_load_checks(artifacts.path(), &metrics);
    let tolerance = CheckKind::Tolerance;
    assert_eq!(
        measured(&checks),
        [
            (tolerance, "nf4_weights_unmatched", 0.0),
            (tolerance, "nf4_code_bytes_differing_fraction", 0.0),
            (tolerance, "nf4_absmax_max_abs_diff", 0.0),
            (tolerance, "max_abs_err_rel_diff", 0.0),
            (tolerance, "max_abs_err_dq_rel_diff", 0.0),
        ]
    );
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
}

/// A probe whose measured error is 1% off the engine's: beyond the 1e-3 that rounding explains.
#[test]
fn a_dequantization_error_off_the_engines_fails_its_check() {
    let artifacts = tempfile::tempdir().unwrap();
    let mut metrics = checkpoint_load_output(artifacts.path());
    metrics["max_abs_err"] = json!(metrics["max_abs_err"].as_f64().unwrap() * 1.01);
    let checks = checkpoint_load_checks(artifacts.path(), &metrics);
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(NumericCheck::signature)
        .collect();
    assert_eq!(
        failed,
        ["numeric: max_abs_err_rel_diff beyond tolerance 0.001 of the built-in reference"]
    );
    assert_eq!(measured(&checks)[3].2, 0.01, "{checks:?}");
}

/// The failing checks of `checks`: kind and name.
fn failing(checks: &[NumericCheck]) -> Vec<(CheckKind, String)> {
    checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| (c.kind, c.name.clone()))
        .collect()
}

#[test]
fn a_pass_without_its_artifacts_is_never_silently_unchecked() {
    let full = tempfile::tempdir().unwrap();
    let metrics = checkpoint_load_output(full.path());
    let files = ["checkpoint-load.nf4.pth", "checkpoint-load.nf4.json"];
    for file in files {
        let artifacts = tempfile::tempdir().unwrap();
        for other in files.iter().filter(|f| **f != file) {
            std::fs::copy(full.path().join(other), artifacts.path().join(other)).unwrap();
        }
        let checks = checkpoint_load_checks(artifacts.path(), &metrics);
        let missing = (CheckKind::NoArtifact, format!("{file} (missing)"));
        assert_eq!(failing(&checks), [missing]);
    }
    // Unreadable: garbage where the packed codes should be.
    std::fs::write(full.path().join("checkpoint-load.nf4.pth"), b"not a zip").unwrap();
    let checks = checkpoint_load_checks(full.path(), &metrics);
    let unreadable = "checkpoint-load.nf4.pth (not a readable torch.save file)";
    assert_eq!(
        failing(&checks),
        [(CheckKind::NoArtifact, unreadable.into())]
    );
    let failed = checks.iter().find(|c| !c.ok).unwrap();
    assert_eq!(
        failed.signature(),
        format!("numeric: no artifact {unreadable}")
    );
    assert!(failed.value.is_finite(), "JSON keeps the number");
    // litgpt-qlora without its replay or logits: no path of this machine in what fails.
    let empty = tempfile::tempdir().unwrap();
    let checks = oracle::compare(
        Oracle::LitgptQloraReplay,
        &checkpoint(),
        empty.path(),
        &json!({}),
    );
    assert_eq!(
        failing(&checks),
        [
            (
                CheckKind::NoArtifact,
                "litgpt-qlora.replay.json (missing)".into()
            ),
            (
                CheckKind::NoArtifact,
                "litgpt-qlora.logits.json (missing)".into()
            ),
        ]
    );
}

#[test]
fn a_pass_without_its_metrics_is_never_silently_unchecked() {
    let artifacts = tempfile::tempdir().unwrap();
    let mut metrics = checkpoint_load_output(artifacts.path());
    metrics.as_object_mut().unwrap().remove("max_abs_err");
    metrics["max_abs_err_dq"] = json!("n/a");
    let checks = checkpoint_load_checks(artifacts.path(), &metrics);
    let missing = |name: &str| {
        (
            CheckKind::NoArtifact,
            format!("metric {name} (missing or not a number)"),
        )
    };
    assert_eq!(
        failing(&checks),
        [missing("max_abs_err"), missing("max_abs_err_dq")]
    );
    // The artifacts were still checked.
    assert_eq!(checks.len(), 5, "{checks:?}");
}

/// The replay litgpt 0.4.0 + bitsandbytes 0.49.2 + torch 2.3.0 exported on CPU (tests/fixtures/).
fn real_replay() -> Replay {
    let path = common::recorded("litgpt-qlora.replay.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn litgpt_qlora_checks(run: &Replay) -> Vec<NumericCheck> {
    let artifacts = tempfile::tempdir().unwrap();
    std::fs::write(
        artifacts.path().join("litgpt-qlora.logits.json"),
        golden_logits()["logits"].to_string(),
    )
    .unwrap();
    std::fs::write(
        artifacts.path().join("litgpt-qlora.replay.json"),
        serde_json::to_string(run).unwrap(),
    )
    .unwrap();
    oracle::compare(
        Oracle::LitgptQloraReplay,
        &checkpoint(),
        artifacts.path(),
        &json!({}),
    )
}

#[test]
fn litgpt_qlora_metrics_compare_with_the_engine() {
    let checks = litgpt_qlora_checks(&real_replay());
    assert_all_ok(&checks, 3);
}

/// Each mutation is a stack that trains wrongly: the engine runs the probe's steps with it, and its loss curve and
/// trained LoRA stand in for the probe's. Every one must turn the real run's pass into a numeric failure.
#[test]
fn the_training_oracle_catches_each_mutation() {
    let run = real_replay();
    for (label, deviation) in Deviation::mutations() {
        let mutated = replay::replay(&checkpoint(), &run, deviation).unwrap();
        let broken = Replay {
            loss: mutated.loss,
            trained: mutated.trained,
            ..run.clone()
        };
        let checks = litgpt_qlora_checks(&broken);
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(NumericCheck::signature)
            .collect();
        eprintln!("{label}: {failed:?}");
        assert!(
            failed
                .first()
                .is_some_and(|s| s.starts_with("numeric: training_loss_max_rel_diff")),
            "{label}: {checks:?}"
        );
    }
}

#[test]
fn greedy_decode_agrees_with_litgpt_generate() {
    // Tokens litgpt 0.4.0 + bitsandbytes 0.49.2 generated on CPU (tests/fixtures/litgpt-generate.json).
    let path = common::recorded("litgpt-generate.json");
    let real: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let check = |run: &Value| {
        let artifacts = tempfile::tempdir().unwrap();
        std::fs::write(
            artifacts.path().join("litgpt-generate.json"),
            run.to_string(),
        )
        .unwrap();
        oracle::compare(
            Oracle::Generation,
            &checkpoint(),
            artifacts.path(),
            &json!({}),
        )
    };
    let checks = check(&real);
    assert_all_ok(&checks, 1);
    let model = checkpoint()
        .model(
            BaseWeights::Nf4 {
                blocksize: 64,
                double_quant: false,
            },
            None,
        )
        .unwrap();
    let prompt: Vec<u32> = serde_json::from_value(real["prompt"].clone()).unwrap();
    let ours: Vec<u32> = qcompat_engine::oracle::generate::greedy(&model, &prompt, 8)
        .unwrap()
        .into_iter()
        .map(|(token, _)| token)
        .collect();
    assert_eq!(json!(ours), real["tokens"], "all 8 tokens, no tie forgiven");
    // A stack that decodes something else: the first token replaced by the engine's least likely one.
    let steps = qcompat_engine::oracle::generate::greedy(&model, &prompt, 1).unwrap();
    let worst = steps[0]
        .1
        .iter()
        .enumerate()
        .fold(
            (0, f32::INFINITY),
            |w, (i, &v)| if v < w.1 { (i, v) } else { w },
        )
        .0;
    let mut wrong = real.clone();
    wrong["tokens"][0] = json!(worst);
    let checks = check(&wrong);
    assert_eq!(
        checks[0].signature(),
        "numeric: greedy_tokens_contradicted beyond tolerance 0 of the built-in reference"
    );
}
