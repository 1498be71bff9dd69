//! `bisect --from/--to --repo`: the culprit's commits between its last good and first bad release, each built into
//! a wheel ([`Builder`]) and installed in place of the release, bisected to the first bad commit.
//!
//! A release maps to a commit by its tag (`V` or `vV`). A nightly `X.Y.Z.devYYYYMMDD` is built from the default
//! branch (the repository's `HEAD`) on that day, so it holds every commit made before the day and at most every
//! commit of the day: the good end of a window is the last first-parent commit before 00:00 UTC of its day (surely
//! in it), the bad end the last one before 00:00 UTC of the next day (everything it may hold). The endpoints are
//! built and probed like any commit, so a rule that picked wrong is caught, never trusted.

use serde::Serialize;

use super::build::{Builder, Built};
use super::commits::{self, Commit};
use super::search::{Judgement, Search};
use super::session::{Session, Side};
use super::{BadFailure, Step};
use crate::error::{Error, Result};
use crate::index::version::Version;
use crate::matrix::{Cell, LocalWheel};

/// One commit of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// Twelve hex digits.
    pub hash: String,
    #[serde(skip)]
    pub full: String,
    /// The commit date, UTC, `YYYY-MM-DD`.
    pub date: String,
    pub title: String,
}

/// What the commit stage found.
#[derive(Debug, Serialize)]
pub struct CommitBisection {
    pub package: String,
    /// The releases the window runs between.
    pub from_release: String,
    pub to_release: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_good: Option<Revision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<Revision>,
    /// Commits in the window, both ends included.
    pub candidates: usize,
    pub probe_runs: usize,
    /// Wheels built now (cached ones excluded).
    pub builds: usize,
    pub rounds: usize,
    pub steps: Vec<Step>,
    /// Commits that could not be judged: `hash: why` (did not build, failed another way).
    pub skipped: Vec<String>,
    /// Skipped commits inside the final window: the first bad commit may be any of them.
    pub undecided: Vec<String>,
    /// Why no commit was bisected (the endpoints did not build or did not behave); `listed` then holds the commits
    /// touching the failing frames' files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed: Option<Vec<Commit>>,
    /// The two commits at the boundary, good first, and the lines that build each by hand.
    #[serde(skip)]
    pub sides: Vec<(Side, Vec<String>)>,
}

/// Which end of a window a release stands at.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum End {
    Good,
    Bad,
}

/// The commit `version` stands for at `end` of a window (see the module's rule).
pub fn release_commit(repo: &std::path::Path, version: &str, end: End) -> Result<String> {
    if let Some(day) = nightly_day(version) {
        let before = match end {
            End::Good => format!("{day}T00:00:00Z"),
            End::Bad => format!("{day}T23:59:59Z"),
        };
        let found = commits::git(
            repo,
            &[
                "rev-list",
                "-1",
                "--first-parent",
                &format!("--before={before}"),
                "HEAD",
            ],
        )?;
        let found = found.trim();
        if found.is_empty() {
            return Err(Error::BadInput(format!(
                "--repo {}: no commit on HEAD before {before} for nightly {version}",
                repo.display()
            )));
        }
        return Ok(found.to_string());
    }
    for tag in [version.to_string(), format!("v{version}")] {
        if let Ok(hash) = commits::git(
            repo,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/tags/{tag}^{{commit}}"),
            ],
        ) {
            return Ok(hash.trim().to_string());
        }
    }
    Err(Error::BadInput(format!(
        "--repo {}: no tag `{version}` or `v{version}`, and `{version}` is not a dated nightly",
        repo.display()
    )))
}

/// `YYYY-MM-DD` of a `.devYYYYMMDD` nightly.
fn nightly_day(version: &str) -> Option<String> {
    let (_, date) = version.rsplit_once(".dev")?;
    (date.len() == 8 && date.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..]))
}

/// `good`, then the first-parent commits after it up to `bad`, oldest first.
pub fn window(repo: &std::path::Path, good: &str, bad: &str) -> Result<Vec<Revision>> {
    let format = "--format=%H%x09%cd%x09%s";
    let first = commits::git(repo, &["log", "-1", "--date=short", format, good])?;
    let rest = commits::git(
        repo,
        &[
            "log",
            "--first-parent",
            "--reverse",
            "--date=short",
            format,
            &format!("{good}..{bad}"),
        ],
    )?;
    Ok(first
        .lines()
        .chain(rest.lines())
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let full = parts.next()?.to_string();
            Some(Revision {
                hash: full.chars().take(12).collect(),
                full,
                date: parts.next()?.to_string(),
                title: parts.next()?.to_string(),
            })
        })
        .collect())
}

/// The commit stage's inputs: what builds the package, the rest of the mixed set, and what "bad" means.
pub struct CommitJob<'a> {
    pub builder: Builder<'a>,
    /// The changed packages other than the culprit, as the release stage held them.
    pub base: Vec<(String, Version)>,
    pub bad_failure: &'a BadFailure,
    pub any_failure: bool,
    /// Frames of the bad release's failure, for the file-based listing when nothing can be built.
    pub frames: &'a [String],
}

impl CommitJob<'_> {
    fn cell(&self, revision: &Revision, wheel: &std::path::Path) -> Cell {
        let mut cell = super::changes::forced_cell(self.base.clone());
        cell.wheels.push(LocalWheel {
            package: self.builder.package.to_string(),
            label: format!("git:{}", revision.hash),
            path: std::path::absolute(wheel).unwrap_or_else(|_| wheel.to_path_buf()),
        });
        cell
    }
}

/// The stage's running record.
struct Trail<'a> {
    revisions: &'a [Revision],
    steps: Vec<Step>,
    skipped: Vec<String>,
    results: Vec<Option<(Cell, crate::results::CellResult)>>,
    probe_runs: usize,
    builds: usize,
    rounds: usize,
}

/// Bisects the commits between the releases `older` (good) and `newer` (bad).
pub fn bisect(
    session: &mut Session<'_>,
    job: &CommitJob<'_>,
    older: &str,
    newer: &str,
) -> Result<CommitBisection> {
    let repo = job.builder.repo;
    let mapped = release_commit(repo, older, End::Good).and_then(|good| {
        let bad = release_commit(repo, newer, End::Bad)?;
        Ok((window(repo, &good, &bad)?, good, bad))
    });
    let (revisions, good, bad) = match mapped {
        Ok((revisions, good, bad)) if revisions.len() >= 2 => (revisions, good, bad),
        Ok((_, good, _)) => {
            let why = format!("{older} and {newer} both map to commit {}", &good[..12]);
            return unbisected(job, why, (older, newer));
        }
        Err(e) => return unbisected(job, e.to_string(), (older, newer)),
    };
    session.note(&format!(
        "bisect {}: {} commits from {} ({older}) to {} ({newer}); building and checking the endpoints",
        job.builder.package,
        revisions.len(),
        &good[..12],
        &bad[..12]
    ));
    let mut trail = Trail {
        revisions: &revisions,
        steps: Vec::new(),
        skipped: Vec::new(),
        results: vec![None; revisions.len()],
        probe_runs: 0,
        builds: 0,
        rounds: 1,
    };
    let last = revisions.len() - 1;
    let ends = probe_commits(session, job, &mut trail, &[0, last])?;
    let fallback = match (ends[0], ends[1]) {
        (Judgement::Good, Judgement::Bad) => None,
        _ => Some(endpoint_trouble(&trail, [ends[0], ends[1]], [older, newer])),
    };
    let mut search = Search::new(revisions.len());
    while fallback.is_none() {
        let points = search.next(session.per_round());
        if points.is_empty() {
            break;
        }
        let judged = probe_commits(session, job, &mut trail, &points)?;
        trail.rounds += 1;
        search.record(&points.iter().copied().zip(judged).collect::<Vec<_>>());
    }
    conclude(session, job, trail, &search, fallback, (older, newer))
}

/// Builds and probes the commits at `points`; one that does not build is skipped without a probe.
fn probe_commits(
    session: &mut Session<'_>,
    job: &CommitJob<'_>,
    trail: &mut Trail<'_>,
    points: &[usize],
) -> Result<Vec<Judgement>> {
    let mut judged = vec![Judgement::Skip; points.len()];
    let mut cells = Vec::new();
    for (slot, &i) in points.iter().enumerate() {
        let revision = &trail.revisions[i];
        let cached = job.builder.is_cached(&revision.full);
        let built: Built = job.builder.wheel(&revision.full)?;
        trail.builds += usize::from(!cached);
        match built {
            Ok(wheel) => cells.push((slot, i, job.cell(revision, &wheel))),
            Err(why) => {
                let last_line = why.lines().last().unwrap_or("").to_string();
                session.note(&format!(
                    "bisect: {} does not build: {last_line}",
                    revision.hash
                ));
                trail
                    .skipped
                    .push(format!("{}: does not build", revision.hash));
            }
        }
    }
    let probed = session.probe(&cells.iter().map(|(_, _, c)| c.clone()).collect::<Vec<_>>())?;
    for ((slot, i, cell), (result, ran)) in cells.into_iter().zip(probed) {
        let judgement = job.bad_failure.judge(&result, job.any_failure);
        let revision = &trail.revisions[i];
        trail.probe_runs += usize::from(ran);
        trail.steps.push(Step::labelled(
            revision.hash.clone(),
            &result,
            judgement,
            ran,
        ));
        if judgement == Judgement::Skip {
            trail.skipped.push(format!(
                "{}: {}",
                revision.hash,
                trail.steps.last().expect("pushed").outcome
            ));
        }
        trail.results[i] = Some((cell, result));
        judged[slot] = judgement;
    }
    Ok(judged)
}

/// Why the endpoints cannot frame a search: the good one does not pass or the bad one does not fail the same way
/// (or either does not build).
fn endpoint_trouble(trail: &Trail<'_>, ends: [Judgement; 2], releases: [&str; 2]) -> String {
    let revisions = trail.revisions;
    let last = revisions.len() - 1;
    let checks = [
        (0, ends[0], Judgement::Good, "pass"),
        (last, ends[1], Judgement::Bad, "fail the same way"),
    ];
    let reasons: Vec<String> = checks
        .iter()
        .zip(releases)
        .filter(|((_, judged, expected, _), _)| judged != expected)
        .map(|((i, _, _, word), release)| {
            let hash = &revisions[*i].hash;
            match &trail.results[*i] {
                None => format!("{hash} ({release}) does not build"),
                Some((_, result)) => {
                    let step = Step::labelled(String::new(), result, Judgement::Skip, false);
                    let what = crate::render::outcome_text(step.outcome, step.signature.as_deref());
                    format!("{hash} ({release}) does not {word}: {what}")
                }
            }
        })
        .collect();
    reasons.join("; ")
}

/// The stage when the releases give no commits to search: why, and the commits touching the failing files.
fn unbisected(
    job: &CommitJob<'_>,
    why: String,
    (older, newer): (&str, &str),
) -> Result<CommitBisection> {
    Ok(CommitBisection {
        package: job.builder.package.to_string(),
        from_release: older.to_string(),
        to_release: newer.to_string(),
        last_good: None,
        first_bad: None,
        candidates: 0,
        probe_runs: 0,
        builds: 0,
        rounds: 0,
        steps: Vec::new(),
        skipped: Vec::new(),
        undecided: Vec::new(),
        fallback: Some(why),
        listed: commits::between(job.builder.repo, older, newer, job.frames).ok(),
        sides: Vec::new(),
    })
}

fn conclude(
    session: &Session<'_>,
    job: &CommitJob<'_>,
    trail: Trail<'_>,
    search: &Search,
    fallback: Option<String>,
    (older, newer): (&str, &str),
) -> Result<CommitBisection> {
    let revisions = trail.revisions;
    let (g, b) = search.boundary();
    let listed = match fallback {
        Some(_) => Some(commits::between(
            job.builder.repo,
            older,
            newer,
            job.frames,
        )?),
        None => None,
    };
    let found = fallback.is_none();
    let side = |i: usize| -> Option<(Side, Vec<String>)> {
        let (cell, result) = trail.results[i].clone()?;
        let revision = &revisions[i];
        let commands = job
            .builder
            .commands(&revision.full, &format!("build-{}", revision.hash));
        Some((
            Side {
                version: revision.hash.clone(),
                env: Some(session.env_spec(&cell)),
                cell: Some(cell),
                result: Some(result),
            },
            commands,
        ))
    };
    Ok(CommitBisection {
        package: job.builder.package.to_string(),
        from_release: older.to_string(),
        to_release: newer.to_string(),
        last_good: found.then(|| revisions[g].clone()),
        first_bad: found.then(|| revisions[b].clone()),
        candidates: revisions.len(),
        probe_runs: trail.probe_runs,
        builds: trail.builds,
        rounds: trail.rounds,
        sides: if found {
            [g, b].into_iter().filter_map(side).collect()
        } else {
            Vec::new()
        },
        undecided: search
            .skipped_inside()
            .iter()
            .map(|&i| revisions[i].hash.clone())
            .collect(),
        skipped: trail.skipped,
        steps: trail.steps,
        fallback,
        listed,
    })
}
