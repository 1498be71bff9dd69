//! Aligned columns for terminal tables: each column as wide as its widest entry (and at least its minimum), two
//! spaces apart, with no trailing padding. Widths count characters, so `→` or `é` do not push a row out of line.

/// The width of each column: its widest entry in characters, at least `minimum[i]` (0 past the end of `minimum`).
pub fn widths(rows: &[Vec<String>], minimum: &[usize]) -> Vec<usize> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|text| text.chars().count())
                .chain(minimum.get(i).copied())
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// `text` padded with spaces to `width` characters.
pub fn pad(text: &str, width: usize) -> String {
    let missing = width.saturating_sub(text.chars().count());
    format!("{text}{}", " ".repeat(missing))
}

/// One line per row, each after `indent`: the entries padded to `widths`, two spaces apart, trailing spaces trimmed.
pub fn lines(rows: &[Vec<String>], widths: &[usize], indent: &str) -> String {
    let mut out = String::new();
    for row in rows {
        let padded: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(text, width)| pad(text, *width))
            .collect();
        out.push_str(format!("{indent}{}", padded.join("  ")).trim_end());
        out.push('\n');
    }
    out
}

/// `rows` laid out in columns as wide as their widest entry.
pub fn columns(rows: &[Vec<String>], indent: &str) -> String {
    lines(rows, &widths(rows, &[]), indent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn every_column_starts_at_one_offset_whatever_its_entries() {
        let rows = [
            row(&["a", "install-error [2]", "x"]),
            row(&["bbb", "pass", "é→"]),
        ];
        let text = lines(&rows, &widths(&rows, &[0, 16]), "  ");
        assert_eq!(
            text,
            "  a    install-error [2]  x\n  bbb  pass               é→\n"
        );
    }
}
