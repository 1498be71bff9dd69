//! Bad matrices, one kind each, as a user feeding qcompat bad input on purpose wrote them (issue 23): every one is
//! refused up front (exit 2) at `file:line:column` with the fix in words, before any environment is built, and
//! nothing is written for it.

mod common;

use common::{Scratch, stderr, stdout};

const BODY: &str = "probes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\"]\n";

/// `qcompat run --matrix FILE --list` on `bytes` written as `file`, with the toy wheels as the only index: (exit
/// code, stderr). `--list` plans and stops, so this is what every command that plans sees.
fn list(file: &str, bytes: &[u8]) -> (Option<i32>, String) {
    let scratch = Scratch::new();
    std::fs::write(scratch.path().join(file), bytes).unwrap();
    // `--matrix=FILE`: a file name starting with `-` would read as flags.
    let output = scratch.qcompat(&["run", &format!("--matrix={file}"), "--list"]);
    let reports = scratch.path().join("reports");
    assert!(
        !reports.exists(),
        "{file}: nothing is written for a bad matrix"
    );
    (output.status.code(), stderr(&output))
}

/// Refused with exit 2, every line `error: FILE:LINE:COLUMN: …`; returns stderr.
fn refused(file: &str, text: &str) -> String {
    let (code, stderr) = list(file, text.as_bytes());
    assert_eq!(code, Some(2), "{file} accepted:\n{text}\n{stderr}");
    for line in stderr.lines() {
        let located = line
            .strip_prefix(&format!("error: {file}:"))
            .and_then(|rest| rest.split_once(": "))
            .is_some_and(|(at, _)| at.split(':').all(|n| n.parse::<u32>().is_ok()));
        assert!(located, "{file}: not located: {line}");
    }
    stderr
}

#[test]
fn a_name_that_reads_as_an_option_is_refused_written_or_from_the_file_name() {
    let written = refused("m.toml", &format!("name = \"-rf\"\n{BODY}"));
    assert!(
        written.contains("m.toml:1:8: matrix name \"-rf\""),
        "{written}"
    );
    let from_file = refused("-rf.toml", BODY);
    assert!(from_file.contains("-rf.toml:1:1:"), "{from_file}");
    assert!(from_file.contains("set `name`"), "{from_file}");
}

#[test]
fn a_name_longer_than_a_file_name_may_be_is_refused_at_the_name() {
    let text = refused("m.toml", &format!("name = \"{}\"\n{BODY}", "x".repeat(300)));
    assert!(
        text.contains("m.toml:1:8: matrix name is 300 bytes long"),
        "{text}"
    );
    assert!(text.contains("at most 100"), "{text}");
}

#[test]
fn toml_and_yaml_refuse_a_repeated_key_and_a_number_for_text_in_the_same_words() {
    let messages = |cases: [(&str, &str); 2]| {
        cases.map(|(file, text)| {
            let stderr = refused(file, text);
            stderr
                .split_once(": ")
                .unwrap()
                .1
                .split_once(": ")
                .unwrap()
                .1
                .to_string()
        })
    };
    let [toml, yaml] = messages([
        ("m.toml", &format!("name = \"a\"\nname = \"b\"\n{BODY}")),
        (
            "m.yaml",
            "name: a\nname: b\nprobes: [toy-load]\naxes:\n  toyquant: [\"1.0\"]\n",
        ),
    ]);
    assert_eq!(toml, yaml);
    assert!(toml.contains("key `name` is written twice"), "{toml}");
    let [toml, yaml] = messages([
        ("m.toml", &format!("name = 5\n{BODY}")),
        (
            "m.yaml",
            "name: 5\nprobes: [toy-load]\naxes:\n  toyquant: [\"1.0\"]\n",
        ),
    ]);
    assert_eq!(toml, yaml);
    assert!(toml.contains("`name` takes text, not a number"), "{toml}");
}

#[test]
fn two_names_of_one_package_are_refused_where_the_second_is_written() {
    let axes = refused(
        "m.toml",
        "probes = [\"toy-load\"]\n[axes]\ntoyquant = [\"1.0\"]\nTOYQUANT = [\"1.1\"]\n",
    );
    assert!(
        axes.contains(
            "m.toml:4:1: axis `TOYQUANT` names the same package as `toyquant` at m.toml:3:1"
        ),
        "{axes}"
    );
    let axes = refused(
        "m.toml",
        "probes = [\"toy-load\"]\n[axes]\ntoy_quant = [\"1.0\"]\n\"Toy.-Quant\" = [\"1.1\"]\n",
    );
    assert!(
        axes.contains("m.toml:4:1: axis `Toy.-Quant` names the same package as `toy_quant`"),
        "{axes}"
    );
    let pin = refused("m.toml", &format!("{BODY}[pins]\nToyQuant = \"<2\"\n"));
    assert!(
        pin.contains("m.toml:5:1: `pins` names `ToyQuant`, the package of axis `toyquant`"),
        "{pin}"
    );
}

#[test]
fn an_include_version_the_index_does_not_publish_is_refused_with_the_nearest() {
    let text = refused(
        "m.toml",
        &format!("{BODY}[[include]]\ntoyquant = \"1.9\"\n"),
    );
    assert!(
        text.contains(
            "m.toml:5:12: toyquant 1.9 is not published (nearest published: 1.7, 1.8.dev1)"
        ),
        "{text}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused_at_its_first_bad_byte() {
    let (code, stderr) = list(
        "m.toml",
        b"probes = [\"toy-load\"]\n# caf\xe9\n[axes]\ntoyquant = [\"1.0\"]\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: m.toml:2:6: byte 0xe9 is not UTF-8: a matrix file is UTF-8 text"
    );
}

#[test]
fn a_misshapen_axis_says_what_an_axis_takes() {
    let text = refused(
        "m.toml",
        "probes = [\"toy-load\"]\n[axes]\ntoyquant = { version = \">=1\" }\n",
    );
    assert_eq!(text.lines().count(), 1, "one problem, one line: {text}");
    assert!(text.contains("m.toml:3:14: unknown key `version` in axis `toyquant`'s query (did you mean `versions`?); it takes `versions`, `pre`"), "{text}");
    let text = refused("m.yaml", "probes: [toy-load]\naxes:\n  toyquant: \"1.0\"\n");
    assert!(
        text.contains("axis `toyquant` takes a list of versions, or a table with `versions`"),
        "{text}"
    );
}

#[test]
fn a_plan_that_is_not_a_plan_says_what_a_plan_is() {
    let scratch = Scratch::new();
    scratch.write("plan.json", "[]");
    let output = scratch.qcompat(&["run", "--plan", "plan.json"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.starts_with("error: plan.json:1:"), "{text}");
    assert!(
        text.contains("not a qcompat plan (this JSON is not an object)"),
        "{text}"
    );
    assert!(
        text.contains("with the keys matrix, source, digest"),
        "{text}"
    );
    assert!(!text.contains("PlanInput"), "{text}");
}

#[test]
fn a_zero_timeout_an_empty_window_and_a_repeated_known_id_are_each_refused() {
    let text = refused(
        "m.toml",
        "probes = [\"toy-load\"]\ntimeout = \"0s\"\n[axes]\ntoyquant = [\"1.0\"]\n[pins]\nnumpy = \"<1,>2\"\n\
         [[known]]\nid = \"k\"\nsignature = \"s\"\nwhen = { toyquant = \">=2.0,<1.0\" }\n[[known]]\nid = \"k\"\nsignature = \"t\"\n",
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "every problem, in file order:\n{text}");
    assert!(
        lines[0].contains("m.toml:2:11: timeout `0s` is zero"),
        "{text}"
    );
    assert!(
        lines[1].contains("m.toml:6:9: pin `numpy`: no version satisfies `<1,>2`"),
        "{text}"
    );
    assert!(
        lines[2]
            .contains("m.toml:10:21: known issue `k`'s `when`: no version satisfies `>=2.0,<1.0`"),
        "{text}"
    );
    assert!(
        lines[3].contains("m.toml:12:6: known issue id `k` is used twice (first at m.toml:8:6)"),
        "{text}"
    );
}

#[test]
fn python_is_a_version_or_an_interpreter_path_and_nothing_else() {
    for (python, expected) in [
        ("../../bin/sh", "is not named like a Python interpreter"),
        ("/bin/sh", "is not named like a Python interpreter"),
        ("venv/bin/python3", "is no executable file"),
        ("3.x", "`3.x` is neither"),
    ] {
        let text = refused("m.toml", &format!("python = \"{python}\"\n{BODY}"));
        assert!(
            text.contains(
                "m.toml:1:10: `python` takes a version (`3.11`) or the path of a Python interpreter"
            ),
            "{text}"
        );
        assert!(text.contains(expected), "{python}: {text}");
    }
}

#[test]
fn an_interpreter_path_is_used_and_a_fake_one_is_bad_input() {
    let scratch = Scratch::new();
    let python = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let python = stdout(&python).trim().to_string();
    scratch.write(
        "m.toml",
        &format!("python = \"{python}\"\ntimeout = \"60s\"\n{BODY}"),
    );
    let output = scratch.qcompat(&["run", "--matrix", "m.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("toyquant=1.0"),
        "{}",
        stdout(&output)
    );

    let fake = scratch.path().join("bin/python3");
    std::fs::create_dir_all(fake.parent().unwrap()).unwrap();
    std::fs::write(&fake, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    scratch.write("fake.toml", &format!("python = \"bin/python3\"\n{BODY}"));
    let output = scratch.qcompat(&["run", "--matrix", "fake.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is not a Python interpreter"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_matrix_of_more_cells_than_the_limit_is_refused_with_its_count_before_any_cell_is_made() {
    let axes: String = (0..5)
        .map(|i| {
            format!(
                "p{i} = [{}]\n",
                (0..10)
                    .map(|v| format!("\"1.{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let text = refused(
        "m.toml",
        &format!("probes = [\"toy-load\"]\n[axes]\n{axes}"),
    );
    assert!(started.elapsed().as_secs() < 10, "counting is not planning");
    assert!(text.contains("m.toml:2:2: the matrix has 100000 cells (10 p0 x 10 p1 x 10 p2 x 10 p3 x 10 p4), more than the 10000"), "{text}");
    assert!(text.contains("`exclude` entries"), "{text}");
}

#[test]
fn exclude_entries_bring_a_matrix_within_the_limit() {
    let versions = |n: usize| {
        (0..n)
            .map(|v| format!("\"1.{v}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let scratch = Scratch::new();
    let matrix = format!(
        "probes = [\"toy-load\"]\n[axes]\na = [{}]\nb = [{}]\n[[exclude]]\na = \"1.0\"\n",
        versions(101),
        versions(100)
    );
    scratch.write("m.toml", &matrix);
    let output = scratch
        .command(&["run", "--matrix", "m.toml", "--list", "--offline"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 10_000);
    assert!(
        stderr(&output).contains("10000 cells"),
        "{}",
        stderr(&output)
    );
}
