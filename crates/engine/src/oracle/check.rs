//! One numeric comparison of a probe's evidence with the engine, the measure most checks use, and the signature a
//! failing one gives the probe.

use serde::{Deserialize, Serialize};

/// What a check is: a number compared with the engine's, or evidence that could not be compared at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// A measure of the probe's evidence against the engine's: fails beyond its tolerance.
    Tolerance,
    /// Evidence the probe should have left (an artifact file, a metric) was missing or unreadable, or the engine
    /// failed while checking it: one thing missing (value 1, tolerance 0), never ok.
    NoArtifact,
}

/// One numeric comparison with the engine. In JSON it is `{name, value, tolerance, ok}`, a [`CheckKind::NoArtifact`]
/// check's name beginning with `no artifact ` (docs/cli.md); that prefix is the kind's only spelling there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "JsonCheck", from = "JsonCheck")]
pub struct NumericCheck {
    pub kind: CheckKind,
    /// The measure (`nf4_code_bytes_differing_fraction`); for a [`CheckKind::NoArtifact`] check, what is missing and
    /// why (`qlora-train.replay.json (missing)`).
    pub name: String,
    pub value: f64,
    pub tolerance: f64,
    pub ok: bool,
}

/// What the name of a [`CheckKind::NoArtifact`] check begins with in JSON and in signatures.
const NO_ARTIFACT: &str = "no artifact ";

impl NumericCheck {
    pub fn new(name: &str, value: f64, tolerance: f64) -> Self {
        NumericCheck {
            kind: CheckKind::Tolerance,
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
            kind: CheckKind::NoArtifact,
            name: format!("{what} ({why})"),
            value: 1.0,
            tolerance: 0.0,
            ok: false,
        }
    }

    /// The signature of a probe this failing check turns into a `fail`.
    pub fn signature(&self) -> String {
        match self.kind {
            CheckKind::NoArtifact => format!("numeric: {NO_ARTIFACT}{}", self.name),
            CheckKind::Tolerance => format!(
                "numeric: {} beyond tolerance {} of the built-in reference",
                self.name, self.tolerance
            ),
        }
    }
}

/// A check as JSON spells it (reports, the resume journal): the kind folded into the name.
#[derive(Serialize, Deserialize)]
struct JsonCheck {
    name: String,
    value: f64,
    tolerance: f64,
    ok: bool,
}

impl From<NumericCheck> for JsonCheck {
    fn from(check: NumericCheck) -> Self {
        let name = match check.kind {
            CheckKind::NoArtifact => format!("{NO_ARTIFACT}{}", check.name),
            CheckKind::Tolerance => check.name,
        };
        JsonCheck {
            name,
            value: check.value,
            tolerance: check.tolerance,
            ok: check.ok,
        }
    }
}

impl From<JsonCheck> for NumericCheck {
    fn from(json: JsonCheck) -> Self {
        let (kind, name) = match json.name.strip_prefix(NO_ARTIFACT) {
            Some(rest) => (CheckKind::NoArtifact, rest.to_string()),
            None => (CheckKind::Tolerance, json.name),
        };
        NumericCheck {
            kind,
            name,
            value: json.value,
            tolerance: json.tolerance,
            ok: json.ok,
        }
    }
}

/// |probe − engine| relative to the engine's value.
pub fn relative_diff(probe: f64, engine: f64) -> f64 {
    (probe - engine).abs() / engine.abs().max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_spells_the_kind_in_the_name_and_reads_it_back() {
        let missing = NumericCheck::no_artifact("qlora-train.replay.json", "missing");
        let json = serde_json::to_string(&missing).unwrap();
        assert_eq!(
            json,
            r#"{"name":"no artifact qlora-train.replay.json (missing)","value":1.0,"tolerance":0.0,"ok":false}"#
        );
        assert_eq!(
            serde_json::from_str::<NumericCheck>(&json).unwrap(),
            missing
        );
        let measured = NumericCheck::new("lora_update_rel_diff", 0.5, 0.25);
        let json = serde_json::to_string(&measured).unwrap();
        assert_eq!(
            json,
            r#"{"name":"lora_update_rel_diff","value":0.5,"tolerance":0.25,"ok":false}"#
        );
        let back: NumericCheck = serde_json::from_str(&json).unwrap();
        assert_eq!((back.kind, back), (CheckKind::Tolerance, measured));
    }
}
