//! The documents against the binary: docs/cli.md lists exactly the flags (and `--format` values) each command's
//! parser has, and every `qcompat` command README.md and docs/*.md print runs as printed.
//!
//! Commands run with `sh` in a folder laid out like the repository. Those on the real matrices (`matrices/`) need
//! the real stack, so they run up to their first use of the network, which fails at once: getting there means the
//! arguments, the matrix, its filters, cells, probes and held axes were all accepted. The others run for real
//! against the toy wheels (`fixtures/toy/`) and the engine's fixtures.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Scratch, repo, stderr, toy_wheels};
use regex::Regex;

/// `qcompat COMMAND… --help`.
fn help(command: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_qcompat"))
        .args(command)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "{command:?}: {}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands a `--help` lists under `Commands:` (`help` left out).
fn subcommands(help: &str) -> Vec<String> {
    let name = Regex::new(r"^  ([a-z][a-z-]*)\s").unwrap();
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| name.captures(l).map(|c| c[1].to_string()))
        .filter(|n| n != "help")
        .collect()
}

/// Every command path: `run`, …, `engine quantize`, …
fn command_paths() -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for command in subcommands(&help(&[])) {
        let nested = subcommands(&help(&[&command]));
        if nested.is_empty() {
            paths.push(vec![command.clone()]);
        }
        paths.extend(nested.into_iter().map(|sub| vec![command.clone(), sub]));
    }
    paths
}

/// One option of a parser: its flags (`-q`, `--quiet`) and, for a value from a fixed set, the set.
#[derive(Debug, Default)]
struct Options {
    /// Long flag → its short alias.
    flags: BTreeMap<String, Option<String>>,
    values: BTreeMap<String, BTreeSet<String>>,
}

fn parser_options(command: &[&str]) -> Options {
    let line = Regex::new(r"^\s+(?:(-\w), )?(--[\w-]+)(.*)$").unwrap();
    let possible = Regex::new(r"\[possible values: ([^\]]+)\]").unwrap();
    let mut options = Options::default();
    for captures in help(command).lines().filter_map(|l| line.captures(l)) {
        let long = captures[2].to_string();
        if long == "--help" || long == "--version" {
            continue;
        }
        if let Some(values) = possible.captures(&captures[3]) {
            let set = values[1].split(", ").map(String::from).collect();
            options.values.insert(long.clone(), set);
        }
        options
            .flags
            .insert(long, captures.get(1).map(|m| m.as_str().to_string()));
    }
    options
}

/// The synopses of docs/cli.md (its untagged code blocks), joined over continuation lines, by command path.
fn synopses() -> BTreeMap<Vec<String>, Vec<String>> {
    let text = std::fs::read_to_string(repo().join("docs/cli.md")).unwrap();
    let mut joined: Vec<String> = Vec::new();
    // The tag of the open block (`""` untagged), and whether a synopsis is open in it.
    let (mut block, mut open): (Option<&str>, bool) = (None, false);
    for line in text.lines() {
        if let Some(tag) = line.strip_prefix("```") {
            block = if block.is_some() { None } else { Some(tag) };
            open = false;
            continue;
        }
        let inside = block == Some("");
        if let Some(rest) = line.strip_prefix("qcompat ").filter(|_| inside) {
            joined.push(rest.to_string());
            open = true;
        } else if let Some(last) = joined.last_mut().filter(|_| inside && open) {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    let mut by_path: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for synopsis in joined {
        let words: Vec<String> = synopsis.split_whitespace().map(String::from).collect();
        let depth = if words[0] == "engine" { 2 } else { 1 };
        by_path
            .entry(words[..depth].to_vec())
            .or_default()
            .push(synopsis);
    }
    by_path
}

/// What a synopsis says: its flags, and the values it lists for a flag (`--format table|json`).
fn documented(synopses: &[String]) -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
    let flag =
        Regex::new(r"(?:^|[\s\[|])(--?[a-zA-Z][\w-]*)(?:\s+([a-z][a-z0-9|-]*\|[a-z0-9|-]+))?")
            .unwrap();
    let (mut flags, mut values) = (BTreeSet::new(), BTreeMap::new());
    for synopsis in synopses {
        for captures in flag.captures_iter(synopsis) {
            flags.insert(captures[1].to_string());
            if let Some(listed) = captures.get(2) {
                let set = listed.as_str().split('|').map(String::from).collect();
                values.insert(captures[1].to_string(), set);
            }
        }
    }
    (flags, values)
}

#[test]
fn docs_cli_lists_exactly_the_flags_of_every_command() {
    let synopses = synopses();
    let paths = command_paths();
    assert!(paths.iter().any(|p| p == &["engine", "train"]), "{paths:?}");
    let mut problems = Vec::new();
    for path in &paths {
        let name = format!("qcompat {}", path.join(" "));
        let Some(texts) = synopses.get(path) else {
            problems.push(format!("{name}: no synopsis in docs/cli.md"));
            continue;
        };
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let parser = parser_options(&args);
        let (flags, values) = documented(texts);
        for (long, short) in &parser.flags {
            let listed = flags.contains(long) || short.as_ref().is_some_and(|s| flags.contains(s));
            if !listed {
                problems.push(format!("{name}: {long} is not in docs/cli.md"));
            }
        }
        let known: BTreeSet<&String> = parser
            .flags
            .keys()
            .chain(parser.flags.values().flatten())
            .collect();
        for flag in flags.iter().filter(|f| !known.contains(f)) {
            problems.push(format!(
                "{name}: docs/cli.md lists {flag}, which the parser does not have"
            ));
        }
        for (flag, listed) in &values {
            if parser.values.get(flag).is_some_and(|real| real != listed) {
                problems.push(format!(
                    "{name}: docs/cli.md lists {flag} {listed:?}, the parser takes {:?}",
                    parser.values[flag]
                ));
            }
        }
    }
    let commands: BTreeSet<&Vec<String>> = paths.iter().collect();
    for path in synopses.keys().filter(|p| !commands.contains(p)) {
        problems.push(format!(
            "docs/cli.md: `qcompat {}` is not a command",
            path.join(" ")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A command a document prints: in a shell block (it must run) or in prose (it may name a command or a flag without
/// the rest of a command line).
struct Printed {
    text: String,
    in_block: bool,
}

/// The `qcompat …` commands (and their `mkdir -p` set-up) of `path`, in document order: lines of `sh`/`console`
/// blocks (`$ ` prompts, `\` continuations, comments cut off) and inline code in prose (it may wrap lines).
fn printed_commands(path: &Path) -> Vec<Printed> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut found: Vec<(usize, Printed)> = Vec::new();
    let mut block: Option<&str> = None;
    let mut paragraph: Option<(usize, String)> = None;
    let mut pending: Option<(usize, String)> = None;
    let mut at = 0;
    for line in text.lines() {
        let start = at;
        at += line.len() + 1;
        if let Some(tag) = line.strip_prefix("```") {
            block = if block.is_some() { None } else { Some(tag) };
            found.extend(inline_commands(paragraph.take()));
            continue;
        }
        match block {
            None if line.trim().is_empty() => found.extend(inline_commands(paragraph.take())),
            None => {
                let (_, text) = paragraph.get_or_insert((start, String::new()));
                text.push_str(line);
                text.push(' ');
            }
            Some(tag @ ("sh" | "console")) => {
                found.extend(shell_line(tag, line, start, &mut pending));
            }
            Some(_) => {}
        }
    }
    found.extend(inline_commands(paragraph.take()));
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, printed)| printed).collect()
}

/// The inline `qcompat …` code of a paragraph (at its offset).
fn inline_commands(paragraph: Option<(usize, String)>) -> Vec<(usize, Printed)> {
    let Some((at, text)) = paragraph else {
        return Vec::new();
    };
    let inline = Regex::new(r"`(qcompat [^`]+)`").unwrap();
    inline
        .captures_iter(&text)
        .map(|c| {
            let text = c[1].split_whitespace().collect::<Vec<_>>().join(" ");
            (
                at,
                Printed {
                    text,
                    in_block: false,
                },
            )
        })
        .collect()
}

/// One line of a shell block: a whole command once its `\` continuations are joined, if it is one to run.
fn shell_line(
    tag: &str,
    line: &str,
    at: usize,
    pending: &mut Option<(usize, String)>,
) -> Option<(usize, Printed)> {
    let line = match pending {
        None if tag == "console" => line.strip_prefix("$ ")?,
        _ => line,
    };
    let line = line.split(" #").next().unwrap().trim();
    let (start, mut command) = pending.take().unwrap_or((at, String::new()));
    command.push_str(line);
    if let Some(open) = command.strip_suffix('\\') {
        *pending = Some((start, open.to_string()));
        return None;
    }
    let command = command.split_whitespace().collect::<Vec<_>>().join(" ");
    let runs = command.starts_with("qcompat ") || command.starts_with("mkdir -p ");
    runs.then_some((
        start,
        Printed {
            text: command,
            in_block: true,
        },
    ))
}

/// Where the docs leave a value to the reader, and what stands in for it here.
const PLACEHOLDERS: [(&str, &str); 5] = [
    ("NOW", "2026-01-01"),
    ("K/N", "1/1"),
    ("K-of-N", "1-of-1"),
    ("OLD", "reports/lightning.snap.toml"),
    ("NEW", "other.snap.toml"),
];

/// Printed on purpose to show an error, and what that error must say.
const EXPECTED_ERRORS: [(&str, &str); 1] = [("qcompat rnu", "a similar subcommand exists: 'run'")];

/// The command `printed` stands for, placeholders filled in. A placeholder not in [`PLACEHOLDERS`] (a word in
/// capitals) is an error.
fn fill_in(printed: &Printed) -> Result<String, String> {
    let words: Vec<String> = printed
        .text
        .split(' ')
        .map(|word| {
            PLACEHOLDERS
                .iter()
                .fold(word.to_string(), |word, (name, value)| {
                    let inside = name.contains(['/', '-']) && word.contains(name);
                    if word == *name || inside {
                        word.replace(name, value)
                    } else {
                        word
                    }
                })
        })
        .collect();
    let command = words.join(" ");
    match Regex::new(r"\b[A-Z][A-Z_]{2,}\b").unwrap().find(&command) {
        Some(word) => Err(format!(
            "`{}`: what stands for {}?",
            printed.text,
            word.as_str()
        )),
        None => Ok(command),
    }
}

/// A folder laid out like the repository for the commands of one document: the matrices and fixtures, a copy of the
/// reports (committed to git, for `report --history` of a snapshot's history), `other.snap.toml` (another snapshot of
/// the lightning matrix), `plan.json` (a plan of a one-cell toy matrix, for the shard commands of the nightly
/// workflow), two nights in `last/history-nightly/` (the nightly workflow's history folder), a `pyproject.toml`
/// naming toy packages (the reader's project, for `init`) and, beside it, a stand-in for a Lightning clone.
struct Workspace {
    scratch: Scratch,
    /// A port nothing listens on: the index of the real matrices' dry runs.
    refused: u16,
}

impl Workspace {
    fn new() -> Self {
        let scratch = Scratch::new();
        let work = scratch.path().join("work");
        std::fs::create_dir_all(work.join("reports")).unwrap();
        std::fs::create_dir_all(scratch.path().join("home")).unwrap();
        std::os::unix::fs::symlink(repo().join("fixtures"), work.join("fixtures")).unwrap();
        // The matrices one by one: `init` writes its own beside them, never into the repository.
        std::fs::create_dir_all(work.join("matrices")).unwrap();
        for entry in std::fs::read_dir(repo().join("matrices")).unwrap() {
            let path = entry.unwrap().path();
            std::os::unix::fs::symlink(
                &path,
                work.join("matrices").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
        for entry in std::fs::read_dir(repo().join("reports")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, work.join("reports").join(path.file_name().unwrap())).unwrap();
        }
        commit_reports(&work);
        let nights = work.join("last/history-nightly");
        std::fs::create_dir_all(&nights).unwrap();
        for night in ["2026-01-01", "2026-01-02"] {
            let snapshot = repo().join("reports/lightning.snap.toml");
            std::fs::copy(snapshot, nights.join(format!("{night}.snap.toml"))).unwrap();
        }
        std::fs::write(
            work.join("pyproject.toml"),
            "[project]\nname = \"your-project\"\nversion = \"0.1.0\"\n\
             dependencies = [\"toyquant==1.0\", \"toyheavy==1.0\"]\n",
        )
        .unwrap();
        std::fs::copy(
            repo().join("reports/lightning.snap.toml"),
            work.join("other.snap.toml"),
        )
        .unwrap();
        std::fs::write(
            work.join("toy.toml"),
            "name = \"toy\"\nprobes = [\"toy-load\"]\ntimeout = \"20s\"\n[axes]\ntoyquant = [\"1.0\"]\n",
        )
        .unwrap();
        // The README's `--repo ../pytorch-lightning`: a git repository stands in for the clone (checked up front).
        let clone = scratch.path().join("pytorch-lightning");
        std::fs::create_dir_all(clone.join(".git")).unwrap();
        let refused = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let workspace = Self { scratch, refused };
        let plan = workspace.run("qcompat plan --matrix toy.toml --output plan.json");
        assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
        workspace
    }

    /// Runs `command` with `sh` in the work folder, `qcompat` on PATH and HOME in the scratch folder. A command on a
    /// real matrix (under `matrices/`) runs dry: until its first use of the network, which fails at once (an index
    /// that refuses connections; installs offline against an empty uv cache). Any other installs the toy wheels.
    fn run(&self, command: &str) -> Output {
        let scratch = self.scratch.path();
        let bin = Path::new(env!("CARGO_BIN_EXE_qcompat")).parent().unwrap();
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(command)
            .current_dir(scratch.join("work"))
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .env("HOME", scratch.join("home"))
            .env("QCOMPAT_CACHE_DIR", scratch.join("cache"))
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_STEP_SUMMARY");
        // A new HOME must not lose the tools the real one holds.
        let home = PathBuf::from(std::env::var("HOME").unwrap());
        if std::env::var_os("PYENV_ROOT").is_none() && home.join(".pyenv").is_dir() {
            sh.env("PYENV_ROOT", home.join(".pyenv"));
        }
        if std::env::var_os("UV_CACHE_DIR").is_none() {
            sh.env("UV_CACHE_DIR", home.join(".cache/uv"));
        }
        if command.contains(" matrices/") {
            self.dry(&mut sh, command);
        } else {
            sh.env("UV_FIND_LINKS", toy_wheels())
                .env("UV_NO_INDEX", "1");
        }
        sh.output().unwrap()
    }

    /// No index but one that refuses connections, and for the commands that install, offline against an empty uv
    /// cache: a real matrix's command stops at its first use of the network.
    fn dry(&self, sh: &mut Command, command: &str) {
        for index in [
            "UV_FIND_LINKS",
            "PIP_FIND_LINKS",
            "UV_NO_INDEX",
            "PIP_NO_INDEX",
            "UV_DEFAULT_INDEX",
            "PIP_INDEX_URL",
        ] {
            sh.env_remove(index);
        }
        sh.env(
            "UV_INDEX_URL",
            format!("http://127.0.0.1:{}/simple", self.refused),
        )
        .env("QCOMPAT_INDEX_TIMEOUT", "2s")
        .env("UV_CACHE_DIR", self.scratch.path().join("uv-cold"));
        if ["qcompat run ", "qcompat repro "]
            .iter()
            .any(|c| command.starts_with(c))
        {
            sh.env("UV_OFFLINE", "1");
        }
    }
}

/// `work` as a git repository whose one commit holds the reports.
fn commit_reports(work: &Path) {
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args([
                "-c",
                "user.name=docs",
                "-c",
                "user.email=docs@example.invalid",
            ])
            .args(args)
            .current_dir(work)
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
    };
    git(&["init", "-q"]);
    git(&["add", "reports"]);
    git(&["commit", "-q", "-m", "reports"]);
}

/// Whether `command` (from `printed`) did what a reader of the document expects.
fn judge(printed: &Printed, command: &str, output: &Output) -> Result<(), String> {
    let (code, err) = (output.status.code(), stderr(output));
    let fail = |why: &str| Err(format!("`{command}`: {why} (exit {code:?}):\n{err}"));
    if let Some((_, says)) = EXPECTED_ERRORS.iter().find(|(c, _)| *c == command) {
        return if code == Some(2) && err.contains(says) {
            Ok(())
        } else {
            fail(&format!("not `{says}`"))
        };
    }
    // Prose may name a command, or a flag of one, without the rest of a command line: clap then asks for what is
    // missing, and still refuses a flag or value the command does not have.
    let parse_errors = [
        "unexpected argument",
        "invalid value",
        "unrecognized subcommand",
        "cannot be used with",
    ];
    let asks = ["Usage: qcompat", "a value is required for"];
    let fragment = code == Some(2)
        && asks.iter().any(|a| err.contains(a))
        && !parse_errors.iter().any(|e| err.contains(e));
    if fragment && !printed.in_block {
        return Ok(());
    }
    if !command.contains(" matrices/") {
        return if code == Some(0) {
            Ok(())
        } else {
            fail("does not run")
        };
    }
    // A dry run gets as far as the first use of the network: everything before it (arguments, the matrix, filters,
    // cells, probes, held axes, snapshots) was accepted.
    let network = ["listing versions of", "is not in uv's cache"];
    match code {
        Some(0) => Ok(()),
        Some(3) if network.iter().any(|n| err.contains(n)) => Ok(()),
        // `run` goes offline (see `dry`), so a query axis's listing, its first use of the network, is refused as
        // input: the matrix `init` writes follows the index.
        Some(2) if err.contains("needs the index, but --offline is set") => Ok(()),
        _ => fail("refused before it reached the network"),
    }
}

fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, repo().join("README.md"));
    docs
}

#[test]
fn every_command_in_the_readme_and_docs_runs_as_printed() {
    let (mut problems, mut ran) = (Vec::new(), Vec::new());
    for document in documents() {
        let printed = printed_commands(&document);
        if printed.is_empty() {
            continue;
        }
        let name = document.strip_prefix(repo()).unwrap().display().to_string();
        let workspace = Workspace::new();
        for printed in &printed {
            let checked = fill_in(printed).and_then(|command| {
                judge(printed, &command, &workspace.run(&command)).map(|()| command)
            });
            match checked {
                Ok(command) => ran.push(command),
                Err(why) => problems.push(format!("{name}: {why}")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    for expected in [
        "qcompat engine dequantize --input nf4.safetensors --output restored.safetensors",
        "qcompat merge parts/*.snap.toml --output tonight.snap.toml",
        "qcompat completions bash > ~/.local/share/bash-completion/completions/qcompat",
        "qcompat rnu",
        "qcompat run --matrix matrices/lightning.toml --list",
        "qcompat init",
        "qcompat report --history reports/lightning.snap.toml",
    ] {
        assert!(
            ran.iter().any(|c| c == expected),
            "{expected} not among {ran:#?}"
        );
    }
}
