//! Typed errors and the exit codes they map to (the CLI contract in DESIGN.md).
//!
//! Exit 2 is the user's to fix (bad input or usage), exit 3 is the machine's (no interpreter, no uv, an unusable
//! cache); exit 1 is reserved for findings (a regression or a snapshot mismatch) and is never produced by an error;
//! 130 is a run stopped by Ctrl-C or SIGTERM, as shells report it.

use std::path::PathBuf;

/// Everything that stops a command before it can report findings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A matrix, snapshot or flag the user wrote is wrong; the message already names file:line:column.
    #[error("{0}")]
    BadInput(String),
    /// The machine cannot do the work: missing interpreter or uv, unwritable cache, failing index.
    #[error("{0}")]
    Infra(String),
    /// Stopped by a signal; the cells that finished are in the resume journal.
    #[error(
        "interrupted by {0}: the cells that finished are kept; rerun with --resume to continue"
    )]
    Interrupted(&'static str),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadInput(_) => 2,
            Error::Infra(_) | Error::Io { .. } => 3,
            // The shell's convention for a command ended by SIGINT.
            Error::Interrupted(_) => 130,
        }
    }

    /// Wraps an I/O error with the path it happened on, so the message says where.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            context: path.into().display().to_string(),
            source,
        }
    }
}

/// The engine keeps its own error type (it is a library for the tests too); its exit code decides the class.
impl From<crate::engine::EngineError> for Error {
    fn from(error: crate::engine::EngineError) -> Self {
        match error.exit_code() {
            2 => Error::BadInput(error.to_string()),
            _ => Error::Infra(error.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
