//! The project under test (`[project]`): built once per content into a wheel (or installed editable) into every
//! cell; a changed project gets new environments, an unchanged one reuses them. The project is built by uv's own
//! build backend (`uv_build`), which `uv build` runs without downloading anything.

mod common;

use std::path::Path;

use common::{Scratch, stderr, stdout};

const PYPROJECT: &str = r#"
[project]
name = "myproj"
version = "0.1"
dependencies = ["toyhelper"]

[build-system]
requires = ["uv_build>=0.8,<0.14"]
build-backend = "uv_build"
"#;

fn matrix(editable: bool) -> String {
    format!(
        "name = \"proj\"\nprobes = [\"toy-load\"]\ntimeout = \"20s\"\n\n[project]\npath = \"myproj\"\n\
         editable = {editable}\n\n[axes]\ntoyquant = [\"1.0\", \"1.6\"]\n"
    )
}

/// A scratch folder with the project (its module says `X = 1`) and a matrix that installs it.
fn project(editable: bool) -> Scratch {
    let scratch = Scratch::new();
    let src = scratch.path().join("myproj/src/myproj");
    std::fs::create_dir_all(&src).unwrap();
    scratch.write("myproj/pyproject.toml", PYPROJECT);
    std::fs::write(src.join("__init__.py"), "X = 1\n").unwrap();
    scratch.write("proj.toml", &matrix(editable));
    scratch
}

/// Runs the matrix; per cell, whether its environment was built now, and its environment's hash.
fn run(scratch: &Scratch) -> Vec<(bool, String)> {
    let output = scratch.qcompat(&["run", "--matrix", "proj.toml", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let env = &c["env"];
            (
                env["created"].as_bool().unwrap(),
                env["hash"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What `import myproj; myproj.X` says in the environment `hash`.
fn project_x(scratch: &Scratch, hash: &str) -> String {
    let python = scratch.cache().join("envs").join(hash).join("bin/python");
    let output = std::process::Command::new(python)
        .args(["-c", "import myproj, toyhelper; print(myproj.X)"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().to_string()
}

fn built(cells: &[(bool, String)]) -> usize {
    cells.iter().filter(|(created, _)| *created).count()
}

fn edit(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_wheel_project_is_reinstalled_when_its_files_change_and_not_otherwise() {
    let scratch = project(false);
    let first = run(&scratch);
    assert_eq!(built(&first), 2, "{first:?}");
    assert_eq!(project_x(&scratch, &first[0].1), "1");

    // Unchanged: no environment built; tools' droppings in the project change nothing.
    std::fs::create_dir_all(scratch.path().join("myproj/src/myproj/__pycache__")).unwrap();
    edit(
        &scratch.path().join("myproj/src/myproj/__pycache__/x.pyc"),
        "bytecode",
    );
    let again = run(&scratch);
    assert_eq!(built(&again), 0, "{again:?}");
    assert_eq!(
        again,
        first
            .iter()
            .map(|(_, h)| (false, h.clone()))
            .collect::<Vec<_>>()
    );

    // An edited module: a new wheel, and new environments holding it.
    edit(
        &scratch.path().join("myproj/src/myproj/__init__.py"),
        "X = 2\n",
    );
    let changed = run(&scratch);
    assert_eq!(built(&changed), 2, "{changed:?}");
    assert_ne!(changed[0].1, first[0].1);
    assert_eq!(project_x(&scratch, &changed[0].1), "2");
    let wheels = std::fs::read_dir(scratch.cache().join("projects"))
        .unwrap()
        .count();
    assert_eq!(wheels, 2, "one wheel per content and interpreter");
}

#[test]
fn an_editable_project_is_read_live_and_reinstalled_only_when_its_metadata_changes() {
    let scratch = project(true);
    let first = run(&scratch);
    assert_eq!(built(&first), 2, "{first:?}");
    assert_eq!(project_x(&scratch, &first[0].1), "1");

    edit(
        &scratch.path().join("myproj/src/myproj/__init__.py"),
        "X = 2\n",
    );
    let live = run(&scratch);
    assert_eq!(
        built(&live),
        0,
        "a module edit needs no new environment: {live:?}"
    );
    assert_eq!(
        project_x(&scratch, &live[0].1),
        "2",
        "the environment reads the sources"
    );
    assert!(
        !scratch.cache().join("projects").exists(),
        "nothing was built"
    );

    edit(
        &scratch.path().join("myproj/pyproject.toml"),
        &PYPROJECT.replace("version = \"0.1\"", "version = \"0.2\""),
    );
    let reinstalled = run(&scratch);
    assert_eq!(built(&reinstalled), 2, "{reinstalled:?}");
}

#[test]
fn a_project_that_is_not_one_is_refused_before_any_cell() {
    let scratch = project(false);
    let refused = |matrix: &str, says: &str| {
        scratch.write("bad.toml", matrix);
        let output = scratch.qcompat(&["run", "--matrix", "bad.toml"]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(
            text.contains("bad.toml:6:8:"),
            "located at the path: {text}"
        );
        assert!(text.contains(says), "{text}");
    };
    refused(
        &matrix(false).replace("\"myproj\"", "\"nowhere\""),
        "is no folder",
    );
    std::fs::create_dir_all(scratch.path().join("empty")).unwrap();
    refused(
        &matrix(false).replace("\"myproj\"", "\"empty\""),
        "holds no pyproject.toml or setup.py",
    );
    scratch.write(
        "bad.toml",
        &matrix(false).replace("editable = false", "editable = \"yes\""),
    );
    let output = scratch.qcompat(&["run", "--matrix", "bad.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("`project`'s `editable` takes true or false"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_build_that_fails_is_bad_input_with_uvs_reason_before_any_cell() {
    let scratch = project(false);
    scratch.write(
        "myproj/pyproject.toml",
        &PYPROJECT.replace("version = \"0.1\"", "version = \"not a version\""),
    );
    let output = scratch.qcompat(&["run", "--matrix", "proj.toml"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("proj.toml:6:8: project "), "{text}");
    assert!(text.contains("`uv build --wheel` failed"), "{text}");
    assert!(text.contains("not a version"), "uv's reason: {text}");
    assert!(!text.contains("toyquant=1.0"), "no cell ran: {text}");
    let envs = std::fs::read_dir(scratch.cache().join("envs")).unwrap();
    assert_eq!(
        envs.filter(|e| !e
            .as_ref()
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.'))
            .count(),
        0
    );
}
