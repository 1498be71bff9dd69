//! A bisection as a terminal table, JSON (the contract in docs/cli.md), or Markdown ready to paste into an upstream
//! issue: the window, the failure, how to reproduce each side, the resolved sets, blame and commits.

use std::fmt::Write;
use std::path::Path;

use super::session::{Bisection, Side};
use crate::report::markdown::code;

/// How the bisect was asked for, to print commands that reproduce it.
pub struct Context<'a> {
    /// The bisect command line as typed.
    pub invocation: &'a str,
    pub matrix: &'a Path,
    pub probes: &'a [String],
    /// `--as-of`, so the run commands reproduce the same world.
    pub as_of: Option<&'a str>,
}

/// `lightning: last good 2.3.0.dev20240519, first bad 2.3.0.dev20240526` (or the fix's pair).
fn window(b: &Bisection) -> String {
    let pair = |a: &str, x: &Option<String>, c: &str, y: &Option<String>| {
        format!(
            "{a} {}, {c} {}",
            x.as_deref().unwrap_or("?"),
            y.as_deref().unwrap_or("?")
        )
    };
    let text = match b.direction {
        "fix" => pair("last bad", &b.last_bad, "first good", &b.first_good),
        _ => pair("last good", &b.last_good, "first bad", &b.first_bad),
    };
    format!("{}: {text}", b.axis)
}

pub fn json(bisections: &[Bisection]) -> String {
    let text = match bisections {
        [one] => serde_json::to_string_pretty(one),
        many => serde_json::to_string_pretty(many),
    };
    text.expect("bisections serialize") + "\n"
}

pub fn table(bisections: &[Bisection]) -> String {
    let mut out = String::new();
    for b in bisections {
        write_table(&mut out, b, 0);
    }
    out
}

fn write_table(out: &mut String, b: &Bisection, depth: usize) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}{}", window(b));
    if let Some(signature) = &b.signature {
        let _ = writeln!(out, "{pad}  failure: {signature}");
    }
    if let Some(frame) = &b.frame {
        let _ = writeln!(out, "{pad}  at {frame}");
    }
    if !b.undecided.is_empty() {
        let _ = writeln!(
            out,
            "{pad}  undecided (could not be judged, the boundary may be at any): {}",
            b.undecided.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "{pad}  {} candidates, {} probe runs in {} rounds",
        b.candidates, b.probe_runs, b.rounds
    );
    for step in &b.steps {
        let _ = writeln!(
            out,
            "{pad}    {:<24} {:<5} {}{}",
            step.version,
            step.judgement,
            step.outcome,
            step.signature
                .as_deref()
                .map(|s| format!(": {s}"))
                .unwrap_or_default()
        );
    }
    if !b.blame.is_empty() {
        let _ = writeln!(out, "{pad}  blame (changed with it):");
        for c in &b.blame {
            let _ = writeln!(
                out,
                "{pad}    {} {} -> {}",
                c.package,
                c.from.as_deref().unwrap_or("(none)"),
                c.to.as_deref().unwrap_or("(none)")
            );
        }
    }
    if let Some(commits) = &b.commits {
        let _ = writeln!(
            out,
            "{pad}  commits touching the failing frames' files: {}",
            commits.len()
        );
        for c in commits {
            let _ = writeln!(out, "{pad}    {} {} {}", c.hash, c.date, c.subject);
        }
    }
    if let Some(inner) = &b.recursed {
        let _ = writeln!(out, "{pad}  recursing into {}:", inner.axis);
        write_table(out, inner, depth + 2);
    }
}

pub fn markdown(bisections: &[Bisection], context: &Context<'_>) -> String {
    let mut out = String::new();
    for b in bisections {
        write_markdown(&mut out, b, context, 3);
    }
    let _ = writeln!(out, "Found with:\n\n```sh\n{}\n```", context.invocation);
    out
}

fn write_markdown(out: &mut String, b: &Bisection, context: &Context<'_>, level: usize) {
    let _ = writeln!(out, "{} {}\n", "#".repeat(level), window(b));
    if let Some(signature) = &b.signature {
        let at = b
            .frame
            .as_deref()
            .map(|f| format!(" at {}", code(f)))
            .unwrap_or_default();
        let _ = writeln!(out, "Failure: {}{at}\n", code(signature));
    }
    let _ = writeln!(
        out,
        "{} published versions between the endpoints, {} probe runs in {} rounds.{}\n",
        b.candidates,
        b.probe_runs,
        b.rounds,
        if b.undecided.is_empty() {
            String::new()
        } else {
            format!(
                " Undecided (could not be judged): {}.",
                b.undecided.join(", ")
            )
        }
    );
    for side in &b.sides {
        write_side(out, side, context);
    }
    if !b.blame.is_empty() {
        out.push_str("Changed with it (blame):\n\n| package | from | to |\n| --- | --- | --- |\n");
        for c in &b.blame {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                c.package,
                c.from.as_deref().unwrap_or("–"),
                c.to.as_deref().unwrap_or("–")
            );
        }
        out.push('\n');
    }
    if let Some(commits) = &b.commits {
        let _ = writeln!(
            out,
            "Commits touching the failing frames' files ({}):\n",
            commits.len()
        );
        for c in commits {
            let _ = writeln!(out, "- `{}` {} {}", c.hash, c.date, c.subject);
        }
        out.push('\n');
    }
    if let Some(inner) = &b.recursed {
        write_markdown(out, inner, context, level + 1);
    }
}

fn write_side(out: &mut String, side: &Side, context: &Context<'_>) {
    let Some(result) = &side.result else {
        return;
    };
    let outcomes: Vec<String> = result
        .probes
        .iter()
        .map(|p| format!("{} {}", p.name, p.outcome))
        .collect();
    let _ = writeln!(
        out,
        "**{}** ({}):\n\n```sh",
        side.version,
        outcomes.join(", ")
    );
    let _ = writeln!(out, "{}", side.install);
    if let Some(cell) = side.cell.as_ref().filter(|c| c.overrides.is_empty()) {
        let mut run = format!("qcompat run --matrix {}", context.matrix.display());
        for (axis, version) in &cell.values {
            let _ = write!(run, " --filter {axis}={version}");
        }
        for probe in context.probes {
            let _ = write!(run, " --probe {probe}");
        }
        if let Some(as_of) = context.as_of {
            let _ = write!(run, " --as-of {as_of}");
        }
        let _ = writeln!(out, "{run}");
    }
    out.push_str("```\n\n<details><summary>resolved</summary>\n\n");
    for (package, version) in &result.resolved {
        let _ = writeln!(out, "- {package}=={version}");
    }
    out.push_str("\n</details>\n\n");
}
