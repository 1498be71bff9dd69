//! What the engine's tests share: where the repository's fixtures and the recordings of real runs lie.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

/// The repository root: the fixture checkpoint and bitsandbytes' golden files live in its `fixtures/`, shared with
/// the harness, which embeds the checkpoint for the probes.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `fixtures/checkpoints`: the folder holding `tiny-gpt/`.
pub fn checkpoints() -> PathBuf {
    repo().join("fixtures/checkpoints")
}

/// `fixtures/golden`: what real bitsandbytes and LitGPT computed on the fixtures.
pub fn golden() -> PathBuf {
    repo().join("fixtures/golden")
}

/// A recording of a real probe run (`tests/fixtures/` of this crate).
pub fn recorded(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
