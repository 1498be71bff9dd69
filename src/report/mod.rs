//! Renderers of a run's results: a terminal table and JSON.

pub mod table;

use crate::results::RunReport;

pub fn json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).expect("reports serialize") + "\n"
}
