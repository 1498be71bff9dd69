//! A bisection as a terminal table, JSON (the contract in docs/cli.md), or Markdown ready to paste into an upstream
//! issue: the window, the failure, how to rebuild each side, the resolved sets, the command that probes the boundary
//! again, blame and commits.

use std::fmt::Write;

use super::view::{BisectView, BisectionView, CommitView, CulpritView, SideView};
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
    if let Some(note) = pre_note(b.pre_between) {
        let _ = writeln!(out, "{pad}  {note}");
    }
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
    write_failure_markdown(out, b.signature.as_deref(), b.frame.as_deref());
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
    if let Some(note) = pre_note(b.pre_between) {
        let _ = writeln!(out, "{note}\n");
    }
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
    write_listed_markdown(out, b.commits.as_deref());
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

/// What to say when the window's two final releases have pre-releases between them that were left out.
fn pre_note(count: usize) -> Option<String> {
    (count > 0).then(|| {
        format!(
            "{count} pre-release{} lie between these two releases: add --pre (or `pre = true` on the axis) to bisect \
             across them",
            if count == 1 { "" } else { "s" }
        )
    })
}

impl Findings for CulpritView<'_> {
    fn table(&self) -> String {
        let stage = &self.culprit.packages;
        let mut out = format!("culprit: {}\n", self.headline);
        write_failure(&mut out, stage.signature.as_deref(), stage.frame.as_deref());
        let _ = writeln!(
            out,
            "  {} packages changed, {} probe runs in {} rounds",
            self.culprit.changed.len(),
            stage.probe_runs,
            stage.rounds
        );
        write_doubts(&mut out, self, "  ");
        let widths = text::widths(&self.steps, &[24, 4]);
        out.push_str(&text::lines(&self.steps, &widths, "    "));
        for release in &self.releases {
            out.push_str("release window: ");
            write_table(&mut out, release, 0);
        }
        if let Some(commits) = &self.commits {
            write_commits_table(&mut out, commits);
        }
        out
    }

    fn markdown(&self) -> String {
        let stage = &self.culprit.packages;
        let mut out = format!("### Culprit: {}\n\n", self.headline);
        write_failure_markdown(&mut out, stage.signature.as_deref(), stage.frame.as_deref());
        let _ = writeln!(
            out,
            "{} packages changed between {} and {}; {} probe runs in {} rounds.\n",
            self.culprit.changed.len(),
            code(&self.culprit.from),
            code(&self.culprit.to),
            stage.probe_runs,
            stage.rounds
        );
        write_doubts(&mut out, self, "- ");
        for side in &self.sides {
            write_side(&mut out, side);
        }
        for release in &self.releases {
            write_markdown(&mut out, release, 4);
        }
        if let Some(commits) = &self.commits {
            write_commits_markdown(&mut out, commits);
        }
        let _ = writeln!(out, "Found with:\n\n```sh\n{}\n```", self.found_with);
        out
    }

    fn json(&self) -> String {
        render::json(self.culprit)
    }
}

fn write_failure(out: &mut String, signature: Option<&str>, frame: Option<&str>) {
    if let Some(signature) = signature {
        let _ = writeln!(out, "  failure: {signature}");
    }
    if let Some(frame) = frame {
        let _ = writeln!(out, "  at {frame}");
    }
}

/// The failure as a Markdown paragraph: `Failure: `signature` at `frame``.
fn write_failure_markdown(out: &mut String, signature: Option<&str>, frame: Option<&str>) {
    let Some(signature) = signature else {
        return;
    };
    let at = frame
        .map(|f| format!(" at {}", code(f)))
        .unwrap_or_default();
    let _ = writeln!(out, "Failure: {}{at}\n", code(signature));
}

/// Mixed sets that could not be judged, and what they leave open: one line each, after `bullet`.
fn write_doubts(out: &mut String, view: &CulpritView<'_>, bullet: &str) {
    let stage = &view.culprit.packages;
    let mut lines: Vec<String> = stage
        .skipped
        .iter()
        .map(|set| format!("skipped (could not be judged, never blamed): good + {set}"))
        .collect();
    if !stage.undecided.is_empty() {
        lines.push(format!(
            "undecided (only skipped sets separate them from the culprit): {}",
            stage.undecided.join(", ")
        ));
    }
    if stage.alone_unjudged {
        lines.push(
            "the culprits alone could not be judged: they fail with the other changes applied"
                .into(),
        );
    }
    for line in &lines {
        let _ = writeln!(out, "{bullet}{line}");
    }
    if bullet.starts_with('-') && !lines.is_empty() {
        out.push('\n');
    }
}

fn write_commits_table(out: &mut String, view: &CommitView<'_>) {
    let stage = view.stage;
    match (&view.first_bad, &stage.fallback) {
        (Some(first_bad), _) => {
            let _ = writeln!(out, "first bad commit: {first_bad}");
            if let Some(last_good) = &view.last_good {
                let _ = writeln!(out, "  last good: {last_good}");
            }
        }
        (None, fallback) => {
            let why = fallback.as_deref().unwrap_or("nothing could be built");
            let _ = writeln!(out, "commits of {}: not bisected ({why})", stage.package);
        }
    }
    let _ = writeln!(
        out,
        "  {} commits from {} to {}, {} probe runs and {} builds in {} rounds",
        stage.candidates,
        stage.from_release,
        stage.to_release,
        stage.probe_runs,
        stage.builds,
        stage.rounds
    );
    for skipped in &stage.skipped {
        let _ = writeln!(out, "  skipped: {skipped}");
    }
    if !stage.undecided.is_empty() {
        let _ = writeln!(
            out,
            "  undecided (the first bad commit may be any): {}",
            stage.undecided.join(", ")
        );
    }
    let widths = text::widths(&view.steps, &[12, 4]);
    out.push_str(&text::lines(&view.steps, &widths, "    "));
    write_listed(out, stage.listed.as_deref(), "  ");
}

fn write_listed(out: &mut String, listed: Option<&[super::commits::Commit]>, pad: &str) {
    if let Some(listed) = listed {
        let _ = writeln!(
            out,
            "{pad}commits touching the failing frames' files: {}",
            listed.len()
        );
        for c in listed {
            let _ = writeln!(out, "{pad}  {} {} {}", c.hash, c.date, c.subject);
        }
    }
}

/// The file-based commit listing (the fallback when no commit is built), as a Markdown list.
fn write_listed_markdown(out: &mut String, listed: Option<&[super::commits::Commit]>) {
    let Some(listed) = listed else {
        return;
    };
    let _ = writeln!(
        out,
        "Commits touching the failing frames' files ({}):\n",
        listed.len()
    );
    for c in listed {
        let _ = writeln!(out, "- `{}` {} {}", c.hash, c.date, c.subject);
    }
    out.push('\n');
}

fn write_commits_markdown(out: &mut String, view: &CommitView<'_>) {
    let stage = view.stage;
    match &view.first_bad {
        Some(first_bad) => {
            let _ = writeln!(out, "#### First bad commit: {first_bad}\n");
        }
        None => {
            let why = stage
                .fallback
                .as_deref()
                .unwrap_or("nothing could be built");
            let _ = writeln!(
                out,
                "#### Commits of {}: not bisected\n\n{why}.\n",
                stage.package
            );
        }
    }
    let _ = writeln!(
        out,
        "{} commits between {} and {}; {} probe runs, {} wheels built, {} rounds.\n",
        stage.candidates,
        stage.from_release,
        stage.to_release,
        stage.probe_runs,
        stage.builds,
        stage.rounds
    );
    if !stage.skipped.is_empty() {
        let _ = writeln!(
            out,
            "Skipped (never blamed): {}.\n",
            stage.skipped.join("; ")
        );
    }
    for (side, build) in &view.sides {
        let _ = writeln!(
            out,
            "Build {} by hand:\n\n```sh\n{}\n```\n",
            side.version,
            build.join("\n")
        );
        write_side(out, side);
    }
    write_listed_markdown(out, stage.listed.as_deref());
}
