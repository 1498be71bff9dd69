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

/// Adds a hint to serde's "unknown field `x`, expected one of `a`, `b`" messages, whatever the format.
pub fn unknown_field_hint(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return String::new();
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return String::new();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    hint(field, candidates)
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

    #[test]
    fn reads_serde_messages() {
        let message = "unknown field `axs`, expected one of `name`, `axes`, `pins`";
        assert_eq!(unknown_field_hint(message), " (did you mean `axes`?)");
        assert_eq!(unknown_field_hint("missing field `probes`"), "");
    }
}
