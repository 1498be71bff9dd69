//! The problems one validation pass finds in a matrix file, each at the byte offset it is about.
//!
//! Validation goes on past a problem wherever the rest can still be judged, so a user fixes a file in one round
//! instead of one line per run; the error lists them in file order, one `file:line:column: message` line each.

use super::source::Source;
use crate::error::Error;

/// One problem: where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: usize,
    pub message: String,
}

impl Problem {
    pub fn new(at: usize, message: impl Into<String>) -> Self {
        Self {
            at,
            message: message.into(),
        }
    }
}

/// Problems found so far.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn add(&mut self, at: usize, message: impl Into<String>) {
        self.0.push(Problem::new(at, message));
    }

    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ok when nothing was found, else bad input (exit 2) listing every problem in file order.
    pub fn into_result(mut self, source: &Source) -> Result<(), Error> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_by_key(|p| p.at);
        self.0.dedup();
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|p| format!("{}: {}", source.at_offset(p.at), p.message))
            .collect();
        Err(Error::BadInput(lines.join("\n")))
    }
}
