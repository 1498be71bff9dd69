//! Where the library's words go while it works. The library decides what to say and when (cells starting and
//! finishing, a note on the resolver's choices, a journal line that could not be written); the binary decides how
//! it looks (a progress bar on a terminal, plain lines in a CI log, nothing but warnings with `-q`). Results are
//! returned to the caller, never printed here.

use crate::matrix::cell_key::CellKey;
use crate::results::CellResult;

pub trait Sink: Send + Sync {
    /// A batch of cells is about to run: a run's cells, a monitor's new ones, one bisect round.
    fn cells_starting(&self, cells: &[CellKey]);
    fn cell_started(&self, cell: &CellKey);
    fn cell_finished(&self, cell: &CellResult);
    /// The batch is over, however it ended: a progress display takes itself off the screen.
    fn cells_ended(&self);
    /// Something the reader should know that is not a problem (`bisect torch: probing 2.4.1`).
    fn note(&self, text: &str);
    /// Something that went wrong without stopping the work (a journal line that could not be written).
    fn warn(&self, text: &str);
}

/// Says nothing: for callers that only want the results.
pub struct Silent;

impl Sink for Silent {
    fn cells_starting(&self, _: &[CellKey]) {}
    fn cell_started(&self, _: &CellKey) {}
    fn cell_finished(&self, _: &CellResult) {}
    fn cells_ended(&self) {}
    fn note(&self, _: &str) {}
    fn warn(&self, _: &str) {}
}
