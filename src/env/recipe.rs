//! Environment-recipe failures: errors that come from what the matrix left to the resolver, not from the versions
//! under test. A Lightning that imports `pkg_resources` in a uv venv (which seeds no setuptools), or a torch built
//! against NumPy 1 beside NumPy 2, fails like a regression; each carries a hint naming the pin that fixes the
//! recipe, so a reader fixes the matrix instead of filing a bug.

use std::collections::BTreeMap;
use std::sync::Once;

use crate::index::normalize;
use crate::matrix::Matrix;
use crate::results::CellResult;
use crate::sink::Sink;

/// A signature fragment, and the pin that fixes it.
const RECIPES: [(&str, &str); 5] = [
    ("No module named 'pkg_resources'", "setuptools = \"<70\""),
    (
        "compiled using NumPy 1.x cannot be run in",
        "numpy = \"<2\"",
    ),
    ("_ARRAY_API not found", "numpy = \"<2\""),
    ("numpy.core.multiarray failed to import", "numpy = \"<2\""),
    ("numpy.dtype size changed", "numpy = \"<2\""),
];

/// `environment recipe: add numpy = "<2" to [pins]` for a signature that a missing pin explains, else none.
pub fn hint(signature: &str) -> Option<String> {
    RECIPES
        .iter()
        .find(|(fragment, _)| signature.contains(fragment))
        .map(|(_, pin)| {
            format!("environment recipe: add {pin} to [pins] (see the README's recommended pins)")
        })
}

/// Packages a matrix should choose rather than leave to the resolver: it picks the newest, which may not be what the
/// stack under test was built with.
const CHOSEN_BY_RESOLVER: [&str; 2] = ["torch", "numpy"];

/// Says once, as the first cell's environment is ready, what the resolver chose for the [`CHOSEN_BY_RESOLVER`]
/// packages that are neither an axis nor a pin of the matrix: a failure later in the run may come from that choice.
pub struct ResolverNote {
    /// Normalized names of the matrix's axes and pins.
    decided: Vec<String>,
    said: Once,
}

impl ResolverNote {
    pub fn new(matrix: &Matrix) -> Self {
        let decided = matrix
            .axes
            .iter()
            .map(|axis| normalize(&axis.name))
            .chain(
                matrix
                    .pins
                    .iter()
                    .map(|pin| normalize(crate::index::requirement_name(pin))),
            )
            .collect();
        Self {
            decided,
            said: Once::new(),
        }
    }

    /// `torch 2.5.1, numpy 2.1.3`, or none when the matrix decides them all (or nothing was resolved).
    pub fn choices(&self, resolved: &BTreeMap<String, String>) -> Option<String> {
        let left: Vec<String> = CHOSEN_BY_RESOLVER
            .iter()
            .filter(|package| !self.decided.iter().any(|d| d == *package))
            .filter_map(|package| Some(format!("{package} {}", resolved.get(*package)?)))
            .collect();
        (!left.is_empty()).then(|| left.join(", "))
    }

    /// Says the note once, for the first cell that has an environment.
    pub fn tell(&self, cell: &CellResult, sink: &dyn Sink) {
        if cell.env.is_none() || self.said.is_completed() {
            return;
        }
        self.said.call_once(|| {
            if let Some(choices) = self.choices(&cell.resolved) {
                sink.note(&format!(
                    "note: the matrix leaves these to the resolver, which chose {choices}; pin them in [pins] \
                     to choose (see the README's recommended pins)"
                ));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_failures_name_their_pin() {
        let hint = |s: &str| hint(s).unwrap_or_default();
        assert!(
            hint("ModuleNotFoundError: No module named 'pkg_resources'")
                .contains("setuptools = \"<70\"")
        );
        assert!(
            hint("ImportError: A module that was compiled using NumPy 1.x cannot be run in NumPy 2.1.3 as it may crash")
                .contains("numpy = \"<2\"")
        );
        assert_eq!(
            super::hint("AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'"),
            None
        );
    }

    #[test]
    fn the_resolvers_choices_are_named_only_where_the_matrix_left_them() {
        let dir = tempfile::tempdir().unwrap();
        let matrix = |pins: &str| {
            let path = dir.path().join("m.toml");
            let text = format!(
                "probes = [\"toy-load\"]\n[axes]\nLightning = [\"2.3.3\"]\n[pins]\n{pins}\n"
            );
            std::fs::write(&path, text).unwrap();
            crate::matrix::load(&path).unwrap()
        };
        let resolved = [
            ("torch", "2.5.1"),
            ("numpy", "2.1.3"),
            ("lightning", "2.3.3"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        assert_eq!(
            ResolverNote::new(&matrix("")).choices(&resolved).as_deref(),
            Some("torch 2.5.1, numpy 2.1.3")
        );
        assert_eq!(
            ResolverNote::new(&matrix("numpy = \"<2\""))
                .choices(&resolved)
                .as_deref(),
            Some("torch 2.5.1")
        );
        assert_eq!(
            ResolverNote::new(&matrix("Torch = \"2.3.0\"\nnumpy = \"<2\"")).choices(&resolved),
            None
        );
    }
}
