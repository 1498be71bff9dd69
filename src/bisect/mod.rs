//! `bisect`: the first bad (or first fixed) release of one axis, found among every version the index publishes
//! between a good and a bad endpoint, with the transitive changes behind it (blame) and, given the package's git
//! history, the commits that touched the failing frames.
//!
//! The search ([`search`]) is pure; [`session`] runs its probes through the same harness, environment cache and
//! journal machinery as `run`; [`blame`], [`commits`] and [`render`] explain the result.

pub mod blame;
pub mod commits;
pub mod drive;
pub mod render;
pub mod search;
pub mod session;
pub mod view;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::index::version::Version;
use crate::outcome::Outcome;
use crate::results::CellResult;
use search::Judgement;

/// The failure that makes a version bad: the failing probes of the bad endpoint, each with its signature and frame.
#[derive(Debug, Clone)]
pub struct BadFailure {
    pub probes: Vec<(String, Option<String>, Option<String>)>,
}

/// Outcomes that are a failure of the code under test (a timeout may be the machine's: it is skipped).
fn is_failure(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Fail | Outcome::Xfail | Outcome::Crash)
}

fn passes(cell: &CellResult) -> bool {
    !cell.probes.is_empty()
        && cell
            .probes
            .iter()
            .all(|p| matches!(p.outcome, Outcome::Pass | Outcome::Xpass))
}

impl BadFailure {
    /// The bad endpoint's failures; none when it did not fail.
    pub fn of(cell: &CellResult) -> Option<Self> {
        let probes: Vec<_> = cell
            .probes
            .iter()
            .filter(|p| is_failure(p.outcome))
            .map(|p| (p.name.clone(), p.signature.clone(), p.frame.clone()))
            .collect();
        (!probes.is_empty()).then_some(Self { probes })
    }

    /// Good when every probe passed; bad when a probe failed the way the bad endpoint did (with `any_failure`, any
    /// failure); anything else (another failure, unresolvable, install-error, needs-cuda, skipped, timeout) is skipped.
    pub fn judge(&self, cell: &CellResult, any_failure: bool) -> Judgement {
        if passes(cell) {
            return Judgement::Good;
        }
        let same = |p: &crate::results::ProbeResult| {
            self.probes.iter().any(|(name, sig, frame)| {
                *name == p.name && *sig == p.signature && *frame == p.frame
            })
        };
        let bad = cell
            .probes
            .iter()
            .any(|p| is_failure(p.outcome) && (any_failure || same(p)));
        if bad { Judgement::Bad } else { Judgement::Skip }
    }

    /// The first failing probe's signature and frame: the failure the report is about.
    pub fn headline(&self) -> (Option<&str>, Option<&str>) {
        self.probes
            .first()
            .map_or((None, None), |(_, s, f)| (s.as_deref(), f.as_deref()))
    }
}

/// One probed version, as the report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub version: String,
    /// The cell's first non-passing outcome, else `pass`.
    pub outcome: Outcome,
    pub signature: Option<String>,
    pub judgement: &'static str,
    /// Whether this bisect ran the probe (false: reused from the journal).
    pub ran: bool,
}

impl Step {
    pub fn new(version: &Version, cell: &CellResult, judgement: Judgement, ran: bool) -> Self {
        let worst = cell
            .probes
            .iter()
            .find(|p| !matches!(p.outcome, Outcome::Pass | Outcome::Xpass))
            .or(cell.probes.first());
        Self {
            version: version.to_string(),
            outcome: worst.map_or(Outcome::Pass, |p| p.outcome),
            signature: worst.and_then(|p| p.signature.clone()),
            judgement: match judgement {
                Judgement::Good => "good",
                Judgement::Bad => "bad",
                Judgement::Skip => "skip",
            },
            ran,
        }
    }
}

/// The versions to search, ordered from the good endpoint to the bad one: every published version between them
/// (both included), pre-releases and dev builds only when an endpoint is one or `pre` asks for them.
pub fn candidates(
    package: &str,
    published: &[Version],
    good: &Version,
    bad: &Version,
    pre: bool,
) -> Result<Vec<Version>> {
    for (flag, endpoint) in [("--good", good), ("--bad", bad)] {
        if !published.contains(endpoint) {
            return Err(Error::BadInput(format!(
                "{flag} {endpoint}: {package} {endpoint} is not published{}",
                nearest(published, endpoint)
            )));
        }
    }
    if good == bad {
        return Err(Error::BadInput(format!(
            "--good and --bad are both {good}: nothing lies between them"
        )));
    }
    let pre = pre || good.any_prerelease() || bad.any_prerelease();
    let (low, high) = if good < bad { (good, bad) } else { (bad, good) };
    let mut between: Vec<Version> = published
        .iter()
        .filter(|v| *v >= low && *v <= high)
        .filter(|v| pre || !v.any_prerelease() || *v == good || *v == bad)
        .cloned()
        .collect();
    between.sort();
    if good > bad {
        between.reverse();
    }
    Ok(between)
}

/// ` (nearest published: a, b)` around `version`.
fn nearest(published: &[Version], version: &Version) -> String {
    let below = published.iter().rfind(|v| *v < version);
    let above = published.iter().find(|v| *v > version);
    let names: Vec<String> = below
        .into_iter()
        .chain(above)
        .map(ToString::to_string)
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" (nearest published: {})", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::version::parse_version;

    fn versions(list: &[&str]) -> Vec<Version> {
        list.iter().map(|v| parse_version(v).unwrap()).collect()
    }

    #[test]
    fn candidates_run_from_good_to_bad_with_nightlies_only_when_an_endpoint_is_one() {
        let published = versions(&[
            "2.2.0",
            "2.3.0.dev1",
            "2.3.0.dev2",
            "2.3.0",
            "2.3.1",
            "2.4.0",
        ]);
        let v = |s: &str| parse_version(s).unwrap();
        let stable = candidates("x", &published, &v("2.2.0"), &v("2.3.1"), false).unwrap();
        assert_eq!(stable, versions(&["2.2.0", "2.3.0", "2.3.1"]));
        let nightly = candidates("x", &published, &v("2.3.0.dev1"), &v("2.3.0"), false).unwrap();
        assert_eq!(nightly, versions(&["2.3.0.dev1", "2.3.0.dev2", "2.3.0"]));
        let fix = candidates("x", &published, &v("2.4.0"), &v("2.3.0"), false).unwrap();
        assert_eq!(fix, versions(&["2.4.0", "2.3.1", "2.3.0"]));
        let missing = candidates("x", &published, &v("2.3.2"), &v("2.4.0"), false).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "--good 2.3.2: x 2.3.2 is not published (nearest published: 2.3.1, 2.4.0)"
        );
    }

    fn cell(outcome: &str, signature: Option<&str>) -> CellResult {
        serde_json::from_value(serde_json::json!({
            "key": {"toyquant": "1.0"}, "resolved": {}, "env": null,
            "process_s": 0.0, "import_s": 0.0, "probe_s": 0.0,
            "probes": [{"name": "toy-load", "outcome": outcome, "signature": signature, "frame": null,
                        "duration_s": 0.0, "log": null}],
        }))
        .unwrap()
    }

    #[test]
    fn a_version_where_nothing_ran_is_skipped_like_needs_cuda() {
        let bad = BadFailure::of(&cell("fail", Some("E: x"))).unwrap();
        for any_failure in [false, true] {
            for outcome in ["skipped", "needs-cuda"] {
                let judged = bad.judge(&cell(outcome, Some("skipped: no GPU")), any_failure);
                assert_eq!(judged, Judgement::Skip, "{outcome}");
            }
            assert_eq!(bad.judge(&cell("pass", None), any_failure), Judgement::Good);
        }
        assert!(
            BadFailure::of(&cell("skipped", Some("skipped: no GPU"))).is_none(),
            "a --bad endpoint where nothing ran does not fail"
        );
    }
}
