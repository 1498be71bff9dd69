//! `qcompat completions SHELL`: a completion script for the shell, from the same clap definition as the parser.

use clap::CommandFactory;
use clap_complete::Shell;
use qcompat::error::Result;
use qcompat::exit::ExitStatus;

use crate::cli::Cli;
use crate::output;

pub fn run(shell: Shell) -> Result<ExitStatus> {
    // Into a buffer first: clap_complete panics on a write error, and `| head` closes the pipe early.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "qcompat", &mut script);
    output::stdout(&script)?;
    Ok(ExitStatus::Success)
}
