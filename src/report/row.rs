//! One row of a report: a cell and its probe results aligned with the report's columns. The view builds the rows;
//! the headline and the quantization contrast read them.

use crate::results::{CellResult, ProbeResult};

/// One cell, its probe results aligned with the view's probe columns (none where the cell did not run that probe).
pub struct Row<'a> {
    pub cell: &'a CellResult,
    pub probes: Vec<Option<&'a ProbeResult>>,
}
