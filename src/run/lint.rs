//! Warnings about a matrix that only its results can reveal. A `[[known]] when` may name a package that is not an
//! axis (matched against what each cell resolved), so a misspelt name is valid at load time and simply never
//! matches: the known issue silently stops covering its failures. After a run, such a name is reported.

use std::collections::BTreeSet;

use crate::index::normalize;
use crate::matrix::Matrix;
use crate::results::CellResult;
use crate::suggest;

/// One warning per `when` package that is neither an axis nor installed in any of `cells`.
pub fn unmatched_known(matrix: &Matrix, cells: &[CellResult]) -> Vec<String> {
    let mut names: BTreeSet<String> = matrix.axes.iter().map(|a| normalize(&a.name)).collect();
    names.extend(
        cells
            .iter()
            .flat_map(|c| c.resolved.keys().map(|k| normalize(k))),
    );
    // Nothing resolved (every cell unresolvable, or nothing ran): absence proves nothing.
    if cells.iter().all(|c| c.resolved.is_empty()) {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    for known in &matrix.known {
        for (package, _) in &known.when {
            if names.contains(&normalize(package)) {
                continue;
            }
            let hint = suggest::hint(&normalize(package), names.iter().map(String::as_str));
            warnings.push(format!(
                "{}: [[known]] `{}`: `when` names `{package}`, which is neither an axis nor installed in any cell, \
                 so it never matches{hint}",
                matrix.source.display(),
                known.id
            ));
        }
    }
    warnings
}
