//! The one tree both matrix syntaxes are read into, every node with its byte offset in the file.
//!
//! TOML and YAML parsers differ in what they let through: serde_yaml kept the last of two equal keys and read
//! `name: 5` as the text "5" where TOML refuses both. Each syntax is only *parsed* here, into [`Node`]s that keep
//! scalars with their kind; repeated keys are refused here for both, and everything else is judged once, by the
//! validator (`schema`, `load`), which never learns which syntax it reads. So one document means the same in both
//! by construction, and every problem points at the node it is about.

mod from_toml;
mod from_yaml;

use std::path::Path;

use super::problems::Problem;

/// A value and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub at: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Text(String),
    Bool(bool),
    List(Vec<Node>),
    /// Keys in the order written, none twice.
    Table(Vec<Entry>),
    /// A scalar no matrix key takes, named for messages: `a number`, `a date`, `null`.
    Other(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    /// Where the key is written.
    pub at: usize,
    pub value: Node,
}

/// The syntaxes a matrix may be written in, by file extension.
pub const EXTENSIONS: [&str; 3] = ["toml", "yaml", "yml"];

/// Parses `text` in the syntax `path`'s extension names; None for an extension that names none.
pub fn parse(path: &Path, text: &str) -> Option<Result<Node, Problem>> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => Some(from_toml::parse(text)),
        Some("yaml" | "yml") => Some(from_yaml::parse(text)),
        _ => None,
    }
}

/// The one message for a repeated key, whichever parser found it.
fn repeated_key(key: &str) -> String {
    format!("key `{key}` is written twice in one table; keep one")
}
