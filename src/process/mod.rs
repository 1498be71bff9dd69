//! Processes qcompat starts: the supervisor that owns the runtime, signals and every child process group, the
//! allow-listed environment children get, and the capped log their output goes to.

pub mod capped_log;
pub mod child_env;
pub mod supervisor;
