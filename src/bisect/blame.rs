//! Blame: what else changed between the last good and the first bad environment. When the bisected release is not
//! the package that changed behaviour (a LitGPT release that pins another Lightning), the change is here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::index::normalize;

/// One package whose resolved version differs between the two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub package: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Packages that differ between `good` and `bad` resolved sets, except `axis` itself (its change is the bisection).
pub fn changes(
    axis: &str,
    good: &BTreeMap<String, String>,
    bad: &BTreeMap<String, String>,
) -> Vec<Change> {
    let axis = normalize(axis);
    let mut packages: Vec<&String> = good.keys().chain(bad.keys()).collect();
    packages.sort();
    packages.dedup();
    packages
        .into_iter()
        .filter(|p| **p != axis && good.get(*p) != bad.get(*p))
        .map(|p| Change {
            package: p.clone(),
            from: good.get(p).cloned(),
            to: bad.get(p).cloned(),
        })
        .collect()
}

/// The changed package to bisect next (`--recurse`): the one the failing frame lives in, else none. A frame is
/// `package/path.py:function`, relative to site-packages; its first component is an import name, which for the
/// stack's packages is the distribution name.
pub fn culprit<'a>(changes: &'a [Change], frame: Option<&str>) -> Option<&'a Change> {
    let module = frame?.split('/').next()?;
    changes
        .iter()
        .find(|c| normalize(&c.package) == normalize(module) && c.from.is_some() && c.to.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_leave_out_the_axis_and_name_the_frames_package() {
        let good = BTreeMap::from([
            ("litgpt".to_string(), "0.4.4".to_string()),
            ("lightning".to_string(), "2.3.0.dev20240428".to_string()),
            ("torch".to_string(), "2.3.0".to_string()),
        ]);
        let mut bad = good.clone();
        bad.insert("litgpt".into(), "0.4.5".into());
        bad.insert("lightning".into(), "2.3.3".into());
        bad.insert("jsonargparse".into(), "4.30.0".into());
        let found = changes("litgpt", &good, &bad);
        assert_eq!(
            found.iter().map(|c| c.package.as_str()).collect::<Vec<_>>(),
            ["jsonargparse", "lightning"]
        );
        let culprit = culprit(
            &found,
            Some("lightning/fabric/utilities/load.py:__getattr__"),
        );
        assert_eq!(culprit.map(|c| c.to.as_deref()), Some(Some("2.3.3")));
        assert!(super::culprit(&found, Some("torch/nn/modules/module.py:load")).is_none());
    }
}
