//! Typed errors, each with its cause, and the exit status each maps to (docs/cli.md).
//!
//! Exit 2 is the user's to fix (bad input or usage), exit 3 is the machine's (no interpreter, no uv, an unusable
//! cache, a fault while building an environment); exit 1 is reserved for findings (a regression or a snapshot
//! mismatch) and is never produced by an error; 130 is a run stopped by Ctrl-C or SIGTERM, as shells report it.

use std::path::PathBuf;

use crate::exit::ExitStatus;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Everything that stops a command before it can report findings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A matrix, snapshot or flag the user wrote is wrong; the message already names file:line:column.
    #[error("{0}")]
    BadInput(String),
    /// The machine cannot do the work: missing interpreter or uv, unwritable cache, a failing index or disk.
    #[error("{message}")]
    Infra {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// Stopped by a signal; the cells that finished are in the resume journal.
    #[error(
        "interrupted by {0}: the cells that finished are kept; rerun with --resume to continue"
    )]
    Interrupted(&'static str),
    /// A file operation failed; the context names the path.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::BadInput(_) => ExitStatus::BadInput,
            Error::Infra { .. } | Error::Io { .. } => ExitStatus::Infra,
            Error::Interrupted(_) => ExitStatus::Interrupted,
        }
    }

    /// A machine fault described in words, with no underlying error to chain.
    pub fn infra(message: impl Into<String>) -> Self {
        Error::Infra {
            message: message.into(),
            source: None,
        }
    }

    /// A machine fault with the error that caused it, printed as its cause.
    pub fn infra_caused(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Infra {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Wraps an I/O error with the path it happened on, so the message says where.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            context: path.into().display().to_string(),
            source,
        }
    }

    /// The message and every cause under it, one per line: `error: …` then `  caused by: …`. Bad input may list
    /// several problems, one per line: each is an `error: …` line of its own.
    pub fn report(&self) -> String {
        let mut text = match self {
            Error::BadInput(problems) => problems
                .lines()
                .map(|line| format!("error: {line}"))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => format!("error: {self}"),
        };
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            text.push_str(&format!("\n  caused by: {error}"));
            cause = error.source();
        }
        text
    }
}

/// The engine (a crate of its own) keeps its own error type; whose fault it is decides the class.
impl From<qcompat_engine::EngineError> for Error {
    fn from(error: qcompat_engine::EngineError) -> Self {
        match error.fault() {
            qcompat_engine::Fault::Input => Error::BadInput(error.to_string()),
            qcompat_engine::Fault::Machine => {
                Error::infra_caused("the built-in engine failed", error)
            }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_print_as_a_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let error = Error::infra_caused("building the environment", Error::io("/cache/envs/x", io));
        assert_eq!(
            error.report(),
            "error: building the environment\n  caused by: /cache/envs/x\n  caused by: No space left on device"
        );
        assert_eq!(error.exit_status(), ExitStatus::Infra);
    }
}
