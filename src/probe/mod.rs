//! Probes: the embedded Python scripts (`catalog`), the JSON-lines protocol they speak (`protocol`), and the
//! process runner that enforces timeouts and attributes crashes (`runner`).

pub mod capped_log;
pub mod catalog;
pub mod preload;
pub mod protocol;
pub mod runner;
