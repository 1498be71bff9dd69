//! The engine's checks of LitGPT's own finetune command (`litgpt-finetune`, `litgpt-finetune-config`) on artifacts
//! recorded from real runs (tests/fixtures/): litgpt 0.5.5 + bitsandbytes 0.50.2 + torch 2.5.1 on CPU, once as it
//! should be and once with bitsandbytes' CPU NF4 table cached in bfloat16 (its first use fell under Lightning's
//! bfloat16 init context, before the probes guarded against that).

mod common;

use candle_core::{Device, Tensor};
use qcompat_engine::model::BaseWeights;
use qcompat_engine::oracle::finetune::{self, STEP0_LOSS_RELATIVE_TOLERANCE, Step0};
use qcompat_engine::oracle::{self, NumericCheck, Oracle};
use qcompat_engine::train::{self, CheckpointDir, TrainingBatch};
use serde_json::json;

fn checkpoint() -> CheckpointDir {
    oracle::fixture_checkpoint(&common::checkpoints()).unwrap()
}

fn step0(name: &str) -> Step0 {
    serde_json::from_str(&std::fs::read_to_string(common::recorded(name)).unwrap()).unwrap()
}

/// The checks of a probe whose artifacts are `step0` and the NF4 codes in `codes` (under the probe's file names).
fn checks(probe: &'static str, step0: Option<&Step0>, codes: Option<&str>) -> Vec<NumericCheck> {
    let artifacts = tempfile::tempdir().unwrap();
    if let Some(step0) = step0 {
        let value = json!({"inputs": step0.inputs, "targets": step0.targets, "loss": step0.loss});
        std::fs::write(
            artifacts.path().join(format!("{probe}.step0.json")),
            value.to_string(),
        )
        .unwrap();
    }
    if let Some(codes) = codes {
        std::fs::copy(
            common::recorded(codes),
            artifacts.path().join(format!("{probe}.nf4.pth")),
        )
        .unwrap();
    }
    oracle::compare(
        Oracle::FinetuneCommand { prefix: probe },
        &checkpoint(),
        artifacts.path(),
        &json!({}),
    )
}

fn failing(checks: &[NumericCheck]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| !c.ok)
        .map(NumericCheck::signature)
        .collect()
}

#[test]
fn a_real_finetune_run_agrees_with_the_engine() {
    for probe in ["litgpt-finetune", "litgpt-finetune-config"] {
        let checks = checks(
            probe,
            Some(&step0("litgpt-finetune.step0.json")),
            Some("litgpt-finetune.nf4.pth"),
        );
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "nf4_weights_unmatched",
                "nf4_code_bytes_differing_fraction",
                "nf4_absmax_max_abs_diff",
                "step0_loss_rel_diff"
            ]
        );
        assert!(failing(&checks).is_empty(), "{checks:?}");
    }
}

/// bitsandbytes' CPU backend built its NF4 table in bfloat16: about 1% of the codes differ and the step-0 loss moves;
/// both checks see it.
#[test]
fn codes_from_a_bfloat16_nf4_table_fail_both_checks() {
    let failed = failing(&checks(
        "litgpt-finetune",
        Some(&step0("litgpt-finetune.bf16-table.step0.json")),
        Some("litgpt-finetune.bf16-table.nf4.pth"),
    ));
    assert_eq!(
        failed,
        [
            "numeric: nf4_code_bytes_differing_fraction beyond tolerance 0.0001 of the built-in reference",
            "numeric: step0_loss_rel_diff beyond tolerance 0.0001 of the built-in reference",
        ]
    );
}

/// A stack that skipped quantization computes the step-0 loss of the dense base: the engine's own dense loss on the
/// recorded batch stands in for it.
#[test]
fn a_step0_loss_without_quantization_fails() {
    let real = step0("litgpt-finetune.step0.json");
    let targets: Vec<Vec<u32>> = real
        .targets
        .iter()
        .map(|row| row.iter().map(|&t| u32::try_from(t).unwrap()).collect())
        .collect();
    let batch = TrainingBatch {
        inputs: Tensor::new(real.inputs.clone(), &Device::Cpu).unwrap(),
        targets: Tensor::new(targets, &Device::Cpu).unwrap(),
    };
    let dense = checkpoint().model(BaseWeights::Dense, None).unwrap();
    let loss = train::loss(&dense, &batch)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let engine_nf4 = finetune::step0_loss(&checkpoint(), &real).unwrap();
    let moved = (f64::from(loss) - engine_nf4).abs() / engine_nf4;
    assert!(
        moved > STEP0_LOSS_RELATIVE_TOLERANCE,
        "dense moves the loss by only {moved}"
    );
    let unquantized = Step0 {
        loss: f64::from(loss),
        ..real
    };
    assert_eq!(
        failing(&checks(
            "litgpt-finetune",
            Some(&unquantized),
            Some("litgpt-finetune.nf4.pth")
        )),
        ["numeric: step0_loss_rel_diff beyond tolerance 0.0001 of the built-in reference"]
    );
}

#[test]
fn a_finetune_probe_without_its_artifacts_fails() {
    assert_eq!(
        failing(&checks("litgpt-finetune-config", None, None)),
        [
            "numeric: no artifact litgpt-finetune-config.nf4.pth (missing)",
            "numeric: no artifact litgpt-finetune-config.step0.json (missing)",
        ]
    );
}
