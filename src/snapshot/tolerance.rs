//! How far a recorded metric may move before `run --check` and `qcompat diff` call it a change.
//!
//! The same versions give slightly different floats on another CPU (a reduction summed in another order by other
//! vector instructions, a bf16 value one rounding step apart, an AdamW step that turns a near-zero gradient of either
//! sign into a full-size one), and could on another thread count. A committed snapshot must check on any machine, so
//! every float is compared within a relative tolerance measured from repeated runs, one per probe and metric in
//! [`TABLE`]; integers (token ids, counts), strings and booleans compare exactly, lists and tables item by item.

use serde_json::Value;

use super::{Snapshot, SnapshotProbe};

/// A snapshot keeps 4 significant digits, so two records of one true value can differ by one unit in the last digit:
/// at most 1e-3 relative (1.000 against 1.001). No tolerance is tighter; the engine's own checks (`checks` in a
/// run's JSON) judge the probes' numbers at full precision.
pub const RECORD_RESOLUTION: f64 = 1e-3;

/// For a float metric the table does not name (a new metric, a user-defined probe): 1%, ten times the record's
/// resolution and more than one step of a bf16 value (at most 7.8e-3), so a probe's bf16 metric survives the one-step
/// flip measured on litgpt-qlora; every other spread measured is under 2.6e-4. Still a fraction of what a real
/// numeric change moves (a LoRA gradient scaled by 1e-4 moves qlora-train's loss by 1.8e-2).
pub const DEFAULT_RELATIVE: f64 = 1e-2;

/// One metric's relative tolerance, with the measurement behind it.
struct MetricTolerance {
    probe: &'static str,
    metric: &'static str,
    relative: f64,
}

/// Measured on one 2-core Sapphire Rapids (AVX-512, AMX) with the committed matrices (`docs/snapshot.md` has the
/// commands), each number the largest relative difference over every cell that records the metric:
/// - threads: runs with torch's intra-op threads 1, 2 and 4 (`OMP_NUM_THREADS`, `MKL_NUM_THREADS`,
///   `MKL_DYNAMIC=FALSE`), forked and `--isolate`d;
/// - cpu: this CPU against itself restricted to AVX2, and to AVX-512 without bf16/AMX (`ATEN_CPU_CAPABILITY`,
///   `ONEDNN_MAX_CPU_ISA`, `MKL_ENABLE_INSTRUCTIONS`): the float rounding of other CPUs;
/// - committed: this machine's values against the committed snapshots (recorded on another machine), then both
///   rounded to 4 digits as a check compares them.
///
/// Each tolerance is about 3x the largest, never under [`RECORD_RESOLUTION`] (which tolerates any noise under one
/// unit in the recorded last digit). Integer metrics (`quantized_weights`, `tokens`, `cases`) need no entry.
const TABLE: &[MetricTolerance] = &[
    // threads 0, cpu 0, committed 1.9e-4 (rounded 0): the same NF4 codes everywhere.
    entry("checkpoint-load", "max_abs_err", RECORD_RESOLUTION),
    entry("checkpoint-load", "max_abs_err_dq", RECORD_RESOLUTION),
    // threads 0, cpu 0, committed 2.9e-5 and 1.3e-5 (rounded 0).
    entry("checkpoint-load", "err_to_bound", RECORD_RESOLUTION),
    entry("checkpoint-load", "err_to_bound_dq", RECORD_RESOLUTION),
    // threads 0, cpu 1.4e-4, committed 1.7e-4 (rounded 2.5e-4: 4.162 → 4.161 at step 6); the lightning matrix
    // restricted to AVX2 against its committed snapshot 8.5e-5 (rounded 0).
    entry("qlora-train", "loss", RECORD_RESOLUTION),
    // threads 0, cpu 1.3e-5, committed 3.8e-5 (rounded 0); lightning under AVX2 2.0e-5.
    entry("qlora-train", "adapter_max_delta", RECORD_RESOLUTION),
    // threads 0, cpu 8.3e-5, committed 1.4e-4 (rounded 2.1e-4).
    entry("litgpt-qlora", "loss", RECORD_RESOLUTION),
    // A largest |update| of bf16 parameters: it moves by whole bf16 steps, 2^-8 to 2^-7 (3.9e-3 to 7.8e-3) of
    // the value. threads 0, cpu 4.0e-3, committed 4.0e-3 (0.06079 → 0.06104): one step in every cell that moved.
    // Three steps wherever the value falls.
    entry("litgpt-qlora", "adapter_max_delta", 2.5e-2),
    // threads 0, cpu 0, committed 2.0e-5 (rounded 0).
    entry("litgpt-qlora", "ref_loss_f32", RECORD_RESOLUTION),
    // threads 0, cpu 0, committed 9.4e-5 and 2.5e-4 (rounded 0).
    entry("lora-train", "step0_loss", RECORD_RESOLUTION),
    entry("lora-train", "adapter_max_delta", RECORD_RESOLUTION),
    // threads 0, cpu 0, committed 9.2e-5 and 1.5e-4 (rounded 0).
    entry("litgpt-finetune", "step0_loss", RECORD_RESOLUTION),
    entry("litgpt-finetune", "adapter_max_delta", RECORD_RESOLUTION),
    entry("litgpt-finetune-config", "step0_loss", RECORD_RESOLUTION),
    entry(
        "litgpt-finetune-config",
        "adapter_max_delta",
        RECORD_RESOLUTION,
    ),
];

const fn entry(probe: &'static str, metric: &'static str, relative: f64) -> MetricTolerance {
    MetricTolerance {
        probe,
        metric,
        relative,
    }
}

/// The relative tolerance of `probe`'s float metric `metric`.
pub fn relative_tolerance(probe: &str, metric: &str) -> f64 {
    TABLE
        .iter()
        .find(|t| t.probe == probe && t.metric == metric)
        .map_or(DEFAULT_RELATIVE, |t| t.relative)
}

/// How one metric of a probe compares between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// Equal, or every float in it within the tolerance: the same result.
    Within,
    /// A change a reviewer must see, and why it is one (`relative change 6.7e-2, tolerance 1e-2`).
    Beyond(String),
}

/// Compares `probe`'s metric `metric` as recorded (`old`) and as run again (`new`); absent on one side is a change.
pub fn compare(probe: &str, metric: &str, old: Option<&Value>, new: Option<&Value>) -> Comparison {
    let (old, new) = match (old, new) {
        (None, None) => return Comparison::Within,
        (Some(old), Some(new)) => (old, new),
        _ => return Comparison::Beyond("recorded on one side only".into()),
    };
    let tolerance = relative_tolerance(probe, metric);
    match largest_change(old, new, "") {
        Err(why) => Comparison::Beyond(why),
        Ok(None) => Comparison::Within,
        Ok(Some((change, _))) if change <= tolerance => Comparison::Within,
        Ok(Some((change, at))) => Comparison::Beyond(
            located(&format!("relative change {change:.1e}"), &at)
                + &format!(", tolerance {tolerance:e}"),
        ),
    }
}

/// The largest relative change between the floats of two values of one shape, and where it is (`[6]` in a list);
/// Err when they differ in what no tolerance covers: an integer, a string, a list's length, a table's fields.
fn largest_change(old: &Value, new: &Value, at: &str) -> Result<Option<(f64, String)>, String> {
    let items: Vec<(String, &Value, &Value)> = match (old, new) {
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (a, b) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            let change = if a == b {
                0.0
            } else {
                (a - b).abs() / a.abs().max(b.abs())
            };
            return Ok(Some((change, at.to_string())));
        }
        (Value::Array(a), Value::Array(b)) if a.len() != b.len() => {
            return Err(located(&format!("length {} → {}", a.len(), b.len()), at));
        }
        (Value::Array(a), Value::Array(b)) => (a.iter().zip(b).enumerate())
            .map(|(i, (x, y))| (format!("{at}[{i}]"), x, y))
            .collect(),
        (Value::Object(a), Value::Object(b)) if a.keys().ne(b.keys()) => {
            return Err(located("fields differ", at));
        }
        (Value::Object(a), Value::Object(b)) => (a.iter().zip(b.values()))
            .map(|((field, x), y)| (format!("{at}.{field}"), x, y))
            .collect(),
        (Value::Number(_), Value::Number(_)) if old != new => {
            return Err(located("integers differ (compared exactly)", at));
        }
        _ if old != new => return Err(located("compared exactly", at)),
        _ => return Ok(None),
    };
    let mut largest: Option<(f64, String)> = None;
    for (at, x, y) in items {
        let item = largest_change(x, y, &at)?;
        if item.as_ref().map(|c| c.0) > largest.as_ref().map(|c| c.0) {
            largest = item;
        }
    }
    Ok(largest)
}

/// `what` and, inside a list or table, where (`relative change 8.1e-2 at [6]`).
fn located(what: &str, at: &str) -> String {
    if at.is_empty() {
        what.to_string()
    } else {
        format!("{what} at {at}")
    }
}

/// `fresh` with every metric that is within tolerance of `recorded`'s set back to the recorded value, so a snapshot
/// written on another machine (`--update`, or `--check`'s `.new`) rewrites only what really changed.
pub fn keep_recorded(fresh: &mut Snapshot, recorded: &Snapshot) {
    for cell in &mut fresh.cells {
        let Some(before) = recorded.cell(&cell.key) else {
            continue;
        };
        for probe in &mut cell.probes {
            if let Some(old) = before.probes.iter().find(|p| p.name == probe.name) {
                keep_recorded_metrics(probe, old);
            }
        }
    }
}

fn keep_recorded_metrics(probe: &mut SnapshotProbe, recorded: &SnapshotProbe) {
    for (metric, value) in &mut probe.metrics {
        if let Some(old) = recorded.metrics.get(metric)
            && compare(&probe.name, metric, Some(old), Some(value)) == Comparison::Within
        {
            *value = old.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(metric: &str, old: Value, new: Value) -> Comparison {
        compare("qlora-train", metric, Some(&old), Some(&new))
    }

    #[test]
    fn floats_are_the_same_within_their_tolerance_and_a_change_beyond_it() {
        let tolerance = relative_tolerance("qlora-train", "adapter_max_delta");
        let moved = |factor: f64| check("adapter_max_delta", json!(0.08), json!(0.08 * factor));
        assert_eq!(moved(1.0), Comparison::Within);
        assert_eq!(moved(1.0 + tolerance * 0.9), Comparison::Within);
        assert_eq!(moved(1.0 - tolerance * 0.9), Comparison::Within);
        let Comparison::Beyond(why) = moved(1.0 + tolerance * 1.5) else {
            panic!("1.5x the tolerance is a change");
        };
        assert!(why.starts_with("relative change "), "{why}");
        assert!(
            why.ends_with(&format!(", tolerance {tolerance:e}")),
            "{why}"
        );
    }

    #[test]
    fn what_another_machine_measured_is_as_recorded() {
        // Issue 23: a fresh clone on another machine of the same kind, same versions.
        let loss = |last: f64| json!([4.992, 4.934, 4.841, 4.71, 4.544, 4.354, last, 3.987]);
        assert_eq!(check("loss", loss(4.162), loss(4.161)), Comparison::Within);
        let delta = |v: f64| Some(json!(v));
        assert_eq!(
            compare(
                "litgpt-qlora",
                "adapter_max_delta",
                delta(0.06079).as_ref(),
                delta(0.06104).as_ref()
            ),
            Comparison::Within,
            "one bf16 step"
        );
    }

    #[test]
    fn a_rewrite_keeps_the_recorded_value_of_what_moved_within_tolerance() {
        let snapshot = |loss: f64, delta: f64| Snapshot {
            matrix: "m".into(),
            listed: None,
            part: None,
            cells: vec![super::super::SnapshotCell {
                key: crate::matrix::cell_key::CellKey::new([("torch", "2.3.0")]),
                resolved: Default::default(),
                probes: vec![SnapshotProbe {
                    name: "qlora-train".into(),
                    outcome: crate::outcome::Outcome::Pass,
                    signature: None,
                    frame: None,
                    known: None,
                    substitutions: Vec::new(),
                    declared: false,
                    role: None,
                    tests: Vec::new(),
                    metrics: [
                        ("loss".to_string(), json!([loss])),
                        ("adapter_max_delta".to_string(), json!(delta)),
                    ]
                    .into_iter()
                    .collect(),
                }],
            }],
        };
        let recorded = snapshot(4.162, 0.08);
        let mut fresh = snapshot(4.161, 0.09);
        keep_recorded(&mut fresh, &recorded);
        assert_eq!(
            fresh,
            snapshot(4.162, 0.09),
            "the loss is noise, the update moved"
        );
    }

    #[test]
    fn a_list_is_judged_by_its_item_that_moved_most() {
        let recorded = json!([4.992, 4.934, 4.841, 4.71, 4.544, 4.354, 4.162, 3.987]);
        let noise = json!([4.992, 4.934, 4.841, 4.71, 4.544, 4.354, 4.161, 3.987]);
        assert_eq!(check("loss", recorded.clone(), noise), Comparison::Within);
        let diverged = json!([4.992, 4.934, 4.841, 4.71, 4.544, 4.354, 4.5, 3.987]);
        let Comparison::Beyond(why) = check("loss", recorded.clone(), diverged) else {
            panic!("step 6 moved by 8%");
        };
        assert!(
            why.starts_with("relative change 7.5e-2 at [6], tolerance "),
            "{why}"
        );
        let shorter = json!([4.992, 4.934, 4.841, 4.71, 4.544, 4.354, 4.162]);
        assert_eq!(
            check("loss", recorded, shorter),
            Comparison::Beyond("length 8 → 7".into())
        );
    }

    #[test]
    fn integers_compare_exactly() {
        let tokens = |last: i64| json!([88, 57, 43, 53, 115, 80, 113, last]);
        let compare = |a, b| compare("litgpt-generate", "tokens", Some(&a), Some(&b));
        assert_eq!(compare(tokens(18), tokens(18)), Comparison::Within);
        assert_eq!(
            compare(tokens(18), tokens(19)),
            Comparison::Beyond("integers differ (compared exactly) at [7]".into())
        );
        assert_eq!(
            check("quantized_weights", json!(9), json!(8)),
            Comparison::Beyond("integers differ (compared exactly)".into())
        );
        // A float on either side is a float: 2 and 2.001 are one unit in the 4th digit apart.
        assert_eq!(check("x", json!(2), json!(2.001)), Comparison::Within);
    }

    #[test]
    fn a_metric_recorded_on_one_side_only_is_a_change() {
        let value = json!(0.5);
        let beyond = Comparison::Beyond("recorded on one side only".into());
        assert_eq!(compare("qlora-train", "loss", Some(&value), None), beyond);
        assert_eq!(compare("qlora-train", "loss", None, Some(&value)), beyond);
        assert_eq!(
            compare("qlora-train", "loss", None, None),
            Comparison::Within
        );
    }

    #[test]
    fn strings_and_tables_compare_field_by_field() {
        assert_eq!(
            check("note", json!("a"), json!("b")),
            Comparison::Beyond("compared exactly".into())
        );
        let table = |err: f64| json!({"err": err, "n": 3});
        assert_eq!(check("t", table(0.5), table(0.5001)), Comparison::Within);
        let Comparison::Beyond(why) = check("t", table(0.5), table(0.6)) else {
            panic!("20% is a change");
        };
        assert!(why.starts_with("relative change 1.7e-1 at .err"), "{why}");
        assert_eq!(
            check("t", table(0.5), json!({"err": 0.5})),
            Comparison::Beyond("fields differ".into())
        );
    }

    #[test]
    fn a_metric_the_table_does_not_name_gets_the_default() {
        assert_eq!(relative_tolerance("my-probe", "accuracy"), DEFAULT_RELATIVE);
        assert_eq!(
            check("accuracy", json!(0.9), json!(0.9 * 1.005)),
            Comparison::Within
        );
        assert!(matches!(
            check("accuracy", json!(0.9), json!(0.9 * 1.02)),
            Comparison::Beyond(_)
        ));
    }

    #[test]
    fn the_table_names_catalogue_probes_once_and_never_goes_under_the_record_resolution() {
        for (i, entry) in TABLE.iter().enumerate() {
            assert!(
                crate::probe::catalog::Catalog::builtin()
                    .find(entry.probe)
                    .is_some(),
                "{}",
                entry.probe
            );
            assert!(
                entry.relative >= RECORD_RESOLUTION,
                "{}.{}",
                entry.probe,
                entry.metric
            );
            assert!(
                !TABLE[..i]
                    .iter()
                    .any(|e| (e.probe, e.metric) == (entry.probe, entry.metric)),
                "{}.{} twice",
                entry.probe,
                entry.metric
            );
        }
    }
}
