//! What a bisect report says, computed once for every format: per bisection its window, its probed steps, each
//! side's outcomes, resolved set and the commands that rebuild its environment by hand, and the `qcompat bisect`
//! command that probes the boundary again; for the report, the command that found it.
//!
//! Every command is one a reader can paste: words are quoted for a POSIX shell, the versions are published ones the
//! command accepts (a bisected version is usually not a value of the matrix, so `run --filter` could not name it),
//! and the held axes are spelled out as filters.

use std::collections::BTreeMap;
use std::path::Path;

use super::session::{Bisection, Side};
use crate::env::quote;
use crate::render::outcome_text;

/// How the bisect was asked for, to print commands that repeat it.
pub struct Context<'a> {
    /// The command line that found the bisections, as typed (quoted to run as printed).
    pub invocation: &'a str,
    pub matrix: &'a Path,
    /// The probes the plan selected.
    pub probes: &'a [String],
    /// `--as-of`, so the commands reproduce the same world.
    pub as_of: Option<&'a str>,
    /// `--repo`, so the boundary's command lists the same commits.
    pub repo: Option<&'a Path>,
}

pub struct BisectView<'a> {
    pub bisections: Vec<BisectionView<'a>>,
    pub found_with: &'a str,
    /// What the view was made from: the JSON report serializes it as it is.
    pub source: &'a [Bisection],
}

pub struct BisectionView<'a> {
    pub bisection: &'a Bisection,
    /// `lightning: last good 2.3.0.dev20240519, first bad 2.3.0.dev20240526` (or the fix's pair).
    pub window: String,
    /// One row per probed version: the version, its judgement, its outcome with the signature (the outcome said once).
    pub steps: Vec<Vec<String>>,
    /// The two sides of the boundary that were probed, good side first.
    pub sides: Vec<SideView<'a>>,
    /// `qcompat bisect` between the boundary's two versions: both sides probed and judged again. None for a
    /// dependency forced with uv's overrides (`--recurse`), which only the outer bisection's command repeats.
    pub reproduce: Option<String>,
    pub recursed: Option<Box<BisectionView<'a>>>,
}

pub struct SideView<'a> {
    pub version: &'a str,
    /// `toy-load fail, toy-plain pass`.
    pub outcomes: String,
    /// `uv venv …` and `uv pip install …`: the side's environment in a folder of the working directory.
    pub commands: Vec<String>,
    pub resolved: &'a BTreeMap<String, String>,
}

impl<'a> BisectView<'a> {
    pub fn of(bisections: &'a [Bisection], context: &Context<'a>) -> Self {
        Self {
            bisections: bisections
                .iter()
                .map(|b| BisectionView::of(b, context))
                .collect(),
            found_with: context.invocation,
            source: bisections,
        }
    }
}

impl<'a> BisectionView<'a> {
    fn of(bisection: &'a Bisection, context: &Context<'_>) -> Self {
        let steps = bisection
            .steps
            .iter()
            .map(|step| {
                vec![
                    step.version.clone(),
                    step.judgement.to_string(),
                    outcome_text(step.outcome, step.signature.as_deref()),
                ]
            })
            .collect();
        Self {
            bisection,
            window: window(bisection),
            steps,
            sides: bisection
                .sides
                .iter()
                .filter_map(|side| SideView::of(side, &bisection.axis))
                .collect(),
            reproduce: reproduce(bisection, context),
            recursed: bisection
                .recursed
                .as_deref()
                .map(|inner| Box::new(BisectionView::of(inner, context))),
        }
    }
}

impl<'a> SideView<'a> {
    /// None for a side that was never probed.
    fn of(side: &'a Side, package: &str) -> Option<Self> {
        let result = side.result.as_ref()?;
        let outcomes: Vec<String> = result
            .probes
            .iter()
            .map(|p| format!("{} {}", p.name, p.outcome))
            .collect();
        let venv = format!("venv-{package}-{}", side.version);
        let commands = side.env.as_ref().map_or_else(Vec::new, |spec| {
            spec.rebuild_commands("uv", &spec.python.version, &venv)
                .to_vec()
        });
        Some(Self {
            version: &side.version,
            outcomes: outcomes.join(", "),
            commands,
            resolved: &result.resolved,
        })
    }
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

/// `qcompat bisect` with the boundary's versions as endpoints, the other axes held where the search held them.
fn reproduce(b: &Bisection, context: &Context<'_>) -> Option<String> {
    let [good, bad] = &b.sides;
    let cell = good.cell.as_ref().filter(|c| c.overrides.is_empty())?;
    let mut words: Vec<String> = vec![
        "qcompat".into(),
        "bisect".into(),
        "--matrix".into(),
        context.matrix.display().to_string(),
        "--axis".into(),
        b.axis.clone(),
        "--good".into(),
        good.version.clone(),
        "--bad".into(),
        bad.version.clone(),
    ];
    for (axis, version) in cell.values.iter().filter(|(axis, _)| *axis != b.axis) {
        words.extend(["--filter".into(), format!("{axis}={version}")]);
    }
    for probe in context.probes {
        words.extend(["--probe".into(), probe.clone()]);
    }
    let flags = [
        (b.pre, "--pre"),
        (b.any_failure, "--any-failure"),
        (b.recursed.is_some(), "--recurse"),
    ];
    words.extend(
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| f.to_string()),
    );
    if let Some(repo) = context.repo {
        words.extend(["--repo".into(), repo.display().to_string()]);
    }
    if let Some(as_of) = context.as_of {
        words.extend(["--as-of".into(), as_of.to_string()]);
    }
    Some(words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
}
