//! The serde model of a matrix file, exactly as written (TOML or YAML share it).
//!
//! Nothing here is validated beyond shape: versions, specifiers and axis names are checked in `load`, where the
//! source text is at hand to point at the offending line.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSpec {
    pub name: Option<String>,
    pub python: Option<String>,
    pub probes: Vec<String>,
    pub timeout: Option<String>,
    /// Modules a shared base interpreter imports once for the cells whose environments hold them byte-identical
    /// (default: torch, torch._dynamo and numpy); `[]` turns preloading off for the matrix.
    pub preload: Option<Vec<String>>,
    /// Insertion order matters: it is the order of keys, tables and snapshots.
    pub axes: IndexMap<String, AxisSpec>,
    #[serde(default)]
    pub pins: IndexMap<String, String>,
    #[serde(default)]
    pub exclude: Vec<IndexMap<String, String>>,
    #[serde(default)]
    pub include: Vec<IndexMap<String, String>>,
    #[serde(default)]
    pub known: Vec<KnownSpec>,
}

/// One axis: explicit versions, or a query answered by the package index.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AxisSpec {
    Versions(Vec<String>),
    Query(AxisQuery),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisQuery {
    pub versions: String,
    #[serde(default)]
    pub pre: bool,
}

/// A known upstream issue: a failure with this signature inside `when` is expected (`xfail`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownSpec {
    pub id: String,
    pub signature: String,
    #[serde(default)]
    pub when: IndexMap<String, String>,
    /// Probes the issue affects; all of the matrix's when absent.
    #[serde(default)]
    pub probes: Vec<String>,
    /// For readers of the matrix file (the upstream report); reports name the known issue by `id`.
    #[allow(dead_code)]
    pub url: Option<String>,
}
