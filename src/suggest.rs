//! "Did you mean" hints for misspelled keys, axes and probe names.

/// The closest candidate within a small edit distance, if any is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)`, or nothing.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!(" (did you mean `{c}`?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(closest("axs", ["axes", "pins"]), Some("axes"));
        assert_eq!(
            closest("checkpoint-lod", ["checkpoint-load", "qlora-train"]),
            Some("checkpoint-load")
        );
        assert_eq!(closest("zzzzzz", ["axes", "pins"]), None);
    }
}
