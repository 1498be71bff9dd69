//! A newcomer's first hour (issue 14): wrong answers the tool used to give, and the places a new user got stuck.
//! Every case runs the real binary on the toy packages, offline.

mod common;

use common::{Scratch, stderr, stdout};

const ONE_CELL: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "20s"

[axes]
toyquant = ["1.0"]
"#;

/// An `--offline` run whose uv cache never saw the packages: no find-links, a fresh uv cache.
fn offline_cold(scratch: &Scratch, args: &[&str]) -> std::process::Output {
    let mut command = scratch.command(args);
    command
        .arg("--cache-dir")
        .arg(scratch.cache())
        .arg("--offline")
        .env("UV_CACHE_DIR", scratch.path().join("uv-cache"))
        .env_remove("UV_FIND_LINKS")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("UV_NO_INDEX");
    command.output().expect("qcompat runs")
}

#[test]
fn an_offline_cache_miss_is_an_infrastructure_error_never_a_finding() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", ONE_CELL);
    let recorded = scratch.qcompat(&["run", "--matrix", "toy.toml", "--update"]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let snapshot = scratch.path().join("reports/toy.snap.toml");
    let before = std::fs::read_to_string(&snapshot).unwrap();

    let output = offline_cold(&scratch, &["run", "--matrix", "toy.toml", "--check"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    insta::assert_snapshot!("offline_cache_miss", stderr(&output));
    assert!(
        !scratch.path().join("reports/toy.snap.toml.new").exists(),
        "a cache miss is never offered for acceptance"
    );
    let output = offline_cold(&scratch, &["run", "--matrix", "toy.toml", "--update"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&snapshot).unwrap(), before);
}

#[test]
fn explicit_versions_must_be_published_and_written_once() {
    let scratch = Scratch::new();
    let mut messages = String::new();
    for (name, axis) in [
        ("phantom.toml", r#"toyquant = ["1.0", "9.9.9"]"#),
        ("between.toml", r#"toyquant = ["1.2.5"]"#),
        (
            "twice.toml",
            "toyquant = [\n  \"1.0\",\n  \"1.1\",\n  \"1.0.0\",\n]",
        ),
    ] {
        scratch.write(name, &format!("probes = [\"toy-load\"]\n[axes]\n{axis}\n"));
        let output = scratch.qcompat(&["run", "--matrix", name]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        assert!(stdout(&output).is_empty());
        messages.push_str(&stderr(&output));
    }
    insta::assert_snapshot!("unpublished_versions", messages);
}

/// A matrix written from the README alone, as it failed: Lightning without setuptools, torch beside NumPy 2.
const RECIPE_FAILURES: &str = r#"matrix = "lightning"

[[cell]]
key = { lightning = "2.3.3" }

[cell.resolved]
lightning = "2.3.3"
numpy = "2.1.3"
torch = "2.3.0"

[[cell.probe]]
name = "checkpoint-load"
outcome = "fail"
signature = "ModuleNotFoundError: No module named 'pkg_resources'"
frame = "lightning_utilities/core/imports.py:_check_requirement"

[[cell]]
key = { lightning = "2.4.0" }

[cell.resolved]
lightning = "2.4.0"
numpy = "2.1.3"
torch = "2.3.0"

[[cell.probe]]
name = "checkpoint-load"
outcome = "fail"
signature = "ImportError: A module that was compiled using NumPy 1.x cannot be run in NumPy 2.1.3 as it may crash."
"#;

#[test]
fn environment_recipe_failures_name_their_pin_in_every_report() {
    let scratch = Scratch::new();
    scratch.write("recipe.snap.toml", RECIPE_FAILURES);
    let render = |format: &str| {
        let output = scratch
            .command(&["report", "recipe.snap.toml", "--format", format])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    insta::assert_snapshot!("recipe_hints_table", render("table"));
    insta::assert_snapshot!("recipe_hints_markdown", render("markdown"));
    let html = render("html");
    assert!(
        html.contains("hint: environment recipe: add setuptools = &quot;&lt;70&quot; to [pins]")
    );
    let json: serde_json::Value = serde_json::from_str(&render("json")).unwrap();
    let hints: Vec<&str> = json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["probes"][0]["hint"].as_str().unwrap())
        .collect();
    insta::assert_debug_snapshot!("recipe_hints_json", hints);
}

const TWO_CELLS: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "20s"

[axes]
toyquant = ["1.0", "1.2"]
"#;

#[test]
fn repro_rebuilds_a_cell_and_shows_the_full_traceback() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TWO_CELLS);
    let run = scratch.qcompat(&["run", "--matrix", "toy.toml"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    // The table names the log of a cell that hit the signature, and the log keeps the whole traceback.
    let table = stdout(&run);
    let log = table
        .lines()
        .find_map(|l| l.trim().strip_prefix("log: "))
        .unwrap_or_else(|| panic!("no log line:\n{table}"));
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("Traceback (most recent call last)"), "{text}");
    assert!(text.contains("toyquant/__init__.py\", line "), "{text}");

    let output = scratch.qcompat(&["repro", "--matrix", "toy.toml", "--cell", "toyquant=1.2"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let (out, err) = (stdout(&output), stderr(&output));
    let install = out.lines().find(|l| l.contains(" pip install ")).unwrap();
    assert!(install.ends_with(" toyquant==1.2"), "{out}");
    assert!(out.contains("_qcompat.py toy-load"), "{out}");
    assert!(err.contains("toyquant/__init__.py\", line "), "{err}");
    assert!(
        err.ends_with(
            "toy-load: fail: AttributeError: '_LazyTensor' object has no attribute 'data'\n"
        ),
        "{err}"
    );

    let passing = scratch.qcompat(&["repro", "--matrix", "toy.toml", "--cell", "toyquant=1.0.0"]);
    assert_eq!(passing.status.code(), Some(0), "{}", stderr(&passing));
    assert!(stderr(&passing).ends_with("toy-load: pass\n"));

    let unknown = scratch.qcompat(&["repro", "--matrix", "toy.toml", "--cell", "toyquant=1.3"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    insta::assert_snapshot!("repro_unknown_cell", stderr(&unknown));
}

/// `repro --as-of` installs a cell the way `run --as-of` does: the environment `run` built, found by its hash.
#[test]
fn repro_as_of_a_date_reuses_the_environment_run_built_then() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", ONE_CELL);
    let as_of = ["--as-of", "2100-01-01"];
    let mut args = vec!["run", "--matrix", "toy.toml", "--format", "json"];
    args.extend(as_of);
    let run = scratch.qcompat(&args);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let hash = report["cells"][0]["env"]["hash"].as_str().unwrap();

    let mut args = vec!["repro", "--matrix", "toy.toml", "--cell", "toyquant=1.0"];
    args.extend(as_of);
    let repro = scratch.qcompat(&args);
    assert_eq!(repro.status.code(), Some(0), "{}", stderr(&repro));
    let out = stdout(&repro);
    let first = out.lines().next().unwrap();
    assert!(
        first.ends_with(&format!("/envs/{hash}):")),
        "not run's environment {hash}:\n{out}"
    );
    assert!(
        out.contains("--exclude-newer-package toyquant=false"),
        "{out}"
    );
}

/// The regression window in miniature: a nightly breaks loading (a known issue), a later nightly fixes it; an old
/// bitsandbytes has no CPU kernel and says nothing about Lightning.
const WINDOW: &str = r#"matrix = "lightning"

[[cell]]
key = { lightning = "2.3.0.dev20240519", bitsandbytes = "0.42.0" }
[[cell.probe]]
name = "checkpoint-load"
outcome = "needs-cuda"
signature = "bitsandbytes 0.42.0 has no CPU NF4 kernel"

[[cell]]
key = { lightning = "2.3.0.dev20240519", bitsandbytes = "0.45.5" }
[[cell.probe]]
name = "checkpoint-load"
outcome = "pass"

[[cell]]
key = { lightning = "2.3.0.dev20240526", bitsandbytes = "0.45.5" }
[[cell.probe]]
name = "checkpoint-load"
outcome = "xfail"
signature = "AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'"
known = "lightning-20119"

[[cell]]
key = { lightning = "2.4.0.dev20240728", bitsandbytes = "0.45.5" }
[[cell.probe]]
name = "checkpoint-load"
outcome = "pass"

[[cell]]
key = { lightning = "2.10.0", bitsandbytes = "0.45.5" }
[[cell.probe]]
name = "checkpoint-load"
outcome = "pass"
"#;

#[test]
fn the_headline_says_where_outcomes_change_along_each_axis() {
    let scratch = Scratch::new();
    scratch.write("window.snap.toml", WINDOW);
    let render = |format: &str| {
        let output = scratch
            .command(&["report", "window.snap.toml", "--format", format])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let table = render("table");
    let start = table.find("along each axis:").expect("a headline");
    let headline: String = table[start..]
        .lines()
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("headline_table", headline);
    let lightning = "lightning: passes up to 2.3.0.dev20240519, fails from 2.3.0.dev20240526 (known \
                     lightning-20119), passes again from 2.4.0.dev20240728";
    assert!(render("markdown").contains(&format!("\n- {lightning}\n")));
    assert!(render("html").contains(&format!("<li>{lightning}</li>")));
}

/// The commands of the README's `sh` blocks, one a line, comments cut off.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut inside = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            inside = line == "```sh";
            continue;
        }
        if inside {
            let command = line.split(" #").next().unwrap().trim();
            if !command.is_empty() {
                commands.push(command.to_string());
            }
        }
    }
    commands
}

#[test]
fn the_readme_commands_work_as_typed() {
    let commands = readme_commands();
    let first_use = commands
        .iter()
        .position(|c| c.starts_with("qcompat "))
        .unwrap();
    let install = commands
        .iter()
        .position(|c| c.starts_with("cargo install --path ."));
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    assert!(
        readme.contains("`cargo install --path .`") || install.is_some_and(|i| i < first_use),
        "the README says how `qcompat` gets on PATH before using it"
    );
    // The test command is a script that does its own set-up.
    let script = common::repo().join(".ci/run");
    assert!(commands.iter().any(|c| c == ".ci/run"), "{commands:?}");
    use std::os::unix::fs::PermissionsExt;
    assert!(std::fs::metadata(&script).unwrap().permissions().mode() & 0o111 != 0);

    for command in commands.iter().filter_map(|c| c.strip_prefix("qcompat ")) {
        let words: Vec<&str> = command.split_whitespace().collect();
        let mut path = vec![words[0]];
        if words[0] == "engine" {
            path.push(words[1]);
        }
        let known = common::help_flags(&path);
        let flags = words.iter().map(|w| w.trim_matches(['[', ']']));
        for flag in flags.filter(|w| w.starts_with('-')) {
            let flag = flag.split('=').next().unwrap();
            assert!(
                known.contains(flag),
                "`qcompat {command}`: `qcompat {}` has no flag {flag} (it has {known:?})",
                path.join(" ")
            );
        }
    }
}

#[test]
fn rough_edges_say_what_to_do() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", TWO_CELLS);
    scratch.write(
        "timeout.toml",
        "name = \"timeout-test\"\nprobes = [\"toy-load\"]\ntimeout = \"10 minutes please\"\n[axes]\ntoyquant = [\"1.0\"]\n",
    );
    std::fs::create_dir(scratch.path().join("matrices")).unwrap();
    scratch.write("matrices/a.toml", TWO_CELLS);
    let mut messages = String::new();
    for args in [
        &["run", "--matrix", "timeout.toml"][..],
        &["rnu", "--matrix", "toy.toml"],
        &["run", "--matrix", "toy.toml", "--filter", "toyquant=2.3.9"],
        &["run", "--matrix", "matrices"],
    ] {
        let output = scratch.qcompat(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        messages.push_str(&format!(
            "$ qcompat {}\n{}\n",
            args.join(" "),
            stderr(&output)
        ));
    }
    insta::assert_snapshot!("rough_edges", messages);
}

#[test]
fn a_known_issue_naming_a_package_no_cell_has_is_warned_about() {
    let scratch = Scratch::new();
    scratch.write(
        "toy.toml",
        &format!(
            "{TWO_CELLS}\n[[known]]\nid = \"toy-typo\"\nsignature = \"AttributeError: x\"\nwhen = {{ toyqant = \">=1.2\" }}\n"
        ),
    );
    let output = scratch.qcompat(&["run", "--matrix", "toy.toml"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let warnings: Vec<String> = stderr(&output)
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(String::from)
        .collect();
    insta::assert_debug_snapshot!("known_typo_warning", warnings);
}

#[test]
fn written_files_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    scratch.write("toy.toml", ONE_CELL);
    let checkpoint = common::repo().join("fixtures/checkpoints/tiny-gpt/lit_model.pth");
    let checkpoint = checkpoint.to_str().unwrap();
    for args in [
        &[
            "run", "--matrix", "toy.toml", "--update", "--output", "run.txt",
        ][..],
        &[
            "report",
            "reports/toy.snap.toml",
            "--format",
            "html",
            "--output",
            "grid.html",
        ],
        &[
            "engine",
            "quantize",
            "--input",
            checkpoint,
            "--output",
            "nf4.safetensors",
        ],
    ] {
        let command = scratch.run_command(&[]);
        // umask 027 for the child only: a file it writes must come out 0640, neither 0600 nor 0644.
        let program = command.get_program().to_owned();
        let mut shell = std::process::Command::new("sh");
        shell
            .args(["-c", "umask 027 && exec \"$@\"", "sh"])
            .arg(program)
            .args(args)
            .current_dir(scratch.path())
            .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))));
        if args[0] == "run" {
            shell.arg("--cache-dir").arg(scratch.cache());
        }
        let output = shell.output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    for file in [
        "run.txt",
        "reports/toy.snap.toml",
        "grid.html",
        "nf4.safetensors",
    ] {
        let mode = std::fs::metadata(scratch.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "{file}");
    }
}

#[test]
fn habits_from_cargo_completions_quiet_and_verbose() {
    let scratch = Scratch::new();
    let bash = scratch.command(&["completions", "bash"]).output().unwrap();
    assert!(bash.status.success(), "{}", stderr(&bash));
    let script = stdout(&bash);
    assert!(
        script.contains("complete -F _qcompat") && script.contains("repro"),
        "{script}"
    );

    scratch.write("toy.toml", ONE_CELL);
    let run = |flag: &str| {
        let output = scratch.qcompat(&["run", "--matrix", "toy.toml", flag, "--output", "t.txt"]);
        assert!(output.status.success(), "{}", stderr(&output));
        stderr(&output)
    };
    assert_eq!(run("--quiet"), "");
    let verbose = run("-v");
    assert!(
        verbose.starts_with("[1/1] toyquant=1.0  toy-load=pass"),
        "{verbose}"
    );
    assert!(
        verbose.contains("\n    env ") && verbose.contains(" (cached)\n    log "),
        "{verbose}"
    );
    assert!(!run("-q").contains("[1/1]"));
}

#[test]
fn check_without_a_snapshot_says_to_update_first() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", ONE_CELL);
    let output = scratch.qcompat(&[
        "run", "--matrix", "toy.toml", "--check", "--output", "t.txt",
    ]);
    let err = stderr(&output);
    let advice = err
        .lines()
        .find(|l| l.contains("no snapshot yet"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        advice.contains("--update") && !advice.contains("qcompat diff"),
        "{advice}"
    );
}
