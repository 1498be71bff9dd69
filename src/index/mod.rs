//! Lists the published versions of a package: the index's PEP 691 JSON simple API, and find-links folders.
//!
//! Index settings follow the user's own (`UV_*` first, then `PIP_*`), so qcompat sees the same versions that uv
//! will install from.

pub mod as_of;
pub mod published;
pub mod version;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::index::version::Version;
use as_of::AsOf;

const DEFAULT_INDEX: &str = "https://pypi.org/simple";
/// Per attempt, from connecting to the last byte of the page: a stalled index must not hang a run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts of one listing; transient faults (connection, timeout, 5xx, 429) are retried, with backoff between.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Where packages come from; shared by version listing and by uv installs.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct IndexSettings {
    pub index_url: Option<String>,
    pub find_links: Vec<String>,
    pub no_index: bool,
    pub offline: bool,
    /// Longest a version listing may take, per attempt ([`DEFAULT_TIMEOUT`] when unset).
    pub timeout: Option<Duration>,
    /// `--as-of`: only what was uploaded by then is listed (PEP 700 upload times; a find-links file's mtime) and
    /// installed (uv's `--exclude-newer`).
    pub as_of: Option<AsOf>,
}

impl IndexSettings {
    /// uv's own environment variables for the sources: URLs travel there, never on the command line, because an
    /// index URL may carry credentials and a command line is visible to every user of the machine (`ps`).
    pub fn uv_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(url) = &self.index_url {
            env.push(("UV_DEFAULT_INDEX", url.clone()));
        }
        if !self.find_links.is_empty() {
            env.push(("UV_FIND_LINKS", self.find_links.join(",")));
        }
        env
    }

    /// The switches, which carry no secrets (and which `uv pip` reads from no variable), and the moment installs
    /// resolve as of.
    pub fn uv_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if self.no_index {
            flags.push("--no-index".to_string());
        }
        if self.offline {
            flags.push("--offline".to_string());
        }
        if let Some(as_of) = &self.as_of {
            flags.extend(as_of.uv_args());
        }
        flags
    }

    /// The sources as `uv pip install` arguments with credentials masked: for commands printed to a person, never
    /// for running (see [`Self::uv_env`]).
    pub fn display_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(url) = &self.index_url {
            args.extend(["--index-url".to_string(), redact(url)]);
        }
        for link in &self.find_links {
            args.extend(["--find-links".to_string(), redact(link)]);
        }
        args.extend(self.uv_flags());
        args
    }

    /// What decides which files an install sees, without credentials: rotating a token must not rebuild every
    /// environment. The layout is the one the environment hash has always used (a derived `Debug`), so existing
    /// caches stay valid; a field added to the struct changes it only when it is added here.
    pub fn fingerprint(&self) -> String {
        let url = self.index_url.as_deref().map(without_credentials);
        // `as_of` shows only when set, so every environment built without it keeps the hash it had.
        let as_of = self.as_of.as_ref().map_or_else(String::new, |a| {
            let exempt = if a.exempt.is_empty() {
                String::new()
            } else {
                format!(", exempt: {:?}", a.exempt)
            };
            format!(", as_of: {:?}{exempt}", a.text)
        });
        format!(
            "IndexSettings {{ index_url: {url:?}, find_links: {:?}, no_index: {:?}, offline: {:?}{as_of} }}",
            self.find_links
                .iter()
                .map(|l| without_credentials(l))
                .collect::<Vec<_>>(),
            self.no_index,
            self.offline
        )
    }
}

/// Printed redacted, whoever prints it.
impl std::fmt::Debug for IndexSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexSettings")
            .field("index_url", &self.index_url.as_deref().map(redact))
            .field(
                "find_links",
                &self
                    .find_links
                    .iter()
                    .map(|l| redact(l))
                    .collect::<Vec<_>>(),
            )
            .field("no_index", &self.no_index)
            .field("offline", &self.offline)
            .field("timeout", &self.timeout)
            .field("as_of", &self.as_of.as_ref().map(|a| &a.text))
            .finish()
    }
}

/// `scheme://user:password@` in a URL (or a token alone before the `@`); up to the authority's last `@`, since a
/// password may hold one unencoded.
static CREDENTIALS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]+@").unwrap());

/// `text` with the credentials of every URL in it masked: for anything that may be printed or stored.
pub fn redact(text: &str) -> String {
    CREDENTIALS.replace_all(text, "${1}***@").into_owned()
}

/// `text` with the credentials of every URL in it removed: the same index, whoever logs in.
fn without_credentials(text: &str) -> String {
    CREDENTIALS.replace_all(text, "${1}").into_owned()
}

/// `numpy` of `numpy<2` (pins are validated requirement strings).
pub fn requirement_name(requirement: &str) -> &str {
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(requirement.len());
    &requirement[..end]
}

/// PEP 503 name normalization: `Foo_Bar.baz` and `foo-bar-baz` are the same project.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Every published, non-yanked version of `package`, ascending.
pub fn list_versions(package: &str, settings: &IndexSettings) -> Result<Vec<Version>> {
    let mut versions = BTreeSet::new();
    for link in &settings.find_links {
        versions.extend(versions_in_folder(
            package,
            Path::new(link),
            settings.as_of.as_ref(),
        )?);
    }
    if !settings.no_index {
        if settings.offline {
            return Err(Error::BadInput(format!(
                "listing versions of `{package}` needs the index, but --offline is set; list the versions explicitly"
            )));
        }
        let index = settings.index_url.as_deref().unwrap_or(DEFAULT_INDEX);
        versions.extend(versions_from_index(
            package,
            index,
            settings.timeout.unwrap_or(DEFAULT_TIMEOUT),
            settings.as_of.as_ref(),
        )?);
    }
    Ok(versions.into_iter().collect())
}

/// A folder has no upload times: with `--as-of`, a file's modification time stands in for it.
fn versions_in_folder(package: &str, folder: &Path, as_of: Option<&AsOf>) -> Result<Vec<Version>> {
    let entries = std::fs::read_dir(folder).map_err(|e| Error::io(folder, e))?;
    let wanted = normalize(package);
    Ok(entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            as_of.is_none_or(|cut| {
                entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| cut.admits_mtime(t))
            })
        })
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter_map(|file| version_from_filename(&file, &wanted))
        .collect())
}

/// The version in a wheel (`name-1.0-py3-none-any.whl`) or sdist (`name-1.0.tar.gz`) filename, for project `wanted`.
fn version_from_filename(file: &str, wanted: &str) -> Option<Version> {
    let (name, version) = if let Some(stem) = file.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        (parts.next()?, parts.next()?)
    } else {
        let stem = file
            .strip_suffix(".tar.gz")
            .or_else(|| file.strip_suffix(".zip"))?;
        stem.rsplit_once('-')?
    };
    (normalize(name) == wanted).then(|| version.parse().ok())?
}

#[derive(Deserialize)]
struct ProjectPage {
    files: Vec<ProjectFile>,
}

#[derive(Deserialize)]
struct ProjectFile {
    filename: String,
    #[serde(default)]
    yanked: serde_json::Value,
    /// PEP 700 (API version 1.1).
    #[serde(rename = "upload-time")]
    upload_time: Option<String>,
}

fn versions_from_index(
    package: &str,
    index: &str,
    timeout: Duration,
    as_of: Option<&AsOf>,
) -> Result<Vec<Version>> {
    let name = normalize(package);
    let url = format!("{}/{name}/", index.trim_end_matches('/'));
    let page = fetch_with_retries(&url, timeout).map_err(|e| {
        Error::infra(redact(&format!(
            "listing versions of `{package}` from {url}: {e}"
        )))
    })?;
    listed_on(&page, &name, as_of).map_err(|e| match e {
        Error::BadInput(message) => Error::BadInput(format!("{}: {message}", redact(&url))),
        other => other,
    })
}

/// The versions a project page lists (as of a moment: files uploaded by then).
fn listed_on(page: &ProjectPage, name: &str, as_of: Option<&AsOf>) -> Result<Vec<Version>> {
    if let Some(cut) = as_of
        && page.files.iter().any(|f| f.upload_time.is_none())
    {
        return Err(Error::BadInput(format!(
            "no upload-time for some files (PEP 700), so --as-of {} cannot list them",
            cut.text
        )));
    }
    // PEP 691: `yanked` is false, or true / a reason string. (Yanked today counts as yanked then too: the index
    // does not say when.)
    Ok(page
        .files
        .iter()
        .filter(|f| {
            as_of.is_none_or(|cut| {
                f.upload_time
                    .as_deref()
                    .and_then(as_of::parse_epoch)
                    .is_some_and(|t| cut.admits_epoch(t))
            })
        })
        .filter(|f| {
            matches!(
                f.yanked,
                serde_json::Value::Null | serde_json::Value::Bool(false)
            )
        })
        .filter_map(|f| version_from_filename(&f.filename, name))
        .collect())
}

/// The project page, after at most [`ATTEMPTS`] tries of at most `timeout` each: bounded in count and in time.
fn fetch_with_retries(url: &str, timeout: Duration) -> std::result::Result<ProjectPage, String> {
    // The machine's certificate store (and `SSL_CERT_FILE`), as uv and pip use it: an index behind a company proxy
    // or a private CA must list as it installs.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .tls_config(tls)
        .build()
        .into();
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let fetched = agent
            .get(url)
            .header("Accept", "application/vnd.pypi.simple.v1+json")
            .call()
            .and_then(|mut response| response.body_mut().read_json::<ProjectPage>());
        match fetched {
            Ok(page) => return Ok(page),
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                std::thread::sleep(backoff);
                backoff *= 2;
                attempt += 1;
            }
            Err(e) => {
                return Err(format!(
                    "{e} (attempt {attempt} of {ATTEMPTS}, {:.1} s)",
                    started.elapsed().as_secs_f64()
                ));
            }
        }
    }
}

/// Faults worth another try: the network or the server, not the request (a 404 stays a 404).
fn transient(error: &ureq::Error) -> bool {
    use ureq::Error as E;
    match error {
        E::StatusCode(code) => *code >= 500 || *code == 429,
        E::Timeout(_) | E::Io(_) | E::ConnectionFailed | E::HostNotFound => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_in_every_url_and_only_there() {
        let text = "fetching https://user:pa%40ss@host/simple and http://token@other:8080/x, not me@example.org";
        assert_eq!(
            redact(text),
            "fetching https://***@host/simple and http://***@other:8080/x, not me@example.org"
        );
        assert_eq!(
            without_credentials("https://u:p@host/simple"),
            "https://host/simple"
        );
    }

    #[test]
    fn settings_without_as_of_describe_themselves_as_before_it_existed() {
        // The environment hash is made from this text: a change would rebuild every cached environment.
        let settings = IndexSettings {
            find_links: vec!["w".into()],
            ..IndexSettings::default()
        };
        assert_eq!(
            settings.fingerprint(),
            "IndexSettings { index_url: None, find_links: [\"w\"], no_index: false, offline: false }"
        );
        let dated = IndexSettings {
            as_of: Some(AsOf::parse("2024-06-15").unwrap()),
            ..settings
        };
        assert!(
            dated
                .fingerprint()
                .ends_with("as_of: \"2024-06-15T00:00:00Z\" }")
        );
        assert_eq!(
            dated.uv_flags(),
            ["--exclude-newer".to_string(), "2024-06-15T00:00:00Z".into()]
        );
        // An explicit axis's release is installed in that world whatever its upload time.
        let mut as_of = AsOf::parse("2024-06-15").unwrap();
        as_of.exempt = vec!["bitsandbytes".into()];
        let exempt = IndexSettings {
            as_of: Some(as_of),
            ..IndexSettings::default()
        };
        assert_eq!(
            exempt.uv_flags()[2..],
            [
                "--exclude-newer-package".to_string(),
                "bitsandbytes=false".into()
            ]
        );
        assert!(exempt.fingerprint().contains("exempt: [\"bitsandbytes\"]"));
    }

    #[test]
    fn as_of_a_moment_the_index_lists_what_was_uploaded_by_then() {
        let page: ProjectPage = serde_json::from_value(serde_json::json!({"files": [
            {"filename": "toyquant-1.0-py3-none-any.whl", "upload-time": "2024-05-01T10:00:00.000000Z"},
            {"filename": "toyquant-1.1-py3-none-any.whl", "upload-time": "2024-06-15T00:00:01Z"},
            {"filename": "toyquant-1.2-py3-none-any.whl", "upload-time": "2024-06-20T00:00:00Z"},
        ]}))
        .unwrap();
        let listed = |as_of: Option<&str>| {
            let as_of = as_of.map(|a| AsOf::parse(a).unwrap());
            let versions = listed_on(&page, "toyquant", as_of.as_ref()).unwrap();
            versions.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        assert_eq!(listed(None), ["1.0", "1.1", "1.2"]);
        assert_eq!(listed(Some("2024-06-15")), ["1.0"]);
        assert_eq!(listed(Some("2024-06-15T00:00:01Z")), ["1.0", "1.1"]);
        let undated: ProjectPage = serde_json::from_value(
            serde_json::json!({"files": [{"filename": "toyquant-1.0-py3-none-any.whl"}]}),
        )
        .unwrap();
        let cut = AsOf::parse("2024-06-15").unwrap();
        assert!(listed_on(&undated, "toyquant", Some(&cut)).is_err());
    }

    #[test]
    fn names_normalize() {
        assert_eq!(normalize("Foo_Bar.baz"), "foo-bar-baz");
        assert_eq!(normalize("lightning"), "lightning");
    }

    #[test]
    fn filenames_give_versions() {
        let v = |f: &str| version_from_filename(f, "lightning-utilities").map(|v| v.to_string());
        assert_eq!(
            v("lightning_utilities-0.11.2-py3-none-any.whl").as_deref(),
            Some("0.11.2")
        );
        assert_eq!(
            v("lightning-utilities-0.3.0.tar.gz").as_deref(),
            Some("0.3.0")
        );
        assert_eq!(v("lightning-2.3.0-py3-none-any.whl"), None);
        let nightly =
            version_from_filename("lightning-2.3.0.dev20240428-py3-none-any.whl", "lightning");
        assert_eq!(nightly.unwrap().to_string(), "2.3.0.dev20240428");
    }
}
