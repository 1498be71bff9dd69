//! `bisect --from GOOD --to BAD`: from a broken update to the culprit. Three stages, each narrowing the last: which
//! changed packages turn the good set bad ([`changes`](super::changes)), then between which two published releases of
//! that package ([`Session::bisect`]), then, given its repository, at which commit ([`super::history`]).
//!
//! Every probe is a mixed set, "good plus these changes": the changed packages pinned and forced with uv's overrides
//! (a release pins its dependencies exactly, and a mixed set breaks those pins on purpose), the packages both sides
//! share held by the pipeline's pins. A mixed set that cannot be installed, or fails another way, is skipped: named in
//! the report, never blamed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::build::Builder;
use super::changes::{self, Update};
use super::history::{self, CommitBisection};
use super::search::Judgement;
use super::session::{Bisection, Request, Session, Side};
use super::sets::PinnedSet;
use super::{BadFailure, Step};
use crate::error::{Error, Result};
use crate::index::version::Version;
use crate::index::{self, IndexSettings};
use crate::matrix::{BuildRecipe, Cell};
use crate::outcome::Outcome;
use crate::render::outcome_text;
use crate::results::CellResult;

/// The two sides and how to search between them.
pub struct Job<'a> {
    pub good: &'a PinnedSet,
    pub bad: &'a PinnedSet,
    pub updates: Vec<Update>,
    pub index: &'a IndexSettings,
    pub any_failure: bool,
    pub pre: bool,
    /// `--repo`: the culprit's repository, for the commit stage.
    pub repo: Option<&'a Path>,
    /// The matrix's `[build.NAME]` recipes.
    pub recipes: &'a [BuildRecipe],
}

/// What the three stages found, top-down.
#[derive(Debug, Serialize)]
pub struct Culprit {
    pub from: String,
    pub to: String,
    /// Every package the update changed.
    pub changed: Vec<Update>,
    pub packages: PackageStage,
    /// One release bisection per culprit package that has a version on both sides.
    pub releases: Vec<Bisection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<CommitBisection>,
}

/// The first stage: the smallest set of changes that fails.
#[derive(Debug, Serialize)]
pub struct PackageStage {
    pub culprits: Vec<Update>,
    /// Culprits known only up to mixed sets that could not be judged: the failure may lie in any of them.
    pub undecided: Vec<String>,
    /// The culprit set by itself could not be judged.
    pub alone_unjudged: bool,
    pub probe_runs: usize,
    pub rounds: usize,
    pub signature: Option<String>,
    pub frame: Option<String>,
    pub steps: Vec<SetStep>,
    /// Mixed sets that could not be judged, each as its applied changes.
    pub skipped: Vec<String>,
    /// The good set, and the good set plus the culprits.
    #[serde(skip)]
    pub sides: [Side; 2],
}

/// One probed mixed set.
#[derive(Debug, Clone, Serialize)]
pub struct SetStep {
    /// The changes applied to the good set (none: the good set; all: the bad set).
    pub applied: Vec<String>,
    pub outcome: Outcome,
    pub signature: Option<String>,
    pub judgement: &'static str,
    pub ran: bool,
}

impl Job<'_> {
    /// The pins every mixed set shares (`name==version`): both sides agree on them.
    pub fn common_pins(good: &PinnedSet, bad: &PinnedSet) -> Vec<String> {
        changes::common(good, bad)
            .iter()
            .map(|(n, v)| format!("{n}=={v}"))
            .collect()
    }

    fn applied_cell(&self, applied: &[usize]) -> Cell {
        changes::forced_cell(changes::mixed(&self.updates, applied))
    }

    /// Runs the package stage, then the release stage for each culprit with a version on both sides.
    pub fn run(&self, session: &mut Session<'_>) -> Result<(Culprit, BadFailure)> {
        let (packages, bad_failure) = self.narrow(session)?;
        let mut releases = Vec::new();
        for culprit in &packages.culprits {
            if let (Some(_), Some(_)) = (&culprit.from, &culprit.to) {
                releases.push(self.releases(session, culprit, &packages.culprits)?);
            }
        }
        let commits = match (self.repo, self.regression_window(&releases, &packages)) {
            (Some(repo), Some(release)) => {
                Some(self.commits(session, repo, release, &bad_failure)?)
            }
            _ => None,
        };
        let found = Culprit {
            from: self.good.source.clone(),
            to: self.bad.source.clone(),
            changed: self.updates.clone(),
            packages,
            releases,
            commits,
        };
        Ok((found, bad_failure))
    }

    /// The release window the commit stage searches: the one of the package the failing frame lives in (else the
    /// first), when it is a regression with both sides found.
    fn regression_window<'b>(
        &self,
        releases: &'b [Bisection],
        stage: &PackageStage,
    ) -> Option<&'b Bisection> {
        let module = stage
            .frame
            .as_deref()
            .and_then(|f| f.split('/').next())
            .map(index::normalize);
        let framed = releases
            .iter()
            .find(|b| Some(index::normalize(&b.axis)) == module);
        framed.or(releases.first()).filter(|b| {
            b.direction == "regression" && b.last_good.is_some() && b.first_bad.is_some()
        })
    }

    /// Builds and bisects the culprit's commits between the release window's two versions.
    fn commits(
        &self,
        session: &mut Session<'_>,
        repo: &Path,
        release: &Bisection,
        bad_failure: &BadFailure,
    ) -> Result<CommitBisection> {
        let package = release.axis.as_str();
        let recipe = self
            .recipes
            .iter()
            .find(|r| r.package == index::normalize(package))
            .cloned()
            .unwrap_or_default();
        let base = release.sides[0]
            .cell
            .as_ref()
            .map(|c| {
                c.values
                    .iter()
                    .filter(|(n, _)| n != package)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let job = history::CommitJob {
            builder: Builder::new(repo, package, recipe, session.toolchain()),
            base,
            bad_failure,
            any_failure: self.any_failure,
            frames: &release.frames,
        };
        let (older, newer) = (release.last_good.as_deref(), release.first_bad.as_deref());
        history::bisect(
            session,
            &job,
            older.unwrap_or_default(),
            newer.unwrap_or_default(),
        )
    }

    /// Checks both sides, then searches the changes.
    fn narrow(&self, session: &mut Session<'_>) -> Result<(PackageStage, BadFailure)> {
        let all: Vec<usize> = (0..self.updates.len()).collect();
        session.note(&format!(
            "bisect: {} packages changed between {} and {}; checking both sides",
            self.updates.len(),
            self.good.source,
            self.bad.source
        ));
        let ends = session.probe(&[self.applied_cell(&[]), self.applied_cell(&all)])?;
        let bad_failure = self.check_sides(&ends)?;
        let mut trail = SetTrail {
            rounds: 1,
            ..SetTrail::default()
        };
        trail.add(self, Vec::new(), &ends[0], Judgement::Good);
        trail.add(self, all, &ends[1], Judgement::Bad);
        let per_round = session.per_round();
        let mut judge = |sets: &[Vec<usize>]| -> Result<Vec<Judgement>> {
            let cells: Vec<Cell> = sets.iter().map(|s| self.applied_cell(s)).collect();
            let names: Vec<String> = sets.iter().map(|s| self.describe(s)).collect();
            session.note(&format!("bisect: probing {}", names.join("; ")));
            let probed = session.probe(&cells)?;
            trail.rounds += 1;
            Ok(sets
                .iter()
                .zip(&probed)
                .map(|(set, end)| {
                    let judgement = bad_failure.judge(&end.0, self.any_failure);
                    trail.add(self, set.clone(), end, judgement);
                    judgement
                })
                .collect())
        };
        let minimal = changes::minimize(self.updates.len(), per_round, &mut judge)?;
        let stage = self.conclude(session, trail, &minimal, &bad_failure);
        Ok((stage, bad_failure))
    }

    /// `lightning 2.3.0.dev20240428 -> 2.3.3, litgpt 0.4.4 -> 0.4.5` (or `nothing`).
    fn describe(&self, applied: &[usize]) -> String {
        if applied.is_empty() {
            return "the good set".into();
        }
        let names: Vec<String> = applied
            .iter()
            .map(|&i| self.updates[i].describe())
            .collect();
        format!("good + {}", names.join(", "))
    }

    fn conclude(
        &self,
        session: &Session<'_>,
        trail: SetTrail,
        minimal: &changes::Minimal,
        bad_failure: &BadFailure,
    ) -> PackageStage {
        let pick = |indices: &[usize]| -> Vec<Update> {
            indices.iter().map(|&i| self.updates[i].clone()).collect()
        };
        let side = |applied: &[usize], label: String| {
            let cell = self.applied_cell(applied);
            Side {
                version: label,
                env: Some(session.env_spec(&cell)),
                cell: Some(cell),
                result: trail.results.get(applied).cloned(),
            }
        };
        let (signature, frame) = bad_failure.headline();
        PackageStage {
            culprits: pick(&minimal.culprits),
            undecided: pick(&minimal.undecided)
                .into_iter()
                .map(|u| u.package)
                .collect(),
            alone_unjudged: minimal.alone_unjudged,
            probe_runs: trail.probe_runs,
            rounds: trail.rounds,
            signature: signature.map(String::from),
            frame: frame.map(String::from),
            skipped: trail
                .steps
                .iter()
                .filter(|s| s.judgement == "skip")
                .map(|s| s.applied.join(", "))
                .collect(),
            sides: [
                side(&[], "good".into()),
                side(&minimal.culprits, self.describe(&minimal.culprits)),
            ],
            steps: trail.steps,
        }
    }

    /// The good set must pass and the bad set fail; the bad set's failure defines "bad". A side whose install
    /// failed is the machine's fault (network, disk: exit 3), not the sets'.
    fn check_sides(&self, ends: &[(CellResult, bool)]) -> Result<BadFailure> {
        let refuse = |flag: &str, set: &PinnedSet, result: &CellResult, expected: &str| {
            let step = Step::labelled(String::new(), result, Judgement::Skip, false);
            let what = outcome_text(
                step.outcome,
                Some(step.signature.as_deref().unwrap_or("no signature")),
            );
            let message = format!("{flag} {} {expected}: {what}", set.source);
            match step.outcome {
                Outcome::InstallError => Error::infra(message),
                _ => Error::BadInput(message),
            }
        };
        if !super::passes(&ends[0].0) {
            return Err(refuse("--from", self.good, &ends[0].0, "does not pass"));
        }
        BadFailure::of(&ends[1].0)
            .ok_or_else(|| refuse("--to", self.bad, &ends[1].0, "does not fail"))
    }

    /// Bisects `culprit`'s published releases between its two versions, the other culprits applied.
    fn releases(
        &self,
        session: &mut Session<'_>,
        culprit: &Update,
        culprits: &[Update],
    ) -> Result<Bisection> {
        let (Some(good), Some(bad)) = (&culprit.from, &culprit.to) else {
            unreachable!("only updates with two versions are bisected")
        };
        let published = index::list_versions(&culprit.package, self.index)?;
        let candidates = super::candidates(&culprit.package, &published, good, bad, self.pre)?;
        let others: Vec<usize> = self
            .updates
            .iter()
            .enumerate()
            .filter(|(_, u)| u.package != culprit.package && culprits.contains(u))
            .map(|(i, _)| i)
            .collect();
        let base = changes::mixed(&self.updates, &others);
        let cell = |v: &Version| {
            let mut versions = base.clone();
            for pair in versions.iter_mut().filter(|(n, _)| *n == culprit.package) {
                pair.1 = v.clone();
            }
            changes::forced_cell(versions)
        };
        let mut found = session.bisect(&Request {
            package: culprit.package.clone(),
            candidates,
            cell: &cell,
            any_failure: self.any_failure,
            pre: self.pre,
        })?;
        found.pre_between = super::pre_releases_between(&published, good, bad, self.pre);
        Ok(found)
    }
}

/// What the package stage has probed so far.
#[derive(Default)]
struct SetTrail {
    steps: Vec<SetStep>,
    results: BTreeMap<Vec<usize>, CellResult>,
    probe_runs: usize,
    rounds: usize,
}

impl SetTrail {
    fn add(
        &mut self,
        job: &Job<'_>,
        applied: Vec<usize>,
        end: &(CellResult, bool),
        judgement: Judgement,
    ) {
        let (result, ran) = end;
        let step = Step::labelled(String::new(), result, judgement, *ran);
        self.probe_runs += usize::from(*ran);
        self.steps.push(SetStep {
            applied: applied.iter().map(|&i| job.updates[i].describe()).collect(),
            outcome: step.outcome,
            signature: step.signature,
            judgement: step.judgement,
            ran: *ran,
        });
        self.results.insert(applied, result.clone());
    }
}

/// The matrix's interpreter, when it names a version, must be one both sets were locked for.
pub fn check_python(
    matrix: &crate::matrix::Matrix,
    good: &PinnedSet,
    bad: &PinnedSet,
) -> Result<()> {
    let Some(python) = matrix.python.as_deref().filter(|p| !p.contains('/')) else {
        return Ok(());
    };
    let Ok(version) = crate::index::version::parse_version(python) else {
        return Ok(());
    };
    for set in [good, bad] {
        if let Some(range) = &set.requires_python
            && !range.contains(&version)
        {
            return Err(Error::BadInput(format!(
                "{}: locked for Python {range}, but the matrix {} runs Python {python}",
                set.source,
                matrix.source.display()
            )));
        }
    }
    Ok(())
}
