//! Faults provoked for real through the binary: probe processes that crash, lie, flood or refuse to die; qcompat
//! itself killed with SIGKILL and resumed; two runs sharing one cache; a disk that fills while an environment is
//! recorded. The toy releases that misbehave are listed in fixtures/toy/README.md.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Scratch, assert_gone, fake_uv, outcome_lines, stderr, stdout, wait_for};
use qcompat::process::capped_log::{HEAD, TAIL};

fn matrix(versions: &[&str], timeout: &str) -> String {
    let versions: Vec<String> = versions.iter().map(|v| format!("\"{v}\"")).collect();
    format!(
        "name = \"toy\"\nprobes = [\"toy-load\"]\ntimeout = \"{timeout}\"\n[axes]\ntoyquant = [{}]\n",
        versions.join(", ")
    )
}

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(output)))
}

/// `outcome signature` per cell, in matrix order.
fn verdicts(report: &serde_json::Value) -> Vec<String> {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cell| {
            let probe = &cell["probes"][0];
            format!(
                "{} {} {}",
                cell["key"]["toyquant"].as_str().unwrap(),
                probe["outcome"].as_str().unwrap(),
                probe["signature"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

fn cell_dir(scratch: &Scratch, version: &str) -> std::path::PathBuf {
    scratch.cache().join(format!("runs/toy/toyquant={version}"))
}

#[test]
fn misbehaving_probes_are_each_classified_their_groups_killed_and_their_logs_capped() {
    let scratch = Scratch::new();
    let versions = [
        "1.0", "1.4", "1.5", "1.5.1", "1.5.2", "1.5.3", "1.5.4", "1.5.5", "1.5.6",
    ];
    scratch.write("toy.toml", &matrix(&versions, "3s"));
    let output = scratch.qcompat(&[
        "run", "--matrix", "toy.toml", "--format", "json", "--jobs", "4",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        verdicts(&json(&output)),
        [
            "1.0 pass -",
            "1.4 timeout timeout after 3s",
            "1.5 crash crash: SIGSEGV during quantize w",
            "1.5.1 crash crash: SIGABRT during quantize w",
            "1.5.2 crash crash: exited without reporting during quantize w",
            "1.5.3 crash crash: exited without reporting during quantize w",
            "1.5.4 crash crash: exited without reporting during quantize w",
            "1.5.5 pass -",
            "1.5.6 timeout timeout after 3s",
        ]
    );
    // The hung ones' process trees are gone: a grandchild, and a process that ignores SIGTERM.
    for pid_file in [
        "1.4/artifacts/grandchild.pid",
        "1.5.6/artifacts/stubborn.pid",
    ] {
        let pid = std::fs::read_to_string(
            scratch
                .cache()
                .join(format!("runs/toy/toyquant={pid_file}")),
        )
        .unwrap();
        assert_gone(&pid);
    }
    // Every log is kept; 50 MB of output is cut to its head and tail.
    for version in versions {
        assert!(
            cell_dir(&scratch, version).join("probes.log").is_file(),
            "{version}"
        );
    }
    let flood = std::fs::read(cell_dir(&scratch, "1.5.5").join("probes.log")).unwrap();
    assert!(flood.len() <= HEAD + TAIL + 200, "{} bytes", flood.len());
    assert!(String::from_utf8_lossy(&flood).contains("bytes dropped"));
}

/// Kills the process group `pid` belongs to (what qcompat's SIGKILL left orphaned).
fn kill_group_of(pid: &str) {
    let pid: i32 = pid.trim().parse().unwrap();
    // SAFETY: signals only the process group of a process this test's run started.
    unsafe {
        let group = libc::getpgid(pid);
        if group > 0 {
            libc::killpg(group, libc::SIGKILL);
        }
    }
}

/// Kills the group of a process when the test ends, passed or failed.
struct KillGroupOnDrop(String);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        kill_group_of(&self.0);
    }
}

#[test]
fn after_kill_9_resume_reuses_every_finished_cell_and_never_a_half_built_environment() {
    let scratch = Scratch::new();
    scratch.write(
        "toy.toml",
        &matrix(&["1.0", "1.6", "1.5.9", "1.8.dev1"], "120s"),
    );
    let gate = scratch.path().join("gate");
    std::fs::write(scratch.path().join("hang"), "").unwrap();
    // 1.8.dev1's install hangs while `hang` exists: its environment is half-built when qcompat dies.
    let path = fake_uv(
        &scratch,
        r#"if [ -e "$SCRATCH/hang" ] && [ "$1" = pip ] && [ "$2" = install ] && echo "$*" | grep -q 'toyquant==1.8.dev1'; then
  sleep 300 & echo $! > "$SCRATCH/install.pid"; wait
fi"#,
    );
    let mut first = scratch
        .run_command(&["run", "--matrix", "toy.toml", "--jobs", "2"])
        .env("PATH", &path)
        .env("QCOMPAT_TOY_GATE", &gate)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // With two slots and two cells that block, the other two have finished by the time both block.
    let install = wait_for(&scratch.path().join("install.pid"), "the hanging install");
    let waiting = wait_for(
        &cell_dir(&scratch, "1.5.9").join("artifacts/waiting.pid"),
        "the gated probe",
    );
    first.kill().unwrap();
    first.wait().unwrap();
    // SIGKILL gives qcompat no chance to kill its children's groups; its direct children die with it (the probe),
    // what they started does not (the wrapper's `sleep`): clear that.
    let _cleanup = KillGroupOnDrop(waiting.clone());
    assert_gone(&waiting);
    kill_group_of(&install);
    let envs = scratch.cache().join("envs");
    let staging = |envs: &Path| {
        std::fs::read_dir(envs)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".build-")
            })
            .count()
    };
    assert_eq!(staging(&envs), 1, "the install was killed mid-way");
    for version in ["1.0", "1.6"] {
        std::fs::write(
            cell_dir(&scratch, version).join("artifacts/finished-before-kill"),
            "",
        )
        .unwrap();
    }

    std::fs::remove_file(scratch.path().join("hang")).unwrap();
    std::fs::write(&gate, "").unwrap();
    let output = scratch
        .run_command(&[
            "run", "--matrix", "toy.toml", "--jobs", "2", "--resume", "--format", "json",
        ])
        .env("PATH", &path)
        .env("QCOMPAT_TOY_GATE", &gate)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("resuming: 2 of 4 cells already done"),
        "{}",
        stderr(&output)
    );
    for version in ["1.0", "1.6"] {
        assert!(
            cell_dir(&scratch, version)
                .join("artifacts/finished-before-kill")
                .exists(),
            "{version} was run again"
        );
    }
    let report = json(&output);
    assert_eq!(
        verdicts(&report),
        [
            "1.0 pass -",
            "1.6 pass -",
            "1.5.9 pass -",
            "1.8.dev1 pass -"
        ]
    );
    assert_eq!(
        report["cells"][3]["env"]["created"], true,
        "the half-built environment was not used"
    );
    assert_eq!(
        staging(&envs),
        0,
        "the killed build's staging folder is cleared"
    );
}

#[test]
fn two_runs_on_one_cache_build_each_environment_once_take_turns_in_a_cell_and_agree() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", &matrix(&["1.0", "1.2", "1.5.9"], "60s"));
    let gate = scratch.path().join("gate");
    let waiting = scratch.path().join("gate.waiting");
    let start = || {
        scratch
            .run_command(&[
                "run", "--matrix", "toy.toml", "--jobs", "2", "--format", "json",
            ])
            .env("QCOMPAT_TOY_GATE", &gate)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    wait_for(&waiting, "the gated probe");
    // Every cell starts at once in both runs (three slots each); 1.5.9's environment is built once, then both runs
    // reach its folder within moments, where the second must wait for the first to leave.
    std::thread::sleep(Duration::from_secs(2));
    let probes = || std::fs::read_to_string(&waiting).unwrap().lines().count();
    assert_eq!(probes(), 1, "two runs in one cell's folder at once");
    std::fs::write(&gate, "").unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(probes(), 2, "{}\n{}", stdout(&a), stdout(&b));
    assert_eq!(a.status.code(), Some(1), "1.2 fails: {}", stderr(&a));
    assert_eq!(b.status.code(), Some(1), "1.2 fails: {}", stderr(&b));
    let (a, b) = (json(&a), json(&b));
    assert_eq!(outcome_lines(&a), outcome_lines(&b));
    assert_eq!(
        verdicts(&a),
        [
            "1.0 pass -",
            "1.2 fail AttributeError: '_LazyTensor' object has no attribute 'data'",
            "1.5.9 pass -"
        ]
    );
    let created = |r: &serde_json::Value| {
        r["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["env"]["created"] == true)
            .count()
    };
    assert_eq!(created(&a) + created(&b), 3, "each environment built once");
}

/// A fresh run of a selection that another run is still working on must not empty the journal under it: the first
/// run's finished cell stays there for its `--resume`, beside the second run's.
#[test]
fn a_second_fresh_run_of_the_same_selection_keeps_the_first_runs_finished_cells() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", &matrix(&["1.0", "1.5.9"], "60s"));
    let gate = scratch.path().join("gate");
    let waiting = scratch.path().join("gate.waiting");
    let start = || {
        scratch
            .run_command(&[
                "run", "--matrix", "toy.toml", "--jobs", "1", "--format", "json",
            ])
            .env("QCOMPAT_TOY_GATE", &gate)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let entries = || journals(&scratch).lines().count();
    // One slot, cells in order: the first run has journaled 1.0 once it waits in 1.5.9.
    let first = start();
    wait_for(&waiting, "the first run's gated probe");
    assert_eq!(entries(), 1);
    // The second runs 1.0 too (1.5.9's folder is the first run's until the gate opens) and journals it.
    let second = start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while entries() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let seen = journals(&scratch);
    std::fs::write(&gate, "").unwrap();
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert_eq!(
        seen.lines().count(),
        2,
        "the first run's entry was lost:\n{seen}"
    );
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(entries(), 4, "both runs' cells are journaled");
}

fn journals(scratch: &Scratch) -> String {
    std::fs::read_dir(scratch.cache().join("runs/toy"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("journal"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

#[test]
fn a_full_disk_while_recording_an_environment_is_exit_3_with_the_path_and_nothing_recorded() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", &matrix(&["1.0"], "60s"));
    // The record of the freshly built environment lands on /dev/full: a real ENOSPC from the kernel.
    let path = fake_uv(
        &scratch,
        r#"if [ "$1" = pip ] && [ "$2" = freeze ]; then
  for a in "$@"; do case "$prev" in --python) ln -s /dev/full "$(dirname "$(dirname "$a")")/qcompat-env.json";; esac; prev="$a"; done
fi"#,
    );
    let started = Instant::now();
    let output = scratch
        .run_command(&["run", "--matrix", "toy.toml", "--update"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("No space left on device"), "{text}");
    assert!(
        text.contains(&scratch.cache().join("envs").display().to_string()),
        "names the path: {text}"
    );
    assert!(!scratch.path().join("reports/toy.snap.toml").exists());
    assert_eq!(journals(&scratch), "", "nothing recorded");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_log_that_cannot_be_written_never_breaks_the_probe() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", &matrix(&["1.5.5"], "60s"));
    // The cell's log is on a full disk (/dev/full): the probe's 50 MB must still have somewhere to go.
    let cell = cell_dir(&scratch, "1.5.5");
    std::fs::create_dir_all(&cell).unwrap();
    std::os::unix::fs::symlink("/dev/full", cell.join("probes.log")).unwrap();
    let output = scratch.qcompat(&["run", "--matrix", "toy.toml", "--format", "json"]);
    assert_eq!(
        verdicts(&json(&output)),
        ["1.5.5 pass -"],
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("No space left on device"),
        "the lost log is reported"
    );
}
