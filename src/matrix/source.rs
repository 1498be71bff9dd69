//! Positions in a matrix file's text, for `file:line:column` messages.
//!
//! Parsers give byte offsets (the matrix tree keeps one per key and value, a snapshot's serde spans); this turns
//! them into what editors and CI annotations jump to.

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
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.path.display())
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
}
