//! Lists the published versions of a package: the index's PEP 691 JSON simple API, and find-links folders.
//!
//! Index settings follow the user's own (`UV_*` first, then `PIP_*`), so qcompat sees the same versions that uv
//! will install from.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::version::Version;

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

    /// The switches, which carry no secrets (and which `uv pip` reads from no variable).
    pub fn uv_flags(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.no_index {
            flags.push("--no-index");
        }
        if self.offline {
            flags.push("--offline");
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
        args.extend(self.uv_flags().iter().map(|f| f.to_string()));
        args
    }

    /// What decides which files an install sees, without credentials: rotating a token must not rebuild every
    /// environment. The layout is the one the environment hash has always used (a derived `Debug`), so existing
    /// caches stay valid; a field added to the struct changes it only when it is added here.
    pub fn fingerprint(&self) -> String {
        let url = self.index_url.as_deref().map(without_credentials);
        format!(
            "IndexSettings {{ index_url: {url:?}, find_links: {:?}, no_index: {:?}, offline: {:?} }}",
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
        versions.extend(versions_in_folder(package, Path::new(link))?);
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
        )?);
    }
    Ok(versions.into_iter().collect())
}

fn versions_in_folder(package: &str, folder: &Path) -> Result<Vec<Version>> {
    let entries = std::fs::read_dir(folder).map_err(|e| Error::io(folder, e))?;
    let wanted = normalize(package);
    Ok(entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
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
}

fn versions_from_index(package: &str, index: &str, timeout: Duration) -> Result<Vec<Version>> {
    let name = normalize(package);
    let url = format!("{}/{name}/", index.trim_end_matches('/'));
    let page = fetch_with_retries(&url, timeout).map_err(|e| {
        Error::infra(redact(&format!(
            "listing versions of `{package}` from {url}: {e}"
        )))
    })?;
    // PEP 691: `yanked` is false, or true / a reason string.
    Ok(page
        .files
        .iter()
        .filter(|f| {
            matches!(
                f.yanked,
                serde_json::Value::Null | serde_json::Value::Bool(false)
            )
        })
        .filter_map(|f| version_from_filename(&f.filename, &name))
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
