//! The first stage of `bisect --from/--to`: which of the packages an update changed turn the good set bad. Pure:
//! the changes between two pinned sets, the mixed set "good plus these changes", and the search for the smallest
//! set of changes that fails, driven by whatever judges a batch of mixed sets.
//!
//! The search grows the culprit set one change at a time. With the set found so far (`found`, at first empty) and
//! the changes still suspect (`rest`) — `found` plus all of `rest` fails — it bisects the prefixes of `rest` for the
//! shortest one that fails together with `found` (the [`Search`] of releases, skips included): the last change of
//! that prefix is needed. Then it probes `found` alone; if that fails, it is the answer. A single culprit among `n`
//! changes costs at most `ceil(log2(n + 1)) + 1` probe runs after the endpoints; an interaction of two changes at
//! most `ceil(log2(n + 1)) + ceil(log2(n)) + 2`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::search::{Judgement, Search};
use super::sets::PinnedSet;
use crate::error::Result;
use crate::index::version::Version;
use crate::matrix::Cell;

/// One package the update changed: a new version, added (`from` none) or removed (`to` none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update {
    pub package: String,
    #[serde(serialize_with = "as_text")]
    pub from: Option<Version>,
    #[serde(serialize_with = "as_text")]
    pub to: Option<Version>,
}

fn as_text<S: serde::Serializer>(
    v: &Option<Version>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&v.to_string()),
        None => s.serialize_none(),
    }
}

impl Update {
    /// `lightning 2.3.0.dev20240428 -> 2.3.3`, `+jsonargparse 4.30.0`, `-old 1.0`.
    pub fn describe(&self) -> String {
        match (&self.from, &self.to) {
            (Some(a), Some(b)) => format!("{} {a} -> {b}", self.package),
            (None, Some(b)) => format!("+{} {b}", self.package),
            (Some(a), None) => format!("-{} {a}", self.package),
            (None, None) => self.package.clone(),
        }
    }
}

/// The packages whose pins differ between the two sets, by name.
pub fn updates(good: &PinnedSet, bad: &PinnedSet) -> Vec<Update> {
    let mut names: Vec<&String> = good.pins.keys().chain(bad.pins.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| good.pins.get(*n) != bad.pins.get(*n))
        .map(|n| Update {
            package: n.clone(),
            from: good.pins.get(n).cloned(),
            to: bad.pins.get(n).cloned(),
        })
        .collect()
}

/// The changed packages' versions in "good plus the updates `applied`": an applied update's new version (nothing for a
/// removal), else the good version (nothing for an addition). Packages no update touches are not listed.
pub fn mixed(updates: &[Update], applied: &[usize]) -> Vec<(String, Version)> {
    updates
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let version = if applied.contains(&i) { &u.to } else { &u.from };
            version.clone().map(|v| (u.package.clone(), v))
        })
        .collect()
}

/// The packages both sets pin at one version: held there in every mixed set.
pub fn common(good: &PinnedSet, bad: &PinnedSet) -> BTreeMap<String, Version> {
    good.pins
        .iter()
        .filter(|(n, v)| bad.pins.get(*n) == Some(*v))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// What the search found, as indices into the updates.
#[derive(Debug, PartialEq, Eq)]
pub struct Minimal {
    /// The updates that fail together, in update order.
    pub culprits: Vec<usize>,
    /// Culprits that are only suspects: mixed sets between them could not be judged (skipped).
    pub undecided: Vec<usize>,
    /// The culprit set alone could not be judged (it was skipped): it may not fail by itself.
    pub alone_unjudged: bool,
}

/// Judges batches of mixed sets (each a list of applied update indices), in order.
pub type Judge<'a> = dyn FnMut(&[Vec<usize>]) -> Result<Vec<Judgement>> + 'a;

/// The smallest set of the `count` updates that fails, probing `per_round` mixed sets at once. The empty set (the good
/// side) is known good and the whole set (the bad side) known bad.
pub fn minimize(count: usize, per_round: usize, judge: &mut Judge<'_>) -> Result<Minimal> {
    let mut found: Vec<usize> = Vec::new();
    let mut rest: Vec<usize> = (0..count).collect();
    let mut undecided = Vec::new();
    let mut alone_unjudged = false;
    while !rest.is_empty() {
        let with = |i: usize| -> Vec<usize> {
            let mut set = found.clone();
            set.extend(&rest[..i]);
            set.sort_unstable();
            set
        };
        let mut search = Search::new(rest.len() + 1);
        loop {
            let points = search.next(per_round);
            if points.is_empty() {
                break;
            }
            let sets: Vec<Vec<usize>> = points.iter().map(|&i| with(i)).collect();
            let judged = judge(&sets)?;
            search.record(&points.iter().copied().zip(judged).collect::<Vec<_>>());
        }
        let (good, bad) = search.boundary();
        undecided.extend(&rest[good..bad - 1]);
        found.extend(&rest[good..bad]);
        rest.truncate(good);
        if rest.is_empty() {
            break;
        }
        found.sort_unstable();
        match judge(std::slice::from_ref(&found))?[0] {
            Judgement::Bad => break,
            Judgement::Good => {}
            Judgement::Skip => alone_unjudged = true,
        }
    }
    found.sort_unstable();
    undecided.sort_unstable();
    Ok(Minimal {
        culprits: found,
        undecided,
        alone_unjudged,
    })
}

/// The cell of the changed packages at `versions`, each forced (uv's overrides): a mixed set, a release or a
/// commit's wheel on top of the good set.
pub fn forced_cell(versions: Vec<(String, Version)>) -> Cell {
    Cell {
        values: versions.clone(),
        overrides: versions,
        wheels: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `minimize` against `truth`, counting probe runs (a set probed twice is counted once, as the journal would).
    fn run(count: usize, k: usize, truth: &dyn Fn(&[usize]) -> Judgement) -> (Minimal, usize) {
        let mut seen: Vec<Vec<usize>> = Vec::new();
        let mut judge = |sets: &[Vec<usize>]| -> Result<Vec<Judgement>> {
            for set in sets {
                if !seen.contains(set) && !set.is_empty() && set.len() != count {
                    seen.push(set.clone());
                }
            }
            Ok(sets.iter().map(|s| truth(s)).collect())
        };
        let minimal = minimize(count, k, &mut judge).unwrap();
        (minimal, seen.len())
    }

    fn log2_ceil(n: usize) -> usize {
        (n as f64).log2().ceil() as usize
    }

    #[test]
    fn one_culprit_among_n_within_log2_plus_one_runs() {
        for n in 1..40 {
            for culprit in 0..n {
                let truth = |s: &[usize]| {
                    if s.contains(&culprit) {
                        Judgement::Bad
                    } else {
                        Judgement::Good
                    }
                };
                let (found, runs) = run(n, 1, &truth);
                assert_eq!(found.culprits, vec![culprit], "n {n}");
                assert!(
                    runs <= log2_ceil(n + 1) + 1,
                    "n {n}, culprit {culprit}: {runs} runs"
                );
            }
        }
    }

    #[test]
    fn a_pair_that_only_fails_together_is_found_as_the_pair() {
        for n in 2..25 {
            for a in 0..n {
                for b in a + 1..n {
                    let truth = |s: &[usize]| {
                        if s.contains(&a) && s.contains(&b) {
                            Judgement::Bad
                        } else {
                            Judgement::Good
                        }
                    };
                    let (found, runs) = run(n, 1, &truth);
                    assert_eq!(found.culprits, vec![a, b], "n {n}");
                    let bound = log2_ceil(n + 1) + log2_ceil(n) + 2;
                    assert!(runs <= bound, "n {n}, pair {a},{b}: {runs} > {bound}");
                }
            }
        }
    }

    #[test]
    fn sets_that_cannot_be_judged_leave_their_changes_undecided_never_blamed_alone() {
        // Update 2 fails; any mixed set holding update 1 without update 0 cannot be installed.
        let truth = |s: &[usize]| match (s.contains(&0), s.contains(&1), s.contains(&2)) {
            (false, true, _) => Judgement::Skip,
            (_, _, true) => Judgement::Bad,
            _ => Judgement::Good,
        };
        let (found, _) = run(5, 1, &truth);
        assert_eq!(found.culprits, vec![2]);
        let (found, _) = run(3, 2, &truth);
        assert_eq!(found.culprits, vec![2]);
    }

    #[test]
    fn mixed_sets_apply_updates_additions_and_removals() {
        let v = |s: &str| crate::index::version::parse_version(s).unwrap();
        let updates = vec![
            Update {
                package: "a".into(),
                from: Some(v("1")),
                to: Some(v("2")),
            },
            Update {
                package: "new".into(),
                from: None,
                to: Some(v("1")),
            },
            Update {
                package: "old".into(),
                from: Some(v("1")),
                to: None,
            },
        ];
        let names = |set: Vec<(String, Version)>| -> Vec<String> {
            set.iter().map(|(n, v)| format!("{n}=={v}")).collect()
        };
        assert_eq!(names(mixed(&updates, &[])), ["a==1", "old==1"]);
        assert_eq!(names(mixed(&updates, &[0, 1, 2])), ["a==2", "new==1"]);
        assert_eq!(updates[1].describe(), "+new 1");
    }
}
