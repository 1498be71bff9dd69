//! qcompat: which versions of a QLoRA stack work together, and exactly which release broke it.
//!
//! The binary is thin: `cli` parses, `settings` resolves flags, environment and defaults once and checks them
//! before any work, one file per command under `commands/` calls into the library, `output` and `progress` are
//! where its words go, and main maps the outcome to the exit codes of docs/cli.md.

mod cli;
mod commands;
mod output;
mod progress;
mod settings;
mod usage;

use std::process::ExitCode;

use qcompat::error::Result;
use qcompat::exit::ExitStatus;

use crate::cli::Command;
use crate::settings::{
    BisectSettings, DiffSettings, InitSettings, MergeSettings, MonitorSettings, PlanSettings,
    ReportSettings, ReproSettings, RunSettings,
};

fn main() -> ExitCode {
    match dispatch(usage::parse().command) {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!("{}", error.report());
            error.exit_status().into()
        }
    }
}

/// Resolves the command's settings (every check before any work), then runs it.
fn dispatch(command: Command) -> Result<ExitStatus> {
    match command {
        Command::Run(args) => commands::run::run(RunSettings::resolve(args)?),
        Command::Bisect(args) => commands::bisect::run(BisectSettings::resolve(args)?),
        Command::Plan(args) => commands::plan::run(PlanSettings::resolve(args)?),
        Command::Merge(args) => commands::merge::run(MergeSettings::resolve(args)?),
        Command::Monitor(args) => commands::monitor::run(MonitorSettings::resolve(args)?),
        Command::Diff(args) => commands::diff::run(DiffSettings::resolve(args)?),
        Command::Report(args) => commands::report::run(ReportSettings::resolve(args)?),
        Command::Probes { matrix } => commands::probes::run(matrix.as_deref()),
        Command::Completions { shell } => commands::completions::run(shell),
        Command::Repro(args) => commands::repro::run(ReproSettings::resolve(args)?),
        Command::Engine(args) => commands::engine::run(&args),
        Command::Init(args) => commands::init::run(InitSettings::resolve(args)?),
    }
}
