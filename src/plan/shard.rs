//! Shards: a plan's cells split for parallel CI jobs (`plan --shards N`), one runner label each, and the one shard a
//! job runs (`run --plan PLAN --shard K/N`).
//!
//! A cell "needs CUDA" when the caller says so (`plan` takes it from the snapshot: a cell recorded `needs-cuda` for
//! any probe). With a GPU label, those cells get shards of their own on that runner; without one they stay on CPU
//! runners and come out `needs-cuda` again, as on any CPU machine.

use crate::error::{Error, Result};
use crate::plan::{Plan, Shard};

/// How to split: the number of shards and the runner labels.
pub struct Split<'a> {
    pub count: usize,
    pub cpu_label: &'a str,
    pub gpu_label: Option<&'a str>,
}

/// Splits `cells` positions (`needs_cuda[i]` for cell i) into `split.count` shards, dealt round-robin in plan order
/// so each shard gets a slice of every axis.
pub fn split(needs_cuda: &[bool], split: &Split<'_>) -> Result<Vec<Shard>> {
    let total = needs_cuda.len();
    if split.count == 0 || split.count > total {
        return Err(Error::BadInput(format!(
            "--shards {}: the plan has {total} cells; ask for 1 to {total} shards",
            split.count
        )));
    }
    let (gpu, cpu): (Vec<usize>, Vec<usize>) =
        (0..total).partition(|&i| split.gpu_label.is_some() && needs_cuda[i]);
    let gpu_shards = match (gpu.len(), cpu.len()) {
        (0, _) => 0,
        (_, 0) => split.count,
        (g, _) if split.count == 1 => usize::from(g > 0),
        (g, _) => ((split.count * g + total / 2) / total).clamp(1, split.count - 1),
    };
    let mut shards = deal(&gpu, gpu_shards, split.gpu_label.unwrap_or_default());
    // One shard and some CUDA cells: the GPU runner takes the CPU cells too.
    match shards.first_mut() {
        Some(only) if split.count == 1 => only.cells = (0..total).collect(),
        _ => shards.extend(deal(&cpu, split.count - gpu_shards, split.cpu_label)),
    }
    shards.sort_by_key(|s| s.cells.first().copied());
    Ok(shards)
}

fn deal(cells: &[usize], count: usize, label: &str) -> Vec<Shard> {
    (0..count)
        .map(|k| Shard {
            runs_on: label.to_string(),
            cells: cells.iter().copied().skip(k).step_by(count).collect(),
        })
        .collect()
}

/// `K/N` with 1 ≤ K ≤ N.
pub fn parse_id(text: &str) -> Result<(usize, usize)> {
    let bad = || Error::BadInput(format!("--shard {text}: expected K/N with 1 <= K <= N"));
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The plan restricted to shard `k` of `n`: its own shards when it was split with `--shards n`, else a CPU-only
/// round-robin split. Returns the positions of the shard's cells in the whole plan; the hash stays the plan's.
pub fn select(plan: &mut Plan, k: usize, n: usize) -> Result<Vec<usize>> {
    let shards = if plan.shards.is_empty() {
        split(
            &vec![false; plan.cells.len()],
            &Split {
                count: n,
                cpu_label: "",
                gpu_label: None,
            },
        )?
    } else if plan.shards.len() == n {
        plan.shards.clone()
    } else {
        return Err(Error::BadInput(format!(
            "--shard {k}/{n}: the plan was split into {} shards",
            plan.shards.len()
        )));
    };
    let positions = shards[k - 1].cells.clone();
    plan.cells = positions.iter().map(|&i| plan.cells[i].clone()).collect();
    Ok(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(shards: &[Shard]) -> Vec<(&str, Vec<usize>)> {
        shards
            .iter()
            .map(|s| (s.runs_on.as_str(), s.cells.clone()))
            .collect()
    }

    #[test]
    fn cells_are_dealt_round_robin_and_cuda_cells_go_to_the_gpu_label() {
        let cuda = [false, true, false, false, true, false];
        let cpu_only = Split {
            count: 2,
            cpu_label: "cpu",
            gpu_label: None,
        };
        assert_eq!(
            cells(&split(&cuda, &cpu_only).unwrap()),
            [("cpu", vec![0, 2, 4]), ("cpu", vec![1, 3, 5])]
        );
        let with_gpu = Split {
            count: 3,
            cpu_label: "cpu",
            gpu_label: Some("gpu"),
        };
        assert_eq!(
            cells(&split(&cuda, &with_gpu).unwrap()),
            [
                ("cpu", vec![0, 3]),
                ("gpu", vec![1, 4]),
                ("cpu", vec![2, 5])
            ]
        );
        let one = Split {
            count: 1,
            ..with_gpu
        };
        assert_eq!(
            cells(&split(&cuda, &one).unwrap()),
            [("gpu", vec![0, 1, 2, 3, 4, 5])]
        );
        assert!(
            split(
                &cuda,
                &Split {
                    count: 7,
                    ..cpu_only
                }
            )
            .is_err()
        );
    }

    #[test]
    fn shard_ids_are_k_of_n() {
        assert_eq!(parse_id("2/3").unwrap(), (2, 3));
        for bad in ["0/3", "4/3", "3", "a/b"] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
    }
}
