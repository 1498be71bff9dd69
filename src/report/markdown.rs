//! The Markdown summary of a run or snapshot, for `$GITHUB_STEP_SUMMARY` and pull-request comments: a headline of
//! counts, the grid of cells × probes, known issues that may be fixed upstream, and the signatures in `<details>`.

use std::fmt::Write;
use std::io::Write as _;

use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::results::{RunReport, signature_mark};

pub fn render(report: &RunReport) -> String {
    let mut out = format!("### qcompat · {}\n\n", code(&report.matrix));
    let regressions = report
        .cells
        .iter()
        .flat_map(|c| &c.probes)
        .filter(|p| p.outcome.is_regression())
        .count();
    let headline = match regressions {
        0 => "no regressions".to_string(),
        1 => "**1 regression**".to_string(),
        n => format!("**{n} regressions**"),
    };
    let counts: Vec<String> = report
        .summary
        .iter()
        .map(|(outcome, n)| format!("{n} {outcome}"))
        .collect();
    let _ = writeln!(out, "{headline} · {}\n", counts.join(" · "));

    let probes: Vec<&str> = report
        .cells
        .first()
        .map(|c| c.probes.iter().map(|p| p.name.as_str()).collect())
        .unwrap_or_default();
    let groups = report.signature_groups();
    let _ = writeln!(out, "| cell | {} |", probes.join(" | "));
    let _ = writeln!(out, "| --- |{}", " --- |".repeat(probes.len()));
    for cell in &report.cells {
        let outcomes: Vec<String> = cell
            .probes
            .iter()
            .map(|probe| {
                let reference = signature_mark(&groups, probe);
                let swapped = if probe.substitutions.is_empty() {
                    ""
                } else {
                    "\\*"
                };
                format!("{}{swapped}{reference}", outcome_badge(probe.outcome))
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} |",
            code(&cell.key_string()),
            outcomes.join(" | ")
        );
    }

    let fixed = super::fixed_upstream(report);
    if !fixed.is_empty() {
        out.push_str("\n**Fixed upstream?** These passed inside a known issue's window; once they stay fixed, drop the ");
        out.push_str("`[[known]]` entry:\n\n");
        for (key, probe, known) in fixed {
            let _ = writeln!(out, "- {} {probe}: known issue {}", code(&key), code(known));
        }
    }

    if !groups.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Signatures ({})</summary>\n",
            groups.len()
        );
        for (i, group) in groups.iter().enumerate() {
            let at = group
                .frame
                .map(|f| format!(" at {}", code(f)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{}. {} {}{at}",
                i + 1,
                outcome_badge(group.outcome),
                code(group.signature)
            );
            for (cell, probe) in &group.hits {
                let known = probe
                    .known
                    .as_deref()
                    .map(|k| format!(" (known: {})", code(k)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "   - {} {}{known}",
                    code(&cell.key_string()),
                    probe.name
                );
            }
        }
        out.push_str("\n</details>\n");
    }

    let mut substitutions: Vec<&String> = report
        .cells
        .iter()
        .flat_map(|c| &c.probes)
        .flat_map(|p| &p.substitutions)
        .collect();
    substitutions.sort();
    substitutions.dedup();
    if !substitutions.is_empty() {
        out.push_str("\n\\* ran with substitutions on this machine:\n\n");
        for s in substitutions {
            let _ = writeln!(out, "- {s}");
        }
    }
    out
}

/// Appends the summary to `$GITHUB_STEP_SUMMARY` when GitHub Actions set it, so a CI run shows it without a step.
pub fn append_to_step_summary(report: &RunReport) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    file.write_all(format!("{}\n", render(report)).as_bytes())
        .map_err(|e| Error::io(&path, e))
}

/// An inline code span that survives backticks inside (resolver messages quote names with them).
pub fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// An outcome with a colored mark, readable without the color too.
pub fn outcome_badge(outcome: Outcome) -> String {
    let mark = match outcome {
        Outcome::Pass => "🟢",
        Outcome::Xfail => "🟡",
        Outcome::Xpass => "🟣",
        Outcome::Fail | Outcome::Crash | Outcome::Timeout => "🔴",
        Outcome::NeedsCuda | Outcome::Unresolvable => "⚪",
        Outcome::InstallError => "🔵",
    };
    format!("{mark} {outcome}")
}
