//! Nothing ran is never a pass: a recorded `skipped` probe through every report format, the headline, the
//! quantization contrast and `diff`, through the real binary.

mod common;

use common::{Scratch, stderr, stdout};

/// One recorded cell of the toy matrix: `toy-load` (quantized) and `toy-plain` (its unquantized control).
fn cell(version: &str, load: &str, plain: &str) -> String {
    let probe = |name: &str, outcome: &str| {
        let signature = match outcome {
            "skipped" => "\nsignature = \"skipped: no GPU on this runner\"",
            "fail" => {
                "\nsignature = \"AttributeError: '_LazyTensor' object has no attribute 'data'\""
            }
            _ => "",
        };
        format!("\n[[cell.probe]]\nname = \"{name}\"\noutcome = \"{outcome}\"{signature}\n")
    };
    format!(
        "\n[[cell]]\nkey = {{ toyquant = \"{version}\" }}\n{}{}",
        probe("toy-load", load),
        probe("toy-plain", plain)
    )
}

fn snapshot(cells: &[(&str, &str, &str)]) -> String {
    let cells: String = cells.iter().map(|(v, l, p)| cell(v, l, p)).collect();
    format!("matrix = \"toy\"\n{cells}")
}

/// `qcompat ARGS`, asserting the exit code; returns stdout.
fn tool(scratch: &Scratch, args: &[&str], code: i32) -> String {
    let output = scratch.command(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}: {}",
        stderr(&output)
    );
    stdout(&output)
}

#[test]
fn a_skipped_probe_shows_in_every_format_and_never_counts_as_passing() {
    let scratch = Scratch::new();
    // 1.0 passes; at 1.1 nothing ran; at 1.2 the quantized probe fails and its control was skipped; at 1.3 the same
    // failure with a control that passed: the only cell specific to quantization.
    scratch.write(
        "s.snap.toml",
        &snapshot(&[
            ("1.0", "pass", "pass"),
            ("1.1", "skipped", "skipped"),
            ("1.2", "fail", "skipped"),
            ("1.3", "fail", "pass"),
        ]),
    );
    let report = |format: &str| tool(&scratch, &["report", "s.snap.toml", "--format", format], 0);

    let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
    assert_eq!(json["summary"]["skipped"], 3, "{}", json["summary"]);
    assert_eq!(json["summary"]["pass"], 3, "{}", json["summary"]);
    assert_eq!(json["cells"][1]["probes"][0]["outcome"], "skipped");

    let table = report("table");
    assert!(table.contains("toyquant=1.1  skipped [1]"), "{table}");
    assert!(
        table.contains("[1] skipped: no GPU on this runner"),
        "{table}"
    );
    assert!(table.contains("3 pass, 2 fail, 3 skipped"), "{table}");
    // Where nothing ran there is no verdict: 1.1 does not extend the passing run.
    assert!(
        table.contains("toyquant: passes up to 1.0, no verdict from 1.1, fails from 1.2"),
        "{table}"
    );
    let contrast: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("toyquant=1."))
        .filter(|l| l.contains("while"))
        .collect();
    assert_eq!(
        contrast,
        ["    toyquant=1.3: toy-load fails while toy-plain passes"],
        "a skipped control is not a passing one:\n{table}"
    );

    let markdown = report("markdown");
    assert!(
        markdown.contains("| `toyquant=1.1` | ⚫ skipped [1] | ⚫ skipped [1] |"),
        "{markdown}"
    );

    let junit = report("junit");
    assert!(
        junit.contains("<skipped message=\"skipped: no GPU on this runner\" type=\"skipped\"/>"),
        "{junit}"
    );
    assert_eq!(junit.matches("<skipped ").count(), 3, "{junit}");
    assert_eq!(junit.matches("<failure ").count(), 2, "{junit}");

    let html = report("html");
    assert!(
        html.contains(
            "<span class=\"swatch o-skipped\"></span>skipped <span class=\"count\">3</span>"
        ),
        "{html}"
    );
    assert_eq!(html.matches("class=\"chip o-skipped").count(), 3);
    assert!(html.contains(".o-skipped { background: var(--skipped); }"));
}

#[test]
fn diff_counts_a_pass_that_stops_running_and_a_skip_that_fails_as_regressions() {
    let scratch = Scratch::new();
    scratch.write(
        "old.snap.toml",
        &snapshot(&[
            ("1.0", "pass", "pass"),
            ("1.1", "skipped", "pass"),
            ("1.2", "skipped", "pass"),
            ("1.3", "fail", "pass"),
        ]),
    );
    scratch.write(
        "new.snap.toml",
        &snapshot(&[
            ("1.0", "skipped", "pass"),
            ("1.1", "fail", "pass"),
            ("1.2", "pass", "pass"),
            ("1.3", "skipped", "pass"),
        ]),
    );
    let json = tool(
        &scratch,
        &["diff", "old.snap.toml", "new.snap.toml", "--format", "json"],
        1,
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let changes: Vec<String> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}: {} -> {}: {}",
                c["cell"].as_str().unwrap(),
                c["probe"].as_str().unwrap(),
                c["old"]["outcome"].as_str().unwrap(),
                c["new"]["outcome"].as_str().unwrap(),
                c["change"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            "toyquant=1.0 toy-load: pass -> skipped: regression",
            "toyquant=1.1 toy-load: skipped -> fail: regression",
            "toyquant=1.2 toy-load: skipped -> pass: outcome",
            "toyquant=1.3 toy-load: fail -> skipped: outcome",
        ]
    );
    assert_eq!(json["summary"]["regressions"], 2);
    assert_eq!(json["summary"]["fixes"], 0, "nothing that ran got fixed");
}
