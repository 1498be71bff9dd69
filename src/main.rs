//! qcompat: which versions of a QLoRA stack work together. (Engine branch: only the `engine` command.)

mod commands;

// The engine lives in the library so that tests/ can reach it; `crate::engine` resolves through this import.
use qcompat::engine;

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "qcompat", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Built-in QLoRA engine (reference row): quantize, dequantize, train, reference.
    Engine(commands::engine::EngineArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Engine(args) => match commands::engine::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(error.exit_code())
            }
        },
    }
}
