//! Expands a matrix into cells: the product of the axes, minus `[[exclude]]`, plus `[[include]]`.

use super::load::Matrix;
use crate::version::Version;

/// Axis values in axis order; a partial assignment leaves the missing packages to the resolver.
pub type Assignment = Vec<(String, Version)>;

/// `axis=version,…` in the given order: the one spelling of a cell's name, for cells, results and snapshots.
pub fn key_string<A: std::fmt::Display, V: std::fmt::Display>(
    pairs: impl IntoIterator<Item = (A, V)>,
) -> String {
    pairs
        .into_iter()
        .map(|(axis, version)| format!("{axis}={version}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// One cell of the matrix: the versions it pins, in axis order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub key: Assignment,
}

impl Cell {
    /// `lightning=2.3.0,bitsandbytes=0.49.2,torch=2.3.0`, the cell's name everywhere.
    pub fn key_string(&self) -> String {
        key_string(self.key.iter().map(|(axis, version)| (axis, version)))
    }

    /// Requirements to install: the cell's exact versions, then the matrix's pins.
    pub fn requirements(&self, pins: &[String]) -> Vec<String> {
        self.key
            .iter()
            .map(|(axis, version)| format!("{axis}=={version}"))
            .chain(pins.iter().cloned())
            .collect()
    }

    pub fn version_of(&self, axis: &str) -> Option<&Version> {
        self.key.iter().find(|(a, _)| a == axis).map(|(_, v)| v)
    }

    /// Whether every axis value of `pattern` is this cell's.
    fn matches(&self, pattern: &Assignment) -> bool {
        pattern
            .iter()
            .all(|(axis, version)| self.version_of(axis) == Some(version))
    }
}

/// The cells of `matrix`, given each axis's versions (explicit ones, or those the index listed for a query).
pub fn expand(matrix: &Matrix, axis_versions: &[Vec<Version>]) -> Vec<Cell> {
    let mut cells = vec![Cell { key: Vec::new() }];
    for (axis, versions) in matrix.axes.iter().zip(axis_versions) {
        cells = cells
            .into_iter()
            .flat_map(|cell| {
                versions.iter().map(move |version| {
                    let mut key = cell.key.clone();
                    key.push((axis.name.clone(), version.clone()));
                    Cell { key }
                })
            })
            .collect();
    }
    cells.retain(|cell| !matrix.exclude.iter().any(|pattern| cell.matches(pattern)));
    for assignment in &matrix.include {
        // Keep axis order whatever order the include table was written in.
        let key: Assignment = matrix
            .axes
            .iter()
            .filter_map(|axis| assignment.iter().find(|(a, _)| *a == axis.name).cloned())
            .collect();
        let cell = Cell { key };
        if !cells.contains(&cell) {
            cells.push(cell);
        }
    }
    cells
}
