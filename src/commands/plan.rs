//! `qcompat plan`: plan a matrix once (query axes listed, versions fixed) and split its cells into shards for a
//! GitHub Actions dynamic matrix; and the plan `run` works from (`--matrix`, or `--plan` with `--shard`).

use std::path::PathBuf;

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::files::write_atomically;
use qcompat::matrix;
use qcompat::outcome::Outcome;
use qcompat::plan::shard::{self, Split};
use qcompat::plan::{Plan, PlanFormat, Selection};
use qcompat::results::RunReport;
use qcompat::snapshot::{self, Part, Snapshot};

use crate::output;
use crate::settings::{PlanSettings, PlanSource, RunSettings};

pub fn run(settings: PlanSettings) -> Result<ExitStatus> {
    let args = &settings.args;
    let selection = Selection {
        filters: args.filters.clone(),
        probes: args.probes.clone(),
    };
    let mut plan = Plan::new(matrix::load(&args.matrix)?, &selection, &settings.index)?;
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    let needs_cuda = needs_cuda(&plan, args.snapshot.clone())?;
    plan.shards = shard::split(
        &needs_cuda,
        &Split {
            count: args.shards,
            cpu_label: &args.cpu_label,
            gpu_label: args.gpu_label.as_deref(),
        },
    )?;
    if let Some(file) = &settings.plan_file {
        file.write(&plan.to_json())?;
    }
    let text = match settings.format {
        PlanFormat::Json => plan.to_json(),
        PlanFormat::Github => format!("{}\n", github_matrix(&plan)),
    };
    output::stdout(text.as_bytes())?;
    Ok(ExitStatus::Success)
}

/// `{"include": [{"shard": "1/2", "runs-on": "ubuntu-latest", "cells": 3}, …]}`: `fromJSON` of this is a job
/// matrix, one job per shard.
fn github_matrix(plan: &Plan) -> String {
    let count = plan.shards.len();
    let include: Vec<serde_json::Value> = plan
        .shards
        .iter()
        .enumerate()
        .map(|(i, s)| {
            serde_json::json!({
                "shard": format!("{}/{count}", i + 1),
                "runs-on": s.runs_on,
                "cells": s.cells.len(),
            })
        })
        .collect();
    serde_json::json!({ "include": include }).to_string()
}

/// Which of the plan's cells need CUDA: those the snapshot (`--snapshot`, else the matrix's default one when it
/// exists) recorded `needs-cuda` for any probe. A cell never run is assumed to run on a CPU.
fn needs_cuda(plan: &Plan, path: Option<PathBuf>) -> Result<Vec<bool>> {
    let path = path.unwrap_or_else(|| snapshot::default_path(&plan.matrix.name));
    let recorded = if path.exists() {
        Some(snapshot::read(&path)?)
    } else {
        None
    };
    Ok(plan
        .cells
        .iter()
        .map(|cell| {
            recorded
                .as_ref()
                .and_then(|s| s.cell(&cell.key()))
                .is_some_and(|c| c.probes.iter().any(|p| p.outcome == Outcome::NeedsCuda))
        })
        .collect())
}

/// Where a shard's partial snapshot goes, and its header.
pub struct PartOutput {
    path: PathBuf,
    part: Part,
}

impl PartOutput {
    pub fn write(self, report: &RunReport, plan: &Plan) -> Result<()> {
        let mut snapshot = Snapshot::from_report(report, &plan.matrix);
        snapshot.listed = plan.listed.clone();
        snapshot.part = Some(self.part);
        write_atomically(&self.path, &snapshot::render(&snapshot))
    }
}

/// The plan `run` works from: made from `--matrix` now, or read from `--plan` (installs then resolve as of the
/// plan's `--as-of`), narrowed to `--shard K/N`.
pub fn for_run(settings: &mut RunSettings) -> Result<(Plan, Option<PartOutput>)> {
    let (path, shard, part) = match &settings.source {
        PlanSource::Matrix(matrix) => {
            let plan = Plan::new(
                matrix::load(matrix)?,
                &settings.selection,
                &settings.harness.index,
            )?;
            return Ok((plan, None));
        }
        PlanSource::File { path, shard, part } => (path, shard, part),
    };
    let mut plan = Plan::from_json(path)?;
    settings.harness.index.as_of = plan.as_of.clone();
    let Some((k, n)) = *shard else {
        return Ok((plan, None));
    };
    let positions = shard::select(&mut plan, k, n)?;
    let part = part.clone().map(|path| PartOutput {
        path,
        part: Part {
            plan: plan.hash.clone(),
            shard: (k, n),
            positions,
        },
    });
    Ok((plan, part))
}
