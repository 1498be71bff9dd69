//! `qcompat completions SHELL`: a completion script for the shell, from the same clap definition as the parser.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;
use qcompat::error::{Error, Result};
use qcompat::exit::ExitStatus;

use crate::cli::Cli;

pub fn run(shell: Shell) -> Result<ExitStatus> {
    // Into a buffer first: clap_complete panics on a write error, and `| head` closes the pipe early.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "qcompat", &mut script);
    match std::io::stdout().write_all(&script) {
        Ok(()) => Ok(ExitStatus::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitStatus::Success),
        Err(e) => Err(Error::infra_caused("writing the completion script", e)),
    }
}
