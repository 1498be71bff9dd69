//! The terminal table: one row per cell, one column per probe, then the signatures with the cells they hit, the
//! known issues that may be fixed upstream, the substitutions, the runs forked from a preloaded interpreter and the
//! reference row.

use std::fmt::Write;

use super::view::View;
use crate::outcome::Outcome;
use crate::probe::protocol::ProbeInterpreter;
use crate::render::{says_outcome, text};
use crate::results::Reference;

const REFERENCE_LABEL: &str = "builtin reference";
/// Width of a probe column at least; a longer probe name or outcome widens its column.
const COLUMN: usize = 16;

/// Renders the table; `color` adds ANSI colors to outcomes (only on a terminal, and never with NO_COLOR).
pub fn render(view: &View<'_>, color: bool) -> String {
    let mut out = String::new();
    write_grid(&mut out, view, color);
    if !view.headline.is_empty() {
        out.push_str("\nalong each axis:\n");
        for line in &view.headline {
            let _ = writeln!(out, "    {}", line.text);
        }
    }
    write_signatures(&mut out, view);
    write_contrasts(&mut out, view);
    write_fixed_upstream(&mut out, view);
    write_substitutions(&mut out, view);
    write_forked(&mut out, view);
    if let Some(reference) = view.reference {
        write_reference(&mut out, reference);
    }
    let _ = writeln!(out, "\nsummary: {}", view.count_phrases().join(", "));
    // Columns are padded for alignment; trailing padding is noise in logs and diffs.
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn write_grid(out: &mut String, view: &View<'_>, color: bool) {
    let rows = grid_rows(view);
    // Every column as wide as its widest entry (at least COLUMN): an `install-error [2]` stays under its header.
    let mut minimum = vec![if view.reference.is_some() {
        REFERENCE_LABEL.len()
    } else {
        4
    }];
    minimum.extend(view.probes.iter().map(|_| COLUMN));
    let widths = text::widths(&rows, &minimum);
    // The header and the reference row come first, then one row per cell of the view, painted by its outcomes.
    let first_cell = rows.len() - view.rows.len();
    for (i, row) in rows.iter().enumerate() {
        let outcomes = (i >= first_cell).then(|| &view.rows[i - first_cell]);
        let mut line = text::pad(&row[0], widths[0]);
        for (c, (entry, width)) in row.iter().zip(&widths).enumerate().skip(1) {
            let padded = text::pad(entry, *width);
            let outcome = outcomes.and_then(|r| r.probes[c - 1]).map(|p| p.outcome);
            line.push_str("  ");
            line.push_str(&match outcome {
                Some(outcome) => paint(&padded, outcome, color),
                None => padded,
            });
        }
        let _ = writeln!(out, "{line}");
    }
}

/// The grid as text: the header, the reference row when there is one, then one row per cell.
fn grid_rows(view: &View<'_>) -> Vec<Vec<String>> {
    let mut rows = vec![
        std::iter::once("cell")
            .chain(view.probes.iter().copied())
            .map(String::from)
            .collect::<Vec<_>>(),
    ];
    if let Some(reference) = view.reference {
        let marks = view.probes.iter().map(|probe| {
            if reference.metrics.contains_key(*probe) {
                "reference"
            } else {
                "-"
            }
        });
        rows.push(
            std::iter::once(REFERENCE_LABEL)
                .chain(marks)
                .map(String::from)
                .collect(),
        );
    }
    for row in &view.rows {
        let outcomes = row.probes.iter().map(|probe| {
            let Some(probe) = probe else {
                return "-".to_string();
            };
            let swapped = if probe.substitutions.is_empty() {
                ""
            } else {
                "*"
            };
            let forked = if probe.interpreter == Some(ProbeInterpreter::Forked) {
                "^"
            } else {
                ""
            };
            format!("{}{swapped}{forked}{}", probe.outcome, view.mark(probe))
        });
        rows.push(
            std::iter::once(row.cell.key.to_string())
                .chain(outcomes)
                .collect(),
        );
    }
    rows
}

fn write_signatures(out: &mut String, view: &View<'_>) {
    if view.groups.is_empty() {
        return;
    }
    out.push_str("\nsignatures:\n");
    for (i, group) in view.groups.iter().enumerate() {
        // `[5] crash: SIGSEGV`, not `[5] crash crash: SIGSEGV`.
        let outcome = if says_outcome(group.outcome, group.signature) {
            String::new()
        } else {
            format!("{} ", group.outcome)
        };
        let _ = write!(out, "[{}] {outcome}{}", i + 1, group.signature);
        if let Some(frame) = group.frame {
            let _ = write!(out, "\n    at {frame}");
        }
        if let Some(hint) = group.hint {
            let _ = write!(out, "\n    hint: {hint}");
        }
        let _ = writeln!(out, "\n    {} probe run(s):", group.hits.len());
        for hit in &group.hits {
            let known = hit
                .probe
                .known
                .as_deref()
                .map(|k| format!(" (known: {k})"))
                .unwrap_or_default();
            let _ = writeln!(out, "      {} {}{known}", hit.cell.key, hit.probe.name);
        }
        if let Some(log) = group.log() {
            let _ = writeln!(out, "    log: {log}");
        }
    }
}

fn write_contrasts(out: &mut String, view: &View<'_>) {
    if view.contrasts.is_empty() {
        return;
    }
    out.push_str(
        "\nspecific to quantization: the unquantized control passes where quantized probes fail:\n",
    );
    for contrast in &view.contrasts {
        let _ = writeln!(out, "    {}: {}", contrast.cell.key, contrast.describe());
    }
}

fn write_fixed_upstream(out: &mut String, view: &View<'_>) {
    if view.fixed_upstream.is_empty() {
        return;
    }
    out.push_str("\nfixed upstream? these passed inside a known issue's window (drop its [[known]] entry once it stays fixed):\n");
    for hit in &view.fixed_upstream {
        let known = hit.probe.known.as_deref().unwrap_or("?");
        let _ = writeln!(
            out,
            "    {} {} (known: {known})",
            hit.cell.key, hit.probe.name
        );
    }
}

fn write_substitutions(out: &mut String, view: &View<'_>) {
    if view.substitutions.is_empty() {
        return;
    }
    out.push_str("\n* ran with substitutions on this machine:\n");
    for s in &view.substitutions {
        let _ = writeln!(out, "    {s}");
    }
}

fn write_forked(out: &mut String, view: &View<'_>) {
    let forked = view
        .rows
        .iter()
        .flat_map(|r| r.probes.iter().flatten())
        .filter(|p| p.interpreter == Some(ProbeInterpreter::Forked))
        .count();
    if forked > 0 {
        let _ = writeln!(
            out,
            "\n^ {forked} probe run(s) forked from a shared preloaded interpreter (--isolate runs every probe fresh)"
        );
    }
}

fn write_reference(out: &mut String, reference: &Reference) {
    let _ = writeln!(
        out,
        "\n{REFERENCE_LABEL}: {}, checked against every passing cell:",
        reference.engine
    );
    for (probe, metrics) in &reference.metrics {
        let _ = writeln!(out, "    {probe}: {}", compact(metrics));
    }
}

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

fn paint(text: &str, outcome: Outcome, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match outcome {
        Outcome::Pass | Outcome::Xfail => "32",
        Outcome::Fail | Outcome::Crash | Outcome::Timeout => "31",
        Outcome::Xpass => "35",
        Outcome::NeedsCuda | Outcome::Unresolvable => "33",
        Outcome::Skipped => "90",
        Outcome::InstallError => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
