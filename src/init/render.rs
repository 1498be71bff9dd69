//! The text of the files `init` writes: the starting matrix, composed from the axes found; the workflows and the
//! README snippet, filled-in templates (`templates/`).

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use super::{Axis, MATRIX_NAME};
use crate::index::version::Version;
use crate::probe::spec::ProbeSpec;
use crate::snapshot;

const PR_WORKFLOW: &str = include_str!("templates/qcompat-pr.yml");
const NIGHTLY_WORKFLOW: &str = include_str!("templates/qcompat-nightly.yml");
const COMMENT_WORKFLOW: &str = include_str!("templates/qcompat-comment.yml");
const README_SNIPPET: &str = include_str!("templates/README-snippet.md");

/// The end of every matrix `init` writes: how a known upstream issue is declared, with a real one as the example.
const KNOWN_EXAMPLE: &str = "\n# A failure that a known upstream issue explains is `xfail`, not a regression; for example:\n\
     # [[known]]\n# id = \"lightning-20119\"\n\
     # signature = \"AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'\"\n\
     # when = { lightning = \">=2.3.0.dev20240526,<2.4.0.dev20240728\" }\n";

/// Every file, relative to the project, with its text.
pub fn files(
    axes: &[Axis],
    probes: &[Arc<ProbeSpec>],
    matrix: &Path,
    action: &str,
) -> Vec<(PathBuf, String)> {
    let snapshot = snapshot::default_path(MATRIX_NAME);
    let packages: Vec<&str> = axes.iter().map(|a| a.package).collect();
    let fill = |template: &str| {
        template
            .replace("@ACTION@", action)
            .replace("@MATRIX@", &matrix.display().to_string())
            .replace("@SNAPSHOT@", &snapshot.display().to_string())
            .replace("@NAME@", MATRIX_NAME)
            .replace("@PACKAGES@", &packages.join(", "))
            .replace("@PR_WORKFLOW@", "qcompat-pr")
            .replace("@COMMENT_WORKFLOW@", "qcompat-comment")
    };
    let workflows = Path::new(".github/workflows");
    vec![
        (matrix.to_path_buf(), matrix_text(axes, probes, matrix)),
        (workflows.join("qcompat-pr.yml"), fill(PR_WORKFLOW)),
        (
            workflows.join("qcompat-nightly.yml"),
            fill(NIGHTLY_WORKFLOW),
        ),
        (
            workflows.join("qcompat-comment.yml"),
            fill(COMMENT_WORKFLOW),
        ),
        (
            Path::new("matrices/README.md").to_path_buf(),
            fill(README_SNIPPET),
        ),
    ]
}

/// The template of the repository's own comment workflow, for the named pull-request workflow.
pub fn comment_workflow(pr_workflow: &str, name: &str) -> String {
    COMMENT_WORKFLOW
        .replace("@PR_WORKFLOW@", pr_workflow)
        .replace("@COMMENT_WORKFLOW@", name)
}

/// The matrix: a header that says how to narrow it, one query axis per package found, the pins those call for, and
/// an example of a known issue.
fn matrix_text(axes: &[Axis], probes: &[Arc<ProbeSpec>], path: &Path) -> String {
    let mut text = matrix_header(probes, path);
    for axis in axes {
        let pre = if axis.pre { ", pre = true" } else { "" };
        let _ = writeln!(
            text,
            "{} = {{ versions = \">={}\"{pre} }}   # {}",
            axis.package, axis.from, axis.origin
        );
    }
    let pins = pins(axes);
    if !pins.is_empty() {
        text.push_str("\n[pins]\n");
        for (package, spec, why) in pins {
            let _ = writeln!(text, "{package} = \"{spec}\"   # {why}");
        }
    }
    text.push_str(KNOWN_EXAMPLE);
    text
}

/// Everything above the axes: what the file is, the matrix's name, interpreter, probes and timeout.
fn matrix_header(probes: &[Arc<ProbeSpec>], path: &Path) -> String {
    let quoted: Vec<String> = probes.iter().map(|p| format!("\"{}\"", p.name)).collect();
    // One line while it reads as one; a long list one probe a line.
    let probes = match quoted.join(", ") {
        line if line.len() <= 90 => line,
        _ => format!("\n    {},\n", quoted.join(",\n    ")),
    };
    format!(
        "# The stack this project depends on, as a qcompat matrix (written by `qcompat init`; the format is in\n\
         # qcompat's docs/matrix.md). Each axis follows the package index from the version the project pins now: the\n\
         # newest releases join as they are published (nightlies too, where the package publishes them). The cells are\n\
         # the product of the axes: `qcompat run --matrix {} --list` lists them; narrow an axis\n\
         # (\">=2.4,<2.6\") or list versions ([\"2.4.0\", \"2.5.1\"]) to keep it small.\n\
         name = \"{MATRIX_NAME}\"\npython = \"3.11\"\nprobes = [{probes}]\ntimeout = \"10m\"\n\n[axes]\n",
        path.display(),
    )
}

/// The recommended pins (README, "Recommended pins") that the axes call for.
fn pins(axes: &[Axis]) -> Vec<(&'static str, &'static str, &'static str)> {
    let below = |package: &str, version: &str| {
        let bound = Version::from_str(version).expect("a valid literal");
        axes.iter().any(|a| a.package == package && a.from < bound)
    };
    let has = |package: &str| axes.iter().any(|a| a.package == package);
    let mut pins = Vec::new();
    if below("lightning", "2.4") || has("litgpt") {
        pins.push((
            "setuptools",
            "<70",
            "Lightning 2.2/2.3 import pkg_resources; a uv venv seeds no setuptools",
        ));
    }
    if below("torch", "2.4") {
        pins.push((
            "numpy",
            "<2",
            "torch 2.3 and older wheels are built against NumPy 1",
        ));
    }
    if has("litgpt") {
        pins.push((
            "tokenizers",
            ">=0.15.2",
            "LitGPT's command needs its tokenizer (its `all` extra up to 0.4.6)",
        ));
        pins.push((
            "requests",
            ">=2.31.0",
            "jsonargparse's URL support, which `litgpt` turns on at start-up",
        ));
    }
    pins
}
