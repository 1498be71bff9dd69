//! Markdown pieces every report uses: inline code that survives backticks, outcome badges, and pipe tables.

use crate::outcome::Outcome;

/// An inline code span that survives backticks inside (resolver messages quote names with them).
pub fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// An outcome with a colored mark, readable without the color too.
pub fn outcome_badge(outcome: Outcome) -> String {
    let mark = match outcome {
        Outcome::Pass => "🟢",
        Outcome::Xfail => "🟡",
        Outcome::Xpass => "🟣",
        Outcome::Fail | Outcome::Crash | Outcome::Timeout => "🔴",
        Outcome::NeedsCuda | Outcome::Unresolvable => "⚪",
        Outcome::Skipped => "⚫",
        Outcome::InstallError => "🔵",
    };
    format!("{mark} {outcome}")
}

/// A pipe table: the header, its rule, one line per row.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        " --- |".repeat(header.len())
    );
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}
