//! `qcompat report --history` over three toy nights, each a real run of one matrix with what the index offered that
//! night: toyquant 1.0 (works), then 1.2 (lazy loading broken: the regression), then 1.6 (fixed). toyheavy is the
//! axis; toyquant is left to the resolver, so each night's cells get the newest toyquant published by then, as a
//! project's nightly gets a dependency's new release. Known issue `toy-lazy-data` covers the break on toyheavy 2.0
//! only. The page is checked in its source, from a folder and from git history, and in headless Chromium.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::browser::headless;
use common::{Scratch, stderr, toy_wheels};

const MATRIX: &str = r#"name = "toynight"
python = "3.11"
probes = ["toy-load"]
timeout = "20s"

[axes]
toyheavy = ["1.0", "2.0"]

[pins]
toyquant = ">=1.0"

[[known]]
id = "toy-lazy-data"
signature = "AttributeError: '_LazyTensor' object has no attribute 'data'"
when = { toyheavy = "==2.0", toyquant = ">=1.2,<1.3" }
"#;

/// The toyquant release each night's index adds.
const NIGHTS: [(&str, &str); 3] = [
    ("2026-01-01", "1.0"),
    ("2026-01-02", "1.2"),
    ("2026-01-03", "1.6"),
];

/// Runs the matrix once per night against that night's wheels; returns the folder of `DATE.snap.toml` files.
fn three_nights(scratch: &Scratch) -> PathBuf {
    scratch.write("toynight.toml", MATRIX);
    let nights = scratch.path().join("nights");
    // A folder per night, each with everything published up to it: a new index is a new environment, as on a fresh
    // nightly runner, where a cached one would keep the old toyquant.
    let mut published = vec![
        "toyheavy-1.0-py3-none-any.whl".to_string(),
        "toyheavy-2.0-py3-none-any.whl".to_string(),
    ];
    for (date, release) in NIGHTS {
        published.push(format!("toyquant-{release}-py3-none-any.whl"));
        let offered = scratch.path().join(format!("index-{date}"));
        std::fs::create_dir_all(&offered).unwrap();
        for wheel in &published {
            std::fs::copy(toy_wheels().join(wheel), offered.join(wheel)).unwrap();
        }
        let snapshot = nights.join(format!("{date}.snap.toml"));
        let output = scratch
            .run_command(&[
                "run",
                "--matrix",
                "toynight.toml",
                "--update",
                "--snapshot",
                snapshot.to_str().unwrap(),
            ])
            .env("UV_FIND_LINKS", &offered)
            .output()
            .unwrap();
        let expected = if release == "1.2" { 1 } else { 0 };
        assert_eq!(
            output.status.code(),
            Some(expected),
            "{date}: {}",
            stderr(&output)
        );
    }
    nights
}

fn history_page(scratch: &Scratch, source: &Path, page: &str) -> String {
    let output = scratch
        .command(&[
            "report",
            "--history",
            source.to_str().unwrap(),
            "--output",
            page,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    std::fs::read_to_string(scratch.path().join(page)).unwrap()
}

/// `p-ROW-NIGHT` → its `data-outcome`, read from the page source (points are one tag each).
fn point_outcomes(html: &str) -> Vec<(String, String)> {
    html.split("<a class=\"point ")
        .skip(1)
        .map(|tag| {
            let attr = |name: &str| {
                tag.split(&format!("{name}=\""))
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string()
            };
            (attr("id"), attr("data-outcome"))
        })
        .collect()
}

/// What the snapshots say, point by point: toyheavy 1.0 is row 0, 2.0 row 1; one probe per cell.
fn snapshot_outcomes(nights: &Path) -> Vec<(String, String)> {
    let mut points = Vec::new();
    for (row, version) in ["1.0", "2.0"].iter().enumerate() {
        for (night, (date, _)) in NIGHTS.iter().enumerate() {
            let snapshot =
                qcompat::snapshot::read(&nights.join(format!("{date}.snap.toml"))).unwrap();
            let cell = snapshot
                .cells
                .iter()
                .find(|c| c.key.get("toyheavy") == Some(version))
                .unwrap();
            points.push((
                format!("p-{row}-{night}"),
                cell.probes[0].outcome.as_str().to_string(),
            ));
        }
    }
    points
}

#[test]
fn the_points_match_the_snapshots_and_mark_the_regression_night() {
    let scratch = Scratch::new();
    let nights = three_nights(&scratch);
    let html = history_page(&scratch, &nights, "history.html");

    let mut points = point_outcomes(&html);
    points.sort();
    assert_eq!(points, snapshot_outcomes(&nights));
    assert_eq!(
        points.iter().map(|(_, o)| o.as_str()).collect::<Vec<_>>(),
        ["pass", "fail", "pass", "pass", "xfail", "pass"]
    );
    assert!(
        html.contains(
            "<p id=\"summary\" data-nights=\"3\" data-appeared=\"1\" data-went-away=\"2\">"
        )
    );
    assert!(html.contains(
        "<li class=\"event appeared\" data-night=\"1\"><strong>2026-01-02</strong>: regression appeared in \
         <code>toyheavy=1.0</code> toy-load (pass → fail): <code>AttributeError: &#39;_LazyTensor&#39; object has \
         no attribute &#39;data&#39;</code>; moved: toyquant 1.0 → 1.2 <a href=\"#d-0-1\">details</a></li>"
    ), "{html}");
    let row = |r: usize, n: usize| {
        html.split(&format!("id=\"p-{r}-{n}\""))
            .nth(1)
            .unwrap()
            .split("</td>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(
        row(0, 1).contains("class=\"mark appeared\""),
        "{}",
        row(0, 1)
    );
    assert!(
        row(0, 2).contains("class=\"mark went-away\""),
        "{}",
        row(0, 2)
    );
    assert!(
        row(1, 1).contains("<span class=\"known\">toy-lazy-data</span>"),
        "{}",
        row(1, 1)
    );
    assert!(
        !row(1, 1).contains("appeared"),
        "a known failure is no regression"
    );
}

#[test]
fn a_snapshots_git_history_gives_the_same_nights() {
    let scratch = Scratch::new();
    let nights = three_nights(&scratch);
    let repo = scratch.path().join("repo");
    std::fs::create_dir_all(repo.join("reports")).unwrap();
    let git = |args: &[&str], date: &str| {
        let status = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_DATE", format!("{date}T04:00:00Z"))
            .env("GIT_COMMITTER_DATE", format!("{date}T04:00:00Z"))
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"], "2026-01-01");
    for (date, _) in NIGHTS {
        std::fs::copy(
            nights.join(format!("{date}.snap.toml")),
            repo.join("reports/toynight.snap.toml"),
        )
        .unwrap();
        git(&["add", "reports/toynight.snap.toml"], date);
        git(
            &[
                "-c",
                "user.name=night",
                "-c",
                "user.email=n@example.org",
                "commit",
                "-qm",
                date,
            ],
            date,
        );
    }
    let from_git = history_page(
        &scratch,
        &repo.join("reports/toynight.snap.toml"),
        "git.html",
    );
    let from_folder = history_page(&scratch, &nights, "folder.html");
    assert_eq!(point_outcomes(&from_git), point_outcomes(&from_folder));
    assert!(from_git.contains("data-nights=\"3\" data-appeared=\"1\" data-went-away=\"2\""));
    assert!(
        from_git.contains("<th class=\"night\" data-night=\"1\" title=\""),
        "{from_git}"
    );
    assert!(
        from_git.contains(">2026-01-02 "),
        "nights are named by their commit's day"
    );
}

#[test]
fn a_history_of_two_matrices_or_of_nothing_is_refused() {
    let scratch = Scratch::new();
    let empty = scratch.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = scratch
        .command(&["report", "--history", "empty"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("empty: no snapshots (*.snap.toml) to make a history of"));

    let output = scratch
        .command(&["report", "--history", "empty", "--format", "markdown"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--history renders one HTML page"));

    let mixed = scratch.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::write(mixed.join("a.snap.toml"), "matrix = \"one\"\n").unwrap();
    std::fs::write(mixed.join("b.snap.toml"), "matrix = \"two\"\n").unwrap();
    let output = scratch
        .command(&["report", "--history", "mixed"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("b.snap.toml: a snapshot of matrix `two`"),
        "{}",
        stderr(&output)
    );
}

#[test]
#[ignore = "needs chromium"]
fn the_history_page_renders_and_a_link_opens_the_regression_nights_details() {
    let scratch = Scratch::new();
    let nights = three_nights(&scratch);
    history_page(&scratch, &nights, "history.html");
    let page = scratch.path().join("history.html");

    let dom = headless(&scratch, &page, "#d-0-1", &["--dump-dom"]);
    assert!(
        dom.contains("data-ready=\"true\""),
        "the script ran to its end"
    );
    assert!(dom.contains("data-selected=\"p-0-1\""), "{dom}");
    assert_eq!(dom.matches("class=\"point o-fail selected\"").count(), 1);
    let details = dom
        .split("<section class=\"details shown\" id=\"d-0-1\"")
        .nth(1)
        .expect("shown")
        .to_string();
    let details = details.split("</section>").next().unwrap();
    assert!(details.contains("<code>toyheavy=1.0</code>"), "{details}");
    assert!(
        details.contains("toyquant 1.2"),
        "the resolved release that broke it: {details}"
    );
    assert!(details.contains("AttributeError: '_LazyTensor' object has no attribute 'data'"));
    assert_eq!(
        dom.matches("<a class=\"point ").count(),
        6,
        "2 versions × 3 nights"
    );

    let shots = std::env::var_os("QCOMPAT_SCREENSHOT_DIR")
        .map_or_else(|| scratch.path().to_path_buf(), PathBuf::from);
    let shot = shots.join("qcompat-history.png");
    headless(
        &scratch,
        &page,
        "",
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,800",
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 15_000,
        "a picture, not a blank page ({} bytes)",
        png.len()
    );
}
