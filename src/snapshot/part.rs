//! Partial snapshots: one shard's cells of a plan (`run --plan PLAN --shard K/N --part FILE`), and their merge
//! (`qcompat merge`) into the snapshot a single run of the whole plan would have written, byte for byte.
//!
//! A part's header names its plan (the plan's hash), its shard and each cell's position among the plan's cells, so
//! the merge needs nothing but the parts: it puts the cells back in plan order and refuses what does not add up.

use std::path::PathBuf;

use super::Snapshot;
use crate::error::{Error, Result};

/// The header of a partial snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The plan's hash.
    pub plan: String,
    /// `(K, N)`: shard K of N.
    pub shard: (usize, usize),
    /// Each cell's position among the plan's selected cells, in the order of the part's cells.
    pub positions: Vec<usize>,
}

/// Merges the parts of one plan in plan order. Refused (exit 2, naming the files): a file that is not a part,
/// parts of different plans or splits, a shard given twice or missing, a cell in two parts.
pub fn merge_parts(parts: &[(PathBuf, Snapshot)]) -> Result<Snapshot> {
    let headed = headers(parts)?;
    let (first_path, first, first_part) = headed[0];
    let count = first_part.shard.1;
    let mut by_shard: Vec<Option<&PathBuf>> = vec![None; count];
    let mut cells = Vec::new();
    for &(path, snapshot, part) in &headed {
        if part.plan != first_part.plan || snapshot.matrix != first.matrix || part.shard.1 != count
        {
            return refuse(format!(
                "{}: a part of plan {} ({} shards), not of {}'s plan {} ({count} shards)",
                path.display(),
                part.plan,
                part.shard.1,
                first_path.display(),
                first_part.plan
            ));
        }
        let slot = &mut by_shard[part.shard.0 - 1];
        if let Some(other) = slot {
            return refuse(format!(
                "{} and {} are both shard {}/{count}",
                other.display(),
                path.display(),
                part.shard.0
            ));
        }
        *slot = Some(path);
        for (cell, &position) in snapshot.cells.iter().zip(&part.positions) {
            cells.push((position, path, cell));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| by_shard[k - 1].is_none())
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return refuse(format!(
            "plan {}: missing shards {}",
            first_part.plan,
            missing.join(", ")
        ));
    }
    cells.sort_by_key(|(position, _, _)| *position);
    for pair in cells.windows(2) {
        let ((pa, a, ca), (pb, b, cb)) = (pair[0], pair[1]);
        if pa == pb || ca.key == cb.key {
            return refuse(format!(
                "cell `{}` is in both {} and {}",
                cb.key,
                a.display(),
                b.display()
            ));
        }
    }
    Ok(Snapshot {
        matrix: first.matrix.clone(),
        listed: first.listed.clone(),
        part: None,
        cells: cells.into_iter().map(|(_, _, c)| c.clone()).collect(),
    })
}

/// Each file with its part header; a file without one (a whole run's snapshot) is refused.
fn headers(parts: &[(PathBuf, Snapshot)]) -> Result<Vec<(&PathBuf, &Snapshot, &Part)>> {
    if parts.is_empty() {
        return refuse("merge: no parts given".into());
    }
    parts
        .iter()
        .map(|(path, snapshot)| match &snapshot.part {
            Some(part) => Ok((path, snapshot, part)),
            None => refuse(format!(
                "{}: not a partial snapshot (no plan/shard header): write parts with `run --shard K/N --part FILE`",
                path.display()
            )),
        })
        .collect()
}

fn refuse<T>(message: String) -> Result<T> {
    Err(Error::BadInput(message))
}
