//! The headline answer: one line per axis saying where outcomes change along it, e.g.
//! `lightning: passes up to 2.3.0.dev20240519, fails from 2.3.0.dev20240526 (known lightning-20119), passes again
//! from 2.4.0.dev20240728`.
//!
//! Each version of an axis gets a verdict from every probe run of the cells that pin it, whatever the other axes:
//! `pass`/`xpass` count as passing, `fail`/`xfail`/`crash`/`timeout` as failing. `needs-cuda`, `skipped`,
//! `unresolvable` and `install-error` say nothing about the version (the device, the probe's own skips or the other
//! axes decided them) and are left out; a version with nothing else has no verdict. Runs of equal verdicts in version order make the line's segments.

use super::view::View;
use crate::outcome::Outcome;
use crate::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Passes,
    Fails,
    /// Passing with some values of the other axes, failing with others.
    Mixed,
    Silent,
}

impl Verdict {
    fn words(self) -> &'static str {
        match self {
            Verdict::Passes => "passes",
            Verdict::Fails => "fails",
            Verdict::Mixed => "fails in some cells",
            Verdict::Silent => "no verdict",
        }
    }
}

/// A run of versions with one verdict, and the known issues behind its failures.
struct Segment<'a> {
    verdict: Verdict,
    first: &'a str,
    last: &'a str,
    known: Vec<&'a str>,
}

/// One line per axis with more than one version, in axis order.
pub fn lines(view: &View<'_>) -> Vec<String> {
    axes(view)
        .into_iter()
        .filter_map(|axis| {
            let segments = segments(view, axis);
            (!segments.is_empty()).then(|| format!("{axis}: {}", phrase(&segments, view, axis)))
        })
        .collect()
}

/// The axes of the view's cells, in first-seen order.
fn axes<'a>(view: &View<'a>) -> Vec<&'a str> {
    let mut axes: Vec<&str> = Vec::new();
    for row in &view.rows {
        for axis in row.cell.key.axes() {
            if !axes.contains(&axis) {
                axes.push(axis);
            }
        }
    }
    axes
}

/// The axis's versions in PEP 440 order (unparsable ones last), merged into segments; empty for a single version.
fn segments<'a>(view: &View<'a>, axis: &str) -> Vec<Segment<'a>> {
    let mut versions: Vec<&'a str> = Vec::new();
    for row in &view.rows {
        if let Some(v) = row.cell.key.get(axis)
            && !versions.contains(&v)
        {
            versions.push(v);
        }
    }
    if versions.len() < 2 {
        return Vec::new();
    }
    versions.sort_by_key(|v| {
        v.parse::<Version>()
            .ok()
            .map_or((1, None), |v| (0, Some(v)))
    });
    let mut segments: Vec<Segment<'a>> = Vec::new();
    for version in versions {
        let (verdict, known) = verdict_at(view, axis, version);
        match segments.last_mut() {
            Some(segment) if segment.verdict == verdict => {
                segment.last = version;
                for id in known {
                    if !segment.known.contains(&id) {
                        segment.known.push(id);
                    }
                }
            }
            _ => segments.push(Segment {
                verdict,
                first: version,
                last: version,
                known,
            }),
        }
    }
    segments
}

/// The verdict of every probe run in cells pinning `axis` to `version`, and the known issues of its xfails.
fn verdict_at<'a>(view: &View<'a>, axis: &str, version: &str) -> (Verdict, Vec<&'a str>) {
    let (mut passed, mut failed, mut known) = (false, false, Vec::new());
    let runs = view
        .rows
        .iter()
        .filter(|row| row.cell.key.get(axis) == Some(version))
        .flat_map(|row| row.probes.iter().flatten());
    for probe in runs {
        match probe.outcome {
            Outcome::Pass | Outcome::Xpass => passed = true,
            Outcome::Fail | Outcome::Xfail | Outcome::Crash | Outcome::Timeout => failed = true,
            Outcome::NeedsCuda
            | Outcome::Skipped
            | Outcome::Unresolvable
            | Outcome::InstallError => {}
        }
        if let Some(id) = probe
            .known
            .as_deref()
            .filter(|_| probe.outcome == Outcome::Xfail)
            && !known.contains(&id)
        {
            known.push(id);
        }
    }
    let verdict = match (passed, failed) {
        (true, false) => Verdict::Passes,
        (false, true) => Verdict::Fails,
        (true, true) => Verdict::Mixed,
        (false, false) => Verdict::Silent,
    };
    (verdict, known)
}

fn phrase(segments: &[Segment<'_>], view: &View<'_>, axis: &str) -> String {
    let known = |s: &Segment<'_>| match s.known.as_slice() {
        [] => String::new(),
        ids => format!(" (known {})", ids.join(", ")),
    };
    if let [only] = segments {
        let count = view
            .rows
            .iter()
            .filter_map(|r| r.cell.key.get(axis))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        return format!(
            "{} at all {count} versions{}",
            only.verdict.words(),
            known(only)
        );
    }
    let mut seen: Vec<Verdict> = Vec::new();
    let parts: Vec<String> = segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let again = if seen.contains(&segment.verdict) {
                " again"
            } else {
                ""
            };
            seen.push(segment.verdict);
            let words = segment.verdict.words();
            let text = if i == 0 {
                format!("{words} up to {}", segment.last)
            } else {
                format!("{words}{again} from {}", segment.first)
            };
            text + &known(segment)
        })
        .collect();
    parts.join(", ")
}
