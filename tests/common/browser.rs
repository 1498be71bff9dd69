//! Headless Chromium for the HTML pages' tests: `$CHROMIUM`, else the usual names on PATH; missing is a failure
//! that says what to do, never a silent pass.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Scratch, stderr};

pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| which::which(name).ok())
        .unwrap_or_else(|| {
            panic!(
                "headless Chromium is needed to check the HTML pages: install it with `apt-get install -y chromium` \
                 (CI's .ci/run does), or point CHROMIUM at a Chrome/Chromium binary"
            )
        })
}

/// Runs headless Chromium on `page` (with an optional `#fragment`) and returns what it printed.
pub fn headless(scratch: &Scratch, page: &Path, fragment: &str, args: &[&str]) -> String {
    let profile = scratch.path().join("chromium-profile");
    let output = Command::new(chromium())
        // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .expect("chromium starts");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        stderr(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
