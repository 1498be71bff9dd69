//! History as a picture (`qcompat report --history`): many nights of one matrix as one self-contained HTML page.
//!
//! Each axis version is a row and each night a column; a point is that version's outcome that night, summed over
//! the cells that pin it (the worst outcome of their probe runs, with every known-issue id behind it). Between two
//! nights, the changes `qcompat diff` calls regressions mark the night a regression appeared on the rows of the cells
//! it hit, and its fixes the night it went away. Every point links to its cells' details.

mod nights;
mod page;

use std::collections::BTreeMap;

use crate::diff::{self, Change};
use crate::error::Result;
use crate::index::version::parse_version;
use crate::outcome::Outcome;
use crate::snapshot::{SnapshotCell, SnapshotProbe};

pub use nights::{Night, read as read_nights};
pub use page::render;

/// Which outcome a point shows when its probe runs differ: the one a reader must see first.
const WORST_FIRST: [Outcome; 10] = [
    Outcome::Fail,
    Outcome::Crash,
    Outcome::Timeout,
    Outcome::InstallError,
    Outcome::Xfail,
    Outcome::Unresolvable,
    Outcome::NeedsCuda,
    Outcome::Skipped,
    Outcome::Xpass,
    Outcome::Pass,
];

pub struct History<'a> {
    pub matrix: &'a str,
    pub nights: &'a [Night],
    /// Axis by axis in key order, versions in PEP 440 order.
    pub rows: Vec<Row<'a>>,
    pub events: Vec<Event>,
}

/// One axis version across the nights.
pub struct Row<'a> {
    pub axis: String,
    pub version: String,
    /// One per night; none where no cell pinned the version that night.
    pub points: Vec<Option<Point<'a>>>,
}

pub struct Point<'a> {
    pub outcome: Outcome,
    /// Known-issue ids of the probe runs, each once.
    pub known: Vec<String>,
    /// A regression hit one of its cells this night (it worked the night before, or the cell is new).
    pub appeared: bool,
    /// A failure of one of its cells went away this night.
    pub went_away: bool,
    pub cells: Vec<&'a SnapshotCell>,
}

/// A regression that appeared, or a failure that went away, between a night and the one before.
pub struct Event {
    pub night: usize,
    pub change: Change,
    pub cell: String,
    pub probe: String,
    pub old: Option<Outcome>,
    pub new: Option<Outcome>,
    pub signature: Option<String>,
    /// The cell's resolved versions that moved since the night before (`toyquant 1.0 → 1.2`): often the cause.
    pub moved: Vec<String>,
}

/// The history of `nights` (oldest first, one matrix: see [`read_nights`]).
pub fn history(nights: &[Night]) -> Result<History<'_>> {
    let events = events(nights)?;
    let mut rows = Vec::new();
    for (axis, versions) in axis_versions(nights) {
        for version in versions {
            let points = nights
                .iter()
                .enumerate()
                .map(|(n, night)| point(night, n, &axis, &version, &events))
                .collect();
            rows.push(Row {
                axis: axis.clone(),
                version,
                points,
            });
        }
    }
    Ok(History {
        matrix: nights.first().map_or("", |n| n.snapshot.matrix.as_str()),
        nights,
        rows,
        events,
    })
}

/// Each axis (first-seen order) with every version any night pinned, in PEP 440 order.
fn axis_versions(nights: &[Night]) -> Vec<(String, Vec<String>)> {
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for cell in nights.iter().flat_map(|n| &n.snapshot.cells) {
        for (axis, version) in cell.key.iter() {
            let at = match axes.iter().position(|(a, _)| a == axis) {
                Some(at) => at,
                None => {
                    axes.push((axis.to_string(), Vec::new()));
                    axes.len() - 1
                }
            };
            if !axes[at].1.iter().any(|v| v == version) {
                axes[at].1.push(version.to_string());
            }
        }
    }
    for (_, versions) in &mut axes {
        versions.sort_by(|a, b| match (parse_version(a), parse_version(b)) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => a.cmp(b),
        });
    }
    axes
}

/// The point of `axis = version` on night `n`: its cells' probe runs, summed up.
fn point<'a>(
    night: &'a Night,
    n: usize,
    axis: &str,
    version: &str,
    events: &[Event],
) -> Option<Point<'a>> {
    let cells: Vec<&SnapshotCell> = night
        .snapshot
        .cells
        .iter()
        .filter(|c| c.key.get(axis) == Some(version))
        .collect();
    let probes: Vec<&SnapshotProbe> = cells.iter().flat_map(|c| &c.probes).collect();
    let outcome = WORST_FIRST
        .into_iter()
        .find(|o| probes.iter().any(|p| p.outcome == *o))?;
    let mut known: Vec<String> = Vec::new();
    for id in probes.iter().filter_map(|p| p.known.clone()) {
        if !known.contains(&id) {
            known.push(id);
        }
    }
    let keys: Vec<String> = cells.iter().map(|c| c.key.to_string()).collect();
    let hit = |change: Change| {
        events
            .iter()
            .any(|e| e.night == n && e.change == change && keys.contains(&e.cell))
    };
    Some(Point {
        outcome,
        known,
        appeared: hit(Change::Regression),
        went_away: hit(Change::Fix) && !probes.iter().any(|p| p.outcome.is_regression()),
        cells,
    })
}

/// The regressions and fixes `qcompat diff` finds between each night and the one before.
fn events(nights: &[Night]) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    for (n, pair) in nights.windows(2).enumerate() {
        let diff = diff::diff(&pair[0].snapshot, &pair[1].snapshot)?;
        let moved = |cell: &str| -> Vec<String> {
            let drift = diff.drift.iter().filter(|d| d.cell == cell);
            drift
                .flat_map(|d| &d.packages)
                .map(|p| {
                    let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    format!("{} {} → {}", p.package, side(&p.old), side(&p.new))
                })
                .collect()
        };
        let kept = diff
            .changes
            .into_iter()
            .filter(|c| matches!(c.change, Change::Regression | Change::Fix));
        events.extend(kept.map(|change| {
            Event {
                night: n + 1,
                change: change.change,
                signature: change
                    .new
                    .as_ref()
                    .and_then(|s| s.signature.clone())
                    .or_else(|| change.old.as_ref().and_then(|s| s.signature.clone())),
                moved: moved(&change.cell),
                old: change.old.map(|s| s.outcome),
                new: change.new.map(|s| s.outcome),
                cell: change.cell,
                probe: change.probe,
            }
        }));
    }
    Ok(events)
}

/// Outcome counts of a point's probe runs, for its tooltip.
fn counts(point: &Point<'_>) -> BTreeMap<Outcome, usize> {
    let mut counts = BTreeMap::new();
    for probe in point.cells.iter().flat_map(|c| &c.probes) {
        *counts.entry(probe.outcome).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::snapshot;

    fn night(label: &str, outcome: &str) -> Night {
        let text = format!(
            "matrix = \"toy\"\n\n[[cell]]\nkey = {{ toyquant = \"1.0\" }}\n\n[cell.resolved]\ntoyquant = \"1.0\"\n\n\
             [[cell.probe]]\nname = \"toy-load\"\noutcome = \"{outcome}\"\n"
        );
        Night {
            label: label.into(),
            source: format!("{label}.snap.toml"),
            snapshot: snapshot::parse_text(Path::new(label), text).unwrap(),
        }
    }

    #[test]
    fn a_night_that_ran_nothing_is_a_skipped_point() {
        let nights = [night("1", "pass"), night("2", "skipped")];
        let history = history(&nights).unwrap();
        let outcomes: Vec<Option<Outcome>> = history.rows[0]
            .points
            .iter()
            .map(|p| p.as_ref().map(|p| p.outcome))
            .collect();
        assert_eq!(outcomes, [Some(Outcome::Pass), Some(Outcome::Skipped)]);
        // Each outcome a point can show has its color on the page.
        let style = include_str!("history.css");
        for outcome in WORST_FIRST {
            assert!(
                style.contains(&format!(".o-{outcome} {{ background")),
                "{outcome}"
            );
        }
    }
}
