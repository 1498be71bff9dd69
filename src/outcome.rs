//! Outcome classes and signatures.
//!
//! A signature is what makes two failures "the same": `Type: message` with run-specific noise (addresses, temporary
//! paths, long numbers) normalized, plus the innermost frame inside site-packages. Cells group by it in every report.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::matrix::{Cell, Known};
use crate::probe::protocol::ProbeRun;
use crate::probe::protocol::{
    CommandEnding, CommandReport, ProbeReport, StageStatus, TestOutcome, TestResult,
};
use qcompat_engine::oracle::NumericCheck;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    Xfail,
    Xpass,
    NeedsCuda,
    /// Nothing ran: the probe reported no stage, or only skipped ones. No verdict, like `NeedsCuda`: never a pass,
    /// never a regression, never counted as tested.
    Skipped,
    Unresolvable,
    InstallError,
    Timeout,
    Crash,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Xfail => "xfail",
            Outcome::Xpass => "xpass",
            Outcome::NeedsCuda => "needs-cuda",
            Outcome::Skipped => "skipped",
            Outcome::Unresolvable => "unresolvable",
            Outcome::InstallError => "install-error",
            Outcome::Timeout => "timeout",
            Outcome::Crash => "crash",
        }
    }

    /// Outcomes that make `run` exit 1: the stack misbehaved and nothing declared it expected.
    pub fn is_regression(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Timeout | Outcome::Crash)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified probe: its outcome and, unless it passed, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub signature: Option<String>,
    pub frame: Option<String>,
    /// The `[[known]]` entry that made this an xfail or xpass.
    pub known: Option<String>,
}

impl Verdict {
    pub fn new(outcome: Outcome, signature: Option<String>) -> Self {
        Self {
            outcome,
            signature,
            frame: None,
            known: None,
        }
    }
}

/// Classifies what a probe process produced, before known issues are applied.
pub fn classify(run: &ProbeRun) -> Verdict {
    match run {
        ProbeRun::Reported(report) => classify_report(report),
        ProbeRun::TimedOut(after) => Verdict::new(
            Outcome::Timeout,
            Some(format!(
                "timeout after {}",
                humantime::format_duration(*after)
            )),
        ),
        ProbeRun::Died(how) => Verdict::new(Outcome::Crash, Some(format!("crash: {how}"))),
        ProbeRun::Command(report) => classify_command(report),
    }
}

/// A command probe: its tests when pytest reported them, else its exit status and last traceback.
fn classify_command(report: &CommandReport) -> Verdict {
    let code = match &report.ending {
        CommandEnding::NotFound(program) => {
            let message = format!(
                "command not found in the cell: `{program}` is neither `python`, a program on the cell's PATH nor                  an executable file in the probe's dir"
            );
            return Verdict::new(Outcome::Fail, Some(normalize(&message)));
        }
        CommandEnding::Unstartable(reason) => {
            let message = format!("command could not start in the cell: {reason}");
            return Verdict::new(Outcome::Fail, Some(normalize(&message)));
        }
        CommandEnding::Exited(code) => *code,
    };
    match &report.tests {
        Some(tests) => {
            let verdict = classify_tests(tests, report.cuda);
            let ran_clean = matches!(
                verdict.outcome,
                Outcome::Pass | Outcome::Xfail | Outcome::Xpass
            );
            // pytest wrote its XML but ended badly anyway (an internal error, a plugin's failure at exit).
            if ran_clean && code != 0 {
                return exit_failure(code, report);
            }
            verdict
        }
        None if code == 0 => Verdict::new(Outcome::Pass, None),
        None => device_lacks_cuda(exit_failure(code, report), report.cuda),
    }
}

/// On a device without CUDA, a failure whose message names CUDA or a GPU (`CUDA is required but not available`,
/// `Found no NVIDIA driver`, `Bitsandbytes is only supported on CUDA GPUs`) reached something this device lacks:
/// `needs-cuda`, never a regression, as a built-in probe's kernel step is. With CUDA it stays a failure.
fn device_lacks_cuda(verdict: Verdict, cuda: bool) -> Verdict {
    let names_gpu = verdict
        .signature
        .as_deref()
        .is_some_and(|s| GPU_REASON.is_match(s));
    if cuda || verdict.outcome != Outcome::Fail || !names_gpu {
        return verdict;
    }
    Verdict {
        outcome: Outcome::NeedsCuda,
        ..verdict
    }
}

/// `Type: message` of the last traceback with its innermost package frame, or `exit N: last line`.
fn exit_failure(code: i32, report: &CommandReport) -> Verdict {
    let Some(error) = &report.traceback else {
        let line = report.last_line.as_deref().unwrap_or("no output");
        return Verdict::new(
            Outcome::Fail,
            Some(normalize(&format!("exit {code}: {line}"))),
        );
    };
    let signature = if error.message.is_empty() {
        error.kind.clone()
    } else {
        format!("{}: {}", error.kind, error.message)
    };
    Verdict {
        outcome: Outcome::Fail,
        signature: Some(normalize(&signature)),
        frame: error
            .frames
            .iter()
            .rev()
            .find(|f| is_package_frame(f))
            .cloned(),
        known: None,
    }
}

/// The worst of the tests (fail > xpass > xfail > pass), skipped tests aside; nothing run is never a pass. Without
/// CUDA, a test whose failure message names CUDA or a GPU reached what this device lacks: any other failure comes
/// first, and when there is none the probe is `needs-cuda` (never a pass, never a regression).
fn classify_tests(tests: &[TestResult], cuda: bool) -> Verdict {
    let first = |wanted: &[TestOutcome]| tests.iter().find(|t| wanted.contains(&t.outcome));
    let said = |t: &TestResult| match &t.message {
        Some(message) => normalize(&format!("{}: {message}", t.id)),
        None => normalize(&t.id),
    };
    let failed = |t: &&TestResult| matches!(t.outcome, TestOutcome::Failed | TestOutcome::Error);
    let (for_gpu, real): (Vec<&TestResult>, Vec<&TestResult>) = tests
        .iter()
        .filter(failed)
        .partition(|t| !cuda && t.message.as_deref().is_some_and(|m| GPU_REASON.is_match(m)));
    if let Some(test) = real.first().or(for_gpu.first()) {
        let verdict = Verdict {
            outcome: Outcome::Fail,
            signature: Some(said(test)),
            frame: test.frame.clone(),
            known: None,
        };
        return if real.is_empty() {
            device_lacks_cuda(verdict, cuda)
        } else {
            verdict
        };
    }
    if tests.iter().all(|t| t.outcome == TestOutcome::Skipped) {
        return nothing_ran(tests);
    }
    if let Some(test) = first(&[TestOutcome::Xpassed]) {
        return Verdict::new(
            Outcome::Xpass,
            Some(normalize(&format!("xpassed: {}", test.id))),
        );
    }
    if let Some(test) = first(&[TestOutcome::Xfailed]) {
        return Verdict::new(Outcome::Xfail, Some(said(test)));
    }
    Verdict::new(Outcome::Pass, None)
}

/// Every test skipped, or none collected: `needs-cuda` when every skip reason names CUDA or a GPU, else `skipped`.
fn nothing_ran(tests: &[TestResult]) -> Verdict {
    if tests.is_empty() {
        return Verdict::new(Outcome::Skipped, Some("skipped: no test collected".into()));
    }
    let mut reasons: Vec<&str> = Vec::new();
    for test in tests {
        let reason = test.message.as_deref().unwrap_or("no reason given");
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    let signature = normalize(&format!("skipped: {}", reasons.join("; ")));
    if reasons.iter().all(|r| GPU_REASON.is_match(r)) {
        return Verdict::new(Outcome::NeedsCuda, Some(signature));
    }
    Verdict::new(Outcome::Skipped, Some(signature))
}

/// A skip reason or failure message that names CUDA, a GPU or NVIDIA's driver (`requires CUDA`, `no GPU available`,
/// `needs 2 GPUs`, `Found no NVIDIA driver on your system`).
static GPU_REASON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:cuda|gpus?|nvidia)\b").unwrap());

fn classify_report(report: &ProbeReport) -> Verdict {
    if let Some(stage) = report.stages.iter().find(|s| s.status == StageStatus::Fail) {
        let (signature, frame) = match &stage.error {
            Some(error) => (
                format!("{}: {}", error.kind, error.message),
                error
                    .frames
                    .iter()
                    .rev()
                    .find(|f| is_package_frame(f))
                    .cloned(),
            ),
            None => (format!("stage {} failed", stage.name), None),
        };
        return Verdict {
            outcome: Outcome::Fail,
            signature: Some(normalize(&signature)),
            frame,
            known: None,
        };
    }
    if let Some(stage) = report
        .stages
        .iter()
        .find(|s| s.status == StageStatus::NeedsCuda)
    {
        let reason = stage
            .error
            .as_ref()
            .map_or("no kernel for this device", |e| e.message.as_str());
        return Verdict::new(Outcome::NeedsCuda, Some(normalize(reason)));
    }
    if report.stages.iter().all(|s| s.status == StageStatus::Skip) {
        return Verdict::new(Outcome::Skipped, Some(skip_signature(report)));
    }
    Verdict::new(Outcome::Pass, None)
}

/// Why nothing ran: the skipped stages' reasons (each once, in order), or that the probe reported no stage at all.
fn skip_signature(report: &ProbeReport) -> String {
    let mut reasons: Vec<String> = Vec::new();
    for stage in &report.stages {
        let reason = stage.error.as_ref().map_or_else(
            || format!("stage {} skipped", stage.name),
            |e| e.message.clone(),
        );
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    if reasons.is_empty() {
        return "skipped: the probe ran no stage".to_string();
    }
    normalize(&format!("skipped: {}", reasons.join("; ")))
}

/// The site-packages frames of the failing stage's traceback, outermost first (empty without a failure): the files
/// `bisect --repo` looks for in the history of the first bad release.
pub fn failing_frames(run: &ProbeRun) -> Vec<String> {
    if let ProbeRun::Command(report) = run {
        let frames = report.traceback.as_ref().map(|e| e.frames.as_slice());
        let failed = classify_command(report).outcome == Outcome::Fail;
        return match frames.filter(|_| failed && report.tests.is_none()) {
            Some(frames) => frames
                .iter()
                .filter(|f| is_package_frame(f))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
    }
    let ProbeRun::Reported(report) = run else {
        return Vec::new();
    };
    report
        .stages
        .iter()
        .find(|s| s.status == StageStatus::Fail)
        .and_then(|s| s.error.as_ref())
        .map(|e| {
            e.frames
                .iter()
                .filter(|f| is_package_frame(f))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Frames the probe protocol wrote relative to site-packages; probe files (`<probe>/…`) and raw paths are not.
fn is_package_frame(frame: &str) -> bool {
    !frame.starts_with('<') && !frame.starts_with('/')
}

/// A pass whose numbers disagree with the built-in engine is a failure: the stack ran but computed something else
/// (wrong NF4 codes, skipped quantization, a broken LoRA path). The signature names the check, not its value, so
/// cells with the same silent regression group together.
pub fn apply_reference(verdict: Verdict, checks: &[NumericCheck]) -> Verdict {
    if verdict.outcome != Outcome::Pass {
        return verdict;
    }
    match checks.iter().find(|c| !c.ok) {
        Some(check) => Verdict::new(Outcome::Fail, Some(check.signature())),
        None => verdict,
    }
}

/// Applies the matrix's known issues: a matching failure becomes `xfail`, a pass inside a known window `xpass`.
pub fn apply_known(
    verdict: Verdict,
    probe: &str,
    cell: &Cell,
    resolved: &BTreeMap<String, String>,
    known: &[Known],
) -> Verdict {
    let applies = |k: &&Known| k.applies_to(probe, cell, resolved);
    match verdict.outcome {
        Outcome::Fail => {
            let signature = verdict.signature.as_deref().unwrap_or_default();
            match known
                .iter()
                .filter(applies)
                .find(|k| signature.contains(k.signature.as_str()))
            {
                Some(k) => Verdict {
                    outcome: Outcome::Xfail,
                    known: Some(k.id.clone()),
                    ..verdict
                },
                None => verdict,
            }
        }
        Outcome::Pass => match known.iter().find(applies) {
            Some(k) => Verdict {
                outcome: Outcome::Xpass,
                known: Some(k.id.clone()),
                ..verdict
            },
            None => verdict,
        },
        _ => verdict,
    }
}

impl Known {
    /// Whether this known issue covers `probe` in `cell`: every `when` package's version (the cell's axis value,
    /// else what the cell resolved) must be inside its window.
    fn applies_to(&self, probe: &str, cell: &Cell, resolved: &BTreeMap<String, String>) -> bool {
        let probe_ok = self.probes.is_empty() || self.probes.iter().any(|p| p == probe);
        probe_ok
            && self.when.iter().all(|(package, specifiers)| {
                let version = cell.version_of(package).cloned().or_else(|| {
                    let resolved = resolved.get(&crate::index::normalize(package))?;
                    crate::index::version::parse_version(resolved).ok()
                });
                version.is_some_and(|v| crate::index::version::contains(specifiers, &v))
            })
    }
}

static SITE_PACKAGES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/\S*?/(?:site|dist)-packages/").unwrap());
// Only paths that start a word: `torch/nn/x.py` (already relative) must not match from its first slash.
static ABSOLUTE_PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[^\w.+-])(?:/[\w.+-]+)+/([\w.+-]+)").unwrap());
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"0x[0-9a-fA-F]+").unwrap());
// Whole numbers only: the digits of a nightly's `dev20240428` are part of a version, not noise.
static LONG_NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{6,}\b").unwrap());
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").unwrap());
// Terminal escapes (colours, cursor moves: CSI and OSC sequences), then any control character left: they are
// noise to a signature, and XML 1.0 (JUnit) has no way to carry them.
static ESCAPES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])").unwrap()
});
static CONTROLS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[\p{Cc}&&[^\t\n\r]]").unwrap());

/// Longest signature kept; resolver explanations can run to pages.
const MAX_SIGNATURE: usize = 300;

/// The resolver's first reason, e.g. `No solution found: Because lightning==2.3.0.dev20240318 depends on
/// torch>=1.13.0,<=2.2.0 and you require lightning==2.3.0.dev20240318, we can conclude that you require
/// torch>=1.13.0,<=2.2.0`: the sentence that names the conflict, without uv's layout or the rest of its derivation.
pub fn resolver_signature(message: &str) -> String {
    // uv wraps its explanation over indented lines: one line first, then find the first sentence.
    let message = SPACES.replace_all(message, " ");
    let cause = message
        .split_once("cause:")
        .map_or(&*message, |(_, cause)| cause);
    let first = cause
        .split_once(". ")
        .map_or(cause, |(sentence, _)| sentence);
    normalize(&format!(
        "No solution found: {}",
        first.trim().trim_end_matches('.')
    ))
}

/// Removes what differs between runs of the same failure, so equal failures get equal signatures.
/// URL credentials are masked first: a signature is printed, stored in snapshots and journals, and shared.
pub fn normalize(text: &str) -> String {
    let text = crate::index::redact(text);
    let text = ESCAPES.replace_all(&text, "");
    let text = CONTROLS.replace_all(&text, "");
    let text = SITE_PACKAGES.replace_all(&text, "");
    let text = ABSOLUTE_PATH.replace_all(&text, "${1}<path>/$2");
    let text = ADDRESS.replace_all(&text, "0x?");
    let text = LONG_NUMBER.replace_all(&text, "<n>");
    let text = SPACES.replace_all(text.trim(), " ");
    match text.char_indices().nth(MAX_SIGNATURE) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::protocol::{Stage, StageError};

    fn report(stages: Vec<Stage>) -> ProbeRun {
        ProbeRun::Reported(ProbeReport {
            probe: "checkpoint-load".into(),
            stages,
            substitutions: vec![],
            metrics: Default::default(),
        })
    }

    fn stage(name: &str, status: StageStatus, error: Option<(&str, &str, &[&str])>) -> Stage {
        Stage {
            name: name.into(),
            status,
            duration_s: 1.0,
            error: error.map(|(kind, message, frames)| StageError {
                kind: kind.into(),
                message: message.into(),
                frames: frames.iter().map(|f| f.to_string()).collect(),
            }),
        }
    }

    fn tests_run(code: i32, tests: &[(&str, TestOutcome, Option<&str>)]) -> ProbeRun {
        ProbeRun::Command(CommandReport {
            ending: CommandEnding::Exited(code),
            traceback: None,
            last_line: None,
            tests: Some(
                tests
                    .iter()
                    .map(|(id, outcome, message)| TestResult {
                        id: id.to_string(),
                        outcome: *outcome,
                        message: message.map(str::to_string),
                        frame: None,
                    })
                    .collect(),
            ),
            substitutions: vec![],
            duration_s: 1.0,
            cuda: false,
        })
    }

    #[test]
    fn tests_give_the_worst_outcome_and_nothing_run_is_never_a_pass() {
        use TestOutcome::*;
        let classified = |code, tests: &[(&str, TestOutcome, Option<&str>)]| {
            let verdict = classify(&tests_run(code, tests));
            (verdict.outcome, verdict.signature.unwrap_or_default())
        };
        let failing = [
            ("t::a", Passed, None),
            ("t::b", Xpassed, None),
            ("t::c", Error, Some("failed on setup")),
            ("t::d", Failed, Some("AssertionError: x")),
        ];
        assert_eq!(
            classified(1, &failing),
            (Outcome::Fail, "t::c: failed on setup".into())
        );
        let xpass = [
            ("t::a", Passed, None),
            ("t::b", Xfailed, Some("bug")),
            ("t::c", Xpassed, None),
        ];
        assert_eq!(
            classified(0, &xpass),
            (Outcome::Xpass, "xpassed: t::c".into())
        );
        assert_eq!(
            classified(0, &xpass[..2]),
            (Outcome::Xfail, "t::b: bug".into())
        );
        assert_eq!(classified(0, &xpass[..1]).0, Outcome::Pass);
        let gpu = [
            ("t::a", Skipped, Some("requires CUDA")),
            ("t::b", Skipped, Some("needs 2 GPUs")),
        ];
        assert_eq!(
            classified(0, &gpu),
            (
                Outcome::NeedsCuda,
                "skipped: requires CUDA; needs 2 GPUs".into()
            )
        );
        let other = [
            ("t::a", Skipped, Some("requires CUDA")),
            ("t::b", Skipped, Some("slow")),
        ];
        assert_eq!(classified(0, &other).0, Outcome::Skipped);
        // "cudagraphs" is not a GPU reason: only whole words count.
        assert_eq!(
            classified(0, &[("t::a", Skipped, Some("no cudagraphs"))]).0,
            Outcome::Skipped
        );
        assert_eq!(
            classified(5, &[]),
            (Outcome::Skipped, "skipped: no test collected".into())
        );
        // Tests that passed under a pytest that then failed (an internal error at exit) do not make a pass.
        assert_eq!(classified(3, &xpass[..1]).0, Outcome::Fail);
    }

    #[test]
    fn without_cuda_a_failure_that_names_cuda_is_needs_cuda_never_a_regression() {
        use TestOutcome::*;
        let no_cuda = "RuntimeError: CUDA is required but not available for bitsandbytes.";
        let lazy = "AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'";
        let with_cuda = |cuda, tests: &[(&str, TestOutcome, Option<&str>)]| {
            let ProbeRun::Command(mut report) = tests_run(1, tests) else {
                unreachable!()
            };
            report.cuda = cuda;
            let verdict = classify(&ProbeRun::Command(report));
            (verdict.outcome, verdict.signature.unwrap_or_default())
        };
        let only_cuda = [
            ("t::load", Passed, None),
            ("t::kernel", Failed, Some(no_cuda)),
        ];
        assert_eq!(with_cuda(false, &only_cuda).0, Outcome::NeedsCuda);
        assert_eq!(
            with_cuda(true, &only_cuda).0,
            Outcome::Fail,
            "on CUDA it is a failure"
        );
        let both = [
            ("t::kernel", Failed, Some(no_cuda)),
            ("t::load", Failed, Some(lazy)),
        ];
        assert_eq!(
            with_cuda(false, &both),
            (Outcome::Fail, normalize(&format!("t::load: {lazy}"))),
            "the real failure comes first"
        );
        // A plain command: its last traceback names CUDA.
        let command = |cuda, message: &str| {
            classify(&ProbeRun::Command(CommandReport {
                ending: CommandEnding::Exited(1),
                traceback: Some(StageError {
                    kind: "RuntimeError".into(),
                    message: message.into(),
                    frames: vec![],
                }),
                last_line: None,
                tests: None,
                substitutions: vec![],
                duration_s: 0.0,
                cuda,
            }))
            .outcome
        };
        assert_eq!(
            command(false, "Found no NVIDIA driver on your system"),
            Outcome::NeedsCuda
        );
        assert_eq!(
            command(false, "Bitsandbytes is only supported on CUDA GPUs."),
            Outcome::NeedsCuda
        );
        assert_eq!(
            command(true, "Bitsandbytes is only supported on CUDA GPUs."),
            Outcome::Fail
        );
        assert_eq!(command(false, "shapes do not match"), Outcome::Fail);
    }

    #[test]
    fn a_command_fails_with_its_traceback_or_its_exit_and_last_line() {
        let run = |ending, traceback, last_line: Option<&str>| {
            classify(&ProbeRun::Command(CommandReport {
                ending,
                traceback,
                last_line: last_line.map(str::to_string),
                tests: None,
                substitutions: vec![],
                duration_s: 0.0,
                cuda: true,
            }))
        };
        let error = StageError {
            kind: "RuntimeError".into(),
            message: "bad at 0x7f00aa in /tmp/x/y.py".into(),
            frames: vec![
                "<probe>/t.py:main".into(),
                "torch/a.py:f".into(),
                "/usr/lib/python3.11/json.py:g".into(),
            ],
        };
        let failed = run(
            CommandEnding::Exited(1),
            Some(error),
            Some("RuntimeError: …"),
        );
        assert_eq!(
            failed.signature.as_deref(),
            Some("RuntimeError: bad at 0x? in <path>/y.py")
        );
        assert_eq!(failed.frame.as_deref(), Some("torch/a.py:f"));
        let exited = run(CommandEnding::Exited(2), None, Some("loss is nan"));
        assert_eq!(exited.signature.as_deref(), Some("exit 2: loss is nan"));
        assert_eq!(
            run(CommandEnding::Exited(0), None, None).outcome,
            Outcome::Pass
        );
        let missing = run(CommandEnding::NotFound("pytest".into()), None, None);
        assert_eq!(missing.outcome, Outcome::Fail);
        assert!(
            missing
                .signature
                .unwrap()
                .starts_with("command not found in the cell: `pytest`")
        );
    }

    #[test]
    fn first_failing_stage_gives_signature_and_innermost_package_frame() {
        let frames: &[&str] = &[
            "<probe>/checkpoint_load.py:run",
            "torch/nn/modules/module.py:load_state_dict",
            "lightning/fabric/utilities/load.py:__getattr__",
            "<probe>/_stack.py:helper",
        ];
        let message = "'_NotYetLoadedTensor' object has no attribute 'data'";
        let verdict = classify(&report(vec![
            stage("import", StageStatus::Pass, None),
            stage(
                "load",
                StageStatus::Fail,
                Some(("AttributeError", message, frames)),
            ),
        ]));
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert_eq!(
            verdict.signature.as_deref(),
            Some("AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'")
        );
        assert_eq!(
            verdict.frame.as_deref(),
            Some("lightning/fabric/utilities/load.py:__getattr__")
        );
    }

    #[test]
    fn needs_cuda_is_neither_pass_nor_fail() {
        let verdict = classify(&report(vec![stage(
            "kernel",
            StageStatus::NeedsCuda,
            Some((
                "NeedsCuda",
                "bitsandbytes 0.42.0 has no CPU NF4 kernel",
                &[],
            )),
        )]));
        assert_eq!(verdict.outcome, Outcome::NeedsCuda);
        assert!(!verdict.outcome.is_regression());
    }

    #[test]
    fn nothing_ran_is_skipped_never_a_pass() {
        let empty = classify(&report(vec![]));
        assert_eq!(
            (empty.outcome, empty.signature.as_deref()),
            (Outcome::Skipped, Some("skipped: the probe ran no stage"))
        );
        let no_gpu = ("Skip", "no GPU on this runner", &[][..]);
        let only_skips = classify(&report(vec![
            stage("train", StageStatus::Skip, Some(no_gpu)),
            stage("generate", StageStatus::Skip, Some(no_gpu)),
            stage(
                "export",
                StageStatus::Skip,
                Some(("Skip", "onnx not installed", &[])),
            ),
        ]));
        assert_eq!(
            (only_skips.outcome, only_skips.signature.as_deref()),
            (
                Outcome::Skipped,
                Some("skipped: no GPU on this runner; onnx not installed")
            )
        );
        assert!(!Outcome::Skipped.is_regression());
        // Nothing to check a skipped run against, and no known issue turns it into an xpass.
        assert_eq!(apply_reference(only_skips.clone(), &[]), only_skips);
        let cell = Cell::new(vec![]);
        let known = [Known {
            id: "k".into(),
            signature: "x".into(),
            when: vec![],
            probes: vec![],
        }];
        let applied = apply_known(only_skips.clone(), "p", &cell, &BTreeMap::new(), &known);
        assert_eq!(applied, only_skips);
        // One stage that ran makes it a pass; a failing one a failure, skips or not.
        let ran = classify(&report(vec![
            stage("import", StageStatus::Pass, None),
            stage("train", StageStatus::Skip, Some(no_gpu)),
        ]));
        assert_eq!(ran.outcome, Outcome::Pass);
        let failed = classify(&report(vec![
            stage("train", StageStatus::Skip, Some(no_gpu)),
            stage("load", StageStatus::Fail, None),
        ]));
        assert_eq!(failed.outcome, Outcome::Fail);
    }

    #[test]
    fn outcomes_are_kebab_case_in_json_and_their_name() {
        for outcome in [Outcome::Skipped, Outcome::NeedsCuda, Outcome::InstallError] {
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
        }
        assert_eq!(Outcome::Skipped.as_str(), "skipped");
    }

    #[test]
    fn a_pass_with_numbers_off_the_reference_is_a_failure() {
        let check = NumericCheck::new;
        let pass = Verdict::new(Outcome::Pass, None);
        let agreeing = [check("nf4_code_bytes_differing_fraction", 0.0, 1e-4)];
        assert_eq!(apply_reference(pass.clone(), &agreeing), pass);
        let silent = [
            check("nf4_absmax_max_abs_diff", 0.0, 0.0),
            check("nf4_code_bytes_differing_fraction", 0.31, 1e-4),
        ];
        let verdict = apply_reference(pass, &silent);
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert_eq!(
            verdict.signature.as_deref(),
            Some(
                "numeric: nf4_code_bytes_differing_fraction beyond tolerance 0.0001 of the built-in reference"
            )
        );
        // A failure keeps its own cause.
        let crashed = Verdict::new(Outcome::Crash, Some("crash: SIGSEGV".into()));
        assert_eq!(apply_reference(crashed.clone(), &silent), crashed);
    }

    #[test]
    fn known_windows_match_resolved_packages_that_are_not_axes() {
        let known = [Known {
            id: "lightning-20119".into(),
            signature: "'_NotYetLoadedTensor' object has no attribute 'data'".into(),
            when: vec![(
                "lightning".into(),
                crate::index::version::parse_specifiers(">=2.3.0.dev20240526,<2.4.0.dev20240728")
                    .unwrap(),
            )],
            probes: vec![],
        }];
        let cell = Cell::new(vec![(
            "litgpt".into(),
            crate::index::version::parse_version("0.4.5").unwrap(),
        )]);
        let failure = || Verdict {
            outcome: Outcome::Fail,
            signature: Some(
                "AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'".into(),
            ),
            frame: None,
            known: None,
        };
        let resolved =
            |lightning: &str| BTreeMap::from([("lightning".to_string(), lightning.to_string())]);
        let broken = apply_known(failure(), "litgpt-qlora", &cell, &resolved("2.3.3"), &known);
        assert_eq!(
            (broken.outcome, broken.known.as_deref()),
            (Outcome::Xfail, Some("lightning-20119"))
        );
        let outside = apply_known(failure(), "litgpt-qlora", &cell, &resolved("2.4.0"), &known);
        assert_eq!(outside.outcome, Outcome::Fail);
        let unresolved = apply_known(failure(), "litgpt-qlora", &cell, &BTreeMap::new(), &known);
        assert_eq!(
            unresolved.outcome,
            Outcome::Fail,
            "no version known: the window cannot hold"
        );
    }

    #[test]
    fn noise_is_normalized() {
        let a = normalize(
            "No such file: /tmp/.tmpAb12/x/lit_model.pth at 0x7f3a2b1c9d80, step 12345678",
        );
        assert_eq!(a, "No such file: <path>/lit_model.pth at 0x?, step <n>");
        let b = normalize(
            "bad  value in /root/.venv/lib/python3.11/site-packages/torch/nn/functional.py",
        );
        assert_eq!(b, "bad value in torch/nn/functional.py");
    }

    #[test]
    fn resolver_messages_keep_the_conflict() {
        let uv = "error: No solution found when resolving dependencies:\n  ╰─▶ cause: Because lightning==2.3.0.dev20240318 \
                  depends on torch<=2.2.0 and you require lightning==2.3.0.dev20240318, we can conclude that you \
                  require torch<=2.2.0. And because you require torch==2.3.0, we can conclude that ...";
        assert_eq!(
            resolver_signature(uv),
            "No solution found: Because lightning==2.3.0.dev20240318 depends on torch<=2.2.0 and you require \
             lightning==2.3.0.dev20240318, we can conclude that you require torch<=2.2.0"
        );
    }

    #[test]
    fn process_endings_are_classified() {
        assert_eq!(
            classify(&ProbeRun::Died("SIGSEGV".into()))
                .signature
                .as_deref(),
            Some("crash: SIGSEGV")
        );
        let timeout = classify(&ProbeRun::TimedOut(std::time::Duration::from_secs(5)));
        assert_eq!(
            (timeout.outcome, timeout.signature.as_deref()),
            (Outcome::Timeout, Some("timeout after 5s"))
        );
    }
}
