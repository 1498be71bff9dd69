//! Probes: what a probe is (`spec`), the catalogue of built-in ones and their embedded Python scripts (`catalog`),
//! the JSON-lines protocol they speak (`protocol`), and the process runner that enforces timeouts and attributes
//! crashes (`runner`).

pub mod catalog;
pub mod preload;
pub mod protocol;
pub mod runner;
pub mod spec;
