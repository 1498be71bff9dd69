//! The one view of a run or snapshot that every report renders (table, Markdown, HTML, JUnit): rows of cells, the
//! probe columns, outcome counts, signature groups, known issues that may be fixed upstream, the quantization
//! contrast, and substitutions.
//!
//! Cells of one report may have run different probes (a partial `--probe` run merged into a snapshot), so the
//! columns are the union of every cell's probes, in catalogue order, and each row is aligned to them by name: a
//! probe's outcome can never land under another probe's column.

use std::collections::BTreeMap;

use crate::outcome::Outcome;
use crate::probe::catalog::Catalog;
use crate::results::{CellResult, ProbeResult, Reference, RunReport};

use super::contrast::{Contrast, contrasts};
use super::headline::{AxisHeadline, headlines};
pub use super::row::Row;

pub struct View<'a> {
    /// What the view was made from: the JSON report serializes it as it is.
    pub report: &'a RunReport,
    pub matrix: &'a str,
    /// Column names: the union of the cells' probes, in catalogue order (unknown names last, as first seen).
    pub probes: Vec<&'a str>,
    pub rows: Vec<Row<'a>>,
    pub counts: &'a BTreeMap<Outcome, usize>,
    pub regressions: usize,
    /// Distinct non-pass signatures with the probe runs they hit, most frequent first (ties in first-seen order).
    pub groups: Vec<SignatureGroup<'a>>,
    /// Probe runs that passed inside a known issue's window: the `[[known]]` entry may be obsolete.
    pub fixed_upstream: Vec<Hit<'a>>,
    /// Cells whose quantized probes fail while their unquantized control passes.
    pub contrasts: Vec<Contrast<'a>>,
    /// Every distinct substitution a probe made to run on this machine, sorted.
    pub substitutions: Vec<&'a str>,
    pub reference: Option<&'a Reference>,
    /// One line per axis with several versions: where outcomes change along it (see `headline`).
    pub headline: Vec<AxisHeadline<'a>>,
}

/// A probe run and its cell, with the row and column it sits at.
#[derive(Clone, Copy)]
pub struct Hit<'a> {
    pub cell: &'a CellResult,
    pub probe: &'a ProbeResult,
    pub row: usize,
    pub column: usize,
}

pub struct SignatureGroup<'a> {
    pub signature: &'a str,
    pub frame: Option<&'a str>,
    pub outcome: Outcome,
    pub hits: Vec<Hit<'a>>,
    /// The pin that fixes a known environment-recipe failure with this signature.
    pub hint: Option<&'a str>,
}

impl<'a> View<'a> {
    pub fn of(report: &'a RunReport) -> Self {
        let probes = columns(report);
        let rows: Vec<Row<'a>> = report
            .cells
            .iter()
            .map(|cell| Row {
                cell,
                probes: probes
                    .iter()
                    .map(|name| cell.probes.iter().find(|p| p.name == *name))
                    .collect(),
            })
            .collect();
        let hits: Vec<Hit<'a>> = rows
            .iter()
            .enumerate()
            .flat_map(|(r, row)| {
                row.probes.iter().enumerate().filter_map(move |(c, probe)| {
                    probe.map(|probe| Hit {
                        cell: row.cell,
                        probe,
                        row: r,
                        column: c,
                    })
                })
            })
            .collect();
        let mut substitutions: Vec<&str> = hits
            .iter()
            .flat_map(|h| h.probe.substitutions.iter().map(String::as_str))
            .collect();
        substitutions.sort();
        substitutions.dedup();
        Self {
            report,
            matrix: &report.matrix,
            probes,
            counts: &report.summary,
            regressions: report.regressions(),
            groups: signature_groups(&hits),
            fixed_upstream: hits
                .iter()
                .filter(|h| h.probe.outcome == Outcome::Xpass)
                .copied()
                .collect(),
            substitutions,
            reference: report.reference.as_ref(),
            contrasts: contrasts(&rows),
            headline: headlines(&rows),
            rows,
        }
    }

    /// The 1-based number of `probe`'s signature group, so a reader can match a failure in a grid with its cause
    /// listed below it; none for a probe without a signature.
    pub fn group_number(&self, probe: &ProbeResult) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| {
                Some(g.signature) == probe.signature.as_deref() && g.frame == probe.frame.as_deref()
            })
            .map(|i| i + 1)
    }

    /// ` [n]` after an outcome, or nothing.
    pub fn mark(&self, probe: &ProbeResult) -> String {
        self.group_number(probe)
            .map(|n| format!(" [{n}]"))
            .unwrap_or_default()
    }

    /// `name, name`: the counts as `n outcome` phrases in outcome order.
    pub fn count_phrases(&self) -> Vec<String> {
        self.counts
            .iter()
            .map(|(o, n)| format!("{n} {o}"))
            .collect()
    }
}

impl SignatureGroup<'_> {
    /// The log of the first probe run that hit this signature (none from a snapshot: logs are not recorded there).
    pub fn log(&self) -> Option<&str> {
        self.hits.iter().find_map(|h| h.probe.log.as_deref())
    }
}

fn columns(report: &RunReport) -> Vec<&str> {
    let names = report.cells.iter().flat_map(|c| &c.probes);
    Catalog::builtin().in_order(names.map(|p| p.name.as_str()))
}

fn signature_groups<'a>(hits: &[Hit<'a>]) -> Vec<SignatureGroup<'a>> {
    let mut groups: Vec<SignatureGroup<'a>> = Vec::new();
    for hit in hits {
        let Some(signature) = hit.probe.signature.as_deref() else {
            continue;
        };
        let frame = hit.probe.frame.as_deref();
        match groups
            .iter_mut()
            .find(|g| g.signature == signature && g.frame == frame)
        {
            Some(group) => group.hits.push(*hit),
            None => groups.push(SignatureGroup {
                signature,
                frame,
                outcome: hit.probe.outcome,
                hits: vec![*hit],
                hint: hit.probe.hint.as_deref(),
            }),
        }
    }
    // Stable: ties keep first-seen order.
    groups.sort_by_key(|g| std::cmp::Reverse(g.hits.len()));
    groups
}
