//! One numeric comparison of a probe's evidence with the engine, the measure most checks use, and the signature a
//! failing one gives the probe.

use serde::{Deserialize, Serialize};

/// One numeric comparison with the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericCheck {
    pub name: String,
    pub value: f64,
    pub tolerance: f64,
    pub ok: bool,
}

/// How the name of a check that could not be made begins (and, after `numeric: `, its signature).
const NO_ARTIFACT: &str = "no artifact";

impl NumericCheck {
    pub fn new(name: &str, value: f64, tolerance: f64) -> Self {
        NumericCheck {
            name: name.to_string(),
            value,
            tolerance,
            ok: value <= tolerance,
        }
    }

    /// A check that could not be made because `what` (an artifact file, `metric NAME`) is missing or unreadable:
    /// one thing missing (value 1, tolerance 0), never ok. Finite, so the JSON report keeps the number.
    pub fn no_artifact(what: &str, why: &str) -> Self {
        NumericCheck {
            name: format!("{NO_ARTIFACT} {what} ({why})"),
            value: 1.0,
            tolerance: 0.0,
            ok: false,
        }
    }

    /// The signature of a probe this failing check turns into a `fail`.
    pub fn signature(&self) -> String {
        if self.name.starts_with(NO_ARTIFACT) {
            format!("numeric: {}", self.name)
        } else {
            format!(
                "numeric: {} beyond tolerance {} of the built-in reference",
                self.name, self.tolerance
            )
        }
    }
}

/// |probe − engine| relative to the engine's value.
pub fn relative_diff(probe: f64, engine: f64) -> f64 {
    (probe - engine).abs() / engine.abs().max(f64::MIN_POSITIVE)
}
