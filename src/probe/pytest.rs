//! pytest as a probe: the arguments qcompat adds to a pytest command, and every test's result read back from the
//! JUnit XML it wrote.
//!
//! pytest's JUnit XML writes an xfailed test as `<skipped type="pytest.xfail">`, a strict xpass as a `<failure>`
//! (`[XPASS(strict)]`), but a non-strict xpass as a plain passed test case: the xpasses are read from the short
//! test summary `-rX` adds to the output (`XPASS tests/test_a.py::test_b - reason`).

use std::path::Path;
use std::sync::LazyLock;

use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use regex::Regex;

use super::protocol::{TestOutcome, TestResult};
use crate::outcome::normalize;

/// The JUnit XML's file name inside the probe's artifacts.
pub const JUNIT_FILE: &str = "pytest-junit.xml";

static PYTEST_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\S*?/(?:site|dist)-packages/(\S+?):\d+: in (\S+)$").unwrap()
});

/// Inserted before the user's own arguments (so a `-r` of theirs still wins): the XML, no cache written into the
/// copy of `dir`, and the xpass summary.
pub fn arguments(artifacts: &Path) -> Vec<String> {
    vec![
        format!("--junitxml={}", artifacts.join(JUNIT_FILE).display()),
        "-p".into(),
        "no:cacheprovider".into(),
        "-rX".into(),
    ]
}

/// Every test case of the XML at `path` in the order written, with the xpasses `output` names; `None` when pytest
/// wrote no readable XML (it could not start, or was told to write it elsewhere).
pub fn read(path: &Path, output: &str) -> Option<Vec<TestResult>> {
    let text = std::fs::read_to_string(path).ok()?;
    let report = Report::deserialize_from_str(&text).ok()?;
    let xpassed = xpasses(output);
    let tests = report
        .test_suites
        .iter()
        .flat_map(|suite| &suite.test_cases)
        .map(|case| {
            let classname = case.classname.as_ref().map_or("", |c| c.as_str());
            let key = format!("{classname}.{}", case.name.as_str());
            let mut test = test_result(classname, case.name.as_str(), &case.status);
            if test.outcome == TestOutcome::Passed && xpassed.contains(&key) {
                test.outcome = TestOutcome::Xpassed;
            }
            test
        })
        .collect();
    Some(tests)
}

fn test_result(classname: &str, name: &str, status: &TestCaseStatus) -> TestResult {
    let id = if classname.is_empty() {
        name.to_string()
    } else {
        format!("{classname}::{name}")
    };
    let text = |t: &Option<quick_junit::XmlString>| t.as_ref().map(|t| normalize(t.as_str()));
    let (outcome, message, frame) = match status {
        TestCaseStatus::Success { .. } => (TestOutcome::Passed, None, None),
        TestCaseStatus::NonSuccess {
            kind,
            message,
            description,
            ..
        } => {
            let outcome = match kind {
                NonSuccessKind::Failure => TestOutcome::Failed,
                NonSuccessKind::Error => TestOutcome::Error,
            };
            let detail = description.as_ref().map_or("", |d| d.as_str());
            (outcome, text(message), innermost_package_frame(detail))
        }
        TestCaseStatus::Skipped { message, ty, .. } => {
            let xfail = ty.as_ref().is_some_and(|t| t.as_str() == "pytest.xfail");
            let outcome = if xfail {
                TestOutcome::Xfailed
            } else {
                TestOutcome::Skipped
            };
            (outcome, text(message), None)
        }
    };
    TestResult {
        id,
        outcome,
        message,
        frame,
    }
}

/// pytest's long report names frames as `PATH:LINE: in FUNCTION`; the last inside site-packages, as a built-in
/// probe's frame is written (`torch/nn/modules/module.py:_call_impl`).
fn innermost_package_frame(detail: &str) -> Option<String> {
    PYTEST_FRAME
        .captures_iter(detail)
        .last()
        .map(|c| format!("{}:{}", &c[1], &c[2]))
}

/// The xpassed tests of `-rX`'s summary, each as JUnit writes its `classname.name` (`tests/test_a.py::C::t[x]` is
/// `tests.test_a.C.t[x]`).
fn xpasses(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("XPASS "))
        .map(|rest| {
            let node = rest.split(" - ").next().unwrap_or(rest).trim();
            let (path, rest) = node.split_once("::").unwrap_or((node, ""));
            let module = path.trim_end_matches(".py").replace('/', ".");
            if rest.is_empty() {
                module
            } else {
                format!("{module}.{}", rest.replace("::", "."))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What pytest 9.2 wrote for a file of each kind of test (run for real, trimmed).
    const XML: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="2" skipped="2" tests="6" time="0.4"><testcase classname="tests.test_x" name="test_pass" time="0.000" /><testcase classname="tests.test_x" name="test_fail" time="0.001"><failure message="AssertionError: boom&#10;assert 1 == 2">def test_fail():
/venv/lib/python3.11/site-packages/toyquant/core.py:12: in load
    raise AssertionError
E   AssertionError: boom</failure></testcase><testcase classname="tests.test_x" name="test_xfail" time="0.000"><skipped type="pytest.xfail" message="known bug" /></testcase><testcase classname="tests.test_x" name="test_xpass" time="0.000" /><testcase classname="tests.test_x" name="test_skip" time="0.000"><skipped type="pytest.skip" message="needs CUDA">/tmp/t.py:10: needs CUDA</skipped></testcase><testcase classname="tests.test_x" name="test_error" time="0.000"><error message="failed on setup with &quot;RuntimeError: fixture broke&quot;">E   RuntimeError</error></testcase></testsuite></testsuites>"#;

    #[test]
    fn every_test_with_its_outcome_message_and_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JUNIT_FILE);
        std::fs::write(&path, XML).unwrap();
        let output = "== short test summary info ==\nXPASS tests/test_x.py::test_xpass - fixed?\n";
        let tests = read(&path, output).unwrap();
        let outcomes: Vec<(&str, TestOutcome)> =
            tests.iter().map(|t| (t.id.as_str(), t.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                ("tests.test_x::test_pass", TestOutcome::Passed),
                ("tests.test_x::test_fail", TestOutcome::Failed),
                ("tests.test_x::test_xfail", TestOutcome::Xfailed),
                ("tests.test_x::test_xpass", TestOutcome::Xpassed),
                ("tests.test_x::test_skip", TestOutcome::Skipped),
                ("tests.test_x::test_error", TestOutcome::Error),
            ]
        );
        assert_eq!(
            tests[1].message.as_deref(),
            Some("AssertionError: boom assert 1 == 2")
        );
        assert_eq!(tests[1].frame.as_deref(), Some("toyquant/core.py:load"));
        assert_eq!(tests[4].message.as_deref(), Some("needs CUDA"));
        assert!(read(&dir.path().join("none.xml"), "").is_none());
    }
}
