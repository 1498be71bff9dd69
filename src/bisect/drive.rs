//! From a request on the command line to finished bisections: which axes are held fixed, which pairs of versions
//! to bisect (given, or every pass/fail transition a snapshot records), the recursion into a blamed dependency, and
//! the commit listing.

use std::path::Path;

use super::blame;
use super::commits;
use super::session::{Bisection, Request, Session};
use crate::error::{Error, Result};
use crate::index::version::{Version, parse_version};
use crate::index::{self, IndexSettings};
use crate::matrix::{AxisValues, Cell};
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::snapshot::Snapshot;
use crate::suggest;

/// A bisection job: the axis, the values the other axes are held at, and what to do after the search.
pub struct Job<'a> {
    pub plan: &'a Plan,
    pub axis: String,
    /// Every other axis, at the one value the plan's cells give it.
    pub base: Vec<(String, Version)>,
    pub index: &'a IndexSettings,
    pub any_failure: bool,
    /// `--pre`.
    pub pre: bool,
    /// The axis's matrix entry asks for pre-releases (`pre = true`): they are candidates without `--pre` (which the
    /// boundary's command then need not repeat).
    pub axis_pre: bool,
    pub recurse: bool,
    pub repo: Option<&'a Path>,
}

impl<'a> Job<'a> {
    /// Checks `axis` is one of the plan's, and that the plan's cells hold every other axis at one value.
    pub fn new(plan: &'a Plan, axis: &str, index: &'a IndexSettings) -> Result<Self> {
        let axes: Vec<&str> = plan.matrix.axes.iter().map(|a| a.name.as_str()).collect();
        if !axes.contains(&axis) {
            let hint = suggest::hint(axis, axes.iter().copied());
            return Err(Error::BadInput(format!(
                "--axis {axis}: not an axis of the matrix{hint}"
            )));
        }
        if axis == crate::matrix::PYTHON_AXIS {
            return Err(Error::BadInput(
                "--axis python: interpreters are not bisected (no index lists them); bisect a package's axis \
                 with --filter python=VERSION to hold the interpreter"
                    .into(),
            ));
        }
        let mut base = Vec::new();
        for (other, declared) in axes.iter().zip(&plan.axis_versions) {
            if *other == axis {
                continue;
            }
            if let Some(held) = held_value(plan, other, declared)? {
                base.push((other.to_string(), held));
            }
        }
        // An axis whose matrix entry asks for pre-releases is bisected across them without --pre.
        let axis_pre = plan
            .matrix
            .axes
            .iter()
            .any(|a| a.name == axis && matches!(a.values, AxisValues::Query { pre: true, .. }));
        Ok(Self {
            plan,
            axis: axis.to_string(),
            base,
            index,
            any_failure: false,
            pre: false,
            axis_pre,
            recurse: false,
            repo: None,
        })
    }

    /// The cell for `version` of the axis, other axes at their held values, in matrix order.
    fn cell(&self, version: &Version) -> Cell {
        let values = self
            .plan
            .matrix
            .axes
            .iter()
            .filter_map(|axis| {
                if axis.name == self.axis {
                    Some((axis.name.clone(), version.clone()))
                } else {
                    self.base.iter().find(|(a, _)| *a == axis.name).cloned()
                }
            })
            .collect();
        Cell::new(values)
    }

    /// Bisects between `good` and `bad`, then recurses into the blamed dependency and lists commits when asked.
    pub fn run(
        &self,
        session: &mut Session<'_>,
        good: &Version,
        bad: &Version,
    ) -> Result<Bisection> {
        let published = index::list_versions(&self.axis, self.index)?;
        let pre = self.pre || self.axis_pre;
        let candidates = super::candidates(&self.axis, &published, good, bad, pre)?;
        let cell = |v: &Version| self.cell(v);
        let mut found = session.bisect(&Request {
            package: self.axis.clone(),
            candidates,
            cell: &cell,
            any_failure: self.any_failure,
            pre: self.pre,
        })?;
        found.pre_between = super::pre_releases_between(&published, good, bad, pre);
        if self.recurse {
            self.recurse_into_culprit(session, &mut found)?;
        }
        if let Some(repo) = self.repo {
            let deepest = deepest(&mut found);
            let (older, newer) = window(deepest);
            deepest.commits = Some(commits::between(repo, &older, &newer, &deepest.frames)?);
        }
        Ok(found)
    }

    /// Holding the good side's cell, forces the blamed dependency through its versions between the two sides.
    fn recurse_into_culprit(&self, session: &mut Session<'_>, found: &mut Bisection) -> Result<()> {
        let Some(culprit) = blame::culprit(&found.blame, found.frame.as_deref()).cloned() else {
            session.note(
                "bisect: no changed dependency holds the failing frame; nothing to recurse into",
            );
            return Ok(());
        };
        let Some(held) = found.sides[0].cell.clone() else {
            return Ok(());
        };
        let parse = |v: &Option<String>| {
            parse_version(v.as_deref().unwrap_or_default()).map_err(Error::BadInput)
        };
        let (good, bad) = (parse(&culprit.from)?, parse(&culprit.to)?);
        let candidates = self.candidates(&culprit.package, &good, &bad)?;
        let cell = |v: &Version| Cell {
            values: held.values.clone(),
            overrides: vec![(culprit.package.clone(), v.clone())],
            wheels: Vec::new(),
        };
        let inner = session.bisect(&Request {
            package: culprit.package.clone(),
            candidates,
            cell: &cell,
            any_failure: self.any_failure,
            pre: self.pre,
        })?;
        found.recursed = Some(Box::new(inner));
        Ok(())
    }

    fn candidates(&self, package: &str, good: &Version, bad: &Version) -> Result<Vec<Version>> {
        let published = index::list_versions(package, self.index)?;
        super::candidates(package, &published, good, bad, self.pre)
    }

    /// `(good, bad)` pairs of adjacent recorded versions of the axis whose outcomes flip between passing and
    /// failing, among the snapshot's cells that hold the other axes at this job's values.
    pub fn transitions(&self, snapshot: &Snapshot) -> Vec<(Version, Version)> {
        let mut recorded: Vec<(Version, bool)> = snapshot
            .cells
            .iter()
            .filter(|c| {
                self.base
                    .iter()
                    .all(|(axis, v)| c.key.get(axis) == Some(v.to_string().as_str()))
            })
            .filter_map(|c| {
                let version = parse_version(c.key.get(&self.axis)?).ok()?;
                let outcomes: Vec<Outcome> = c.probes.iter().map(|p| p.outcome).collect();
                let passes = outcomes
                    .iter()
                    .all(|o| matches!(o, Outcome::Pass | Outcome::Xpass));
                let fails = outcomes
                    .iter()
                    .any(|o| matches!(o, Outcome::Fail | Outcome::Xfail | Outcome::Crash));
                (passes || fails).then_some((version, passes))
            })
            .collect();
        recorded.sort_by(|a, b| a.0.cmp(&b.0));
        recorded
            .windows(2)
            .filter(|w| w[0].1 != w[1].1)
            .map(|w| {
                if w[0].1 {
                    (w[0].0.clone(), w[1].0.clone())
                } else {
                    (w[1].0.clone(), w[0].0.clone())
                }
            })
            .collect()
    }
}

/// The one value the selected cells give `axis`, to hold it at while another axis is bisected. Values that only an
/// `[[include]]` cell brings are not part of the grid a bisection walks along: they are left out when the axis's
/// own (`declared`) versions leave exactly one, so an extra cell in the matrix does not stop its bisections.
fn held_value(plan: &Plan, axis: &str, declared: &[Version]) -> Result<Option<Version>> {
    let mut values: Vec<&Version> = plan
        .cells
        .iter()
        .filter_map(|c| c.version_of(axis))
        .collect();
    values.sort();
    values.dedup();
    let in_grid: Vec<&Version> = values
        .iter()
        .copied()
        .filter(|v| declared.contains(v))
        .collect();
    match (values.as_slice(), in_grid.as_slice()) {
        ([], _) => Ok(None),
        ([one], _) | (_, [one]) => Ok(Some((*one).clone())),
        (several, _) => {
            let listed: Vec<String> = several.iter().map(ToString::to_string).collect();
            Err(Error::BadInput(format!(
                "axis `{axis}` has {} values ({}): hold it with --filter {axis}=VERSION",
                several.len(),
                listed.join(", ")
            )))
        }
    }
}

/// The innermost bisection: the package that changed behaviour.
fn deepest(found: &mut Bisection) -> &mut Bisection {
    match found.recursed {
        Some(ref mut inner) => deepest(inner),
        None => found,
    }
}

/// The boundary as `(older, newer)` versions, whichever the direction.
fn window(b: &Bisection) -> (String, String) {
    let pick = |x: &Option<String>| x.clone().unwrap_or_default();
    match b.direction {
        "fix" => (pick(&b.last_bad), pick(&b.first_good)),
        _ => (pick(&b.last_good), pick(&b.first_bad)),
    }
}
