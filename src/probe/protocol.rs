//! The probe protocol: the JSON lines `_qcompat.py` appends to `QCOMPAT_RESULT` (see fixtures/probes/_qcompat.py).
//!
//! A `start` line precedes each probe and a `result` line follows it, each fsync'ed, so after a kill the file says
//! which probe was running and which results are already safe. Also here: how a probe ended as the runner saw it
//! ([`ProbeRun`]) and which interpreter ran it, what outcomes and results are made from.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    Start {
        probe: String,
    },
    /// Where the running probe is (`Probe.progress`): names the case in a crash's signature.
    Progress {
        at: String,
    },
    Result(ProbeReport),
}

/// How one probe ended, as far as the process is concerned.
#[derive(Debug, Clone)]
pub enum ProbeRun {
    Reported(ProbeReport),
    TimedOut(std::time::Duration),
    /// Killed by a signal (named), or exited without reporting (`exit code N`).
    Died(String),
    /// A command probe that exited, or could not start: what its exit and output say.
    Command(CommandReport),
}

/// How a command probe ended when no signal or timeout ended it.
#[derive(Debug, Clone)]
pub struct CommandReport {
    pub ending: CommandEnding,
    /// The last Python traceback of its output.
    pub traceback: Option<StageError>,
    /// The last non-empty line of its output.
    pub last_line: Option<String>,
    /// Every test's result, for a pytest command whose JUnit XML could be read.
    pub tests: Option<Vec<TestResult>>,
    /// The CPU swaps that fired inside the process (`cpu-swaps`).
    pub substitutions: Vec<String>,
    pub duration_s: f64,
    /// Whether the device it ran on has CUDA: without, a failure that names CUDA or a GPU is `needs-cuda`.
    pub cuda: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandEnding {
    Exited(i32),
    /// The program is not in the cell: not the interpreter, not on the cell's PATH, no such file in `dir`.
    NotFound(String),
    /// The program was found but could not be started (the reason, naming it).
    Unstartable(String),
}

/// One test of a pytest probe, as its JUnit XML says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// `classname::name` as pytest writes them in JUnit XML (`tests.test_load::test_nf4[bf16]`).
    pub id: String,
    pub outcome: TestOutcome,
    /// Why it failed, erred, was skipped or xfailed (normalized like a signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The innermost site-packages frame of a failure's traceback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

/// pytest's outcomes of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestOutcome {
    Passed,
    Failed,
    Error,
    Skipped,
    Xfailed,
    Xpassed,
}

impl TestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TestOutcome::Passed => "passed",
            TestOutcome::Failed => "failed",
            TestOutcome::Error => "error",
            TestOutcome::Skipped => "skipped",
            TestOutcome::Xfailed => "xfailed",
            TestOutcome::Xpassed => "xpassed",
        }
    }
}

/// Which interpreter ran a probe: a fresh one, or a fork of a preloaded base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeInterpreter {
    Fresh,
    Forked,
}

/// What a probe reported about itself.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProbeReport {
    pub probe: String,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub substitutions: Vec<String>,
    #[serde(default)]
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Stage {
    pub name: String,
    pub status: StageStatus,
    #[serde(default)]
    pub duration_s: f64,
    pub error: Option<StageError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageStatus {
    Pass,
    Fail,
    NeedsCuda,
    Skip,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StageError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub frames: Vec<String>,
}

impl ProbeReport {
    /// Seconds spent in `import` stages (the stack's import cost) and in the rest.
    pub fn time_split(&self) -> (f64, f64) {
        self.stages
            .iter()
            .fold((0.0, 0.0), |(import, rest), stage| {
                if stage.name == "import" {
                    (import + stage.duration_s, rest)
                } else {
                    (import, rest + stage.duration_s)
                }
            })
    }
}

/// Parses the complete lines of a result file; a torn last line (the writer was killed mid-write) is ignored.
pub fn parse_events(text: &str) -> Vec<Event> {
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_starts_results_and_skips_torn_lines() {
        let text = concat!(
            r#"{"event": "start", "probe": "checkpoint-load"}"#,
            "\n",
            r#"{"event": "result", "probe": "checkpoint-load", "stages": [{"name": "import", "status": "pass", "duration_s": 9.5}, {"name": "load", "status": "fail", "duration_s": 0.5, "error": {"type": "AttributeError", "message": "m", "frames": ["a.py:f"]}}], "substitutions": [], "metrics": {"max_abs_err": 0.01}}"#,
            "\n",
            r#"{"event": "start", "probe": "qlora-train"}"#,
            "\n",
            r#"{"event": "progress", "probe": "qlora-train", "at": "3x1000 float16 b128"}"#,
            "\n",
            r#"{"event": "resu"#,
        );
        let events = parse_events(text);
        assert_eq!(events.len(), 4);
        assert!(matches!(&events[3], Event::Progress { at } if at == "3x1000 float16 b128"));
        let Event::Result(report) = &events[1] else {
            panic!("second line is a result")
        };
        assert_eq!(report.stages[1].status, StageStatus::Fail);
        assert_eq!(report.time_split(), (9.5, 0.5));
        assert!(matches!(&events[2], Event::Start { probe } if probe == "qlora-train"));
    }
}
