//! qcompat: which versions of a QLoRA stack work together, and exactly which release broke it.
//!
//! The binary is thin: `cli` parses, `settings` resolves flags, environment and defaults once, one file per command
//! under `commands/` calls into the library, and main maps the outcome to the exit codes of docs/cli.md.

mod cli;
mod commands;
mod settings;
mod usage;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = usage::parse();
    let result = match cli.command {
        cli::Command::Run(args) => commands::run::run(settings::RunSettings::resolve(args)),
        cli::Command::Bisect(args) => {
            commands::bisect::run(settings::BisectSettings::resolve(args))
        }
        cli::Command::Plan(args) => commands::plan::run(args),
        cli::Command::Merge(args) => commands::merge::run(args),
        cli::Command::Monitor(args) => {
            commands::monitor::run(settings::MonitorSettings::resolve(args))
        }
        cli::Command::Diff(args) => commands::diff::run(args),
        cli::Command::Report(args) => commands::report::run(args),
        cli::Command::Probes => commands::probes::run(),
        cli::Command::Completions { shell } => commands::completions::run(shell),
        cli::Command::Repro(args) => {
            // A reproduction runs as a user would: in a fresh interpreter.
            let harness = settings::harness_settings(&args.env, false);
            commands::repro::run(args, harness)
        }
        cli::Command::Engine(args) => commands::engine::run(&args),
    };
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!("{}", error.report());
            error.exit_status().into()
        }
    }
}
