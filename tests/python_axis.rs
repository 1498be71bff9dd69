//! Python as an axis: `python = ["3.11", "3.12"]` makes one cell per interpreter, each environment built with its
//! own interpreter; keys, filters, snapshots, bisect and the preloaded interpreters treat it as any axis. Needs
//! python3.11 and python3.12 installed (pyenv's folders or PATH), as on the development machines and in CI.

mod common;

use common::{Scratch, assert_reasons_name, stderr, stdout, uv_reasons};

const TWO_PYTHONS: &str = r#"
name = "pythons"
python = ["3.11", "3.12"]
probes = ["toy-load"]
timeout = "20s"

[axes]
toyquant = ["1.0", "1.2"]
"#;

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(output), stderr(output)))
}

/// `python=3.11,toyquant=1.0` per cell of a JSON report.
fn keys(report: &serde_json::Value) -> Vec<String> {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cell| {
            let key = cell["key"].as_object().unwrap();
            let pairs: Vec<String> = key
                .iter()
                .map(|(a, v)| format!("{a}={}", v.as_str().unwrap()))
                .collect();
            pairs.join(",")
        })
        .collect()
}

/// The interpreter version each cell's environment was made with (its `pyvenv.cfg`).
fn env_pythons(scratch: &Scratch, report: &serde_json::Value) -> Vec<String> {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cell| {
            let hash = cell["env"]["hash"].as_str().unwrap();
            let config = scratch.cache().join("envs").join(hash).join("pyvenv.cfg");
            let text = std::fs::read_to_string(config).unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with("version_info"))
                .unwrap();
            line.split('=').nth(1).unwrap().trim().to_string()
        })
        .collect()
}

#[test]
fn each_cell_runs_in_its_own_interpreter_and_python_reads_as_an_axis() {
    let scratch = Scratch::new();
    scratch.write("pythons.toml", TWO_PYTHONS);
    let output = scratch.qcompat(&["run", "--matrix", "pythons.toml", "--format", "json"]);
    let report = json(&output);
    assert_eq!(
        keys(&report),
        [
            "python=3.11,toyquant=1.0",
            "python=3.11,toyquant=1.2",
            "python=3.12,toyquant=1.0",
            "python=3.12,toyquant=1.2",
        ]
    );
    let pythons = env_pythons(&scratch, &report);
    for (python, want) in pythons.iter().zip(["3.11.", "3.11.", "3.12.", "3.12."]) {
        assert!(python.starts_with(want), "{pythons:?}");
    }
    // Never a requirement: the environments hold no `python` distribution.
    for cell in report["cells"].as_array().unwrap() {
        assert!(cell["resolved"].get("python").is_none(), "{cell}");
    }
    let outcomes = common::outcome_lines(&report);
    assert!(
        outcomes.contains("python=3.12,toyquant=1.0 toy-load pass"),
        "{outcomes}"
    );
    assert!(
        outcomes.contains("python=3.12,toyquant=1.2 toy-load fail"),
        "{outcomes}"
    );

    // The headline speaks of the interpreter like any axis, and the snapshot keys it.
    let table = scratch.qcompat(&["run", "--matrix", "pythons.toml", "--update"]);
    assert!(stdout(&table).contains("python: "), "{}", stdout(&table));
    let snapshot =
        std::fs::read_to_string(scratch.path().join("reports/pythons.snap.toml")).unwrap();
    assert!(
        snapshot.contains(r#"key = { python = "3.12", toyquant = "1.2" }"#),
        "{snapshot}"
    );
    let check = scratch.qcompat(&["run", "--matrix", "pythons.toml", "--check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "as recorded: {}",
        stderr(&check)
    );

    // A filter on it selects cells as on any axis.
    let filtered = scratch.qcompat(&[
        "run",
        "--matrix",
        "pythons.toml",
        "--format",
        "json",
        "--filter",
        "python=3.12",
    ]);
    assert_eq!(
        keys(&json(&filtered)),
        ["python=3.12,toyquant=1.0", "python=3.12,toyquant=1.2"]
    );
}

#[test]
fn a_package_without_a_wheel_for_an_interpreter_is_unresolvable_there() {
    let scratch = Scratch::new();
    let matrix =
        TWO_PYTHONS.replace(r#"["1.0", "1.2"]"#, r#"["1.0"]"#) + "[pins]\ntoyold = \"1.0\"\n";
    scratch.write("pythons.toml", &matrix);
    let report = json(&scratch.qcompat(&["run", "--matrix", "pythons.toml", "--format", "json"]));
    let (outcomes, reasons) = uv_reasons(&common::outcome_lines(&report));
    assert!(
        outcomes.contains("python=3.11,toyquant=1.0 toy-load pass"),
        "{outcomes}"
    );
    assert!(
        outcomes.contains("python=3.12,toyquant=1.0 toy-load unresolvable"),
        "{outcomes}"
    );
    assert_reasons_name(&reasons, &["toyold"]);
}

#[test]
fn bisect_holds_the_interpreter_like_any_other_axis() {
    let scratch = Scratch::new();
    scratch.write("pythons.toml", TWO_PYTHONS);
    let bisect = |extra: &[&str]| {
        let mut args = vec![
            "bisect",
            "--matrix",
            "pythons.toml",
            "--axis",
            "toyquant",
            "--good",
            "1.0",
            "--bad",
            "1.2",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        scratch.qcompat(&args)
    };
    let unheld = bisect(&[]);
    assert_eq!(unheld.status.code(), Some(2), "{}", stderr(&unheld));
    assert!(
        stderr(&unheld).contains("--filter python=VERSION"),
        "{}",
        stderr(&unheld)
    );

    let held = bisect(&["--filter", "python=3.12"]);
    let text = stdout(&held);
    assert!(held.status.success(), "{text}\n{}", stderr(&held));
    let found: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(found["first_bad"], "1.2", "{text}");
    // Every cell the bisection probed ran on 3.12 (each has its folder under the run's); none on 3.11.
    let runs = scratch.cache().join("runs/pythons");
    let cells: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("python="))
        .filter(|name| !name.ends_with(".lock"))
        .collect();
    assert!(
        cells.contains(&"python=3.12_toyquant=1.1".to_string()),
        "{cells:?}"
    );
    assert!(
        cells.iter().all(|c| c.starts_with("python=3.12_")),
        "{cells:?}"
    );

    let interpreter = scratch.qcompat(&["bisect", "--matrix", "pythons.toml", "--axis", "python"]);
    assert_eq!(interpreter.status.code(), Some(2));
    assert!(
        stderr(&interpreter).contains("interpreters are not bisected"),
        "{}",
        stderr(&interpreter)
    );
}

#[test]
fn a_python_installed_nowhere_stops_the_run_before_any_cell_naming_where_it_looked() {
    let scratch = Scratch::new();
    scratch.write(
        "pythons.toml",
        &TWO_PYTHONS.replace("\"3.12\"]", "\"3.12\", \"3.99\"]"),
    );
    // A pyenv root of our own, holding this machine's installed versions: the message names it.
    let versions = scratch.path().join("pyenv");
    std::fs::create_dir_all(versions.join("versions")).unwrap();
    let home = std::env::var("HOME").unwrap();
    let real = std::env::var("PYENV_ROOT").unwrap_or(format!("{home}/.pyenv"));
    for entry in std::fs::read_dir(format!("{real}/versions"))
        .into_iter()
        .flatten()
    {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(
            entry.path(),
            versions.join("versions").join(entry.file_name()),
        )
        .unwrap();
    }
    let output = scratch
        .run_command(&["run", "--matrix", "pythons.toml"])
        .env("PYENV_ROOT", &versions)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("python 3.99 is not installed"), "{text}");
    assert!(text.contains("python3.99, python3 on PATH"), "{text}");
    assert!(
        text.contains(&format!("{}", versions.join("versions").display())),
        "{text}"
    );
    assert!(text.contains("uv python find"), "{text}");
    assert!(text.contains("--allow-python-downloads"), "{text}");
    assert!(
        !scratch.cache().join("envs").read_dir().is_ok_and(
            |mut d| d.any(|e| { !e.unwrap().file_name().to_string_lossy().starts_with('.') })
        ),
        "no environment was built"
    );

    // Allowed to, uv is asked to download it (this one it cannot: no such Python exists).
    let allowed = scratch
        .run_command(&[
            "run",
            "--matrix",
            "pythons.toml",
            "--allow-python-downloads",
        ])
        .env("PYENV_ROOT", &versions)
        .output()
        .unwrap();
    let text = stderr(&allowed);
    assert_eq!(allowed.status.code(), Some(3), "{text}");
    assert!(
        text.contains("python 3.99 is not installed here, and uv could not download it"),
        "{text}"
    );
}

#[test]
fn the_interpreter_is_no_package_and_its_list_takes_versions() {
    let scratch = Scratch::new();
    let refused = |matrix: &str, says: &str| {
        scratch.write("bad.toml", matrix);
        let output = scratch.qcompat(&["run", "--matrix", "bad.toml"]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains("bad.toml:"), "{text}");
        assert!(text.contains(says), "{matrix}\n{text}");
    };
    let axis = "probes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\"]\n";
    refused(&format!("python = []\n{axis}"), "`python` lists no version");
    refused(
        &format!("python = [\"3.11\", \"3.11.0\"]\n{axis}"),
        "the same version as",
    );
    refused(
        &format!("python = [\"/usr/bin/python3\"]\n{axis}"),
        "a list takes versions",
    );
    refused(
        &format!("{axis}Python = [\"3.11\"]\n"),
        "is the interpreter, not a package",
    );
    refused(
        &format!("{axis}[pins]\npython = \"3.11\"\n"),
        "is the interpreter, not a package",
    );
    refused(
        &format!("python = [\"3.11\"]\n{axis}[[include]]\npyton = \"3.11\"\n"),
        "did you mean `python`",
    );
}

const PRELOADED: &str = r#"
name = "preloaded"
python = ["3.11", "3.12"]
probes = ["toy-load"]
timeout = "60s"
preload = ["toyheavy"]

[axes]
toyquant = ["1.0", "1.5.9"]
toyheavy = ["1.0"]
"#;

/// The interpreter binary process `pid` runs, and its parent's pid.
fn exe_and_parent(pid: &str) -> (String, String) {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let parent = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap();
    (exe.display().to_string(), parent.to_string())
}

#[test]
fn each_interpreter_preloads_its_own_base() {
    let scratch = Scratch::new();
    scratch.write("preloaded.toml", PRELOADED);
    let gate = scratch.path().join("gate");
    // toyquant 1.5.9 waits at the gate: while it waits, each probe and the base it forked from can be looked at.
    let running = scratch
        .run_command(&[
            "run",
            "--matrix",
            "preloaded.toml",
            "--format",
            "json",
            "--jobs",
            "4",
        ])
        .env("QCOMPAT_TOY_GATE", &gate)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let waiting = gate.with_extension("waiting");
    let started = std::time::Instant::now();
    let pids = loop {
        let text = common::wait_for(&waiting, "a gated probe");
        let pids: Vec<String> = text.lines().map(str::to_string).collect();
        if pids.len() == 2 {
            break pids;
        }
        if started.elapsed().as_secs() > 120 {
            std::fs::write(&gate, "").unwrap();
            panic!("two gated probes never waited together: {pids:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let seen: Vec<(String, String)> = pids
        .iter()
        .map(|pid| {
            let (exe, parent) = exe_and_parent(pid);
            (exe, exe_and_parent(&parent).0)
        })
        .collect();
    std::fs::write(&gate, "").unwrap();
    let output = running.wait_with_output().unwrap();
    let report = json(&output);
    let interpreters: Vec<&str> = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["probes"][0]["interpreter"].as_str().unwrap())
        .collect();
    // Two cells per interpreter: each pair has company and forks.
    assert_eq!(interpreters, ["forked"; 4], "{}", stderr(&output));
    // Each gated probe is its cell's interpreter, forked from a base of that same interpreter.
    for (exe, base) in &seen {
        assert_eq!(exe, base, "{seen:?}");
    }
    assert_ne!(seen[0].0, seen[1].0, "one probe per interpreter: {seen:?}");
    let outcomes = common::outcome_lines(&report);
    assert_eq!(outcomes.matches(" pass").count(), 4, "{outcomes}");
}

#[test]
fn shards_of_a_python_axis_merge_into_the_whole_run_and_known_windows_name_python() {
    let scratch = Scratch::new();
    let matrix = format!(
        "{TWO_PYTHONS}\n[[known]]\nid = \"lazy-data-on-3.12\"\nsignature = \"object has no attribute 'data'\"\n\
         when = {{ python = \">=3.12\", toyquant = \"==1.2\" }}\n"
    );
    scratch.write("pythons.toml", &matrix);
    let planned = scratch.qcompat(&[
        "plan",
        "--matrix",
        "pythons.toml",
        "--shards",
        "2",
        "--format",
        "json",
        "--output",
        "plan.json",
    ]);
    assert!(planned.status.success(), "{}", stderr(&planned));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scratch.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(
        plan["axes"]["python"],
        serde_json::json!(["3.11", "3.12"]),
        "{plan}"
    );
    for k in ["1", "2"] {
        let (shard, part) = (format!("{k}/2"), format!("p{k}.snap.toml"));
        let output = scratch.qcompat(&[
            "run",
            "--plan",
            "plan.json",
            "--shard",
            &shard,
            "--part",
            &part,
        ]);
        assert!(
            output.status.code().is_some_and(|c| c <= 1),
            "{}",
            stderr(&output)
        );
    }
    let merged = scratch
        .command(&[
            "merge",
            "p1.snap.toml",
            "p2.snap.toml",
            "--output",
            "merged.snap.toml",
        ])
        .output()
        .unwrap();
    assert!(merged.status.success(), "{}", stderr(&merged));
    let whole = scratch.qcompat(&[
        "run",
        "--matrix",
        "pythons.toml",
        "--update",
        "--snapshot",
        "whole.snap.toml",
    ]);
    assert_eq!(
        whole.status.code(),
        Some(1),
        "3.11's 1.2 still fails: {}",
        stderr(&whole)
    );
    let read = |name: &str| std::fs::read_to_string(scratch.path().join(name)).unwrap();
    assert_eq!(read("merged.snap.toml"), read("whole.snap.toml"));
    // The known window names the interpreter: 3.12's failure is expected, 3.11's is not.
    let report = json(&scratch.qcompat(&["run", "--matrix", "pythons.toml", "--format", "json"]));
    let outcomes = common::outcome_lines(&report);
    assert!(
        outcomes.contains("python=3.12,toyquant=1.2 toy-load xfail"),
        "{outcomes}"
    );
    assert!(
        outcomes.contains("python=3.11,toyquant=1.2 toy-load fail"),
        "{outcomes}"
    );
}

#[test]
fn include_and_exclude_name_the_interpreter() {
    let scratch = Scratch::new();
    let matrix = format!(
        "{TWO_PYTHONS}\n[[exclude]]\npython = \"3.12\"\ntoyquant = \"1.2\"\n\n[[include]]\npython = \"3.12\"\n\
         toyquant = \"1.6\"\n"
    );
    scratch.write("pythons.toml", &matrix);
    let listed = scratch.qcompat(&["run", "--matrix", "pythons.toml", "--list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(
        stdout(&listed).lines().collect::<Vec<_>>(),
        [
            "python=3.11,toyquant=1.0",
            "python=3.11,toyquant=1.2",
            "python=3.12,toyquant=1.0",
            "python=3.12,toyquant=1.6",
        ]
    );
}
