//! Expands a matrix into cells: the product of the axes, minus `[[exclude]]`, plus `[[include]]`.

use super::load::Matrix;
use crate::cell_key::CellKey;
use crate::version::Version;

/// Axis values in axis order; a partial assignment leaves the missing packages to the resolver.
pub type Assignment = Vec<(String, Version)>;

/// One cell of the matrix: the versions it pins, in axis order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub values: Assignment,
    /// Versions forced on packages whatever the others require (uv's overrides): how `bisect --recurse` varies a
    /// dependency that a bisected release pins exactly. Empty for matrix cells.
    pub overrides: Assignment,
}

impl Cell {
    pub fn new(values: Assignment) -> Self {
        Self {
            values,
            overrides: Vec::new(),
        }
    }

    /// The cell's identity everywhere results are matched (`lightning=2.3.0,bitsandbytes=0.49.2,torch=2.3.0`);
    /// overrides follow the axes.
    pub fn key(&self) -> CellKey {
        CellKey::new(
            self.values
                .iter()
                .chain(&self.overrides)
                .map(|(a, v)| (a.clone(), v.to_string())),
        )
    }

    /// `package==version` for each override.
    pub fn override_requirements(&self) -> Vec<String> {
        self.overrides
            .iter()
            .map(|(package, version)| format!("{package}=={version}"))
            .collect()
    }

    /// Requirements to install: the cell's exact versions, then the matrix's pins.
    pub fn requirements(&self, pins: &[String]) -> Vec<String> {
        self.values
            .iter()
            .map(|(axis, version)| format!("{axis}=={version}"))
            .chain(pins.iter().cloned())
            .collect()
    }

    pub fn version_of(&self, axis: &str) -> Option<&Version> {
        self.values.iter().find(|(a, _)| a == axis).map(|(_, v)| v)
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
    let mut cells = vec![Cell::new(Vec::new())];
    for (axis, versions) in matrix.axes.iter().zip(axis_versions) {
        cells = cells
            .into_iter()
            .flat_map(|cell| {
                versions.iter().map(move |version| {
                    let mut values = cell.values.clone();
                    values.push((axis.name.clone(), version.clone()));
                    Cell::new(values)
                })
            })
            .collect();
    }
    cells.retain(|cell| !matrix.exclude.iter().any(|pattern| cell.matches(pattern)));
    for assignment in &matrix.include {
        // Keep axis order whatever order the include table was written in.
        let values: Assignment = matrix
            .axes
            .iter()
            .filter_map(|axis| assignment.iter().find(|(a, _)| *a == axis.name).cloned())
            .collect();
        let cell = Cell::new(values);
        if !cells.contains(&cell) {
            cells.push(cell);
        }
    }
    cells
}
