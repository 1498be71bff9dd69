//! The terminal table: one row per cell, one column per probe, then the signatures with the cells they hit and the
//! known issues that may be fixed upstream.

use std::fmt::Write;

use crate::outcome::Outcome;
use crate::results::{RunReport, signature_mark};

const REFERENCE_LABEL: &str = "builtin reference";

/// `name=value` pairs with floats to 4 significant digits: a reference row meant to be read, not parsed.
fn compact(metrics: &serde_json::Value) -> String {
    let number = |v: &serde_json::Value| match v.as_f64() {
        Some(f) if v.is_f64() => format!("{f:.4}"),
        _ => v.to_string(),
    };
    let Some(map) = metrics.as_object() else {
        return metrics.to_string();
    };
    map.iter()
        .map(|(name, value)| match value.as_array() {
            Some(list) => format!(
                "{name}=[{}]",
                list.iter().map(number).collect::<Vec<_>>().join(", ")
            ),
            None => format!("{name}={}", number(value)),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders the table; `color` adds ANSI colors to outcomes (only on a terminal, and never with NO_COLOR).
pub fn render(report: &RunReport, color: bool) -> String {
    let mut out = String::new();
    let probes: Vec<&str> = report
        .cells
        .first()
        .map(|c| c.probes.iter().map(|p| p.name.as_str()).collect())
        .unwrap_or_default();
    let keys: Vec<String> = report.cells.iter().map(|c| c.key_string()).collect();
    let label_width = if report.reference.is_some() {
        REFERENCE_LABEL.len()
    } else {
        4
    };
    let key_width = keys
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(label_width);
    let groups = report.signature_groups();

    let _ = write!(out, "{:key_width$}", "cell");
    for probe in &probes {
        let _ = write!(out, "  {probe:16}");
    }
    out.push('\n');
    if let Some(reference) = &report.reference {
        let _ = write!(out, "{REFERENCE_LABEL:key_width$}");
        for probe in &probes {
            let mark = if reference.metrics.contains_key(*probe) {
                "reference"
            } else {
                "-"
            };
            let _ = write!(out, "  {mark:16}");
        }
        out.push('\n');
    }
    for (cell, key) in report.cells.iter().zip(&keys) {
        let _ = write!(out, "{key:key_width$}");
        for probe in &cell.probes {
            let reference = signature_mark(&groups, probe);
            let swapped = if probe.substitutions.is_empty() {
                ""
            } else {
                "*"
            };
            let text = format!("{}{swapped}{reference}", probe.outcome);
            let _ = write!(
                out,
                "  {}",
                paint(&format!("{text:16}"), probe.outcome, color)
            );
        }
        out.push('\n');
    }

    if !groups.is_empty() {
        out.push_str("\nsignatures:\n");
        for (i, group) in groups.iter().enumerate() {
            let _ = write!(out, "[{}] {} {}", i + 1, group.outcome, group.signature);
            if let Some(frame) = group.frame {
                let _ = write!(out, "\n    at {frame}");
            }
            let _ = writeln!(out, "\n    {} probe run(s):", group.hits.len());
            for (cell, probe) in &group.hits {
                let known = probe
                    .known
                    .as_deref()
                    .map(|k| format!(" (known: {k})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "      {} {}{known}", cell.key_string(), probe.name);
            }
        }
    }

    let fixed = super::fixed_upstream(report);
    if !fixed.is_empty() {
        out.push_str("\nfixed upstream? these passed inside a known issue's window (drop its [[known]] entry once it stays fixed):\n");
        for (key, probe, known) in fixed {
            let _ = writeln!(out, "    {key} {probe} (known: {known})");
        }
    }

    let substitutions: Vec<&String> = {
        let mut all: Vec<&String> = report
            .cells
            .iter()
            .flat_map(|c| &c.probes)
            .flat_map(|p| &p.substitutions)
            .collect();
        all.sort();
        all.dedup();
        all
    };
    if !substitutions.is_empty() {
        out.push_str("\n* ran with substitutions on this machine:\n");
        for s in substitutions {
            let _ = writeln!(out, "    {s}");
        }
    }

    if let Some(reference) = &report.reference {
        let _ = writeln!(
            out,
            "\n{REFERENCE_LABEL}: {}, checked against every passing cell:",
            reference.engine
        );
        for (probe, metrics) in &reference.metrics {
            let _ = writeln!(out, "    {probe}: {}", compact(metrics));
        }
    }

    let summary: Vec<String> = report
        .summary
        .iter()
        .map(|(o, n)| format!("{n} {o}"))
        .collect();
    let _ = writeln!(out, "\nsummary: {}", summary.join(", "));
    // Columns are padded for alignment; trailing padding is noise in logs and diffs.
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn paint(text: &str, outcome: Outcome, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match outcome {
        Outcome::Pass | Outcome::Xfail => "32",
        Outcome::Fail | Outcome::Crash | Outcome::Timeout => "31",
        Outcome::Xpass => "35",
        Outcome::NeedsCuda | Outcome::Unresolvable => "33",
        Outcome::InstallError => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
