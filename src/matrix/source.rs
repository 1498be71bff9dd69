//! Positions in a matrix file's text, for `file:line:column` messages.
//!
//! serde gives byte offsets for syntax and shape errors. Semantic errors (a bad version, an unknown axis) are found
//! after parsing, when spans are gone; for those we search the text for the path of keys leading to the value, which
//! works the same for TOML and YAML without format-specific span types.

use std::path::{Path, PathBuf};

pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Self {
        Self {
            path: path.to_path_buf(),
            text,
        }
    }

    /// `file:line:column` for a byte offset (1-based line and column, columns in characters).
    pub fn at_offset(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.path.display())
    }

    /// `file:line:column` of the last needle, each searched for after the previous one (a path of keys then a value);
    /// falls back to the furthest needle found.
    pub fn at_path(&self, needles: &[&str]) -> String {
        let mut offset = 0;
        for (i, needle) in needles.iter().enumerate() {
            // The first needle is a key: `timeout` must find the `timeout = …` line, not `name = "timeout-test"`.
            let found = if i == 0 {
                self.find_key(needle).or_else(|| self.text.find(needle))
            } else {
                self.text[offset..].find(needle).map(|f| offset + f)
            };
            match found {
                Some(found) => offset = found,
                None => break,
            }
        }
        self.at_offset(offset)
    }

    /// The offset of `key` written as a key: first on its line (after indentation, `[`, `[[` or a quote), then
    /// `=`, `:`, `]`, a quote or a space.
    fn find_key(&self, key: &str) -> Option<usize> {
        self.text.match_indices(key).map(|(at, _)| at).find(|&at| {
            let line_start = self.text[..at].rfind('\n').map_or(0, |n| n + 1);
            let before_ok = self.text[line_start..at]
                .chars()
                .all(|c| c.is_whitespace() || matches!(c, '[' | '"' | '\'' | '-'));
            let after = self.text[at + key.len()..].chars().next();
            before_ok
                && after.is_none_or(|c| {
                    matches!(c, '=' | ':' | ']' | '"' | '\'' | ' ' | '\t' | '\n' | '.')
                })
        })
    }

    /// An error message located at a path of keys.
    pub fn error_at(
        &self,
        needles: &[&str],
        message: impl std::fmt::Display,
    ) -> crate::error::Error {
        crate::error::Error::BadInput(format!("{}: {message}", self.at_path(needles)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source::new(Path::new("m.toml"), text.to_string())
    }

    #[test]
    fn offsets_become_lines_and_columns() {
        let s = source("a = 1\nbb = 2\n");
        assert_eq!(s.at_offset(0), "m.toml:1:1");
        assert_eq!(s.at_offset(6), "m.toml:2:1");
        assert_eq!(s.at_offset(9), "m.toml:2:4");
    }

    #[test]
    fn paths_find_the_value_under_its_key() {
        let s = source("[axes]\ntorch = [\"2.3\"]\nlightning = [\"2.3\", \"x\"]\n");
        assert_eq!(s.at_path(&["lightning", "\"2.3\""]), "m.toml:3:14");
        assert_eq!(s.at_path(&["lightning", "\"x\""]), "m.toml:3:21");
    }

    #[test]
    fn a_key_is_found_as_a_key_not_inside_a_value() {
        let s = source("name = \"timeout-test\"\ntimeout = \"10 minutes please\"\n");
        assert_eq!(s.at_path(&["timeout"]), "m.toml:2:1");
        let yaml = source("name: lightning-nightlies\naxes:\n  lightning: [\"2.3\", \"x\"]\n");
        assert_eq!(yaml.at_path(&["lightning", "\"x\""]), "m.toml:3:22");
    }
}
