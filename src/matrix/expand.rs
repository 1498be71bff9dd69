//! Expands a matrix into cells: the product of the axes, minus `[[exclude]]`, plus `[[include]]`, counted before
//! they are made so that a matrix too large to plan is refused at the cost of a count.

use super::model::{Assignment, Matrix, PYTHON_AXIS};
use crate::error::{Error, Result};
use crate::index::version::Version;
use crate::matrix::cell_key::CellKey;

/// The most cells a matrix may have. Each cell is an environment to build and a row of every report; past this a
/// matrix is almost surely an axis too many, and its cells alone would take memory by the gigabyte.
pub const MAX_CELLS: usize = 10_000;

/// One cell of the matrix: the versions it pins, in axis order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub values: Assignment,
    /// Versions forced on packages whatever the others require (uv's overrides): how `bisect --recurse` varies a
    /// dependency that a bisected release pins exactly. Empty for matrix cells.
    pub overrides: Assignment,
    /// Packages installed from a wheel file instead of the index, forced like overrides: how `bisect --repo` puts
    /// one commit's build of a package in place of its release. Empty for matrix cells.
    pub wheels: Vec<LocalWheel>,
}

/// A package's wheel built outside the index (a commit of its repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWheel {
    pub package: String,
    /// What the cell's key shows for it (`git:7e87ce05c8ab`).
    pub label: String,
    /// An absolute path: uv reads it as a `file://` URL.
    pub path: std::path::PathBuf,
}

impl LocalWheel {
    /// `package @ file:///…/x.whl`
    fn requirement(&self) -> String {
        format!("{} @ file://{}", self.package, self.path.display())
    }
}

impl Cell {
    pub fn new(values: Assignment) -> Self {
        Self {
            values,
            overrides: Vec::new(),
            wheels: Vec::new(),
        }
    }

    /// The cell's identity everywhere results are matched (`lightning=2.3.0,bitsandbytes=0.49.2,torch=2.3.0`);
    /// overrides follow the axes (an override that repeats a value is said once), then local wheels by label.
    pub fn key(&self) -> CellKey {
        let overrides = self.overrides.iter().filter(|o| !self.values.contains(o));
        CellKey::new(
            self.values
                .iter()
                .chain(overrides)
                .map(|(a, v)| (a.clone(), v.to_string()))
                .chain(
                    self.wheels
                        .iter()
                        .map(|w| (w.package.clone(), w.label.clone())),
                ),
        )
    }

    /// `package==version` for each override, then `package @ file://…` for each local wheel.
    pub fn override_requirements(&self) -> Vec<String> {
        self.overrides
            .iter()
            .map(|(package, version)| format!("{package}=={version}"))
            .chain(self.wheels.iter().map(LocalWheel::requirement))
            .collect()
    }

    /// Requirements to install: the cell's exact versions and local wheels (the interpreter's axis chooses the
    /// interpreter, it is no requirement), then the matrix's pins.
    pub fn requirements(&self, pins: &[String]) -> Vec<String> {
        self.values
            .iter()
            .filter(|(axis, _)| axis != PYTHON_AXIS)
            .map(|(axis, version)| format!("{axis}=={version}"))
            .chain(self.wheels.iter().map(LocalWheel::requirement))
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

/// The cells of `matrix` ([`expand`]), or bad input (exit 2) when there would be more than [`MAX_CELLS`].
pub fn cells(matrix: &Matrix, axis_versions: &[Vec<Version>]) -> Result<Vec<Cell>> {
    check_count(matrix, axis_versions)?;
    let cells = expand(matrix, axis_versions);
    if cells.len() > MAX_CELLS {
        return Err(too_many(matrix, axis_versions, cells.len() as u128));
    }
    Ok(cells)
}

/// Bad input when the product of the axes, less the excluded cells, passes [`MAX_CELLS`]; no cell is made to know.
pub fn check_count(matrix: &Matrix, axis_versions: &[Vec<Version>]) -> Result<()> {
    let axes: Vec<(&str, &[Version])> = matrix
        .axes
        .iter()
        .zip(axis_versions)
        .map(|(axis, versions)| (axis.name.as_str(), versions.as_slice()))
        .collect();
    let patterns: Vec<Vec<&(String, Version)>> =
        matrix.exclude.iter().map(|p| p.iter().collect()).collect();
    let counted = surviving(&axes, &patterns);
    if counted > MAX_CELLS as u128 {
        return Err(too_many(matrix, axis_versions, counted));
    }
    Ok(())
}

fn too_many(matrix: &Matrix, axis_versions: &[Vec<Version>], count: u128) -> Error {
    let sizes: Vec<String> = matrix
        .axes
        .iter()
        .zip(axis_versions)
        .map(|(axis, versions)| format!("{} {}", versions.len(), axis.name))
        .collect();
    Error::BadInput(format!(
        "{}: the matrix has {count} cells ({}), more than the {MAX_CELLS} a matrix may have: list fewer versions \
         (or narrow a query axis's specifiers), or leave cells out with `exclude` entries",
        matrix.axes_at,
        sizes.join(" x ")
    ))
}

/// How many cells of the product of `axes` match none of `patterns` (each: the axis values it still requires).
/// Counted without making them: the walk branches only on the values some pattern names, and counts the others of
/// an axis together, so its cost follows the exclude entries, not the size of the product.
fn surviving(axes: &[(&str, &[Version])], patterns: &[Vec<&(String, Version)>]) -> u128 {
    if patterns.iter().any(Vec::is_empty) {
        return 0;
    }
    let Some(((axis, versions), rest)) = axes.split_first() else {
        return 1;
    };
    if patterns.is_empty() {
        return axes
            .iter()
            .fold(1u128, |n, (_, v)| n.saturating_mul(v.len() as u128));
    }
    let (here, elsewhere): (Vec<_>, Vec<_>) = patterns
        .iter()
        .cloned()
        .partition(|p| p.iter().any(|(a, _)| a == axis));
    let mut total = 0u128;
    let mut named = 0u128;
    for version in *versions {
        let mut next = elsewhere.clone();
        next.extend(
            here.iter()
                .filter(|p| p.iter().any(|(a, v)| a == axis && v == version))
                .map(|p| p.iter().filter(|(a, _)| a != axis).copied().collect()),
        );
        if next.len() > elsewhere.len() {
            named += 1;
            total = total.saturating_add(surviving(rest, &next));
        }
    }
    let others = versions.len() as u128 - named;
    total.saturating_add(others.saturating_mul(surviving(rest, &elsewhere)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(texts: &[&str]) -> Vec<Version> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn the_count_agrees_with_the_cells_made() {
        let a = versions(&["1", "2", "3"]);
        let b = versions(&["1", "2"]);
        let c = versions(&["1", "2", "3", "4"]);
        let axes = [
            ("a", a.as_slice()),
            ("b", b.as_slice()),
            ("c", c.as_slice()),
        ];
        let pair = |axis: &str, v: &str| (axis.to_string(), v.parse::<Version>().unwrap());
        let excludes = [
            vec![pair("a", "1")],
            vec![pair("b", "2"), pair("c", "4")],
            vec![pair("a", "1"), pair("c", "1")],
            vec![pair("c", "9")],
        ];
        let patterns: Vec<Vec<&(String, Version)>> =
            excludes.iter().map(|p| p.iter().collect()).collect();
        // 24 cells; a=1 drops 8; b=2,c=4 drops 3 more among a in {2,3}: 2.
        assert_eq!(surviving(&axes, &patterns), 24 - 8 - 2);
        assert_eq!(surviving(&axes, &[]), 24);
    }

    #[test]
    fn a_huge_product_is_counted_not_made() {
        let ten = versions(&["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
        let axes: Vec<(&str, &[Version])> = (0..20).map(|_| ("x", ten.as_slice())).collect();
        assert_eq!(surviving(&axes, &[]), 10u128.pow(20));
    }
}
