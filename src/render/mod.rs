//! What the reports that compare and explain (`diff`, `bisect`, `monitor`) share: their one format enum, the trait
//! each of their views implements so every format renders the same view, and the pieces every renderer uses: JSON
//! text, aligned terminal columns (`text`), Markdown spans and tables (`markdown`), and an outcome with its signature
//! said once.
//!
//! The run and snapshot reports (`report`) are the other family: their own [`crate::report::Format`] adds JUnit and
//! HTML.

pub mod markdown;
pub mod text;

use serde::Serialize;

use crate::outcome::Outcome;

/// The formats of `diff`, `bisect` and `monitor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingsFormat {
    Table,
    Markdown,
    Json,
}

/// A view of what one findings report says, computed once, in each of the family's formats.
pub trait Findings {
    fn table(&self) -> String;
    fn markdown(&self) -> String;
    fn json(&self) -> String;
}

/// `view` in `format`.
pub fn render(view: &dyn Findings, format: FindingsFormat) -> String {
    match format {
        FindingsFormat::Table => view.table(),
        FindingsFormat::Markdown => view.markdown(),
        FindingsFormat::Json => view.json(),
    }
}

/// Pretty JSON with a final newline: every report's JSON form.
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("reports serialize") + "\n"
}

/// Whether `signature` already names its outcome: a crash's is `crash: SIGSEGV`, a timeout's `timeout after 10m`.
pub fn says_outcome(outcome: Outcome, signature: &str) -> bool {
    signature.starts_with(outcome.as_str())
}

/// `fail: AttributeError: …`: an outcome and its signature, the outcome said once (`crash: SIGSEGV`).
pub fn outcome_text(outcome: Outcome, signature: Option<&str>) -> String {
    match signature {
        None => outcome.to_string(),
        Some(signature) if says_outcome(outcome, signature) => signature.to_string(),
        Some(signature) => format!("{outcome}: {signature}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_is_said_once() {
        let text = |o, s| outcome_text(o, s);
        assert_eq!(
            text(Outcome::Crash, Some("crash: SIGSEGV")),
            "crash: SIGSEGV"
        );
        assert_eq!(
            text(Outcome::Timeout, Some("timeout after 3s")),
            "timeout after 3s"
        );
        assert_eq!(
            text(Outcome::Fail, Some("AttributeError: x")),
            "fail: AttributeError: x"
        );
        assert_eq!(text(Outcome::Pass, None), "pass");
    }
}
