//! The headline answer: one line per axis saying where outcomes change along it, e.g.
//! `lightning: passes up to 2.3.0.dev20240519, fails from 2.3.0.dev20240526 (known lightning-20119), passes again
//! from 2.4.0.dev20240728`.
//!
//! Each version of an axis gets a verdict from every probe run of the cells that pin it, whatever the other axes:
//! `pass`/`xpass` count as passing, `fail`/`xfail`/`crash`/`timeout` as failing. `needs-cuda`, `skipped`,
//! `unresolvable` and `install-error` say nothing about the version (the device, the probe's own skips or the other
//! axes decided them) and are left out; a
//! version with nothing else has no verdict. Runs of equal verdicts in version order make the line's segments.
//!
//! A version that only ever appears together with one version of another axis (exactly the same cells pin both, as
//! an `[[include]]` cell that moves torch and bitsandbytes at once) cannot be credited with its verdict: either axis
//! may be why. It is left out of the segments and said to be confounded, naming its partners.

use indexmap::IndexMap;
use serde::Serialize;

use super::row::Row;
use crate::index::version::Version;
use crate::outcome::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "pass")]
    Passes,
    #[serde(rename = "fail")]
    Fails,
    /// Passing with some values of the other axes, failing with others.
    #[serde(rename = "mixed")]
    Mixed,
    #[serde(rename = "none")]
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

/// One axis's line: its text as every report prints it, and the same answer as data (`run --format json`).
#[derive(Debug, Serialize)]
pub struct AxisHeadline<'a> {
    pub axis: &'a str,
    /// `axis: passes up to …, fails from …`.
    pub text: String,
    /// Runs of versions with one verdict, in version order; confounded versions are not among them.
    pub segments: Vec<Segment<'a>>,
    pub confounded: Vec<Confound<'a>>,
}

/// A run of versions with one verdict, and the known issues behind its failures.
#[derive(Debug, Serialize)]
pub struct Segment<'a> {
    pub verdict: Verdict,
    #[serde(rename = "from")]
    pub first: &'a str,
    #[serde(rename = "to")]
    pub last: &'a str,
    pub known: Vec<&'a str>,
    #[serde(skip)]
    versions: usize,
}

/// A version whose cells are exactly the cells of one version of each partner axis.
#[derive(Debug, Serialize)]
pub struct Confound<'a> {
    pub version: &'a str,
    pub verdict: Verdict,
    pub known: Vec<&'a str>,
    /// Partner axis → its version.
    pub with: IndexMap<&'a str, &'a str>,
}

/// One line per axis with more than one version, in axis order.
pub fn headlines<'a>(rows: &[Row<'a>]) -> Vec<AxisHeadline<'a>> {
    let axes = axes(rows);
    axes.iter()
        .filter_map(|axis| AxisHeadline::of(rows, &axes, axis))
        .collect()
}

impl<'a> AxisHeadline<'a> {
    /// None for an axis with a single version.
    fn of(rows: &[Row<'a>], axes: &[&'a str], axis: &'a str) -> Option<Self> {
        let versions = versions(rows, axis);
        if versions.len() < 2 {
            return None;
        }
        let mut segments: Vec<Segment<'a>> = Vec::new();
        let mut confounded = Vec::new();
        for version in versions {
            let (verdict, known) = verdict_at(rows, axis, version);
            let with = partners(rows, axes, axis, version);
            if !with.is_empty() {
                confounded.push(Confound {
                    version,
                    verdict,
                    known,
                    with,
                });
                continue;
            }
            match segments.last_mut() {
                Some(segment) if segment.verdict == verdict => {
                    segment.last = version;
                    segment.versions += 1;
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
                    versions: 1,
                }),
            }
        }
        let mut parts: Vec<String> = Vec::new();
        if !segments.is_empty() {
            parts.push(phrase(&segments));
        }
        parts.extend(confounded.iter().map(Confound::phrase));
        Some(Self {
            axis,
            text: format!("{axis}: {}", parts.join("; ")),
            segments,
            confounded,
        })
    }
}

impl Confound<'_> {
    /// `2.4.1 passes, but only ever with bitsandbytes 0.50.2 (confounded: either may be why)`.
    fn phrase(&self) -> String {
        let verb = match self.verdict {
            Verdict::Silent => "has no verdict",
            other => other.words(),
        };
        let partners: Vec<String> = self.with.iter().map(|(a, v)| format!("{a} {v}")).collect();
        let who = if partners.len() == 1 {
            "either"
        } else {
            "any of them"
        };
        format!(
            "{} {verb}{}, but only ever with {} (confounded: {who} may be why)",
            self.version,
            known(&self.known),
            partners.join(" and ")
        )
    }
}

/// The axes of the cells, in first-seen order.
fn axes<'a>(rows: &[Row<'a>]) -> Vec<&'a str> {
    let mut axes: Vec<&str> = Vec::new();
    for row in rows {
        for axis in row.cell.key.axes() {
            if !axes.contains(&axis) {
                axes.push(axis);
            }
        }
    }
    axes
}

/// The axis's versions in PEP 440 order (unparsable ones last).
fn versions<'a>(rows: &[Row<'a>], axis: &str) -> Vec<&'a str> {
    let mut versions: Vec<&'a str> = Vec::new();
    for row in rows {
        if let Some(v) = row.cell.key.get(axis)
            && !versions.contains(&v)
        {
            versions.push(v);
        }
    }
    versions.sort_by_key(|v| {
        v.parse::<Version>()
            .ok()
            .map_or((1, None), |v| (0, Some(v)))
    });
    versions
}

/// The other axes whose one version is pinned by exactly the cells that pin `axis` to `version`.
fn partners<'a>(
    rows: &[Row<'a>],
    axes: &[&'a str],
    axis: &str,
    version: &str,
) -> IndexMap<&'a str, &'a str> {
    let pins = |row: &Row<'_>, axis: &str, version: &str| row.cell.key.get(axis) == Some(version);
    let first = rows.iter().find(|row| pins(row, axis, version));
    axes.iter()
        .filter(|other| **other != axis)
        .filter_map(|other| {
            let partner = first?.cell.key.get(other)?;
            rows.iter()
                .all(|row| pins(row, axis, version) == pins(row, other, partner))
                .then_some((*other, partner))
        })
        .collect()
}

/// The verdict of every probe run in cells pinning `axis` to `version`, and the known issues of its xfails.
fn verdict_at<'a>(rows: &[Row<'a>], axis: &str, version: &str) -> (Verdict, Vec<&'a str>) {
    let (mut passed, mut failed, mut known) = (false, false, Vec::new());
    let runs = rows
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

/// ` (known a, b)`, or nothing.
fn known(ids: &[&str]) -> String {
    match ids {
        [] => String::new(),
        ids => format!(" (known {})", ids.join(", ")),
    }
}

fn phrase(segments: &[Segment<'_>]) -> String {
    if let [only] = segments {
        let at = match only.versions {
            1 => only.first.to_string(),
            n => format!("all {n} versions"),
        };
        return format!("{} at {at}{}", only.verdict.words(), known(&only.known));
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
            text + &known(&segment.known)
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use crate::matrix::cell_key::CellKey;
    use crate::outcome::Outcome;
    use crate::report::view::View;
    use crate::results::{CellResult, ProbeResult, RunReport};

    /// A report of one probe run per cell: `a` and `b` versions and the outcome.
    fn report(cells: &[(&str, &str, Outcome)]) -> RunReport {
        let cell = |&(a, b, outcome): &(&str, &str, Outcome)| CellResult {
            key: CellKey::new([("a", a), ("b", b)]),
            resolved: Default::default(),
            env: None,
            process_s: 0.0,
            import_s: 0.0,
            probe_s: 0.0,
            probes: vec![ProbeResult {
                name: "toy-load".into(),
                outcome,
                signature: (outcome != Outcome::Pass).then(|| "E: x".into()),
                frame: None,
                frames: Vec::new(),
                known: None,
                duration_s: 0.0,
                metrics: Default::default(),
                substitutions: Vec::new(),
                checks: Vec::new(),
                log: None,
                hint: None,
                interpreter: None,
                tests: Vec::new(),
                role: None,
            }],
        };
        RunReport::new("m".into(), cells.iter().map(cell).collect())
    }

    fn lines(report: &RunReport) -> Vec<String> {
        View::of(report)
            .headline
            .into_iter()
            .map(|h| h.text)
            .collect()
    }

    #[test]
    fn a_version_that_only_comes_with_another_is_not_credited() {
        let moved_together = report(&[
            ("1", "1", Outcome::Fail),
            ("2", "1", Outcome::Fail),
            ("3", "2", Outcome::Pass),
        ]);
        assert_eq!(
            lines(&moved_together),
            [
                "a: fails at all 2 versions; 3 passes, but only ever with b 2 (confounded: either may be why)",
                "b: fails at 1; 2 passes, but only ever with a 3 (confounded: either may be why)",
            ]
        );
    }

    #[test]
    fn a_cell_that_varies_one_axis_alone_credits_it() {
        let isolated = report(&[
            ("1", "1", Outcome::Fail),
            ("2", "1", Outcome::Fail),
            ("3", "2", Outcome::Pass),
            ("3", "1", Outcome::Pass),
        ]);
        assert_eq!(
            lines(&isolated),
            [
                "a: fails up to 2, passes from 3",
                "b: fails in some cells up to 1, passes from 2",
            ]
        );
    }
}
