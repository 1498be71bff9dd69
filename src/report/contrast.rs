//! The quantization contrast: cells where probes on a quantized path fail while their unquantized control passes.
//!
//! That is how the 2024 report read ("QLoRA dies, plain LoRA keeps working"), and it is the first thing a reader
//! needs to know about a failure: the model, data and training loop are fine, the quantized path is not.

use crate::outcome::Outcome;
use crate::probe::catalog::Catalog;
use crate::probe::spec::Role;
use crate::results::{CellResult, ProbeResult};

use super::row::Row;

/// One cell whose quantized probes fail while a control passes.
pub struct Contrast<'a> {
    pub cell: &'a CellResult,
    /// Quantized probes that failed (expected or not, or crashed or timed out), in column order.
    pub failing: Vec<&'a str>,
    /// Control probes that passed.
    pub controls: Vec<&'a str>,
}

impl Contrast<'_> {
    /// `a, b fail while c passes`: the contrast in words, without the cell.
    pub fn describe(&self) -> String {
        let verb = |names: &[&str], one: &str, many: &str| {
            format!(
                "{} {}",
                names.join(", "),
                if names.len() == 1 { one } else { many }
            )
        };
        format!(
            "{} while {}",
            verb(&self.failing, "fails", "fail"),
            verb(&self.controls, "passes", "pass")
        )
    }
}

/// A built-in probe's role is the catalogue's; a declared probe's is recorded on its result.
fn on_path(probe: &ProbeResult, role: Role) -> bool {
    let declared = probe.role;
    let builtin = || Catalog::builtin().find(&probe.name).map(|p| p.role);
    declared.or_else(builtin) == Some(role)
}

fn failed(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Fail | Outcome::Xfail | Outcome::Crash | Outcome::Timeout
    )
}

/// The contrasting cells, in row order.
pub fn contrasts<'a>(rows: &[Row<'a>]) -> Vec<Contrast<'a>> {
    rows.iter()
        .filter_map(|row| {
            let names = |role: Role, keep: fn(Outcome) -> bool| -> Vec<&'a str> {
                row.probes
                    .iter()
                    .flatten()
                    .filter(|p| on_path(p, role) && keep(p.outcome))
                    .map(|p| p.name.as_str())
                    .collect()
            };
            let failing = names(Role::Quantized, failed);
            let controls = names(Role::Control, |o| o == Outcome::Pass);
            (!failing.is_empty() && !controls.is_empty()).then_some(Contrast {
                cell: row.cell,
                failing,
                controls,
            })
        })
        .collect()
}
