//! PEP 440 versions and specifiers, via pep440_rs.
//!
//! Python versions are not semver: `2.3.0.dev20240428` sorts before `2.3.0` and after `2.2.5`, and a specifier such as
//! `>=2.3.0,<2.4` excludes pre-releases unless asked. Everything that compares versions goes through here.

use std::str::FromStr;

use pep440_rs::Operator;
pub use pep440_rs::{Version, VersionSpecifiers};

/// Parses a version, with a message that can stand after a file:line:column prefix.
pub fn parse_version(text: &str) -> Result<Version, String> {
    Version::from_str(text.trim())
        .map_err(|e| format!("invalid PEP 440 version `{text}`: {}", first_line(&e)))
}

/// Parses a comma-separated specifier set such as `>=2.3.0.dev0,<2.5`.
pub fn parse_specifiers(text: &str) -> Result<VersionSpecifiers, String> {
    VersionSpecifiers::from_str(text.trim())
        .map_err(|e| format!("invalid PEP 440 specifier `{text}`: {}", first_line(&e)))
}

/// pep440_rs draws a caret diagram under its messages; a located one-line error needs only the first line.
fn first_line(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches(':')
        .to_string()
}

/// Whether `version` satisfies `specifiers`, with pre-releases allowed only when `pre` is set
/// (PEP 440's default: a pre-release is admitted only when asked for).
pub fn admits(specifiers: &VersionSpecifiers, version: &Version, pre: bool) -> bool {
    if (version.any_prerelease() || version.is_dev()) && !pre {
        return false;
    }
    contains(specifiers, version)
}

/// Whether `version` satisfies every specifier, as PEP 440 (and pip's `packaging`) define it.
///
/// pep440_rs 0.7 gets one case wrong: `<V` must exclude pre-releases of V's own release only when V is *not* itself
/// a pre-release, yet it excludes them always, so `2.4.0.dev20240630` fell outside `<2.4.0.dev20240728` (a nightly
/// window, exactly what known issues and bisects are written in). That case is decided here; the rest is delegated.
pub fn contains(specifiers: &VersionSpecifiers, version: &Version) -> bool {
    specifiers.iter().all(|specifier| {
        let bound = specifier.version();
        if *specifier.operator() == Operator::LessThan && bound.any_prerelease() {
            version < bound
        } else {
            specifier.contains(version)
        }
    })
}

/// Whether some version could satisfy every specifier: false for a window such as `>=2.0,<1.0`, whose lower bound
/// passes its upper one. Decided on the bounds alone, each an outer bound of what its specifier admits, so a window
/// that some version satisfies is never called empty; one that only `!=`, `.*`, `===` or local versions empty is let
/// through.
pub fn can_match(specifiers: &VersionSpecifiers) -> bool {
    // (version, inclusive)
    let mut lower: Option<(&Version, bool)> = None;
    let mut upper: Option<(&Version, bool)> = None;
    for specifier in specifiers.iter() {
        let version = specifier.version();
        if version.is_local() {
            return true;
        }
        let (low, high) = match specifier.operator() {
            Operator::Equal => (Some((version, true)), Some((version, true))),
            Operator::GreaterThan => (Some((version, false)), None),
            Operator::GreaterThanEqual | Operator::TildeEqual => (Some((version, true)), None),
            Operator::LessThan => (None, Some((version, false))),
            Operator::LessThanEqual => (None, Some((version, true))),
            _ => (None, None),
        };
        lower = tighter(lower, low, std::cmp::Ordering::Greater);
        upper = tighter(upper, high, std::cmp::Ordering::Less);
    }
    match (lower, upper) {
        (Some((low, low_in)), Some((high, high_in))) => {
            low < high || (low == high && low_in && high_in)
        }
        _ => true,
    }
}

/// The narrower of two bounds: the one further in the direction `inward`; at one version, exclusive wins.
fn tighter<'a>(
    current: Option<(&'a Version, bool)>,
    new: Option<(&'a Version, bool)>,
    inward: std::cmp::Ordering,
) -> Option<(&'a Version, bool)> {
    match (current, new) {
        (Some((c, c_in)), Some((n, n_in))) => match n.cmp(c) {
            std::cmp::Ordering::Equal => Some((c, c_in && n_in)),
            order if order == inward => Some((n, n_in)),
            _ => Some((c, c_in)),
        },
        (bound, None) | (None, bound) => bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nightlies_order_between_releases() {
        let older = parse_version("2.2.5").unwrap();
        let nightly = parse_version("2.3.0.dev20240428").unwrap();
        let later_nightly = parse_version("2.3.0.dev20240505").unwrap();
        let release = parse_version("2.3.0").unwrap();
        assert!(older < nightly);
        assert!(nightly < later_nightly);
        assert!(later_nightly < release);
    }

    #[test]
    fn pre_releases_need_opt_in() {
        let spec = parse_specifiers(">=2.3.0.dev0,<2.5").unwrap();
        let nightly = parse_version("2.4.0.dev20240601").unwrap();
        assert!(!admits(&spec, &nightly, false));
        assert!(admits(&spec, &nightly, true));
        assert!(admits(&spec, &parse_version("2.4.0").unwrap(), false));
        assert!(!admits(&spec, &parse_version("2.5.0").unwrap(), true));
    }

    #[test]
    fn a_nightly_bound_admits_earlier_nightlies_of_its_release() {
        let window = parse_specifiers(">=2.3.0.dev20240526,<2.4.0.dev20240728").unwrap();
        let inside = |v: &str| contains(&window, &parse_version(v).unwrap());
        assert!(inside("2.3.0.dev20240526"));
        assert!(inside("2.3.3"));
        assert!(inside("2.4.0.dev20240630"));
        assert!(inside("2.4.0.dev20240721"));
        assert!(!inside("2.4.0.dev20240728"));
        assert!(!inside("2.4.0"));
        assert!(!inside("2.3.0.dev20240519"));
        // With a final release as the bound, its own pre-releases stay excluded (PEP 440).
        let below_final = parse_specifiers("<2.4.0").unwrap();
        assert!(!contains(
            &below_final,
            &parse_version("2.4.0.dev20240630").unwrap()
        ));
        assert!(contains(&below_final, &parse_version("2.3.9").unwrap()));
    }

    #[test]
    fn bad_text_is_reported() {
        assert!(parse_version("2.3.x").unwrap_err().contains("2.3.x"));
        assert!(parse_specifiers(">=>2").is_err());
    }

    #[test]
    fn a_window_whose_bounds_cross_can_match_nothing() {
        let can = |text: &str| can_match(&parse_specifiers(text).unwrap());
        for empty in [
            ">=2.0,<1.0",
            ">2.0,<=2.0",
            "==1.0,>1.0",
            "<1.0,==1.0",
            "==1.0,==2.0",
            ">=3,<2.5,!=1",
        ] {
            assert!(!can(empty), "{empty}");
        }
        for open in [
            "",
            ">=1.0,<=1.0",
            "==1.0",
            ">=2.3.0.dev20240526,<2.4.0.dev20240728",
            "~=2.2,<3",
            "!=1.0",
            ">1.0,<1.0.1",
            "==1.0.*,<1.0",
            "==1.0+cpu,<1.0",
        ] {
            assert!(can(open), "{open}");
        }
    }
}
