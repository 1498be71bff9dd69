//! Parses the command line, with a did-you-mean for a mistyped command where clap has none: clap's suggestion
//! needs a Jaro similarity of 0.7, which a transposition in a short name (`rnu` for `run`) never reaches.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

use crate::cli::Cli;

pub fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|mut error| {
        if error.kind() == ErrorKind::InvalidSubcommand
            && error.get(ContextKind::SuggestedSubcommand).is_none()
            && let Some(ContextValue::String(word)) = error.get(ContextKind::InvalidSubcommand)
        {
            let command = Cli::command();
            let names = command.get_subcommands().map(|c| c.get_name());
            if let Some(near) = qcompat::suggest::closest(word, names) {
                error.insert(
                    ContextKind::SuggestedSubcommand,
                    ContextValue::Strings(vec![near.to_string()]),
                );
            }
        }
        error.exit()
    })
}
