//! The Markdown summary of a run or snapshot, for `$GITHUB_STEP_SUMMARY` and pull-request comments: a headline of
//! counts, the grid of cells × probes, known issues that may be fixed upstream, and the signatures in `<details>`.

use std::fmt::Write;

use super::view::View;
use crate::render::markdown::{code, outcome_badge, table};

pub fn render(view: &View<'_>) -> String {
    let mut out = format!("### qcompat · {}\n\n", code(view.matrix));
    let headline = match view.regressions {
        0 => "no regressions".to_string(),
        1 => "**1 regression**".to_string(),
        n => format!("**{n} regressions**"),
    };
    let _ = writeln!(out, "{headline} · {}\n", view.count_phrases().join(" · "));
    for line in &view.headline {
        let _ = writeln!(out, "- {}", line.text);
    }
    if !view.headline.is_empty() {
        out.push('\n');
    }
    write_grid(&mut out, view);
    write_contrasts(&mut out, view);
    write_fixed_upstream(&mut out, view);
    write_signatures(&mut out, view);
    if !view.substitutions.is_empty() {
        out.push_str("\n\\* ran with substitutions on this machine:\n\n");
        for s in &view.substitutions {
            let _ = writeln!(out, "- {s}");
        }
    }
    out
}

fn write_grid(out: &mut String, view: &View<'_>) {
    let header: Vec<&str> = std::iter::once("cell")
        .chain(view.probes.iter().copied())
        .collect();
    let rows: Vec<Vec<String>> = view
        .rows
        .iter()
        .map(|row| {
            let outcomes = row.probes.iter().map(|probe| match probe {
                None => "–".to_string(),
                Some(probe) => {
                    let swapped = if probe.substitutions.is_empty() {
                        ""
                    } else {
                        "\\*"
                    };
                    format!(
                        "{}{swapped}{}",
                        outcome_badge(probe.outcome),
                        view.mark(probe)
                    )
                }
            });
            std::iter::once(code(&row.cell.key.to_string()))
                .chain(outcomes)
                .collect()
        })
        .collect();
    out.push_str(&table(&header, &rows));
}

fn write_contrasts(out: &mut String, view: &View<'_>) {
    if view.contrasts.is_empty() {
        return;
    }
    out.push_str("\n**Specific to quantization.** The unquantized control passes where quantized probes fail:\n\n");
    for contrast in &view.contrasts {
        let _ = writeln!(
            out,
            "- {}: {}",
            code(&contrast.cell.key.to_string()),
            contrast.describe()
        );
    }
}

fn write_fixed_upstream(out: &mut String, view: &View<'_>) {
    if view.fixed_upstream.is_empty() {
        return;
    }
    out.push_str("\n**Fixed upstream?** These passed inside a known issue's window; once they stay fixed, drop the ");
    out.push_str("`[[known]]` entry:\n\n");
    for hit in &view.fixed_upstream {
        let known = hit.probe.known.as_deref().unwrap_or("?");
        let _ = writeln!(
            out,
            "- {} {}: known issue {}",
            code(&hit.cell.key.to_string()),
            hit.probe.name,
            code(known)
        );
    }
}

fn write_signatures(out: &mut String, view: &View<'_>) {
    if view.groups.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n<details><summary>Signatures ({})</summary>\n",
        view.groups.len()
    );
    for (i, group) in view.groups.iter().enumerate() {
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
        if let Some(hint) = group.hint {
            let _ = writeln!(out, "   - **hint:** {hint}");
        }
        for hit in &group.hits {
            let known = hit
                .probe
                .known
                .as_deref()
                .map(|k| format!(" (known: {})", code(k)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "   - {} {}{known}",
                code(&hit.cell.key.to_string()),
                hit.probe.name
            );
        }
        if let Some(log) = group.log() {
            let _ = writeln!(out, "   - log: {}", code(log));
        }
    }
    out.push_str("\n</details>\n");
}
