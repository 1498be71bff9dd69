//! JUnit XML (via quick-junit): one testcase per cell × probe, so CI test viewers list every probe run.
//!
//! The mapping keeps JUnit's failures exactly the run's regressions: `fail`, `timeout` and `crash` are failures with
//! the signature as message; expected or environmental outcomes (`xfail` with its known-issue id, `needs-cuda`,
//! `skipped`, `unresolvable`) are skipped; an `install-error` (network or build) is an error, not a finding about the stack.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::view::View;
use crate::outcome::Outcome;
use crate::results::ProbeResult;

pub fn render(view: &View<'_>) -> String {
    let mut suite = TestSuite::new(view.matrix);
    for row in &view.rows {
        for probe in row.probes.iter().flatten() {
            let mut case = TestCase::new(row.cell.key.to_string(), status(probe));
            // Viewers group by class name: one group per probe.
            case.set_classname(format!("{}.{}", view.matrix, probe.name));
            case.set_time(Duration::from_secs_f64(probe.duration_s.max(0.0)));
            if probe.outcome == Outcome::Xpass {
                case.set_system_out(format!(
                    "xpass: known issue {} did not reproduce: fixed upstream? Drop its [[known]] entry once it stays fixed.",
                    probe.known.as_deref().unwrap_or("?")
                ));
            }
            suite.add_test_case(case);
        }
    }
    let mut junit = Report::new("qcompat");
    junit.add_test_suite(suite);
    junit.to_string().expect("JUnit reports serialize")
}

fn status(probe: &ProbeResult) -> TestCaseStatus {
    let signature = probe.signature.as_deref().unwrap_or_default();
    let mut status = match probe.outcome {
        Outcome::Pass | Outcome::Xpass => return TestCaseStatus::success(),
        Outcome::Fail | Outcome::Timeout | Outcome::Crash => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(signature);
            status
        }
        Outcome::InstallError => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(signature);
            status
        }
        Outcome::Xfail => {
            let mut status = TestCaseStatus::skipped();
            let known = probe.known.as_deref().unwrap_or("?");
            status.set_message(format!("xfail: known issue {known}: {signature}"));
            status
        }
        Outcome::NeedsCuda | Outcome::Unresolvable => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("{}: {signature}", probe.outcome));
            status
        }
        // Its signature already reads `skipped: why`.
        Outcome::Skipped => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(signature);
            status
        }
    };
    status.set_type(probe.outcome.as_str());
    if let Some(frame) = &probe.frame {
        status.set_description(format!("at {frame}"));
    }
    status
}
