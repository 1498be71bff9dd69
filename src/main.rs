//! qcompat: which versions of a QLoRA stack work together, and exactly which release broke it.
//!
//! main parses arguments, dispatches to one command per file under `commands/`, and maps errors to the exit codes
//! of the contract (DESIGN.md): 0 as expected, 1 regression, 2 bad input, 3 infrastructure.

mod cli;
mod commands;
mod diff;
mod env;
mod error;
mod harness;
mod index;
mod journal;
mod matrix;
mod outcome;
mod probe;
mod progress;
mod report;
mod results;
mod snapshot;
mod suggest;
mod version;

use std::process::ExitCode;

use clap::Parser;
// The engine lives in the library so that tests/ can reach it; `crate::engine` resolves through this import.
use qcompat::engine;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run(args) => commands::run::run(args),
        cli::Command::Diff(args) => commands::diff::run(args),
        cli::Command::Report(args) => commands::report::run(args),
        cli::Command::Probes => commands::probes::run(),
        cli::Command::Engine(args) => commands::engine::run(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(error::Error::from),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
