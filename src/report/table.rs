//! The terminal table: one row per cell, one column per probe, then the signatures with the cells they hit, the
//! known issues that may be fixed upstream, the substitutions, the runs forked from a preloaded interpreter and the
//! reference row.

use std::fmt::Write;

use super::view::View;
use crate::outcome::Outcome;
use crate::probe::preload::ProbeInterpreter;
use crate::results::Reference;

const REFERENCE_LABEL: &str = "builtin reference";
/// Width of a probe column (at least; a longer probe name widens its column); longer outcomes push the rest of the
/// row right rather than being cut.
const COLUMN: usize = 16;

/// Renders the table; `color` adds ANSI colors to outcomes (only on a terminal, and never with NO_COLOR).
pub fn render(view: &View<'_>, color: bool) -> String {
    let mut out = String::new();
    write_grid(&mut out, view, color);
    if !view.headline.is_empty() {
        out.push_str("\nalong each axis:\n");
        for line in &view.headline {
            let _ = writeln!(out, "    {line}");
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
    let keys: Vec<String> = view.rows.iter().map(|r| r.cell.key.to_string()).collect();
    let label_width = if view.reference.is_some() {
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

    // A probe name longer than the column widens its own column, so every row stays under its header.
    let widths: Vec<usize> = view.probes.iter().map(|p| p.len().max(COLUMN)).collect();
    let _ = write!(out, "{:key_width$}", "cell");
    for (probe, width) in view.probes.iter().zip(&widths) {
        let _ = write!(out, "  {probe:width$}");
    }
    out.push('\n');
    if let Some(reference) = view.reference {
        let _ = write!(out, "{REFERENCE_LABEL:key_width$}");
        for (probe, width) in view.probes.iter().zip(&widths) {
            let mark = if reference.metrics.contains_key(*probe) {
                "reference"
            } else {
                "-"
            };
            let _ = write!(out, "  {mark:width$}");
        }
        out.push('\n');
    }
    for (row, key) in view.rows.iter().zip(&keys) {
        let _ = write!(out, "{key:key_width$}");
        for (probe, width) in row.probes.iter().zip(&widths) {
            let width = *width;
            let Some(probe) = probe else {
                let _ = write!(out, "  {:width$}", "-");
                continue;
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
            let text = format!("{}{swapped}{forked}{}", probe.outcome, view.mark(probe));
            let _ = write!(
                out,
                "  {}",
                paint(&format!("{text:width$}"), probe.outcome, color)
            );
        }
        out.push('\n');
    }
}

fn write_signatures(out: &mut String, view: &View<'_>) {
    if view.groups.is_empty() {
        return;
    }
    out.push_str("\nsignatures:\n");
    for (i, group) in view.groups.iter().enumerate() {
        let _ = write!(out, "[{}] {} {}", i + 1, group.outcome, group.signature);
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
