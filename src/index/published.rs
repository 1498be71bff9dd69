//! Versions a matrix writes out (an axis's, an include entry's) checked against what is published, so a version that
//! does not exist is bad input at the line that names it, not an `unresolvable` cell that reads like a conflict.
//!
//! The check needs a listing: the index (unless `--offline`) or the find-links folders (with no index). Offline
//! against an index nothing can be listed, so nothing is checked; a version missing from uv's cache then stops
//! the run as an infrastructure error. An index that cannot be reached is not the matrix's fault either: the
//! check is skipped with a warning and uv decides.

use crate::error::{Error, Result};
use crate::index::version::Version;
use crate::index::{self, IndexSettings};

/// Published neighbours named on each side of a missing version.
const NEIGHBOURS: usize = 2;

/// Exit 2 at the first of `written` (versions of `package`, each with its `file:line:column`) that the index (or
/// find-links) does not publish. An index that cannot be asked leaves the versions unchecked: the warning that says
/// so comes back.
pub fn check_explicit(
    package: &str,
    written: &[(&Version, &str)],
    settings: &IndexSettings,
) -> Result<Option<String>> {
    if written.is_empty() || (settings.offline && !settings.no_index) {
        return Ok(None);
    }
    // Whatever `--as-of` says: an explicit axis's release is installed as of then whatever its upload time, so it
    // need only exist now.
    let now = IndexSettings {
        as_of: None,
        ..settings.clone()
    };
    let published = match index::list_versions(package, &now) {
        Ok(published) => published,
        Err(error) => {
            return Ok(Some(format!(
                "versions of `{package}` not checked against the index: {error}"
            )));
        }
    };
    for (version, at) in written {
        if !is_published(version, &published) {
            return Err(Error::BadInput(format!(
                "{at}: {package} {version} is not published{}",
                nearest(version, &published)
            )));
        }
    }
    Ok(None)
}

/// `==2.3.0` installs `2.3.0+cpu` too, so a version without a local label matches any local build of it.
fn is_published(version: &Version, published: &[Version]) -> bool {
    published
        .iter()
        .any(|p| p == version || (!version.is_local() && p.clone().without_local() == *version))
}

/// ` (nearest published: 2.4.0, 2.5.0)`: the closest versions below and above, from an ascending list.
fn nearest(version: &Version, published: &[Version]) -> String {
    if published.is_empty() {
        return " (no version of it is published)".into();
    }
    let split = published.partition_point(|p| p < version);
    let below = &published[split.saturating_sub(NEIGHBOURS)..split];
    let above = &published[split..(split + NEIGHBOURS).min(published.len())];
    let names: Vec<String> = below.iter().chain(above).map(ToString::to_string).collect();
    format!(" (nearest published: {})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(texts: &[&str]) -> Vec<Version> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn a_plain_version_matches_its_local_builds() {
        let published = versions(&["2.3.0+cpu", "2.4.0"]);
        assert!(is_published(&"2.3.0".parse().unwrap(), &published));
        assert!(is_published(&"2.4".parse().unwrap(), &published));
        assert!(!is_published(&"2.3.0+cu121".parse().unwrap(), &published));
    }

    #[test]
    fn the_nearest_versions_surround_the_missing_one() {
        let published = versions(&["1.0", "1.1", "1.2", "1.3", "2.0"]);
        assert_eq!(
            nearest(&"1.2.5".parse().unwrap(), &published),
            " (nearest published: 1.1, 1.2, 1.3, 2.0)"
        );
        assert_eq!(
            nearest(&"9.9.9".parse().unwrap(), &published),
            " (nearest published: 1.3, 2.0)"
        );
    }
}
