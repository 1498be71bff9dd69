//! The supervisor and the exit contract through the real binary: machine faults while provisioning exit 3 and are
//! never recorded, SIGTERM during a uv install stops at once, and a failing cell takes every other cell's process
//! group down with it. uv is wrapped by a script on PATH that provokes each fault and delegates the rest.

mod common;

use std::time::{Duration, Instant};

use common::{Scratch, assert_gone, fake_uv, stderr, wait_for};

const TOY: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "60s"

[axes]
toyquant = ["1.0", "1.4"]
"#;

#[test]
fn a_machine_fault_while_provisioning_exits_3_and_records_nothing() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    let path = fake_uv(
        &scratch,
        r#"if [ "$1" = venv ]; then echo "error: failed to create directory: No space left on device (os error 28)" >&2; exit 2; fi"#,
    );
    let output = scratch
        .run_command(&[
            "run",
            "--matrix",
            "toy.toml",
            "--filter",
            "toyquant=1.0",
            "--update",
        ])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("error: building the environment of toyquant=1.0")
            && text.contains("caused by: uv venv failed: error: failed to create directory: No space left on device"),
        "{text}"
    );
    assert!(
        !scratch.path().join("reports/toy.snap.toml").exists(),
        "a machine fault is not a finding about the stack: nothing is recorded"
    );
}

#[test]
fn sigterm_during_a_uv_install_stops_within_seconds_and_leaves_no_process() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    // The install hangs in a child of uv's, as a slow download would.
    let path = fake_uv(
        &scratch,
        r#"if [ "$1" = pip ] && [ "$2" = install ]; then sleep 300 & echo $! > "$SCRATCH/install.pid"; wait; fi"#,
    );
    let run = scratch
        .run_command(&["run", "--matrix", "toy.toml", "--filter", "toyquant=1.0"])
        .env("PATH", path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = wait_for(&scratch.path().join("install.pid"), "the install");
    let signalled = Instant::now();
    // SAFETY: sends SIGTERM to the qcompat process this test spawned.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let output = run.wait_with_output().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "stopped {:?} after SIGTERM",
        signalled.elapsed()
    );
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(stderr(&output).contains("interrupted by SIGTERM"));
    assert_gone(&pid);
}

#[test]
fn a_failing_cell_stops_the_run_and_every_other_cells_processes() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TOY);
    // toyquant 1.0's environment breaks under the install once the other cell's probe is running (its grandchild
    // wrote its pid): the freeze that follows fails, a machine fault.
    let path = fake_uv(
        &scratch,
        r#"if [ "$1" = pip ] && [ "$2" = install ] && echo "$*" | grep -q 'toyquant==1.0'; then
  while [ ! -e "$SCRATCH/go" ]; do sleep 0.1; done
  for a in "$@"; do case "$prev" in --python) rm -rf "$(dirname "$(dirname "$a")")";; esac; prev="$a"; done
  exit 0
fi"#,
    );
    let run = scratch
        .run_command(&["run", "--matrix", "toy.toml", "--jobs", "2"])
        .env("PATH", path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = scratch
        .cache()
        .join("runs/toy/toyquant=1.4/artifacts/grandchild.pid");
    let grandchild = wait_for(&pid_file, "the hanging probe");
    std::fs::write(scratch.path().join("go"), "").unwrap();
    let output = run.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("building the environment of toyquant=1.0"),
        "{}",
        stderr(&output)
    );
    assert_gone(&grandchild);
}
