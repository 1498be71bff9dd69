//! Secrets stay with qcompat: uv and the probes get an allow-listed environment, and credentials in an index URL
//! travel to uv through its environment only, never its command line, and are masked wherever they could print.
//! toyquant 1.5.7 writes the environment the probe got; a `uv` wrapper on PATH writes uv's and its arguments.

mod common;

use common::{Scratch, fake_uv, stderr, stdout};

const MATRIX: &str = r#"
name = "toy"
probes = ["toy-load"]
timeout = "60s"

[axes]
toyquant = ["1.5.7"]
"#;

/// Values no child may receive; the names are the usual CI ones.
const SECRETS: [(&str, &str); 3] = [
    ("GITHUB_TOKEN", "ghp-secret-1"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-2"),
    ("MY_API_KEY", "api-secret-3"),
];
const INDEX_TOKEN: &str = "index-secret-4";

fn index_url() -> String {
    format!("https://ci-user:{INDEX_TOKEN}@127.0.0.1:9/simple")
}

/// The files `prefix.*` the uv wrapper wrote, one per uv command.
fn dumps(scratch: &Scratch, prefix: &str) -> Vec<String> {
    let mut texts: Vec<String> = std::fs::read_dir(scratch.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    texts.sort();
    texts
}

#[test]
fn neither_uv_nor_a_probe_receives_ci_secrets_and_index_credentials_stay_off_command_lines() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", MATRIX);
    let path = fake_uv(
        &scratch,
        r#"env > "$SCRATCH/uv-env.$$"; echo "$@" > "$SCRATCH/uv-args.$$""#,
    );
    let mut command = scratch.run_command(&["run", "--matrix", "toy.toml", "--format", "json"]);
    command.env("PATH", path).env("UV_INDEX_URL", index_url());
    for (name, value) in SECRETS {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let probe_env = std::fs::read_to_string(
        scratch
            .cache()
            .join("runs/toy/toyquant=1.5.7/artifacts/environ.json"),
    )
    .unwrap();
    let probe_env: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&probe_env).unwrap();
    for (name, _) in SECRETS {
        assert!(!probe_env.contains_key(name), "the probe got {name}");
    }
    assert!(
        !probe_env.keys().any(|k| k.starts_with("UV_")),
        "uv's settings (an index token) are uv's alone: {:?}",
        probe_env.keys().collect::<Vec<_>>()
    );
    assert!(probe_env.contains_key("PATH") && probe_env.contains_key("QCOMPAT_RESULT"));
    // The probe runs as in its activated environment: its own `bin` first on PATH (bitsandbytes shells out to pip).
    let venv = probe_env["VIRTUAL_ENV"].as_str().unwrap();
    assert!(
        venv.starts_with(&*scratch.cache().join("envs").to_string_lossy()),
        "{venv}"
    );
    assert!(
        probe_env["PATH"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{venv}/bin:")),
        "{}",
        probe_env["PATH"]
    );

    let uv_envs = dumps(&scratch, "uv-env.");
    assert!(uv_envs.len() >= 3, "venv, install and freeze ran");
    for text in &uv_envs {
        for (name, value) in SECRETS {
            assert!(!text.contains(value), "uv got {name}:\n{text}");
        }
    }
    assert!(
        uv_envs.iter().any(|t| t.contains(INDEX_TOKEN)),
        "the index credentials reach uv through its environment"
    );
    for args in dumps(&scratch, "uv-args.") {
        assert!(!args.contains(INDEX_TOKEN), "on uv's command line: {args}");
    }
    assert!(!stdout(&output).contains(INDEX_TOKEN) && !stderr(&output).contains(INDEX_TOKEN));
}

#[test]
fn index_credentials_in_an_install_error_are_masked_in_reports_snapshots_and_the_journal() {
    let scratch = Scratch::new();
    scratch.write("toy.toml", MATRIX);
    let path = fake_uv(
        &scratch,
        &format!(
            r#"if [ "$1" = pip ] && [ "$2" = install ]; then echo "error: Failed to fetch: \`{}/toyquant/\`" >&2; exit 2; fi"#,
            index_url()
        ),
    );
    let output = scratch
        .run_command(&[
            "run", "--matrix", "toy.toml", "--format", "json", "--update",
        ])
        .env("PATH", path)
        .env("UV_INDEX_URL", index_url())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    let probe = &report["cells"][0]["probes"][0];
    assert_eq!(probe["outcome"], "install-error");
    let signature = probe["signature"].as_str().unwrap();
    assert!(
        signature.contains("https://***@127.0.0.1:9/simple/toyquant/"),
        "{signature}"
    );

    let snapshot = std::fs::read_to_string(scratch.path().join("reports/toy.snap.toml")).unwrap();
    let journals: String = std::fs::read_dir(scratch.cache().join("runs/toy"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        journals.contains("install-error"),
        "the journal holds the cell"
    );
    for (what, text) in [
        ("report", stdout(&output)),
        ("stderr", stderr(&output)),
        ("snapshot", snapshot),
        ("journal", journals),
    ] {
        assert!(
            !text.contains(INDEX_TOKEN),
            "the {what} shows the token:\n{text}"
        );
    }
}

#[test]
fn environment_hashes_ignore_credentials_and_stay_what_they_were_without_them() {
    use qcompat::env::{Cache, EnvSpec, Interpreter};
    use qcompat::index::IndexSettings;
    let spec = |url: &str| EnvSpec {
        python: Interpreter {
            path: "/usr/bin/python3".into(),
            version: "3.11.7".into(),
        },
        requirements: vec!["toyquant==1.0".into()],
        overrides: Vec::new(),
        index: IndexSettings {
            index_url: Some(url.into()),
            find_links: vec!["/wheels".into()],
            ..IndexSettings::default()
        },
        project: None,
    };
    let hash = |url: &str| Cache::hash(&spec(url));
    assert_eq!(
        hash("https://ci:token-a@example.test/simple"),
        hash("https://ci:token-b@example.test/simple"),
        "rotating a token rebuilds nothing"
    );
    assert_eq!(
        hash("https://ci:token-a@example.test/simple"),
        hash("https://example.test/simple")
    );
    assert_ne!(
        hash("https://example.test/simple"),
        hash("https://other.test/simple")
    );
    // Without credentials the hash is made of what earlier versions hashed (the struct's derived `Debug` layout),
    // so existing caches stay valid.
    assert_eq!(
        spec("https://ci:token-a@example.test/simple")
            .index
            .fingerprint(),
        r#"IndexSettings { index_url: Some("https://example.test/simple"), find_links: ["/wheels"], no_index: false, offline: false }"#
    );
    let debug = format!("{:?}", spec("https://ci:token-a@example.test/simple").index);
    assert!(!debug.contains("token-a"), "{debug}");
}
