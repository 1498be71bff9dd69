//! Probes the matrix declares (`[probe.NAME]`, docs/probes.md) on the toy releases (fixtures/toy/README.md),
//! offline: a command's verdicts, its copy of `dir` per cell, the swaps interface, forked runs that behave as fresh
//! ones, and a user probe through every report, snapshots, bisect, monitor, shards and --resume. The pytest rules run
//! real pytest from the index: those tests are `#[ignore]`d (`.ci/run` runs them).

mod common;

use common::{Scratch, outcome_lines, stderr, stdout};

/// A user's script: `python probe.py MODE` does what MODE says after loading weights through toyquant as the
/// `toy-load` probe does, and records what it saw in its artifacts.
const SCRIPT: &str = r#"
import json, os, sys
import toyquant

seen = {"argv": sys.argv, "cwd": os.getcwd(), "path": sys.path, "env": dict(os.environ),
        "executable": sys.executable, "file": __file__}
with open(os.path.join(os.environ["QCOMPAT_ARTIFACTS"], "seen.json"), "w") as fp:
    json.dump(seen, fp, indent=1, sort_keys=True)
with open("written-here.txt", "a") as fp:  # the copy of dir is this cell's alone
    fp.write("x")
mode = sys.argv[1] if len(sys.argv) > 1 else "load"
if mode == "load":
    state = toyquant.lazy_load({"w": [0.25, -1.0, 2.0, 0.75]})
    print("loaded", state["w"].data)
elif mode == "exit":
    print("step 3: loss is nan")
    sys.exit(3)
elif mode == "abort":
    os.abort()
elif mode == "hang":
    import time
    time.sleep(60)
elif mode == "swaps":
    if os.environ.get("QCOMPAT_CPU_SWAPS") == "1":
        with open(os.environ["QCOMPAT_SWAPS_FILE"], "a") as fp:
            fp.write(json.dumps({"swap": "toy kernel -> CPU"}) + "\n")
            fp.write(json.dumps({"swap": "toy kernel -> CPU"}) + "\n")
"#;

fn probe_dir(scratch: &Scratch) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(scratch.path().join("probe")).unwrap();
    scratch.write("probe/probe.py", SCRIPT);
    // Executable, but its interpreter does not exist: found, and cannot start.
    let broken = scratch.write("probe/broken.sh", "#!/nonexistent/interpreter\n");
    std::fs::set_permissions(broken, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn json_run(scratch: &Scratch, matrix: &str, extra: &[&str]) -> (serde_json::Value, i32) {
    json_run_on(scratch, matrix, extra, "auto")
}

/// `run` with `QCOMPAT_DEVICE=device`.
fn json_run_on(
    scratch: &Scratch,
    matrix: &str,
    extra: &[&str],
    device: &str,
) -> (serde_json::Value, i32) {
    let mut args = vec!["run", "--matrix", matrix, "--format", "json", "--jobs", "1"];
    args.extend_from_slice(extra);
    let mut command = scratch.run_command(&args);
    let output = command.env("QCOMPAT_DEVICE", device).output().unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    (report, output.status.code().unwrap())
}

const VERDICTS: &str = r#"
name = "verdicts"
probes = ["toy-load", "load", "exit", "abort", "hang", "missing", "broken"]
timeout = "20s"

[axes]
toyquant = ["1.0", "1.2"]

[probe.load]
command = ["python", "probe.py", "load"]
dir = "probe"
env = { MY_FLAG = "on" }

[probe.exit]
command = ["python", "probe.py", "exit"]
dir = "probe"

[probe.abort]
command = ["python", "probe.py", "abort"]
dir = "probe"

[probe.hang]
command = ["python", "probe.py", "hang"]
dir = "probe"
timeout = "2s"

[probe.missing]
command = ["no-such-program", "--flag"]
dir = "probe"

[probe.broken]
command = ["./broken.sh"]
dir = "probe"

[[known]]
id = "toy-lazy-data"
signature = "'_LazyTensor' object has no attribute 'data'"
when = { toyquant = ">=1.2" }
probes = ["load"]
"#;

#[test]
fn a_command_passes_fails_crashes_times_out_or_is_not_found() {
    let scratch = Scratch::new();
    probe_dir(&scratch);
    scratch.write("verdicts.toml", VERDICTS);
    let mut command = scratch.run_command(&[
        "run",
        "--matrix",
        "verdicts.toml",
        "--format",
        "json",
        "--jobs",
        "2",
    ]);
    let output = command.env("GITHUB_TOKEN", "secret").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    insta::assert_snapshot!(outcome_lines(&report), @r"
    toyquant=1.0 toy-load pass
    toyquant=1.0 load pass
    toyquant=1.0 exit fail
        signature: exit 3: step 3: loss is nan
    toyquant=1.0 abort crash
        signature: crash: SIGABRT
    toyquant=1.0 hang timeout
        signature: timeout after 2s
    toyquant=1.0 missing fail
        signature: command not found in the cell: `no-such-program` is neither `python`, a program on the cell's PATH nor an executable file in the probe's dir
    toyquant=1.0 broken fail
        signature: command could not start in the cell: `broken.sh`: No such file or directory (os error 2)
    toyquant=1.2 toy-load fail
        signature: AttributeError: '_LazyTensor' object has no attribute 'data'
        frame: toyquant/__init__.py:__getattr__
    toyquant=1.2 load xfail
        signature: AttributeError: '_LazyTensor' object has no attribute 'data'
        frame: toyquant/__init__.py:__getattr__
        known: toy-lazy-data
    toyquant=1.2 exit fail
        signature: exit 3: step 3: loss is nan
    toyquant=1.2 abort crash
        signature: crash: SIGABRT
    toyquant=1.2 hang timeout
        signature: timeout after 2s
    toyquant=1.2 missing fail
        signature: command not found in the cell: `no-such-program` is neither `python`, a program on the cell's PATH nor an executable file in the probe's dir
    toyquant=1.2 broken fail
        signature: command could not start in the cell: `broken.sh`: No such file or directory (os error 2)
    ");
    // The script's traceback frames, outermost first, as a built-in probe's are.
    let load = &report["cells"][1]["probes"][1];
    assert_eq!(
        load["frames"],
        serde_json::json!(["toyquant/__init__.py:__getattr__"])
    );

    // Each cell ran in its own copy of `dir`, in the cell's activated environment, with the probe's variables and
    // none of qcompat's own.
    for cell in ["toyquant=1.0", "toyquant=1.2"] {
        let place = scratch
            .cache()
            .join("runs/verdicts")
            .join(cell)
            .join("artifacts/declared/load");
        let written = std::fs::read_to_string(place.join("work/written-here.txt")).unwrap();
        assert_eq!(written, "x", "{cell}: a fresh copy per cell and run");
        let seen: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(place.join("artifacts/seen.json")).unwrap(),
        )
        .unwrap();
        let work = place.join("work").display().to_string();
        assert_eq!(seen["cwd"], work.as_str());
        assert_eq!(seen["argv"], serde_json::json!(["probe.py", "load"]));
        assert_eq!(seen["env"]["MY_FLAG"], "on");
        assert!(seen["env"].get("GITHUB_TOKEN").is_none());
        let venv = seen["env"]["VIRTUAL_ENV"].as_str().unwrap();
        assert!(
            seen["env"]["PATH"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{venv}/bin:"))
        );
        assert_eq!(seen["executable"], format!("{venv}/bin/python").as_str());
        assert!(seen["env"].get("QCOMPAT_CPU_SWAPS").is_none());
    }
    // The other probe of the same cell never saw this one's copy.
    let exit_copy = scratch
        .cache()
        .join("runs/verdicts/toyquant=1.0/artifacts/declared/exit/work");
    assert_eq!(
        std::fs::read_to_string(exit_copy.join("written-here.txt")).unwrap(),
        "x"
    );
    assert!(common::stdout(&output).contains("\"interpreter\": \"fresh\""));
}

#[test]
fn declared_probes_are_checked_and_located() {
    let scratch = Scratch::new();
    probe_dir(&scratch);
    let cases = [
        (
            "collision.toml",
            "probes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\"]\n[probe.toy-load]\ncommand = [\"python\", \"probe.py\"]\ndir = \"probe\"\n",
        ),
        (
            "unknown-key.toml",
            "probes = [\"mine\"]\n[axes]\ntoyquant = [\"1.0\"]\n[probe.mine]\ncommand = [\"python\", \"probe.py\"]\ndir = \"probe\"\ntimout = \"5m\"\n",
        ),
        (
            "missing-dir.toml",
            "probes = [\"mine\"]\n[axes]\ntoyquant = [\"1.0\"]\n[probe.mine]\ncommand = [\"python\", \"probe.py\"]\ndir = \"nowhere\"\n",
        ),
        (
            "no-dir.toml",
            "probes = [\"mine\"]\n[axes]\ntoyquant = [\"1.0\"]\n[probe.mine]\ncommand = [\"python\", \"probe.py\"]\n",
        ),
        (
            "empty-command.toml",
            "probes = [\"mine\"]\n[axes]\ntoyquant = [\"1.0\"]\n[probe.mine]\ncommand = []\ndir = \"probe\"\n",
        ),
        (
            "bad-timeout.toml",
            "probes = [\"mine\"]\n[axes]\ntoyquant = [\"1.0\"]\n[probe.mine]\ncommand = [\"python\", \"probe.py\"]\ndir = \"probe\"\ntimeout = \"soon\"\n",
        ),
        (
            "bad-role.toml",
            "probes = [\"mine\"]\n[axes]\ntoyquant = [\"1.0\"]\n[probe.mine]\ncommand = [\"python\", \"probe.py\"]\ndir = \"probe\"\nrole = \"baseline\"\n",
        ),
        (
            "undeclared.toml",
            "probes = [\"mine\", \"yours\"]\n[axes]\ntoyquant = [\"1.0\"]\n[probe.mine]\ncommand = [\"python\", \"probe.py\"]\ndir = \"probe\"\n",
        ),
        (
            "yaml.yaml",
            "probes: [mine]\naxes:\n  toyquant: [\"1.0\"]\nprobe:\n  mine:\n    command: []\n    dir: nowhere\n",
        ),
    ];
    let mut seen = String::new();
    for (name, text) in cases {
        scratch.write(name, text);
        let output = scratch
            .command(&["run", "--matrix", name, "--list"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        seen.push_str(&scratch.scrub(&stderr(&output)));
    }
    insta::assert_snapshot!("declared_probe_errors", seen);
}

#[test]
fn the_swaps_are_set_up_off_cuda_and_each_one_recorded() {
    let scratch = Scratch::new();
    probe_dir(&scratch);
    scratch.write(
        "swaps.toml",
        r#"
name = "swaps"
probes = ["swaps"]
[axes]
toyquant = ["1.0"]
[probe.swaps]
command = ["python", "probe.py", "swaps"]
dir = "probe"
cpu-swaps = true
"#,
    );
    let (report, code) = json_run_on(&scratch, "swaps.toml", &[], "cpu");
    assert_eq!(code, 0, "{report}");
    let probe = &report["cells"][0]["probes"][0];
    assert_eq!(probe["outcome"], "pass");
    assert_eq!(
        probe["substitutions"],
        serde_json::json!(["toy kernel -> CPU"])
    );
    let place = scratch
        .cache()
        .join("runs/swaps/toyquant=1.0/artifacts/declared/swaps");
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(place.join("artifacts/seen.json")).unwrap())
            .unwrap();
    let env = &seen["env"];
    assert_eq!(env["QCOMPAT_CPU_SWAPS"], "1");
    let swaps_file = place.join("artifacts/swaps.jsonl").display().to_string();
    assert_eq!(env["QCOMPAT_SWAPS_FILE"], swaps_file.as_str());
    // The folder of qcompat's sitecustomize.py comes first, so Python imports it at start-up.
    let first = env["PYTHONPATH"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    assert!(first.ends_with("/scripts/usercustomize"), "{first}");
    assert!(
        std::path::Path::new(&first)
            .join("sitecustomize.py")
            .is_file()
    );
    assert_eq!(seen["path"][1], first.as_str());

    // Never on CUDA: none of it is set, and nothing is recorded.
    let (report, _) = json_run_on(&scratch, "swaps.toml", &[], "cuda");
    assert_eq!(
        report["cells"][0]["probes"][0]["substitutions"],
        serde_json::json!([])
    );
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(place.join("artifacts/seen.json")).unwrap())
            .unwrap();
    assert!(seen["env"].get("QCOMPAT_CPU_SWAPS").is_none());
    assert!(seen["env"].get("PYTHONPATH").is_none());
}

const FORKS: &str = r#"
name = "forks"
probes = ["script", "module", "console", "failing"]
timeout = "20s"
preload = ["toyheavy"]

[axes]
toyquant = ["1.0", "1.2"]
toyheavy = ["1.0"]

[probe.script]
command = ["python", "probe.py", "load", "two words"]
dir = "probe"

[probe.module]
command = ["python", "-m", "probe", "load", "--flag"]
dir = "probe"

[probe.console]
command = ["toyhelper-run", "probe.py", "load"]
dir = "probe"
deps = ["toyhelper==1.0"]    # its console script is the program: installed into every cell

[probe.failing]
command = ["python", "probe.py", "exit"]
dir = "probe"
cpu-swaps = true
"#;

/// What each probe saw in the 1.2 cell, by probe.
fn seen_in(scratch: &Scratch, probes: &[&str]) -> Vec<serde_json::Value> {
    let cell = scratch
        .cache()
        .join("runs/forks/toyquant=1.2_toyheavy=1.0/artifacts/declared");
    probes
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(cell.join(p).join("artifacts/seen.json")).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect()
}

#[test]
fn forked_command_probes_see_and_give_what_fresh_ones_do() {
    let scratch = Scratch::new();
    probe_dir(&scratch);
    scratch.write("forks.toml", FORKS);
    let probes = ["script", "module", "console", "failing"];
    let (fresh, code) = json_run(&scratch, "forks.toml", &["--isolate"]);
    assert_eq!(code, 1, "{fresh}");
    let fresh_seen = seen_in(&scratch, &probes);
    let (forked, code) = json_run(&scratch, "forks.toml", &[]);
    assert_eq!(code, 1, "{forked}");
    assert_eq!(outcome_lines(&forked), outcome_lines(&fresh));
    assert_eq!(seen_in(&scratch, &probes), fresh_seen);
    let interpreters = |report: &serde_json::Value| -> Vec<String> {
        report["cells"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["probes"].as_array().unwrap())
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["interpreter"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert!(interpreters(&fresh).iter().all(|i| i.ends_with(" fresh")));
    let forked_ones = interpreters(&forked);
    for probe in probes {
        assert!(
            forked_ones.contains(&format!("{probe} forked")),
            "{forked_ones:?}"
        );
    }
    // `python -m` sees its module's file as argv[0], as Python sets it.
    let module = &fresh_seen[1];
    assert!(
        module["argv"][0]
            .as_str()
            .unwrap()
            .ends_with("/work/probe.py"),
        "{module}"
    );
    assert_eq!(module["argv"][1], "load");
    // The same traceback, whatever interpreter ran the failing script: qcompat's fork server leaves no frame in it.
    let log = std::fs::read_to_string(
        scratch
            .cache()
            .join("runs/forks/toyquant=1.2_toyheavy=1.0/probes.log"),
    )
    .unwrap();
    assert!(!log.contains("_forkserver.py"), "{log}");
}

const FLOW: &str = r#"
name = "flow"
probes = ["load", "plain"]
timeout = "20s"

[axes]
toyquant = ["1.0", "1.2"]

[probe.load]
command = ["python", "probe.py", "load"]
dir = "probe"
role = "quantized"
description = "our loader, quantized"

[probe.plain]
command = ["python", "plain.py"]
dir = "probe"
role = "control"
"#;

fn flow_scratch() -> Scratch {
    let scratch = Scratch::new();
    probe_dir(&scratch);
    scratch.write(
        "probe/plain.py",
        "import toyquant\nprint(sum(toyquant.load({'w': [1.0, 2.0]})['w'].data))\n",
    );
    scratch.write("flow.toml", FLOW);
    scratch
}

fn code_of(output: &std::process::Output) -> i32 {
    output.status.code().unwrap()
}

#[test]
fn a_user_probe_goes_through_snapshots_every_report_diff_bisect_shards_and_resume() {
    let scratch = flow_scratch();
    let read = |name: &str| std::fs::read_to_string(scratch.path().join(name)).unwrap();
    let update = scratch.qcompat(&["run", "--matrix", "flow.toml", "--update"]);
    assert_eq!(code_of(&update), 1, "1.2 fails: {}", stderr(&update));
    let snapshot = read("reports/flow.snap.toml");
    assert!(snapshot.contains("name = \"load\"\noutcome = \"fail\"\nsignature = \"AttributeError: '_LazyTensor' object has no attribute 'data'\"\nframe = \"toyquant/__init__.py:__getattr__\"\ndeclared = true\nrole = \"quantized\"\n"), "{snapshot}");
    assert!(
        snapshot.contains(
            "name = \"plain\"\noutcome = \"pass\"\ndeclared = true\nrole = \"control\"\n"
        ),
        "{snapshot}"
    );
    let check = scratch.qcompat(&["run", "--matrix", "flow.toml", "--check"]);
    assert_eq!(code_of(&check), 0, "{}", stderr(&check));

    // Every report of the snapshot names the probe and its quantization contrast.
    for format in ["table", "markdown", "junit", "json", "html"] {
        let output = scratch
            .command(&["report", "reports/flow.snap.toml", "--format", format])
            .output()
            .unwrap();
        assert_eq!(code_of(&output), 0, "{format}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(
            text.contains("load") && text.contains("_LazyTensor"),
            "{format}: {text}"
        );
        if matches!(format, "table" | "markdown" | "html") {
            assert!(
                text.contains("load fails while plain passes"),
                "{format}: {text}"
            );
        }
        if format == "json" {
            let report: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                report["quantization_contrast"][0]["failing"],
                serde_json::json!(["load"])
            );
        }
    }
    // A snapshot where the probe passed at 1.2: the diff calls the recorded failure a regression.
    let passing = snapshot.replacen(
        "name = \"load\"\noutcome = \"fail\"\nsignature = \"AttributeError: '_LazyTensor' object has no attribute 'data'\"\nframe = \"toyquant/__init__.py:__getattr__\"\n",
        "name = \"load\"\noutcome = \"pass\"\n",
        2,
    );
    scratch.write("old.snap.toml", &passing);
    let diff = scratch
        .command(&[
            "diff",
            "old.snap.toml",
            "reports/flow.snap.toml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let diff: serde_json::Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(diff["summary"]["regressions"], 1, "{diff}");

    let bisect = scratch.qcompat(&[
        "bisect",
        "--matrix",
        "flow.toml",
        "--axis",
        "toyquant",
        "--good",
        "1.0",
        "--bad",
        "1.2.1",
        "--probe",
        "load",
        "--format",
        "json",
        "--jobs",
        "1",
    ]);
    let found: serde_json::Value = serde_json::from_slice(&bisect.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&bisect)));
    // 1.1 has no CPU kernel, which `toy-load` needs and this probe does not: here it is good.
    assert_eq!(found["first_bad"], "1.2", "{found}");
    assert_eq!(found["last_good"], "1.1");
    assert_eq!(
        found["signature"],
        "AttributeError: '_LazyTensor' object has no attribute 'data'"
    );

    // Two shards merge to what one whole run wrote.
    let plan = scratch.qcompat(&[
        "plan",
        "--matrix",
        "flow.toml",
        "--shards",
        "2",
        "--output",
        "plan.json",
    ]);
    assert_eq!(code_of(&plan), 0, "{}", stderr(&plan));
    for k in ["1", "2"] {
        let (shard, part) = (format!("{k}/2"), format!("p{k}.snap.toml"));
        let run = scratch.qcompat(&[
            "run",
            "--plan",
            "plan.json",
            "--shard",
            &shard,
            "--part",
            &part,
        ]);
        assert!(matches!(code_of(&run), 0 | 1), "{}", stderr(&run));
    }
    let merge = scratch
        .command(&[
            "merge",
            "p1.snap.toml",
            "p2.snap.toml",
            "--output",
            "merged.snap.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(code_of(&merge), 0, "{}", stderr(&merge));
    assert_eq!(read("merged.snap.toml"), snapshot);

    // --resume reuses both cells; an edited probe is another probe, run again.
    let resumed = scratch.qcompat(&["run", "--matrix", "flow.toml", "--resume"]);
    assert!(
        stderr(&resumed).contains("resuming: 2 of 2 cells already done"),
        "{}",
        stderr(&resumed)
    );
    scratch.write("probe/plain.py", "print('edited')\n");
    let edited = scratch.qcompat(&["run", "--matrix", "flow.toml", "--resume"]);
    assert!(!stderr(&edited).contains("resuming"), "{}", stderr(&edited));
}

const SUITE: &str = r#"
import pytest
import toyquant

def test_loads():
    assert toyquant.load({"w": [1.0]})["w"].data == [1.0]

def test_lazy_data():
    assert toyquant.lazy_load({"w": [1.0]})["w"].data == [1.0]

@pytest.mark.xfail(reason="known: no CPU kernel")
def test_kernel():
    toyquant.quantize([1.0], "cuda-only-please")
    raise RuntimeError("no kernel")

@pytest.mark.xfail(reason="maybe fixed")
def test_fixed():
    pass

@pytest.mark.skip(reason="needs CUDA")
def test_on_gpu():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_setup(broken):
    pass
"#;

const PYTEST: &str = r#"
name = "pytests"
probes = ["suite", "gpu-only", "skips", "empty", "expected", "clean"]
timeout = "60s"
preload = ["toyheavy"]

[axes]
toyquant = ["1.2"]
toyheavy = ["1.0"]

[[include]]
toyquant = "1.0"
toyheavy = "1.0"

[probe.suite]
command = ["pytest", "-q", "tests/test_suite.py"]
dir = "probe"
deps = ["pytest"]

[probe.gpu-only]
command = ["python", "-m", "pytest", "tests/test_gpu.py"]
dir = "probe"

[probe.skips]
command = ["pytest", "tests/test_skips.py"]
dir = "probe"

[probe.empty]
command = ["pytest", "tests/test_empty.py"]
dir = "probe"

[probe.expected]
command = ["py.test", "tests/test_expected.py"]
dir = "probe"

[probe.clean]
command = ["pytest", "tests/test_clean.py"]
dir = "probe"
"#;

fn pytest_scratch() -> Scratch {
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.path().join("probe/tests")).unwrap();
    scratch.write("probe/tests/test_suite.py", SUITE);
    scratch.write(
        "probe/tests/test_gpu.py",
        "import pytest\n\n@pytest.mark.skip(reason='requires a CUDA device')\ndef test_a():\n    pass\n\n\
         def test_b():\n    pytest.skip('no GPU available')\n",
    );
    scratch.write(
        "probe/tests/test_skips.py",
        "import pytest\n\n@pytest.mark.skip(reason='slow')\ndef test_a():\n    pass\n",
    );
    scratch.write("probe/tests/test_empty.py", "# no tests yet\n");
    scratch.write(
        "probe/tests/test_expected.py",
        "import pytest\n\ndef test_ok():\n    pass\n\n@pytest.mark.xfail(reason='upstream bug')\n\
         def test_bug():\n    assert False\n",
    );
    scratch.write("probe/tests/test_clean.py", "def test_ok():\n    pass\n");
    scratch.write("pytests.toml", PYTEST);
    scratch
}

/// `run` with pytest from the index (the toy wheels beside it).
fn pytest_run(scratch: &Scratch, extra: &[&str]) -> (serde_json::Value, i32) {
    let mut args = vec![
        "run",
        "--matrix",
        "pytests.toml",
        "--format",
        "json",
        "--jobs",
        "1",
    ];
    args.extend_from_slice(extra);
    let output = scratch
        .command(&args)
        .arg("--cache-dir")
        .arg(scratch.cache())
        .env("UV_FIND_LINKS", common::toy_wheels())
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    (report, output.status.code().unwrap())
}

#[test]
#[ignore = "installs pytest from the index: run by .ci/run"]
fn pytest_probes_keep_every_test_and_never_pass_when_nothing_ran() {
    let scratch = pytest_scratch();
    let (fresh, code) = pytest_run(&scratch, &["--isolate"]);
    assert_eq!(code, 1, "{fresh}");
    insta::assert_snapshot!("pytest_outcomes", outcome_lines(&fresh));
    let suite = &fresh["cells"][0]["probes"][0];
    let tests: Vec<String> = suite["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} {} {}",
                t["id"].as_str().unwrap(),
                t["outcome"].as_str().unwrap(),
                t["message"].as_str().unwrap_or("-")
            )
        })
        .collect();
    insta::assert_snapshot!("pytest_tests", tests.join("\n"));

    // Forked from the preloaded base (pytest's console script, python -m pytest): the same results.
    let (forked, code) = pytest_run(&scratch, &[]);
    assert_eq!(code, 1, "{forked}");
    assert_eq!(outcome_lines(&forked), outcome_lines(&fresh));
    assert_eq!(forked["cells"][0]["probes"][0]["tests"], suite["tests"]);
    assert_eq!(forked["cells"][0]["probes"][0]["interpreter"], "forked");

    // The snapshot keeps each test.
    let update = scratch
        .command(&["run", "--matrix", "pytests.toml", "--update", "--cache-dir"])
        .arg(scratch.cache())
        .env("UV_FIND_LINKS", common::toy_wheels())
        .output()
        .unwrap();
    assert_eq!(code_of(&update), 1, "{}", stderr(&update));
    let snapshot =
        std::fs::read_to_string(scratch.path().join("reports/pytests.snap.toml")).unwrap();
    assert!(
        snapshot.contains(
            "[[cell.probe.test]]\nid = \"tests.test_suite::test_fixed\"\noutcome = \"xpassed\"\n"
        ),
        "{snapshot}"
    );
    let report = scratch
        .command(&["report", "reports/pytests.snap.toml", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(
        report["cells"][0]["probes"][0]["tests"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

#[test]
fn monitor_finds_and_bisects_a_new_release_that_breaks_a_user_probe() {
    use std::time::{Duration, SystemTime};
    let scratch = Scratch::new();
    probe_dir(&scratch);
    scratch.write(
        "watch.toml",
        r#"
name = "watch"
probes = ["load"]
timeout = "20s"

[axes]
toyquant = { versions = ">=1.0", pre = true }

[probe.load]
command = ["python", "probe.py", "load"]
dir = "probe"
"#,
    );
    let index = scratch.path().join("index");
    std::fs::create_dir(&index).unwrap();
    let publish = |wheel: &str, days: u64| {
        let target = index.join(wheel);
        std::fs::copy(common::toy_wheels().join(wheel), &target).unwrap();
        let jan_2024 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        let file = std::fs::File::options().write(true).open(&target).unwrap();
        file.set_modified(jan_2024 + Duration::from_secs(days * 86_400))
            .unwrap();
    };
    let monitor = |args: &[&str]| {
        let mut all = vec!["monitor", "--matrix", "watch.toml", "--format", "json"];
        all.extend_from_slice(args);
        let output = scratch
            .command(&all)
            .arg("--cache-dir")
            .arg(scratch.cache())
            .env("UV_FIND_LINKS", &index)
            .env("UV_NO_INDEX", "1")
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
        (report, output.status.code().unwrap())
    };
    publish("toyquant-1.0-py3-none-any.whl", 0);
    publish("toyquant-1.1-py3-none-any.whl", 30);
    let (first, code) = monitor(&["--update"]);
    assert_eq!(code, 0, "{first}");

    publish("toyquant-1.2-py3-none-any.whl", 152);
    let (second, code) = monitor(&[]);
    assert_eq!(code, 1, "{second}");
    assert_eq!(second["cells_run"], serde_json::json!(["toyquant=1.2"]));
    assert_eq!(second["diff"]["summary"]["regressions"], 1);
    let bisection = &second["bisections"][0];
    assert_eq!(bisection["last_good"], "1.1");
    assert_eq!(bisection["first_bad"], "1.2");
    assert_eq!(
        bisection["signature"],
        "AttributeError: '_LazyTensor' object has no attribute 'data'"
    );
}

#[test]
fn probes_lists_and_repro_prints_and_runs_a_declared_probe() {
    let scratch = flow_scratch();
    let listed = scratch
        .command(&["probes", "--matrix", "flow.toml"])
        .output()
        .unwrap();
    assert_eq!(code_of(&listed), 0, "{}", stderr(&listed));
    let text = scratch.scrub(&stdout(&listed));
    let declared = text
        .split("declared by flow.toml:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    insta::assert_snapshot!(declared, @r"
    load                    our loader, quantized
                            command: python probe.py load
                            dir: [scratch]/probe
                            quantized: on the quantized side of the contrast
    plain                   declared by the matrix (no `description`)
                            command: python plain.py
                            dir: [scratch]/probe
                            control: where quantized probes fail and this passes, the failure is quantization's
    ");

    let repro = scratch.qcompat(&[
        "repro",
        "--matrix",
        "flow.toml",
        "--cell",
        "toyquant=1.2",
        "--probe",
        "load",
    ]);
    assert_eq!(code_of(&repro), 1, "{}", stderr(&repro));
    let printed = scratch.scrub(&stdout(&repro));
    let copy = "[scratch]/cache/runs/flow/toyquant=1.2/repro/declared/load/work";
    assert!(
        printed.contains(&format!(
            "# probe load, in a fresh copy of its dir:\ncd {copy} && "
        )),
        "{printed}"
    );
    assert!(printed.contains("/bin/python probe.py load\n"), "{printed}");
    // The traceback on the terminal, then the verdict.
    let said = stderr(&repro);
    assert!(
        said.contains("Traceback (most recent call last):"),
        "{said}"
    );
    assert!(
        said.contains("load: fail: AttributeError: '_LazyTensor' object has no attribute 'data'"),
        "{said}"
    );
}
