//! Probes: what a probe is (`spec`), the catalogue of built-in ones and their embedded Python scripts (`catalog`),
//! the JSON-lines protocol they speak (`protocol`), the process runner that enforces timeouts and attributes crashes
//! (`runner`), one cell's probes in order (`cell`); a matrix's own command probes (`command`), what their output
//! (`traceback`) and pytest's JUnit XML (`pytest`) say.

pub mod catalog;
pub mod cell;
pub mod command;
pub mod preload;
pub mod protocol;
pub mod pytest;
pub mod runner;
pub mod spec;
pub mod traceback;
