//! The environment qcompat hands to the processes it starts (uv, the probes): an allow-list, never its own.
//!
//! qcompat runs in CI next to secrets (`GITHUB_TOKEN`, cloud keys, API keys) and executes other people's nightly
//! code. A child gets only what it needs to find programs, libraries, certificates, proxies and GPUs, plus qcompat's
//! own `QCOMPAT_*` settings; uv additionally gets its own `UV_*` settings (the index it installs from may need
//! credentials), which the code under test never sees.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// Exact names every child may see (thread counts too: CI sets them to fit the runner's cores).
const NAMES: [&str; 20] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "XDG_CACHE_HOME",
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NO_COLOR",
    "SOURCE_DATE_EPOCH",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
];

/// Proxy settings, in the lower and upper case both are spelled in.
const PROXIES: [&str; 4] = ["http_proxy", "https_proxy", "all_proxy", "no_proxy"];

/// Prefixes every child may see: locale, the GPU stack, qcompat's own settings.
const PREFIXES: [&str; 4] = ["LC_", "CUDA_", "NVIDIA_", "QCOMPAT_"];

/// uv's own namespace (index, cache, network, Python discovery): for uv only.
const UV_PREFIX: &str = "UV_";

/// The allow-listed part of an environment, ready to be given to a child with `env_clear().envs(..)`.
#[derive(Debug, Clone, Default)]
pub struct ChildEnv {
    vars: Vec<(OsString, OsString)>,
}

impl ChildEnv {
    /// Keeps from `vars` (normally the process's own environment) what some child may see.
    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let vars = vars
            .into_iter()
            .filter(|(name, _)| name.to_str().is_some_and(|n| allowed(n) || for_uv(n)))
            .collect();
        Self { vars }
    }

    /// What a probe (the code under test) sees.
    pub fn for_probe(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .filter(|(name, _)| name.to_str().is_some_and(allowed))
            .map(|(name, value)| (name.as_os_str(), value.as_os_str()))
    }

    /// A probe's environment in the cell's virtual environment, the interpreter `python`'s: the allow-listed
    /// variables as if that environment were activated (its `bin` first on PATH, VIRTUAL_ENV set), as a user's shell,
    /// tox or `uv run` would have them, so code under test that shells out finds the cell's own tools first.
    pub fn for_probe_in(&self, python: &Path) -> Vec<(OsString, OsString)> {
        let mut vars: Vec<(OsString, OsString)> = self
            .for_probe()
            .filter(|(name, _)| *name != "PATH")
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let Some(bin) = python.parent().filter(|b| !b.as_os_str().is_empty()) else {
            vars.extend(self.var("PATH"));
            return vars;
        };
        let mut path = bin.as_os_str().to_owned();
        if let Some((_, host)) = self.var("PATH") {
            path.push(":");
            path.push(host);
        }
        vars.push(("PATH".into(), path));
        if let Some(root) = bin.parent() {
            vars.push(("VIRTUAL_ENV".into(), root.as_os_str().to_owned()));
        }
        // bitsandbytes 0.49 runs `pip list` at import. A uv environment has no pip of its own, so that reaches this
        // machine's pip further down PATH (under tox too), which would first ask the index for a newer pip.
        vars.push(("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()));
        vars
    }

    fn var(&self, name: &str) -> Option<(OsString, OsString)> {
        self.vars.iter().find(|(n, _)| n == name).cloned()
    }

    /// What uv sees: the probe's share and uv's own settings.
    pub fn for_uv(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(name, value)| (name.as_os_str(), value.as_os_str()))
    }
}

fn allowed(name: &str) -> bool {
    NAMES.contains(&name)
        || PROXIES
            .iter()
            .any(|p| name == *p || name == p.to_ascii_uppercase())
        || PREFIXES.iter().any(|p| name.starts_with(p))
}

fn for_uv(name: &str) -> bool {
    name.starts_with(UV_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(vars: impl Iterator<Item = (&'static str, &'static str)>) -> ChildEnv {
        ChildEnv::from_vars(vars.map(|(n, v)| (n.into(), v.into())))
    }

    #[test]
    fn secrets_stay_home_and_uv_settings_reach_only_uv() {
        let env = names(
            [
                ("PATH", "/bin"),
                ("GITHUB_TOKEN", "t"),
                ("AWS_SECRET_ACCESS_KEY", "k"),
                ("HTTPS_PROXY", "p"),
                ("https_proxy", "p"),
                ("Https_Proxy", "p"),
                ("LC_ALL", "C"),
                ("CUDA_VISIBLE_DEVICES", "0"),
                ("UV_DEFAULT_INDEX", "i"),
                ("PIP_INDEX_URL", "i"),
            ]
            .into_iter(),
        );
        let probe: Vec<_> = env.for_probe().map(|(n, _)| n.to_owned()).collect();
        assert_eq!(
            probe,
            [
                "PATH",
                "HTTPS_PROXY",
                "https_proxy",
                "LC_ALL",
                "CUDA_VISIBLE_DEVICES"
            ]
        );
        let uv: Vec<_> = env.for_uv().map(|(n, _)| n.to_owned()).collect();
        assert_eq!(
            uv.last().map(|n| n.as_os_str()),
            Some(OsStr::new("UV_DEFAULT_INDEX"))
        );
        assert_eq!(uv.len(), probe.len() + 1);
    }

    #[test]
    fn a_probe_runs_as_if_its_environment_were_activated() {
        let env = names([("PATH", "/usr/bin:/bin"), ("HOME", "/h")].into_iter());
        let vars = env.for_probe_in(Path::new("/cache/envs/abc/bin/python"));
        let get = |name: &str| {
            vars.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_str().unwrap().to_string())
        };
        assert_eq!(
            get("PATH").as_deref(),
            Some("/cache/envs/abc/bin:/usr/bin:/bin")
        );
        assert_eq!(get("VIRTUAL_ENV").as_deref(), Some("/cache/envs/abc"));
        assert_eq!(get("HOME").as_deref(), Some("/h"));
        assert_eq!(vars.iter().filter(|(n, _)| n == "PATH").count(), 1);
    }
}
