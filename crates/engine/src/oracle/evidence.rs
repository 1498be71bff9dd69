//! What a passing probe left for the engine to check (metrics and artifact files), read so that nothing is skipped
//! silently: every expected metric or artifact that is missing or unreadable becomes a failing check named
//! `no artifact …`, which turns the probe's pass into a `fail` with a `numeric: no artifact …` signature.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;
use serde_json::Value;

use super::check::NumericCheck;
use crate::EngineError;
use crate::checkpoint;

/// A probe's metrics and artifact folder, and the checks gathered while reading them.
pub struct ProbeOutput<'a> {
    artifacts: &'a Path,
    metrics: &'a Value,
    pub checks: Vec<NumericCheck>,
}

impl<'a> ProbeOutput<'a> {
    pub fn new(artifacts: &'a Path, metrics: &'a Value) -> Self {
        ProbeOutput {
            artifacts,
            metrics,
            checks: Vec::new(),
        }
    }

    pub fn check(&mut self, name: &str, value: f64, tolerance: f64) {
        self.checks.push(NumericCheck::new(name, value, tolerance));
    }

    /// Records that `what` could not be checked, and why (no paths: the text ends up in a signature).
    pub fn missing(&mut self, what: &str, why: &str) {
        self.checks.push(NumericCheck::no_artifact(what, why));
    }

    /// The metric `name` as a number; absent or not a number is a failing check.
    pub fn number(&mut self, name: &str) -> Option<f64> {
        let found = self.metrics[name].as_f64();
        if found.is_none() {
            self.missing(&format!("metric {name}"), "missing or not a number");
        }
        found
    }

    /// The metric `name` as a list of numbers (JSON null, a non-finite value, counts as missing).
    pub fn numbers(&mut self, name: &str) -> Option<Vec<f64>> {
        let found: Option<Vec<f64>> = self.metrics[name]
            .as_array()
            .and_then(|values| values.iter().map(Value::as_f64).collect());
        if found.as_ref().is_none_or(Vec::is_empty) {
            self.missing(
                &format!("metric {name}"),
                "missing or not a list of numbers",
            );
            return None;
        }
        found
    }

    /// The artifact `file` parsed as JSON.
    pub fn json(&mut self, file: &str) -> Option<Value> {
        let text = self.text(file)?;
        match serde_json::from_str(&text) {
            Ok(value) => Some(value),
            Err(_) => {
                self.missing(file, "not JSON");
                None
            }
        }
    }

    /// The artifact `file` parsed as JSON into `T` (`shape` names the expected layout in the signature).
    pub fn json_as<T: serde::de::DeserializeOwned>(
        &mut self,
        file: &str,
        shape: &str,
    ) -> Option<T> {
        let value = self.json(file)?;
        match serde_json::from_value(value) {
            Ok(parsed) => Some(parsed),
            Err(_) => {
                self.missing(file, &format!("not {shape}"));
                None
            }
        }
    }

    /// The artifact `file`, a `torch.save`d dict of tensors.
    pub fn pth(&mut self, file: &str) -> Option<HashMap<String, Tensor>> {
        let path = self.artifacts.join(file);
        if !path.is_file() {
            self.missing(file, "missing");
            return None;
        }
        match checkpoint::load_pth(&path) {
            Ok(tensors) => Some(tensors.into_iter().collect()),
            Err(_) => {
                self.missing(file, "not a readable torch.save file");
                None
            }
        }
    }

    fn text(&mut self, file: &str) -> Option<String> {
        let path = self.artifacts.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                self.missing(file, "missing");
                None
            }
            Err(_) => {
                self.missing(file, "unreadable");
                None
            }
        }
    }

    /// An engine error while checking (an artifact of the wrong shape or dtype, …): the pass stays unverified. The
    /// artifact folder is cut from the message so that the signature holds no path of this machine.
    pub fn unchecked(&mut self, error: &EngineError) {
        let folder = format!("{}/", self.artifacts.display());
        let text = error.to_string().replace(&folder, "");
        self.missing("the engine could check", &text);
    }
}
