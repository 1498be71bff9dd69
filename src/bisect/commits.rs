//! `bisect --repo`: the commits between two releases of a package that touch the files of the failing traceback.
//!
//! Releases are found by their tags (`2.3.0` or `v2.3.0`); a nightly (`2.3.0.dev20240519`) by its build date, so a
//! range with a nightly at either end becomes a date range on the repository's HEAD. Date ranges are inclusive of
//! both days: a nightly may have been built before or after that day's commits, and listing one commit too many is
//! better than missing the culprit.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commit {
    pub hash: String,
    pub date: String,
    pub subject: String,
}

/// Where a version sits in the history.
#[derive(Debug, PartialEq, Eq)]
enum Bound {
    Tag(String),
    /// `YYYY-MM-DD`
    Day(String),
}

/// Commits after `from` up to `to` touching any file of `frames` (`package/path.py:function`), newest first.
pub fn between(repo: &Path, from: &str, to: &str, frames: &[String]) -> Result<Vec<Commit>> {
    let mut files: Vec<String> = frames
        .iter()
        .filter_map(|f| f.split_once(':').map(|(file, _)| file.to_string()))
        .collect();
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut args: Vec<String> = vec![
        "log".into(),
        "--date=short".into(),
        "--format=%H%x09%ad%x09%s".into(),
    ];
    match (bound(repo, from)?, bound(repo, to)?) {
        (Bound::Tag(a), Bound::Tag(b)) => args.push(format!("{a}..{b}")),
        (a, b) => {
            let day = |bound: Bound| -> Result<String> {
                match bound {
                    Bound::Day(day) => Ok(day),
                    Bound::Tag(tag) => tag_day(repo, &tag),
                }
            };
            args.push(format!("--since={}T00:00:00Z", day(a)?));
            args.push(format!("--until={}T23:59:59Z", day(b)?));
            args.push("HEAD".into());
        }
    }
    args.push("--".into());
    // Site-packages paths sit anywhere below the repository root (often under src/).
    args.extend(files.iter().map(|f| format!(":(glob)**/{f}")));
    let text = git(repo, &args)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            Some(Commit {
                hash: parts.next()?.chars().take(12).collect(),
                date: parts.next()?.to_string(),
                subject: parts.next()?.to_string(),
            })
        })
        .collect())
}

fn bound(repo: &Path, version: &str) -> Result<Bound> {
    if let Some((_, date)) = version.rsplit_once(".dev")
        && date.len() == 8
        && date.chars().all(|c| c.is_ascii_digit())
    {
        return Ok(Bound::Day(format!(
            "{}-{}-{}",
            &date[..4],
            &date[4..6],
            &date[6..]
        )));
    }
    for tag in [version.to_string(), format!("v{version}")] {
        if git(
            repo,
            &[
                "rev-parse".into(),
                "--verify".into(),
                "--quiet".into(),
                format!("refs/tags/{tag}"),
            ],
        )
        .is_ok()
        {
            return Ok(Bound::Tag(tag));
        }
    }
    Err(Error::BadInput(format!(
        "--repo {}: no tag `{version}` or `v{version}`, and `{version}` is not a dated nightly",
        repo.display()
    )))
}

fn tag_day(repo: &Path, tag: &str) -> Result<String> {
    Ok(
        git(repo, &["log", "-1", "--date=short", "--format=%cd", tag])?
            .trim()
            .to_string(),
    )
}

/// `git -C repo ARGS` in UTC; its standard output, or bad input naming the repository when it fails.
pub fn git<S: AsRef<str>>(repo: &Path, args: &[S]) -> Result<String> {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(&args)
        .env("TZ", "UTC")
        .output()
        .map_err(|e| Error::infra_caused("running git", e))?;
    if !output.status.success() {
        return Err(Error::BadInput(format!(
            "--repo {}: git {} failed: {}",
            repo.display(),
            args.first().copied().unwrap_or(""),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
