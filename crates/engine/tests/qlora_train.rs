//! The engine's training oracle for qlora-train (`oracle::mlp_replay`) on the fixture checkpoint, against a replay
//! that lightning 2.3.0.dev20240428 + bitsandbytes 0.49.2 + torch 2.3.0 exported on CPU (tests/fixtures/).

mod common;

use std::path::PathBuf;

use qcompat_engine::oracle::mlp_replay;
use qcompat_engine::oracle::replay::{Deviation, Replay};
use qcompat_engine::oracle::{self, CheckKind, NumericCheck, Oracle};
use qcompat_engine::train::CheckpointDir;
use serde_json::json;

fn checkpoint() -> CheckpointDir {
    oracle::fixture_checkpoint(&common::checkpoints()).unwrap()
}

fn replay_path() -> PathBuf {
    common::recorded("qlora-train.replay.json")
}

fn real_replay() -> Replay {
    serde_json::from_str(&std::fs::read_to_string(replay_path()).unwrap()).unwrap()
}

/// The checks `compare` makes of a passing qlora-train probe whose artifact folder holds `run` (or nothing).
fn checks(checkpoint: &CheckpointDir, run: Option<&Replay>) -> Vec<NumericCheck> {
    let artifacts = tempfile::tempdir().unwrap();
    if let Some(run) = run {
        std::fs::write(
            artifacts.path().join(mlp_replay::REPLAY_FILE),
            serde_json::to_string(run).unwrap(),
        )
        .unwrap();
    }
    oracle::compare(
        Oracle::QloraTrainReplay,
        checkpoint,
        artifacts.path(),
        &json!({}),
    )
}

/// The three measures the oracle makes of a replay, in order.
const MEASURES: [&str; 3] = [
    "initial_loss_rel_diff",
    "training_loss_max_rel_diff",
    "lora_update_rel_diff",
];

#[test]
fn the_real_run_replays_within_tolerance() {
    let checks = checks(&checkpoint(), Some(&real_replay()));
    let made: Vec<(CheckKind, &str)> = checks.iter().map(|c| (c.kind, c.name.as_str())).collect();
    assert_eq!(made, MEASURES.map(|name| (CheckKind::Tolerance, name)));
    for check in &checks {
        assert!(check.ok, "{check:?}");
    }
}

#[test]
fn a_missing_replay_is_a_failing_check() {
    let checks = checks(&checkpoint(), None);
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(
        (checks[0].kind, checks[0].name.as_str(), checks[0].ok),
        (
            CheckKind::NoArtifact,
            "qlora-train.replay.json (missing)",
            false
        )
    );
    assert_eq!(
        checks[0].signature(),
        "numeric: no artifact qlora-train.replay.json (missing)"
    );
}

/// Which measures each mutation of [`Deviation::mutations`] must fail, by label (values measured: see
/// `oracle::mlp_replay`'s tolerances). Skipping quantization moves the loss curve by less than AdamW's noise, so only
/// step 0 and the update see it; a gradient scaled by 1e-4 leaves AdamW's update as it was, so only the curve does.
fn expected_failures(label: &str) -> &'static [&'static str] {
    match label {
        "LoRA gradient zeroed" | "learning rate x10" | "learning rate x0.1" => {
            &["training_loss_max_rel_diff", "lora_update_rel_diff"]
        }
        "LoRA gradient scaled by 1e-4" => &["training_loss_max_rel_diff"],
        "quantization skipped" => &["initial_loss_rel_diff", "lora_update_rel_diff"],
        "uniform 4-bit codebook instead of NF4" => &MEASURES,
        other => panic!("no expectation for the mutation {other:?}"),
    }
}

/// Each mutation is a stack that trains wrongly: the engine runs the probe's steps with it, and its loss curve and
/// trained adapters stand in for the probe's. Every one must turn the real run's pass into a numeric failure of the
/// measures it moves, each check made (none of them a missing artifact).
#[test]
fn the_training_oracle_catches_each_mutation() {
    let checkpoint = checkpoint();
    let run = real_replay();
    for (label, deviation) in Deviation::mutations() {
        let mutated = mlp_replay::replay(&checkpoint, &run, deviation).unwrap();
        let broken = Replay {
            loss: mutated.loss,
            trained: mutated.trained,
            ..run.clone()
        };
        let checks = checks(&checkpoint, Some(&broken));
        let made: Vec<(CheckKind, &str)> =
            checks.iter().map(|c| (c.kind, c.name.as_str())).collect();
        assert_eq!(
            made,
            MEASURES.map(|name| (CheckKind::Tolerance, name)),
            "{label}"
        );
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(failed, expected_failures(label), "{label}: {checks:?}");
    }
}

#[test]
fn the_builtin_row_has_the_base_models_initial_loss() {
    let checkpoint = checkpoint();
    let run = real_replay();
    let metrics = oracle::reference_metrics(Oracle::QloraTrainReplay, &checkpoint)
        .unwrap()
        .unwrap();
    let initial = metrics["initial_loss"].as_f64().unwrap();
    // B is zero before the first step: the replay's first loss is the base model's, whatever A is.
    let replayed = mlp_replay::replay(&checkpoint, &run, Deviation::default()).unwrap();
    assert_eq!(initial, replayed.loss[0]);
    let probe = run.loss[0];
    assert!(
        (probe - initial).abs() / initial <= mlp_replay::INITIAL_LOSS_RELATIVE_TOLERANCE,
        "probe {probe}, engine {initial}"
    );
}
