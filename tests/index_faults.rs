//! A package index that fails: unreachable, a 500, a stall mid-page, a version that vanished between listing and
//! install. Listing faults are retried a bounded number of times, each attempt bounded in time, then exit 3; a
//! vanished version is `unresolvable` with the resolver's reason, a file that cannot be fetched an `install-error`
//! after retries; never a regression. The index is tests/fixtures/index_server.py on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, outcome_lines, repo, stderr, toy_wheels};

const QUERY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "60s"

[axes]
toyquant = { versions = ">=1.0" }
"#;

/// The fake index; killed when dropped.
struct Index {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Index {
    fn start(scratch: &Scratch, mode: &str) -> Self {
        let log = scratch.path().join("requests.log");
        let mut child = Command::new("python3")
            .arg(repo().join("tests/fixtures/index_server.py"))
            .args([
                mode,
                &toy_wheels().display().to_string(),
                &log.display().to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap();
        Self { child, port, log }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/simple", self.port)
    }

    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// `qcompat run` against `index` only (no toy find-links), killed if it outlives `limit`; returns the output and
/// how long it took.
fn run_against(
    scratch: &Scratch,
    index: &str,
    extra_env: &[(&str, &str)],
    limit: u64,
) -> (Output, Duration) {
    scratch.write("toy.toml", QUERY);
    let mut command = scratch.run_command(&[
        "run", "--matrix", "toy.toml", "--format", "json", "--jobs", "1",
    ]);
    command
        .env_remove("UV_NO_INDEX")
        .env_remove("UV_FIND_LINKS")
        .env("UV_INDEX_URL", index)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(limit) {
            child.kill().unwrap();
            panic!("qcompat still running after {limit} s: the index hung it");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

#[test]
fn an_unreachable_index_is_exit_3_after_bounded_retries_and_the_credentials_stay_masked() {
    let scratch = Scratch::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://ci:index-token@127.0.0.1:{port}/simple");
    let (output, took) = run_against(&scratch, &url, &[], 60);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("attempt 3 of 3"), "{text}");
    assert!(
        text.contains("http://***@127.0.0.1") && !text.contains("index-token"),
        "{text}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn a_failing_index_is_asked_three_times_then_exit_3() {
    let scratch = Scratch::new();
    let index = Index::start(&scratch, "500");
    let (output, _) = run_against(&scratch, &index.url(), &[], 60);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("500"), "{}", stderr(&output));
    assert_eq!(index.requests(), vec!["/simple/toyquant/"; 3]);
}

#[test]
fn an_index_that_stalls_mid_page_is_given_up_on_after_its_timeout() {
    let scratch = Scratch::new();
    let index = Index::start(&scratch, "stall");
    let (output, took) = run_against(
        &scratch,
        &index.url(),
        &[("QCOMPAT_INDEX_TIMEOUT", "1s")],
        60,
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(index.requests().len(), 3, "each attempt timed out");
    // Three attempts of 1 s and 0.5 + 1 s of backoff.
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn a_version_gone_after_listing_is_unresolvable_and_a_missing_file_an_install_error() {
    let scratch = Scratch::new();
    let index = Index::start(&scratch, "vanish");
    let (output, _) = run_against(&scratch, &index.url(), &[], 300);
    assert_eq!(
        output.status.code(),
        Some(0),
        "never a regression: {}",
        stderr(&output)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let lines = outcome_lines(&report);
    let outcomes: Vec<&str> = lines.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        outcomes,
        [
            "toyquant=1.0 toy-load pass",
            "toyquant=1.2 toy-load install-error",
            "toyquant=1.6 toy-load unresolvable"
        ],
        "{lines}"
    );
    let signature = |i: usize| {
        report["cells"][i]["probes"][0]["signature"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        signature(2).contains("toyquant==1.6"),
        "the resolver's reason: {}",
        signature(2)
    );
    let downloads = index
        .requests()
        .iter()
        .filter(|r| r.contains("toyquant-1.2-"))
        .count();
    assert!(
        downloads >= 3,
        "the install was retried: {downloads} downloads"
    );
}
