//! A bisect session: probes versions through the harness (the same environment cache as `run`), remembers every
//! probed cell in a journal of its own (a rerun of a finished bisect probes nothing; Ctrl-C keeps what finished),
//! verifies the endpoints and drives the search.

use std::collections::BTreeMap;

use serde::Serialize;

use super::blame::{self, Change};
use super::commits::Commit;
use super::search::{Judgement, Search};
use super::{BadFailure, Step};
use crate::env::EnvSpec;
use crate::error::{Error, Result};
use crate::index::version::Version;
use crate::matrix::Cell;
use crate::outcome::Outcome;
use crate::render::outcome_text;
use crate::results::CellResult;
use crate::run::pipeline::Pipeline;

/// One search: a package, its candidates from the good end to the bad end, and how a version becomes a cell.
pub struct Request<'a> {
    /// The package whose versions are searched: a matrix axis, or a dependency forced by an override.
    pub package: String,
    pub candidates: Vec<Version>,
    pub cell: &'a dyn Fn(&Version) -> Cell,
    pub any_failure: bool,
    /// Whether the candidates include pre-releases neither endpoint asked for (`--pre`).
    pub pre: bool,
}

/// What a search found.
#[derive(Debug, Serialize)]
pub struct Bisection {
    pub axis: String,
    /// `regression` (good is older than bad) or `fix` (good is newer).
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_good: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_bad: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_good: Option<String>,
    /// Versions between the endpoints, both included.
    pub candidates: usize,
    /// Probe runs this bisect made (journal hits excluded), and its rounds of probes.
    pub probe_runs: usize,
    pub rounds: usize,
    pub signature: Option<String>,
    pub frame: Option<String>,
    pub steps: Vec<Step>,
    /// Versions that could not be judged (another failure, not installable, needs-cuda, skipped, timeout).
    pub skipped: Vec<String>,
    /// Skipped versions inside the final window: the boundary may lie at any of them.
    pub undecided: Vec<String>,
    pub blame: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<Vec<Commit>>,
    /// The blamed dependency bisected in turn (`--recurse`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recursed: Option<Box<Bisection>>,
    /// The two cells at the boundary, good side first: their resolved sets and how to rebuild them.
    #[serde(skip)]
    pub sides: [Side; 2],
    /// The bad side's failing frames, for `--repo`.
    #[serde(skip)]
    pub frames: Vec<String>,
    /// How the search judged and chose versions (`--any-failure`, `--pre`): the command that repeats it needs them.
    #[serde(skip)]
    pub any_failure: bool,
    #[serde(skip)]
    pub pre: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Side {
    pub version: String,
    pub cell: Option<Cell>,
    pub result: Option<CellResult>,
    /// What the side's environment is built from, for the commands that rebuild it by hand.
    pub env: Option<EnvSpec>,
}

impl Side {
    /// What the side's cell resolved (nothing when it was not probed or got no environment).
    fn resolved(&self) -> BTreeMap<String, String> {
        self.result
            .as_ref()
            .map(|r| r.resolved.clone())
            .unwrap_or_default()
    }

    /// The site-packages frames of the first probe that failed with a traceback.
    fn failing_frames(&self) -> Vec<String> {
        self.result
            .as_ref()
            .and_then(|r| r.probes.iter().find(|p| !p.frames.is_empty()))
            .map(|p| p.frames.clone())
            .unwrap_or_default()
    }
}

/// Probes versions through a pipeline whose journal is the bisect journal ([`JournalUse::bisect`]).
pub struct Session<'a> {
    pipeline: &'a mut Pipeline,
    /// Probes per round: one per job, so two cores halve the open range three ways instead of two.
    per_round: usize,
}

impl<'a> Session<'a> {
    pub fn new(pipeline: &'a mut Pipeline) -> Self {
        let per_round = pipeline.jobs();
        Self {
            pipeline,
            per_round,
        }
    }

    /// Says `text` to the pipeline's sink.
    pub fn note(&self, text: &str) {
        self.pipeline.sink().note(text);
    }

    /// Results of `cells`, with whether each ran now (false: the journal had it).
    fn probe(&mut self, cells: &[Cell]) -> Result<Vec<(CellResult, bool)>> {
        let probed = self.pipeline.results(cells)?;
        Ok(probed.into_iter().map(|p| (p.result, p.ran)).collect())
    }

    /// Verifies the endpoints, then searches between them.
    pub fn bisect(&mut self, request: &Request<'_>) -> Result<Bisection> {
        let seq = &request.candidates;
        let last = seq.len() - 1;
        self.note(&format!(
            "bisect {}: {} candidates from {} (good) to {} (bad); checking the endpoints",
            request.package,
            seq.len(),
            seq[0],
            seq[last]
        ));
        let ends = self.probe(&[(request.cell)(&seq[0]), (request.cell)(&seq[last])])?;
        let bad_failure = self.check_endpoints(request, &ends)?;
        let mut trail = Trail {
            steps: Vec::new(),
            results: vec![None; seq.len()],
            probe_runs: 0,
            rounds: 1,
        };
        for (i, (result, ran), judgement) in [
            (0, &ends[0], Judgement::Good),
            (last, &ends[1], Judgement::Bad),
        ] {
            trail.add(i, &seq[i], result.clone(), *ran, judgement);
        }
        let mut search = Search::new(seq.len());
        loop {
            let points = search.next(self.per_round);
            if points.is_empty() {
                break;
            }
            let names: Vec<String> = points.iter().map(|&i| seq[i].to_string()).collect();
            self.note(&format!(
                "bisect {}: probing {} ({} candidates open, about {} rounds left)",
                request.package,
                names.join(", "),
                search.open().len(),
                search.rounds_left(self.per_round)
            ));
            let cells: Vec<Cell> = points.iter().map(|&i| (request.cell)(&seq[i])).collect();
            let mut judged = Vec::new();
            for (&i, (result, ran)) in points.iter().zip(self.probe(&cells)?) {
                let judgement = bad_failure.judge(&result, request.any_failure);
                trail.add(i, &seq[i], result, ran, judgement);
                judged.push((i, judgement));
            }
            trail.rounds += 1;
            search.record(&judged);
        }
        Ok(self.conclude(request, &search, trail, &bad_failure))
    }

    /// The report of a finished search: the window in the request's direction, the sides, blame and frames.
    fn conclude(
        &self,
        request: &Request<'_>,
        search: &Search,
        trail: Trail,
        bad_failure: &BadFailure,
    ) -> Bisection {
        let seq = &request.candidates;
        let (g, b) = search.boundary();
        let side = |i: usize| {
            let cell = (request.cell)(&seq[i]);
            Side {
                version: seq[i].to_string(),
                env: Some(self.pipeline.harness().env_spec(&cell)),
                cell: Some(cell),
                result: trail.results[i].clone(),
            }
        };
        let (good_side, bad_side) = (side(g), side(b));
        let frames = bad_side.failing_frames();
        let (signature, frame) = bad_failure.headline();
        let regression = seq[0] < seq[seq.len() - 1];
        let (older, newer) = if regression { (g, b) } else { (b, g) };
        let name = |i: usize| Some(seq[i].to_string());
        Bisection {
            axis: request.package.clone(),
            direction: if regression { "regression" } else { "fix" },
            last_good: regression.then(|| name(older)).flatten(),
            first_bad: regression.then(|| name(newer)).flatten(),
            last_bad: (!regression).then(|| name(older)).flatten(),
            first_good: (!regression).then(|| name(newer)).flatten(),
            candidates: seq.len(),
            probe_runs: trail.probe_runs,
            rounds: trail.rounds,
            signature: signature.map(String::from),
            frame: frame.map(String::from),
            skipped: trail
                .steps
                .iter()
                .filter(|s| s.judgement == "skip")
                .map(|s| s.version.clone())
                .collect(),
            undecided: search
                .skipped_inside()
                .iter()
                .map(|&i| seq[i].to_string())
                .collect(),
            blame: blame::changes(
                &request.package,
                &good_side.resolved(),
                &bad_side.resolved(),
            ),
            commits: None,
            recursed: None,
            steps: trail.steps,
            sides: [good_side, bad_side],
            frames,
            any_failure: request.any_failure,
            pre: request.pre,
        }
    }

    /// The good endpoint must pass and the bad one must fail; the bad one's failure defines "bad".
    fn check_endpoints(
        &mut self,
        request: &Request<'_>,
        ends: &[(CellResult, bool)],
    ) -> Result<BadFailure> {
        let seq = &request.candidates;
        let (good, bad) = (&ends[0].0, &ends[1].0);
        if super::passes(bad) {
            return Err(Error::BadInput(format!(
                "--bad {}: every probe passed there; pick a version that fails",
                seq[seq.len() - 1]
            )));
        }
        if !super::passes(good) {
            return Err(self.misbehaving_endpoint("--good", request, 0, good, "does not pass"));
        }
        BadFailure::of(bad).ok_or_else(|| {
            self.misbehaving_endpoint("--bad", request, seq.len() - 1, bad, "does not fail")
        })
    }

    /// Says what an endpoint did instead; one that could not be installed names the nearest version that can.
    fn misbehaving_endpoint(
        &mut self,
        flag: &str,
        request: &Request<'_>,
        index: usize,
        result: &CellResult,
        expected: &str,
    ) -> Error {
        let worst = Step::new(&request.candidates[index], result, Judgement::Skip, false);
        let what = outcome_text(
            worst.outcome,
            Some(worst.signature.as_deref().unwrap_or("no signature")),
        );
        let version = &request.candidates[index];
        if !matches!(worst.outcome, Outcome::Unresolvable | Outcome::InstallError) {
            return Error::BadInput(format!("{flag} {version} {expected}: {what}"));
        }
        let nearest = self.nearest_installable(request, index);
        let message = format!(
            "{flag} {version} cannot be installed ({what}){}",
            nearest.map_or_else(
                || " and neither can its three nearest candidates".to_string(),
                |v| format!("; the nearest installable version is {v}")
            )
        );
        // An install that failed is the machine's (network, disk, a build); versions that do not go together are
        // the request's to change.
        match worst.outcome {
            Outcome::InstallError => Error::infra(message),
            _ => Error::BadInput(message),
        }
    }

    /// The nearest candidate inward from `index` whose environment builds (at most three tried).
    fn nearest_installable(&mut self, request: &Request<'_>, index: usize) -> Option<Version> {
        let seq = &request.candidates;
        let inward: Vec<usize> = if index == 0 {
            (1..seq.len()).take(3).collect()
        } else {
            (0..index).rev().take(3).collect()
        };
        for i in inward {
            let probed = self.probe(&[(request.cell)(&seq[i])]).ok()?;
            let outcome = Step::new(&seq[i], &probed[0].0, Judgement::Skip, false).outcome;
            if !matches!(outcome, Outcome::Unresolvable | Outcome::InstallError) {
                return Some(seq[i].clone());
            }
        }
        None
    }
}

/// What a search has probed so far.
struct Trail {
    steps: Vec<Step>,
    /// By candidate index.
    results: Vec<Option<CellResult>>,
    probe_runs: usize,
    rounds: usize,
}

impl Trail {
    fn add(
        &mut self,
        i: usize,
        version: &Version,
        result: CellResult,
        ran: bool,
        judgement: Judgement,
    ) {
        self.probe_runs += usize::from(ran);
        self.steps.push(Step::new(version, &result, judgement, ran));
        self.results[i] = Some(result);
    }
}
