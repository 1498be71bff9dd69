//! Reads a snapshot, refusing corrupted or hand-edited ones with a `file:line:column` message (exit 2).

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::{Snapshot, SnapshotCell, SnapshotProbe};
use crate::error::{Error, Result};
use crate::matrix::Source;
use crate::matrix::cell_key::CellKey;
use crate::outcome::Outcome;
use crate::probe::catalog::Catalog;
use crate::probe::protocol::{TestOutcome, TestResult};
use crate::probe::spec::Role;

/// The file as written; spans locate the errors found after parsing (a duplicate cell, an unknown probe).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile {
    matrix: String,
    listed: Option<String>,
    plan: Option<String>,
    shard: Option<Spanned<String>>,
    positions: Option<Vec<usize>>,
    #[serde(default)]
    cell: Vec<CellFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CellFile {
    key: Spanned<IndexMap<String, String>>,
    #[serde(default)]
    resolved: BTreeMap<String, String>,
    #[serde(default)]
    probe: Vec<ProbeFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeFile {
    name: Spanned<String>,
    outcome: Outcome,
    signature: Option<String>,
    frame: Option<String>,
    known: Option<String>,
    #[serde(default)]
    substitutions: Vec<String>,
    #[serde(default)]
    metrics: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    declared: bool,
    role: Option<Role>,
    #[serde(default)]
    test: Vec<TestFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    id: String,
    outcome: TestOutcome,
    message: Option<String>,
}

pub fn read(path: &Path) -> Result<Snapshot> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::BadInput(format!(
            "{}: no such snapshot (write one with `qcompat run --matrix FILE --update`)",
            path.display()
        )),
        _ if path.is_dir() => {
            Error::BadInput(format!("{}: a folder, not a snapshot file", path.display()))
        }
        _ => Error::io(path, e),
    })?;
    parse(&Source::new(path, text))
}

/// A snapshot's text read from elsewhere (a git commit): `origin` names it in errors.
pub fn parse_text(origin: &Path, text: String) -> Result<Snapshot> {
    parse(&Source::new(origin, text))
}

fn parse(source: &Source) -> Result<Snapshot> {
    let file: SnapshotFile = toml::from_str(&source.text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        // toml's messages span lines; the contract is one line after file:line:column.
        let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
        Error::BadInput(format!("{}: {message}", source.at_offset(offset)))
    })?;
    let mut cells: Vec<SnapshotCell> = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    for written in file.cell {
        let start = written.key.span().start;
        let cell = cell(written, source)?;
        if let Some(first) = cells.iter().position(|c| c.key == cell.key) {
            let first_at = source.at_offset(starts[first]);
            let first_line = first_at.rsplit(':').nth(1).unwrap_or("?");
            let message = format!("duplicate cell `{}` (first at line {first_line})", cell.key);
            return Err(error_at(source, start, message));
        }
        cells.push(cell);
        starts.push(start);
    }
    let part = part(file.plan, file.shard, file.positions, cells.len(), source)?;
    Ok(Snapshot {
        matrix: file.matrix,
        listed: file.listed,
        part,
        cells,
    })
}

fn error_at(source: &Source, offset: usize, message: String) -> Error {
    Error::BadInput(format!("{}: {message}", source.at_offset(offset)))
}

/// One `[[cell]]`: a key naming at least one axis, and probes the catalogue knows, each once.
fn cell(written: CellFile, source: &Source) -> Result<SnapshotCell> {
    let start = written.key.span().start;
    let key = written.key.into_inner();
    if key.is_empty() {
        let message = "a cell's key names at least one axis".into();
        return Err(error_at(source, start, message));
    }
    let mut probes: Vec<SnapshotProbe> = Vec::new();
    for probe in written.probe {
        let (span, name) = (probe.name.span(), probe.name.into_inner());
        let catalog = Catalog::builtin();
        if catalog.find(&name).is_none() && !probe.declared {
            let hint = crate::suggest::hint(&name, catalog.names());
            let message = format!("unknown probe `{name}`{hint}");
            return Err(error_at(source, span.start, message));
        }
        if probes.iter().any(|p| p.name == name) {
            let message = format!("probe `{name}` appears twice in this cell");
            return Err(error_at(source, span.start, message));
        }
        probes.push(SnapshotProbe {
            name,
            outcome: probe.outcome,
            signature: probe.signature,
            frame: probe.frame,
            known: probe.known,
            substitutions: probe.substitutions,
            metrics: probe.metrics,
            declared: probe.declared,
            role: probe.role,
            tests: probe
                .test
                .into_iter()
                .map(|t| TestResult {
                    id: t.id,
                    outcome: t.outcome,
                    message: t.message,
                    frame: None,
                })
                .collect(),
        });
    }
    Ok(SnapshotCell {
        key: CellKey::new(key),
        resolved: written.resolved,
        probes,
    })
}

/// A shard's partial snapshot names its plan, its shard and one position per cell; a whole snapshot none of them.
fn part(
    plan: Option<String>,
    shard: Option<Spanned<String>>,
    positions: Option<Vec<usize>>,
    cells: usize,
    source: &Source,
) -> Result<Option<super::Part>> {
    match (plan, shard, positions) {
        (None, None, None) => Ok(None),
        (Some(plan), Some(shard), Some(positions)) if positions.len() == cells => {
            let at = shard.span().start;
            let shard = crate::plan::shard::parse_id(shard.get_ref())
                .map_err(|e| error_at(source, at, e.to_string()))?;
            Ok(Some(super::Part {
                plan,
                shard,
                positions,
            }))
        }
        _ => {
            let message = "a partial snapshot has `plan`, `shard` and one position per cell".into();
            Err(error_at(source, 0, message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Snapshot> {
        parse(&Source::new(Path::new("s.snap.toml"), text.to_string()))
    }

    #[test]
    fn a_written_snapshot_reads_back_equal() {
        let text = "matrix = \"toy\"\n[[cell]]\nkey = { toyquant = \"1.2\" }\n[cell.resolved]\ntoyquant = \"1.2\"\n\
                    [[cell.probe]]\nname = \"toy-load\"\noutcome = \"xfail\"\nsignature = \"E: x\"\nknown = \"k\"\n\
                    [cell.probe.metrics]\nerr = 0.25\ncodes = [3, 0]\n";
        let snapshot = parse_text(text).unwrap();
        assert_eq!(
            parse_text(&super::super::render(&snapshot)).unwrap(),
            snapshot
        );
        assert_eq!(snapshot.cells[0].probes[0].outcome, Outcome::Xfail);
    }

    #[test]
    fn key_order_is_kept_and_located_errors_name_the_line() {
        let twice = "matrix = \"m\"\n[[cell]]\nkey = { b = \"1\", a = \"2\" }\n[[cell]]\nkey = { b = \"1\", a = \"2\" }\n";
        let error = parse_text(twice).unwrap_err().to_string();
        assert_eq!(
            error,
            "s.snap.toml:5:7: duplicate cell `b=1,a=2` (first at line 3)"
        );
    }
}
