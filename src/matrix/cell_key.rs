//! A cell's identity: its axis values in axis order. Results, snapshots, diffs and the resume journal all match
//! cells by this one type, and it has one spelling, `lightning=2.3.0,bitsandbytes=0.49.2,torch=2.3.0`.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Axis → version, in axis order. A partial `[[include]]` cell leaves some axes out (the resolver picks them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CellKey(Vec<(String, String)>);

impl CellKey {
    pub fn new<A: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (A, V)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(a, v)| (a.into(), v.into()))
                .collect(),
        )
    }

    /// The version this cell pins for `axis`; none when the axis is left to the resolver.
    pub fn get(&self, axis: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(a, _)| a == axis)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(a, v)| (a.as_str(), v.as_str()))
    }

    pub fn axes(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(a, _)| a.as_str())
    }

    /// A folder name for the cell: `lightning=2.3.0,torch=2.3.0` → `lightning=2.3.0_torch=2.3.0`. Only characters
    /// that are safe in a path component survive, so no key can name a folder outside its parent.
    pub fn slug(&self) -> String {
        self.to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '=' | '-' | '+') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (axis, version)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{axis}={version}")?;
        }
        Ok(())
    }
}

/// A key is written as a table (`{ lightning = "2.3.0", torch = "2.3.0" }` in snapshots, an object in JSON), in
/// axis order.
impl Serialize for CellKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(a, v)| (a, v)))
    }
}

impl<'de> Deserialize<'de> for CellKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = IndexMap::<String, String>::deserialize(deserializer)?;
        Ok(Self(map.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_and_a_table_in_axis_order() {
        let key = CellKey::new([("lightning", "2.3.0"), ("bitsandbytes", "0.49.2")]);
        assert_eq!(key.to_string(), "lightning=2.3.0,bitsandbytes=0.49.2");
        assert_eq!(key.slug(), "lightning=2.3.0_bitsandbytes=0.49.2");
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, r#"{"lightning":"2.3.0","bitsandbytes":"0.49.2"}"#);
        assert_eq!(serde_json::from_str::<CellKey>(&json).unwrap(), key);
        assert_eq!(key.get("bitsandbytes"), Some("0.49.2"));
        assert_eq!(key.get("torch"), None);
    }

    #[test]
    fn a_slug_never_leaves_its_folder() {
        let key = CellKey::new([("x", "../../etc"), ("y", "/abs")]);
        assert!(!key.slug().contains('/'));
    }
}
