//! Running a plan's cells: the harness (one cell: environment, probes, verdicts), the pipeline that drives many and
//! reuses what the journal holds, and the warnings a run leaves (`lint`).

pub mod harness;
pub mod journal;
pub mod lint;
pub mod pipeline;
