//! A bisection as a terminal table, JSON (the contract in docs/cli.md), or Markdown ready to paste into an upstream
//! issue: the window, the failure, how to rebuild each side, the resolved sets, the command that probes the boundary
//! again, blame and commits.

use std::fmt::Write;

use super::view::{BisectView, BisectionView, SideView};
use crate::render::markdown::{code, table};
use crate::render::{self, Findings, text};

/// Minimum widths of a step's version and judgement: the columns line up for versions up to 23 characters.
const STEP_COLUMNS: [usize; 2] = [23, 4];

impl Findings for BisectView<'_> {
    fn table(&self) -> String {
        let mut out = String::new();
        for b in &self.bisections {
            write_table(&mut out, b, 0);
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        for b in &self.bisections {
            write_markdown(&mut out, b, 3);
        }
        let _ = writeln!(out, "Found with:\n\n```sh\n{}\n```", self.found_with);
        out
    }

    fn json(&self) -> String {
        match self.source {
            [one] => render::json(one),
            many => render::json(many),
        }
    }
}

fn write_table(out: &mut String, view: &BisectionView<'_>, depth: usize) {
    let b = view.bisection;
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}{}", view.window);
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
    let widths = text::widths(&view.steps, &STEP_COLUMNS);
    out.push_str(&text::lines(&view.steps, &widths, &format!("{pad}    ")));
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
    if let Some(inner) = &view.recursed {
        let _ = writeln!(out, "{pad}  recursing into {}:", inner.bisection.axis);
        write_table(out, inner, depth + 2);
    }
}

fn write_markdown(out: &mut String, view: &BisectionView<'_>, level: usize) {
    let b = view.bisection;
    let _ = writeln!(out, "{} {}\n", "#".repeat(level), view.window);
    if let Some(signature) = &b.signature {
        let at = b
            .frame
            .as_deref()
            .map(|f| format!(" at {}", code(f)))
            .unwrap_or_default();
        let _ = writeln!(out, "Failure: {}{at}\n", code(signature));
    }
    let undecided = if b.undecided.is_empty() {
        String::new()
    } else {
        format!(
            " Undecided (could not be judged): {}.",
            b.undecided.join(", ")
        )
    };
    let _ = writeln!(
        out,
        "{} published versions between the endpoints, {} probe runs in {} rounds.{undecided}\n",
        b.candidates, b.probe_runs, b.rounds
    );
    for side in &view.sides {
        write_side(out, side);
    }
    if let Some(command) = &view.reproduce {
        let _ = writeln!(
            out,
            "Reproduce the boundary (both sides probed and judged again):\n\n```sh\n{command}\n```\n"
        );
    }
    if !b.blame.is_empty() {
        let rows: Vec<Vec<String>> = b
            .blame
            .iter()
            .map(|c| {
                let version = |v: &Option<String>| v.as_deref().unwrap_or("–").to_string();
                vec![c.package.clone(), version(&c.from), version(&c.to)]
            })
            .collect();
        out.push_str("Changed with it (blame):\n\n");
        out.push_str(&table(&["package", "from", "to"], &rows));
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
    if let Some(inner) = &view.recursed {
        write_markdown(out, inner, level + 1);
    }
}

fn write_side(out: &mut String, side: &SideView<'_>) {
    let _ = writeln!(out, "**{}** ({}):\n", side.version, side.outcomes);
    if !side.commands.is_empty() {
        let _ = writeln!(out, "```sh\n{}\n```\n", side.commands.join("\n"));
    }
    out.push_str("<details><summary>resolved</summary>\n\n");
    for (package, version) in side.resolved {
        let _ = writeln!(out, "- {package}=={version}");
    }
    out.push_str("\n</details>\n\n");
}
